#include "tools/heraldctl/commands.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tools/heraldctl/config_json.h"
#include "tools/heraldctl/output.h"

namespace herald::ctl {
namespace {

namespace pb = admin::v1;
using Stub = pb::Admin::StubInterface;

// Whether the command waits for an operation to end.
bool WaitsForOperation(const ParsedCommand& cmd) {
  const std::string& path = cmd.spec->path;
  if (path == "node add" || path == "node remove" || path == "node drain" ||
      path == "stream move" || path == "stream restore") {
    return !cmd.Has("no-wait");
  }
  return path == "op status" && cmd.Has("wait");
}

// Whether the command moves a whole stream (--timeout defaults to 1h).
bool TransfersAStream(const ParsedCommand& cmd) {
  return cmd.spec->path == "stream backup" || cmd.spec->path == "stream restore";
}

absl::Duration DefaultTimeout(const Invocation& inv, bool waits) {
  if (inv.global.timeout_given) return inv.global.timeout;
  if (TransfersAStream(inv.command)) return kTransferTimeout;
  if (waits) return kWaitTimeout;
  return inv.global.timeout;
}

// What a command handler works with: the stub, the options, where to print.
class Session {
 public:
  Session(const Invocation& inv, Stub& stub, std::ostream& out, std::ostream& err,
          const Clock& clock)
      : inv_(inv),
        stub_(stub),
        out_(out),
        err_(err),
        clock_(clock),
        waits_(WaitsForOperation(inv.command)),
        timeout_(DefaultTimeout(inv, waits_)),
        // One deadline for the whole command, so "stream edit" (two RPCs)
        // still ends within --timeout.
        deadline_(clock.now() + timeout_) {}

  const ParsedCommand& cmd() const { return inv_.command; }
  bool json() const { return inv_.global.json; }
  const std::string& server() const { return inv_.global.server; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  const Clock& clock() const { return clock_; }
  // Whether this command waits for an operation (WaitsForOperation).
  bool waits() const { return waits_; }
  absl::Duration timeout() const { return timeout_; }
  absl::Time deadline() const { return deadline_; }

  // Calls one RPC with the command's deadline. On a gRPC error prints it and
  // returns false.
  template <typename Req, typename Resp>
  bool Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*), const Req& req,
            Resp* resp) {
    return Report(CallUntil(method, req, resp, deadline_));
  }

  // Calls one RPC with its own deadline (never past the command's); prints
  // nothing.
  template <typename Req, typename Resp>
  grpc::Status CallUntil(grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                         const Req& req, Resp* resp, absl::Time deadline) {
    grpc::ClientContext ctx;
    Prepare(&ctx, deadline);
    return (stub_.*method)(&ctx, req, resp);
  }

  // Sets a context's deadline (never past the command's) and token, for the
  // streaming RPCs made through stub().
  void Prepare(grpc::ClientContext* ctx, absl::Time deadline) {
    ctx->set_deadline(absl::ToChronoTime(std::min(deadline, deadline_)));
    if (!inv_.global.token.empty()) {
      ctx->AddMetadata("authorization", absl::StrCat("Bearer ", inv_.global.token));
    }
  }
  Stub& stub() { return stub_; }

  // true for OK; otherwise prints the error and returns false.
  bool Report(const grpc::Status& st) {
    if (st.ok()) return true;
    err_ << "heraldctl: " << StatusCodeName(st.error_code()) << ": " << st.error_message() << "\n";
    // gRPC's own texts for an unreachable server do not say which server.
    if (st.error_code() == grpc::StatusCode::UNAVAILABLE ||
        st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      err_ << "heraldctl: (admin server " << inv_.global.server << ", --timeout "
           << absl::FormatDuration(timeout_) << ")\n";
    }
    return false;
  }

  // Prints the response: --json, or the human form.
  int Print(const google::protobuf::Message& resp, const std::string& human) {
    out_ << (json() ? ToJson(resp) : human);
    return kExitOk;
  }

  int Usage(const absl::Status& st) {
    err_ << "heraldctl: " << st.message() << "\n";
    return kExitUsage;
  }

