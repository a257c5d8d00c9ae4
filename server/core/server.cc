#include "server/core/server.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/admin/admin_service.h"
#include "server/core/client_connection.h"
#include "server/core/io_thread.h"
#include "server/core/security_setup.h"
#include "server/core/startup_check.h"
#include "server/core/tls.h"
#include "server/core/version.h"
#include "server/monitor/http_monitor.h"
#include "server/protocol/subject.h"

namespace herald {
namespace {

// How long a graceful shutdown waits for connections to flush and close.
constexpr int kShutdownDrainPolls = 40;
constexpr auto kShutdownDrainPoll = std::chrono::milliseconds(50);
// nats-server keeps 10,000 closed connections; a smaller ring is plenty here.
constexpr size_t kMaxClosedConnections = 1000;

// Where monitoring listens: its own host if one was given, else the clients'
// (ResolveOptions fills it in; options built in code may leave it empty).
const std::string& MonitorHost(const ServerOptions& o) {
  return o.http_host.empty() ? o.host : o.http_host;
}

// Holds a TCP port bound (not listening) until destroyed, so that the
// kernel cannot hand it to a bind to port 0 meanwhile. A port that cannot be
// bound is not held: its real listener reports why later.
class PortHold {
 public:
  PortHold(const std::string& host, int port) {
    if (port <= 0) return;
    asio::error_code ec;
    const asio::ip::address addr =
        asio::ip::make_address(host.empty() ? std::string("0.0.0.0") : host, ec);
    if (ec) return;
    const asio::ip::tcp::endpoint ep(addr, static_cast<unsigned short>(port));
    fd_ = ::socket(ep.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ >= 0 && ::bind(fd_, ep.data(), static_cast<socklen_t>(ep.size())) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~PortHold() {
    if (fd_ >= 0) ::close(fd_);
  }
  PortHold(const PortHold&) = delete;
  PortHold& operator=(const PortHold&) = delete;

 private:
  int fd_ = -1;
};

int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

std::string GenerateServerId() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
  std::string id = "N";
  for (int i = 0; i < 55; ++i) id.push_back(kAlphabet[rng() % 32]);
  return id;
}

namespace {

// The admin API's view of the server (admin_service.h).
class ServerAdminHost final : public admin::AdminHost {
 public:
  explicit ServerAdminHost(Server* server) : server_(server) {}
  std::string NodeName() const override { return server_->options()->server_name; }
  nlohmann::json LocalStatus() const override { return server_->AdminLocalStatus(); }
  nlohmann::json LocalConnections(const nlohmann::json& filter) const override {
    return server_->AdminConnections(filter);
  }
  absl::Status CloseConnection(uint64_t cid) override { return server_->CloseClient(cid); }
  absl::Status ReloadConfig() override { return server_->ReloadFromAdmin(); }
  std::string NotReadyReason() const override {
    if (!server_->Healthy()) return "shutting down";
    return server_->JetStreamUnhealthy(false, false);
  }
  std::vector<std::string> OnlineNodeNames() const override {
    if (server_->jetstream() != nullptr) return server_->jetstream()->OnlineNodeNames();
    std::vector<std::string> out = {NodeName()};
    for (const auto& p : server_->cluster().RaftPeers()) {
      if (!p.server_name.empty() && std::find(out.begin(), out.end(), p.server_name) == out.end()) {
        out.push_back(p.server_name);
      }
    }
    return out;
  }
  js::JetStream* jetstream() const override { return server_->jetstream(); }
  std::string StoreDir() const override {
    js::JetStream* js = server_->jetstream();
    return js == nullptr ? "" : js->store_dir();
  }
  void EnterLameDuck() override { server_->RequestLameDuck(); }
  bool oidc_enabled() const override { return server_->authenticator()->config().oidc.enabled(); }
  absl::StatusOr<OidcCaller> VerifyOidcRoles(absl::string_view token) const override {
    if (!auth::LooksLikeJwt(token)) return absl::UnauthenticatedError("not an OIDC token");
    auto revoked = server_->revoked();
    absl::StatusOr<auth::Identity> id =
        server_->authenticator()->VerifyOidcIdentity(token, absl::Now(), revoked.get());
    if (!id.ok()) return id.status();
    return OidcCaller{id->name, id->role_values};
  }

