// The command-line parser: every command parses, every usage error is caught
// with a message naming the problem, and --help comes from the same table.
#include "tools/heraldctl/args.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace herald::ctl {
namespace {

using Env = std::map<std::string, std::string>;

EnvLookup Lookup(Env env) {
  return [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

absl::StatusOr<Invocation> Parse(const std::string& line, Env env = {}) {
  std::vector<std::string> argv;
  if (!line.empty()) argv = absl::StrSplit(line, ' ');
  return ParseArgs(argv, Lookup(std::move(env)));
}

// The usage error's message; fails the test when parsing succeeds.
std::string UsageError(const std::string& line) {
  absl::StatusOr<Invocation> inv = Parse(line);
  EXPECT_FALSE(inv.ok()) << line;
  if (inv.ok()) return "";
  EXPECT_EQ(inv.status().code(), absl::StatusCode::kInvalidArgument) << line;
  return std::string(inv.status().message());
}

// The smallest valid command line of each command.
std::string MinimalLine(const CommandSpec& c) {
  std::string line = c.path;
  for (const auto& a : c.args) {
    if (a.required) line += a.kind == ValueKind::kCount ? " 7" : " X";
  }
  for (const auto& [flag, unless] : c.required_unless) line += " --" + flag + " a";
  for (const auto& flag : c.required) line += " --" + flag + " a";
  if (!c.need_one_of.empty()) line += " --replicas 3";
  return line;
}

TEST(ArgsTest, EveryCommandParsesItsMinimalForm) {
  ASSERT_EQ(Commands().size(), 25u);
  for (const auto& c : Commands()) {
    absl::StatusOr<Invocation> inv = Parse(MinimalLine(c));
    ASSERT_TRUE(inv.ok()) << MinimalLine(c) << ": " << inv.status();
    EXPECT_FALSE(inv->help.has_value());
    EXPECT_EQ(inv->command.spec, &c);
  }
}

TEST(ArgsTest, EveryCommandHasHelpListingItsFlags) {
  std::string main_help = MainHelp();
  for (const auto& c : Commands()) {
    EXPECT_TRUE(absl::StrContains(main_help, c.path)) << c.path;
    absl::StatusOr<Invocation> inv = Parse(c.path + " --help");
    ASSERT_TRUE(inv.ok()) << c.path << ": " << inv.status();
    ASSERT_TRUE(inv->help.has_value());
    EXPECT_TRUE(absl::StrContains(*inv->help, "Usage: heraldctl " + c.path)) << *inv->help;
    for (const auto& f : c.flags) {
      EXPECT_TRUE(absl::StrContains(*inv->help, "--" + f.name)) << c.path << " " << f.name;
    }
    for (const auto& a : c.args) EXPECT_TRUE(absl::StrContains(*inv->help, a.name));
  }
}

TEST(ArgsTest, HelpForms) {
  for (const std::string line : {"--help", "-h", "help"}) {
    absl::StatusOr<Invocation> inv = Parse(line);
    ASSERT_TRUE(inv.ok()) << line;
    ASSERT_TRUE(inv->help.has_value());
    EXPECT_TRUE(absl::StrContains(*inv->help, "Exit status")) << line;
    EXPECT_TRUE(absl::StrContains(*inv->help, "HERALD_ADMIN_TOKEN"));
    EXPECT_TRUE(absl::StrContains(*inv->help, "snake_case"));
  }
  absl::StatusOr<Invocation> inv = Parse("help stream add");
  ASSERT_TRUE(inv.ok());
  EXPECT_TRUE(absl::StrContains(*inv->help, "--subjects"));
  inv = Parse("stream --help");
  ASSERT_TRUE(inv.ok());
  EXPECT_TRUE(absl::StrContains(*inv->help, "stream purge"));
  EXPECT_FALSE(absl::StrContains(*inv->help, "consumer add"));
  // Help wins over otherwise bad input after the command.
  inv = Parse("stream add --help --replicas");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_TRUE(inv->help.has_value());
}

TEST(ArgsTest, Defaults) {
  absl::StatusOr<Invocation> inv = Parse("health");
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->global.server, "127.0.0.1:7222");
  EXPECT_EQ(inv->global.token, "");
  EXPECT_FALSE(inv->global.json);
  EXPECT_FALSE(inv->global.UseTls());
  EXPECT_EQ(inv->global.timeout, absl::Seconds(10));
}

TEST(ArgsTest, EnvironmentAndFlagsOverrideIt) {
  Env env = {{"HERALD_ADMIN", "10.0.0.1:1"},
             {"HERALD_ADMIN_TOKEN", "envtok"},
             {"HERALD_ADMIN_CA", "ca.pem"}};
  absl::StatusOr<Invocation> inv = Parse("health", env);
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->global.server, "10.0.0.1:1");
  EXPECT_EQ(inv->global.token, "envtok");
  EXPECT_EQ(inv->global.tls_ca, "ca.pem");
  EXPECT_TRUE(inv->global.UseTls());
  inv = Parse("--server 127.0.0.1:9 health --token=flagtok", env);
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->global.server, "127.0.0.1:9");
  EXPECT_EQ(inv->global.token, "flagtok");
  // An explicit empty token sends none, whatever the environment says.
  inv = Parse("health --token=", env);
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->global.token, "");
}

