#include "server/core/client_connection.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "server/auth/nkeys.h"
#include "server/auth/permissions.h"
#include "server/cluster/cluster_manager.h"
#include "server/cluster/route_connection.h"
#include "server/core/io_thread.h"
#include "server/core/server.h"
#include "server/core/tls.h"
#include "server/protocol/subject.h"

namespace herald {
namespace {

// nats-server sends its first PING this long after connect (RTT measurement).
constexpr absl::Duration kFirstPingDelay = absl::Seconds(2);
// Longest a publisher is paused for one stalled receiver (nats-server 2.9
// bounds its stall the same way); after that the receiver's max_pending
// decides.

// The no-responders status message (docs/protocol.md §6): header only.
constexpr std::string_view kNoRespondersHeader = "NATS/1.0 503\r\n\r\n";

std::string JsonString(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

bool JsonBool(const nlohmann::json& j, const char* key, bool dflt) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_boolean()) return dflt;
  return it->get<bool>();
}

}  // namespace

ClientConnection::ClientConnection(Server* server, IoThread* thread, asio::ip::tcp::socket socket,
                                   uint64_t cid, std::shared_ptr<const ServerOptions> options,
                                   bool over_limit, std::shared_ptr<asio::ssl::context> tls)
    : Connection(server, thread, std::move(socket), cid, 512, 64 * 1024),
      options_(std::move(options)),
      parser_(LimitsFrom(*options_)),
      over_limit_(over_limit),
      start_(absl::Now()) {
  set_max_pending(options_->max_pending);
  tls_context_ = std::move(tls);
  asio::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  MutexLock lock(&info_mu_);
  if (!ec) {
    ip_ = ep.address().to_string();
    port_ = ep.port();
  }
}

ParserLimits ClientConnection::LimitsFrom(const ServerOptions& o) const {
  ParserLimits l;
  l.max_control_line = static_cast<size_t>(o.max_control_line);
  l.max_payload = o.max_payload;
  return l;
}

void ClientConnection::Start() {
  // Not in the constructor: the server constructs connections under its lock.
  std::shared_ptr<const auth::Authenticator> authn = server_->authenticator();
  auth_required_ = authn != nullptr && authn->auth_required();
  if (authn != nullptr && authn->needs_nonce()) nonce_ = auth::GenerateNonce();
  last_in_ = start_;
  next_ping_ = start_ + std::min(kFirstPingDelay, options_->ping_interval);
  last_activity_ns_.store(absl::ToUnixNanos(start_), std::memory_order_relaxed);
  asio::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  std::string ip;
  {
    MutexLock lock(&info_mu_);
    ip = ip_;
  }
  EnqueueRaw(server_->ClientInfoLine(cid_, ip, /*lame_duck=*/false, nonce_));
  if (over_limit_) {
    SendErrAndClose("maximum connections exceeded", CloseReason::kMaxConnections);
    return;
  }
  if (tls_context_ != nullptr) {
    StartTlsHandshake();
    return;
  }
  StartWrite();
  DoRead();
}

void ClientConnection::StartTlsHandshake() {
  // NATS TLS: the INFO (saying tls_required) goes out in plaintext, then the
  // client starts the TLS handshake; everything after is encrypted.
  std::string info;
  {
    MutexLock lock(&out_mu_);
    info.swap(out_pending_);
  }
  auto self = std::static_pointer_cast<ClientConnection>(shared_from_this());
  auto info_buf = std::make_shared<std::string>(std::move(info));
  asio::async_write(
      socket_, asio::buffer(*info_buf), [self, info_buf](const asio::error_code& ec, size_t) {
        if (self->closed()) return;
        if (ec) {
          self->Close(CloseReason::kWriteError);
          return;
        }
        self->tls_ = std::make_unique<TlsStream>(self->socket_, *self->tls_context_);
        self->tls_->async_handshake(
            asio::ssl::stream_base::server, [self](const asio::error_code& e) {
              if (self->closed()) return;
              if (e) {
                std::string ip;
                {
                  MutexLock lock(&self->info_mu_);
                  ip = self->ip_;
                }
                spdlog::info("{} - cid:{} - TLS handshake error: {}", ip, self->cid_, e.message());
                self->Close(CloseReason::kTlsHandshakeError);
                return;
              }
              self->tls_ready_ = true;
              self->cert_identities_ = PeerCertificateIdentities(self->tls_->native_handle());
              self->StartWrite();
              self->DoRead();
            });
      });
}