 private:
  Server* const server_;
};

uint64_t DirectoryBytes(const std::string& dir) {
  if (dir.empty()) return 0;
  std::error_code ec;
  uint64_t total = 0;
  int budget = 100000;  // bounded: a store holds hundreds of files, not more
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator() && budget-- > 0;
       it.increment(ec)) {
    std::error_code fe;
    if (it->is_regular_file(fe)) total += it->file_size(fe);
  }
  return total;
}

}  // namespace

Server::Server(CommandLine command_line, ServerOptions options)
    : command_line_(std::move(command_line)),
      server_id_(GenerateServerId()),
      start_time_(absl::Now()),
      signals_(control_io_),
      acceptor_(control_io_),
      control_timer_(control_io_) {
  if (options.server_name.empty()) options.server_name = server_id_;
  cluster_ = std::make_unique<ClusterManager>(this, &control_io_, server_id_, options.server_name);
  auto opts = std::make_shared<const ServerOptions>(std::move(options));
  MutexLock lock(&mu_);
  info_prefix_ = BuildInfoPrefix(*opts);
  options_ = std::move(opts);
  config_load_time_ = start_time_;
}

Server::~Server() {
  // A pending accept holds a socket of an I/O thread's io_context: let it
  // complete (aborted) before those contexts go away.
  asio::error_code ec;
  if (admin_) admin_->Stop();
  if (revocation_watcher_) revocation_watcher_->Stop();
  if (jetstream_) jetstream_->Stop();
  cluster_->Stop();
  acceptor_.close(ec);
  signals_.cancel(ec);
  control_timer_.cancel();
  control_io_.restart();
  control_io_.poll();
  // Checks still running post their answers to the I/O threads: finish them
  // while those exist (the answers are dropped with the contexts).
  auth_pool_.stop();
  auth_pool_.join();
  for (auto& t : threads_) t->Stop();
  for (auto& t : threads_) t->Join();
  {
    MutexLock lock(&mu_);
    clients_.clear();
  }
  // A route whose close was still queued when its thread stopped is still
  // in the cluster manager, which outlives the threads: its socket must go
  // before its thread's io_context does (a SIGSEGV at exit otherwise).
  cluster_->ReleaseRoutes();
  // Handlers still queued on the I/O threads' contexts are destroyed with
  // them and may hold the last reference to a connection (a route's, a
  // client's) whose destructor reaches the cluster manager, the bus or the
  // sublist: destroy the threads now, while those still exist, not after
  // them in member order.
  threads_.clear();
}

void Server::RunAuthWork(std::function<void()> work) {
  asio::post(auth_pool_, [work = std::move(work)] {
    static thread_local const bool lowered = [] {
      // Best effort: without permission the priority simply stays.
      (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
      return true;
    }();
    (void)lowered;
    work();
  });
}

std::shared_ptr<const ServerOptions> Server::options() const {
  MutexLock lock(&mu_);
  return options_;
}

std::string Server::BuildInfoPrefix(const ServerOptions& o) const {
  // Keep nats-server's field order (clients do not care; humans comparing do).
  nlohmann::ordered_json j;
  j["server_id"] = server_id_;
  j["server_name"] = o.server_name.empty() ? server_id_ : o.server_name;
  j["version"] = kNatsCompatVersion;
  j["proto"] = 1;
  j["go"] = std::string("herald-v") + kHeraldVersion;
  j["host"] = o.host;
  j["port"] = client_port_ != 0 ? client_port_ : o.port;
  j["headers"] = true;
  if (o.jetstream) j["jetstream"] = true;
  if ((authenticator_ != nullptr && authenticator_->auth_required()) || o.auth.Required()) {
    j["auth_required"] = true;
  }
  if (o.tls.enabled) {
    j["tls_required"] = true;
    if (o.tls.verify) j["tls_verify"] = true;
  }
  j["max_payload"] = o.max_payload;
  if (cluster_ != nullptr && cluster_->enabled()) {
    j["cluster"] = cluster_->cluster_name();
    if (!connect_urls_.empty()) j["connect_urls"] = connect_urls_;
  }
  std::string s = j.dump();
  s.pop_back();  // drop '}' so per-client fields can follow
  return s;
}

std::shared_ptr<const auth::Authenticator> Server::authenticator() const {
  MutexLock lock(&mu_);
  return authenticator_;
}

std::shared_ptr<const auth::RevocationList> Server::revoked() const {
  MutexLock lock(&mu_);
  return revoked_;
}

std::string Server::ClientInfoLine(uint64_t cid, const std::string& client_ip, bool lame_duck,
                                   const std::string& nonce) const {
  std::string prefix;
  {
    MutexLock lock(&mu_);
    prefix = info_prefix_;
  }
  std::string line = "INFO ";
  line += prefix;
  line += ",\"client_id\":" + std::to_string(cid);
  line += ",\"client_ip\":" + nlohmann::json(client_ip).dump();
  if (!nonce.empty()) line += ",\"nonce\":\"" + nonce + "\"";
  if (lame_duck) line += ",\"ldm\":true";
  line += "}\r\n";
  return line;
}

absl::Status Server::Start() {
  auto opts = options();
  // The same checks as `herald -t`, before anything is bound or started.
  absl::StatusOr<StartupPlan> plan = PrepareStartup(command_line_, *opts);
  if (!plan.ok()) return plan.status();
  // Before any port listens: a client (or test) that sees the port open may
  // send SIGHUP/SIGTERM at once, and a signal arriving before its handler is
  // installed would kill the process. The handlers run in Run(), once
  // everything below is up.
  WatchSignals();
  {
    auth_throttle_ =
        std::make_unique<auth::AuthFailureThrottle>(plan->authenticator->config().failure_delay);
    revocation_file_ = plan->authenticator->config().revocation_file;
    MutexLock lock(&mu_);
    authenticator_ = std::move(plan->authenticator);
    tls_context_ = std::move(plan->client_tls);
    info_prefix_ = BuildInfoPrefix(*options_);
  }
  if (!revocation_file_.empty()) {
    // The watcher's thread reports a new list; revalidation runs on each
    // client's own thread, so a revoked credential stops within ~250 ms.
    revocation_watcher_ = std::make_unique<auth::RevocationWatcher>(
        revocation_file_,
        [this](std::shared_ptr<const auth::RevocationList> list) {
          {
            MutexLock lock(&mu_);
            revoked_ = std::move(list);
          }
          spdlog::info("Revocation list {} loaded", revocation_file_);
          RevalidateAllClients();
        },
        [this](const absl::Status& st) {
          spdlog::error("Revocation list {}: {}", revocation_file_, std::string(st.message()));
        });
    if (absl::Status st = revocation_watcher_->Start(); !st.ok()) return st;
  }
  asio::error_code ec;
  asio::ip::address addr = asio::ip::make_address(opts->host, ec);
  if (ec) return absl::InvalidArgumentError("invalid listen host: " + opts->host);
  asio::ip::tcp::endpoint ep(addr, static_cast<unsigned short>(opts->port));
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError("cannot listen for client connections on " + opts->host + ":" +
                                  std::to_string(opts->port) + ": " + ec.message());
  }
  client_port_ = acceptor_.local_endpoint().port();
  {
    MutexLock lock(&mu_);
    info_prefix_ = BuildInfoPrefix(*options_);
  }

  int n = opts->io_threads > 0
              ? opts->io_threads
              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) {
    threads_.push_back(std::make_unique<IoThread>(this, i, &sublist_));
  }
  for (auto& t : threads_) t->Start();
  {
    std::vector<IoThread*> bus_threads;
    for (auto& t : threads_) bus_threads.push_back(t.get());
    bus_ = std::make_unique<InternalBus>(&sublist_, cluster_.get(), std::move(bus_threads));
  }
  if (opts->jetstream) {
    // Without raft_listen the Raft transport listens on a port the kernel
    // picks, before the route, monitoring and admin listeners are bound: it
    // could pick one of their ports (seen in CI with a route port taken from
    // the ephemeral range, whose listener then failed). Hold them meanwhile.
    std::vector<std::unique_ptr<PortHold>> held;
    if (opts->cluster.port > 0 && opts->cluster.raft_listen.empty()) {
      held.push_back(std::make_unique<PortHold>(
          opts->cluster.host.empty() ? opts->host : opts->cluster.host, opts->cluster.port));
      held.push_back(std::make_unique<PortHold>(MonitorHost(*opts), opts->http_port));
      held.push_back(std::make_unique<PortHold>(MonitorHost(*opts), opts->https_port));
      if (opts->admin.enabled()) {
        held.push_back(std::make_unique<PortHold>(opts->admin.host, opts->admin.port));
      }
    }
    if (absl::Status st = StartJetStream(*opts); !st.ok()) return st;
  }

