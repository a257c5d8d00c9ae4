#include "server/config/config_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace herald {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Loaded {
  absl::Status status;
  ServerOptions opts;
  std::vector<std::string> warnings;
};

Loaded Load(const std::string& text) {
  Loaded out;
  auto root = ParseConfString(text, "t.conf");
  if (!root.ok()) {
    out.status = root.status();
    return out;
  }
  out.status = ApplyConfig(*root, &out.opts, &out.warnings);
  return out;
}

std::string LoadError(const std::string& text) {
  Loaded l = Load(text);
  EXPECT_FALSE(l.status.ok()) << text;
  EXPECT_EQ(l.status.code(), absl::StatusCode::kInvalidArgument);
  return std::string(l.status.message());
}

TEST(ConfigLoader, AdminBlock) {
  Loaded l = Load(
      "admin {\n  listen: \"127.0.0.1:7222\"\n  token: \"s3cret\"\n"
      "  operator_roles: [\"ops\", \"sre\"]\n  read_only_roles: viewers\n}\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_TRUE(l.opts.admin.enabled());
  EXPECT_EQ(l.opts.admin.host, "127.0.0.1");
  EXPECT_EQ(l.opts.admin.port, 7222);
  EXPECT_EQ(l.opts.admin.token, "s3cret");
  EXPECT_THAT(l.opts.admin.operator_roles, ElementsAre("ops", "sre"));
  EXPECT_THAT(l.opts.admin.read_only_roles, ElementsAre("viewers"));
  EXPECT_FALSE(l.opts.admin.tls.enabled);

  l = Load(
      "admin { listen: \"0.0.0.0:7222\", tls { cert_file: a, key_file: b, ca_file: c, "
      "verify: true } }");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_TRUE(l.opts.admin.tls.enabled);
  EXPECT_TRUE(l.opts.admin.tls.verify);
  EXPECT_EQ(l.opts.admin.tls.ca_file, "c");

  EXPECT_THAT(LoadError("admin { token: x }"), HasSubstr("listen is required"));
  EXPECT_THAT(LoadError("admin { listen: \"127.0.0.1:7222\", tokn: x }"),
              HasSubstr("unknown field \"tokn\" in admin block"));
  EXPECT_THAT(LoadError("admin { listen: \"127.0.0.1:7222\", token: \"\" }"),
              HasSubstr("must not be empty"));
  EXPECT_THAT(LoadError("admin: 7222"), HasSubstr("admin"));
  EXPECT_THAT(LoadError("admin { listen: \"127.0.0.1:7222\", operator_roles: [1] }"),
              HasSubstr("operator_roles"));
  EXPECT_FALSE(Load("").opts.admin.enabled());
  l = Load("admin { listen: 7300 }");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.admin.host, "127.0.0.1");
  EXPECT_EQ(l.opts.admin.port, 7300);
}

TEST(ConfigLoader, EmptyConfigKeepsDefaults) {
  Loaded l = Load("");
  ASSERT_TRUE(l.status.ok()) << l.status;
  ServerOptions d;
  EXPECT_EQ(l.opts.host, d.host);
  EXPECT_EQ(l.opts.port, 4222);
  EXPECT_EQ(l.opts.max_payload, 1024 * 1024);
  EXPECT_EQ(l.opts.ping_interval, absl::Minutes(2));
  EXPECT_THAT(l.warnings, IsEmpty());
}

TEST(ConfigLoader, IdentityAndListeners) {
  Loaded l = Load("server_name: n1\nhost: 127.0.0.1\nport: 4333\nhttp_port: 8222\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.server_name, "n1");
  EXPECT_EQ(l.opts.host, "127.0.0.1");
  EXPECT_EQ(l.opts.port, 4333);
  EXPECT_EQ(l.opts.http_port, 8222);

  l = Load("net: 10.0.0.1\nmonitor_port: 8333\n");
  ASSERT_TRUE(l.status.ok());
  EXPECT_EQ(l.opts.host, "10.0.0.1");
  EXPECT_EQ(l.opts.http_port, 8333);
}

TEST(ConfigLoader, ListenForms) {
  Loaded l = Load("listen: 127.0.0.1:4333");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.host, "127.0.0.1");
  EXPECT_EQ(l.opts.port, 4333);

  l = Load("host: 127.0.0.2\nlisten: 4444");  // a bare port keeps the host
  ASSERT_TRUE(l.status.ok());
  EXPECT_EQ(l.opts.host, "127.0.0.2");
  EXPECT_EQ(l.opts.port, 4444);

  l = Load("listen: \":4555\"");
  ASSERT_TRUE(l.status.ok());
  EXPECT_EQ(l.opts.host, "0.0.0.0");
  EXPECT_EQ(l.opts.port, 4555);

  l = Load("listen: \"4666\"");
  ASSERT_TRUE(l.status.ok());
  EXPECT_EQ(l.opts.port, 4666);

  l = Load("listen: \"[::1]:4777\"");
  ASSERT_TRUE(l.status.ok());
  EXPECT_EQ(l.opts.host, "::1");
  EXPECT_EQ(l.opts.port, 4777);

  l = Load("listen: localhost:-1");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.port, -1);

  EXPECT_EQ(LoadError("\nlisten: 127.0.0.1:99999"),
            "t.conf:2: listen: port 99999 is out of range (0-65535, or -1 for random)");
  EXPECT_THAT(LoadError("listen: \"127.0.0.1:abc\""), HasSubstr("could not parse port"));
  EXPECT_THAT(LoadError("listen: true"), HasSubstr("t.conf:1: listen: expected a port"));
}

