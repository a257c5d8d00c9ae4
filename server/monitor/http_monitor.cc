#include "server/monitor/http_monitor.h"

#include <sys/socket.h>

#include <chrono>
#include <exception>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "httplib.h"

namespace herald {
namespace {

// nats-server 2.9.10's ResponseHandler sets exactly this (no charset).
constexpr char kJsonType[] = "application/json";
// What Go's content sniffing yields for nats-server's plain-text 400/404s.
constexpr char kTextType[] = "text/plain; charset=utf-8";
constexpr char kHtmlType[] = "text/html; charset=utf-8";
constexpr char kPrometheusType[] = "text/plain; version=0.0.4; charset=utf-8";

// Idle keep-alive connections pin a pool thread in cpp-httplib, so keep them
// short: with 2 threads, a third scraper would otherwise wait up to 5s.
constexpr time_t kKeepAliveSeconds = 1;
// Bounds a slow or stalled client's hold on a pool thread.
constexpr time_t kIoTimeoutSeconds = 5;
// Requests are GETs; nothing legitimate has a body.
constexpr size_t kMaxPayload = 64 * 1024;

monitor::QueryParams FirstValues(const httplib::Request& req) {
  monitor::QueryParams out;
  // multimap keeps insertion order for equal keys; emplace keeps the first,
  // like Go's url.Values.Get.
  for (const auto& [k, v] : req.params) out.emplace(k, v);
  return out;
}

void Json(httplib::Response& res, int status, std::string body) {
  res.status = status;
  res.set_header("Access-Control-Allow-Origin", "*");
  res.set_content(std::move(body), kJsonType);
}

void BadRequest(httplib::Response& res, const absl::Status& st) {
  res.status = 400;
  res.set_content(std::string(st.message()), kTextType);
}

// Snapshots whose `now` was left unset (epoch) get the current time, so a
// default-bodied MonitorSource::Routez() still renders a sensible "now".
template <typename Snapshot>
void FillNow(Snapshot& s) {
  if (s.now == absl::UnixEpoch()) s.now = absl::Now();
}

}  // namespace

HttpMonitor::HttpMonitor(const MonitorSource* source, std::string host, int port)
    : source_(source), host_(std::move(host)), port_(port) {}

HttpMonitor::HttpMonitor(const MonitorSource* source, std::string host, int port,
                         std::string cert_file, std::string key_file)
    : source_(source),
      host_(std::move(host)),
      port_(port),
      cert_file_(std::move(cert_file)),
      key_file_(std::move(key_file)) {}

HttpMonitor::~HttpMonitor() { Stop(); }

void HttpMonitor::CountRequest(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  ++req_stats_[path];
}

monitor::HttpReqStats HttpMonitor::RequestStats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return req_stats_;
}

std::string HttpMonitor::ServerId() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!server_id_.empty()) return server_id_;
  }
  std::string id = source_->Varz().server_id;  // outside mu_: may be slow
  std::lock_guard<std::mutex> lock(mu_);
  server_id_ = id;
  return id;
}

