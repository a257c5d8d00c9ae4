#include "server/auth/permissions.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "server/protocol/subject.h"

namespace herald::auth {
namespace {

using Tokens = std::vector<absl::string_view>;

Tokens Split(absl::string_view s) { return absl::StrSplit(s, '.'); }

bool IsPwc(absl::string_view t) { return t.size() == 1 && t[0] == '*'; }
bool IsFwc(absl::string_view t) { return t.size() == 1 && t[0] == '>'; }

// nats-server's Sublist.Match with the subject's tokens taken literally:
// a pattern "*" matches any one token (even a "*" or ">" token), a pattern
// ">" matches the rest (at least one token), a literal only itself.
template <typename P>
bool LiteralMatch(const std::vector<P>& pattern, const Tokens& subject) {
  size_t i = 0;
  for (; i < pattern.size(); ++i) {
    if (i >= subject.size()) return false;
    absl::string_view p = pattern[i];
    if (IsFwc(p)) return true;
    if (IsPwc(p)) continue;
    if (IsPwc(subject[i]) || IsFwc(subject[i]) || p != subject[i]) return false;
  }
  return i == subject.size();
}

template <typename P>
bool IsSubset(const Tokens& sub, const std::vector<P>& pattern) {
  size_t i = 0;
  for (; i < sub.size(); ++i) {
    if (i >= pattern.size()) return false;
    absl::string_view p = pattern[i];
    absl::string_view s = sub[i];
    if (IsFwc(p)) return true;
    if (IsFwc(s)) return false;  // ">" spans tokens a non-">" pattern token cannot
    if (IsPwc(p)) continue;
    if (IsPwc(s) || p != s) return false;
  }
  return i == pattern.size();
}

template <typename P>
bool Collide(const Tokens& a, const std::vector<P>& b) {
  size_t i = 0;
  for (; i < a.size() && i < b.size(); ++i) {
    absl::string_view x = a[i];
    absl::string_view y = b[i];
    if (IsFwc(x) || IsFwc(y)) return true;
    if (IsPwc(x) || IsPwc(y)) continue;
    if (x != y) return false;
  }
  return i == a.size() && i == b.size();
}

// nats-server queueMatches for one entry: the literal name, or a wildcard
// queue pattern the queue name is a subset of.
bool QueueMatches(absl::string_view queue, absl::string_view entry_queue) {
  if (queue == entry_queue) return true;
  if (!SubjectHasWildcard(std::string_view(entry_queue.data(), entry_queue.size()))) return false;
  return SubjectIsSubset(queue, entry_queue);
}

bool ValidSubject(absl::string_view s) {
  return IsValidSubject(std::string_view(s.data(), s.size()));
}

// Splits "subject [queue]" (whitespace separated, nats splitSubjectQueue).
absl::Status SplitSubjectQueue(absl::string_view entry, bool allow_queue, std::string* subject,
                               std::string* queue) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(entry, absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty());
  if (parts.empty() || parts.size() > 2 || (parts.size() == 2 && !allow_queue) ||
      !ValidSubject(parts[0]) || (parts.size() == 2 && !ValidSubject(parts[1]))) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "subject %s is not a valid %s", GoQuote(entry), allow_queue ? "subject-queue" : "subject"));
  }
  *subject = std::string(parts[0]);
  queue->clear();
  if (parts.size() == 2) *queue = std::string(parts[1]);
  return absl::OkStatus();
}

absl::Status ValidateList(const std::vector<std::string>& list, bool allow_queue) {
  std::string s, q;
  for (const std::string& e : list) {
    absl::Status st = SplitSubjectQueue(e, allow_queue, &s, &q);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status ConfErr(const ConfValue& v, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(v.Where(), ": ", reason));
}

absl::StatusOr<std::vector<std::string>> ParseSubjectList(const ConfValue& v, bool allow_queue) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.push_back(v.str());
  } else if (v.is_array()) {
    for (const ConfValue& item : v.items()) {
      if (!item.is_string())
        return ConfErr(item, "Subject in permissions array cannot be cast to string");
      out.push_back(item.str());
    }
  } else {
    return ConfErr(v, absl::StrCat("Expected subject permissions to be a subject, or array of "
                                   "subjects, got ",
                                   v.kind_name()));
  }
  absl::Status s = ValidateList(out, allow_queue);
  if (!s.ok()) return ConfErr(v, s.message());
  return out;
}