TEST(ConfigLoader, HttpForms) {
  Loaded l = Load("http: 127.0.0.1:8222");
  ASSERT_TRUE(l.status.ok());
  EXPECT_EQ(l.opts.http_host, "127.0.0.1");
  EXPECT_EQ(l.opts.http_port, 8222);
  l = Load("http: 8333");
  ASSERT_TRUE(l.status.ok());
  EXPECT_EQ(l.opts.http_host, "");  // the client host, filled in by ResolveOptions
  EXPECT_EQ(l.opts.http_port, 8333);
}

TEST(ConfigLoader, PortErrors) {
  EXPECT_EQ(LoadError("port: 70000"),
            "t.conf:1: port: port 70000 is out of range (0-65535, or -1 for random)");
  EXPECT_EQ(LoadError("port: -2"),
            "t.conf:1: port: port -2 is out of range (0-65535, or -1 for random)");
  EXPECT_EQ(LoadError("debug: false\nport: \"4222\""),
            "t.conf:2: port: expected an integer, got string");
  EXPECT_EQ(LoadError("http_port: 1.5"), "t.conf:1: http_port: expected an integer, got float");
}

TEST(ConfigLoader, Limits) {
  Loaded l = Load(
      "max_payload: 2MB\nmax_connections: 100\nmax_control_line: 8KB\nmax_pending: 128MB\n"
      "ping_max: 5\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.max_payload, 2 * 1024 * 1024);
  EXPECT_EQ(l.opts.max_connections, 100);
  EXPECT_EQ(l.opts.max_control_line, 8192);
  EXPECT_EQ(l.opts.max_pending, 128LL * 1024 * 1024);
  EXPECT_EQ(l.opts.ping_max, 5);
  EXPECT_THAT(l.warnings, IsEmpty());

  l = Load("max_conn: 7\nping_max_out: 4");
  ASSERT_TRUE(l.status.ok());
  EXPECT_EQ(l.opts.max_connections, 7);
  EXPECT_EQ(l.opts.ping_max, 4);

  // Zero means the default, as in nats-server.
  l = Load("max_payload: 0\nmax_connections: 0\nmax_control_line: 0\nmax_pending: 0\nping_max: 0");
  ASSERT_TRUE(l.status.ok());
  ServerOptions d;
  EXPECT_EQ(l.opts.max_payload, d.max_payload);
  EXPECT_EQ(l.opts.max_connections, d.max_connections);
  EXPECT_EQ(l.opts.max_control_line, d.max_control_line);
  EXPECT_EQ(l.opts.max_pending, d.max_pending);
  EXPECT_EQ(l.opts.ping_max, d.ping_max);
}

TEST(ConfigLoader, MaxPayloadRules) {
  EXPECT_EQ(LoadError("max_payload: 65MB"),
            "t.conf:1: max_payload value is too big: 68157440 bytes (the limit is 64MB)");
  EXPECT_EQ(LoadError("max_payload: -1"), "t.conf:1: max_payload: value can not be negative");
  EXPECT_EQ(LoadError("max_payload: big"),
            "t.conf:1: max_payload: expected an integer, got string");
  EXPECT_THAT(LoadError("max_payload: 2MB\nmax_pending: 1MB"),
              HasSubstr("max_payload (2097152) cannot be higher than max_pending (1048576)"));

  Loaded l = Load("max_payload: 16MB");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.max_payload, 16 * 1024 * 1024);
  EXPECT_THAT(l.warnings, ElementsAre(HasSubstr("t.conf:1: Maximum payloads over 8.00 MB")));

  l = Load("max_payload: 64MB");
  EXPECT_TRUE(l.status.ok()) << l.status;
}

TEST(ConfigLoader, OtherRangeErrors) {
  EXPECT_EQ(LoadError("max_connections: -5"),
            "t.conf:1: max_connections: value can not be negative");
  EXPECT_EQ(LoadError("max_control_line: 3GB"),
            "t.conf:1: max_control_line: value 3221225472 is too big (maximum 2147483647)");
  EXPECT_EQ(LoadError("max_pending: -1"), "t.conf:1: max_pending: value can not be negative");
  EXPECT_EQ(LoadError("io_threads: 5000"),
            "t.conf:1: io_threads: value 5000 is too big (maximum 1024)");
  EXPECT_EQ(LoadError("debug: 1"), "t.conf:1: debug: expected a boolean (true/false), got integer");
}

TEST(ConfigLoader, Durations) {
  Loaded l = Load(
      "ping_interval: \"30s\"\nwrite_deadline: \"1.5s\"\nlame_duck_duration: \"1h30m\"\n"
      "lame_duck_grace_period: \"500ms\"\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.ping_interval, absl::Seconds(30));
  EXPECT_EQ(l.opts.write_deadline, absl::Milliseconds(1500));
  EXPECT_EQ(l.opts.lame_duck_duration, absl::Minutes(90));
  EXPECT_EQ(l.opts.lame_duck_grace_period, absl::Milliseconds(500));
  EXPECT_THAT(l.warnings, IsEmpty());

  // Unquoted forms that are bare strings work too.
  l = Load("ping_interval: 10s\nwrite_deadline: 250ms");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.ping_interval, absl::Seconds(10));
  EXPECT_EQ(l.opts.write_deadline, absl::Milliseconds(250));
}

