#include "server/config/conf_parser.h"

#include <gtest/gtest.h>

namespace herald {
namespace {
TEST(ConfParser, Smoke) {
  auto v = ParseConfString("a: 1\n", "t.conf");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->DebugString(), R"({"a":1})");
}
}  // namespace
}  // namespace herald
