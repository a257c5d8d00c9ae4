#include "server/jetstream/go_json_error.h"

#include <cstdint>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace herald::js::gojson {
namespace {

absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The UTF-8 encoding of U+00XX.
std::string Latin1ToUtf8(unsigned char c) {
  std::string s;
  s.push_back(static_cast<char>(0xC0 | (c >> 6)));
  s.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  return s;
}

// Go's quoteChar: the byte as the rune U+00XX, quoted by strconv.Quote with
// single quotes instead of double ones ('\'' and '"' are special cases).
std::string QuoteChar(unsigned char c) {
  if (c == '\'') return "'\\''";
  if (c == '"') return "'\"'";
  std::string body;
  switch (c) {
    case '\a':
      body = "\\a";
      break;
    case '\b':
      body = "\\b";
      break;
    case '\f':
      body = "\\f";
      break;
    case '\n':
      body = "\\n";
      break;
    case '\r':
      body = "\\r";
      break;
    case '\t':
      body = "\\t";
      break;
    case '\v':
      body = "\\v";
      break;
    case '\\':
      body = "\\\\";
      break;
    default: {
      char buf[8];
      if (c < 0x20 || c == 0x7F) {
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        body = buf;
      } else if (c < 0x80) {
        body.push_back(static_cast<char>(c));
      } else if (c < 0xA1 || c == 0xAD) {
        // C1 controls, no-break space and soft hyphen: not printable in Go.
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        body = buf;
      } else {
        body = Latin1ToUtf8(c);
      }
    }
  }
  return "'" + body + "'";
}

// Go's scanner (encoding/json/scanner.go), one state per function there.
class Scanner {
 public:
  std::optional<std::string> Run(std::string_view text) {
    for (unsigned char c : text) {
      if (!Step(c)) return error_;
    }
    // eof: a space ends a number or a literal's value.
    if (!end_top_) {
      if (!Step(' ')) return error_;
    }
    if (!end_top_) return std::string("unexpected end of JSON input");
    return std::nullopt;
  }

 private:
  enum class State {
    kBeginValue,
    kBeginValueOrEmpty,
    kBeginStringOrEmpty,
    kBeginString,
    kEndValue,
    kEndTop,
    kInString,
    kInStringEsc,
    kInStringEscU,
    kNeg,
    k1,
    k0,
    kDot,
    kDot0,
    kE,
    kESign,
    kE0,
    kLiteral,
  };
  enum class Parse { kObjectKey, kObjectValue, kArrayValue };

  bool Fail(unsigned char c, const char* context) {
    error_ = absl::StrCat("invalid character ", QuoteChar(c), " ", context);
    return false;
  }