TEST(ConfigLoader, IntegerDurationsAreSecondsWithWarning) {
  Loaded l = Load("ping_interval: 60\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.ping_interval, absl::Seconds(60));
  EXPECT_THAT(l.warnings, ElementsAre("t.conf:1: ping_interval should be converted to a duration"));
}

TEST(ConfigLoader, UnquotedMinutesAreMinutes) {
  // `2m` lexes as the integer 2,000,000 (a size); read it as two minutes.
  Loaded l = Load("ping_interval: 2m\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.ping_interval, absl::Minutes(2));
  EXPECT_THAT(l.warnings, ElementsAre(HasSubstr("read as 2 minutes")));
}

TEST(ConfigLoader, DurationErrors) {
  EXPECT_EQ(LoadError("ping_interval: \"soon\""),
            "t.conf:1: error parsing ping_interval: time: invalid duration \"soon\"");
  EXPECT_THAT(LoadError("write_deadline: \"-1s\""), HasSubstr("can not be negative"));
  EXPECT_THAT(LoadError("write_deadline: \"inf\""), HasSubstr("invalid duration"));
  EXPECT_THAT(LoadError("ping_interval: [1]"), HasSubstr("expected a duration"));
  EXPECT_EQ(LoadError("lame_duck_duration: \"10s\""),
            "t.conf:1: invalid lame_duck_duration of 10s, minimum is 30 seconds");
  EXPECT_THAT(LoadError("lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"40s\""),
              HasSubstr("lame duck grace period (40s) should be strictly lower"));
}

TEST(ConfigLoader, ParseGoDurationHelper) {
  EXPECT_EQ(*ParseGoDuration("0"), absl::ZeroDuration());
  EXPECT_EQ(*ParseGoDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseGoDuration("1.5s"), absl::Milliseconds(1500));
  EXPECT_EQ(*ParseGoDuration("250us"), absl::Microseconds(250));
  EXPECT_EQ(*ParseGoDuration("-2s"), absl::Seconds(-2));
  for (const char* bad : {"", "5", "s", "1d", "inf", "-inf", "1h 30m", "99999999999999999999h"}) {
    EXPECT_FALSE(ParseGoDuration(bad).ok()) << bad;
  }
}

TEST(ConfigLoader, Logging) {
  Loaded l = Load("debug: true\ntrace: yes\nlogfile: /tmp/a.log\npidfile: /tmp/a.pid\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_TRUE(l.opts.debug);
  EXPECT_TRUE(l.opts.trace);
  EXPECT_EQ(l.opts.log_file, "/tmp/a.log");
  EXPECT_EQ(l.opts.pid_file, "/tmp/a.pid");
  l = Load("log_file: b.log\npid_file: b.pid\n");
  ASSERT_TRUE(l.status.ok());
  EXPECT_EQ(l.opts.log_file, "b.log");
  EXPECT_EQ(l.opts.pid_file, "b.pid");
}

TEST(ConfigLoader, KeysAreCaseInsensitive) {
  Loaded l = Load("PORT: 4333\nServer_Name: x\nCLUSTER { NAME: c }");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.port, 4333);
  EXPECT_EQ(l.opts.server_name, "x");
  EXPECT_EQ(l.opts.cluster.name, "c");
}

TEST(ConfigLoader, ClusterAuthorization) {
  Loaded l = Load(
      "cluster {\n  port: 6222\n  authorization {\n    user: ruser\n    password: \"T0p\"\n"
      "    timeout: 0.5\n  }\n  routes: [ nats-route://ruser:T0p@127.0.0.1:6223 ]\n}");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.cluster.username, "ruser");
  EXPECT_EQ(l.opts.cluster.password, "T0p");
  EXPECT_EQ(l.opts.cluster.auth_timeout, absl::Milliseconds(500));
  // Defaults, and the client authorization is not touched.
  l = Load("cluster { port: 6222, authorization { user: u, password: p } }");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.cluster.auth_timeout, absl::Seconds(2));
  EXPECT_FALSE(l.opts.auth.Required());
  EXPECT_NE(LoadError("cluster {\n port: 6222\n authorization { password: p }\n}"), "");
  EXPECT_NE(LoadError("cluster {\n port: 6222\n authorization { user: u, timeout: -1 }\n}"), "");
  EXPECT_NE(LoadError("cluster {\n port: 6222\n authorization: 5\n}"), "");
}

TEST(ConfigLoader, AuthorizationUserPassword) {
  Loaded l = Load("authorization {\n  user: alice\n  password: secret\n  timeout: 5\n}");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.auth.user, "alice");
  EXPECT_EQ(l.opts.auth.password, "secret");
  EXPECT_EQ(l.opts.auth.timeout, absl::Seconds(5));
  EXPECT_TRUE(l.opts.auth.Required());

  l = Load("authorization { username: bob, pass: pw, timeout: 0.5 }");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.auth.user, "bob");
  EXPECT_EQ(l.opts.auth.password, "pw");
  EXPECT_EQ(l.opts.auth.timeout, absl::Milliseconds(500));

  l = Load("authorization { token: t0k, timeout: \"3s\" }");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.auth.token, "t0k");
  EXPECT_EQ(l.opts.auth.timeout, absl::Seconds(3));
}

