// NATS nkeys: the key encoding the NATS clients use for Ed25519 identities,
// and the nonce challenge of nkey authentication.
//
// A public nkey is base32 (RFC 4648 alphabet, no padding) of
//   [prefix byte][32-byte Ed25519 public key][CRC16-XMODEM, little endian]
// where the prefix byte for users is 20<<3, which makes the text start with
// 'U'. A seed ("SU...") is base32 of
//   [0x90 | prefix>>5][(prefix & 31) << 3][32-byte Ed25519 seed][CRC16 LE].
// The CRC covers everything before it.
//
// Authentication: the server sends a nonce in INFO; the client signs the
// nonce's ASCII bytes with its seed and sends `nkey` (public key) and `sig`
// (base64url without padding; nats-server 2.9.10 also accepts standard
// base64 with padding) in CONNECT.
//
// Pure functions; thread-safe.
#ifndef HERALD_SERVER_AUTH_NKEYS_H_
#define HERALD_SERVER_AUTH_NKEYS_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace herald::auth {

using Ed25519Key = std::array<uint8_t, 32>;

// nkey prefix bytes (the first byte before base32 encoding).
inline constexpr uint8_t kNkeyPrefixSeed = 18 << 3;      // 'S'
inline constexpr uint8_t kNkeyPrefixUser = 20 << 3;      // 'U'
inline constexpr uint8_t kNkeyPrefixAccount = 0;         // 'A'
inline constexpr uint8_t kNkeyPrefixServer = 13 << 3;    // 'N'
inline constexpr uint8_t kNkeyPrefixOperator = 14 << 3;  // 'O'

// RFC 4648 base32, upper case, no padding on output. Decoding accepts only
// upper-case alphabet characters (no padding, no whitespace) and rejects
// non-zero trailing bits so that every key has one spelling.
std::string Base32Encode(absl::string_view data);
absl::StatusOr<std::string> Base32Decode(absl::string_view text);

// CRC-16/XMODEM: polynomial 0x1021, initial value 0, no reflection.
uint16_t Crc16Xmodem(absl::string_view data);

// Strict base64 decoders. Base64UrlDecode: URL alphabet, no padding (JWS and
// nkey signatures). Base64StdDecode: standard alphabet with the padding Go's
// StdEncoding requires. Both reject any other byte.
absl::StatusOr<std::string> Base64UrlDecode(absl::string_view text);
absl::StatusOr<std::string> Base64StdDecode(absl::string_view text);
std::string Base64UrlEncode(absl::string_view data);

// Decodes a user public nkey ("U..."): checks length, prefix and CRC.
absl::StatusOr<Ed25519Key> DecodeUserPublicKey(absl::string_view nkey);
std::string EncodeUserPublicKey(const Ed25519Key& public_key);
bool IsValidUserPublicKey(absl::string_view nkey);

// Decodes a user seed ("SU...") into the 32-byte Ed25519 private seed.
absl::StatusOr<Ed25519Key> DecodeUserSeed(absl::string_view seed);
std::string EncodeUserSeed(const Ed25519Key& seed);

// The public nkey ("U...") of a user seed ("SU...").
absl::StatusOr<std::string> UserPublicKeyFromSeed(absl::string_view seed);

// Signs `nonce` with a user seed; returns base64url without padding, as the
// NATS clients send it. For tests and tools: the server never holds seeds.
absl::StatusOr<std::string> SignNonce(absl::string_view seed, absl::string_view nonce);

// Verifies that `sig` (base64url without padding, or standard base64) is the
// Ed25519 signature of `nonce` by the user nkey `public_nkey`. OK or
// PermissionDenied / InvalidArgument saying what failed (for debug logs only;
// the client always sees 'Authorization Violation').
absl::Status VerifyNonceSignature(absl::string_view public_nkey, absl::string_view nonce,
                                  absl::string_view sig);

// A fresh nonce for INFO: 11 random bytes (RAND_bytes) as base64url without
// padding, 15 characters, like nats-server's nonceRawLen/nonceLen.
inline constexpr size_t kNonceRawLen = 11;
inline constexpr size_t kNonceLen = 15;
std::string GenerateNonce();

}  // namespace herald::auth

#endif  // HERALD_SERVER_AUTH_NKEYS_H_
