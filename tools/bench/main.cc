// bench: a load generator for NATS-compatible servers, with workloads that
// mirror `nats bench` (see docs/perf.md). Example:
//   bench --url nats://127.0.0.1:4222 --mode pubsub --pubs 1 --subs 1 --size 16
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "tools/bench/workloads.h"

ABSL_FLAG(std::string, url, "nats://127.0.0.1:4222", "server address, nats://host:port");
ABSL_FLAG(std::string, mode, "pub", "pub | pubsub | fanout | reqrep | conns");
ABSL_FLAG(int, pubs, 1, "publishers (pub, pubsub, fanout)");
ABSL_FLAG(int, subs, -1, "subscribers; default 0 for pub, 1 for pubsub, 4 for fanout");
ABSL_FLAG(int64_t, size, 16, "payload bytes");
ABSL_FLAG(double, duration, 5, "seconds to publish (or to hold, in conns mode)");
ABSL_FLAG(int64_t, msgs, 0, "if > 0: total messages (requests for reqrep) instead of --duration");
ABSL_FLAG(std::string, subject, "bench", "subject to publish on");
ABSL_FLAG(bool, json, false, "print one JSON line instead of text");
ABSL_FLAG(int64_t, batch_bytes, 64 * 1024, "publisher write size; a PING follows each batch");
ABSL_FLAG(int, max_pending_pings, 4, "unanswered PINGs (batches) a publisher may have in flight");
ABSL_FLAG(int, inflight, 1, "reqrep: outstanding requests");
ABSL_FLAG(int64_t, warmup, 1000, "reqrep: requests excluded from the figures");
ABSL_FLAG(std::string, sub_url, "",
          "subscribers/responder connect here (another cluster node); default --url");
ABSL_FLAG(int, conns, 10000, "conns: connections to open and hold");
ABSL_FLAG(double, drain_timeout, 5, "seconds subscribers wait for stragglers after publishing");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("NATS load generator: bench --mode pub|pubsub|fanout|reqrep|conns");
  absl::ParseCommandLine(argc, argv);
  herald::bench::BenchOptions opt;
  auto ep = herald::bench::ParseUrl(absl::GetFlag(FLAGS_url));
  if (!ep.ok()) {
    std::fprintf(stderr, "bench: %s\n", ep.status().ToString().c_str());
    return 2;
  }
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
  opt.pubs = absl::GetFlag(FLAGS_pubs);
  opt.subs = absl::GetFlag(FLAGS_subs);
  if (opt.subs < 0) opt.subs = opt.mode == "fanout" ? 4 : opt.mode == "pubsub" ? 1 : 0;
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
