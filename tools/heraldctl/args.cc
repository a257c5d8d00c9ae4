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

std::vector<CommandSpec> BuildCommands() {
  std::vector<CommandSpec> c;
  c.push_back({"health", "Health", "liveness and readiness of the node answering",
               "Exit status 0 when the node is ready, 1 when it is live but not ready\n"
               "(the reason is printed). Needs no token."});
  c.push_back({"cluster status", "ClusterStatus", "every node of the cluster",
               "Lists the nodes as the answering node knows them: whether each is up,\n"
               "its role in the metadata group, connections, uptime and disk use."});
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
      {"timeout", "DUR", "deadline of the whole command, e.g. 3s (default 10s)"},
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
  for (const auto& [flag, unless] : c.required_unless) {
    for (const auto& f : c.flags) {
      if (f.name == flag) absl::StrAppend(&s, " --", f.name, " ", f.value_name);
    }
  }
  if (!c.flags.empty()) absl::StrAppend(&s, " [flags]");
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

  // Pass 1: split argv into words and flags. Every command flag takes a value,
  // so a flag's value can be taken before knowing which command it belongs to.
  std::vector<std::string> words;
  std::vector<std::pair<std::string, std::string>> cmd_flags;  // name, value
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
    absl::StatusOr<Value> v =
        Convert(absl::StrCat("--", name), f->kind, text, f->choices, f->min_count, MaxCount(name));
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
      std::string left = absl::StrCat("--", f.name, " ", f.value_name);
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
