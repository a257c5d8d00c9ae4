#include "tools/heraldctl/args.h"

#include <algorithm>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/go_duration.h"

namespace herald::ctl {
namespace {

constexpr uint64_t kMaxCount = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
constexpr uint64_t kMaxInt32 = static_cast<uint64_t>(std::numeric_limits<int32_t>::max());

// The stream flags shared by "stream add" and "stream edit".
std::vector<FlagSpec> StreamFlags(bool add) {
  return {
      {"subjects", ValueKind::kList, "S1,S2",
       add ? "subjects the stream stores (comma-separated; required unless --config gives them)"
           : "replace the stream's subjects (comma-separated)"},
      {"replicas", ValueKind::kCount, "N", "replicas (num_replicas), at least 1", {}, 1},
      {"storage", ValueKind::kChoice, "file|memory", "storage type", {"file", "memory"}},
      {"retention",
       ValueKind::kChoice,
       "limits|interest|workqueue",
       "retention policy",
       {"limits", "interest", "workqueue"}},
      {"max-msgs", ValueKind::kCount, "N", "most messages kept (max_msgs; 0: unlimited)"},
      {"max-bytes", ValueKind::kCount, "N", "most bytes kept (max_bytes; 0: unlimited)"},
      {"max-age", ValueKind::kDuration, "DUR",
       "oldest message kept, e.g. 24h (max_age; 0s: unlimited)"},
      {"discard", ValueKind::kChoice, "old|new", "what a full stream discards", {"old", "new"}},
      {"config", ValueKind::kFile, "FILE",
       add ? "a StreamConfig JSON file to start from; the flags override its fields"
           : "a JSON object whose fields replace the current config's; the flags override it"},
  };
}

// The flag of the commands that start an operation (they wait by default).
FlagSpec NoWaitFlag() {
  return {"no-wait", ValueKind::kBool, "",
          "print the operation as it starts and return (follow it: op status ID --wait)"};
}

// How a command that starts an operation waits for it.
std::string WaitHelp(const std::string& what) {
  return absl::StrCat("Waits until ", what,
                      " ends, printing its progress on stderr as it changes\n"
                      "(\"[done/total] what it does\"): exit 0 when done, 1 when it failed (its\n"
                      "error on stderr). --timeout bounds the wait (default 10m here; each poll\n"
                      "has its own short deadline); after it the operation goes on in the\n"
                      "server. --no-wait prints the operation (with its id) and returns at once.\n"
                      "--json prints the final Operation.");
}

std::vector<CommandSpec> BuildCommands() {
  std::vector<CommandSpec> c;
  c.push_back({"health", "Health", "liveness and readiness of the node answering",
               "Exit status 0 when the node is ready, 1 when it is live but not ready\n"
               "(the reason is printed). Needs no token."});
  c.push_back({"cluster status", "ClusterStatus", "every node of the cluster",
               "Lists the nodes as the answering node knows them: whether each is up,\n"
               "its role in the metadata group, connections, uptime and disk use."});
  c.push_back({"node add",
               "AddNode, GetOperation",
               "makes a started node a voter of the cluster's metadata group",
               "NODE must be running with routes to the cluster (start it first: it\n"
               "asks to join by itself). Lifts its cordon if it was removed or drained\n"
               "before, asks the metadata leader to add it (a learner first) and waits\n"
               "until it is a voter; from then on new replicas may be placed on it\n"
               "(stream move puts existing ones there). NOT_FOUND when no node of that\n"
               "name is connected.\n"
               "\n" +
                   WaitHelp("the addition"),
               {{"NODE", ValueKind::kString, true, "the node's server_name"}},
               {NoWaitFlag()}});
  c.push_back({"node remove",
               "RemoveNode, GetOperation",
               "moves every replica off a node, then removes it from the cluster",
               "Places nothing new on NODE, re-places each stream replica it holds on\n"
               "another node (picked by the metadata leader) and waits until the stream\n"
               "has its full count of caught-up replicas without NODE, then removes NODE\n"
               "from the metadata group. Its process keeps running: stop it afterwards.\n"
               "Refused (FAILED_PRECONDITION, nothing changed) when a stream's replica\n"
               "could not be re-placed (every other connected node already holds one:\n"
               "add a node or lower its replicas first), or when the metadata group\n"
               "would be left without a quorum, or NODE is the last node.\n"
               "\n" +
                   WaitHelp("the removal"),
               {{"NODE", ValueKind::kString, true, "the node's name (cluster status)"}},
               {NoWaitFlag()}});
  c.push_back({"node drain",
               "DrainNode, GetOperation",
               "moves leaderships off a node and puts it in lame duck",
               "Places nothing new on NODE, hands every Raft leadership it holds to\n"
               "another replica, and puts it in lame duck: it accepts no new clients,\n"
               "tells connected ones to reconnect elsewhere, closes them after its\n"
               "lame_duck_grace_period, and shuts itself down when its lame duck ends.\n"
               "Its replicas stay where they are (node remove moves them). A drained\n"
               "node stays cordoned, also once restarted, until --undo ends the drain.\n"
               "\n" +
                   WaitHelp("the drain") +
                   "\n"
                   "An operation runs on the node that received it: to follow the drain of\n"
                   "a node to its end, send it through another node (--server).",
               {{"NODE", ValueKind::kString, true, "the node's name (cluster status)"}},
               {{"undo", ValueKind::kBool, "",
                 "end a drain: NODE may take new replicas again (back from maintenance)"},
                NoWaitFlag()}});
  c.push_back(
      {"op status",
       "GetOperation",
       "the state of a node remove, node drain or stream move",
       "Prints the operation: state (running, done, failed), what it does now,\n"
       "its steps, and the error of a failed one. Any node answers for the\n"
       "operations of the nodes connected to it; finished operations are kept\n"
       "for an hour. Exit status 1 when the operation failed.\n"
       "With --wait, waits for its end as node remove does, printing progress\n"
       "on stderr; --timeout bounds the wait (default 10m).",
       {{"ID", ValueKind::kString, true, "the operation's id (as printed when it started)"}},
       {{"wait", ValueKind::kBool, "", "wait until the operation ends (exit 0 done, 1 failed)"}}});
  c.push_back(
      {"raft ls",
       "ListRaftGroups",
       "Raft groups, their leaders and replica lag",
       "Lists the metadata group (_meta_) and every stream's group. REPLICAS\n"
       "marks the leader with *, and shows (lag=N) for replicas behind the\n"
       "leader's log and (offline) for unconnected ones.",
       {{"GROUP", ValueKind::kString, false, "only this group (_meta_ or a stream name)"}}});
  c.push_back({"raft stepdown",
               "StepDown",
               "moves a group's leadership to another replica",
               "The leader hands over to its most caught-up replica.",
               {{"GROUP", ValueKind::kString, true, "_meta_ or a stream name"}}});
  c.push_back({"raft transfer",
               "StepDown (to_node)",
               "moves a group's leadership to a node",
               "The leader hands over to NODE, which must be a replica of the group.",
               {{"GROUP", ValueKind::kString, true, "_meta_ or a stream name"},
                {"NODE", ValueKind::kString, true, "the replica (node name) to lead"}}});

  c.push_back({"stream ls",
               "ListStreams",
               "lists streams",
               "",
               {},
               {{"subject", ValueKind::kString, "S", "only streams whose subjects overlap S"}}});
  c.push_back({"stream info",
               "GetStream",
               "a stream's state, replicas and config",
               "",
               {{"NAME", ValueKind::kString, true, "the stream"}}});
  c.push_back({"stream add",
               "CreateStream",
               "creates a stream",
               "Sends nats-server's StreamConfig JSON: name, subjects, num_replicas,\n"
               "storage, retention, max_msgs, max_bytes, max_age (nanoseconds), discard.\n"
               "Fields not given are left to the server's defaults.",
               {{"NAME", ValueKind::kString, true, "the stream's name"}},
               StreamFlags(true),
               {},
               {},
               {{"subjects", "config"}}});
  c.push_back({"stream edit",
               "GetStream, UpdateStream",
               "changes a stream's config",
               "Reads the stream's current config, changes the fields given and sends\n"
               "the result as an update; other fields keep their values.",
               {{"NAME", ValueKind::kString, true, "the stream"}},
               StreamFlags(false),
               {"subjects", "replicas", "storage", "retention", "max-msgs", "max-bytes", "max-age",
                "discard", "config"}});
  c.push_back({"stream rm",
               "DeleteStream",
               "deletes a stream and its messages",
               "",
               {{"NAME", ValueKind::kString, true, "the stream"}}});
  c.push_back({"stream purge",
               "PurgeStream",
               "removes a stream's messages",
               "Without flags removes every message.",
               {{"NAME", ValueKind::kString, true, "the stream"}},
               {{"subject", ValueKind::kString, "S", "only messages on subject S"},
                {"seq", ValueKind::kCount, "N", "only messages below sequence N", {}, 1},
                {"keep", ValueKind::kCount, "N", "keep the N newest messages"}},
               {},
               {{"seq", "keep"}}});

  c.push_back({"stream move",
               "MoveStream, GetOperation",
               "replaces one replica of a stream by another node",
               "Replaces the replica of NAME on --from by one on --to (or, without --to,\n"
               "on a node the metadata leader picks among those holding none of its\n"
               "replicas) and waits until the stream has its full count of caught-up\n"
               "replicas without --from. INVALID_ARGUMENT when --from holds no replica\n"
               "or --to already holds one; NOT_FOUND for an unknown stream or node;\n"
               "FAILED_PRECONDITION when --to is not connected or is drained.\n"
               "\n" +
                   WaitHelp("the move"),
               {{"NAME", ValueKind::kString, true, "the stream"}},
               {{"from", ValueKind::kString, "NODE", "the node whose replica moves (required)"},
                {"to", ValueKind::kString, "NODE", "the node to move it to (default: any)"},
                NoWaitFlag()},
               {},
               {},
               {},
               {"from"}});

  c.push_back({"stream backup",
               "BackupStream",
               "writes a stream's config and messages to a backup file",
               "Streams the backup into FILE.tmp and renames it to FILE once complete:\n"
               "FILE is never left partial (a failed backup removes FILE.tmp). FILE \"-\"\n"
               "writes to stdout (the summary then goes to stderr). The backup is\n"
               "consistent as of one sequence, read on the stream's leader through\n"
               "whichever node answers. Prints \"[done/total] messages\" on stderr as it\n"
               "goes (a few times a second at most), then the messages, bytes and file;\n"
               "--json: {\"stream\", \"file\", \"messages\", \"bytes\"} (numbers).\n"
               "--timeout defaults to 1h here. Needs the operator role.",
               {{"NAME", ValueKind::kString, true, "the stream"},
                {"FILE", ValueKind::kString, true, "the backup file to write (\"-\": stdout)"}}});
  c.push_back({"stream restore",
               "RestoreStream, GetOperation",
               "creates a stream from a backup file",
               "Sends FILE in 256 KiB chunks (never the whole file in memory; progress\n"
               "\"[sent/total] sent\" on stderr). The server verifies every frame as it\n"
               "spools the upload, so a damaged file is refused before anything is\n"
               "created: DATA_LOSS (checksum) or INVALID_ARGUMENT (truncated, not a\n"
               "backup); ALREADY_EXISTS when the stream exists (rm it first or give\n"
               "--name). Then an operation (restore_stream) creates the stream and\n"
               "writes its messages, keeping the backup's sequences and times; a\n"
               "failure leaves no stream behind. Once done, prints the new stream as\n"
               "stream info does. An unreadable FILE is a usage error, before any RPC.\n"
               "--timeout (default 1h here) bounds the upload and the wait together.\n"
               "--no-wait prints the operation after the upload and returns; --json\n"
               "prints the final Operation. Needs the operator role.",
               {{"FILE", ValueKind::kString, true, "the backup file (as stream backup wrote it)"}},
               {{"name", ValueKind::kString, "NAME",
                 "restore under this name (default: the backup's own stream name)"},
                NoWaitFlag()}});

  c.push_back({"consumer ls",
               "ListConsumers",
               "lists a stream's consumers",
               "",
               {{"STREAM", ValueKind::kString, true, "the stream"}}});
  c.push_back({"consumer info",
               "GetConsumer",
               "a consumer's state and config",
               "",
               {{"STREAM", ValueKind::kString, true, "the stream"},
                {"NAME", ValueKind::kString, true, "the consumer"}}});
  c.push_back(
      {"consumer add",
       "CreateConsumer",
       "creates a durable consumer",
       "Sends nats-server's ConsumerConfig JSON: durable_name (NAME), ack_policy,\n"
       "deliver_policy, filter_subject, deliver_subject (push consumers),\n"
       "max_deliver, ack_wait (nanoseconds). ack_policy defaults to explicit\n"
       "unless --ack or --config sets it; other fields not given are left to the\n"
       "server's defaults. Without --push the consumer is a pull consumer.",
       {{"STREAM", ValueKind::kString, true, "the stream"},
        {"NAME", ValueKind::kString, true, "the consumer's durable name"}},
       {{"filter", ValueKind::kString, "S", "only messages on subjects matching S"},
        {"ack",
         ValueKind::kChoice,
         "explicit|all|none",
         "ack policy (default explicit)",
         {"explicit", "all", "none"}},
        {"deliver",
         ValueKind::kChoice,
         "all|last|new|last_per_subject",
         "where delivery starts",
         {"all", "last", "new", "last_per_subject"}},
        {"push", ValueKind::kString, "DELIVER_SUBJECT",
         "a push consumer delivering to this subject"},
        {"max-deliver", ValueKind::kCount, "N", "deliveries of a message at most (0: unlimited)"},
        {"ack-wait", ValueKind::kDuration, "DUR", "redelivery after this long without an ack"},
        {"config", ValueKind::kFile, "FILE",
         "a ConsumerConfig JSON file to start from; the flags override its fields"}}});
  c.push_back({"consumer rm",
               "DeleteConsumer",
               "deletes a consumer",
               "",
               {{"STREAM", ValueKind::kString, true, "the stream"},
                {"NAME", ValueKind::kString, true, "the consumer"}}});

  c.push_back(
      {"conn ls",
       "ListConnections",
       "client connections of every node",
       "Nodes that did not answer in time are named on stderr (and in\n"
       "unreachable_nodes with --json).",
       {},
       {{"node", ValueKind::kString, "N", "only connections to node N"},
        {"user", ValueKind::kString, "U", "only connections of user U"},
        {"subject", ValueKind::kString, "S", "only those subscribed to a subject matching S"},
        {"idle", ValueKind::kDuration, "DUR", "only those idle at least DUR"}}});
  c.push_back({"conn kick",
               "CloseConnection",
               "closes a client connection",
               "",
               {{"CID", ValueKind::kCount, true, "the connection id (conn ls)"}},
               {{"node", ValueKind::kString, "N",
                 "the node the client is connected to (default: the answering node)"}}});
  c.push_back({"reload", "Reload", "re-reads the answering node's configuration file",
               "As SIGHUP. Reloads only the node --server points at."});
  return c;
}

// Upper bound of a count flag: num_replicas is an int in nats-server's JSON,
// every other count an int64.
uint64_t MaxCount(const std::string& flag) { return flag == "replicas" ? kMaxInt32 : kMaxCount; }

bool IsDigits(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

// Checks and converts `text` for a flag or argument named `what`.
absl::StatusOr<Value> Convert(const std::string& what, ValueKind kind, const std::string& text,
                              const std::vector<std::string>& choices, uint64_t min_count,
                              uint64_t max_count) {
  Value v;
  v.text = text;
  switch (kind) {
    case ValueKind::kBool:
      break;
    case ValueKind::kString:
    case ValueKind::kFile:
      if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": empty value"));
      break;
    case ValueKind::kChoice:
      if (std::find(choices.begin(), choices.end(), text) == choices.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": \"", text, "\" is not one of ", absl::StrJoin(choices, ", ")));
      }
      break;
    case ValueKind::kCount:
      // Digits only: SimpleAtoi would also take "+3" and surrounding spaces.
      if (!IsDigits(text)) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": \"", text, "\" is not a non-negative integer"));
      }
      if (!absl::SimpleAtoi(text, &v.count) || v.count > max_count) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": ", text, " is too large (at most ", max_count, ")"));
      }
      if (v.count < min_count) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": must be at least ", min_count, ", got ", text));
      }
      break;
    case ValueKind::kDuration: {
      absl::StatusOr<absl::Duration> d = ParseGoDuration(text);
      if (!d.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": \"", text, "\" is not a duration (examples: 500ms, 10s, 1h30m)"));
      }
      if (*d < absl::ZeroDuration()) {
        return absl::InvalidArgumentError(absl::StrCat(what, ": negative duration ", text));
      }
      v.duration = *d;
      break;
    }
    case ValueKind::kList:
      for (absl::string_view item : absl::StrSplit(text, ',')) {
        std::string s(absl::StripAsciiWhitespace(item));
        if (s.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(what, ": empty item in \"", text, "\" (give S1,S2,...)"));
        }
        v.list.push_back(s);
      }
      break;
  }
  return v;
}