TEST(ConfigLoader, AuthorizationUsers) {
  Loaded l = Load(
      "authorization {\n  users: [\n    {user: a, password: p1}\n    {user: b, pass: p2, "
      "permissions: {publish: \">\"}}\n  ]\n}");
  ASSERT_TRUE(l.status.ok()) << l.status;
  ASSERT_EQ(l.opts.auth.users.size(), 2u);
  EXPECT_EQ(l.opts.auth.users[0].user, "a");
  EXPECT_EQ(l.opts.auth.users[0].password, "p1");
  EXPECT_EQ(l.opts.auth.users[1].user, "b");
  EXPECT_EQ(l.opts.auth.users[1].password, "p2");
  // Permissions are supported now (server/auth): no warning, and they are
  // in opts.security.
  EXPECT_THAT(l.warnings, IsEmpty());
  ASSERT_EQ(l.opts.security.users.size(), 2u);
  EXPECT_TRUE(l.opts.security.users[1].permissions.has_value());
}

TEST(ConfigLoader, AuthorizationErrors) {
  EXPECT_EQ(LoadError("authorization {\n user: a\n token: t\n}"),
            "t.conf:1: Cannot have a user/pass and token");
  EXPECT_EQ(LoadError("authorization { user: a, users: [{user: b}] }"),
            "t.conf:1: Can not have a single user/pass and a users array");
  EXPECT_EQ(LoadError("authorization { token: t, users: [] }"),
            "t.conf:1: Can not have a token and a users array");
  EXPECT_EQ(LoadError("authorization {\n users: [\n {user: a}\n {user: a}\n ]\n}"),
            "t.conf:4: Duplicate user a detected");
  EXPECT_EQ(LoadError("authorization {\n users: [\n {password: x}\n ]\n}"),
            "t.conf:3: User entry requires a user");
  EXPECT_EQ(LoadError("authorization {\n users: [ x ]\n}"),
            "t.conf:2: Expected user entry to be a map/struct, got string");
  EXPECT_EQ(LoadError("authorization: 5"), "t.conf:1: authorization: expected a map, got integer");
  EXPECT_THAT(LoadError("authorization { timeout: -1 }"), HasSubstr("out of range"));
}