// publish / subscribe: a subject, an array, or { allow, deny }. An empty
// map means "no permission of this kind" (nats-server returns nil).
absl::StatusOr<std::optional<SubjectPermission>> ParseSubjectPermission(const ConfValue& v,
                                                                        bool allow_queue) {
  SubjectPermission p;
  if (!v.is_map()) {
    auto list = ParseSubjectList(v, allow_queue);
    if (!list.ok()) return list.status();
    p.allow = std::move(*list);
    return std::optional<SubjectPermission>(std::move(p));
  }
  if (v.entries().empty()) return std::optional<SubjectPermission>();
  for (const auto& [raw_k, mv] : v.entries()) {
    const std::string k = absl::AsciiStrToLower(raw_k);
    if (k != "allow" && k != "deny") {
      if (mv.used_as_variable()) continue;
      return ConfErr(
          mv, absl::StrCat("Unknown field name \"", raw_k, "\" parsing subject permissions"));
    }
    auto list = ParseSubjectList(mv, allow_queue);
    if (!list.ok()) return list.status();
    if (k == "allow") {
      p.allow = std::move(*list);
    } else {
      p.deny = std::move(*list);
    }
  }
  return std::optional<SubjectPermission>(std::move(p));
}

absl::StatusOr<absl::Duration> ParseDurationValue(const ConfValue& v) {
  std::string text;
  if (v.is_string()) {
    text = v.str();
  } else if (v.is_int() && !v.raw().empty() && !absl::ascii_isdigit(v.raw().back())) {
    // `expires: 1m` lexes as an integer with a suffix; read the text.
    text = v.raw();
  } else {
    return ConfErr(v, "error parsing expires, not a duration string");
  }
  absl::Duration d;
  if (text.empty() || absl::StrContains(absl::AsciiStrToLower(text), "inf") ||
      !absl::ParseDuration(text, &d)) {
    return ConfErr(v, absl::StrCat("error parsing expires: invalid duration \"", text, "\""));
  }
  return d;
}

absl::StatusOr<std::optional<ResponsePermission>> ParseResponses(const ConfValue& v) {
  ResponsePermission rp;
  if (v.is_bool()) {
    if (!v.bool_value()) return std::optional<ResponsePermission>();
    return std::optional<ResponsePermission>(rp);
  }
  if (!v.is_map())
    return ConfErr(v, "error parsing response permissions, expected a boolean or a map");
  for (const auto& [raw_k, mv] : v.entries()) {
    const std::string k = absl::AsciiStrToLower(raw_k);
    if (k == "max" || k == "max_msgs" || k == "max_messages" || k == "max_responses") {
      if (!mv.is_int() || mv.int_value() > (1 << 30) || mv.int_value() < -(1 << 30)) {
        return ConfErr(mv, "allow_responses max must be an integer");
      }
      // 0 means the default; negative means unlimited (nats-server).
      if (mv.int_value() != 0) rp.max_msgs = static_cast<int>(mv.int_value());
    } else if (k == "expires" || k == "expiration" || k == "ttl") {
      auto d = ParseDurationValue(mv);
      if (!d.ok()) return d.status();
      if (*d != absl::ZeroDuration()) rp.expires = *d;
    } else if (!mv.used_as_variable()) {
      return ConfErr(mv, absl::StrCat("Unknown field \"", raw_k, "\" parsing permissions"));
    }
  }
  return std::optional<ResponsePermission>(rp);
}

}  // namespace

bool SubjectIsSubset(absl::string_view sub, absl::string_view pattern) {
  return IsSubset(Split(sub), Split(pattern));
}

bool SubjectsCollide(absl::string_view a, absl::string_view b) {
  return Collide(Split(a), Split(b));
}