  bool Step(unsigned char ch) {
    const char c = static_cast<char>(ch);
    switch (state_) {
      case State::kBeginValueOrEmpty:
        if (IsSpace(c)) return true;
        if (c == ']') return EndValue(ch);  // pops the array below
        state_ = State::kBeginValue;
        return Step(ch);
      case State::kBeginValue:
        if (IsSpace(c)) return true;
        switch (c) {
          case '{':
            stack_.push_back(Parse::kObjectKey);
            state_ = State::kBeginStringOrEmpty;
            return true;
          case '[':
            stack_.push_back(Parse::kArrayValue);
            state_ = State::kBeginValueOrEmpty;
            return true;
          case '"':
            state_ = State::kInString;
            return true;
          case '-':
            state_ = State::kNeg;
            return true;
          case '0':
            state_ = State::k0;
            return true;
          case 't':
            return Literal("true");
          case 'f':
            return Literal("false");
          case 'n':
            return Literal("null");
          default:
            if (c >= '1' && c <= '9') {
              state_ = State::k1;
              return true;
            }
            return Fail(ch, "looking for beginning of value");
        }
      case State::kBeginStringOrEmpty:
        if (IsSpace(c)) return true;
        if (c == '}') {
          stack_.back() = Parse::kObjectValue;
          return EndValue(ch);
        }
        state_ = State::kBeginString;
        return Step(ch);
      case State::kBeginString:
        if (IsSpace(c)) return true;
        if (c == '"') {
          state_ = State::kInString;
          return true;
        }
        return Fail(ch, "looking for beginning of object key string");
      case State::kEndValue:
        return EndValue(ch);
      case State::kEndTop:
        if (!IsSpace(c)) return Fail(ch, "after top-level value");
        return true;
      case State::kInString:
        if (c == '"') {
          state_ = State::kEndValue;
          return true;
        }
        if (c == '\\') {
          state_ = State::kInStringEsc;
          return true;
        }
        if (ch < 0x20) return Fail(ch, "in string literal");
        return true;
      case State::kInStringEsc:
        switch (c) {
          case 'b':
          case 'f':
          case 'n':
          case 'r':
          case 't':
          case '\\':
          case '/':
          case '"':
            state_ = State::kInString;
            return true;
          case 'u':
            hex_left_ = 4;
            state_ = State::kInStringEscU;
            return true;
          default:
            return Fail(ch, "in string escape code");
        }
      case State::kInStringEscU:
        if (IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
          if (--hex_left_ == 0) state_ = State::kInString;
          return true;
        }
        return Fail(ch, "in \\u hexadecimal character escape");
      case State::kNeg:
        if (c == '0') {
          state_ = State::k0;
          return true;
        }
        if (c >= '1' && c <= '9') {
          state_ = State::k1;
          return true;
        }
        return Fail(ch, "in numeric literal");
      case State::k1:
        if (IsDigit(c)) return true;
        state_ = State::k0;
        return Step(ch);
      case State::k0:
        if (c == '.') {
          state_ = State::kDot;
          return true;
        }
        if (c == 'e' || c == 'E') {
          state_ = State::kE;
          return true;
        }
        return EndValue(ch);
      case State::kDot:
        if (IsDigit(c)) {
          state_ = State::kDot0;
          return true;
        }
        return Fail(ch, "after decimal point in numeric literal");
      case State::kDot0:
        if (IsDigit(c)) return true;
        if (c == 'e' || c == 'E') {
          state_ = State::kE;
          return true;
        }
        return EndValue(ch);
      case State::kE:
        if (c == '+' || c == '-') {
          state_ = State::kESign;
          return true;
        }
        state_ = State::kESign;
        return Step(ch);
      case State::kESign:
        if (IsDigit(c)) {
          state_ = State::kE0;
          return true;
        }
        return Fail(ch, "in exponent of numeric literal");
      case State::kE0:
        if (IsDigit(c)) return true;
        return EndValue(ch);
      case State::kLiteral:
        if (c == literal_[literal_at_]) {
          if (++literal_at_ == literal_.size()) state_ = State::kEndValue;
          return true;
        }
        return Fail(ch, LiteralContext().c_str());  // the temporary outlives the call
    }
    return true;
  }

  bool Literal(std::string_view word) {
    literal_ = word;
    literal_at_ = 1;
    state_ = State::kLiteral;
    return true;
  }

  std::string LiteralContext() const {
    return absl::StrCat("in literal ", AV(literal_), " (expecting ",
                        QuoteChar(static_cast<unsigned char>(literal_[literal_at_])), ")");
  }

  // The '}' or ']' that ends the innermost object or array: a value ends.
  bool CloseContainer() {
    stack_.pop_back();
    state_ = State::kEndValue;
    if (stack_.empty()) {
      end_top_ = true;
      state_ = State::kEndTop;
    }
    return true;
  }

  // stateEndValue: after a complete value (its byte `ch` is the next one).
  bool EndValue(unsigned char ch) {
    const char c = static_cast<char>(ch);
    if (stack_.empty()) {
      end_top_ = true;
      state_ = State::kEndTop;
      return Step(ch);
    }
    if (IsSpace(c)) {
      state_ = State::kEndValue;
      return true;
    }
    switch (stack_.back()) {
      case Parse::kObjectKey:
        if (c == ':') {
          stack_.back() = Parse::kObjectValue;
          state_ = State::kBeginValue;
          return true;
        }
        return Fail(ch, "after object key");
      case Parse::kObjectValue:
        if (c == ',') {
          stack_.back() = Parse::kObjectKey;
          state_ = State::kBeginString;
          return true;
        }
        if (c == '}') {
          return CloseContainer();
        }
        return Fail(ch, "after object key:value pair");
      case Parse::kArrayValue:
        if (c == ',') {
          state_ = State::kBeginValue;
          return true;
        }
        if (c == ']') {
          return CloseContainer();
        }
        return Fail(ch, "after array element");
    }
    return true;
  }