TEST(ConfigLoader, AuthorizationUnsupportedParts) {
  Loaded l = Load(
      "authorization {\n  token: t\n  permissions { publish: [\"a\"] }\n}\n"
      "no_auth_user: x\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_THAT(l.warnings, ElementsAre("t.conf:5: no_auth_user is not supported yet, ignored"));
  ASSERT_TRUE(l.opts.security.default_permissions.has_value());
}

// nats-server 2.9.10 refuses keys it does not know, with
// `file:line:col: unknown field "key"`; Herald says the same with file:line.
TEST(ConfigLoader, UnknownKeysAreErrors) {
  EXPECT_EQ(LoadError("port: 4222\nfoo: 1\n"), "t.conf:2: unknown field \"foo\"");
  EXPECT_EQ(LoadError("authorization {\n  token: t\n  nonsense: 1\n}\n"),
            "t.conf:3: unknown field \"nonsense\"");
  EXPECT_EQ(LoadError("authorization {\n  users: [ {user: a, password: b, bogus: 1} ]\n}\n"),
            "t.conf:2: unknown field \"bogus\"");
  EXPECT_EQ(LoadError("cluster {\n  port: 6222\n  bogus: 1\n}\n"),
            "t.conf:3: unknown field \"bogus\"");
  EXPECT_EQ(LoadError("cluster {\n  port: 6222\n  authorization { user: a, password: b, x: 1 }\n}"),
            "t.conf:3: unknown field \"x\"");
  EXPECT_EQ(LoadError("jetstream {\n  store_dir: /x\n  bogus: 1\n}\n"),
            "t.conf:3: unknown field \"bogus\"");
  EXPECT_EQ(LoadError("jetstream {\n  max_memory: 1G\n}\n"),  // not a nats-server alias
            "t.conf:2: unknown field \"max_memory\"");
  EXPECT_EQ(LoadError("tls {\n  cert_file: c\n  key_file: k\n  bogus: 1\n}\n"),
            "t.conf:4: error parsing tls config, unknown field [\"bogus\"]");
  EXPECT_EQ(LoadError("cluster {\n  port: 6222\n  tls { cert_file: c, key_file: k, bogus: 1 }\n}"),
            "t.conf:3: error parsing tls config, unknown field [\"bogus\"]");
  // The case: oidc belongs at the top level, not in authorization.
  EXPECT_EQ(LoadError("authorization {\n  token: abc\n  oidc { issuer: x }\n}\n"),
            "t.conf:3: unknown field \"oidc\"");
  // Every unknown key is reported, one per line, as nats-server does; the
  // first other error comes after them.
  EXPECT_EQ(LoadError("a: 1\njetstream {\n  b: 2\n}\nc: 3\n"),
            "t.conf:1: unknown field \"a\"\nt.conf:3: unknown field \"b\"\n"
            "t.conf:5: unknown field \"c\"");
  EXPECT_EQ(LoadError("a: 1\nport: x\nc: 3\n"),
            "t.conf:1: unknown field \"a\"\nt.conf:2: port: expected an integer, got string");
}

TEST(ConfigLoader, KeysNatsServerKnowsStillWarn) {
  Loaded l = Load(
      "tls { cert_file: c, key_file: k, connection_rate_limit: 10, cipher_suites: [] }\n"
      "cluster {\n  port: 6222\n  no_advertise: true\n}\n"
      "jetstream { max_outstanding_catchup: 64MB, unique_tag: az }\n"
      "authorization { users: [ {user: a, password: b, allowed_connection_types: [STANDARD]} ] "
      "}\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_THAT(
      l.warnings,
      ElementsAre("t.conf:1: tls.connection_rate_limit is not supported yet, ignored",
                  "t.conf:1: tls.cipher_suites is not supported yet, ignored",
                  "t.conf:4: cluster.no_advertise is not supported yet, ignored",
                  "t.conf:6: jetstream.max_outstanding_catchup is not supported yet, ignored",
                  "t.conf:6: jetstream.unique_tag is not supported yet, ignored",
                  "t.conf:7: user allowed_connection_types is not supported yet, ignored"));
}

TEST(ConfigLoader, SecurityBlocks) {
  Loaded l = Load(
      "tls { cert_file: c.pem, key_file: k.pem, ca_file: ca.pem, verify_and_map: true }\n"
      "authorization {\n"
      "  permission_sets { ops: { publish: \">\" } }\n"
      "  failure_delay: \"250ms\"\n"
      "  users: [\n"
      "    {user: \"CN=alice\", role: ops}\n"
      "    {nkey: UBGQ5Q5A2A76774TVG6M4KREWQDNI32EV37R654H3LW3CPFK7JACYEW2, permissions: "
      "{subscribe: \"a.>\"}}\n"
      "  ]\n"
      "}\n"
      "oidc { issuer: \"https://idp\", audience: herald, jwks_file: /etc/jwks.json, roles { g: ops "
      "} }\n"
      "revocation_file: /etc/revoked.json\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_THAT(l.warnings, IsEmpty());
  const auth::SecurityConfig& s = l.opts.security;
  EXPECT_TRUE(s.tls_map);
  EXPECT_EQ(s.failure_delay, absl::Milliseconds(250));
  ASSERT_EQ(s.users.size(), 1u);
  EXPECT_EQ(s.users[0].role, "ops");
  ASSERT_EQ(s.nkeys.size(), 1u);
  EXPECT_EQ(s.oidc.audience, "herald");
  EXPECT_EQ(s.oidc.roles.at("g"), "ops");
  EXPECT_EQ(s.revocation_file, "/etc/revoked.json");
  // The old view still has the password users only.
  ASSERT_EQ(l.opts.auth.users.size(), 1u);
}

TEST(ConfigLoader, SecurityErrors) {
  EXPECT_EQ(LoadError("authorization {\n  users: [\n    {user: a, password: b, permissions: "
                      "{publish: \"a b\"}}\n  ]\n}"),
            "t.conf:3: subject \"a b\" is not a valid subject");
  EXPECT_THAT(LoadError("authorization {\n  users: [ {nkey: UNOTAKEY} ]\n}"),
              HasSubstr("Not a valid public nkey for a user"));
  EXPECT_THAT(LoadError("authorization { users: [ {user: a, password: b, role: nope} ] }"),
              HasSubstr("unknown permission set"));
  EXPECT_THAT(LoadError("oidc { issuer: x }"), HasSubstr("oidc requires an audience"));
  EXPECT_THAT(LoadError("oidc { issuer: x, audience: y, jwks_file: z, bogus: 1 }"),
              HasSubstr("unknown field"));
}

TEST(ConfigLoader, EffectiveSecurityConfigAppliesFlags) {
  Loaded l = Load("authorization { token: from-file }");
  ASSERT_TRUE(l.status.ok()) << l.status;
  l.opts.auth.token = "from-flag";
  auto s = EffectiveSecurityConfig(l.opts);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->token, "from-flag");
  l.opts.auth.user = "u";
  l.opts.auth.password = "p";
  EXPECT_FALSE(EffectiveSecurityConfig(l.opts).ok());  // token and user
}

TEST(ConfigLoader, Cluster) {
  Loaded l = Load(
      "cluster {\n  name: east\n  listen: 127.0.0.1:6222\n  routes: [\n"
      "    nats://127.0.0.1:6223\n    nats-route://127.0.0.1:6224\n  ]\n}");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.cluster.name, "east");
  EXPECT_EQ(l.opts.cluster.host, "127.0.0.1");
  EXPECT_EQ(l.opts.cluster.port, 6222);
  EXPECT_THAT(l.opts.cluster.routes,
              ElementsAre("nats://127.0.0.1:6223", "nats-route://127.0.0.1:6224"));

  l = Load("cluster { host: 127.0.0.3, port: 7222, routes: nats://127.0.0.1:6223 }");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.cluster.host, "127.0.0.3");
  EXPECT_EQ(l.opts.cluster.port, 7222);
  EXPECT_THAT(l.opts.cluster.routes, ElementsAre("nats://127.0.0.1:6223"));
}