// The global flags: recognised before and after the command words.
struct GlobalFlag {
  const char* name;
  const char* value_name;  // nullptr: takes no value
  const char* help;
};

const std::vector<GlobalFlag>& GlobalFlags() {
  static const auto* flags = new std::vector<GlobalFlag>{
      {"server", "HOST:PORT", "the admin listener (env HERALD_ADMIN; default 127.0.0.1:7222)"},
      {"token", "T", "admin token, sent as `authorization: Bearer T` (env HERALD_ADMIN_TOKEN)"},
      {"tls-ca", "FILE", "use TLS, trusting this CA (env HERALD_ADMIN_CA)"},
      {"tls-cert", "FILE", "use TLS with this client certificate (needs --tls-key)"},
      {"tls-key", "FILE", "the client certificate's private key (needs --tls-cert)"},
      {"json", nullptr, "print the response as JSON (see below)"},
      {"timeout", "DUR",
       "deadline of the whole command, e.g. 3s (default 10s; 10m for a command\n"
       "                        that waits for an operation; 1h for stream backup\n"
       "                        and stream restore)"},
      {"help", nullptr, "help; `heraldctl <command> --help` for a command's"},
  };
  return *flags;
}

const GlobalFlag* FindGlobal(const std::string& name) {
  for (const auto& g : GlobalFlags()) {
    if (name == g.name) return &g;
  }
  return nullptr;
}

