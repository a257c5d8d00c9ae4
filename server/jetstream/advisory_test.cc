#include "server/jetstream/advisory.h"

#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace herald::js::advisory {
namespace {

// The API audit advisory carries nats-server 2.9.10's members in its order;
// an empty request is left out, and a request that is not valid UTF-8 (any
// bytes a client sent) is encoded with U+FFFD instead of throwing.
TEST(ApiAuditTest, MembersInNatsServersOrder) {
  const std::string audit =
      ApiAudit("n1", "$JS.API.STREAM.INFO.S", "", R"({"type":"x"})", "", 1'700'000'000'000'000'000);
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(audit);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"type", "id", "timestamp", "server", "client",
                                            "subject", "response"}));
  EXPECT_EQ(j["type"], "io.nats.jetstream.advisory.v1.api_audit");
  EXPECT_EQ(j["client"].dump(), R"({"acc":"$G","server":"n1"})");
  EXPECT_EQ(j["response"], R"({"type":"x"})");

  const std::string with_domain =
      ApiAudit("n1", "$JS.API.STREAM.CREATE.S", "{\"name\":\"S\xff\"}", "{}", "hub", 1);
  j = nlohmann::ordered_json::parse(with_domain);
  EXPECT_EQ(j["request"], "{\"name\":\"S\xef\xbf\xbd\"}");
  EXPECT_EQ(j["domain"], "hub");
}

}  // namespace
}  // namespace herald::js::advisory