CloseReason ClientConnection::ReadErrorReason(const asio::error_code& ec) const {
  return ec == asio::error::eof || ec == asio::error::connection_reset ? CloseReason::kClientClosed
                                                                       : CloseReason::kReadError;
}

void ClientConnection::OnSlowConsumer() { server_->CountSlowConsumer(); }

bool ClientConnection::OnInput() {
  // As nats-server: while authentication is required and no CONNECT has
  // come, an op that does not start with 'C' is an Authorization Violation
  // from its first byte, before its line is complete (docs/protocol.md §2).
  if (!connect_received_ && auth_required_ && !auth_check_running_ && read_buf_.size() > 0 &&
      read_buf_.data()[0] != 'C' && read_buf_.data()[0] != 'c') {
    CheckAuthorized();
    return false;
  }
  ParseOutcome out = parser_.Parse(read_buf_.data(), read_buf_.size(), this);
  if (out.error != ParseError::kNone) {
    // Ops before the error were handled; their output is flushed, then it fails.
    HandleParseError(out.error);
    return false;
  }
  read_buf_.Consumed(out.consumed, out.bytes_needed);
  return !out.stopped;
}

void ClientConnection::HandleParseError(ParseError error) {
  switch (error) {
    case ParseError::kNone:
      return;
    case ParseError::kUnknownOperation:
      spdlog::info("cid:{} - Client parser ERROR, closing: Unknown Protocol Operation", cid_);
      SendErrAndClose("Unknown Protocol Operation", CloseReason::kParseError);
      return;
    case ParseError::kMaxControlLine:
      SendErrAndClose("maximum control line exceeded", CloseReason::kMaxControlLine);
      return;
    case ParseError::kMaxPayload:
      SendErrAndClose("Maximum Payload Violation", CloseReason::kMaxPayload);
      return;
    case ParseError::kBadArguments:
      spdlog::info("cid:{} - Client parser ERROR, closing: bad arguments", cid_);
      Close(CloseReason::kProtocolViolation);
      return;
  }
}

bool ClientConnection::CheckAuthorized() {
  if (connect_received_ || !auth_required_) return true;
  server_->CountAuthFailure();
  SendErrAndClose("Authorization Violation", CloseReason::kAuthViolation);
  return false;
}

void ClientConnection::SendOk() {
  if (verbose_) {
    EnqueueRaw("+OK\r\n");
    thread_->MarkForFlush(this);
  }
}

bool ClientConnection::OnConnect(std::string_view json_text) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    // nats-server closes without an -ERR on malformed CONNECT JSON.
    spdlog::info("cid:{} - malformed CONNECT, closing", cid_);
    Close(CloseReason::kProtocolViolation);
    return false;
  }
  verbose_ = JsonBool(j, "verbose", false);
  pedantic_ = JsonBool(j, "pedantic", false);
  echo_ = JsonBool(j, "echo", true);
  const bool headers = JsonBool(j, "headers", false);
  headers_.store(headers, std::memory_order_relaxed);
  no_responders_ = JsonBool(j, "no_responders", false);
  if (auto it = j.find("protocol"); it != j.end() && it->is_number_integer()) {
    protocol_ = it->get<int>();
  }
  {
    MutexLock lock(&info_mu_);
    name_ = JsonString(j, "name");
    lang_ = JsonString(j, "lang");
    version_ = JsonString(j, "version");
  }
  if (no_responders_ && !headers) {
    SendErrAndClose("no responders requires headers support",
                    CloseReason::kNoRespondersRequiresHeaders);
    return false;
  }
  if (!connect_received_) {
    // As nats-server: the first PING comes a while after CONNECT, not after
    // the TCP accept (a client slow to send CONNECT still sees PONG first).
    next_ping_ = absl::Now() + std::min(kFirstPingDelay, options_->ping_interval);
    absl::StatusOr<auth::ConnectCredentials> creds =
        auth::CredentialsFromConnectJson(absl::string_view(json_text.data(), json_text.size()));
    if (!creds.ok()) {
      spdlog::info("cid:{} - malformed CONNECT credentials, closing", cid_);
      Close(CloseReason::kProtocolViolation);
      return false;
    }
    creds->tls_identities = cert_identities_;
    std::shared_ptr<const auth::Authenticator> authn = server_->authenticator();
    std::shared_ptr<const auth::RevocationList> revoked = server_->revoked();
    const absl::Time now = absl::Now();
    if (authn->slow()) {
      // bcrypt in use: check on the auth pool, not on this I/O thread, whose
      // other clients would wait for it. Reading stops (we return false)
      // until the answer is back; what the client sent after CONNECT waits in
      // the read buffer.
      auto self = std::static_pointer_cast<ClientConnection>(shared_from_this());
      auth_check_running_ = true;
      server_->RunAuthWork([self, authn, revoked, creds = *std::move(creds), nonce = nonce_,
                            now]() {
        absl::StatusOr<auth::Identity> id = authn->Authenticate(creds, nonce, now, revoked.get());
        asio::post(self->thread_->io(), [self, authn, id = std::move(id)]() mutable {
          self->auth_check_running_ = false;
          if (self->closed()) return;
          if (!self->FinishAuthentication(std::move(id), *authn)) return;
          self->thread_->FlushMarked();
          self->OnRead(asio::error_code(), 0);  // what arrived meanwhile, then read on
        });
      });
      return false;
    }
    absl::StatusOr<auth::Identity> id = authn->Authenticate(*creds, nonce_, now, revoked.get());
    return FinishAuthentication(std::move(id), *authn);
  }
  connect_received_ = true;
  SendOk();
  return true;
}