// Whether some command has a switch (kBool flag) of this name: such a flag
// takes no value, whichever command it turns out to belong to.
bool IsSwitch(const std::string& name) {
  for (const auto& c : Commands()) {
    for (const auto& f : c.flags) {
      if (f.name == name && f.kind == ValueKind::kBool) return true;
    }
  }
  return false;
}

// The first words of the command paths ("stream", "raft", ...), in order.
std::vector<std::string> Groups() {
  std::vector<std::string> groups;
  for (const auto& c : Commands()) {
    std::string first = c.path.substr(0, c.path.find(' '));
    if (std::find(groups.begin(), groups.end(), first) == groups.end()) groups.push_back(first);
  }
  return groups;
}

std::vector<const CommandSpec*> GroupCommands(const std::string& group) {
  std::vector<const CommandSpec*> out;
  for (const auto& c : Commands()) {
    if (c.path == group || absl::StartsWith(c.path, group + " ")) out.push_back(&c);
  }
  return out;
}

std::string Synopsis(const CommandSpec& c) {
  std::string s = absl::StrCat("heraldctl ", c.path);
  for (const auto& a : c.args) {
    absl::StrAppend(&s, a.required ? " " : " [", a.name, a.required ? "" : "]");
  }
  std::vector<std::string> shown;
  for (const auto& [flag, unless] : c.required_unless) shown.push_back(flag);
  for (const auto& flag : c.required) shown.push_back(flag);
  for (const std::string& flag : shown) {
    for (const auto& f : c.flags) {
      if (f.name == flag) absl::StrAppend(&s, " --", f.name, " ", f.value_name);
    }
  }
  if (c.flags.size() > shown.size()) absl::StrAppend(&s, " [flags]");
  return s;
}

