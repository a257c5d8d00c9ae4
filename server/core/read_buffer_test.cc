#include "server/core/read_buffer.h"

#include <string>
#include <string_view>

#include "gtest/gtest.h"

namespace herald {
namespace {

void Read(ReadBuffer& b, std::string_view bytes) {
  ASSERT_LE(bytes.size(), b.free_size());
  std::memcpy(b.free_begin(), bytes.data(), bytes.size());
  b.Filled(bytes.size());
}

TEST(ReadBufferTest, KeepsTheUnparsedTailAtTheFront) {
  ReadBuffer b(16, 64);
  Read(b, "PING\r\nPO");
  b.Consumed(6, 0);
  EXPECT_EQ(std::string_view(b.data(), b.size()), "PO");
  Read(b, "NG\r\n");
  EXPECT_EQ(std::string_view(b.data(), b.size()), "PONG\r\n");
  b.Consumed(6, 0);
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.capacity(), 16u);
}

TEST(ReadBufferTest, DoublesWhileReadsFillItUpToTheSteadyMaximum) {
  ReadBuffer b(8, 32);
  for (size_t expected : {16u, 32u, 32u}) {
    Read(b, std::string(b.free_size(), 'x'));
    b.Consumed(b.size(), 0);
    EXPECT_EQ(b.capacity(), expected);
  }
}

TEST(ReadBufferTest, GrowsToOneLargeOperationThenShrinksBack) {
  ReadBuffer b(8, 32);
  Read(b, "PUB a 10");  // the start of an operation 1000 bytes long
  b.Consumed(0, 1000);
  EXPECT_EQ(b.capacity(), 1000u);
  EXPECT_EQ(b.size(), 8u);
  Read(b, std::string(992, 'y'));
  b.Consumed(1000, 0);
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.capacity(), 32u);
}

TEST(ReadBufferTest, AFullBufferIsDoubledBeforeTheNextRead) {
  ReadBuffer b(4, 4);
  Read(b, "abcd");
  b.Consumed(0, 0);  // at the steady maximum: no growth here
  EXPECT_EQ(b.free_size(), 0u);
  char* p = b.free_begin();
  EXPECT_EQ(b.capacity(), 8u);
  EXPECT_EQ(p, b.data() + 4);
  EXPECT_EQ(std::string_view(b.data(), b.size()), "abcd");
}

}  // namespace
}  // namespace herald
