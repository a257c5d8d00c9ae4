// libFuzzer target for CONNECT handling: arbitrary bytes as the CONNECT JSON
// (credentials extracted, then Authenticate against fixed configs), and, by
// the first byte, as an OIDC payload or header signed with the harness key
// (so the claim checks are reached), as a revocation list or JWKS, as
// permission lists and subjects, or as a config file's security blocks. Nothing may crash, leak or
// hang, and a few invariants are checked (abort on violation).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "server/auth/authenticator.h"
#include "server/auth/jwt_test_util.h"
#include "server/auth/nkeys.h"
#include "server/auth/security_config.h"
#include "server/config/conf_parser.h"

namespace {

using herald::auth::Authenticator;
using herald::auth::ConnectCredentials;
using herald::auth::Permissions;
using herald::auth::SecurityConfig;
using herald::auth::SubjectPermission;
using herald::auth::testing::TestSigner;

constexpr char kPub[] = "UBGQ5Q5A2A76774TVG6M4KREWQDNI32EV37R654H3LW3CPFK7JACYEW2";
constexpr char kNonce[] = "ZmFrZW5vbmNlMTI";
const absl::Time kNow = absl::FromUnixSeconds(1700000000);

struct Harness {
  std::unique_ptr<TestSigner> signer;
  std::unique_ptr<Authenticator> users;  // users + nkeys + oidc
  std::unique_ptr<Authenticator> token;  // token + oidc
};

Harness* Init() {
  auto* h = new Harness;
  h->signer = std::make_unique<TestSigner>(TestSigner::Ec("fuzz"));
  const std::string path = "/tmp/herald_connect_fuzz_jwks_" + std::to_string(getpid()) + ".json";
  std::ofstream(path) << herald::auth::testing::MakeJwks({h->signer->JwkJson()});
  SecurityConfig c;
  Permissions dev;
  dev.publish = SubjectPermission{std::vector<std::string>{"dev.>"}, {"dev.secret"}};
  c.permission_sets["dev"] = dev;
  c.oidc.issuer = "https://idp";
  c.oidc.audience = "herald";
  c.oidc.jwks_file = path;
  c.oidc.roles = {{"g-dev", "dev"}};
  SecurityConfig u = c;
  u.users.push_back({"alice", "pw", std::nullopt, "dev"});
  u.users.push_back(
      {"bob", "$2a$04$WTzvMxeMqeA.LJ1FdW6mXuDB4W0evyn688/nFFjIulFk4zj/7f1ty", std::nullopt, ""});
  u.nkeys.push_back({kPub, std::nullopt, ""});
  SecurityConfig t = c;
  t.token = "plain-token";
  auto a = Authenticator::Create(u);
  auto b = Authenticator::Create(t);
  if (!a.ok() || !b.ok()) abort();
  h->users = std::move(*a);
  h->token = std::move(*b);
  std::remove(path.c_str());
  return h;
}

void Check(const Authenticator& a, const ConnectCredentials& creds) {
  auto id = a.Authenticate(creds, kNonce, kNow, nullptr);
  if (!id.ok()) return;
  // An accepted identity must revalidate against the same config.
  if (!a.Revalidate(*id, kNow, nullptr).ok()) abort();
  if (id->kind == herald::auth::AuthKind::kOidc && id->expires_at <= kNow - absl::Minutes(1))
    abort();
}

void FuzzConnect(const std::string& s, Harness* h) {
  auto creds = herald::auth::CredentialsFromConnectJson(s);
  if (!creds.ok()) return;
  Check(*h->users, *creds);
  Check(*h->token, *creds);
}

void FuzzPermissions(const std::string& s) {
  // Lines: allow entries until an empty line, deny entries until the next,
  // then subjects ("subject [queue]") to check.
  std::vector<std::string> lines = absl::StrSplit(s, '\n');
  Permissions p;
  p.subscribe.emplace();
  p.subscribe->allow.emplace();
  p.publish.emplace();
  int part = 0;
  std::vector<std::string> probes;
  for (const std::string& l : lines) {
    if (l.empty()) {
      ++part;
      continue;
    }
    if (part == 0) {
      p.subscribe->allow->push_back(l);
    } else if (part == 1) {
      p.subscribe->deny.push_back(l);
      p.publish->deny.push_back(l);
    } else {
      probes.push_back(l);
    }
  }
  auto c = herald::auth::CompiledPermissions::Compile(p);
  if (!c.ok()) return;
  for (const std::string& probe : probes) {
    std::vector<std::string> sq = absl::StrSplit(probe, ' ');
    const std::string queue = sq.size() > 1 ? sq[1] : "";
    auto d = (*c)->CanSubscribe(sq[0], queue);
    (*c)->CanPublish(sq[0]);
    // A literal subject that is allowed needs no delivery filter and
    // passes it.
    if (d.allowed && (*c)->DeliveryAllowed(sq[0], queue) != true) abort();
    herald::auth::PublishViolationText(sq[0]);
    herald::auth::SubscribeViolationText(sq[0], queue);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness* h = Init();
  if (size == 0) return 0;
  const std::string s(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 7) {
    case 0:
      FuzzConnect(s, h);
      break;
    case 1: {  // an OIDC payload, signed
      ConnectCredentials c;
      c.auth_token = h->signer->Sign(s);
      Check(*h->users, c);
      Check(*h->token, c);
      break;
    }
    case 2: {  // header | payload, signed
      const size_t bar = s.find('|');
      if (bar == std::string::npos) break;
      ConnectCredentials c;
      c.auth_token = h->signer->SignRaw(s.substr(0, bar), s.substr(bar + 1));
      Check(*h->users, c);
      break;
    }
    case 3:
      herald::auth::RevocationList::Parse(s).IgnoreError();
      herald::auth::Jwks::Parse(s).IgnoreError();
      break;
    case 4:
      FuzzPermissions(s);
      break;
    case 5: {  // raw token / nkey / signature material
      ConnectCredentials c;
      c.auth_token = s;
      Check(*h->token, c);
      ConnectCredentials n;
      n.nkey = kPub;
      n.sig = s;
      Check(*h->users, n);
      herald::auth::DecodeUserPublicKey(s).IgnoreError();
      herald::auth::Base32Decode(s).IgnoreError();
      break;
    }
    case 6: {  // a config file's security blocks
      herald::ConfParseOptions opts;
      opts.use_environment = false;
      opts.max_bytes = 64 * 1024;
      auto root = herald::ParseConfString(s, "fuzz.conf", opts);
      if (!root.ok()) break;
      auto cfg = herald::auth::ParseSecurityConfig(*root);
      // A config that parses must validate (Create only adds JWKS loading).
      if (cfg.ok() && !herald::auth::ValidateSecurityConfig(*cfg).ok()) abort();
      break;
    }
  }
  return 0;
}