bool ClientConnection::FinishAuthentication(absl::StatusOr<auth::Identity> id,
                                            const auth::Authenticator& authn) {
  std::string ip;
  int port;
  {
    MutexLock lock(&info_mu_);
    ip = ip_;
    port = port_;
  }
  if (!id.ok()) {
    FailAuthentication(ip, port, std::string(id.status().message()));
    return false;
  }
  server_->auth_throttle().OnSuccess(ip);
  identity_ = *std::move(id);
  perms_ = std::make_unique<auth::ConnectionPermissions>(identity_.permissions);
  responses_on_.store(
      identity_.permissions != nullptr && identity_.permissions->allow_responses().has_value(),
      std::memory_order_relaxed);
  if (identity_.kind != auth::AuthKind::kNone) {
    spdlog::debug("{}:{} - cid:{} - authenticated as {}", ip, port, cid_, identity_.Describe());
  }
  {
    MutexLock lock(&info_mu_);
    authorized_user_ = identity_.name;
  }
  connect_received_ = true;
  SendOk();
  return true;
}

void ClientConnection::FailAuthentication(const std::string& ip, int port,
                                          const std::string& reason) {
  server_->CountAuthFailure();
  spdlog::warn("{}:{} - cid:{} - authentication error: {}", ip, port, cid_, reason);
  // Answer after a delay that grows with repeated failures from the same
  // address, so guessing is slow; reading stops meanwhile. The I/O thread
  // is not blocked: a timer fires the answer.
  auth_failed_ = true;
  const absl::Duration delay = server_->auth_throttle().OnFailure(ip, absl::Now());
  auth_fail_timer_ = std::make_unique<asio::steady_timer>(thread_->io());
  auth_fail_timer_->expires_after(absl::ToChronoMicroseconds(delay));
  auth_fail_timer_->async_wait([self = std::static_pointer_cast<ClientConnection>(
                                    shared_from_this())](const asio::error_code& ec) {
    if (ec || self->closed()) return;
    self->SendErrAndClose(auth::kAuthorizationViolation, CloseReason::kAuthViolation);
  });
}

bool ClientConnection::OnPub(std::string_view subject, std::string_view reply,
                             std::string_view payload) {
  if (!CheckAuthorized()) return false;
  Publish(subject, reply, payload, 0);
  return !closed();
}

bool ClientConnection::OnHPub(std::string_view subject, std::string_view reply, size_t header_len,
                              std::string_view message) {
  if (!CheckAuthorized()) return false;
  if (!headers_.load(std::memory_order_relaxed)) {
    // A client that did not announce header support may not send HPUB.
    SendErrAndClose("Unknown Protocol Operation", CloseReason::kParseError);
    return false;
  }
  Publish(subject, reply, message, header_len);
  return !closed();
}