absl::StatusOr<Permissions> ParsePermissions(const ConfValue& v) {
  if (!v.is_map())
    return ConfErr(v, absl::StrCat("Expected permissions to be a map/struct, got ", v.kind_name()));
  Permissions p;
  for (const auto& [raw_k, mv] : v.entries()) {
    const std::string k = absl::AsciiStrToLower(raw_k);
    if (k == "pub" || k == "publish" || k == "import") {
      auto sp = ParseSubjectPermission(mv, /*allow_queue=*/false);
      if (!sp.ok()) return sp.status();
      p.publish = std::move(*sp);
    } else if (k == "sub" || k == "subscribe" || k == "export") {
      auto sp = ParseSubjectPermission(mv, /*allow_queue=*/true);
      if (!sp.ok()) return sp.status();
      p.subscribe = std::move(*sp);
    } else if (k == "allow_responses" || k == "publish_allow_responses") {
      auto rp = ParseResponses(mv);
      if (!rp.ok()) return rp.status();
      p.allow_responses = *rp;
    } else if (!mv.used_as_variable()) {
      return ConfErr(mv, absl::StrCat("Unknown field \"", raw_k, "\" parsing permissions"));
    }
  }
  // Responses without a publish allow list: turn off the blanket allow,
  // otherwise allow_responses would mean nothing (opts.go).
  if (p.allow_responses) {
    if (!p.publish) p.publish = SubjectPermission{};
    if (!p.publish->allow) p.publish->allow = std::vector<std::string>{};
  }
  return p;
}

