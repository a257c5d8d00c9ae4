#include "server/config/conf_parser.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace herald {
namespace {

namespace fs = std::filesystem;

constexpr int kEof = -1;

// `$VAR` falling back to the environment parses the variable's text as a
// value; an environment value may itself reference `$OTHER`, so bound the
// chain (nats-server recurses without limit).
constexpr int kMaxEnvDepth = 8;

// nats-server's conf/parse.go reads an environment value by parsing
// "pk=<value>"; the key name is irrelevant.
constexpr absl::string_view kEnvKey = "pk";

// State shared by the parser of the main file and those of its includes.
struct SharedState {
  explicit SharedState(const ConfParseOptions& o) : opts(o) {}
  const ConfParseOptions& opts;
  int files_read = 0;
  int64_t bytes_read = 0;
  int64_t nodes = 0;
  std::vector<std::string> include_stack;  // canonical paths being parsed
};

std::string DescribeChar(int c) {
  if (c == kEof) return "EOF";
  if (c == '\n') return "\\n";
  if (c == '\r') return "\\r";
  if (c == '\t') return "\\t";
  if (c < 0x20 || c >= 0x7f) return absl::StrFormat("\\x%02x", c);
  return std::string(1, static_cast<char>(c));
}

bool IsSpaceOrTab(int c) { return c == ' ' || c == '\t'; }
bool IsNewline(int c) { return c == '\n' || c == '\r'; }
bool IsWhitespace(int c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool IsDigit(int c) { return c >= '0' && c <= '9'; }
bool IsHex(int c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int HexValue(int c) {
  if (IsDigit(c)) return c - '0';
  return (c | 0x20) - 'a' + 10;
}

bool IsSizeSuffixStart(int c) {
  switch (c) {
    case 'k':
    case 'K':
    case 'm':
    case 'M':
    case 'g':
    case 'G':
    case 't':
    case 'T':
    case 'p':
    case 'P':
    case 'e':
    case 'E':
      return true;
    default:
      return false;
  }
}

// What ends a bare string (nats-server lexString).
bool EndsBareString(int c) {
  return c == kEof || IsNewline(c) || IsSpaceOrTab(c) || c == ';' || c == ',' || c == ']' ||
         c == '}';
}

// What ends a number. nats-server omits ']' here; we add it so that
// `[1, 2]` is two integers.
bool EndsNumber(int c) {
  return c == kEof || IsNewline(c) || IsSpaceOrTab(c) || c == ';' || c == ',' || c == ']' ||
         c == '}';
}

bool IsBoolWord(absl::string_view s, bool* value) {
  std::string lower = absl::AsciiStrToLower(s);
  if (lower == "true" || lower == "yes" || lower == "on") {
    *value = true;
    return true;
  }
  if (lower == "false" || lower == "no" || lower == "off") {
    *value = false;
    return true;
  }
  return false;
}

// Multiplier of a size suffix (already lower-cased), as conf/parse.go:
// k/m/g/t/p/e are powers of 1000; kb, ki, kib (and so on) powers of 1024.
bool SuffixMultiplier(absl::string_view suffix, int64_t* mult) {
  if (suffix.empty()) {
    *mult = 1;
    return true;
  }
  static constexpr char kLetters[] = "kmgtpe";
  size_t exp = absl::string_view(kLetters).find(suffix[0]);
  if (exp == absl::string_view::npos) return false;
  absl::string_view rest = suffix.substr(1);
  int64_t base = 0;
  if (rest.empty()) {
    base = 1000;
  } else if (rest == "b" || rest == "i" || rest == "ib") {
    base = 1024;
  } else {
    return false;
  }
  int64_t m = 1;
  for (size_t i = 0; i <= exp; ++i) m *= base;  // at most 1024^6 = 2^60
  *mult = m;
  return true;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Reads a whole regular file, enforcing the per-file and total size limits.
absl::Status ReadFileBounded(const std::string& path, SharedState* shared, std::string* out) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec) return absl::NotFoundError(absl::StrCat("cannot open '", path, "': ", ec.message()));
  // A FIFO or device (/dev/zero) could block or never end.
  if (!fs::is_regular_file(st)) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' is not a regular file"));
  }
  uintmax_t size = fs::file_size(path, ec);
  if (ec) return absl::NotFoundError(absl::StrCat("cannot stat '", path, "': ", ec.message()));
  const ConfParseOptions& o = shared->opts;
  if (static_cast<int64_t>(size) > o.max_bytes ||
      shared->bytes_read + static_cast<int64_t>(size) > o.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "' makes the configuration larger than ", o.max_bytes, " bytes"));
  }
  if (++shared->files_read > o.max_files) {
    return absl::InvalidArgumentError(
        absl::StrCat("more than ", o.max_files, " configuration files included"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  std::ostringstream buf;
  buf << in.rdbuf();
  *out = buf.str();
  // The file may have grown between stat and read.
  if (static_cast<int64_t>(out->size()) > o.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' is too large"));
  }
  shared->bytes_read += static_cast<int64_t>(out->size());
  return absl::OkStatus();
}

std::string CanonicalPath(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) return fs::path(path).lexically_normal().string();
  return p.string();
}

std::string DirName(const std::string& file) {
  fs::path dir = fs::path(file).parent_path();
  return dir.empty() ? std::string(".") : dir.string();
}

// One parser per file (or environment value). Recursive descent that follows
// the state machine of nats-server's conf/lex.go.
class Parser {
 public:
  // `base_depth` is the nesting depth at which this text's top-level keys
  // land (non-zero for includes inside blocks and for `$VAR` environment
  // values), so that max_depth bounds the whole tree.
  Parser(absl::string_view text, std::string file, SharedState* shared, int include_depth,
         int env_depth, int base_depth)
      : text_(text),
        file_(std::move(file)),
        dir_(DirName(file_)),
        shared_(shared),
        include_depth_(include_depth),
        env_depth_(env_depth),
        base_depth_(base_depth) {}

  absl::Status ParseTop(ConfValue* root);

 private:
  // --- Characters.
  int Peek(size_t ahead = 0) const {
    size_t p = pos_ + ahead;
    return p < text_.size() ? static_cast<unsigned char>(text_[p]) : kEof;
  }
  void Advance() {
    if (pos_ >= text_.size()) return;
    if (text_[pos_] == '\n') ++line_;
    ++pos_;
  }
  void SkipSpacesTabs() {
    while (IsSpaceOrTab(Peek())) Advance();
  }
  void SkipWhitespace() {
    while (IsWhitespace(Peek())) Advance();
  }
  bool AtComment() const { return Peek() == '#' || (Peek() == '/' && Peek(1) == '/'); }
  // Skips to the end of the line, leaving the newline unread.
  void SkipComment() {
    while (Peek() != kEof && !IsNewline(Peek())) Advance();
  }

  absl::Status Error(int line, absl::string_view reason) const {
    return absl::InvalidArgumentError(absl::StrCat(file_, ":", line, ": ", reason));
  }
  absl::Status Error(absl::string_view reason) const { return Error(line_, reason); }

  absl::Status CountNodes(int64_t n) {
    shared_->nodes += n;
    if (shared_->nodes > shared_->opts.max_nodes) {
      return Error(absl::StrCat("configuration has more than ", shared_->opts.max_nodes,
                                " values (after variable expansion)"));
    }
    return absl::OkStatus();
  }

  // --- Grammar.
  absl::Status ParseEntry(ConfValue* ctx, bool in_map, int depth);
  absl::Status ParseKey(bool in_map, std::string* key, bool* is_include);
  absl::Status ParseValue(ConfValue* out, int depth);
  absl::Status ParseArray(ConfValue* out, int depth);
  absl::Status ParseMap(ConfValue* out, int depth);
  absl::Status ParseDoubleQuoted(std::string* out);
  absl::Status ParseSingleQuoted(std::string* out);
  absl::Status ParseBlock(std::string* out);
  absl::Status ParseEscape(std::string* out);
  absl::Status ParseBare(ConfValue* out, int depth);
  absl::Status ParseNumber(ConfValue* out, int depth);
  absl::Status ParseNegativeNumber(ConfValue* out, int depth);
  absl::Status ParseDatetime(size_t start, ConfValue* out);
  absl::Status MakeInteger(absl::string_view text, ConfValue* out);
  absl::Status ResolveVariable(const std::string& name, int line, int depth, ConfValue* out);
  absl::Status ParseInclude(ConfValue* ctx, int depth);
  absl::Status IncludeFile(const std::string& name, int line, int depth, ConfValue* ctx);

  absl::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  const std::string file_;
  const std::string dir_;
  SharedState* shared_;
  const int include_depth_;
  const int env_depth_;
  const int base_depth_;
  // Maps under construction, outermost first: the scopes of `$VAR`.
  std::vector<ConfValue*> contexts_;
};

absl::Status Parser::ParseTop(ConfValue* root) {
  *root = ConfValue::Map();
  root->set_position(file_, 1);
  contexts_.push_back(root);
  while (true) {
    SkipWhitespace();
    int c = Peek();
    if (c == kEof) break;
    // nats-server skips braces around the whole file (JSON-like configs).
    if (c == '{' || c == '}') {
      Advance();
      continue;
    }
    if (AtComment()) {
      SkipComment();
      continue;
    }
    absl::Status s = ParseEntry(root, /*in_map=*/false, base_depth_);
    if (!s.ok()) return s;
    // A top-level value ends with a newline, comment, EOF, ';', ',' or '}'.
    SkipSpacesTabs();
    c = Peek();
    if (AtComment()) {
      SkipComment();
    } else if (c == kEof || IsNewline(c) || c == ';' || c == ',' || c == '}') {
      Advance();
    } else {
      return Error(absl::StrCat(
          "Expected a top-level value to end with a new line, comment or EOF, but got '",
          DescribeChar(c), "' instead."));
    }
  }
  contexts_.pop_back();
  return absl::OkStatus();
}

absl::Status Parser::ParseKey(bool in_map, std::string* key, bool* is_include) {
  *is_include = false;
  int c = Peek();
  if (c == ':' || c == '=')
    return Error(absl::StrCat("Unexpected key separator '", DescribeChar(c), "'."));
  if (c == ']') return Error("Unexpected array end ']' processing map.");
  if (c == ',' || c == ';')
    return Error(absl::StrCat("Unexpected '", DescribeChar(c), "' where a key was expected."));
  if (c == '"' || c == '\'') {
    // Quoted keys take no escapes (as nats-server).
    Advance();
    size_t start = pos_;
    while (Peek() != c) {
      if (Peek() == kEof) return Error("Unexpected EOF processing quoted key.");
      Advance();
    }
    *key = std::string(text_.substr(start, pos_ - start));
    Advance();
    return absl::OkStatus();
  }
  size_t start = pos_;
  // A bare key ends at whitespace or a separator. '{' and '[' end it too so
  // that `cluster{` works (nats-server would fold them into the key).
  while (true) {
    c = Peek();
    if (c == kEof || IsWhitespace(c) || c == ':' || c == '=' || c == '{' || c == '[') break;
    Advance();
  }
  *key = std::string(text_.substr(start, pos_ - start));
  if (key->empty()) return Error(absl::StrCat("Expected a key but got '", DescribeChar(c), "'."));
  if (c == kEof) {
    return Error(in_map ? "Unexpected EOF processing map key."
                        : absl::StrCat("key '", *key, "' has no value"));
  }
  // `include` is a keyword only when followed by whitespace (lexKey).
  if (IsWhitespace(c) && absl::AsciiStrToLower(*key) == "include") *is_include = true;
  return absl::OkStatus();
}

absl::Status Parser::ParseEntry(ConfValue* ctx, bool in_map, int depth) {
  const int key_line = line_;
  std::string key;
  bool is_include = false;
  absl::Status s = ParseKey(in_map, &key, &is_include);
  if (!s.ok()) return s;
  if (is_include) return ParseInclude(ctx, depth);

  // Between key and value: any whitespace, then an optional ':' or '='.
  SkipWhitespace();
  if (Peek() == ':' || Peek() == '=') {
    Advance();
    // At the top level the value must follow on the same line after a
    // separator (lexValue); inside a block it may be on the next line
    // (lexMapValue).
    if (in_map) SkipWhitespace();
  }
  SkipSpacesTabs();
  int c = Peek();
  if (c == kEof || (in_map && (c == '}' || c == ','))) {
    return Error(absl::StrCat("key '", key, "' has no value"));
  }
  ConfValue value;
  s = ParseValue(&value, depth);
  if (!s.ok()) return s;
  // Report a map entry at its key's line: that is where users look.
  value.set_position(file_, key_line);
  ctx->Set(std::move(key), std::move(value));
  return absl::OkStatus();
}

absl::Status Parser::ParseValue(ConfValue* out, int depth) {
  SkipSpacesTabs();
  const int line = line_;
  absl::Status s = CountNodes(1);
  if (!s.ok()) return s;
  int c = Peek();
  if (c == kEof) return Error("Expected value but found EOF.");
  if (IsNewline(c)) return Error("Expected value but found new line");
  if (c == '[' || c == '{') {
    if (depth + 1 > shared_->opts.max_depth) {
      return Error(absl::StrCat("blocks and arrays nest deeper than ", shared_->opts.max_depth));
    }
    Advance();
    s = c == '[' ? ParseArray(out, depth + 1) : ParseMap(out, depth + 1);
  } else if (c == '"' || c == '\'' || c == '(') {
    Advance();
    std::string str;
    s = c == '"' ? ParseDoubleQuoted(&str) : c == '\'' ? ParseSingleQuoted(&str) : ParseBlock(&str);
    *out = ConfValue::String(std::move(str));
  } else if (c == '-') {
    Advance();
    s = ParseNegativeNumber(out, depth);
  } else if (IsDigit(c)) {
    s = ParseNumber(out, depth);
  } else if (c == '.') {
    return Error("Floats must start with a digit");
  } else {
    s = ParseBare(out, depth);
  }
  if (!s.ok()) return s;
  if (out->file().empty()) out->set_position(file_, line);
  return absl::OkStatus();
}

absl::Status Parser::ParseArray(ConfValue* out, int depth) {
  *out = ConfValue::Array();
  while (true) {
    // Before a value: any whitespace and comments.
    SkipWhitespace();
    if (AtComment()) {
      SkipComment();
      continue;
    }
    int c = Peek();
    if (c == kEof) return Error("Unexpected EOF processing array.");
    if (c == ',') return Error("Unexpected array value terminator ','.");
    if (c == ']') {
      Advance();
      return absl::OkStatus();
    }
    ConfValue item;
    absl::Status s = ParseValue(&item, depth);
    if (!s.ok()) return s;
    out->Append(std::move(item));
    // After a value: ',' or a newline, or ']'.
    SkipSpacesTabs();
    if (AtComment()) SkipComment();
    c = Peek();
    if (c == ',' || IsNewline(c)) {
      Advance();
    } else if (c == ']') {
      Advance();
      return absl::OkStatus();
    } else if (c == kEof) {
      return Error("Unexpected EOF processing array.");
    } else {
      return Error(absl::StrCat(
          "Expected an array value terminator ',' or an array terminator ']', but got '",
          DescribeChar(c), "' instead."));
    }
  }
}

absl::Status Parser::ParseMap(ConfValue* out, int depth) {
  *out = ConfValue::Map();
  contexts_.push_back(out);
  absl::Status s;
  while (true) {
    SkipWhitespace();
    if (AtComment()) {
      SkipComment();
      continue;
    }
    int c = Peek();
    if (c == kEof) {
      s = Error("Unexpected EOF processing map.");
      break;
    }
    if (c == '}') {
      Advance();
      break;
    }
    s = ParseEntry(out, /*in_map=*/true, depth);
    if (!s.ok()) break;
    // After a value: ',', ';' or a newline, or '}'.
    SkipSpacesTabs();
    if (AtComment()) SkipComment();
    c = Peek();
    if (c == ',' || c == ';' || IsNewline(c)) {
      Advance();
    } else if (c == '}') {
      Advance();
      break;
    } else if (c == kEof) {
      s = Error("Unexpected EOF processing map.");
      break;
    } else {
      s = Error(
          absl::StrCat("Expected a map value terminator ',' or a map terminator '}', but got '",
                       DescribeChar(c), "' instead."));
      break;
    }
  }
  contexts_.pop_back();
  return s;
}

absl::Status Parser::ParseEscape(std::string* out) {
  // The backslash has been consumed.
  int c = Peek();
  switch (c) {
    case 't':
      Advance();
      out->push_back('\t');
      return absl::OkStatus();
    case 'n':
      Advance();
      out->push_back('\n');
      return absl::OkStatus();
    case 'r':
      Advance();
      out->push_back('\r');
      return absl::OkStatus();
    case '"':
      Advance();
      out->push_back('"');
      return absl::OkStatus();
    case '\\':
      Advance();
      out->push_back('\\');
      return absl::OkStatus();
    case 'x': {
      Advance();
      if (!IsHex(Peek()) || !IsHex(Peek(1))) {
        return Error("Expected two hexadecimal digits after '\\x'");
      }
      out->push_back(static_cast<char>(HexValue(Peek()) * 16 + HexValue(Peek(1))));
      Advance();
      Advance();
      return absl::OkStatus();
    }
    case 'u': {
      // Not in nats-server 2.9; JSON-style \uXXXX, with surrogate pairs.
      Advance();
      auto read4 = [this](uint32_t* cp) {
        for (int i = 0; i < 4; ++i) {
          if (!IsHex(Peek(i))) return false;
        }
        *cp = 0;
        for (int i = 0; i < 4; ++i) {
          *cp = *cp * 16 + static_cast<uint32_t>(HexValue(Peek()));
          Advance();
        }
        return true;
      };
      uint32_t cp = 0;
      if (!read4(&cp)) return Error("Expected four hexadecimal digits after '\\u'");
      if (cp >= 0xDC00 && cp <= 0xDFFF) return Error("Unpaired low surrogate in '\\u' escape");
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t low = 0;
        if (Peek() != '\\' || Peek(1) != 'u')
          return Error("Unpaired high surrogate in '\\u' escape");
        Advance();
        Advance();
        if (!read4(&low) || low < 0xDC00 || low > 0xDFFF) {
          return Error("Invalid low surrogate in '\\u' escape");
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      }
      AppendUtf8(cp, out);
      return absl::OkStatus();
    }
    default:
      return Error(absl::StrCat(
          "Invalid escape character '", DescribeChar(c),
          "'. Only the following escape characters are allowed: \\xXX, \\uXXXX, \\t, \\n, "
          "\\r, \\\", \\\\."));
  }
}

absl::Status Parser::ParseDoubleQuoted(std::string* out) {
  const int start_line = line_;
  while (true) {
    int c = Peek();
    if (c == kEof) return Error(start_line, "Unexpected EOF in double-quoted string.");
    Advance();
    if (c == '"') return absl::OkStatus();
    if (c == '\\') {
      absl::Status s = ParseEscape(out);
      if (!s.ok()) return s;
      continue;
    }
    out->push_back(static_cast<char>(c));
  }
}

absl::Status Parser::ParseSingleQuoted(std::string* out) {
  const int start_line = line_;
  size_t start = pos_;
  while (Peek() != '\'') {
    if (Peek() == kEof) return Error(start_line, "Unexpected EOF in single-quoted string.");
    Advance();
  }
  *out = std::string(text_.substr(start, pos_ - start));
  Advance();
  return absl::OkStatus();
}

absl::Status Parser::ParseBlock(std::string* out) {
  // `( ... )`: raw text up to a ')' alone on its line (lexBlock).
  const int start_line = line_;
  size_t start = pos_;
  while (true) {
    int c = Peek();
    if (c == kEof) return Error(start_line, "Unexpected EOF processing block.");
    if (c == '\n' && Peek(1) == ')') {
      int after = Peek(2);
      if (after == kEof || IsNewline(after)) {
        Advance();  // the newline belongs to the value, as in nats-server
        *out = std::string(text_.substr(start, pos_ - start));
        Advance();  // ')'
        return absl::OkStatus();
      }
    }
    Advance();
  }
}

absl::Status Parser::ParseBare(ConfValue* out, int depth) {
  const int line = line_;
  size_t start = pos_;
  std::string escaped;  // used once a backslash is seen
  bool has_escapes = false;
  while (true) {
    int c = Peek();
    if (EndsBareString(c)) break;
    if (c == '\'') {
      // nats-server ends a bare string at a quote and drops the quote.
      std::string text = has_escapes ? escaped : std::string(text_.substr(start, pos_ - start));
      Advance();
      *out = ConfValue::String(std::move(text));
      return absl::OkStatus();
    }
    Advance();
    if (c == '\\') {
      if (!has_escapes) {
        escaped = std::string(text_.substr(start, pos_ - 1 - start));
        has_escapes = true;
      }
      absl::Status s = ParseEscape(&escaped);
      if (!s.ok()) return s;
      continue;
    }
    if (has_escapes) escaped.push_back(static_cast<char>(c));
  }
  if (has_escapes) {
    *out = ConfValue::String(std::move(escaped));
    return absl::OkStatus();
  }
  absl::string_view word = text_.substr(start, pos_ - start);
  bool b = false;
  if (IsBoolWord(word, &b)) {
    *out = ConfValue::Bool(b);
    return absl::OkStatus();
  }
  if (!word.empty() && word[0] == '$')
    return ResolveVariable(std::string(word.substr(1)), line, depth, out);
  *out = ConfValue::String(std::string(word));
  return absl::OkStatus();
}

absl::Status Parser::MakeInteger(absl::string_view text, ConfValue* out) {
  size_t digits = 0;
  while (digits < text.size() && (IsDigit(text[digits]) || text[digits] == '-')) ++digits;
  int64_t num = 0;
  if (!absl::SimpleAtoi(text.substr(0, digits), &num)) {
    return Error(absl::StrCat("integer '", text, "' is out of the range"));
  }
  std::string suffix = absl::AsciiStrToLower(text.substr(digits));
  int64_t mult = 0;
  if (!SuffixMultiplier(suffix, &mult)) {
    return Error(absl::StrCat("invalid size suffix in '", text, "'"));
  }
  if (num > std::numeric_limits<int64_t>::max() / mult ||
      num < std::numeric_limits<int64_t>::min() / mult) {
    return Error(absl::StrCat("integer '", text, "' is out of the range"));
  }
  *out = ConfValue::Int(num * mult);
  out->set_raw(std::string(text));
  return absl::OkStatus();
}

absl::Status Parser::ParseNumber(ConfValue* out, int depth) {
  // lexNumberOrDateOrStringOrIP: an integer, size, float, datetime, IP
  // address, or a bare string that starts with a digit (like `10s`).
  const size_t start = pos_;
  while (IsDigit(Peek())) Advance();
  int c = Peek();
  if (c == '-') {
    if (pos_ - start != 4) return Error("All ISO8601 dates must be in full Zulu form.");
    Advance();
    return ParseDatetime(start, out);
  }
  if (c == '.') {
    Advance();
    if (!IsDigit(Peek())) {
      return Error(absl::StrCat("Floats must have a digit after the '.', but got '",
                                DescribeChar(Peek()), "' instead."));
    }
    while (IsDigit(Peek())) Advance();
    if (Peek() == '.') {
      // Not a float after all: an IP address like 127.0.0.1:4222.
      while (IsDigit(Peek()) || Peek() == '.' || Peek() == ':' || Peek() == '-') Advance();
      *out = ConfValue::String(std::string(text_.substr(start, pos_ - start)));
      return absl::OkStatus();
    }
    absl::string_view f = text_.substr(start, pos_ - start);
    double d = 0;
    if (!absl::SimpleAtod(f, &d)) return Error(absl::StrCat("float '", f, "' is out of the range"));
    *out = ConfValue::Float(d);
    return absl::OkStatus();
  }
  if (IsSizeSuffixStart(c)) {
    Advance();
    while (Peek() == 'b' || Peek() == 'B' || Peek() == 'i' || Peek() == 'I') Advance();
    if (EndsNumber(Peek())) return MakeInteger(text_.substr(start, pos_ - start), out);
    pos_ = start;  // e.g. `1m30s`, `5min`: a bare string (no newline was crossed)
    return ParseBare(out, depth);
  }
  if (EndsNumber(c)) return MakeInteger(text_.substr(start, pos_ - start), out);
  pos_ = start;  // e.g. `10s`, `1h30m`, `3rd`
  return ParseBare(out, depth);
}

absl::Status Parser::ParseNegativeNumber(ConfValue* out, int depth) {
  // The '-' has been consumed; a digit must follow (lexNegNumberStart).
  const size_t start = pos_ - 1;
  int c = Peek();
  if (!IsDigit(c)) {
    if (c == '.') return Error("Floats must start with a digit, not '.'.");
    return Error(absl::StrCat("Expected a digit but got '", DescribeChar(c), "'."));
  }
  while (IsDigit(Peek())) Advance();
  c = Peek();
  if (c == '.') {
    Advance();
    if (!IsDigit(Peek())) {
      return Error(absl::StrCat("Floats must have a digit after the '.', but got '",
                                DescribeChar(Peek()), "' instead."));
    }
    while (IsDigit(Peek())) Advance();
    absl::string_view f = text_.substr(start, pos_ - start);
    double d = 0;
    if (!absl::SimpleAtod(f, &d)) return Error(absl::StrCat("float '", f, "' is out of the range"));
    *out = ConfValue::Float(d);
    return absl::OkStatus();
  }
  if (IsSizeSuffixStart(c)) {
    Advance();
    while (Peek() == 'b' || Peek() == 'B' || Peek() == 'i' || Peek() == 'I') Advance();
    if (!EndsNumber(Peek())) {
      pos_ = start;
      return ParseBare(out, depth);
    }
  }
  return MakeInteger(text_.substr(start, pos_ - start), out);
}

absl::Status Parser::ParseDatetime(size_t start, ConfValue* out) {
  // "YYYY-" is consumed; the rest must be MM-DDTHH:MM:SSZ. Kept as a string:
  // no option Herald reads is a datetime.
  static constexpr char kFormat[] = "00-00T00:00:00Z";
  for (const char* f = kFormat; *f != '\0'; ++f) {
    int c = Peek();
    if (*f == '0' ? !IsDigit(c) : c != *f) {
      return Error(absl::StrCat("Expected ", *f == '0' ? "digit" : std::string(1, *f),
                                " in ISO8601 datetime, but found '", DescribeChar(c),
                                "' instead."));
    }
    Advance();
  }
  *out = ConfValue::String(std::string(text_.substr(start, pos_ - start)));
  return absl::OkStatus();
}

absl::Status Parser::ResolveVariable(const std::string& name, int line, int depth, ConfValue* out) {
  // A bcrypt hash written bare ($2a$11$...) is not a variable (parse.go).
  if (absl::StartsWith(name, "2a$") || absl::StartsWith(name, "2b$") ||
      absl::StartsWith(name, "2y$")) {
    *out = ConfValue::String(absl::StrCat("$", name));
    return absl::OkStatus();
  }
  // Innermost block first; arrays are not scopes.
  for (auto it = contexts_.rbegin(); it != contexts_.rend(); ++it) {
    ConfValue* found = (*it)->FindMutable(name);
    if (found == nullptr) continue;
    absl::Status s = CountNodes(static_cast<int64_t>(found->NodeCount()));
    if (!s.ok()) return s;
    found->set_used_as_variable(true);
    *out = *found;
    out->set_used_as_variable(false);
    out->set_position(file_, line);
    return absl::OkStatus();
  }
  const char* env = shared_->opts.use_environment ? std::getenv(name.c_str()) : nullptr;
  if (env == nullptr || name.empty()) {
    return Error(line, absl::StrCat("variable reference for '", name, "' can not be found"));
  }
  if (env_depth_ + 1 > kMaxEnvDepth) {
    return Error(line, absl::StrCat("variable reference for '", name,
                                    "' nests environment variables too deeply"));
  }
  // The environment value is parsed like a value in a file ("4222" is an
  // integer), in a scope of its own.
  std::string text = absl::StrCat(kEnvKey, "=", env);
  Parser env_parser(text, absl::StrCat("$", name), shared_, include_depth_, env_depth_ + 1, depth);
  ConfValue env_root;
  absl::Status s = env_parser.ParseTop(&env_root);
  if (!s.ok()) {
    return Error(line, absl::StrCat("variable reference for '", name,
                                    "' could not be parsed: ", s.message()));
  }
  const ConfValue* v = env_root.Find(kEnvKey);
  if (v == nullptr) {
    return Error(line, absl::StrCat("variable reference for '", name, "' is empty"));
  }
  *out = *v;
  out->set_position(file_, line);
  return absl::OkStatus();
}

absl::Status Parser::ParseInclude(ConfValue* ctx, int depth) {
  // lexIncludeStart / lexInclude: a quoted or bare file name.
  SkipSpacesTabs();
  const int line = line_;
  int c = Peek();
  std::string name;
  if (c == '"' || c == '\'') {
    Advance();
    size_t start = pos_;
    while (Peek() != c) {
      if (Peek() == kEof) return Error(line, "Unexpected EOF in quoted include");
      Advance();
    }
    name = std::string(text_.substr(start, pos_ - start));
    Advance();
  } else {
    if (c == kEof || IsNewline(c)) return Error(line, "Expected include value but found new line");
    if (c == '[' || c == '{' || c == '(' || IsDigit(c) || c == '-' || c == '\\') {
      return Error(line, absl::StrCat("Expected include value but found '", DescribeChar(c), "'"));
    }
    size_t start = pos_;
    while (!EndsBareString(Peek()) && Peek() != '\'') Advance();
    name = std::string(text_.substr(start, pos_ - start));
    if (Peek() == '\'') Advance();
  }
  return IncludeFile(name, line, depth, ctx);
}

absl::Status Parser::IncludeFile(const std::string& name, int line, int depth, ConfValue* ctx) {
  const ConfParseOptions& o = shared_->opts;
  if (!o.allow_includes) return Error(line, "include is not allowed here");
  if (name.empty()) return Error(line, "include needs a file name");
  if (include_depth_ + 1 > o.max_include_depth) {
    return Error(line, absl::StrCat("includes nest deeper than ", o.max_include_depth));
  }
  // Relative to the including file's directory, as nats-server.
  std::string path =
      fs::path(name).is_absolute() ? name : (fs::path(dir_) / fs::path(name)).string();
  std::string canonical = CanonicalPath(path);
  if (!o.include_root.empty()) {
    std::string root = CanonicalPath(o.include_root);
    fs::path rel = fs::path(canonical).lexically_relative(root);
    if (rel.empty() || *rel.begin() == "..") {
      return Error(line, absl::StrCat("include '", name, "' is outside ", o.include_root));
    }
  }
  for (const std::string& open : shared_->include_stack) {
    if (open == canonical) {
      return Error(line, absl::StrCat("include cycle: '", name, "' is already being parsed"));
    }
  }
  std::string text;
  absl::Status s = ReadFileBounded(path, shared_, &text);
  if (!s.ok()) {
    return Error(line, absl::StrCat("error parsing include file '", name, "': ", s.message()));
  }
  shared_->include_stack.push_back(canonical);
  Parser sub(text, path, shared_, include_depth_ + 1, env_depth_, depth);
  ConfValue sub_root;
  s = sub.ParseTop(&sub_root);
  shared_->include_stack.pop_back();
  if (!s.ok()) return s;  // already "included_file:line: reason"
  // The included keys land in the current block (parse.go itemInclude).
  for (const auto& [key, value] : sub_root.entries()) ctx->Set(key, value);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ConfValue> ParseConfFile(const std::string& path, const ConfParseOptions& options) {
  SharedState shared(options);
  std::string text;
  absl::Status s = ReadFileBounded(path, &shared, &text);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":0: error opening config file: ", s.message()));
  }
  shared.include_stack.push_back(CanonicalPath(path));
  Parser parser(text, path, &shared, /*include_depth=*/0, /*env_depth=*/0, /*base_depth=*/0);
  ConfValue root;
  s = parser.ParseTop(&root);
  if (!s.ok()) return s;
  return root;
}

absl::StatusOr<ConfValue> ParseConfString(absl::string_view text, const std::string& name,
                                          const ConfParseOptions& options) {
  SharedState shared(options);
  if (static_cast<int64_t>(text.size()) > options.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":0: configuration larger than ", options.max_bytes, " bytes"));
  }
  shared.include_stack.push_back(CanonicalPath(name));
  Parser parser(text, name, &shared, /*include_depth=*/0, /*env_depth=*/0, /*base_depth=*/0);
  ConfValue root;
  absl::Status s = parser.ParseTop(&root);
  if (!s.ok()) return s;
  return root;
}

}  // namespace herald