void ClientConnection::Publish(std::string_view subject, std::string_view reply,
                               std::string_view message, size_t header_len) {
  CountIn(message.size());
  thread_->stats().AddIn(static_cast<int64_t>(message.size()));
  if (pedantic_ && !IsValidLiteralSubject(subject)) {
    EnqueueRaw("-ERR 'Invalid Publish Subject'\r\n");
    thread_->MarkForFlush(this);
    return;
  }
  if (perms_ != nullptr) {
    std::optional<std::string> denied =
        perms_->CheckPublish(absl::string_view(subject.data(), subject.size()),
                             absl::string_view(reply.data(), reply.size()), absl::Now());
    if (denied.has_value()) {
      server_->CountPermissionViolation();
      EnqueueRaw("-ERR '", *denied, "'\r\n");
      thread_->MarkForFlush(this);
      return;
    }
  }
  SendOk();
  if (IsHeraldInternalSubject(subject)) {
    // Server-to-server traffic (the JetStream API forwarded between nodes,
    // the admin bus): never a client's, whatever its permissions allow.
    // Dropped as if no one listened.
    if (no_responders_ && !reply.empty()) SendNoResponders(reply);
    return;
  }
  // A reference, not a copy (a copy's reference count costs ~10 % of a
  // core publish): nothing matches again on this thread while delivering
  // (in-process receivers publish through the bus, which posts).
  const SublistResultPtr& result = thread_->match_cache().Match(subject);
  const bool delivered = DeliverToMatches(thread_, *result, subject, reply, message, header_len,
                                          echo_ ? nullptr : this, route_targets_);
  if (!delivered && no_responders_ && !reply.empty()) SendNoResponders(reply);
}

void ClientConnection::SendNoResponders(std::string_view reply) {
  // Copy: the cache entry may be replaced by this lookup's own insertion.
  SublistResultPtr result = thread_->match_cache().Match(reply);
  for (const SubscriptionPtr& sub : result->plain) {
    if (sub->conn.get() != this) continue;
    Deliver(thread_, *sub, reply, "", kNoRespondersHeader, kNoRespondersHeader.size());
    return;
  }
  for (const QueueGroupMatch& group : result->queues) {
    for (const SubscriptionPtr& sub : group.members) {
      if (sub->conn.get() != this) continue;
      Deliver(thread_, *sub, reply, "", kNoRespondersHeader, kNoRespondersHeader.size());
      return;
    }
  }
}

bool ClientConnection::Deliver(IoThread* from, Subscription& sub, std::string_view subject,
                               std::string_view reply, std::string_view message,
                               size_t header_len) {
  if (closed() || sub.closed.load(std::memory_order_relaxed)) return false;
  // Server-to-server traffic is not shown to clients (a `>` subscriber
  // would see other clients' forwarded API requests).
  if (IsHeraldInternalSubject(subject)) return false;
  // No escape through wildcards or queue groups: a message on a subject this
  // client may not subscribe to is never delivered to it.
  if (sub.filtered.load(std::memory_order_relaxed) &&
      !perms_->DeliveryAllowed(absl::string_view(subject.data(), subject.size()),
                               absl::string_view(sub.queue))) {
    return false;
  }
  if (!reply.empty() && responses_on_.load(std::memory_order_relaxed)) {
    perms_->OnDelivered(absl::string_view(reply.data(), reply.size()), absl::Now());
  }
  const uint64_t max = sub.max.load(std::memory_order_relaxed);
  const uint64_t n = sub.delivered.fetch_add(1, std::memory_order_relaxed) + 1;
  if (max != 0 && n > max) return false;
  // The last allowed message: the subscription is removed on its owner
  // thread, but only after this message is queued (the removal marks it
  // closed, which would otherwise drop the message itself).
  const bool last_allowed = max != 0 && n == max;
  const bool headers = headers_.load(std::memory_order_relaxed);
  if (header_len > 0 && !headers) {
    // Never send HMSG to a client that did not ask for headers: strip them.
    message.remove_prefix(header_len);
    header_len = 0;
  }
  // "MSG <subject> <sid> [reply] <len>" or
  // "HMSG <subject> <sid> [reply] <hdr_len> <total_len>", then the message.
  const size_t needed = 5 + subject.size() + 1 + sub.sid.size() + 1 +
                        (reply.empty() ? 0 : reply.size() + 1) + kFrameTailOverhead +
                        message.size();
  // `closed` is checked under out_mu_: RemoveSubscription sets it under the
  // same lock, so once the owner has processed an UNSUB, no message for it
  // can be queued behind the PONG that follows (clients rely on that).
  const AppendResult r = AppendOut(needed, &sub.closed, [&](std::string& o) {
    if (header_len > 0) {
      o.append("HMSG ", 5);
    } else {
      o.append("MSG ", 4);
    }
    o.append(subject);
    o.push_back(' ');
    o.append(sub.sid);
    o.push_back(' ');
    if (!reply.empty()) {
      o.append(reply);
      o.push_back(' ');
    }
    AppendFrameTail(o, header_len, message);
  });
  if (r != AppendResult::kQueued) return false;
  if (last_allowed) {
    asio::post(thread_->io(),
               [self = std::static_pointer_cast<ClientConnection>(shared_from_this()),
                sid = sub.sid, ptr = &sub] { self->RemoveSubscriptionIfSame(sid, ptr); });
  }
  CountOut(from, message.size());
  if (OverStallThreshold()) from->NoteStalled(this);
  return true;
}