TEST(ConfigLoader, ClusterWarningsAndErrors) {
  Loaded l = Load(
      "cluster {\n  port: 6222\n  routes [\n    nats://a:1\n    nats://a:1\n  ]\n"
      "  authorization { user: r, password: p }\n  tls { cert_file: x, key_file: y }\n"
      "  bogus: 1\n}");
  EXPECT_EQ(l.status.message(), "t.conf:9: unknown field \"bogus\"");
  l = Load(
      "cluster {\n  port: 6222\n  routes [\n    nats://a:1\n    nats://a:1\n  ]\n"
      "  authorization { user: r, password: p }\n  tls { cert_file: x, key_file: y }\n}");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_THAT(l.opts.cluster.routes, ElementsAre("nats://a:1"));
  EXPECT_THAT(l.warnings, ElementsAre("t.conf:5: nats://a:1: Duplicate route entry detected"));
  EXPECT_EQ(LoadError("cluster {\n routes: [ \"127.0.0.1:6222\" ]\n}"),
            "t.conf:2: error parsing route url '127.0.0.1:6222': expected scheme://host:port");
  EXPECT_EQ(LoadError("cluster {\n port: 100000\n}"),
            "t.conf:2: cluster port: port 100000 is out of range (0-65535, or -1 for random)");
  EXPECT_EQ(LoadError("cluster: [1]"), "t.conf:1: cluster: expected a map, got array");
  EXPECT_EQ(LoadError("cluster { name: \"a b\" }"), "t.conf:1: cluster name cannot contain spaces");
}

TEST(ConfigLoader, JetStream) {
  Loaded l = Load("jetstream: enabled");
  ASSERT_TRUE(l.status.ok());
  EXPECT_TRUE(l.opts.jetstream);
  l = Load("jetstream: true");
  ASSERT_TRUE(l.status.ok());
  EXPECT_TRUE(l.opts.jetstream);
  l = Load("jetstream: disabled");
  ASSERT_TRUE(l.status.ok());
  EXPECT_FALSE(l.opts.jetstream);

  l = Load("jetstream {\n  store_dir: /data/js\n  max_mem: 1GB\n}");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_TRUE(l.opts.jetstream);
  EXPECT_EQ(l.opts.store_dir, "/data/js");
  EXPECT_EQ(l.opts.jetstream_max_memory, 1LL << 30);
  EXPECT_THAT(l.warnings, IsEmpty());

  l = Load("jetstream { store: /x, enabled: false }");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_FALSE(l.opts.jetstream);
  EXPECT_EQ(l.opts.store_dir, "/x");

  l = Load("store_dir: /y");  // the directory alone does not enable JetStream
  ASSERT_TRUE(l.status.ok());
  EXPECT_FALSE(l.opts.jetstream);
  EXPECT_EQ(l.opts.store_dir, "/y");

  EXPECT_EQ(LoadError("store_dir: /a\njetstream {\n  store_dir: /b\n}"),
            "t.conf:3: Duplicate 'store_dir' configuration");
  EXPECT_EQ(LoadError("jetstream: maybe"),
            "t.conf:1: Expected 'enabled' or 'disabled' for string value, got 'maybe'");
  EXPECT_EQ(LoadError("jetstream: 1"),
            "t.conf:1: jetstream: expected a map, boolean or string, got integer");
}