void HttpMonitor::RegisterHandlers() {
  httplib::Server& s = *server_;

  s.Get("/", [this](const httplib::Request&, httplib::Response& res) {
    CountRequest("/");
    VarzSnapshot v = source_->Varz();
    res.set_content(monitor::RenderRootPage(v.herald_version, v.version), kHtmlType);
  });

  s.Get("/varz", [this](const httplib::Request&, httplib::Response& res) {
    CountRequest("/varz");
    VarzSnapshot v = source_->Varz();
    FillNow(v);
    Json(res, 200, monitor::RenderVarz(v, RequestStats()));
  });

  s.Get("/connz", [this](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<monitor::ConnzOptions> opts = monitor::ParseConnzOptions(FirstValues(req));
    if (!opts.ok()) return BadRequest(res, opts.status());
    CountRequest("/connz");
    ConnzSnapshot snap = source_->Connz(monitor::ConnzWantsSubs(*opts));
    FillNow(snap);
    absl::StatusOr<std::string> body = monitor::RenderConnz(snap, ServerId(), *opts);
    if (!body.ok()) return BadRequest(res, body.status());
    Json(res, 200, *std::move(body));
  });

  auto subsz = [this](const httplib::Request& req, httplib::Response& res) {
    CountRequest("/subsz");
    // subs=1 (the subscription list) is not supported, but a malformed value
    // is still rejected as nats-server does.
    monitor::QueryParams params = FirstValues(req);
    absl::StatusOr<monitor::RoutezOptions> check = monitor::ParseRoutezOptions(params);
    if (!check.ok()) return BadRequest(res, check.status());
    Json(res, 200, monitor::RenderSubsz(source_->Subsz()));
  };
  s.Get("/subsz", subsz);
  s.Get("/subscriptionsz", subsz);

  s.Get("/routez", [this](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<monitor::RoutezOptions> opts = monitor::ParseRoutezOptions(FirstValues(req));
    if (!opts.ok()) return BadRequest(res, opts.status());
    CountRequest("/routez");
    RoutezSnapshot snap = source_->Routez(opts->subs || opts->subs_detail, opts->subs_detail);
    FillNow(snap);
    Json(res, 200, monitor::RenderRoutez(snap, ServerId(), *opts));
  });

  s.Get("/healthz", [this](const httplib::Request& req, httplib::Response& res) {
    CountRequest("/healthz");
    if (absl::Status st = monitor::ValidateHealthzParams(FirstValues(req)); !st.ok()) {
      return BadRequest(res, st);
    }
    monitor::HealthzResponse h = monitor::RenderHealthz(source_->Healthy());
    if (h.http_status == 200) {
      monitor::QueryParams q = FirstValues(req);
      auto flag = [&](const char* k) {
        auto it = q.find(k);
        return it != q.end() && (it->second == "true" || it->second == "1" || it->second == "t" ||
                                 it->second == "T" || it->second == "TRUE" || it->second == "True");
      };
      const std::string why = source_->JetStreamUnhealthy(
          flag("js-enabled-only") || flag("js-enabled"), flag("js-server-only"));
      if (!why.empty()) {
        nlohmann::ordered_json j;
        j["status"] = "unavailable";
        j["error"] = why;
        h = {503, j.dump()};
      }
    }
    Json(res, h.http_status, std::move(h.body));
  });

  s.Get("/jsz", [this](const httplib::Request& req, httplib::Response& res) {
    CountRequest("/jsz");
    monitor::QueryParams q = FirstValues(req);
    auto flag = [&](const char* k) {
      auto it = q.find(k);
      return it != q.end() && (it->second == "true" || it->second == "1" || it->second == "all");
    };
    nlohmann::ordered_json body = nlohmann::ordered_json::parse(
        source_->Jsz(flag("streams") || flag("consumers") || flag("accounts"), flag("config")),
        nullptr, false);
    nlohmann::ordered_json out;
    out["server_id"] = ServerId();
    out["now"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", absl::Now(), absl::UTCTimeZone());
    if (body.is_object()) {
      for (auto& [k, v] : body.items()) out[k] = v;
    }
    Json(res, 200, out.dump(2));
  });

  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    CountRequest("/metrics");
    monitor::MetricsInput in;
    in.varz = source_->Varz();
    FillNow(in.varz);
    in.routez = source_->Routez(/*include_subs=*/false, /*detail=*/false);
    in.connz = source_->Connz(/*include_subs=*/false);
    in.healthy = source_->Healthy();
    in.http_req_stats = RequestStats();
    res.set_content(monitor::RenderMetrics(in), kPrometheusType);
  });

  // Go's http.NotFound for every unrouted path or method.
  s.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (res.status != 404 || !res.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        res.set_header("X-Content-Type-Options", "nosniff");
        res.set_content("404 page not found\n", kTextType);
        return httplib::Server::HandlerResponse::Handled;
      }));
  // Handlers do not throw by design; if one does (e.g. bad_alloc), answer 500
  // rather than letting cpp-httplib leak the exception text into a header.
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content("internal error\n", kTextType);
  });
}

absl::Status HttpMonitor::Start() {
  if (server_ != nullptr) return absl::FailedPreconditionError("HttpMonitor already started");
  if (!cert_file_.empty()) {
    auto ssl = std::make_unique<httplib::SSLServer>(cert_file_.c_str(), key_file_.c_str());
    if (!ssl->is_valid()) {
      return absl::InvalidArgumentError("https monitor: cannot load " + cert_file_ + " / " +
                                        key_file_);
    }
    server_ = std::move(ssl);
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  server_->new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  // cpp-httplib defaults to SO_REUSEPORT, which would let a second process
  // silently share (and steal half the requests of) a port already in use.
  // SO_REUSEADDR alone keeps fast restarts working past TIME_WAIT.
  server_->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server_->set_keep_alive_timeout(kKeepAliveSeconds);
  server_->set_read_timeout(kIoTimeoutSeconds, 0);
  server_->set_write_timeout(kIoTimeoutSeconds, 0);
  server_->set_payload_max_length(kMaxPayload);
  RegisterHandlers();

  int port = port_;
  if (port_ == 0) {
    port = server_->bind_to_any_port(host_);
  } else if (!server_->bind_to_port(host_, port_)) {
    port = -1;
  }
  if (port < 0) {
    server_.reset();
    return absl::UnavailableError(
        absl::StrCat("monitoring: cannot listen on ", host_, ":", port_, " (in use or invalid)"));
  }
  bound_port_ = port;

  acceptor_done_ = false;
  acceptor_ = std::thread([this, s = server_.get()] {
    s->listen_after_bind();
    acceptor_done_ = true;
  });
  // httplib::Server::stop() is a no-op until the accept loop is running, so
  // Stop() right after Start() could otherwise hang in join(); wait for it.
  while (!server_->is_running() && !acceptor_done_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return absl::OkStatus();
}

void HttpMonitor::Stop() {
  if (server_ == nullptr) return;
  server_->stop();                             // closes the listening socket; the accept loop exits
  if (acceptor_.joinable()) acceptor_.join();  // also joins the pool
  server_.reset();
  bound_port_ = -1;
}

}  // namespace herald