bool ClientConnection::OnSub(std::string_view subject, std::string_view queue,
                             std::string_view sid) {
  if (!CheckAuthorized()) return false;
  if (!IsValidSubject(subject) || (!queue.empty() && !IsValidQueueName(queue))) {
    EnqueueRaw("-ERR 'Invalid Subject'\r\n");
    thread_->MarkForFlush(this);
    return true;
  }
  if (queue.substr(0, 8) == "_herald_") {
    // The server's own queue groups (the JetStream API's members on every
    // node): a client joining one would take requests meant for the server.
    server_->CountPermissionViolation();
    std::string err = "-ERR 'Permissions Violation for Subscription to \"";
    err.append(subject).append("\" using queue \"").append(queue).append("\"'\r\n");
    EnqueueRaw(err);
    thread_->MarkForFlush(this);
    return true;
  }
  bool filtered = false;
  if (perms_ != nullptr) {
    std::optional<std::string> denied =
        perms_->CheckSubscribe(absl::string_view(subject.data(), subject.size()),
                               absl::string_view(queue.data(), queue.size()), &filtered);
    if (denied.has_value()) {
      server_->CountPermissionViolation();
      EnqueueRaw("-ERR '", *denied, "'\r\n");
      thread_->MarkForFlush(this);
      return true;
    }
  }
  std::string sid_str(sid);
  {
    MutexLock lock(&info_mu_);
    if (subs_.contains(sid_str)) {
      // Re-using a sid is ignored: the first subscription stays.
      SendOk();
      return true;
    }
  }
  auto sub = std::make_shared<Subscription>();
  sub->conn = shared_from_this();
  sub->subject = std::string(subject);
  sub->queue = std::string(queue);
  sub->sid = sid_str;
  sub->filtered.store(filtered, std::memory_order_relaxed);
  if (!server_->sublist().Insert(sub).ok()) {
    EnqueueRaw("-ERR 'Invalid Subject'\r\n");
    thread_->MarkForFlush(this);
    return true;
  }
  server_->cluster().OnLocalSubscription(*sub, /*added=*/true);
  {
    MutexLock lock(&info_mu_);
    subs_.emplace(std::move(sid_str), std::move(sub));
  }
  SendOk();
  return true;
}

bool ClientConnection::OnUnsub(std::string_view sid, uint64_t max) {
  if (!CheckAuthorized()) return false;
  std::string sid_str(sid);
  SubscriptionPtr sub;
  {
    MutexLock lock(&info_mu_);
    auto it = subs_.find(sid_str);
    if (it != subs_.end()) sub = it->second;
  }
  if (sub != nullptr) {
    if (max > 0) sub->max.store(max, std::memory_order_relaxed);
    if (max == 0 || sub->delivered.load(std::memory_order_relaxed) >= max) {
      RemoveSubscription(sid_str);
    }
  }
  SendOk();
  return true;
}

void ClientConnection::RemoveSubscription(const std::string& sid) {
  SubscriptionPtr sub;
  {
    MutexLock lock(&info_mu_);
    auto it = subs_.find(sid);
    if (it == subs_.end()) return;
    sub = std::move(it->second);
    subs_.erase(it);
  }
  {
    MutexLock lock(&out_mu_);
    sub->closed.store(true, std::memory_order_relaxed);
  }
  if (server_->sublist().Remove(sub)) server_->cluster().OnLocalSubscription(*sub, false);
}

void ClientConnection::RemoveSubscriptionIfSame(const std::string& sid, const Subscription* ptr) {
  {
    MutexLock lock(&info_mu_);
    auto it = subs_.find(sid);
    if (it == subs_.end() || it->second.get() != ptr) return;
  }
  RemoveSubscription(sid);
}