  if (absl::Status st = cluster_->Start(*opts, OwnClientUrls(*opts)); !st.ok()) return st;
  if (jetstream_ != nullptr) {
    if (absl::Status st = jetstream_->StartApi(); !st.ok()) return st;
  }
  if (cluster_->enabled()) {
    MutexLock lock(&mu_);
    connect_urls_ = cluster_->ConnectUrls();
    info_prefix_ = BuildInfoPrefix(*options_);
  }

  if (opts->https_port != 0) {  // PrepareStartup checked the tls block
    monitor_ = std::make_unique<HttpMonitor>(this, MonitorHost(*opts), opts->https_port,
                                             opts->tls.cert_file, opts->tls.key_file);
    absl::Status st = monitor_->Start();
    if (!st.ok()) return st;
    spdlog::info("Starting https monitor on {}:{}", MonitorHost(*opts), monitor_->bound_port());
  } else if (opts->http_port != 0) {
    monitor_ = std::make_unique<HttpMonitor>(this, MonitorHost(*opts), opts->http_port);
    absl::Status st = monitor_->Start();
    if (!st.ok()) return st;
    spdlog::info("Starting http monitor on {}:{}", MonitorHost(*opts), monitor_->bound_port());
  }
  if (opts->admin.enabled()) {
    admin_host_ = std::make_unique<ServerAdminHost>(this);
    admin_ = std::make_unique<admin::AdminServer>(admin_host_.get(), bus_.get(), opts->admin);
    if (absl::Status st = admin_->Start(); !st.ok()) return st;
  }
  spdlog::info("Starting herald v{} (NATS protocol {} compatible)", kHeraldVersion,
               kNatsCompatVersion);
  spdlog::info("  Server ID:   {}", server_id_);
  spdlog::info("  Server name: {}", opts->server_name);
  spdlog::info("  I/O threads: {}", n);
  spdlog::info("Listening for client connections on {}:{}", opts->host, client_port_);
  spdlog::info("Server is ready");
  StartAccept();
  ScheduleJwksReload();
  return absl::OkStatus();
}

std::vector<std::string> Server::OwnClientUrls(const ServerOptions& o) const {
  std::string host = o.host;
  // A wildcard listen address is not something a client can dial; advertise
  // loopback (set an explicit host for multi-machine clusters).
  if (host == "0.0.0.0" || host == "::" || host.empty()) host = "127.0.0.1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return {host + ":" + std::to_string(client_port_)};
}

IoThread* Server::PickIoThread() {
  return threads_[next_pick_.fetch_add(1, std::memory_order_relaxed) % threads_.size()].get();
}

namespace {

// host and port of a route URL ("nats-route://[user:pass@]host:port[/]").
bool RouteHostPort(std::string url, std::string* host, int* port) {
  if (auto p = url.find("://"); p != std::string::npos) url = url.substr(p + 3);
  if (auto p = url.rfind('@'); p != std::string::npos) url = url.substr(p + 1);
  if (auto p = url.find('/'); p != std::string::npos) url = url.substr(0, p);
  const auto colon = url.rfind(':');
  if (colon == std::string::npos) return false;
  *host = url.substr(0, colon);
  if (!host->empty() && host->front() == '[') *host = host->substr(1, host->size() - 2);
  return absl::SimpleAtoi(url.substr(colon + 1), port);
}

}  // namespace

absl::Status Server::StartJetStream(const ServerOptions& o) {
  js::JetStreamOptions jo;
  jo.store_dir = o.store_dir.empty() ? "/tmp/herald/jetstream" : o.store_dir;
  jo.server_name = o.server_name.empty() ? server_id_ : o.server_name;
  jo.max_memory = o.jetstream_max_memory;
  jo.max_file = o.jetstream_max_file;
  jo.domain = o.jetstream_domain;
  jo.snapshot_every = static_cast<uint64_t>(o.jetstream_snapshot_every);
  jo.snapshot_keep = static_cast<uint64_t>(o.jetstream_snapshot_keep);
  if (o.cluster.port != 0) {  // server_name and cluster.name: ValidateJetStreamOptions
    jo.cluster_name = o.cluster.name;
    jo.raft_listen =
        !o.cluster.raft_listen.empty()
            ? o.cluster.raft_listen
            : (o.cluster.host.empty() ? std::string("0.0.0.0") : o.cluster.host) + ":0";
    // The metadata group's size: every node named in `routes` (nats-server's
    // convention lists them all, this one included).
    std::set<std::string> others;
    for (const std::string& url : o.cluster.routes) {
      std::string host;
      int port = 0;
      if (!RouteHostPort(url, &host, &port)) continue;
      const bool local_host = host == "127.0.0.1" || host == "localhost" || host == "0.0.0.0" ||
                              host == "::1" || host == o.cluster.host;
      if (port == o.cluster.port && local_host) continue;  // this node
      others.insert(host + ":" + std::to_string(port));
    }
    jo.expected_cluster_size = static_cast<int>(others.size()) + 1;
  }
  jetstream_ = std::make_unique<js::JetStream>(jo, bus_.get());
  if (absl::Status st = jetstream_->Start(); !st.ok()) {
    return absl::Status(st.code(), "JetStream: " + std::string(st.message()));
  }
  cluster_->set_raft_port(jetstream_->raft_port());
  return absl::OkStatus();
}

std::string Server::Jsz(bool streams, bool config) const {
  if (jetstream_ == nullptr) return R"({"disabled":true})";
  return jetstream_->Jsz(streams, config).dump();
}

std::string Server::JetStreamUnhealthy(bool enabled_only, bool server_only) const {
  // As nats-server: without JetStream in the config there is nothing to check.
  if (jetstream_ == nullptr || enabled_only) return "";
  return jetstream_->Unhealthy(server_only);
}

void Server::OnClusterUrlsChanged() {
  if (jetstream_ != nullptr) {
    // Read and applied under one lock: route changes arrive on several I/O
    // threads (a duplicate route replaced: one registered, one closed), and
    // an older snapshot applied after a newer one left JetStream believing a
    // connected peer gone (R3 placement then failed with "no suitable peers"
    // until the next route change). Serialized, the last call applied reads
    // the routes after every change that triggered a call.
    MutexLock peers_lock(&peers_mu_);
    std::vector<js::JetStreamPeer> peers;
    for (const auto& p : cluster_->RaftPeers()) peers.push_back({p.server_name, p.address});
    jetstream_->OnPeersChanged(peers);
  }
  std::vector<std::string> urls = cluster_->ConnectUrls();
  {
    MutexLock lock(&mu_);
    if (urls == connect_urls_) return;
    connect_urls_ = std::move(urls);
    info_prefix_ = BuildInfoPrefix(*options_);
  }
  // Tell every client (that takes async INFO) about the new set of servers.
  for (auto& c : AllClients()) {
    asio::post(c->io_thread()->io(), [this, c] {
      std::string ip = c->Snapshot(false).ip;
      c->SendAsyncInfo(ClientInfoLine(c->cid(), ip, lame_duck_.load()));
    });
  }
}

RoutezSnapshot Server::Routez(bool include_subs, bool detail) const {
  return cluster_->Routez(include_subs, detail);
}

int Server::http_port() const { return monitor_ ? monitor_->bound_port() : 0; }

void Server::Run() { control_io_.run(); }

void Server::StartAccept() {
  if (shutting_down_ || lame_duck_ || !acceptor_.is_open()) return;
  IoThread* thread = threads_[next_thread_++ % threads_.size()].get();
  acceptor_.async_accept(thread->io(),
                         [this, thread](const asio::error_code& ec, asio::ip::tcp::socket socket) {
                           OnAccept(thread, ec, std::move(socket));
                         });
}

void Server::OnAccept(IoThread* thread, const asio::error_code& ec, asio::ip::tcp::socket socket) {
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    spdlog::error("accept error: {}", ec.message());
    // Too many open files and similar: back off briefly instead of spinning.
    control_timer_.expires_after(std::chrono::milliseconds(50));
    control_timer_.async_wait([this](const asio::error_code& e) {
      if (!e) StartAccept();
    });
    return;
  }
  auto opts = options();
  const uint64_t cid = next_cid_.fetch_add(1);
  bool over_limit;
  std::shared_ptr<ClientConnection> conn;
  {
    MutexLock lock(&mu_);
    over_limit = static_cast<int>(clients_.size()) >= opts->max_connections;
    conn = std::make_shared<ClientConnection>(this, thread, std::move(socket), cid, opts,
                                              over_limit, over_limit ? nullptr : tls_context_);
    if (!over_limit) clients_.emplace(cid, conn);
  }
  total_connections_.fetch_add(1, std::memory_order_relaxed);
  asio::post(thread->io(), [thread, conn] {
    thread->AddConnection(conn);
    conn->Start();
  });
  if (over_limit) spdlog::warn("cid:{} - maximum connections exceeded", cid);
  spdlog::debug("cid:{} - Client connection created", cid);
  StartAccept();
}

