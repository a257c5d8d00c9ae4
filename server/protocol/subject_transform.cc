#include "server/protocol/subject_transform.h"

#include <charconv>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "server/protocol/subject.h"

namespace herald {
namespace {

// nats-server's subjectInfo: non-empty tokens, `>` only last. (Whitespace is
// not checked: a destination's `{{ wildcard(1) }}` may hold spaces.)
struct SubjectInfo {
  bool valid = false;
  std::vector<std::string> tokens;
  int partial_wildcards = 0;
  bool full_wildcard = false;
};

// Go's strings.Split (std::string_view pieces; absl's own string_view differs
// from std's in this build).
std::vector<std::string_view> Split(std::string_view s, std::string_view sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const size_t at = s.find(sep);
    if (at == std::string_view::npos) break;
    out.push_back(s.substr(0, at));
    s.remove_prefix(at + sep.size());
  }
  out.push_back(s);
  return out;
}

std::string_view Strip(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

SubjectInfo Inspect(std::string_view subject) {
  SubjectInfo info;
  if (subject.empty()) return info;
  for (std::string_view t : Split(subject, ".")) {
    if (t.empty() || info.full_wildcard) return SubjectInfo{};
    if (t == ">") info.full_wildcard = true;
    if (t == "*") ++info.partial_wildcards;
    info.tokens.emplace_back(t);
  }
  info.valid = true;
  return info;
}

absl::Status MappingError(std::string_view token, std::string_view what) {
  return absl::InvalidArgumentError(std::string(what) + ": " + std::string(token));
}

// `pattern` with its upper-case letters matching either case (nats-server's
// `[wW]ildcard`, `[sS]plit[fF]rom[lL]eft` ...).
bool NameIs(std::string_view got, std::string_view pattern) {
  if (got.size() != pattern.size()) return false;
  for (size_t i = 0; i < got.size(); ++i) {
    const char p = pattern[i];
    if (absl::ascii_isupper(static_cast<unsigned char>(p))) {
      if (absl::ascii_toupper(static_cast<unsigned char>(got[i])) != p) return false;
    } else if (got[i] != p) {
      return false;
    }
  }
  return true;
}

// Go's strconv.Atoi: an optional sign, then decimal digits only.
bool ParseDecimal(std::string_view s, int64_t* out) {
  bool negative = false;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return false;
  *out = negative ? -v : v;
  return true;
}

bool ParseInt(std::string_view s, int64_t* out) { return ParseDecimal(Strip(s), out); }

}  // namespace

absl::StatusOr<SubjectTransform> SubjectTransform::Create(std::string_view src,
                                                          std::string_view dest) {
  SubjectInfo s = Inspect(src);
  SubjectInfo d = Inspect(dest);
  if (!s.valid || !d.valid || d.partial_wildcards > 0 || s.full_wildcard != d.full_wildcard) {
    return absl::InvalidArgumentError("invalid subject");
  }
  SubjectTransform t;
  t.src_ = std::string(src);
  t.dest_ = std::string(dest);
  t.src_tokens_ = s.tokens;
  t.dest_tokens_ = d.tokens;
  if (s.partial_wildcards == 0 && !s.full_wildcard) return t;

  // Wildcard index (1-based) -> position of that `*` among the source tokens.
  std::map<int64_t, size_t> wildcard_position;
  for (size_t i = 0; i < s.tokens.size(); ++i) {
    if (s.tokens[i] == "*")
      wildcard_position[static_cast<int64_t>(wildcard_position.size()) + 1] = i;
  }
  int placeholders = 0;
  for (const std::string& token : d.tokens) {
    DestToken out;
    std::vector<int64_t> wildcards;
    const size_t n = token.size();
    if (n > 1 && token[0] == '$') {
      int64_t idx = 0;
      // Not a number: a literal token (other things use `$` tokens).
      if (ParseDecimal(std::string_view(token).substr(1), &idx)) {
        out.kind = Kind::kWildcard;
        wildcards.push_back(idx);
      }
    } else if (n > 4 && token.compare(0, 2, "{{") == 0 && token.compare(n - 2, 2, "}}") == 0) {
      std::string_view body = Strip(std::string_view(token).substr(2, n - 4));
      const size_t open = body.find('(');
      if (open == std::string_view::npos || body.back() != ')') {
        return MappingError(token, "unknown mapping destination function");
      }
      std::string_view name = Strip(body.substr(0, open));
      std::string_view inside = body.substr(open + 1, body.size() - open - 2);
      // nats-server splits the arguments on `,\s*` and trims spaces.
      std::vector<std::string_view> args;
      for (std::string_view a : Split(inside, ",")) {
        args.push_back(Strip(a));
      }
      auto index_and_int = [&](Kind kind) -> absl::Status {
        if (args.size() < 2)
          return MappingError(token, "not enough arguments passed to the function");
        if (args.size() > 2)
          return MappingError(token, "too many arguments passed to the function");
        int64_t idx = 0, arg = 0;
        if (!ParseInt(args[0], &idx) || !ParseInt(args[1], &arg)) {
          return MappingError(token, "function argument is invalid or in the wrong format");
        }
        out.kind = kind;
        out.int_arg = static_cast<int32_t>(arg);
        wildcards.push_back(idx);
        return absl::OkStatus();
      };
      absl::Status st;
      if (NameIs(name, "Wildcard")) {
        if (args.size() == 1 && args[0].empty()) {
          return MappingError(token, "not enough arguments passed to the function");
        }
        if (args.size() > 1)
          return MappingError(token, "too many arguments passed to the function");
        int64_t idx = 0;
        if (!ParseInt(args[0], &idx)) {
          return MappingError(token, "function argument is invalid or in the wrong format");
        }
        out.kind = Kind::kWildcard;
        wildcards.push_back(idx);
      } else if (NameIs(name, "Partition")) {
        if (args.size() < 2)
          return MappingError(token, "not enough arguments passed to the function");
        int64_t partitions = 0;
        // A partition count of 0 or less would divide by zero.
        if (!ParseInt(args[0], &partitions) || partitions <= 0 || partitions > INT32_MAX) {
          return MappingError(token, "function argument is invalid or in the wrong format");
        }
        for (size_t i = 1; i < args.size(); ++i) {
          int64_t idx = 0;
          if (!ParseInt(args[i], &idx)) {
            return MappingError(token, "function argument is invalid or in the wrong format");
          }
          wildcards.push_back(idx);
        }
        out.kind = Kind::kPartition;
        out.int_arg = static_cast<int32_t>(partitions);
      } else if (NameIs(name, "SplitFromLeft")) {
        st = index_and_int(Kind::kSplitFromLeft);
      } else if (NameIs(name, "SplitFromRight")) {
        st = index_and_int(Kind::kSplitFromRight);
      } else if (NameIs(name, "SliceFromLeft")) {
        st = index_and_int(Kind::kSliceFromLeft);
      } else if (NameIs(name, "SliceFromRight")) {
        st = index_and_int(Kind::kSliceFromRight);
      } else if (NameIs(name, "Split")) {
        if (args.size() < 2)
          return MappingError(token, "not enough arguments passed to the function");
        if (args.size() > 2)
          return MappingError(token, "too many arguments passed to the function");
        int64_t idx = 0;
        if (!ParseInt(args[0], &idx) || args[1].empty() ||
            args[1].find_first_of(" .") != std::string_view::npos) {
          return MappingError(token, "function argument is invalid or in the wrong format");
        }
        out.kind = Kind::kSplit;
        out.string_arg = std::string(args[1]);
        wildcards.push_back(idx);
      } else {
        return MappingError(token, "unknown mapping destination function");
      }
      if (!st.ok()) return st;
    }
    if (out.kind != Kind::kLiteral) {
      ++placeholders;
      for (int64_t w : wildcards) {
        if (w > s.partial_wildcards) {
          return MappingError(token, "mapping destination wildcard index out of range");
        }
        // nats-server reads a missing index (0 or negative) as token 0.
        auto it = wildcard_position.find(w);
        out.source_tokens.push_back(it == wildcard_position.end() ? 0 : it->second);
      }
    }
    t.mapping_.push_back(std::move(out));
  }
  if (placeholders < s.partial_wildcards) {
    return absl::InvalidArgumentError("not all source wildcards are used in the destination: " +
                                      std::string(dest));
  }
  return t;
}

std::optional<std::string> SubjectTransform::Match(std::string_view subject) const {
  const bool any_source = src_.empty() || src_ == ">";
  if (any_source && (dest_.empty() || dest_ == ">")) return std::string(subject);
  if (!IsValidLiteralSubject(subject)) return std::nullopt;
  if (!any_source && !SubjectMatches(src_, subject)) return std::nullopt;
  std::vector<std::string_view> tokens = Split(subject, ".");
  return Transform(tokens);
}

std::string SubjectTransform::Transform(const std::vector<std::string_view>& tokens) const {
  if (mapping_.empty()) return dest_;
  auto token = [&](size_t i) -> std::string_view {
    return i < tokens.size() ? tokens[i] : std::string_view();
  };
  std::string out;
  const size_t last = mapping_.size() - 1;
  for (size_t i = 0; i < mapping_.size(); ++i) {
    const DestToken& m = mapping_[i];
    switch (m.kind) {
      case Kind::kLiteral:
        if (dest_tokens_[i] == ">") goto rest;  // the rest of the subject follows
        out += dest_tokens_[i];
        break;
      case Kind::kWildcard:
        out += token(m.source_tokens[0]);
        break;
      case Kind::kPartition: {
        // FNV-1a, 32 bits, over the tokens concatenated.
        uint32_t h = 2166136261u;
        for (size_t s : m.source_tokens) {
          for (unsigned char c : token(s)) {
            h ^= c;
            h *= 16777619u;
          }
        }
        out += std::to_string(h % static_cast<uint32_t>(m.int_arg));
        break;
      }
      case Kind::kSplitFromLeft: {
        std::string_view s = token(m.source_tokens[0]);
        const int64_t pos = m.int_arg;
        if (pos > 0 && pos < static_cast<int64_t>(s.size())) {
          out.append(s.substr(0, pos)).append(".").append(s.substr(pos));
        } else {
          out += s;
        }
        break;
      }
      case Kind::kSplitFromRight: {
        std::string_view s = token(m.source_tokens[0]);
        const int64_t pos = m.int_arg;
        const int64_t len = static_cast<int64_t>(s.size());
        if (pos > 0 && pos < len) {
          out.append(s.substr(0, len - pos)).append(".").append(s.substr(len - pos));
        } else {
          out += s;
        }
        break;
      }
      case Kind::kSliceFromLeft: {
        std::string_view s = token(m.source_tokens[0]);
        const size_t size = m.int_arg > 0 ? static_cast<size_t>(m.int_arg) : 0;
        if (size > 0 && size < s.size()) {
          for (size_t k = 0; k + size <= s.size(); k += size) {
            if (k != 0) out += '.';
            out += s.substr(k, size);
            if (k + size != s.size() && k + 2 * size > s.size()) {
              out.append(".").append(s.substr(k + size));
              break;
            }
          }
        } else {
          out += s;
        }
        break;
      }
      case Kind::kSliceFromRight: {
        std::string_view s = token(m.source_tokens[0]);
        const size_t size = m.int_arg > 0 ? static_cast<size_t>(m.int_arg) : 0;
        if (size > 0 && size < s.size()) {
          const size_t remainder = s.size() % size;
          if (remainder > 0) out.append(s.substr(0, remainder)).append(".");
          for (size_t k = remainder; k + size <= s.size(); k += size) {
            out += s.substr(k, size);
            if (k + size < s.size()) out += '.';
          }
        } else {
          out += s;
        }
        break;
      }
      case Kind::kSplit: {
        std::vector<std::string_view> parts = Split(token(m.source_tokens[0]), m.string_arg);
        for (size_t j = 0; j < parts.size(); ++j) {
          out += parts[j];
          if (j + 1 < parts.size() && !parts[j + 1].empty() && !(j == 0 && parts[j].empty())) {
            out += '.';
          }
        }
        break;
      }
    }
    if (i < last) out += '.';
  }
  return out;
rest:
  // The source's `>` matched its last token and everything after it.
  for (size_t i = src_tokens_.size() - 1; i < tokens.size(); ++i) {
    out += tokens[i];
    if (i + 1 < tokens.size()) out += '.';
  }
  return out;
}

}  // namespace herald
