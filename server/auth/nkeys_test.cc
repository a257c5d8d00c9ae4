#include "server/auth/nkeys.h"

#include <string>

#include "gtest/gtest.h"

namespace herald::auth {
namespace {

// Produced offline with github.com/nats-io/nkeys (FromRawSeed(PrefixByteUser,
// bytes 0,7,14,...), Sign) and Go's encoding/base64.
constexpr char kSeed[] = "SUAAABYOCUOCGKRRHA7UMTKULNRGS4DXP2CYZE42UGUK7NV5YTF5FWIXJQ";
constexpr char kPub[] = "UBGQ5Q5A2A76774TVG6M4KREWQDNI32EV37R654H3LW3CPFK7JACYEW2";
constexpr char kNonce[] = "ZmFrZW5vbmNlMTI";
constexpr char kSigUrl[] =
    "GcuFb2-n6GvErbBW3lz9cD8MuaqZhKX9ZdDac-eBXi-3YrE4T5ClieIGMpXv2iY9JF0SfXuBvalCPw-9_7oyCw";
constexpr char kSigStd[] =
    "GcuFb2+n6GvErbBW3lz9cD8MuaqZhKX9ZdDac+eBXi+3YrE4T5ClieIGMpXv2iY9JF0SfXuBvalCPw+9/7oyCw==";
constexpr char kAccount[] = "AAXM7EDUR3CPKVRS5F5NI2ZECDSEKDDDOBP7SOFHOGNKYQSLARZWRVLM";

TEST(Base32, Rfc4648Vectors) {
  // RFC 4648 section 10, without the padding.
  EXPECT_EQ(Base32Encode(""), "");
  EXPECT_EQ(Base32Encode("f"), "MY");
  EXPECT_EQ(Base32Encode("fo"), "MZXQ");
  EXPECT_EQ(Base32Encode("foo"), "MZXW6");
  EXPECT_EQ(Base32Encode("foob"), "MZXW6YQ");
  EXPECT_EQ(Base32Encode("fooba"), "MZXW6YTB");
  EXPECT_EQ(Base32Encode("foobar"), "MZXW6YTBOI");
  for (const char* s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto d = Base32Decode(Base32Encode(s));
    ASSERT_TRUE(d.ok()) << s;
    EXPECT_EQ(*d, s);
  }
}

TEST(Base32, RejectsBadInput) {
  EXPECT_FALSE(Base32Decode("MY=").ok());  // padding
  EXPECT_FALSE(Base32Decode("my").ok());   // lower case
  EXPECT_FALSE(Base32Decode("M").ok());    // impossible length
  EXPECT_FALSE(Base32Decode("MZ").ok());   // non-zero trailing bits
  EXPECT_FALSE(Base32Decode("MY1").ok());  // '1' not in alphabet
  EXPECT_FALSE(Base32Decode("M Y").ok());
}

TEST(Crc16, Xmodem) {
  // The standard CRC-16/XMODEM check value.
  EXPECT_EQ(Crc16Xmodem("123456789"), 0x31C3);
  EXPECT_EQ(Crc16Xmodem(""), 0);
}

TEST(Base64, DecodeVariants) {
  EXPECT_EQ(*Base64UrlDecode("-_8"), std::string("\xfb\xff", 2));
  EXPECT_EQ(*Base64StdDecode("+/8="), std::string("\xfb\xff", 2));
  EXPECT_FALSE(Base64UrlDecode("+/8").ok());
  EXPECT_FALSE(Base64UrlDecode("-_8=").ok());
  EXPECT_FALSE(Base64StdDecode("+/8").ok());  // StdEncoding requires padding
  EXPECT_FALSE(Base64UrlDecode("A").ok());
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64UrlEncode(""), "");
}

TEST(Nkeys, GoVectorsDecode) {
  auto pub = DecodeUserPublicKey(kPub);
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(EncodeUserPublicKey(*pub), kPub);
  auto seed = DecodeUserSeed(kSeed);
  ASSERT_TRUE(seed.ok()) << seed.status();
  for (size_t i = 0; i < seed->size(); ++i) EXPECT_EQ((*seed)[i], static_cast<uint8_t>(i * 7));
  EXPECT_EQ(EncodeUserSeed(*seed), kSeed);
  EXPECT_EQ(*UserPublicKeyFromSeed(kSeed), kPub);
}

TEST(Nkeys, GoVectorsSignature) {
  EXPECT_EQ(*SignNonce(kSeed, kNonce), kSigUrl);
  EXPECT_TRUE(VerifyNonceSignature(kPub, kNonce, kSigUrl).ok());
  EXPECT_TRUE(VerifyNonceSignature(kPub, kNonce, kSigStd).ok());
}

TEST(Nkeys, RejectsWrongKeysAndSignatures) {
  EXPECT_FALSE(DecodeUserPublicKey(kAccount).ok());  // valid key, wrong kind
  EXPECT_FALSE(DecodeUserPublicKey(kSeed).ok());
  EXPECT_FALSE(DecodeUserSeed(kPub).ok());
  std::string bad_crc = kPub;
  bad_crc[10] = bad_crc[10] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(DecodeUserPublicKey(bad_crc).ok());
  EXPECT_FALSE(DecodeUserPublicKey("").ok());
  EXPECT_FALSE(DecodeUserPublicKey(std::string(kPub) + "A").ok());

  EXPECT_FALSE(VerifyNonceSignature(kPub, "othernonce00000", kSigUrl).ok());
  std::string bad_sig = kSigUrl;
  bad_sig[5] = bad_sig[5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(VerifyNonceSignature(kPub, kNonce, bad_sig).ok());
  EXPECT_FALSE(VerifyNonceSignature(kPub, kNonce, "").ok());
  EXPECT_FALSE(VerifyNonceSignature(kPub, kNonce, "not base64!").ok());
  EXPECT_FALSE(VerifyNonceSignature(kPub, kNonce, std::string(kSigUrl).substr(0, 40)).ok());
  EXPECT_FALSE(VerifyNonceSignature(kAccount, kNonce, kSigUrl).ok());
  EXPECT_FALSE(VerifyNonceSignature(bad_crc, kNonce, kSigUrl).ok());

  // Another user's key does not verify this signature.
  Ed25519Key other{};
  other[0] = 1;
  auto other_pub = UserPublicKeyFromSeed(EncodeUserSeed(other));
  ASSERT_TRUE(other_pub.ok());
  EXPECT_FALSE(VerifyNonceSignature(*other_pub, kNonce, kSigUrl).ok());
}

TEST(Nkeys, RoundTripRandomKeys) {
  for (int i = 0; i < 20; ++i) {
    Ed25519Key seed;
    for (size_t j = 0; j < seed.size(); ++j) seed[j] = static_cast<uint8_t>(i * 31 + j * 13);
    std::string s = EncodeUserSeed(seed);
    ASSERT_EQ(s.substr(0, 2), "SU");
    auto pub = UserPublicKeyFromSeed(s);
    ASSERT_TRUE(pub.ok());
    ASSERT_EQ((*pub)[0], 'U');
    ASSERT_EQ(pub->size(), 56u);
    std::string nonce = GenerateNonce();
    auto sig = SignNonce(s, nonce);
    ASSERT_TRUE(sig.ok());
    EXPECT_TRUE(VerifyNonceSignature(*pub, nonce, *sig).ok());
  }
}

TEST(Nkeys, NonceShape) {
  std::string a = GenerateNonce();
  std::string b = GenerateNonce();
  EXPECT_EQ(a.size(), kNonceLen);
  EXPECT_NE(a, b);
  EXPECT_TRUE(Base64UrlDecode(a).ok());
  EXPECT_EQ(Base64UrlDecode(a)->size(), kNonceRawLen);
}

}  // namespace
}  // namespace herald::auth