void Server::OnClientClosed(ClientConnection* conn, CloseReason reason) {
  ConnzEntry e = conn->Snapshot(false);
  e.reason = CloseReasonString(reason);
  e.stop = absl::Now();
  switch (reason) {
    case CloseReason::kClientClosed:
    case CloseReason::kServerShutdown:
      spdlog::debug("{}:{} - cid:{} - Client connection closed: {}", e.ip, e.port, e.cid,
                    CloseReasonString(reason));
      break;
    default:
      spdlog::info("{}:{} - cid:{} - Client connection closed: {}", e.ip, e.port, e.cid,
                   CloseReasonString(reason));
  }
  MutexLock lock(&mu_);
  clients_.erase(conn->cid());
  // Keep the most recent closed connections for /connz?state=closed.
  if (closed_.size() >= kMaxClosedConnections) closed_.pop_front();
  closed_.push_back(std::move(e));
}

std::vector<std::shared_ptr<ClientConnection>> Server::AllClients() const {
  std::vector<std::shared_ptr<ClientConnection>> out;
  MutexLock lock(&mu_);
  out.reserve(clients_.size());
  for (const auto& [cid, c] : clients_) out.push_back(c);
  return out;
}

void Server::WatchSignals() {
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  signals_.add(SIGHUP);
  signals_.add(SIGUSR2);
  signals_.async_wait([this](const asio::error_code& ec, int sig) {
    if (ec) return;
    switch (sig) {
      case SIGINT:
      case SIGTERM:
        spdlog::info("Trapped \"{}\" signal", sig == SIGINT ? "interrupt" : "terminated");
        BeginShutdown();
        return;  // no re-arm
      case SIGHUP:
        Reload();
        break;
      case SIGUSR2:
        EnterLameDuck();
        break;
    }
    WatchSignals();
  });
}

