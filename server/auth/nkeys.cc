#include "server/auth/nkeys.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace herald::auth {
namespace {

constexpr char kBase32Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr char kBase64Std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Raw sizes: prefix + key + crc, and the two seed prefix bytes + seed + crc.
constexpr size_t kPublicRawLen = 1 + 32 + 2;
constexpr size_t kSeedRawLen = 2 + 32 + 2;

int Base32Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

int Base64Value(char c, bool url) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (url ? '-' : '+')) return 62;
  if (c == (url ? '_' : '/')) return 63;
  return -1;
}

// Decodes unpadded base64 of either alphabet. Trailing bits that do not
// form a byte are ignored, as Go's (non-strict) decoders do.
absl::StatusOr<std::string> Base64DecodeUnpadded(absl::string_view text, bool url) {
  if (text.size() % 4 == 1) return absl::InvalidArgumentError("base64: bad length");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = Base64Value(c, url);
    if (v < 0) return absl::InvalidArgumentError("base64: illegal character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::string Base64EncodeImpl(absl::string_view data, const char* alphabet) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : data) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(alphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(alphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

absl::string_view AsView(const std::string& s) { return absl::string_view(s.data(), s.size()); }

// Decodes base32 and checks length and CRC; returns the raw bytes without
// the CRC.
absl::StatusOr<std::string> DecodeChecked(absl::string_view text, size_t raw_len) {
  absl::StatusOr<std::string> raw = Base32Decode(text);
  if (!raw.ok()) return raw.status();
  if (raw->size() != raw_len) return absl::InvalidArgumentError("nkey: wrong length");
  const size_t body = raw_len - 2;
  uint16_t want = static_cast<uint16_t>(static_cast<uint8_t>((*raw)[body]) |
                                        static_cast<uint8_t>((*raw)[body + 1]) << 8);
  if (Crc16Xmodem(absl::string_view(raw->data(), body)) != want) {
    return absl::InvalidArgumentError("nkey: checksum mismatch");
  }
  raw->resize(body);
  return raw;
}

std::string EncodeChecked(std::string raw) {
  uint16_t crc = Crc16Xmodem(AsView(raw));
  raw.push_back(static_cast<char>(crc & 0xff));
  raw.push_back(static_cast<char>(crc >> 8));
  return Base32Encode(AsView(raw));
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};

}  // namespace

std::string Base32Encode(absl::string_view data) {
  std::string out;
  out.reserve((data.size() * 8 + 4) / 5);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : data) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kBase32Alphabet[(acc >> bits) & 0x1f]);
    }
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(acc << (5 - bits)) & 0x1f]);
  return out;
}

absl::StatusOr<std::string> Base32Decode(absl::string_view text) {
  std::string out;
  out.reserve(text.size() * 5 / 8);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = Base32Value(c);
    if (v < 0) return absl::InvalidArgumentError("base32: illegal character");
    acc = (acc << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits: fewer than 5 and all zero, or the text was not produced
  // by an encoder (e.g. 1, 3 or 6 characters too many).
  if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0) {
    return absl::InvalidArgumentError("base32: bad trailing bits");
  }
  return out;
}