std::string GroupHelp(const std::string& group) {
  std::string s = absl::StrCat("Commands of heraldctl ", group, ":\n");
  for (const CommandSpec* c : GroupCommands(group)) {
    absl::StrAppend(&s, "  ", absl::StrFormat("%-44s", Synopsis(*c).substr(10)), c->summary, "\n");
  }
  absl::StrAppend(&s, "\nRun 'heraldctl ", group, " <command> --help' for a command's flags.\n");
  return s;
}

std::string UsageHint(const std::string& path) {
  if (path.empty()) return "run 'heraldctl --help'";
  return absl::StrCat("run 'heraldctl ", path, " --help'");
}

absl::Status Usage(const std::string& reason, const std::string& path) {
  return absl::InvalidArgumentError(absl::StrCat(reason, " (", UsageHint(path), ")"));
}

}  // namespace

const std::vector<CommandSpec>& Commands() {
  static const auto* commands = new std::vector<CommandSpec>(BuildCommands());
  return *commands;
}

const Value* ParsedCommand::Flag(const std::string& flag) const {
  auto it = flags.find(flag);
  return it == flags.end() ? nullptr : &it->second;
}

std::string ParsedCommand::Arg(size_t i) const { return i < args.size() ? args[i].text : ""; }

absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& argv, const EnvLookup& env) {
  Invocation inv;
  GlobalOptions& g = inv.global;
  g.server = env("HERALD_ADMIN").value_or("");
  if (g.server.empty()) g.server = "127.0.0.1:7222";
  g.token = env("HERALD_ADMIN_TOKEN").value_or("");
  g.tls_ca = env("HERALD_ADMIN_CA").value_or("");

  // Pass 1: split argv into words and flags. Every command flag but the
  // switches (a name that is a switch in any command is one in all) takes a
  // value, so a flag's value can be taken before knowing which command it
  // belongs to.
  std::vector<std::string> words;
  // name, value (none: a switch, kBool)
  std::vector<std::pair<std::string, std::optional<std::string>>> cmd_flags;
  std::map<std::string, std::string> globals;
  bool help = false;
  bool only_words = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& tok = argv[i];
    bool negative_number = tok.size() > 1 && tok[0] == '-' && IsDigits(tok.substr(1));
    if (only_words || tok.empty() || tok[0] != '-' || tok == "-" || negative_number) {
      words.push_back(tok);
      continue;
    }
    if (tok == "--") {
      only_words = true;
      continue;
    }
    if (tok == "-h") {
      help = true;
      continue;
    }
    if (!absl::StartsWith(tok, "--")) {
      return Usage(absl::StrCat("unknown flag ", tok, " (flags are spelled --name)"), "");
    }
    std::string name = tok.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const GlobalFlag* gf = FindGlobal(name);
    if (gf == nullptr && IsSwitch(name)) {
      if (value) return Usage(absl::StrCat("--", name, " takes no value"), "");
      cmd_flags.emplace_back(name, std::nullopt);
      continue;
    }
    bool takes_value = gf == nullptr || gf->value_name != nullptr;
    if (!takes_value) {
      if (value) return Usage(absl::StrCat("--", name, " takes no value"), "");
      if (name == "help") help = true;
      if (name == "json") g.json = true;
      continue;
    }
    if (!value) {
      if (i + 1 >= argv.size()) {
        if (help) continue;  // "stream add --help --subjects" still shows help
        return Usage(absl::StrCat("--", name, " needs a value"), "");
      }
      value = argv[++i];
    }
    if (gf != nullptr) {
      globals[name] = *value;
    } else {
      cmd_flags.emplace_back(name, *value);
    }
  }

  // Pass 2: which command the words name ("help" words ask for help on it).
  if (!words.empty() && words[0] == "help") {
    help = true;
    words.erase(words.begin());
  }
  if (words.empty()) {
    if (help) {
      inv.help = MainHelp();
      return inv;
    }
    return Usage("no command given", "");
  }
  const CommandSpec* spec = nullptr;
  for (const auto& c : Commands()) {
    std::vector<std::string> path = absl::StrSplit(c.path, ' ');
    if (path.size() <= words.size() && std::equal(path.begin(), path.end(), words.begin())) {
      spec = &c;
      words.erase(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(path.size()));
      break;
    }
  }
  if (spec == nullptr) {
    std::vector<std::string> groups = Groups();
    if (std::find(groups.begin(), groups.end(), words[0]) == groups.end()) {
      return Usage(absl::StrCat("unknown command \"", words[0], "\""), "");
    }
    if (help && words.size() == 1) {
      inv.help = GroupHelp(words[0]);
      return inv;
    }
    std::vector<std::string> subs;
    for (const CommandSpec* c : GroupCommands(words[0]))
      subs.push_back(c->path.substr(words[0].size() + 1));
    return Usage(words.size() == 1 ? absl::StrCat(words[0], ": missing subcommand (",
                                                  absl::StrJoin(subs, ", "), ")")
                                   : absl::StrCat(words[0], ": unknown subcommand \"", words[1],
                                                  "\" (", absl::StrJoin(subs, ", "), ")"),
                 "");
  }
  if (help) {
    inv.help = CommandHelp(*spec);
    return inv;
  }
  ParsedCommand& cmd = inv.command;
  cmd.spec = spec;
  const std::string& path = spec->path;

  // Positional arguments.
  size_t required = 0;
  for (const auto& a : spec->args) required += a.required ? 1 : 0;
  if (words.size() < required) {
    return Usage(absl::StrCat(path, ": missing ", spec->args[words.size()].name), path);
  }
  if (words.size() > spec->args.size()) {
    return Usage(absl::StrCat(path, ": unexpected argument \"", words[spec->args.size()], "\""),
                 path);
  }
  for (size_t i = 0; i < words.size(); ++i) {
    const ArgSpec& a = spec->args[i];
    absl::StatusOr<Value> v = Convert(a.name, a.kind, words[i], {}, 0, kMaxCount);
    if (!v.ok()) return Usage(absl::StrCat(path, ": ", v.status().message()), path);
    cmd.args.push_back(*std::move(v));
  }

  // Command flags.
  for (const auto& [name, text] : cmd_flags) {
    auto f = std::find_if(spec->flags.begin(), spec->flags.end(),
                          [&](const FlagSpec& fs) { return fs.name == name; });
    if (f == spec->flags.end()) {
      return Usage(absl::StrCat(path, ": unknown flag --", name), path);
    }
    if (cmd.Has(name)) return Usage(absl::StrCat(path, ": --", name, " given twice"), path);
    // A name is a switch in every command or in none (args_test checks).
    if ((f->kind == ValueKind::kBool) != !text.has_value()) {
      return Usage(absl::StrCat(path, ": --", name, " takes no value"), path);
    }
    absl::StatusOr<Value> v = Convert(absl::StrCat("--", name), f->kind, text.value_or(""),
                                      f->choices, f->min_count, MaxCount(name));
    if (!v.ok()) return Usage(absl::StrCat(path, ": ", v.status().message()), path);
    cmd.flags[name] = *std::move(v);
  }
  if (!spec->need_one_of.empty()) {
    bool any = std::any_of(spec->need_one_of.begin(), spec->need_one_of.end(),
                           [&](const std::string& f) { return cmd.Has(f); });
    if (!any) {
      return Usage(absl::StrCat(path, ": nothing to change; give at least one of --",
                                absl::StrJoin(spec->need_one_of, ", --")),
                   path);
    }
  }
  for (const auto& [a, b] : spec->exclusive) {
    if (cmd.Has(a) && cmd.Has(b)) {
      return Usage(absl::StrCat(path, ": --", a, " and --", b, " cannot be given together"), path);
    }
  }
  for (const auto& [flag, unless] : spec->required_unless) {
    if (!cmd.Has(flag) && !cmd.Has(unless)) {
      return Usage(absl::StrCat(path, ": --", flag, " is required (or --", unless, ")"), path);
    }
  }
  for (const auto& flag : spec->required) {
    if (!cmd.Has(flag)) return Usage(absl::StrCat(path, ": --", flag, " is required"), path);
  }

  // Global flags.
  for (const auto& [name, text] : globals) {
    if (name == "server") {
      if (text.empty()) return Usage("--server: empty value", "");
      g.server = text;
    } else if (name == "token") {
      g.token = text;  // "" explicitly sends no token
    } else if (name == "tls-ca") {
      g.tls_ca = text;
    } else if (name == "tls-cert") {
      g.tls_cert = text;
    } else if (name == "tls-key") {
      g.tls_key = text;
    } else if (name == "timeout") {
      absl::StatusOr<Value> v = Convert("--timeout", ValueKind::kDuration, text, {}, 0, 0);
      if (!v.ok()) return Usage(std::string(v.status().message()), "");
      if (v->duration <= absl::ZeroDuration()) return Usage("--timeout: must be positive", "");
      g.timeout = v->duration;
      g.timeout_given = true;
    }
  }
  if (g.tls_cert.empty() != g.tls_key.empty()) {
    return Usage("--tls-cert and --tls-key go together", "");
  }
  return inv;
}