TEST(ArgsTest, GlobalFlagsBeforeAndAfterTheCommand) {
  absl::StatusOr<Invocation> inv = Parse(
      "--json --timeout 1500ms stream ls --subject orders.> --tls-ca c --tls-cert a "
      "--tls-key b");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_TRUE(inv->global.json);
  EXPECT_EQ(inv->global.timeout, absl::Milliseconds(1500));
  EXPECT_EQ(inv->global.tls_ca, "c");
  EXPECT_EQ(inv->global.tls_cert, "a");
  EXPECT_EQ(inv->global.tls_key, "b");
  ASSERT_NE(inv->command.Flag("subject"), nullptr);
  EXPECT_EQ(inv->command.Flag("subject")->text, "orders.>");
}

TEST(ArgsTest, StreamAddConvertsEveryFlag) {
  absl::StatusOr<Invocation> inv = Parse(
      "stream add ORDERS --subjects orders.*,audit --replicas 3 --storage memory "
      "--retention workqueue --max-msgs 100 --max-bytes=1048576 --max-age 1h30m --discard new");
  ASSERT_TRUE(inv.ok()) << inv.status();
  const ParsedCommand& c = inv->command;
  EXPECT_EQ(c.spec->path, "stream add");
  EXPECT_EQ(c.Arg(0), "ORDERS");
  EXPECT_EQ(c.Flag("subjects")->list, (std::vector<std::string>{"orders.*", "audit"}));
  EXPECT_EQ(c.Flag("replicas")->count, 3u);
  EXPECT_EQ(c.Flag("storage")->text, "memory");
  EXPECT_EQ(c.Flag("retention")->text, "workqueue");
  EXPECT_EQ(c.Flag("max-msgs")->count, 100u);
  EXPECT_EQ(c.Flag("max-bytes")->count, 1048576u);
  EXPECT_EQ(c.Flag("max-age")->duration, absl::Minutes(90));
  EXPECT_EQ(c.Flag("discard")->text, "new");
  EXPECT_FALSE(c.Has("config"));
}

TEST(ArgsTest, OtherCommandsArguments) {
  absl::StatusOr<Invocation> inv = Parse("raft transfer ORDERS n2");
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->command.Arg(0), "ORDERS");
  EXPECT_EQ(inv->command.Arg(1), "n2");
  inv = Parse("raft ls");
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->command.Arg(0), "");
  inv = Parse("conn kick 42 --node n3");
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->command.args[0].count, 42u);
  EXPECT_EQ(inv->command.Flag("node")->text, "n3");
  inv = Parse("conn ls --idle 2m --user bob");
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->command.Flag("idle")->duration, absl::Minutes(2));
  inv = Parse("stream purge S --subject a.b --keep 5");
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->command.Flag("keep")->count, 5u);
  inv = Parse(
      "consumer add S C --ack all --deliver last_per_subject --push out --max-deliver 5 "
      "--ack-wait 30s --filter s.>");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command.Flag("ack-wait")->duration, absl::Seconds(30));
  // "--" ends the flags: a stream may be called "--weird" this way.
  inv = Parse("stream info -- --weird");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command.Arg(0), "--weird");
}

