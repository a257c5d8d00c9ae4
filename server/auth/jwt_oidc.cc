#include "server/auth/jwt_oidc.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "server/auth/nkeys.h"

namespace herald::auth {
namespace {

using json = nlohmann::json;

// Largest JWKS we keep; more keys would only slow down kid-less tokens.
constexpr size_t kMaxJwksKeys = 64;
// NumericDate bounds: 0 .. year 9999, so absl::FromUnixSeconds stays exact.
constexpr double kMaxNumericDate = 253402300799.0;

absl::Status Unauth(absl::string_view why) { return absl::UnauthenticatedError(why); }

json ParseJson(absl::string_view text) {
  return json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

const json* Member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

bool GetString(const json& obj, const char* key, std::string* out) {
  const json* v = Member(obj, key);
  if (v == nullptr || !v->is_string()) return false;
  *out = v->get<std::string>();
  return true;
}

struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct ParamBldDeleter {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamDeleter {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct EcdsaSigDeleter {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

std::shared_ptr<EVP_PKEY> WrapPkey(EVP_PKEY* p) {
  return std::shared_ptr<EVP_PKEY>(p, [](EVP_PKEY* k) { EVP_PKEY_free(k); });
}

absl::StatusOr<std::shared_ptr<EVP_PKEY>> FromParams(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamDeleter> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
    return absl::InternalError("openssl: cannot build key");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 ||
      raw == nullptr) {
    return absl::InvalidArgumentError("jwks: key rejected by OpenSSL");
  }
  std::shared_ptr<EVP_PKEY> key = WrapPkey(raw);
  // EVP_PKEY_fromdata does not check that an EC point is on the curve.
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> check(
      EVP_PKEY_CTX_new_from_pkey(nullptr, raw, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return absl::InvalidArgumentError("jwks: public key check failed");
  }
  return key;
}

absl::StatusOr<std::string> B64Member(const json& k, const char* name) {
  std::string text;
  if (!GetString(k, name, &text))
    return absl::InvalidArgumentError(absl::StrCat("jwks: missing ", name));
  absl::StatusOr<std::string> raw = Base64UrlDecode(text);
  if (!raw.ok() || raw->empty())
    return absl::InvalidArgumentError(absl::StrCat("jwks: bad ", name));
  return raw;
}

absl::StatusOr<std::shared_ptr<EVP_PKEY>> RsaKey(const json& k) {
  auto n = B64Member(k, "n");
  if (!n.ok()) return n.status();
  auto e = B64Member(k, "e");
  if (!e.ok()) return e.status();
  std::unique_ptr<BIGNUM, BnDeleter> bn_n(BN_bin2bn(
      reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr));
  std::unique_ptr<BIGNUM, BnDeleter> bn_e(BN_bin2bn(
      reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr));
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter> bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld) return absl::InternalError("openssl: allocation failed");
  if (BN_num_bits(bn_n.get()) < kMinRsaBits) {
    return absl::FailedPreconditionError(
        absl::StrCat("jwks: RSA key smaller than ", kMinRsaBits, " bits"));
  }
  if (OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return absl::InternalError("openssl: param build failed");
  }
  return FromParams("RSA", bld.get());
}

absl::StatusOr<std::shared_ptr<EVP_PKEY>> EcKey(const json& k) {
  auto x = B64Member(k, "x");
  if (!x.ok()) return x.status();
  auto y = B64Member(k, "y");
  if (!y.ok()) return y.status();
  if (x->size() != 32 || y->size() != 32)
    return absl::InvalidArgumentError("jwks: bad P-256 coordinates");
  std::string point = "\x04" + *x + *y;  // uncompressed SEC1 point
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter> bld(OSSL_PARAM_BLD_new());
  if (!bld) return absl::InternalError("openssl: allocation failed");
  if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return absl::InternalError("openssl: param build failed");
  }
  return FromParams("EC", bld.get());
}

// The signature check proper. `signing_input` is "header.payload".
bool VerifySignature(const Jwk& key, const std::string& alg, absl::string_view signing_input,
                     const std::string& sig) {
  std::string der;
  const std::string* to_verify = &sig;
  if (alg == "ES256") {
    // JOSE carries r||s (32 bytes each); OpenSSL wants a DER ECDSA-Sig-Value.
    if (sig.size() != 64) return false;
    std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter> es(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr);
    if (!es || r == nullptr || s == nullptr || ECDSA_SIG_set0(es.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return false;
    }
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(es.get(), &out);
    if (len <= 0) return false;
    der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(len));
    OPENSSL_free(out);
    to_verify = &der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  // For RSA keys the default padding is PKCS#1 v1.5, which is RS256.
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.key.get()) != 1)
    return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(to_verify->data()),
                          to_verify->size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()),
                          signing_input.size()) == 1;
}

absl::StatusOr<absl::Time> NumericDate(const json& v) {
  if (!v.is_number()) return Unauth("time claim is not a number");
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < 0 || d > kMaxNumericDate) return Unauth("time claim out of range");
  return absl::FromUnixSeconds(static_cast<int64_t>(d));
}

