// bench: a load generator for NATS-compatible servers, with workloads that
// mirror `nats bench` (see docs/perf.md). Example:
//   bench --url nats://127.0.0.1:4222 --mode pubsub --pubs 1 --subs 1 --size 16
// JetStream publishing (tools/bench/jetstream.h):
//   bench --mode jspub --ack sync --replicas 1 --seconds 10
//   bench --mode jspub --ack async --window 256 --clients 1 --msgs 100000
#include <algorithm>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "tools/bench/jetstream.h"
#include "tools/bench/workloads.h"

ABSL_FLAG(std::string, url, "nats://127.0.0.1:4222", "server address, nats://host:port");
ABSL_FLAG(std::string, mode, "pub",
          "pub | pubsub | fanout | reqrep | conns | jspub | jsinfo | jsconsume");
ABSL_FLAG(int, pubs, 1, "publishers (pub, pubsub, fanout)");
ABSL_FLAG(int, subs, -1, "subscribers; default 0 for pub, 1 for pubsub, 4 for fanout");
ABSL_FLAG(int64_t, size, -1, "payload bytes; default 16, or 128 for jspub");
ABSL_FLAG(double, duration, 5, "seconds to publish (or to hold, in conns mode)");
ABSL_FLAG(int64_t, msgs, 0, "if > 0: total messages (requests for reqrep) instead of --duration");
ABSL_FLAG(std::string, subject, "", "subject to publish on; default bench, or js.bench for jspub");
ABSL_FLAG(bool, json, false, "print one JSON line instead of text");
ABSL_FLAG(int64_t, batch_bytes, 64 * 1024, "publisher write size; a PING follows each batch");
ABSL_FLAG(int, max_pending_pings, 4, "unanswered PINGs (batches) a publisher may have in flight");
ABSL_FLAG(int, inflight, 1, "reqrep: outstanding requests");
ABSL_FLAG(int64_t, warmup, 1000, "reqrep: requests excluded from the figures");
ABSL_FLAG(std::string, sub_url, "",
          "subscribers/responder connect here (another cluster node); default --url");
ABSL_FLAG(int, conns, 10000, "conns: connections to open and hold");
ABSL_FLAG(double, drain_timeout, 5, "seconds subscribers wait for stragglers after publishing");
// JetStream (jspub, jsinfo).
ABSL_FLAG(double, seconds, 0,
          "jspub: seconds to publish (default --duration, or no time bound if only --msgs is "
          "given); with --msgs too, whichever comes first");
ABSL_FLAG(std::string, ack, "sync",
          "jspub: sync (1 publish in flight, latency) | async (--window)");
ABSL_FLAG(int, window, 256, "jspub --ack async: unacknowledged publishes per connection");
ABSL_FLAG(int, clients, 1, "jspub: publisher connections");
ABSL_FLAG(std::string, stream, "BENCH", "jspub: stream name (deleted and created before the run)");
ABSL_FLAG(int, replicas, 1, "jspub: the stream's num_replicas");
ABSL_FLAG(std::string, storage, "file", "jspub: file | memory");
ABSL_FLAG(double, ready_timeout, 30,
          "jspub/jsinfo: seconds to retry until the server answers (stream create, $JS.API.INFO)");
ABSL_FLAG(double, ack_timeout, 10, "jspub: seconds without any PubAck before the run fails");
ABSL_FLAG(bool, keep_stream, false, "jspub: keep the stream after the run (default: delete it)");
ABSL_FLAG(std::string, consume, "pull",
          "jsconsume: pull (MSG.NEXT batches of --fetch) | push (flow control)");
ABSL_FLAG(int, fetch, 100, "jsconsume pull: messages per MSG.NEXT request");