void Server::RevalidateAllClients() {
  auto authn = authenticator();
  auto revoked_list = revoked();
  for (auto& c : AllClients()) {
    asio::post(c->io_thread()->io(),
               [c, authn, revoked_list] { c->Revalidate(authn, revoked_list); });
  }
}

void Server::ScheduleJwksReload() {
  auto authn = authenticator();
  if (authn == nullptr || !authn->config().oidc.enabled() || shutting_down_) return;
  if (jwks_timer_ == nullptr) jwks_timer_ = std::make_unique<asio::steady_timer>(control_io_);
  jwks_timer_->expires_after(std::chrono::seconds(1));
  jwks_timer_->async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    std::shared_ptr<auth::Authenticator> a;
    {
      MutexLock lock(&mu_);
      a = authenticator_;
    }
    if (a != nullptr) {
      absl::Status st = a->ReloadJwks();
      if (!st.ok()) spdlog::warn("JWKS reload: {}", std::string(st.message()));
      // Tokens signed by keys that left the JWKS, or past their expiry,
      // must stop at once.
      RevalidateAllClients();
    }
    ScheduleJwksReload();
  });
}

absl::Status Server::ReloadNow() {
  std::vector<std::string> warnings;
  absl::StatusOr<ServerOptions> loaded = ReloadOptions(command_line_, &warnings);
  for (const auto& w : warnings) spdlog::warn("{}", w);
  if (!loaded.ok()) {
    spdlog::error("Failed to reload server configuration: {}",
                  std::string(loaded.status().message()));
    return loaded.status();
  }
  ServerOptions next = *std::move(loaded);
  auto current = options();
  // Listeners and identity cannot change at run time; keep the running ones.
  if (next.host != current->host || next.port != current->port ||
      next.http_port != current->http_port) {
    spdlog::warn("reload: listen addresses cannot change at run time; keeping the current ones");
  }
  next.host = current->host;
  next.port = current->port;
  next.http_host = current->http_host;
  next.http_port = current->http_port;
  next.io_threads = current->io_threads;
  if (next.admin.host != current->admin.host || next.admin.port != current->admin.port ||
      next.admin.token != current->admin.token) {
    spdlog::warn("reload: the admin block cannot change at run time; keeping the current one");
  }
  next.admin = current->admin;
  if (next.server_name.empty()) next.server_name = current->server_name;
  // Certificates and keys are re-read: new connections use the new ones,
  // established connections keep theirs.
  std::shared_ptr<asio::ssl::context> tls;
  if (next.tls.enabled) {
    auto ctx = MakeTlsContext(next.tls, /*server=*/true);
    if (!ctx.ok()) {
      spdlog::error("Failed to reload TLS configuration: {}", std::string(ctx.status().message()));
      return ctx.status();
    }
    tls = *std::move(ctx);
  }
  auto authn = BuildAuthenticator(command_line_, next);
  if (!authn.ok()) {
    spdlog::error("Failed to reload server configuration: {}",
                  std::string(authn.status().message()));
    return authn.status();
  }
  auto shared = std::make_shared<const ServerOptions>(std::move(next));
  {
    MutexLock lock(&mu_);
    authenticator_ = *std::move(authn);
    tls_context_ = tls;
    options_ = shared;
    info_prefix_ = BuildInfoPrefix(*shared);
    config_load_time_ = absl::Now();
  }
  const spdlog::level::level_enum level =
      shared->trace ? spdlog::level::trace
                    : (shared->debug ? spdlog::level::debug : spdlog::level::info);
  // Only on a change: set_level takes spdlog's registry lock, which TSan
  // (uninstrumented library) reports as an unlock it never saw locked.
  if (spdlog::get_level() != level) spdlog::set_level(level);
  auto authn_now = authenticator();
  auto revoked_list = revoked();
  for (auto& c : AllClients()) {
    asio::post(c->io_thread()->io(), [c, shared, authn_now, revoked_list] {
      c->ApplyOptions(shared);
      c->Revalidate(authn_now, revoked_list);
    });
  }
  spdlog::info("Reloaded server configuration");
  return absl::OkStatus();
}