// The jetstream block exactly as nats-server 2.9 writes and reads it
// (opts.go parseJetStream, getStorageSize).
TEST(ConfigLoader, JetStreamLimitsAndDomain) {
  Loaded l = Load(
      "jetstream {\n  store_dir: /js\n  max_memory_store: 1G\n  max_file_store: 512MB\n"
      "  domain: hub\n}\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_TRUE(l.opts.jetstream);
  EXPECT_EQ(l.opts.jetstream_max_memory, 1000LL * 1000 * 1000);  // conf syntax: G = 1000^3
  EXPECT_EQ(l.opts.jetstream_max_file, 512LL << 20);             // MB = 1024^2
  EXPECT_EQ(l.opts.jetstream_domain, "hub");
  EXPECT_THAT(l.warnings, IsEmpty());

  struct Case {
    const char* text;
    int64_t memory;
    int64_t file;
  };
  const Case cases[] = {
      {"jetstream { max_mem_store: 1073741824, max_file: 10GB }", 1LL << 30, 10LL << 30},
      {"jetstream { max_mem: \"1G\", max_file: \"512M\" }", 1LL << 30, 512LL << 20},
      {"jetstream { max_mem: \"2K\", max_file: \"3T\" }", 2048, 3LL << 40},
      {"jetstream { max_mem: -1, max_file: 0 }", -1, 0},
      {"jetstream { max_mem: \"\", MAX_FILE_STORE: 1kb }", 0, 1024},
      {"jetstream { enabled: true }", -1, -1},
  };
  for (const Case& c : cases) {
    l = Load(c.text);
    ASSERT_TRUE(l.status.ok()) << c.text << ": " << l.status;
    EXPECT_EQ(l.opts.jetstream_max_memory, c.memory) << c.text;
    EXPECT_EQ(l.opts.jetstream_max_file, c.file) << c.text;
  }

  // nats-server's messages (the strconv ones are Go's).
  EXPECT_EQ(LoadError("jetstream {\n  max_file_store: \"1GB\"\n}"),
            "t.conf:2: max_file_store strconv.ParseInt: parsing \"1G\": invalid syntax");
  EXPECT_EQ(LoadError("jetstream { max_file_store: \"1g\" }"),
            "t.conf:1: max_file_store sizes defined as strings must end in K, M, G, T");
  EXPECT_EQ(LoadError("jetstream { max_mem: 1.5 }"),
            "t.conf:1: max_mem_store must be int64 or string");
  EXPECT_EQ(LoadError("jetstream { max_mem: \"99999999999999999999G\" }"),
            "t.conf:1: max_mem_store strconv.ParseInt: parsing \"99999999999999999999\": value out "
            "of range");
  EXPECT_EQ(LoadError("jetstream { max_mem: \"9999999999T\" }"),
            "t.conf:1: max_mem_store value out of range");
  // nats-server takes any negative size as "no limit"; Herald only -1.
  EXPECT_EQ(LoadError("jetstream { max_mem: -5 }"),
            "t.conf:1: max_mem_store can not be negative (-1 means no limit), got -5");
  EXPECT_EQ(LoadError("jetstream { max_file: \"-2K\" }"),
            "t.conf:1: max_file_store can not be negative (-1 means no limit), got -2048");
  // Domains: nats-server's validateJetStreamOptions, with file:line.
  EXPECT_EQ(LoadError("jetstream {\n  domain: \"a.b\"\n}"),
            "t.conf:2: invalid domain name: may not contain ., * or >");
  EXPECT_EQ(LoadError("jetstream { domain: \"a*\" }"),
            "t.conf:1: invalid domain name: may not contain ., * or >");
  EXPECT_EQ(LoadError("jetstream { domain: \"a b\" }"),
            "t.conf:1: invalid domain name: derived \"$JS.a b.API.>\" is not a valid subject");
  EXPECT_EQ(LoadError("jetstream { domain: 5 }"),
            "t.conf:1: domain: expected a string, got integer");
  EXPECT_EQ(LoadError("jetstream { store_dir: 5 }"),
            "t.conf:1: store_dir: expected a string, got integer");
}

TEST(ConfigLoader, ValidateJetStreamOptions) {
  ServerOptions o;
  EXPECT_TRUE(ValidateJetStreamOptions(o).ok());
  o.jetstream_domain = ">";
  EXPECT_EQ(ValidateJetStreamOptions(o).message(),
            "invalid domain name: derived \"$JS.>.API.>\" is not a valid subject");
  o.jetstream_domain = "hub";
  o.jetstream = true;
  o.cluster.port = 6222;
  EXPECT_EQ(ValidateJetStreamOptions(o).message(),
            "jetstream cluster requires `server_name` to be set");
  o.server_name = "n1";
  EXPECT_EQ(ValidateJetStreamOptions(o).message(),
            "jetstream cluster requires `cluster.name` to be set");
  o.cluster.name = "c";
  EXPECT_TRUE(ValidateJetStreamOptions(o).ok());
  o.jetstream = false;  // a cluster without JetStream needs neither
  o.server_name.clear();
  EXPECT_TRUE(ValidateJetStreamOptions(o).ok());
}

// Herald's own cluster key: where the Raft transport listens.
TEST(ConfigLoader, ClusterRaftListen) {
  Loaded l = Load("cluster {\n  port: 6222\n  raft_listen: \"127.0.0.1:7422\"\n}");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.cluster.raft_listen, "127.0.0.1:7422");
  EXPECT_THAT(l.warnings, IsEmpty());
  l = Load("cluster { port: 6222, raft_listen: \":7422\" }");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.cluster.raft_listen, "0.0.0.0:7422");
  l = Load("cluster { port: 6222, raft_listen: 7422 }");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.cluster.raft_listen, "0.0.0.0:7422");
  l = Load("cluster { port: 6222, raft_listen: \"[::1]:-1\" }");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.cluster.raft_listen, "[::1]:0");
  EXPECT_EQ(LoadError("cluster {\n  raft_listen: \"h:x\"\n}"),
            "t.conf:2: raft_listen: could not parse port \"x\"");
  EXPECT_EQ(LoadError("cluster { raft_listen: \"h:70000\" }"),
            "t.conf:1: raft_listen: port 70000 is out of range (0-65535, or -1 for random)");
  EXPECT_EQ(LoadError("cluster { raft_listen: [1] }"),
            "t.conf:1: raft_listen: expected a port or \"host:port\", got array");
}

TEST(ConfigLoader, IoThreads) {
  Loaded l = Load("io_threads: 4");
  ASSERT_TRUE(l.status.ok());
  EXPECT_EQ(l.opts.io_threads, 4);
  EXPECT_THAT(l.warnings, IsEmpty());
}

TEST(ConfigLoader, UnsupportedKeysWarn) {
  Loaded l = Load(
      "port: 4222\ntls {\n  cert_file: x\n  key_file: y\n}\naccounts { A: {} }\nleafnodes { port: "
      "7422 }\n"
      "gateway { name: g }\nwebsocket { port: 8080 }\nmqtt { port: 1883 }\n"
      "system_account: SYS\nlogtime: false\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_THAT(l.warnings, ElementsAre("t.conf:6: accounts is not supported yet, ignored",
                                      "t.conf:7: leafnodes is not supported yet, ignored",
                                      "t.conf:8: gateway is not supported yet, ignored",
                                      "t.conf:9: websocket is not supported yet, ignored",
                                      "t.conf:10: mqtt is not supported yet, ignored",
                                      "t.conf:11: system_account is not supported yet, ignored",
                                      "t.conf:12: logtime is not supported yet, ignored"));
}