bool ClientConnection::OnPing() {
  if (!CheckAuthorized()) return false;
  EnqueueRaw("PONG\r\n");
  if (!first_pong_sent_ && connect_received_) {
    first_pong_sent_ = true;
    // What changed since the connection's INFO (connect_urls, lame duck).
    if (protocol_ >= 1 && !pending_async_info_.empty()) EnqueueRaw(pending_async_info_);
    pending_async_info_.clear();
  }
  thread_->MarkForFlush(this);
  return true;
}

bool ClientConnection::OnPong() {
  if (!CheckAuthorized()) return false;
  if (pings_out_ > 0 && ping_sent_ != absl::Time()) {
    rtt_ns_.store(absl::ToInt64Nanoseconds(absl::Now() - ping_sent_), std::memory_order_relaxed);
  }
  pings_out_ = 0;
  rtt_known_ = true;
  return true;
}

void ClientConnection::OnSweep(absl::Time now) {
  if (close_after_flush_) {
    // Bounded: a client that does not read its -ERR is dropped anyway.
    if (close_requested_ == absl::Time()) close_requested_ = now;
    if (now - close_requested_ > options_->write_deadline) Close(close_after_flush_reason_);
    return;
  }
  if (writing_ && now - write_started_ > options_->write_deadline) {
    spdlog::warn("cid:{} - Slow Consumer Detected: WriteDeadline of {} exceeded", cid_,
                 absl::FormatDuration(options_->write_deadline));
    if (!slow_consumer_.exchange(true)) server_->CountSlowConsumer();
    Close(CloseReason::kSlowConsumerWriteDeadline);
    return;
  }
  if (tls_context_ != nullptr && !tls_ready_ && now - start_ > options_->tls.timeout) {
    spdlog::info("cid:{} - TLS handshake timeout", cid_);
    Close(CloseReason::kTlsHandshakeError);
    return;
  }
  if (auth_failed_) return;  // the delayed -ERR is on its way
  // A live connection ends at its token's exp. The skew only forgives clock
  // differences when the token is checked (at connect and on reload): a
  // connection is never kept on an expired credential.
  if (identity_.expires_at != absl::InfiniteFuture() && identity_.expires_at <= now) {
    spdlog::info("cid:{} - {} expired, closing", cid_, identity_.Describe());
    SendErrAndClose("User Authentication Expired", CloseReason::kAuthRevoked);
    return;
  }
  // The timeout is for sending CONNECT (as nats-server): a slow credential
  // check that has started (bcrypt on the auth pool) is not cut short.
  if (!connect_received_ && !auth_check_running_ && auth_required_ &&
      now - start_ > options_->auth.timeout) {
    server_->CountAuthFailure();
    SendErrAndClose("Authentication Timeout", CloseReason::kAuthTimeout);
    return;
  }
  if (now >= next_ping_ && !auth_check_running_) {
    next_ping_ = now + options_->ping_interval;
    // As nats-server: skip the ping when the client was heard from within the
    // interval, unless no PONG has come back yet (the RTT is still unknown).
    if (rtt_known_ && now - last_in_ < options_->ping_interval) return;
    if (pings_out_ + 1 > options_->ping_max) {
      SendErrAndClose("Stale Connection", CloseReason::kStaleConnection);
      return;
    }
    ++pings_out_;
    ping_sent_ = now;
    EnqueueRaw("PING\r\n");
    thread_->MarkForFlush(this);
  }
}

void ClientConnection::ApplyOptions(std::shared_ptr<const ServerOptions> options) {
  options_ = std::move(options);
  parser_.set_limits(LimitsFrom(*options_));
  set_max_pending(options_->max_pending);
}