void Server::Reload() { (void)ReloadNow(); }

void Server::EnterLameDuck() {
  if (lame_duck_.exchange(true) || shutting_down_) return;
  auto opts = options();
  spdlog::info("Entering lame duck mode, stop accepting new clients");
  asio::error_code ec;
  acceptor_.close(ec);
  if (cluster_->enabled()) {
    cluster_->EnterLameDuck();
    MutexLock lock(&mu_);
    connect_urls_ = cluster_->ConnectUrls();
    info_prefix_ = BuildInfoPrefix(*options_);
  }
  auto clients = AllClients();
  for (auto& c : clients) {
    std::string ip = c->Snapshot(false).ip;
    std::string info = ClientInfoLine(c->cid(), ip, /*lame_duck=*/true);
    asio::post(c->io_thread()->io(), [c, info] { c->SendAsyncInfo(info); });
  }
  control_timer_.expires_after(absl::ToChronoNanoseconds(opts->lame_duck_grace_period));
  control_timer_.async_wait([this, opts](const asio::error_code& e) {
    if (e) return;
    auto remaining = AllClients();
    spdlog::info("Closing {} existing clients over {}", remaining.size(),
                 absl::FormatDuration(opts->lame_duck_duration));
    CloseClientsGradually(std::move(remaining), opts->lame_duck_duration);
  });
}

void Server::CloseClientsGradually(std::vector<std::shared_ptr<ClientConnection>> clients,
                                   absl::Duration spread) {
  if (clients.empty()) {
    BeginShutdown();
    return;
  }
  // Close in equal batches, one batch per 100ms, over the whole duration.
  const int64_t ticks = std::max<int64_t>(1, spread / absl::Milliseconds(100));
  const size_t batch = std::max<size_t>(1, (clients.size() + ticks - 1) / ticks);
  const size_t n = std::min(batch, clients.size());
  for (size_t i = 0; i < n; ++i) {
    auto c = clients.back();
    clients.pop_back();
    asio::post(c->io_thread()->io(), [c] { c->FlushAndClose(CloseReason::kLameDuck); });
  }
  control_timer_.expires_after(std::chrono::milliseconds(100));
  control_timer_.async_wait(
      [this, clients = std::move(clients), spread](const asio::error_code& e) mutable {
        if (e) return;
        CloseClientsGradually(std::move(clients), spread - absl::Milliseconds(100));
      });
}

void Server::RequestLameDuck() {
  asio::post(control_io_, [this] { EnterLameDuck(); });
}