namespace {

int RunJetStream(const herald::bench::Endpoint& ep, const std::string& mode) {
  herald::bench::JsOptions jo;
  jo.endpoint = ep;
  jo.stream = absl::GetFlag(FLAGS_stream);
  jo.subject = absl::GetFlag(FLAGS_subject);
  if (jo.subject.empty()) jo.subject = "js.bench";
  jo.replicas = absl::GetFlag(FLAGS_replicas);
  jo.storage = absl::GetFlag(FLAGS_storage);
  jo.ack = absl::GetFlag(FLAGS_ack);
  jo.window = absl::GetFlag(FLAGS_window);
  jo.clients = absl::GetFlag(FLAGS_clients);
  jo.size = absl::GetFlag(FLAGS_size) < 0 ? 128 : static_cast<size_t>(absl::GetFlag(FLAGS_size));
  jo.msgs = static_cast<uint64_t>(std::max<int64_t>(0, absl::GetFlag(FLAGS_msgs)));
  const double seconds = absl::GetFlag(FLAGS_seconds);
  jo.time_bound = seconds > 0 || jo.msgs == 0;
  jo.duration = absl::Seconds(seconds > 0 ? seconds : absl::GetFlag(FLAGS_duration));
  jo.ready_timeout = absl::Seconds(absl::GetFlag(FLAGS_ready_timeout));
  jo.ack_timeout = absl::Seconds(absl::GetFlag(FLAGS_ack_timeout));
  jo.keep_stream = absl::GetFlag(FLAGS_keep_stream);
  jo.consume = absl::GetFlag(FLAGS_consume);
  jo.fetch_batch = absl::GetFlag(FLAGS_fetch);
  if (mode == "jsconsume" && (jo.msgs == 0 || jo.fetch_batch < 1)) {
    std::fprintf(stderr, "bench: jsconsume needs --msgs and --fetch >= 1\n");
    return 2;
  }
  if ((jo.ack != "sync" && jo.ack != "async") || jo.clients < 1 || jo.window < 1 ||
      jo.replicas < 1 || (jo.storage != "file" && jo.storage != "memory")) {
    std::fprintf(stderr,
                 "bench: --ack must be sync|async, --storage file|memory, --clients, --window and "
                 "--replicas >= 1\n");
    return 2;
  }
  herald::bench::JsResult r = mode == "jsinfo"      ? herald::bench::RunJsInfo(jo)
                              : mode == "jsconsume" ? herald::bench::RunJsConsume(jo)
                                                    : herald::bench::RunJsPub(jo);
  std::string out =
      absl::GetFlag(FLAGS_json) ? herald::bench::FormatJsJson(r) : herald::bench::FormatJsText(r);
  std::fputs(out.c_str(), stdout);
  return r.error.empty() && r.errors == 0 && r.malformed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("NATS load generator: bench --mode pub|pubsub|fanout|reqrep|conns");
  absl::ParseCommandLine(argc, argv);
  herald::bench::BenchOptions opt;
  auto ep = herald::bench::ParseUrl(absl::GetFlag(FLAGS_url));
  if (!ep.ok()) {
    std::fprintf(stderr, "bench: %s\n", ep.status().ToString().c_str());
    return 2;
  }
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "jspub" || mode == "jsinfo" || mode == "jsconsume") return RunJetStream(*ep, mode);
  opt.endpoint = *ep;
  if (!absl::GetFlag(FLAGS_sub_url).empty()) {
    auto sep = herald::bench::ParseUrl(absl::GetFlag(FLAGS_sub_url));
    if (!sep.ok()) {
      std::fprintf(stderr, "bench: %s\n", sep.status().ToString().c_str());
      return 2;
    }
    opt.sub_endpoint = *sep;
  }
  opt.mode = absl::GetFlag(FLAGS_mode);
  opt.subject = absl::GetFlag(FLAGS_subject);
  if (opt.subject.empty()) opt.subject = "bench";
  opt.pubs = absl::GetFlag(FLAGS_pubs);
  opt.subs = absl::GetFlag(FLAGS_subs);
  if (opt.subs < 0) opt.subs = opt.mode == "fanout" ? 4 : opt.mode == "pubsub" ? 1 : 0;
  if (absl::GetFlag(FLAGS_size) < 0) absl::SetFlag(&FLAGS_size, 16);
  opt.size = static_cast<size_t>(absl::GetFlag(FLAGS_size));
  opt.duration = absl::Seconds(absl::GetFlag(FLAGS_duration));
  opt.msgs = static_cast<uint64_t>(absl::GetFlag(FLAGS_msgs));
  opt.batch_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_batch_bytes));
  opt.max_pending_pings = absl::GetFlag(FLAGS_max_pending_pings);
  opt.inflight = absl::GetFlag(FLAGS_inflight);
  opt.warmup = static_cast<uint64_t>(absl::GetFlag(FLAGS_warmup));
  opt.conns = absl::GetFlag(FLAGS_conns);
  opt.drain_timeout = absl::Seconds(absl::GetFlag(FLAGS_drain_timeout));

  if (opt.pubs < 1 || absl::GetFlag(FLAGS_size) < 0 || opt.max_pending_pings < 0) {
    std::fprintf(stderr, "bench: --pubs must be >= 1, --size and --max_pending_pings >= 0\n");
    return 2;
  }
  herald::bench::BenchResult r;
  if (opt.mode == "pub" || opt.mode == "pubsub" || opt.mode == "fanout") {
    if (opt.mode == "pub") opt.subs = 0;
    r = herald::bench::RunPubSub(opt);
  } else if (opt.mode == "reqrep") {
    r = herald::bench::RunReqRep(opt);
  } else if (opt.mode == "conns") {
    r = herald::bench::RunConns(opt);
  } else {
    std::fprintf(stderr, "bench: unknown --mode %s\n", opt.mode.c_str());
    return 2;
  }
  std::string out =
      absl::GetFlag(FLAGS_json) ? herald::bench::FormatJson(r) : herald::bench::FormatText(r);
  std::fputs(out.c_str(), stdout);
  return r.error.empty() ? 0 : 1;
}