// Follows a dotted claim path ("realm_access.roles").
const json* ClaimAt(const json& payload, const std::string& path) {
  const json* cur = &payload;
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(std::string(part));
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Jwks>> Jwks::Parse(absl::string_view text) {
  json doc = ParseJson(text);
  if (doc.is_discarded() || !doc.is_object())
    return absl::InvalidArgumentError("jwks: not a JSON object");
  const json* keys = Member(doc, "keys");
  if (keys == nullptr || !keys->is_array())
    return absl::InvalidArgumentError("jwks: no \"keys\" array");
  std::shared_ptr<Jwks> out(new Jwks());
  for (const json& k : *keys) {
    if (!k.is_object()) return absl::InvalidArgumentError("jwks: key is not an object");
    Jwk jwk;
    std::string use;
    if (!GetString(k, "kty", &jwk.kty)) return absl::InvalidArgumentError("jwks: key without kty");
    GetString(k, "kid", &jwk.kid);
    GetString(k, "alg", &jwk.alg);
    if (GetString(k, "use", &use) && use != "sig") continue;  // encryption keys
    absl::StatusOr<std::shared_ptr<EVP_PKEY>> key;
    if (jwk.kty == "RSA") {
      if (!jwk.alg.empty() && jwk.alg != "RS256") continue;
      key = RsaKey(k);
    } else if (jwk.kty == "EC") {
      std::string crv;
      GetString(k, "crv", &crv);
      if (crv != "P-256" || (!jwk.alg.empty() && jwk.alg != "ES256")) continue;
      key = EcKey(k);
    } else {
      continue;  // oct (symmetric), OKP, ...: never accepted
    }
    if (!key.ok()) {
      // A short RSA key is skipped (other keys may still be fine); a
      // malformed one means the file is broken.
      if (absl::IsFailedPrecondition(key.status())) continue;
      return absl::InvalidArgumentError(
          absl::StrCat(key.status().message(), " (kid \"", jwk.kid, "\")"));
    }
    jwk.key = std::move(*key);
    out->keys_.push_back(std::move(jwk));
    if (out->keys_.size() > kMaxJwksKeys) return absl::InvalidArgumentError("jwks: too many keys");
  }
  if (out->keys_.empty()) return absl::InvalidArgumentError("jwks: no usable RS256/ES256 key");
  return std::shared_ptr<const Jwks>(std::move(out));
}

bool LooksLikeJwt(absl::string_view token) {
  if (token.size() > kMaxJwtBytes) return false;
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty()) return false;
  absl::StatusOr<std::string> header = Base64UrlDecode(parts[0]);
  if (!header.ok()) return false;
  json h = ParseJson(*header);
  return !h.is_discarded() && h.is_object() && h.contains("alg");
}