TEST(ArgsTest, UsageErrors) {
  struct Case {
    std::string line;
    std::string message;  // a part of the reason
  };
  const std::vector<Case> cases = {
      {"bogus", "unknown command \"bogus\""},
      {"stream",
       "stream: missing subcommand (ls, info, add, edit, rm, purge, move, backup, restore)"},
      {"node", "node: missing subcommand (add, remove, drain)"},
      {"node remove", "node remove: missing NODE"},
      {"op status", "op status: missing ID"},
      {"stream move S", "stream move: --from is required"},
      {"stream move S --to n2", "stream move: --from is required"},
      {"stream move S --from", "--from needs a value"},
      {"node remove n1 --no-wait=yes", "--no-wait takes no value"},
      {"node remove n1 --wait", "node remove: unknown flag --wait"},
      {"op status X --no-wait", "op status: unknown flag --no-wait"},
      {"health --no-wait", "health: unknown flag --no-wait"},
      {"node remove n1 --no-wait --no-wait", "--no-wait given twice"},
      {"stream frob", "unknown subcommand \"frob\""},
      {"stream info", "stream info: missing NAME"},
      {"consumer info S", "consumer info: missing NAME"},
      {"raft transfer G", "missing NODE"},
      {"health extra", "unexpected argument \"extra\""},
      {"stream rm A B", "unexpected argument \"B\""},
      {"stream ls --bogus 1", "stream ls: unknown flag --bogus"},
      {"health --subjects a", "health: unknown flag --subjects"},
      {"stream add S --subjects a --replicas -1", "--replicas: \"-1\" is not a non-negative"},
      {"stream add S --subjects a --replicas x", "--replicas: \"x\" is not a non-negative"},
      {"stream add S --subjects a --replicas 0", "--replicas: must be at least 1"},
      {"stream add S --subjects a --replicas +3", "not a non-negative integer"},
      {"stream add S --subjects a --replicas 3000000000", "too large"},
      {"stream add S --subjects a --max-msgs -5", "--max-msgs: \"-5\" is not"},
      {"stream add S --subjects a --max-bytes 1.5", "--max-bytes"},
      {"stream add S --subjects a --storage disk", "\"disk\" is not one of file, memory"},
      {"stream add S --subjects a --retention all", "--retention"},
      {"stream add S --subjects a --discard both", "--discard"},
      {"stream add S --subjects a --max-age soon", "--max-age: \"soon\" is not a duration"},
      {"stream add S --subjects a --max-age -1s", "--max-age: negative duration"},
      {"stream add S --subjects a,,b", "--subjects: empty item"},
      {"stream add S", "--subjects is required (or --config)"},
      {"stream add S --subjects", "--subjects needs a value"},
      {"stream add S --subjects a --replicas 1 --replicas 3", "--replicas given twice"},
      {"stream edit S", "nothing to change"},
      {"stream purge S --seq 5 --keep 2", "--seq and --keep cannot be given together"},
      {"stream purge S --seq 0", "--seq: must be at least 1"},
      {"consumer add S C --ack maybe", "--ack"},
      {"consumer add S C --deliver first", "--deliver"},
      {"consumer add S C --max-deliver -1", "--max-deliver"},
      {"consumer add S C --ack-wait 5", "--ack-wait"},
      {"conn kick abc", "CID: \"abc\" is not a non-negative integer"},
      {"conn kick -5", "CID: \"-5\" is not a non-negative integer"},
      {"conn ls --idle x", "--idle"},
      {"-x health", "unknown flag -x"},
      {"health --json=yes", "--json takes no value"},
      {"health --timeout 0s", "--timeout: must be positive"},
      {"health --timeout forever", "--timeout"},
      {"health --tls-cert c.pem", "--tls-cert and --tls-key go together"},
      {"health --tls-key k.pem", "--tls-cert and --tls-key go together"},
      {"--server= health", "--server: empty value"},
      {"", "no command given"},
  };
  for (const auto& tc : cases) {
    std::string msg = UsageError(tc.line);
    EXPECT_TRUE(absl::StrContains(msg, tc.message)) << tc.line << " -> " << msg;
    EXPECT_TRUE(absl::StrContains(msg, "--help")) << tc.line << " -> " << msg;
  }
}

