#include "server/auth/password.h"

#include <string>

#include "gtest/gtest.h"

namespace herald::auth {
namespace {

// Made offline: $2a$ by Go's golang.org/x/crypto/bcrypt (what the `nats
// server passwd` tool uses), $2b$/$2y$ by Python's crypt module (libxcrypt).
constexpr char kGo2a[] = "$2a$04$WTzvMxeMqeA.LJ1FdW6mXuDB4W0evyn688/nFFjIulFk4zj/7f1ty";  // s3cr3t
constexpr char kGoToken[] =
    "$2a$04$ozd/csJ.gh7OO4jra7Sn.OCqBo3ryOU3FsluX.GtnXUT38XG4yQSq";  // t0ken-value
constexpr char kGoEmpty[] = "$2a$04$hJgDjS1/sc9H10Zgd2C3JusUEnXRSVttbFLB.BzblC8DzFdaM165a";  // ""
constexpr char kPy2b[] = "$2b$04$abcdefghijklmnopqrstuu35fBIWlNgF8BcAW/t2cO158N8svSFHy";  // s3cr3t
constexpr char kPy2y[] = "$2y$04$abcdefghijklmnopqrstuu35fBIWlNgF8BcAW/t2cO158N8svSFHy";  // s3cr3t

TEST(Password, DetectsBcrypt) {
  EXPECT_TRUE(IsBcryptHash(kGo2a));
  EXPECT_TRUE(IsBcryptHash(kPy2b));
  EXPECT_TRUE(IsBcryptHash(kPy2y));
  EXPECT_TRUE(IsBcryptHash("$2x$10$whatever"));
  EXPECT_FALSE(IsBcryptHash("$2c$10$whatever"));
  EXPECT_FALSE(IsBcryptHash("$2a$1$short"));
  EXPECT_FALSE(IsBcryptHash("$1$md5crypt"));
  EXPECT_FALSE(IsBcryptHash("plain"));
  EXPECT_FALSE(IsBcryptHash(""));
}

TEST(Password, PlainSecrets) {
  EXPECT_TRUE(VerifySecret("s3cr3t", "s3cr3t"));
  EXPECT_FALSE(VerifySecret("s3cr3t", "s3cr3T"));
  EXPECT_FALSE(VerifySecret("s3cr3t", "s3cr3t "));
  EXPECT_FALSE(VerifySecret("s3cr3t", ""));
  EXPECT_FALSE(VerifySecret("", ""));  // empty configured secret never matches
  EXPECT_TRUE(VerifySecret(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(VerifySecret(std::string("a\0b", 3), "a"));
  // A "$..." value that is not bcrypt is a plain secret, as in nats-server.
  EXPECT_TRUE(VerifySecret("$1$abc", "$1$abc"));
}

TEST(Password, BcryptFromGoAndLibxcrypt) {
  EXPECT_TRUE(VerifySecret(kGo2a, "s3cr3t"));
  EXPECT_TRUE(VerifySecret(kPy2b, "s3cr3t"));
  EXPECT_TRUE(VerifySecret(kPy2y, "s3cr3t"));
  EXPECT_TRUE(VerifySecret(kGoToken, "t0ken-value"));
  EXPECT_TRUE(VerifySecret(kGoEmpty, ""));
  EXPECT_FALSE(VerifySecret(kGo2a, "wrong"));
  EXPECT_FALSE(VerifySecret(kGo2a, ""));
  EXPECT_FALSE(VerifySecret(kGoToken, "s3cr3t"));
  // The hash itself is not accepted as the password.
  EXPECT_FALSE(VerifySecret(kGo2a, kGo2a));
  // NUL truncation must not let "s3cr3t\0junk" in.
  EXPECT_FALSE(VerifySecret(kGo2a, std::string("s3cr3t\0junk", 11)));
}

TEST(Password, MalformedBcryptMatchesNothing) {
  EXPECT_FALSE(VerifySecret("$2a$04$short", "s3cr3t"));
  EXPECT_FALSE(VerifySecret("$2a$04$short", "$2a$04$short"));
  EXPECT_FALSE(
      VerifySecret("$2a$99$abcdefghijklmnopqrstuu35fBIWlNgF8BcAW/t2cO158N8svSFHy", "s3cr3t"));
  std::string tampered = kGo2a;
  tampered.back() = tampered.back() == 'y' ? 'z' : 'y';
  EXPECT_FALSE(VerifySecret(tampered, "s3cr3t"));
}

TEST(Password, HashRoundTrip) {
  auto h = BcryptHash("new-pass", 4);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_TRUE(IsBcryptHash(*h));
  EXPECT_EQ(h->substr(0, 7), "$2b$04$");
  EXPECT_TRUE(VerifySecret(*h, "new-pass"));
  EXPECT_FALSE(VerifySecret(*h, "old-pass"));
  EXPECT_NE(*h, *BcryptHash("new-pass", 4));  // salted
  EXPECT_FALSE(BcryptHash("x", 3).ok());
}

TEST(Password, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

}  // namespace
}  // namespace herald::auth