std::string MainHelp() {
  std::string s =
      "heraldctl: the command-line client of Herald's admin gRPC API.\n"
      "\n"
      "Usage: heraldctl [global flags] <command> [args] [flags]\n"
      "\n"
      "Commands:\n";
  for (const auto& c : Commands()) {
    absl::StrAppend(&s, "  ", absl::StrFormat("%-48s", Synopsis(c).substr(10)), c.summary, "\n");
  }
  absl::StrAppend(&s, "\nGlobal flags (before or after the command):\n");
  for (const auto& gf : GlobalFlags()) {
    std::string left =
        absl::StrCat("--", gf.name, gf.value_name ? " " : "", gf.value_name ? gf.value_name : "");
    absl::StrAppend(&s, "  ", absl::StrFormat("%-22s", left), gf.help, "\n");
  }
  absl::StrAppend(&s,
                  "\n"
                  "Environment:\n"
                  "  HERALD_ADMIN        default --server\n"
                  "  HERALD_ADMIN_TOKEN  default --token\n"
                  "  HERALD_ADMIN_CA     default --tls-ca\n"
                  "\n"
                  "Durations are Go's: 500ms, 10s, 1h30m. Counts are non-negative integers.\n"
                  "\n"
                  "Output: aligned tables for people. --json prints the RPC's response message in\n"
                  "protobuf's JSON mapping with the proto's own snake_case field names\n"
                  "(proto/admin.proto) and every field present, zero values included. As in\n"
                  "that mapping, 64-bit integers are JSON strings (\"messages\": \"42\"), and\n"
                  "config_json / info_json are strings holding the JetStream API's JSON.\n"
                  "\n"
                  "Exit status: 0 success; 1 the operation failed (the server's gRPC status is\n"
                  "printed as 'heraldctl: CODE: message', e.g. NOT_FOUND, UNAUTHENTICATED,\n"
                  "UNAVAILABLE when the server cannot be reached); 2 usage error.\n");
  return s;
}