absl::Status ValidatePermissions(const Permissions& p) {
  if (p.publish) {
    if (p.publish->allow) {
      absl::Status s = ValidateList(*p.publish->allow, false);
      if (!s.ok()) return s;
    }
    absl::Status s = ValidateList(p.publish->deny, false);
    if (!s.ok()) return s;
  }
  if (p.subscribe) {
    if (p.subscribe->allow) {
      absl::Status s = ValidateList(*p.subscribe->allow, true);
      if (!s.ok()) return s;
    }
    absl::Status s = ValidateList(p.subscribe->deny, true);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const CompiledPermissions>> CompiledPermissions::Compile(
    const Permissions& p) {
  absl::Status valid = ValidatePermissions(p);
  if (!valid.ok()) return valid;
  std::shared_ptr<CompiledPermissions> c(new CompiledPermissions());
  c->source_ = p;
  c->responses_ = p.allow_responses;
  auto compile = [](const std::vector<std::string>& list, bool allow_queue) {
    std::vector<Entry> out;
    for (const std::string& e : list) {
      std::string subject, queue;
      // Validated above; cannot fail.
      (void)SplitSubjectQueue(e, allow_queue, &subject, &queue);
      Entry entry;
      for (absl::string_view t : absl::StrSplit(subject, '.')) entry.subject.emplace_back(t);
      entry.queue = std::move(queue);
      out.push_back(std::move(entry));
    }
    return out;
  };
  if (p.publish) {
    if (p.publish->allow) c->pub_allow_ = compile(*p.publish->allow, false);
    c->pub_deny_ = compile(p.publish->deny, false);
  }
  if (p.subscribe) {
    if (p.subscribe->allow) c->sub_allow_ = compile(*p.subscribe->allow, true);
    c->sub_deny_ = compile(p.subscribe->deny, true);
  }
  return std::shared_ptr<const CompiledPermissions>(std::move(c));
}

bool CompiledPermissions::CanPublish(absl::string_view subject) const {
  if (publish_unrestricted()) return true;
  const Tokens s = Split(subject);
  if (pub_allow_) {
    bool allowed = false;
    for (const Entry& e : *pub_allow_) {
      if (IsSubset(s, e.subject)) {
        allowed = true;
        break;
      }
    }
    if (!allowed) return false;
  }
  for (const Entry& e : pub_deny_) {
    if (Collide(s, e.subject)) return false;
  }
  return true;
}

SubscribeDecision CompiledPermissions::CanSubscribe(absl::string_view subject,
                                                    absl::string_view queue) const {
  SubscribeDecision d;
  if (subscribe_unrestricted()) {
    d.allowed = true;
    return d;
  }
  const Tokens s = Split(subject);
  bool allowed = true;
  bool queue_allow_collides = false;
  if (sub_allow_) {
    bool plain = false;
    bool any_queue_entry = false;
    bool queue_ok = false;
    for (const Entry& e : *sub_allow_) {
      if (e.queue.empty()) {
        if (!plain && IsSubset(s, e.subject)) plain = true;
        continue;
      }
      if (IsSubset(s, e.subject)) {
        any_queue_entry = true;
        if (!queue.empty() && QueueMatches(queue, e.queue)) queue_ok = true;
      } else if (Collide(s, e.subject)) {
        queue_allow_collides = true;
      }
    }
    allowed = plain;
    if (!queue.empty() && any_queue_entry) allowed = queue_ok;
  }
  bool deny_collides = false;
  if (allowed) {
    for (const Entry& e : sub_deny_) {
      const bool applies = e.queue.empty() || (!queue.empty() && QueueMatches(queue, e.queue));
      if (!applies) continue;
      if (LiteralMatch(e.subject, s)) {
        allowed = false;
        break;
      }
      if (Collide(s, e.subject)) deny_collides = true;
    }
  }
  d.allowed = allowed;
  if (allowed && SubjectHasWildcard(std::string_view(subject.data(), subject.size()))) {
    d.needs_delivery_filter = deny_collides || (!queue.empty() && queue_allow_collides);
  }
  return d;
}

bool CompiledPermissions::DeliveryAllowed(absl::string_view subject,
                                          absl::string_view queue) const {
  return CanSubscribe(subject, queue).allowed;
}

PublishCache::PublishCache(std::shared_ptr<const CompiledPermissions> perms)
    : perms_(std::move(perms)) {}

bool PublishCache::CanPublish(absl::string_view subject) {
  if (perms_ == nullptr || perms_->publish_unrestricted()) return true;
  auto it = cache_.find(std::string(subject));
  if (it != cache_.end()) return it->second;
  const bool allowed = perms_->CanPublish(subject);
  if (cache_.size() >= kMaxEntries) cache_.clear();
  cache_.emplace(std::string(subject), allowed);
  return allowed;
}

ResponsePermissions::ResponsePermissions(ResponsePermission config) : config_(config) {}

bool ResponsePermissions::Expired(const Grant_& g, absl::Time now) const {
  if (config_.max_msgs > 0 && g.used >= config_.max_msgs) return true;
  return config_.expires > absl::ZeroDuration() && now - g.granted > config_.expires;
}

void ResponsePermissions::Grant(absl::string_view reply, absl::Time now) {
  if (reply.empty()) return;
  MutexLock l(&mu_);
  std::string key(reply);
  auto it = grants_.find(key);
  if (it != grants_.end()) {
    // A new request with the same reply subject renews the grant, as
    // nats-server overwrites its replies map entry.
    it->second = Grant_{now, 0};
    return;
  }
  if (grants_.size() >= kMaxGrants) {
    for (auto i = grants_.begin(); i != grants_.end();) {
      i = Expired(i->second, now) ? grants_.erase(i) : std::next(i);
    }
    if (grants_.size() >= kMaxGrants) return;
  }
  grants_.emplace(std::move(key), Grant_{now, 0});
}

bool ResponsePermissions::TryUse(absl::string_view subject, absl::Time now) {
  MutexLock l(&mu_);
  auto it = grants_.find(std::string(subject));
  if (it == grants_.end()) return false;
  if (Expired(it->second, now)) {
    grants_.erase(it);
    return false;
  }
  ++it->second.used;
  if (config_.max_msgs > 0 && it->second.used >= config_.max_msgs) grants_.erase(it);
  return true;
}

void ResponsePermissions::Prune(absl::Time now) {
  MutexLock l(&mu_);
  for (auto i = grants_.begin(); i != grants_.end();) {
    i = Expired(i->second, now) ? grants_.erase(i) : std::next(i);
  }
}

size_t ResponsePermissions::size() const {
  MutexLock l(&mu_);
  return grants_.size();
}

bool IsReservedReply(absl::string_view reply) {
  auto has = [&](absl::string_view prefix) {
    return reply.size() > prefix.size() && reply.substr(0, prefix.size()) == prefix;
  };
  return has("_R_.") || has("$JS.ACK.") || has("_GR_.");
}

std::string PublishViolationText(absl::string_view subject) {
  return absl::StrCat("Permissions Violation for Publish to ", GoQuote(subject));
}

std::string SubscribeViolationText(absl::string_view subject, absl::string_view queue) {
  if (queue.empty())
    return absl::StrCat("Permissions Violation for Subscription to ", GoQuote(subject));
  return absl::StrCat("Permissions Violation for Subscription to ", GoQuote(subject),
                      " using queue ", GoQuote(queue));
}

std::string SubscribeRemovedText(absl::string_view subject, absl::string_view sid) {
  return absl::StrCat("Permissions Violation for Subscription to ", GoQuote(subject), " (sid ",
                      GoQuote(sid), ")");
}

std::string ReplyViolationText(absl::string_view reply) {
  return absl::StrCat("Permissions Violation for Publish with Reply of ", GoQuote(reply));
}

}  // namespace herald::auth