TEST(ArgsTest, OperationCommands) {
  absl::StatusOr<Invocation> inv = Parse("node remove n4");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command.spec->path, "node remove");
  EXPECT_EQ(inv->command.Arg(0), "n4");
  EXPECT_FALSE(inv->command.Has("no-wait"));
  EXPECT_FALSE(inv->global.timeout_given);
  // A switch takes no value: the word after it is an argument, before or
  // after the command words.
  for (const std::string line :
       {"node drain --no-wait n2", "--no-wait node drain n2", "node drain n2 --no-wait"}) {
    inv = Parse(line);
    ASSERT_TRUE(inv.ok()) << line << ": " << inv.status();
    EXPECT_EQ(inv->command.spec->path, "node drain") << line;
    EXPECT_EQ(inv->command.Arg(0), "n2") << line;
    EXPECT_TRUE(inv->command.Has("no-wait")) << line;
  }
  inv = Parse("node drain n2 --undo");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_TRUE(inv->command.Has("undo"));
  EXPECT_FALSE(inv->command.Has("no-wait"));
  inv = Parse("stream move ORDERS --from n1 --to n4 --timeout 2m");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command.Arg(0), "ORDERS");
  EXPECT_EQ(inv->command.Flag("from")->text, "n1");
  EXPECT_EQ(inv->command.Flag("to")->text, "n4");
  EXPECT_TRUE(inv->global.timeout_given);
  EXPECT_EQ(inv->global.timeout, absl::Minutes(2));
  inv = Parse("op status --wait remove_node-ab12cd-1");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command.Arg(0), "remove_node-ab12cd-1");
  EXPECT_TRUE(inv->command.Has("wait"));
  // The synopsis shows the required flag.
  inv = Parse("stream move --help");
  ASSERT_TRUE(inv.ok());
  EXPECT_TRUE(absl::StrContains(*inv->help, "heraldctl stream move NAME --from NODE [flags]"))
      << *inv->help;
  EXPECT_TRUE(absl::StrContains(*inv->help, "--no-wait  ")) << *inv->help;
}

TEST(ArgsTest, AFlagNameIsASwitchInEveryCommandOrInNone) {
  std::map<std::string, bool> is_switch;
  for (const auto& c : Commands()) {
    for (const auto& f : c.flags) {
      const bool sw = f.kind == ValueKind::kBool;
      auto [it, added] = is_switch.emplace(f.name, sw);
      EXPECT_EQ(it->second, sw) << c.path << " --" << f.name;
      // Nor can a switch share a global flag's name.
      EXPECT_NE(f.name, "json");
      EXPECT_NE(f.name, "help");
    }
  }
}

TEST(ArgsTest, BackupAndRestore) {
  absl::StatusOr<Invocation> inv = Parse("stream backup ORDERS /tmp/o.bak");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command.spec->path, "stream backup");
  EXPECT_EQ(inv->command.Arg(0), "ORDERS");
  EXPECT_EQ(inv->command.Arg(1), "/tmp/o.bak");
  EXPECT_FALSE(inv->global.timeout_given);
  inv = Parse("stream backup ORDERS -");  // stdout
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command.Arg(1), "-");
  inv = Parse("stream restore /tmp/o.bak --name COPY --timeout 5m");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command.Arg(0), "/tmp/o.bak");
  ASSERT_NE(inv->command.Flag("name"), nullptr);
  EXPECT_EQ(inv->command.Flag("name")->text, "COPY");
  EXPECT_TRUE(inv->global.timeout_given);
  EXPECT_TRUE(absl::StrContains(UsageError("stream backup ORDERS"), "missing FILE"));
  EXPECT_TRUE(absl::StrContains(UsageError("stream restore"), "missing FILE"));
  EXPECT_TRUE(absl::StrContains(UsageError("stream restore f --name"), "--name needs a value"));
  EXPECT_TRUE(absl::StrContains(UsageError("stream restore f g"), "unexpected argument"));
  inv = Parse("stream backup --help");
  ASSERT_TRUE(inv.ok());
  EXPECT_TRUE(absl::StrContains(*inv->help, "FILE.tmp")) << *inv->help;
  EXPECT_TRUE(absl::StrContains(*inv->help, "1h")) << *inv->help;
  inv = Parse("stream restore --help");
  ASSERT_TRUE(inv.ok());
  EXPECT_TRUE(absl::StrContains(*inv->help, "ALREADY_EXISTS")) << *inv->help;
  EXPECT_TRUE(absl::StrContains(*inv->help, "--name NAME")) << *inv->help;
}

TEST(ArgsTest, UsageErrorHintsAtTheCommandsHelp) {
  EXPECT_TRUE(absl::StrContains(UsageError("stream add S --replicas -1 --subjects a"),
                                "run 'heraldctl stream add --help'"));
  EXPECT_TRUE(absl::StrContains(UsageError("bogus"), "run 'heraldctl --help'"));
}

}  // namespace
}  // namespace herald::ctl
