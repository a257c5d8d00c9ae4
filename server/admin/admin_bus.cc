#include "server/admin/admin_bus.h"

#include <openssl/sha.h>

#include <chrono>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace herald::admin {

namespace {
constexpr char kAllPrefix[] = "$HERALD.ADMIN.ALL.";
constexpr char kNodePrefix[] = "$HERALD.ADMIN.NODE.";
}  // namespace

std::string AdminBus::NodeKey(const std::string& node_name) {
  unsigned char h[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(node_name.data()), node_name.size(), h);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(h), sizeof(h)))
      .substr(0, 16);
}

AdminBus::AdminBus(InternalBus* bus, std::string node_name, NodeHandler handler)
    : bus_(bus),
      node_name_(std::move(node_name)),
      inbox_prefix_(absl::StrCat("_HERALD_ADMIN.", NodeKey(node_name_), ".")),
      handler_(std::move(handler)) {}

AdminBus::~AdminBus() { Stop(); }

absl::Status AdminBus::Start() {
  {
    MutexLock l(&mu_);
    stopped_ = false;
  }
  auto inbox = bus_->Subscribe(inbox_prefix_ + "*", "", [this](BusMessage m) { OnAnswer(m); });
  if (!inbox.ok()) return inbox.status();
  inbox_sub_ = *inbox;
  // $HERALD.ADMIN.ALL.<op>: the op is token 3; NODE.<key>.<op>: token 4.
  auto all = bus_->Subscribe(absl::StrCat(kAllPrefix, "*"), "",
                             [this](BusMessage m) { OnQuestion(m, 3); });
  if (!all.ok()) return all.status();
  all_sub_ = *all;
  auto node = bus_->Subscribe(absl::StrCat(kNodePrefix, NodeKey(node_name_), ".*"), "",
                              [this](BusMessage m) { OnQuestion(m, 4); });
  if (!node.ok()) return node.status();
  node_sub_ = *node;
  return absl::OkStatus();
}

void AdminBus::Stop() {
  for (SubscriptionPtr* s : {&inbox_sub_, &all_sub_, &node_sub_}) {
    if (*s != nullptr) bus_->Unsubscribe(*s);
    s->reset();
  }
  MutexLock l(&mu_);
  stopped_ = true;
  pending_.clear();
  cv_.notify_all();
}

void AdminBus::OnQuestion(const BusMessage& msg, size_t op_token) {
  if (msg.reply.empty()) return;
  size_t pos = 0;
  for (size_t i = 0; i < op_token && pos != std::string::npos; ++i) {
    pos = msg.subject.find('.', pos);
    if (pos != std::string::npos) ++pos;
  }
  if (pos == std::string::npos || pos >= msg.subject.size()) return;
  std::string answer = handler_(msg.subject.substr(pos), msg.data);
  bus_->Publish(msg.reply, "", "", std::move(answer));
}

void AdminBus::OnAnswer(const BusMessage& msg) {
  uint64_t id = 0;
  if (!absl::SimpleAtoi(absl::string_view(msg.subject).substr(inbox_prefix_.size()), &id)) return;
  MutexLock l(&mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // late: the caller gave up
  it->second->answers.push_back(msg.data);
  cv_.notify_all();
}

std::vector<std::string> AdminBus::Collect(const std::string& subject, const std::string& body,
                                           size_t expected, absl::Duration timeout) {
  const uint64_t id = next_id_.fetch_add(1);
  auto p = std::make_shared<Pending>();
  {
    MutexLock l(&mu_);
    if (stopped_) return {};
    pending_[id] = p;
  }
  bus_->Publish(subject, absl::StrCat(inbox_prefix_, id), "", body);
  std::vector<std::string> out;
  {
    std::unique_lock<std::mutex> l(mu_.native());
    cv_.wait_for(l, absl::ToChronoNanoseconds(timeout),
                 [&] { return p->answers.size() >= expected || pending_.count(id) == 0; });
    out = std::move(p->answers);
    pending_.erase(id);
  }
  return out;
}

absl::StatusOr<std::string> AdminBus::Request(const std::string& subject, const std::string& body,
                                              absl::Duration timeout) {
  std::vector<std::string> a = Collect(subject, body, 1, timeout);
  if (a.empty()) {
    return absl::DeadlineExceededError(
        absl::StrCat("no answer on ", subject, " within ", absl::FormatDuration(timeout)));
  }
  return std::move(a.front());
}

std::vector<std::string> AdminBus::Gather(const std::string& op, const std::string& body,
                                          size_t expected, absl::Duration timeout) {
  return Collect(absl::StrCat(kAllPrefix, op), body, expected, timeout);
}

absl::StatusOr<std::string> AdminBus::Ask(const std::string& node, const std::string& op,
                                          const std::string& body, absl::Duration timeout) {
  std::vector<std::string> a =
      Collect(absl::StrCat(kNodePrefix, NodeKey(node), ".", op), body, 1, timeout);
  if (a.empty()) {
    return absl::UnavailableError(
        absl::StrCat("node ", node, " did not answer within ", absl::FormatDuration(timeout)));
  }
  return std::move(a.front());
}

}  // namespace herald::admin