void Server::RequestShutdown() {
  asio::post(control_io_, [this] { BeginShutdown(); });
}

void Server::BeginShutdown() {
  if (shutting_down_.exchange(true)) return;
  spdlog::info("Initiating Shutdown...");
  asio::error_code ec;
  acceptor_.close(ec);
  signals_.cancel(ec);
  control_timer_.cancel();
  if (admin_) admin_->Stop();
  if (jetstream_) jetstream_->Stop();
  cluster_->Stop();
  if (jwks_timer_) jwks_timer_->cancel();
  if (revocation_watcher_) revocation_watcher_->Stop();
  if (monitor_) monitor_->Stop();
  for (auto& c : AllClients()) {
    asio::post(c->io_thread()->io(), [c] { c->FlushAndClose(CloseReason::kServerShutdown); });
  }
  FinishShutdownWhenDrained(kShutdownDrainPolls);
}

void Server::FinishShutdownWhenDrained(int attempts_left) {
  size_t remaining;
  {
    MutexLock lock(&mu_);
    remaining = clients_.size();
  }
  if (remaining == 0 || attempts_left <= 0) {
    for (auto& t : threads_) t->Stop();
    for (auto& t : threads_) t->Join();
    {
      MutexLock lock(&mu_);
      clients_.clear();
    }
    spdlog::info("Server Exiting..");
    control_io_.stop();
    return;
  }
  control_timer_.expires_after(kShutdownDrainPoll);
  control_timer_.async_wait([this, attempts_left](const asio::error_code&) {
    FinishShutdownWhenDrained(attempts_left - 1);
  });
}

VarzSnapshot Server::Varz() const {
  auto opts = options();
  VarzSnapshot v;
  v.server_id = server_id_;
  v.server_name = opts->server_name;
  v.version = kNatsCompatVersion;
  v.herald_version = kHeraldVersion;
  v.host = opts->host;
  v.port = client_port_;
  v.http_port = http_port();
  v.max_payload = opts->max_payload;
  v.max_connections = opts->max_connections;
  v.max_control_line = opts->max_control_line;
  v.max_pending = opts->max_pending;
  v.ping_max = opts->ping_max;
  v.ping_interval = opts->ping_interval;
  v.write_deadline = opts->write_deadline;
  {
    auto a = authenticator();
    v.auth_required = a != nullptr && a->auth_required();
  }
  v.start = start_time_;
  v.now = absl::Now();
  {
    MutexLock lock(&mu_);
    v.connections = static_cast<int64_t>(clients_.size());
  }
  v.total_connections = total_connections_.load(std::memory_order_relaxed);
  for (const auto& t : threads_) {
    const IoThreadStats& s = t->stats();
    v.in_msgs += s.in_msgs.load(std::memory_order_relaxed);
    v.in_bytes += s.in_bytes.load(std::memory_order_relaxed);
    v.out_msgs += s.out_msgs.load(std::memory_order_relaxed);
    v.out_bytes += s.out_bytes.load(std::memory_order_relaxed);
  }
  v.slow_consumers = slow_consumers_.load(std::memory_order_relaxed);
  v.auth_failures = auth_failures_.load(std::memory_order_relaxed);
  v.permission_violations = permission_violations_.load(std::memory_order_relaxed);
  v.subscriptions = sublist_.count();
  v.routes = cluster_->NumRoutes();
  v.remotes = v.routes;
  if (cluster_->enabled()) {
    v.cluster_name = cluster_->cluster_name();
    v.cluster_host = opts->cluster.host.empty() ? opts->host : opts->cluster.host;
    v.cluster_port = cluster_->cluster_port();
    v.cluster_urls = cluster_->ConfiguredRouteUrls();
  }
  {
    MutexLock lock(&mu_);
    v.connect_urls = connect_urls_;
  }
  v.mem_bytes = ResidentBytes();
  v.cores = static_cast<int>(std::thread::hardware_concurrency());
  v.config_file = opts->config_file;
  v.http_host = MonitorHost(*opts);
  v.auth_timeout = opts->auth.timeout;
  v.tls_timeout = absl::Seconds(2);
  {
    MutexLock lock(&mu_);
    v.config_load_time = config_load_time_;
  }
  {
    MutexLock lock(&cpu_mu_);
    const double cpu = CpuSeconds();
    const absl::Time now = absl::Now();
    if (last_cpu_sample_ == absl::Time()) {
      const double elapsed = absl::ToDoubleSeconds(now - start_time_);
      last_cpu_percent_ = elapsed > 0 ? 100.0 * cpu / elapsed : 0;
    } else {
      const double elapsed = absl::ToDoubleSeconds(now - last_cpu_sample_);
      if (elapsed >= 0.5) last_cpu_percent_ = 100.0 * (cpu - last_cpu_seconds_) / elapsed;
    }
    if (last_cpu_sample_ == absl::Time() || absl::ToDoubleSeconds(now - last_cpu_sample_) >= 0.5) {
      last_cpu_seconds_ = cpu;
      last_cpu_sample_ = now;
    }
    v.cpu_percent = last_cpu_percent_;
  }
  return v;
}