TEST(ConfigLoader, KeysUsedAsVariablesAreNotUnknown) {
  Loaded l = Load(
      "PASS: secret\nauthorization { user: a, password: $PASS }\n"
      "jetstream {\n  x: 5G\n  max_mem: $x\n}\ncluster {\n  p: 6222\n  port: $p\n}\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.opts.auth.password, "secret");
  EXPECT_EQ(l.opts.jetstream_max_memory, 5LL * 1000 * 1000 * 1000);
  EXPECT_EQ(l.opts.cluster.port, 6222);
  EXPECT_THAT(l.warnings, IsEmpty());
  // A variable nobody reads is an unknown key, as in nats-server.
  EXPECT_EQ(LoadError("PASS: secret\nUNUSED: 1\nauthorization { user: a, password: $PASS }\n"),
            "t.conf:2: unknown field \"UNUSED\"");
}

TEST(ConfigLoader, ParseHostPortHelper) {
  std::string host = "keep";
  int port = 0;
  ASSERT_TRUE(ParseHostPort("1.2.3.4:5", &host, &port).ok());
  EXPECT_EQ(host, "1.2.3.4");
  EXPECT_EQ(port, 5);
  EXPECT_FALSE(ParseHostPort("::1:4222", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("[::1", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("h:", &host, &port).ok());
}

TEST(ConfigLoader, LoadSimpleTestdataFile) {
  std::vector<std::string> warnings;
  auto o = LoadConfigFile("server/config/testdata/simple.conf", &warnings);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->config_file, "server/config/testdata/simple.conf");
  EXPECT_EQ(o->server_name, "herald-1");
  EXPECT_EQ(o->host, "127.0.0.1");
  EXPECT_EQ(o->port, 4333);
  EXPECT_EQ(o->http_host, "127.0.0.1");
  EXPECT_EQ(o->http_port, 8333);
  EXPECT_FALSE(o->debug);
  EXPECT_FALSE(o->trace);
  EXPECT_EQ(o->max_payload, 2 * 1024 * 1024);
  EXPECT_EQ(o->max_connections, 1000);
  EXPECT_EQ(o->max_control_line, 4096);
  EXPECT_EQ(o->max_pending, 32 * 1024 * 1024);
  EXPECT_EQ(o->ping_interval, absl::Seconds(30));
  EXPECT_EQ(o->ping_max, 3);
  EXPECT_EQ(o->write_deadline, absl::Seconds(5));
  EXPECT_EQ(o->lame_duck_duration, absl::Seconds(45));
  EXPECT_EQ(o->lame_duck_grace_period, absl::Seconds(5));
  EXPECT_EQ(o->pid_file, "/tmp/herald.pid");
  EXPECT_EQ(o->log_file, "/tmp/herald.log");
  EXPECT_EQ(o->auth.user, "alice");
  EXPECT_EQ(o->auth.password, "s3cr3t");
  EXPECT_EQ(o->auth.timeout, absl::Seconds(3));
  EXPECT_THAT(warnings, ElementsAre("server/config/testdata/simple.conf:8: logtime is not "
                                    "supported yet, ignored"));
}

TEST(ConfigLoader, LoadClusterTestdataFileWithWarningsOnly) {
  std::vector<std::string> warnings;
  auto o = LoadConfigFile("server/config/testdata/cluster.conf", &warnings);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->server_name, "n1");
  EXPECT_EQ(o->port, 4222);
  EXPECT_EQ(o->http_port, 8222);
  EXPECT_EQ(o->max_payload, 1024 * 1024);  // from the include: 1MB = 1024^2
  EXPECT_EQ(o->max_connections, 10000);
  EXPECT_EQ(o->ping_interval, absl::Minutes(1));
  EXPECT_TRUE(o->jetstream);
  EXPECT_EQ(o->store_dir, "/var/lib/herald/js");
  EXPECT_EQ(o->cluster.name, "herald-east");
  EXPECT_EQ(o->cluster.host, "0.0.0.0");
  EXPECT_EQ(o->cluster.port, 6222);
  EXPECT_EQ(o->cluster.username, "route_user");
  EXPECT_EQ(o->cluster.password, "route_pass");
  EXPECT_THAT(o->cluster.routes,
              ElementsAre("nats-route://127.0.0.1:6222", "nats-route://127.0.0.1:6223",
                          "nats-route://127.0.0.1:6224"));
  EXPECT_EQ(o->jetstream_max_memory, 1LL << 30);
  EXPECT_EQ(o->jetstream_max_file, 10LL << 30);
  const std::string f = "server/config/testdata/cluster.conf";
  EXPECT_THAT(warnings, ElementsAre(absl::StrCat(f, ":39: accounts is not supported yet, ignored"),
                                    absl::StrCat(f,
                                                 ":48: system_account is not supported yet, "
                                                 "ignored")));
}

TEST(ConfigLoader, LoadVariablesTestdataFile) {
  std::vector<std::string> warnings;
  auto o = LoadConfigFile("server/config/testdata/variables.conf", &warnings);
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->auth.users.size(), 2u);
  EXPECT_EQ(o->auth.users[0].user, "alice");
  EXPECT_EQ(o->auth.users[0].password,
            "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG");
  EXPECT_EQ(o->auth.users[1].password, "bob-pass");
  EXPECT_EQ(o->auth.timeout, absl::Milliseconds(1500));
  EXPECT_EQ(o->io_threads, 2);
  EXPECT_TRUE(o->jetstream);
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(ConfigLoader, LoadMissingFileFails) {
  auto o = LoadConfigFile("/nonexistent/x.conf", nullptr);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("/nonexistent/x.conf"));
}

}  // namespace
}  // namespace herald