uint16_t Crc16Xmodem(absl::string_view data) {
  uint16_t crc = 0;
  for (unsigned char c : data) {
    crc ^= static_cast<uint16_t>(c) << 8;
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

absl::StatusOr<std::string> Base64UrlDecode(absl::string_view text) {
  return Base64DecodeUnpadded(text, /*url=*/true);
}

absl::StatusOr<std::string> Base64StdDecode(absl::string_view text) {
  if (text.size() % 4 != 0) return absl::InvalidArgumentError("base64: bad length");
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  return Base64DecodeUnpadded(text.substr(0, text.size() - pad), /*url=*/false);
}

std::string Base64UrlEncode(absl::string_view data) { return Base64EncodeImpl(data, kBase64Url); }

absl::StatusOr<Ed25519Key> DecodeUserPublicKey(absl::string_view nkey) {
  absl::StatusOr<std::string> raw = DecodeChecked(nkey, kPublicRawLen);
  if (!raw.ok()) return raw.status();
  if (static_cast<uint8_t>((*raw)[0]) != kNkeyPrefixUser) {
    return absl::InvalidArgumentError("nkey: not a user public key");
  }
  Ed25519Key key;
  std::memcpy(key.data(), raw->data() + 1, key.size());
  return key;
}

std::string EncodeUserPublicKey(const Ed25519Key& public_key) {
  std::string raw(1, static_cast<char>(kNkeyPrefixUser));
  raw.append(reinterpret_cast<const char*>(public_key.data()), public_key.size());
  return EncodeChecked(std::move(raw));
}

bool IsValidUserPublicKey(absl::string_view nkey) { return DecodeUserPublicKey(nkey).ok(); }

absl::StatusOr<Ed25519Key> DecodeUserSeed(absl::string_view seed) {
  absl::StatusOr<std::string> raw = DecodeChecked(seed, kSeedRawLen);
  if (!raw.ok()) return raw.status();
  const uint8_t b1 = static_cast<uint8_t>((*raw)[0]);
  const uint8_t b2 = static_cast<uint8_t>((*raw)[1]);
  if ((b1 & 0xf8) != kNkeyPrefixSeed) return absl::InvalidArgumentError("nkey: not a seed");
  const uint8_t kind = static_cast<uint8_t>(((b1 & 7) << 5) | ((b2 & 0xf8) >> 3));
  if (kind != kNkeyPrefixUser || (b2 & 7) != 0) {
    return absl::InvalidArgumentError("nkey: not a user seed");
  }
  Ed25519Key key;
  std::memcpy(key.data(), raw->data() + 2, key.size());
  return key;
}

std::string EncodeUserSeed(const Ed25519Key& seed) {
  std::string raw;
  raw.push_back(static_cast<char>(kNkeyPrefixSeed | (kNkeyPrefixUser >> 5)));
  raw.push_back(static_cast<char>((kNkeyPrefixUser & 31) << 3));
  raw.append(reinterpret_cast<const char*>(seed.data()), seed.size());
  return EncodeChecked(std::move(raw));
}

absl::StatusOr<std::string> UserPublicKeyFromSeed(absl::string_view seed) {
  absl::StatusOr<Ed25519Key> priv = DecodeUserSeed(seed);
  if (!priv.ok()) return priv.status();
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, priv->data(), priv->size()));
  if (!pkey) return absl::InternalError("ed25519: cannot load seed");
  Ed25519Key pub;
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), pub.data(), &len) != 1 || len != pub.size()) {
    return absl::InternalError("ed25519: cannot derive public key");
  }
  return EncodeUserPublicKey(pub);
}

absl::StatusOr<std::string> SignNonce(absl::string_view seed, absl::string_view nonce) {
  absl::StatusOr<Ed25519Key> priv = DecodeUserSeed(seed);
  if (!priv.ok()) return priv.status();
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, priv->data(), priv->size()));
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx) return absl::InternalError("ed25519: allocation failed");
  unsigned char sig[64];
  size_t sig_len = sizeof(sig);
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &sig_len, reinterpret_cast<const unsigned char*>(nonce.data()),
                     nonce.size()) != 1) {
    return absl::InternalError("ed25519: signing failed");
  }
  return Base64UrlEncode(absl::string_view(reinterpret_cast<const char*>(sig), sig_len));
}

absl::Status VerifyNonceSignature(absl::string_view public_nkey, absl::string_view nonce,
                                  absl::string_view sig) {
  absl::StatusOr<Ed25519Key> pub = DecodeUserPublicKey(public_nkey);
  if (!pub.ok()) return pub.status();
  // nats-server tries base64url first and falls back to standard base64.
  absl::StatusOr<std::string> raw_sig = Base64UrlDecode(sig);
  if (!raw_sig.ok()) raw_sig = Base64StdDecode(sig);
  if (!raw_sig.ok()) return absl::InvalidArgumentError("signature is not valid base64");
  if (raw_sig->size() != 64) return absl::PermissionDeniedError("signature has the wrong length");
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, pub->data(), pub->size()));
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx) return absl::InternalError("ed25519: allocation failed");
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    return absl::InternalError("ed25519: verify init failed");
  }
  int rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(raw_sig->data()),
                            raw_sig->size(), reinterpret_cast<const unsigned char*>(nonce.data()),
                            nonce.size());
  if (rc != 1) return absl::PermissionDeniedError("signature not verified");
  return absl::OkStatus();
}

std::string GenerateNonce() {
  unsigned char raw[kNonceRawLen];
  if (RAND_bytes(raw, sizeof(raw)) != 1) {
    // RAND_bytes only fails when the CSPRNG cannot be seeded; a predictable
    // nonce would make signatures replayable, so this is fatal.
    std::abort();
  }
  return Base64UrlEncode(absl::string_view(reinterpret_cast<const char*>(raw), sizeof(raw)));
}

}  // namespace herald::auth
