#include "server/protocol/subject.h"

namespace herald {
namespace {

bool IsSpaceOrNul(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\0';
}

// Walks tokens; `allow_wildcards` controls whether "*" and ">" tokens pass.
bool CheckSubject(std::string_view subject, bool allow_wildcards) {
  if (subject.empty()) return false;
  size_t token_start = 0;
  const size_t n = subject.size();
  for (size_t i = 0; i <= n; ++i) {
    if (i == n || subject[i] == '.') {
      const size_t len = i - token_start;
      if (len == 0) return false;
      if (len == 1) {
        const char c = subject[token_start];
        if (c == '*' || c == '>') {
          if (!allow_wildcards) return false;
          // '>' must be the last token.
          if (c == '>' && i != n) return false;
        }
      }
      token_start = i + 1;
      continue;
    }
    if (IsSpaceOrNul(subject[i])) return false;
  }
  return true;
}

}  // namespace

bool IsValidSubject(std::string_view subject) { return CheckSubject(subject, true); }

bool IsValidLiteralSubject(std::string_view subject) { return CheckSubject(subject, false); }

bool SubjectHasWildcard(std::string_view subject) {
  size_t token_start = 0;
  for (size_t i = 0; i <= subject.size(); ++i) {
    if (i == subject.size() || subject[i] == '.') {
      if (i - token_start == 1 && (subject[token_start] == '*' || subject[token_start] == '>')) {
        return true;
      }
      token_start = i + 1;
    }
  }
  return false;
}

bool SubjectMatches(std::string_view pattern, std::string_view subject) {
  size_t p = 0, s = 0;
  while (true) {
    const size_t p_end = std::min(pattern.find('.', p), pattern.size());
    const size_t s_end = std::min(subject.find('.', s), subject.size());
    std::string_view pt = pattern.substr(p, p_end - p);
    std::string_view st = subject.substr(s, s_end - s);
    if (pt == ">") return !st.empty();
    if (pt != "*" && pt != st) return false;
    const bool p_done = p_end >= pattern.size();
    const bool s_done = s_end >= subject.size();
    if (p_done || s_done) return p_done && s_done;
    p = p_end + 1;
    s = s_end + 1;
  }
}

bool IsValidQueueName(std::string_view queue) {
  if (queue.empty()) return false;
  for (char c : queue) {
    if (IsSpaceOrNul(c)) return false;
  }
  return true;
}

bool SplitJsAckDeliver(std::string_view reply, std::string_view* ack_reply,
                       std::string_view* deliver_as) {
  constexpr std::string_view kAckPrefix = "$JS.ACK.";
  if (reply.substr(0, kAckPrefix.size()) != kAckPrefix) return false;
  int dots = 0;
  for (size_t i = 0; i < reply.size(); ++i) {
    if (reply[i] == '.') {
      ++dots;
    } else if (reply[i] == '@' && dots >= 8) {
      if (i + 1 >= reply.size()) return false;
      *ack_reply = reply.substr(0, i);
      *deliver_as = reply.substr(i + 1);
      return true;
    }
  }
  return false;
}

}  // namespace herald
