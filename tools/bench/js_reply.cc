#include "tools/bench/js_reply.h"

#include <cstddef>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace herald::bench {
namespace {

// A cursor over a JSON text that can skip one value of any kind.
struct Scanner {
  absl::string_view s;
  size_t i = 0;

  void SkipWs() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
  }
  bool Eat(char c) {
    SkipWs();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  // At a '"': returns the raw contents (escapes kept) and moves past it.
  bool String(absl::string_view* out) {
    SkipWs();
    if (i >= s.size() || s[i] != '"') return false;
    const size_t start = ++i;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\') ++i;
      ++i;
    }
    if (i >= s.size()) return false;
    *out = s.substr(start, i - start);
    ++i;
    return true;
  }
  // Skips one value; `out` gets its text (for a string: with the quotes).
  bool Value(absl::string_view* out) {
    SkipWs();
    if (i >= s.size()) return false;
    const size_t start = i;
    const char c = s[i];
    if (c == '"') {
      absl::string_view ignored;
      if (!String(&ignored)) return false;
    } else if (c == '{' || c == '[') {
      int depth = 0;
      while (i < s.size()) {
        const char d = s[i];
        if (d == '"') {
          absl::string_view ignored;
          if (!String(&ignored)) return false;
          continue;
        }
        if (d == '{' || d == '[') ++depth;
        if (d == '}' || d == ']') {
          if (--depth == 0) {
            ++i;
            break;
          }
        }
        ++i;
      }
      if (depth != 0) return false;
    } else {
      // number, true, false, null
      while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
             s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
        ++i;
      }
      if (i == start) return false;
    }
    *out = s.substr(start, i - start);
    return true;
  }
};

// Calls fn(key, value_text) for each member of the top-level object; false if
// `text` is not a well-formed flat walk of an object.
template <typename Fn>
bool ForEachMember(absl::string_view text, Fn fn) {
  Scanner sc{text};
  if (!sc.Eat('{')) return false;
  if (sc.Eat('}')) return true;
  for (;;) {
    absl::string_view key, value;
    if (!sc.String(&key) || !sc.Eat(':') || !sc.Value(&value)) return false;
    fn(key, value);
    if (sc.Eat(',')) continue;
    return sc.Eat('}');
  }
}

ApiError ErrorFromJson(absl::string_view text) {
  ApiError e;
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    e.description = absl::StrCat("unparsable error object: ", text);
    return e;
  }
  if (j.contains("code") && j["code"].is_number_integer()) e.code = j["code"].get<int>();
  if (j.contains("err_code") && j["err_code"].is_number_integer()) {
    e.err_code = j["err_code"].get<int>();
  }
  if (j.contains("description") && j["description"].is_string()) {
    e.description = j["description"].get<std::string>();
  }
  return e;
}

}  // namespace

HeaderSplit SplitHeaders(absl::string_view msg) {
  HeaderSplit out;
  if (!absl::StartsWith(msg, "NATS/1.0")) {
    out.body = msg;
    return out;
  }
  size_t eol = msg.find("\r\n");
  absl::string_view first = msg.substr(8, eol == absl::string_view::npos ? msg.npos : eol - 8);
  first = absl::StripLeadingAsciiWhitespace(first);
  size_t sp = first.find(' ');
  int status = 0;
  if (absl::SimpleAtoi(first.substr(0, sp), &status)) out.status = status;
  size_t blank = msg.find("\r\n\r\n");
  out.body = blank == absl::string_view::npos ? absl::string_view() : msg.substr(blank + 4);
  return out;
}

PubAck ParsePubAck(absl::string_view msg) {
  PubAck ack;
  HeaderSplit hs = SplitHeaders(msg);
  if (hs.status != 0 && hs.status != 200) {
    ack.kind = PubAck::Kind::kError;
    ack.error.code = hs.status;
    ack.error.description = hs.status == 503 ? "no responders" : absl::StrCat("status ", hs.status);
    return ack;
  }
  bool has_seq = false;
  absl::string_view error_text;
  const bool well_formed = ForEachMember(hs.body, [&](absl::string_view k, absl::string_view v) {
    if (k == "stream") {
      if (v.size() >= 2 && v.front() == '"') ack.stream = v.substr(1, v.size() - 2);
    } else if (k == "seq") {
      has_seq = absl::SimpleAtoi(v, &ack.seq);
    } else if (k == "duplicate") {
      ack.duplicate = (v == "true");
    } else if (k == "error") {
      error_text = v;
    }
  });
  if (!well_formed) return ack;  // kMalformed
  if (!error_text.empty()) {
    ack.kind = PubAck::Kind::kError;
    ack.error = ErrorFromJson(error_text);
    return ack;
  }
  if (has_seq && ack.seq > 0 && !ack.stream.empty()) ack.kind = PubAck::Kind::kOk;
  return ack;
}

ApiReply ParseApiReply(absl::string_view msg) {
  ApiReply r;
  HeaderSplit hs = SplitHeaders(msg);
  if (hs.status != 0 && hs.status != 200) {
    r.ok = true;
    r.has_error = true;
    r.error.code = hs.status;
    r.error.description = hs.status == 503 ? "no responders" : absl::StrCat("status ", hs.status);
    return r;
  }
  nlohmann::json j = nlohmann::json::parse(hs.body.begin(), hs.body.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    r.error.description = absl::StrCat("reply is not a JSON object: ", hs.body.substr(0, 200));
    return r;
  }
  r.ok = true;
  if (j.contains("error")) {
    r.has_error = true;
    r.error = ErrorFromJson(j["error"].dump());
  }
  if (j.contains("state") && j["state"].is_object()) {
    const nlohmann::json& st = j["state"];
    if (st.contains("messages") && st["messages"].is_number_integer()) {
      r.state_messages = st["messages"].get<int64_t>();
    }
    if (st.contains("last_seq") && st["last_seq"].is_number_integer()) {
      r.state_last_seq = st["last_seq"].get<int64_t>();
    }
  }
  if (j.contains("cluster") && j["cluster"].is_object() && j["cluster"].contains("leader") &&
      j["cluster"]["leader"].is_string()) {
    r.cluster_leader = j["cluster"]["leader"].get<std::string>();
  }
  return r;
}

std::string StreamCreateBody(absl::string_view name, absl::string_view subject, int replicas,
                             absl::string_view storage) {
  nlohmann::json j;
  j["name"] = std::string(name);
  j["subjects"] = nlohmann::json::array({std::string(subject)});
  j["num_replicas"] = replicas;
  j["storage"] = std::string(storage);
  return j.dump();
}

}  // namespace herald::bench
