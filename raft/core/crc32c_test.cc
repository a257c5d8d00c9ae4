#include "raft/core/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace herald::raft {
namespace {

TEST(Crc32cTest, KnownVectors) {
  // RFC 3720 B.4 check value and iSCSI test patterns.
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32cExtendPortable(0, "123456789", 9), 0xE3069283u);
}

TEST(Crc32cTest, HardwareAndSoftwareAgreeOnEveryLengthAndAlignment) {
  std::mt19937_64 rng(7);
  std::string buf(600, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (size_t off = 0; off < 8; ++off) {
    for (size_t len = 0; len + off <= 300; ++len) {
      const uint32_t seed = static_cast<uint32_t>(rng());
      ASSERT_EQ(Crc32cExtend(seed, buf.data() + off, len),
                Crc32cExtendPortable(seed, buf.data() + off, len))
          << "off " << off << " len " << len;
    }
  }
  // Extending piecewise equals one pass.
  const uint32_t whole = Crc32c(buf);
  uint32_t parts = 0;
  for (size_t i = 0; i < buf.size(); i += 37) {
    parts = Crc32cExtend(parts, buf.data() + i, std::min<size_t>(37, buf.size() - i));
  }
  EXPECT_EQ(parts, whole);
  RecordProperty("hardware", Crc32cIsHardwareAccelerated() ? "sse4.2" : "software");
}

}  // namespace
}  // namespace herald::raft