 private:
  const Invocation& inv_;
  Stub& stub_;
  std::ostream& out_;
  std::ostream& err_;
  const Clock& clock_;
  const bool waits_;
  const absl::Duration timeout_;
  const absl::Time deadline_;
};

int Health(Session& s) {
  pb::HealthResponse resp;
  if (!s.Call(&Stub::Health, pb::HealthRequest(), &resp)) return kExitFailed;
  s.Print(resp, RenderHealth(resp));
  // Scripts and orchestrators test the status: not ready is a failed check.
  return resp.live() && resp.ready() ? kExitOk : kExitFailed;
}

int ClusterStatus(Session& s) {
  pb::ClusterStatusResponse resp;
  if (!s.Call(&Stub::ClusterStatus, pb::ClusterStatusRequest(), &resp)) return kExitFailed;
  return s.Print(resp, RenderCluster(resp));
}

int RaftLs(Session& s) {
  pb::ListRaftGroupsRequest req;
  req.set_name(s.cmd().Arg(0));
  pb::ListRaftGroupsResponse resp;
  if (!s.Call(&Stub::ListRaftGroups, req, &resp)) return kExitFailed;
  return s.Print(resp, RenderRaftGroups(resp));
}

int StepDown(Session& s, bool transfer) {
  pb::StepDownRequest req;
  req.set_group(s.cmd().Arg(0));
  if (transfer) req.set_to_node(s.cmd().Arg(1));
  pb::StepDownResponse resp;
  if (!s.Call(&Stub::StepDown, req, &resp)) return kExitFailed;
  std::string from = resp.previous_leader().empty() ? "(none)" : resp.previous_leader();
  std::string human =
      resp.new_leader().empty()
          ? absl::StrCat(req.group(), ": leader ", from,
                         " stepped down; the new leader is not known yet (see raft ls)\n")
          : absl::StrCat(req.group(), ": leader ", from, " -> ", resp.new_leader(), "\n");
  s.Print(resp, human);
  if (transfer && !resp.new_leader().empty() && resp.new_leader() != req.to_node()) {
    s.err() << "heraldctl: leadership of " << req.group() << " went to " << resp.new_leader()
            << ", not " << req.to_node() << "\n";
    return kExitFailed;
  }
  return kExitOk;
}

int StreamLs(Session& s) {
  pb::ListStreamsRequest req;
  if (const Value* v = s.cmd().Flag("subject")) req.set_subject(v->text);
  pb::ListStreamsResponse resp;
  if (!s.Call(&Stub::ListStreams, req, &resp)) return kExitFailed;
  return s.Print(resp, RenderStreams(resp));
}

int StreamInfo(Session& s) {
  pb::GetStreamRequest req;
  req.set_name(s.cmd().Arg(0));
  pb::StreamInfo resp;
  if (!s.Call(&Stub::GetStream, req, &resp)) return kExitFailed;
  return s.Print(resp, RenderStream(resp));
}

int StreamAdd(Session& s) {
  nlohmann::json config = nlohmann::json::object();
  if (const Value* v = s.cmd().Flag("config")) {
    absl::StatusOr<nlohmann::json> file = ReadJsonObjectFile(v->text);
    if (!file.ok()) return s.Usage(file.status());
    config = *std::move(file);
  }
  config["name"] = s.cmd().Arg(0);
  ApplyStreamFlags(s.cmd(), &config);
  pb::CreateStreamRequest req;
  req.set_config_json(config.dump());
  pb::StreamInfo resp;
  if (!s.Call(&Stub::CreateStream, req, &resp)) return kExitFailed;
  return s.Print(resp, absl::StrCat("Stream ", resp.name(), " created.\n\n", RenderStream(resp)));
}

int StreamEdit(Session& s) {
  // Read the file first: a usage error must come before any RPC.
  std::optional<nlohmann::json> overlay;
  if (const Value* v = s.cmd().Flag("config")) {
    absl::StatusOr<nlohmann::json> file = ReadJsonObjectFile(v->text);
    if (!file.ok()) return s.Usage(file.status());
    overlay = *std::move(file);
  }
  pb::GetStreamRequest get;
  get.set_name(s.cmd().Arg(0));
  pb::StreamInfo current;
  if (!s.Call(&Stub::GetStream, get, &current)) return kExitFailed;
  absl::StatusOr<nlohmann::json> config = ParseJsonObject(current.config_json());
  if (!config.ok()) {
    s.err() << "heraldctl: stream " << get.name() << ": the server's " << config.status().message()
            << "\n";
    return kExitFailed;
  }
  if (overlay) MergeTopLevel(*overlay, &*config);
  (*config)["name"] = get.name();
  ApplyStreamFlags(s.cmd(), &*config);
  pb::UpdateStreamRequest req;
  req.set_config_json(config->dump());
  pb::StreamInfo resp;
  if (!s.Call(&Stub::UpdateStream, req, &resp)) return kExitFailed;
  return s.Print(resp, absl::StrCat("Stream ", resp.name(), " updated.\n\n", RenderStream(resp)));
}

int StreamRm(Session& s) {
  pb::DeleteStreamRequest req;
  req.set_name(s.cmd().Arg(0));
  pb::DeleteStreamResponse resp;
  if (!s.Call(&Stub::DeleteStream, req, &resp)) return kExitFailed;
  return s.Print(resp, absl::StrCat("Stream ", req.name(), " deleted.\n"));
}

int StreamPurge(Session& s) {
  pb::PurgeStreamRequest req;
  req.set_name(s.cmd().Arg(0));
  if (const Value* v = s.cmd().Flag("subject")) req.set_subject(v->text);
  if (const Value* v = s.cmd().Flag("seq")) req.set_sequence(v->count);
  if (const Value* v = s.cmd().Flag("keep")) req.set_keep(v->count);
  pb::PurgeStreamResponse resp;
  if (!s.Call(&Stub::PurgeStream, req, &resp)) return kExitFailed;
  return s.Print(resp,
                 absl::StrCat("Purged ", resp.purged(), " messages from ", req.name(), ".\n"));
}

// Prints "[done/total] what" on stderr at most every kProgressInterval (the
// first and, with final, the last line always), never the same line twice.
class Progress {
 public:
  Progress(Session& s, std::string what) : s_(s), what_(std::move(what)) {}
  void Show(const std::string& done, const std::string& total, bool final = false) {
    const absl::Time now = s_.clock().now();
    if (!final && shown_any_ && now - last_ < kProgressInterval) return;
    std::string line = absl::StrCat("[", done, "/", total, "] ", what_);
    if (line == shown_) return;
    s_.err() << line << "\n" << std::flush;
    shown_ = std::move(line);
    shown_any_ = true;
    last_ = now;
  }

