// The bench tool's JetStream workloads.
//
// jspub: (re)creates a stream, then publishes with a reply inbox and waits
// for each PubAck, either one at a time (ack "sync": every publish's latency
// is measured) or with up to `window` publishes in flight per connection
// (ack "async": throughput). At the end it checks with STREAM.INFO that the
// stream holds exactly as many messages as were acknowledged.
//
// jsinfo: asks $JS.API.INFO (with a bounded retry) and reports whether the
// server answered without an error; scripts use it to tell whether a server
// speaks JetStream at all.
//
// Like the other workloads, RunJsPub owns its threads and connections and
// joins them before returning; every wait is bounded. Call from one thread.
#ifndef HERALD_TOOLS_BENCH_JETSTREAM_H_
#define HERALD_TOOLS_BENCH_JETSTREAM_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "tools/bench/conn.h"

namespace herald::bench {

struct JsOptions {
  Endpoint endpoint;
  std::string stream = "BENCH";
  std::string subject = "js.bench";  // the stream's only subject
  int replicas = 1;
  std::string storage = "file";
  std::string ack = "sync";  // sync (1 in flight) | async (`window` in flight)
  int window = 256;          // async: unacknowledged publishes per connection
  int clients = 1;           // publisher connections, one thread each
  size_t size = 128;         // payload bytes
  // Bounds: publishing stops at `duration` (if time_bound) or after `msgs`
  // acknowledged-or-failed publishes in total (if > 0), whichever first.
  bool time_bound = true;
  absl::Duration duration = absl::Seconds(10);
  uint64_t msgs = 0;
  // How long creating the stream may be retried (a fresh cluster needs a
  // moment to elect its metadata leader) and how long a publisher may wait
  // without any ack before the run is declared stuck.
  absl::Duration ready_timeout = absl::Seconds(30);
  absl::Duration ack_timeout = absl::Seconds(10);
  bool keep_stream = false;  // else the stream is deleted after verification
  // jsconsume: "pull" (CONSUMER.MSG.NEXT batches of fetch_batch, one request
  // in flight) or "push" (flow control on); every message acked (+ACK).
  std::string consume = "pull";
  int fetch_batch = 100;
};

struct JsResult {
  std::string mode;   // "jspub" or "jsinfo"
  std::string error;  // fatal problem; empty on success
  std::string ack;
  int replicas = 0;
  int clients = 0;
  int window = 0;
  size_t size = 0;
  std::string stream;
  // Publishing, all clients together, from start to the last client's last ack.
  uint64_t published = 0;   // publishes answered (acks + errors)
  uint64_t acks = 0;        // successful PubAcks (not duplicates)
  uint64_t errors = 0;      // {"error":..} answers, 503 no-responders statuses
  uint64_t malformed = 0;   // answers that were neither
  std::string first_error;  // text of the first error answer
  double seconds = 0;
  // Per-publish latency (write of the PUB to its PubAck parsed), microseconds.
  double lat_min_us = 0, lat_p50_us = 0, lat_p90_us = 0, lat_p99_us = 0, lat_p999_us = 0,
         lat_max_us = 0, lat_mean_us = 0;
  // STREAM.INFO after the run.
  int64_t stream_messages = -1;
  bool verified = false;      // stream_messages == acks
  std::string stream_leader;  // cluster.leader from STREAM.INFO (clustered servers)
  double setup_seconds = 0;   // until the stream was created and answered INFO
  std::string info_json;      // jsinfo: the reply

  double Rate() const { return seconds > 0 ? acks / seconds : 0; }
};

JsResult RunJsPub(const JsOptions& opt);
// jsconsume: fills the stream with opt.msgs messages (as jspub async), makes a
// durable consumer with explicit acks, consumes and acks every message;
// msgs/s covers consuming only. Verifies that nothing is left pending.
JsResult RunJsConsume(const JsOptions& opt);
JsResult RunJsInfo(const JsOptions& opt);

std::string FormatJsText(const JsResult& r);
std::string FormatJsJson(const JsResult& r);

}  // namespace herald::bench

#endif  // HERALD_TOOLS_BENCH_JETSTREAM_H_