absl::StatusOr<OidcClaims> VerifyOidcToken(absl::string_view token, const Jwks& jwks,
                                           const OidcConfig& config, absl::Time now) {
  if (!config.enabled() || config.audience.empty()) return Unauth("oidc not configured");
  if (token.size() > kMaxJwtBytes) return Unauth("token too long");
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return Unauth("not a compact JWS");
  absl::StatusOr<std::string> header_raw = Base64UrlDecode(parts[0]);
  absl::StatusOr<std::string> payload_raw = Base64UrlDecode(parts[1]);
  absl::StatusOr<std::string> sig = Base64UrlDecode(parts[2]);
  if (!header_raw.ok() || !payload_raw.ok() || !sig.ok()) return Unauth("bad base64url");

  json header = ParseJson(*header_raw);
  if (header.is_discarded() || !header.is_object()) return Unauth("header is not a JSON object");
  std::string alg;
  if (!GetString(header, "alg", &alg)) return Unauth("header without alg");
  if (alg != "RS256" && alg != "ES256") return Unauth(absl::StrCat("alg not allowed: ", alg));
  if (header.contains("crit")) return Unauth("unsupported critical header");
  std::string kid;
  const bool has_kid = GetString(header, "kid", &kid);
  const std::string kty = alg == "RS256" ? "RSA" : "EC";

  // Signature first: nothing in an unverified payload is looked at.
  const size_t signed_len = parts[0].size() + 1 + parts[1].size();
  const absl::string_view signing_input = token.substr(0, signed_len);
  bool key_found = false;
  bool verified = false;
  for (const Jwk& k : jwks.keys()) {
    if (k.kty != kty || (!k.alg.empty() && k.alg != alg)) continue;
    if (has_kid && k.kid != kid) continue;
    key_found = true;
    if (VerifySignature(k, alg, signing_input, *sig)) {
      verified = true;
      break;
    }
  }
  if (!key_found) return Unauth(absl::StrCat("no key for kid \"", kid, "\" and alg ", alg));
  if (!verified) return Unauth("signature not verified");

  json payload = ParseJson(*payload_raw);
  if (payload.is_discarded() || !payload.is_object()) return Unauth("payload is not a JSON object");
  OidcClaims claims;
  if (!GetString(payload, "iss", &claims.issuer) || claims.issuer != config.issuer) {
    return Unauth("issuer mismatch");
  }
  const json* aud = Member(payload, "aud");
  bool aud_ok = false;
  if (aud != nullptr && aud->is_string()) {
    aud_ok = aud->get<std::string>() == config.audience;
  } else if (aud != nullptr && aud->is_array()) {
    for (const json& a : *aud)
      aud_ok = aud_ok || (a.is_string() && a.get<std::string>() == config.audience);
  }
  if (!aud_ok) return Unauth("audience mismatch");

  const json* exp = Member(payload, "exp");
  if (exp == nullptr) return Unauth("token without exp");
  absl::StatusOr<absl::Time> exp_t = NumericDate(*exp);
  if (!exp_t.ok()) return exp_t.status();
  if (now >= *exp_t + config.skew) return Unauth("token expired");
  claims.expires_at = *exp_t;
  if (const json* nbf = Member(payload, "nbf")) {
    absl::StatusOr<absl::Time> t = NumericDate(*nbf);
    if (!t.ok()) return t.status();
    if (*t > now + config.skew) return Unauth("token not yet valid (nbf)");
  }
  if (const json* iat = Member(payload, "iat")) {
    absl::StatusOr<absl::Time> t = NumericDate(*iat);
    if (!t.ok()) return t.status();
    if (*t > now + config.skew) return Unauth("token issued in the future (iat)");
    claims.issued_at = *t;
  }
  if (!GetString(payload, "sub", &claims.subject) || claims.subject.empty()) {
    return Unauth("token without sub");
  }
  if (payload.contains("jti") && !GetString(payload, "jti", &claims.jwt_id)) {
    return Unauth("jti is not a string");
  }
  if (const json* roles = ClaimAt(payload, config.role_claim)) {
    if (roles->is_string()) {
      claims.role_values.push_back(roles->get<std::string>());
    } else if (roles->is_array()) {
      for (const json& r : *roles) {
        if (r.is_string()) claims.role_values.push_back(r.get<std::string>());
      }
    }
  }
  for (const std::string& r : claims.role_values) {
    auto it = config.roles.find(r);
    if (it != config.roles.end()) claims.permission_sets.push_back(it->second);
  }
  return claims;
}

JwksStore::JwksStore(std::string path) : path_(std::move(path)) {}

absl::Status JwksStore::Reload() { return Load(/*force=*/true); }

absl::Status JwksStore::ReloadIfChanged() { return Load(/*force=*/false); }

absl::Status JwksStore::Load(bool force) {
  MutexLock reload(&reload_mu_);
  absl::StatusOr<FileStamp> stamp = StatFile(path_);
  if (!stamp.ok()) return stamp.status();
  const bool racy = StampIsRacy(*stamp);
  bool have_keys;
  {
    MutexLock l(&mu_);
    have_keys = jwks_ != nullptr;
  }
  // Unchanged since the last load, or since a failed attempt (reported
  // then; the file must change before we try again).
  if (!force && !racy && ((have_keys && *stamp == stamp_) || *stamp == attempted_)) {
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> text = ReadSmallFile(path_, kMaxJwksBytes);
  if (!text.ok()) return text.status();
  const std::string digest = ContentDigest(*text);
  if (!force && ((have_keys && digest == digest_) || digest == attempted_digest_)) {
    return absl::OkStatus();
  }
  attempted_ = *stamp;
  attempted_digest_ = digest;
  absl::StatusOr<std::shared_ptr<const Jwks>> jwks = Jwks::Parse(*text);
  if (!jwks.ok())
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", jwks.status().message()));
  stamp_ = *stamp;
  digest_ = digest;
  MutexLock l(&mu_);
  jwks_ = std::move(*jwks);
  return absl::OkStatus();
}

std::shared_ptr<const Jwks> JwksStore::Current() const {
  MutexLock l(&mu_);
  return jwks_;
}

}  // namespace herald::auth