 private:
  Session& s_;
  const std::string what_;
  std::string shown_;
  bool shown_any_ = false;
  absl::Time last_;
};

std::string Errno() { return std::strerror(errno); }

int StreamBackup(Session& s) {
  const std::string name = s.cmd().Arg(0);
  const std::string path = s.cmd().Arg(1);
  const bool to_stdout = path == "-";
  const std::string tmp = path + ".tmp";
  std::ofstream file;
  if (!to_stdout) {
    file.open(tmp, std::ios::binary | std::ios::trunc);
    if (!file) {
      return s.Usage(absl::InvalidArgumentError(
          absl::StrCat("stream backup: cannot write ", tmp, ": ", Errno())));
    }
  }
  std::ostream& sink = to_stdout ? s.out() : file;
  // The summary goes to stderr when the backup itself is on stdout.
  std::ostream& report = to_stdout ? s.err() : s.out();
  auto discard = [&] {
    if (to_stdout) return;
    file.close();
    std::remove(tmp.c_str());
  };

  const absl::Time started = s.clock().now();
  pb::BackupStreamRequest req;
  req.set_name(name);
  grpc::ClientContext ctx;
  s.Prepare(&ctx, s.deadline());
  std::unique_ptr<grpc::ClientReaderInterface<pb::BackupChunk>> reader =
      s.stub().BackupStream(&ctx, req);
  pb::BackupChunk chunk;
  Progress progress(s, "messages");
  uint64_t bytes = 0, done = 0, total = 0;
  std::string write_error;
  while (reader->Read(&chunk)) {
    sink.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
    if (!sink) {
      write_error = absl::StrCat("writing ", to_stdout ? "stdout" : tmp, ": ", Errno());
      ctx.TryCancel();
      break;
    }
    bytes += chunk.data().size();
    done = chunk.messages_done();
    total = chunk.messages_total();
    progress.Show(absl::StrCat(done), absl::StrCat(total));
  }
  grpc::Status st = reader->Finish();
  if (!write_error.empty()) {
    discard();
    s.err() << "heraldctl: " << write_error << "\n";
    return kExitFailed;
  }
  if (!st.ok()) {
    discard();
    s.Report(st);
    return kExitFailed;
  }
  progress.Show(absl::StrCat(done), absl::StrCat(total), true);
  sink.flush();
  if (!to_stdout) {
    file.close();
    if (!file) {
      std::remove(tmp.c_str());
      s.err() << "heraldctl: writing " << tmp << ": " << Errno() << "\n";
      return kExitFailed;
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      s.err() << "heraldctl: renaming " << tmp << " to " << path << ": " << Errno() << "\n";
      std::remove(tmp.c_str());
      return kExitFailed;
    }
  }
  if (s.json()) {
    report << nlohmann::json{{"stream", name}, {"file", path}, {"messages", done}, {"bytes", bytes}}
                  .dump(2)
           << "\n";
  } else {
    report << "Backed up stream " << name << ": " << done << " messages, " << bytes << " bytes ("
           << HumanBytes(bytes) << ") to " << (to_stdout ? "stdout" : path) << " in "
           << absl::FormatDuration(absl::Trunc(s.clock().now() - started, absl::Milliseconds(1)))
           << ".\n";
  }
  return kExitOk;
}

int WaitForOperation(Session& s, pb::Operation op);

int StreamRestore(Session& s) {
  const std::string path = s.cmd().Arg(0);
  // An unreadable file is a usage error: found before any RPC.
  auto unreadable = [&](const std::string& why) {
    return s.Usage(
        absl::InvalidArgumentError(absl::StrCat("stream restore: cannot read ", path, ": ", why)));
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return unreadable("is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return unreadable(Errno());
  const uintmax_t size = std::filesystem::file_size(path, ec);
  const std::string total = ec ? "?" : HumanBytes(size);
  std::vector<char> buf(kRestoreChunkBytes);
  auto read_chunk = [&]() -> std::streamsize {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    return in.bad() ? -1 : in.gcount();
  };
  std::streamsize n = read_chunk();
  if (n < 0) return unreadable(Errno());

  pb::Operation op;
  grpc::ClientContext ctx;
  s.Prepare(&ctx, s.deadline());
  std::unique_ptr<grpc::ClientWriterInterface<pb::RestoreChunk>> writer =
      s.stub().RestoreStream(&ctx, &op);
  Progress progress(s, "sent");
  pb::RestoreChunk chunk;
  if (const Value* v = s.cmd().Flag("name")) chunk.set_name(v->text);
  uint64_t sent = 0;
  std::string read_error;
  // The first chunk goes even when empty: it carries the name. A refused
  // write means the server ended the call (its status comes from Finish).
  bool open = true;
  for (bool first = true; open && (first || n > 0); first = false) {
    chunk.set_data(buf.data(), static_cast<size_t>(n));
    if (!writer->Write(chunk)) {
      open = false;
      break;
    }
    chunk.clear_name();
    sent += static_cast<uint64_t>(n);
    progress.Show(HumanBytes(sent), total);
    if (in.eof()) break;
    n = read_chunk();
    if (n < 0) {
      read_error = absl::StrCat("reading ", path, ": ", Errno());
      ctx.TryCancel();  // the server deletes what it restored so far
      open = false;
    }
  }
  if (open) writer->WritesDone();
  grpc::Status st = writer->Finish();
  if (!read_error.empty()) {
    s.err() << "heraldctl: " << read_error << "\n";
    return kExitFailed;
  }
  if (!s.Report(st)) return kExitFailed;
  progress.Show(HumanBytes(sent), total, true);
  if (!s.waits()) {
    return s.Print(op, absl::StrCat(RenderOperation(op), "\nFollow it with: heraldctl op status ",
                                    op.id(), " --wait\n"));
  }
  s.err() << "Uploaded and verified; operation " << op.id() << " (" << op.kind() << " "
          << op.target() << ") started on " << (op.node().empty() ? "(unknown)" : op.node())
          << "\n";
  const std::string name = op.target();
  const int rc = WaitForOperation(s, std::move(op));
  if (rc != kExitOk || s.json()) return rc;
  pb::GetStreamRequest req;
  req.set_name(name);
  pb::StreamInfo info;
  if (!s.Call(&Stub::GetStream, req, &info)) return kExitFailed;
  s.out() << "\nStream " << name << " restored from " << path << ".\n\n" << RenderStream(info);
  return kExitOk;
}

int ConsumerLs(Session& s) {
  pb::ListConsumersRequest req;
  req.set_stream(s.cmd().Arg(0));
  pb::ListConsumersResponse resp;
  if (!s.Call(&Stub::ListConsumers, req, &resp)) return kExitFailed;
  return s.Print(resp, RenderConsumers(resp));
}

int ConsumerInfo(Session& s) {
  pb::GetConsumerRequest req;
  req.set_stream(s.cmd().Arg(0));
  req.set_name(s.cmd().Arg(1));
  pb::ConsumerInfo resp;
  if (!s.Call(&Stub::GetConsumer, req, &resp)) return kExitFailed;
  return s.Print(resp, RenderConsumer(resp));
}

int ConsumerAdd(Session& s) {
  nlohmann::json config = nlohmann::json::object();
  if (const Value* v = s.cmd().Flag("config")) {
    absl::StatusOr<nlohmann::json> file = ReadJsonObjectFile(v->text);
    if (!file.ok()) return s.Usage(file.status());
    config = *std::move(file);
  }
  config["durable_name"] = s.cmd().Arg(1);
  // nats-server reads a missing ack_policy as "none"; an operator creating a
  // consumer by hand almost always means explicit acks (as the nats CLI).
  if (!config.contains("ack_policy")) config["ack_policy"] = "explicit";
  ApplyConsumerFlags(s.cmd(), &config);
  pb::CreateConsumerRequest req;
  req.set_stream(s.cmd().Arg(0));
  req.set_config_json(config.dump());
  pb::ConsumerInfo resp;
  if (!s.Call(&Stub::CreateConsumer, req, &resp)) return kExitFailed;
  return s.Print(resp, absl::StrCat("Consumer ", resp.stream(), " > ", resp.name(), " created.\n\n",
                                    RenderConsumer(resp)));
}

int ConsumerRm(Session& s) {
  pb::DeleteConsumerRequest req;
  req.set_stream(s.cmd().Arg(0));
  req.set_name(s.cmd().Arg(1));
  pb::DeleteConsumerResponse resp;
  if (!s.Call(&Stub::DeleteConsumer, req, &resp)) return kExitFailed;
  return s.Print(resp, absl::StrCat("Consumer ", req.stream(), " > ", req.name(), " deleted.\n"));
}

int ConnLs(Session& s) {
  pb::ListConnectionsRequest req;
  if (const Value* v = s.cmd().Flag("node")) req.set_node(v->text);
  if (const Value* v = s.cmd().Flag("user")) req.set_user(v->text);
  if (const Value* v = s.cmd().Flag("subject")) req.set_subject(v->text);
  if (const Value* v = s.cmd().Flag("idle")) {
    req.set_idle_ms(absl::ToInt64Milliseconds(v->duration));
  }
  pb::ListConnectionsResponse resp;
  if (!s.Call(&Stub::ListConnections, req, &resp)) return kExitFailed;
  // The list is still useful without them; say so rather than fail.
  for (const auto& node : resp.unreachable_nodes()) {
    s.err() << "heraldctl: warning: node " << node
            << " did not answer; its connections are missing\n";
  }
  return s.Print(resp, RenderConnections(resp));
}

int ConnKick(Session& s) {
  pb::CloseConnectionRequest req;
  req.set_cid(s.cmd().args[0].count);
  if (const Value* v = s.cmd().Flag("node")) req.set_node(v->text);
  pb::CloseConnectionResponse resp;
  if (!s.Call(&Stub::CloseConnection, req, &resp)) return kExitFailed;
  return s.Print(
      resp, absl::StrCat("Connection ", req.cid(),
                         req.node().empty() ? "" : absl::StrCat(" on ", req.node()), " closed.\n"));
}

int Reload(Session& s) {
  pb::ReloadResponse resp;
  if (!s.Call(&Stub::Reload, pb::ReloadRequest(), &resp)) return kExitFailed;
  return s.Print(resp, absl::StrCat("Configuration reloaded on ", resp.node(), ".\n"));
}

// ------------------------------------------------------------ operations

// What to do when the node running an operation stopped answering for it.
std::string LostOperationHint(const pb::Operation& op) {
  std::string hint;
  if (op.kind() == "drain_node" && op.target() == op.node()) {
    hint = absl::StrCat("heraldctl: ", op.node(),
                        " was drained through itself: a drained node shuts itself down when its "
                        "lame duck ends, and the operation's state lived on it.\n");
  } else {
    hint = absl::StrCat("heraldctl: an operation's state lives on the node that runs it (",
                        op.node().empty() ? "unknown" : op.node(), ").\n");
  }
  absl::StrAppend(&hint,
                  "heraldctl: its outcome is unknown; check through another node (heraldctl "
                  "--server OTHER cluster status, raft ls, stream info).\n");
  return hint;
}

// The end of a wait: the operation as it ended; exit 0 when done.
int Ended(Session& s, const pb::Operation& op) {
  s.Print(op, RenderOperation(op));
  if (op.state() == "done") return kExitOk;
  if (op.state() == "failed") {
    s.err() << "heraldctl: operation " << op.id() << " failed: " << op.error() << "\n";
  } else {
    s.err() << "heraldctl: operation " << op.id() << " is in an unknown state \"" << op.state()
            << "\"\n";
  }
  return kExitFailed;
}

// Polls `op` (as its start or a first poll returned it) until it ends.
int WaitForOperation(Session& s, pb::Operation op) {
  const std::string id = op.id();
  std::string shown;  // the progress line printed last
  auto show = [&] {
    std::string line = ProgressLine(op);
    if (!line.empty() && line != shown) {
      s.err() << line << "\n" << std::flush;
      shown = line;
    }
  };
  int failures = 0;
  while (op.state() == "running") {
    show();
    const absl::Time now = s.clock().now();
    if (now >= s.deadline()) {
      s.Print(op, RenderOperation(op));
      s.err() << "heraldctl: DEADLINE_EXCEEDED: operation " << id << " still running after "
              << "--timeout " << absl::FormatDuration(s.timeout()) << " (last: " << ProgressLine(op)
              << "); it goes on on " << (op.node().empty() ? "the server" : op.node())
              << ": heraldctl op status " << id << " --wait\n";
      return kExitFailed;
    }
    s.clock().sleep(std::min(kPollInterval, s.deadline() - now));
    pb::GetOperationRequest req;
    req.set_id(id);
    pb::Operation next;
    grpc::Status st =
        s.CallUntil(&Stub::GetOperation, req, &next, s.clock().now() + kPollRpcTimeout);
    if (st.ok()) {
      op = std::move(next);
      failures = 0;
      continue;
    }
    const grpc::StatusCode code = st.error_code();
    const bool transient =
        code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED;
    if (transient && ++failures < kPollFailuresBeforeGivingUp) continue;
    s.err() << "heraldctl: " << StatusCodeName(code) << ": " << st.error_message() << "\n";
    if (transient) {
      s.err() << "heraldctl: lost the admin server " << s.server()
              << " while waiting for operation " << id << " (" << failures
              << " polls failed; last progress: " << ProgressLine(op)
              << "): the node answering is gone or unreachable.\n"
              << LostOperationHint(op);
    } else if (code == grpc::StatusCode::NOT_FOUND) {
      s.err() << "heraldctl: operation " << id << " is no longer known to the admin server "
              << s.server() << " (last progress: " << ProgressLine(op) << "): node "
              << (op.node().empty() ? "(unknown)" : op.node())
              << ", which ran it, restarted, left the cluster or is down.\n"
              << LostOperationHint(op);
    }
    return kExitFailed;
  }
  show();
  return Ended(s, op);
}

// node remove, node drain, stream move: start the operation, then wait for
// it unless --no-wait.
template <typename Req>
int StartOperation(Session& s,
                   grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, pb::Operation*),
                   const Req& req) {
  pb::Operation op;
  const absl::Time deadline = s.waits() ? s.clock().now() + kStartRpcTimeout : s.deadline();
  if (!s.Report(s.CallUntil(method, req, &op, deadline))) return kExitFailed;
  if (!s.waits()) {
    return s.Print(op, absl::StrCat(RenderOperation(op), "\nFollow it with: heraldctl op status ",
                                    op.id(), " --wait\n"));
  }
  s.err() << "Operation " << op.id() << " (" << op.kind() << " " << op.target() << ") started on "
          << (op.node().empty() ? "(unknown)" : op.node()) << "\n";
  if (op.kind() == "drain_node" && !op.node().empty() && op.node() == op.target()) {
    s.err() << "heraldctl: note: " << op.node()
            << " runs this operation and shuts itself down when its lame duck ends; to follow "
               "a drain to its end, send it through another node (--server)\n";
  }
  return WaitForOperation(s, std::move(op));
}

int NodeAdd(Session& s) {
  pb::AddNodeRequest req;
  req.set_node(s.cmd().Arg(0));
  return StartOperation(s, &Stub::AddNode, req);
}

int NodeRemove(Session& s) {
  pb::RemoveNodeRequest req;
  req.set_node(s.cmd().Arg(0));
  return StartOperation(s, &Stub::RemoveNode, req);
}

int NodeDrain(Session& s) {
  pb::DrainNodeRequest req;
  req.set_node(s.cmd().Arg(0));
  req.set_undo(s.cmd().Has("undo"));
  return StartOperation(s, &Stub::DrainNode, req);
}

int StreamMove(Session& s) {
  pb::MoveStreamRequest req;
  req.set_stream(s.cmd().Arg(0));
  if (const Value* v = s.cmd().Flag("from")) req.set_from_node(v->text);
  if (const Value* v = s.cmd().Flag("to")) req.set_to_node(v->text);
  return StartOperation(s, &Stub::MoveStream, req);
}

int OpStatus(Session& s) {
  pb::GetOperationRequest req;
  req.set_id(s.cmd().Arg(0));
  pb::Operation op;
  const absl::Time deadline = s.waits() ? s.clock().now() + kPollRpcTimeout : s.deadline();
  if (!s.Report(s.CallUntil(&Stub::GetOperation, req, &op, deadline))) return kExitFailed;
  if (s.waits()) return WaitForOperation(s, std::move(op));
  s.Print(op, RenderOperation(op));
  if (op.state() == "failed") {
    s.err() << "heraldctl: operation " << op.id() << " failed: " << op.error() << "\n";
    return kExitFailed;
  }
  return kExitOk;
}

const std::map<std::string, std::function<int(Session&)>>& Handlers() {
  static const auto* handlers = new std::map<std::string, std::function<int(Session&)>>{
      {"health", Health},
      {"cluster status", ClusterStatus},
      {"node add", NodeAdd},
      {"node remove", NodeRemove},
      {"node drain", NodeDrain},
      {"op status", OpStatus},
      {"stream move", StreamMove},
      {"raft ls", RaftLs},
      {"raft stepdown", [](Session& s) { return StepDown(s, false); }},
      {"raft transfer", [](Session& s) { return StepDown(s, true); }},
      {"stream ls", StreamLs},
      {"stream info", StreamInfo},
      {"stream add", StreamAdd},
      {"stream edit", StreamEdit},
      {"stream rm", StreamRm},
      {"stream purge", StreamPurge},
      {"stream backup", StreamBackup},
      {"stream restore", StreamRestore},
      {"consumer ls", ConsumerLs},
      {"consumer info", ConsumerInfo},
      {"consumer add", ConsumerAdd},
      {"consumer rm", ConsumerRm},
      {"conn ls", ConnLs},
      {"conn kick", ConnKick},
      {"reload", Reload},
  };
  return *handlers;
}

}  // namespace

std::string StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      break;
  }
  return absl::StrCat("CODE_", static_cast<int>(code));
}

int RunCommand(const Invocation& inv, Stub& stub, std::ostream& out, std::ostream& err,
               const Clock& clock) {
  if (inv.command.spec == nullptr) {
    err << "heraldctl: no command\n";
    return kExitUsage;
  }
  auto it = Handlers().find(inv.command.spec->path);
  if (it == Handlers().end()) {
    // A command in the table without a handler: a heraldctl bug, caught by
    // commands_test (every command is run there).
    err << "heraldctl: " << inv.command.spec->path << ": not implemented\n";
    return kExitFailed;
  }
  Session session(inv, stub, out, err, clock);
  return it->second(session);
}

}  // namespace herald::ctl