  State state_ = State::kBeginValue;
  std::vector<Parse> stack_;
  bool end_top_ = false;
  int hex_left_ = 0;
  std::string_view literal_;
  size_t literal_at_ = 0;
  std::string error_;
};

// The end of the value starting at `at` in a valid document.
size_t SkipValue(std::string_view s, size_t at) {
  if (s[at] == '"') {
    size_t i = at + 1;
    while (i < s.size() && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
    return i + 1;
  }
  if (s[at] == '{' || s[at] == '[') {
    int depth = 0;
    size_t i = at;
    for (; i < s.size(); ++i) {
      const char c = s[i];
      if (c == '"') {
        i = SkipValue(s, i) - 1;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
    }
    return i;
  }
  size_t i = at;
  while (i < s.size() && !IsSpace(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
  return i;
}

std::string Unescape(std::string_view quoted) {
  std::string out;
  for (size_t i = 1; i + 1 < quoted.size(); ++i) {
    char c = quoted[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    c = quoted[++i];
    switch (c) {
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        uint32_t cp = 0;
        for (int k = 0; k < 4 && i + 1 < quoted.size(); ++k) {
          const char h = quoted[++i];
          cp = cp * 16 + static_cast<uint32_t>(IsDigit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
        }
        // Only ASCII matters for matching field names.
        out.push_back(cp < 0x80 ? static_cast<char>(cp) : '?');
        break;
      }
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> SyntaxError(std::string_view text) { return Scanner().Run(text); }

std::vector<std::pair<std::string, RawValue>> ObjectMembers(std::string_view s) {
  std::vector<std::pair<std::string, RawValue>> out;
  size_t i = s.find('{');
  if (i == std::string_view::npos) return out;
  ++i;
  for (int guard = 0; guard < 1'000'000 && i < s.size(); ++guard) {
    while (i < s.size() && (IsSpace(s[i]) || s[i] == ',')) ++i;
    if (i >= s.size() || s[i] != '"') break;  // '}' or the end
    const size_t key_end = SkipValue(s, i);
    std::string key = Unescape(s.substr(i, key_end - i));
    i = key_end;
    while (i < s.size() && (IsSpace(s[i]) || s[i] == ':')) ++i;
    if (i >= s.size()) break;
    const size_t value_end = SkipValue(s, i);
    RawValue v;
    v.raw = s.substr(i, value_end - i);
    switch (s[i]) {
      case '"':
        v.kind = RawValue::Kind::kString;
        break;
      case '{':
        v.kind = RawValue::Kind::kObject;
        break;
      case '[':
        v.kind = RawValue::Kind::kArray;
        break;
      case 't':
      case 'f':
        v.kind = RawValue::Kind::kBool;
        break;
      case 'n':
        v.kind = RawValue::Kind::kNull;
        break;
      default:
        v.kind = RawValue::Kind::kNumber;
    }
    out.emplace_back(std::move(key), v);
    i = value_end;
  }
  return out;
}

std::optional<std::string> DecodeField(const RawValue& value, std::string_view go_struct,
                                       std::string_view field, GoType type, int64_t* int_out,
                                       bool* bool_out) {
  using Kind = RawValue::Kind;
  if (value.kind == Kind::kNull) return std::nullopt;
  std::string what;
  switch (value.kind) {
    case Kind::kString:
      what = "string";
      break;
    case Kind::kObject:
      what = "object";
      break;
    case Kind::kArray:
      what = "array";
      break;
    case Kind::kBool:
      what = "bool";
      break;
    case Kind::kNumber:
      what = "number";
      break;
    case Kind::kNull:
      break;
  }
  if (type == GoType::kBool) {
    if (value.kind == Kind::kBool) {
      if (bool_out != nullptr) *bool_out = value.raw == "true";
      return std::nullopt;
    }
  } else if (value.kind == Kind::kNumber) {
    int64_t v = 0;
    // strconv.ParseInt: an optional sign and decimal digits, in range.
    const bool plain = value.raw.find_first_of(".eE+") == std::string_view::npos;
    if (plain && absl::SimpleAtoi(AV(value.raw), &v)) {
      if (int_out != nullptr) *int_out = v;
      return std::nullopt;
    }
    what = absl::StrCat("number ", AV(value.raw));
  }
  const char* go_type = type == GoType::kBool  ? "bool"
                        : type == GoType::kInt ? "int"
                                               : "time.Duration";
  return absl::StrCat("json: cannot unmarshal ", what, " into Go struct field ", AV(go_struct), ".",
                      AV(field), " of type ", go_type);
}

}  // namespace herald::js::gojson