void ClientConnection::Revalidate(std::shared_ptr<const auth::Authenticator> authn,
                                  std::shared_ptr<const auth::RevocationList> revoked) {
  if (closed() || auth_failed_) return;
  if (!connect_received_) {
    auth_required_ = authn->auth_required();
    return;
  }
  absl::StatusOr<std::shared_ptr<const auth::CompiledPermissions>> perms =
      authn->Revalidate(identity_, absl::Now(), revoked.get());
  if (!perms.ok()) {
    spdlog::info("cid:{} - {} no longer valid ({}), closing", cid_, identity_.Describe(),
                 std::string(perms.status().message()));
    SendErrAndClose(auth::ClientErrorFor(perms.status()), CloseReason::kAuthRevoked);
    thread_->FlushMarked();
    return;
  }
  identity_.permissions = *perms;
  if (perms_ == nullptr) {
    perms_ = std::make_unique<auth::ConnectionPermissions>(*perms);
  } else {
    perms_->Update(*perms);
  }
  responses_on_.store(*perms != nullptr && (*perms)->allow_responses().has_value(),
                      std::memory_order_relaxed);
  // Subscriptions the new permissions no longer allow are removed, with the
  // -ERR nats-server sends for each.
  std::vector<std::pair<std::string, SubscriptionPtr>> subs;
  {
    MutexLock lock(&info_mu_);
    for (const auto& [sid, sub] : subs_) subs.emplace_back(sid, sub);
  }
  for (const auto& [sid, sub] : subs) {
    bool filtered = false;
    if (perms_->CheckSubscribe(sub->subject, sub->queue, &filtered).has_value()) {
      RemoveSubscription(sid);
      EnqueueRaw("-ERR '", auth::SubscribeRemovedText(sub->subject, sid), "'\r\n");
      thread_->MarkForFlush(this);
    } else {
      sub->filtered.store(filtered, std::memory_order_relaxed);
    }
  }
  thread_->FlushMarked();
}

void ClientConnection::SendAsyncInfo(const std::string& info_line) {
  if (closed()) return;
  if (!first_pong_sent_) {
    // As nats-server: nothing before the first PONG (clients read it as the
    // answer to their connect-time PING); the newest INFO follows that PONG.
    pending_async_info_ = info_line;
    return;
  }
  if (protocol_ < 1) return;
  EnqueueRaw(info_line);
  StartWrite();
}

void ClientConnection::FlushAndClose(CloseReason reason) {
  if (closed()) return;
  close_after_flush_ = true;
  close_after_flush_reason_ = reason;
  if (!writing_) StartWrite();
}

void ClientConnection::Close(CloseReason reason) {
  auto self = shared_from_this();
  if (!MarkClosedAndShutdownSocket()) return;
  absl::flat_hash_map<std::string, SubscriptionPtr> subs;
  {
    MutexLock lock(&info_mu_);
    subs.swap(subs_);
  }
  for (auto& [sid, sub] : subs) {
    sub->closed.store(true, std::memory_order_relaxed);
    if (server_->sublist().Remove(sub)) server_->cluster().OnLocalSubscription(*sub, false);
  }
  subs.clear();
  server_->OnClientClosed(this, reason);
  thread_->RemoveConnection(this);
}

int64_t ClientConnection::num_subs() const {
  MutexLock lock(&info_mu_);
  return static_cast<int64_t>(subs_.size());
}

ConnzEntry ClientConnection::Snapshot(bool include_subs) const {
  ConnzEntry e;
  e.cid = cid_;
  e.start = start_;
  e.last_activity = absl::FromUnixNanos(last_activity_ns_.load(std::memory_order_relaxed));
  e.pending_bytes = pending_bytes();
  e.in_msgs = in_msgs_.load(std::memory_order_relaxed);
  e.in_bytes = in_bytes_.load(std::memory_order_relaxed);
  e.out_msgs = out_msgs_.load(std::memory_order_relaxed);
  e.out_bytes = out_bytes_.load(std::memory_order_relaxed);
  e.rtt = absl::Nanoseconds(rtt_ns_.load(std::memory_order_relaxed));
  e.account = "$G";
  MutexLock lock(&info_mu_);
  e.ip = ip_;
  e.port = port_;
  e.name = name_;
  e.lang = lang_;
  e.version = version_;
  e.authorized_user = authorized_user_;
  e.num_subs = static_cast<int64_t>(subs_.size());
  if (include_subs) {
    for (const auto& [sid, sub] : subs_) {
      e.subscriptions.push_back(sub->subject);
      SubDetail d;
      d.account = "$G";
      d.subject = sub->subject;
      d.queue = sub->queue;
      d.sid = sid;
      d.msgs = static_cast<int64_t>(sub->delivered.load(std::memory_order_relaxed));
      d.max = static_cast<int64_t>(sub->max.load(std::memory_order_relaxed));
      d.cid = cid_;
      e.subscriptions_detail.push_back(std::move(d));
    }
  }
  return e;
}

}  // namespace herald