ConnzSnapshot Server::Connz(bool include_subs) const {
  ConnzSnapshot s;
  s.now = absl::Now();
  for (const auto& c : AllClients()) s.connections.push_back(c->Snapshot(include_subs));
  {
    MutexLock lock(&mu_);
    s.closed_connections.assign(closed_.begin(), closed_.end());
  }
  std::sort(s.connections.begin(), s.connections.end(),
            [](const ConnzEntry& a, const ConnzEntry& b) { return a.cid < b.cid; });
  return s;
}

SubszSnapshot Server::Subsz() const {
  SublistStats st = sublist_.Stats();
  SubszSnapshot s;
  s.num_subscriptions = st.subscriptions;
  s.num_inserts = st.inserts;
  s.num_removes = st.removes;
  s.num_matches = st.matches;
  return s;
}

bool Server::Healthy() const { return !shutting_down_.load(); }

int Server::admin_port() const { return admin_ != nullptr ? admin_->port() : 0; }

nlohmann::json Server::AdminLocalStatus() const {
  auto opts = options();
  nlohmann::json j;
  j["name"] = opts->server_name;
  j["server_id"] = server_id_;
  j["id"] = js::JetStream::NodeIdFor(opts->server_name);
  j["version"] = kHeraldVersion;
  j["uptime_seconds"] = absl::ToInt64Seconds(absl::Now() - start_time_);
  {
    MutexLock lock(&mu_);
    j["connections"] = clients_.size();
  }
  j["client_address"] = absl::StrCat(opts->host, ":", client_port_);
  if (cluster_->enabled()) {
    const std::string host = opts->cluster.host.empty() ? opts->host : opts->cluster.host;
    j["route_address"] = absl::StrCat(host, ":", cluster_->cluster_port());
    if (jetstream_ != nullptr) {
      j["raft_address"] = absl::StrCat(host, ":", jetstream_->raft_port());
    }
  }
  if (admin_ != nullptr) j["admin_address"] = absl::StrCat(opts->admin.host, ":", admin_->port());
  j["disk_used_bytes"] = DirectoryBytes(opts->jetstream ? opts->store_dir : "");
  // The route mesh as this node sees it: the peers it has a route to now.
  std::vector<std::string> routes;
  for (const auto& p : cluster_->RaftPeers()) {
    if (!p.server_name.empty() && p.server_name != opts->server_name &&
        std::find(routes.begin(), routes.end(), p.server_name) == routes.end()) {
      routes.push_back(p.server_name);
    }
  }
  std::sort(routes.begin(), routes.end());
  j["routes"] = routes;
  return j;
}

nlohmann::json Server::AdminConnections(const nlohmann::json& filter) const {
  const std::string user = filter.value("user", "");
  const std::string subject = filter.value("subject", "");
  const int64_t idle_ms = filter.value("idle_ms", int64_t{0});
  ConnzSnapshot snap = Connz(/*include_subs=*/true);
  nlohmann::json out = nlohmann::json::array();
  for (const ConnzEntry& c : snap.connections) {
    if (!user.empty() && c.authorized_user != user) continue;
    const int64_t idle = absl::ToInt64Milliseconds(snap.now - c.last_activity);
    if (idle < idle_ms) continue;
    if (!subject.empty()) {
      bool hit = false;
      for (const std::string& s : c.subscriptions) {
        hit |= js::SubjectsCollide(s, subject);  // overlap: a.* and a.b both ways
      }
      if (!hit) continue;
    }
    nlohmann::json j;
    j["cid"] = c.cid;
    j["ip"] = c.ip;
    j["port"] = c.port;
    j["name"] = c.name;
    j["user"] = c.authorized_user;
    j["lang"] = c.lang;
    j["version"] = c.version;
    j["start_unix_ms"] = absl::ToUnixMillis(c.start);
    j["idle_ms"] = idle;
    j["in_msgs"] = c.in_msgs;
    j["out_msgs"] = c.out_msgs;
    j["in_bytes"] = c.in_bytes;
    j["out_bytes"] = c.out_bytes;
    j["num_subs"] = c.num_subs;
    j["subscriptions"] = c.subscriptions;
    j["tls_version"] = c.tls_version;
    out.push_back(j);
  }
  return out;
}

absl::Status Server::CloseClient(uint64_t cid) {
  std::shared_ptr<ClientConnection> c;
  {
    MutexLock lock(&mu_);
    auto it = clients_.find(cid);
    if (it != clients_.end()) c = it->second;
  }
  if (c == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no client connection with cid ", cid, " on ", options()->server_name));
  }
  spdlog::info("Closing client connection cid {} (admin API)", cid);
  asio::post(c->io_thread()->io(), [c] { c->FlushAndClose(CloseReason::kKicked); });
  return absl::OkStatus();
}

absl::Status Server::ReloadFromAdmin() {
  auto done = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> result = done->get_future();
  asio::post(control_io_, [this, done] { done->set_value(ReloadNow()); });
  if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    return absl::DeadlineExceededError("the reload did not finish within 10 s");
  }
  return result.get();
}

}  // namespace herald
