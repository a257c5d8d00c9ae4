// The bench tool's workloads, mirroring `nats bench`: pub, pubsub, fanout,
// reqrep, plus conns (hold many idle connections, for memory measurements).
//
// Each Run* function owns the threads and connections it starts and joins
// them before returning; every wait is bounded, so a stuck server yields an
// error Result rather than a hang. Call from one thread at a time.
#ifndef HERALD_TOOLS_BENCH_WORKLOADS_H_
#define HERALD_TOOLS_BENCH_WORKLOADS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "tools/bench/conn.h"

namespace herald::bench {

struct BenchOptions {
  Endpoint endpoint;
  // Where subscribers (and the reqrep responder) connect; defaults to
  // `endpoint`. Another node of a cluster measures routed traffic.
  std::optional<Endpoint> sub_endpoint;
  std::string mode = "pub";
  std::string subject = "bench";
  int pubs = 1;
  int subs = 0;
  size_t size = 16;
  absl::Duration duration = absl::Seconds(5);
  uint64_t msgs = 0;  // if > 0: total messages (or requests) instead of duration
  // Publishers write batches of about `batch_bytes` and send a PING after
  // each; at most `max_pending_pings` may be unanswered before a publisher
  // waits. That bounds what is in flight to the server (like nats bench's
  // periodic flush) so the rate measured is the rate the server processes.
  size_t batch_bytes = 64 * 1024;
  int max_pending_pings = 4;
  int inflight = 1;        // reqrep: outstanding requests
  uint64_t warmup = 1000;  // reqrep: requests excluded from latency stats
  int conns = 10000;       // conns mode
  // After publishers finish, how long subscribers may go without receiving
  // anything before the run ends with whatever they got.
  absl::Duration drain_timeout = absl::Seconds(5);
};

struct BenchResult {
  std::string mode;
  std::string error;  // empty on success
  int pubs = 0;
  int subs = 0;
  size_t size = 0;
  // Publishing: all publishers together, from start to last final PONG.
  uint64_t pub_msgs = 0;
  double pub_seconds = 0;
  // Receiving: all subscribers together, from first to last message received.
  uint64_t expected_msgs = 0;  // pub_msgs * subs
  uint64_t recv_msgs = 0;
  uint64_t recv_bytes = 0;
  double recv_seconds = 0;
  // Request/reply, in microseconds.
  uint64_t requests = 0;
  double req_seconds = 0;
  double lat_min_us = 0, lat_p50_us = 0, lat_p90_us = 0, lat_p99_us = 0, lat_p999_us = 0,
         lat_max_us = 0, lat_mean_us = 0;
  // conns
  int conns_open = 0;
  double conns_seconds = 0;

  double PubRate() const { return pub_seconds > 0 ? pub_msgs / pub_seconds : 0; }
  double PubMBps() const { return pub_seconds > 0 ? pub_msgs * size / pub_seconds / 1e6 : 0; }
  double RecvRate() const { return recv_seconds > 0 ? recv_msgs / recv_seconds : 0; }
  double RecvMBps() const { return recv_seconds > 0 ? recv_bytes / recv_seconds / 1e6 : 0; }
  double ReqRate() const { return req_seconds > 0 ? requests / req_seconds : 0; }
};

// pub (subs == 0), pubsub and fanout (subs > 0).
BenchResult RunPubSub(const BenchOptions& opt);

// One responder connection, one requester with `inflight` outstanding.
BenchResult RunReqRep(const BenchOptions& opt);

// Opens opt.conns connections (CONNECT + PING, waits for each PONG), prints
// "ready <n>" on stdout, then holds them for opt.duration, answering PINGs.
BenchResult RunConns(const BenchOptions& opt);

// Human-readable and one-line JSON renderings.
std::string FormatText(const BenchResult& r);
std::string FormatJson(const BenchResult& r);

}  // namespace herald::bench

#endif  // HERALD_TOOLS_BENCH_WORKLOADS_H_