std::string CommandHelp(const CommandSpec& c) {
  std::string summary = c.summary;
  summary[0] = absl::ascii_toupper(static_cast<unsigned char>(summary[0]));
  std::string s = absl::StrCat("Usage: ", Synopsis(c), "\n\n", summary, " (RPC: ", c.rpcs, ").\n");
  if (!c.description.empty()) absl::StrAppend(&s, c.description, "\n");
  if (!c.args.empty()) {
    absl::StrAppend(&s, "\nArguments:\n");
    for (const auto& a : c.args) {
      absl::StrAppend(&s, "  ", absl::StrFormat("%-12s", a.name), a.help,
                      a.required ? "" : " (optional)", "\n");
    }
  }
  if (!c.flags.empty()) {
    absl::StrAppend(&s, "\nFlags:\n");
    size_t width = 0;
    for (const auto& f : c.flags) width = std::max(width, f.name.size() + f.value_name.size() + 5);
    for (const auto& f : c.flags) {
      std::string left = absl::StrCat("--", f.name, f.value_name.empty() ? "" : " ", f.value_name);
      left.resize(width, ' ');
      absl::StrAppend(&s, "  ", left, f.help, "\n");
    }
  }
  for (const auto& [a, b] : c.exclusive) {
    absl::StrAppend(&s, "--", a, " and --", b, " cannot be given together.\n");
  }
  absl::StrAppend(&s,
                  "\nGlobal flags (--server, --token, --tls-ca, --tls-cert, --tls-key, --json,\n"
                  "--timeout) and exit statuses: heraldctl --help.\n");
  return s;
}

}  // namespace herald::ctl
