// heraldctl's output: the --json shape scripts rely on, and the tables.
#include "tools/heraldctl/output.h"

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace herald::ctl {
namespace {

namespace pb = admin::v1;

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

std::vector<std::string> Fields(const std::string& line) {
  return absl::StrSplit(line, ' ', absl::SkipEmpty());
}

TEST(OutputTest, TableAlignsColumnsAndDashesEmptyCells) {
  Table t({"NAME", "N", "LEADER"});
  t.AddRow({"ORDERS", "12345", "n1"});
  t.AddRow({"X", "", "n22"});
  EXPECT_EQ(t.Render(),
            "NAME    N      LEADER\n"
            "ORDERS  12345  n1\n"
            "X       -      n22\n");
}

TEST(OutputTest, JsonUsesProtoFieldNamesAndPrintsZeroValues) {
  pb::StreamInfo s;
  s.set_name("ORDERS");
  s.add_subjects("orders.*");
  s.set_replicas(3);
  s.set_messages(42);
  s.set_config_json(R"({"name":"ORDERS"})");
  nlohmann::json j = nlohmann::json::parse(ToJson(s));
  EXPECT_EQ(j["name"], "ORDERS");
  EXPECT_EQ(j["subjects"], nlohmann::json::array({"orders.*"}));
  EXPECT_EQ(j["replicas"], 3);
  // proto3's JSON mapping: 64-bit integers are strings.
  EXPECT_EQ(j["messages"], "42");
  EXPECT_EQ(j["first_seq"], "0");  // snake_case, and present though zero
  EXPECT_EQ(j["leader"], "");
  EXPECT_EQ(j["peers"], nlohmann::json::array());
  EXPECT_EQ(j["config_json"], R"({"name":"ORDERS"})");
  EXPECT_FALSE(j.contains("firstSeq"));
}

TEST(OutputTest, JsonOfAnEmptyResponseIsAnObject) {
  nlohmann::json j = nlohmann::json::parse(ToJson(pb::DeleteStreamResponse()));
  EXPECT_TRUE(j.is_object());
  EXPECT_TRUE(j.empty());
  j = nlohmann::json::parse(ToJson(pb::ListConnectionsResponse()));
  EXPECT_EQ(j["connections"], nlohmann::json::array());
  EXPECT_EQ(j["unreachable_nodes"], nlohmann::json::array());
}

TEST(OutputTest, HumanUnits) {
  EXPECT_EQ(HumanBytes(0), "0B");
  EXPECT_EQ(HumanBytes(1023), "1023B");
  EXPECT_EQ(HumanBytes(1536), "1.5KiB");
  EXPECT_EQ(HumanBytes(3ull << 30), "3.0GiB");
  EXPECT_EQ(HumanSeconds(0), "0s");
  EXPECT_EQ(HumanSeconds(65), "1m5s");
  EXPECT_EQ(HumanSeconds(93780), "26h3m0s");
}

TEST(OutputTest, ReplicasShowLeaderLagAndOffline) {
  pb::RaftGroup g;
  auto add = [&](const std::string& node, const std::string& state, uint64_t lag) {
    pb::ReplicaStatus* r = g.add_replicas();
    r->set_node(node);
    r->set_state(state);
    r->set_lag(lag);
    r->set_current(lag == 0 && state != "offline");
  };
  add("n1", "leader", 0);
  add("n2", "voter", 0);
  add("n3", "voter", 17);
  add("n4", "offline", 3);
  add("n5", "learner", 0);
  EXPECT_EQ(RenderReplicas(g.replicas(), "n1"), "n1*,n2,n3(lag=17),n4(offline,lag=3),n5(learner)");
}

TEST(OutputTest, RaftGroupsTable) {
  pb::ListRaftGroupsResponse r;
  pb::RaftGroup* g = r.add_groups();
  g->set_name("_meta_");
  g->set_kind("meta");
  g->set_leader("n2");
  g->set_term(4);
  g->set_commit_index(100);
  g->set_applied_index(99);
  g->set_last_index(101);
  pb::ReplicaStatus* rep = g->add_replicas();
  rep->set_node("n2");
  rep->set_state("leader");
  g = r.add_groups();
  g->set_name("ORDERS");
  g->set_kind("stream");
  std::vector<std::string> lines = Lines(RenderRaftGroups(r));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(Fields(lines[0]), (std::vector<std::string>{"GROUP", "KIND", "LEADER", "TERM", "COMMIT",
                                                        "APPLIED", "LAST", "REPLICAS"}));
  EXPECT_EQ(Fields(lines[1]),
            (std::vector<std::string>{"_meta_", "meta", "n2", "4", "100", "99", "101", "n2*"}));
  EXPECT_EQ(Fields(lines[2])[2], "(none)");
  EXPECT_EQ(RenderRaftGroups(pb::ListRaftGroupsResponse()), "No Raft groups.\n");
}

TEST(OutputTest, StreamsTable) {
  pb::ListStreamsResponse r;
  pb::StreamInfo* s = r.add_streams();
  s->set_name("ORDERS");
  s->add_subjects("a");
  s->add_subjects("b.>");
  s->set_replicas(3);
  s->set_messages(10);
  s->set_bytes(2048);
  s->set_consumers(2);
  s->set_leader("n1");
  std::vector<std::string> lines = Lines(RenderStreams(r));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Fields(lines[0]), (std::vector<std::string>{"NAME", "SUBJECTS", "REPLICAS", "MESSAGES",
                                                        "BYTES", "CONSUMERS", "LEADER"}));
  EXPECT_EQ(Fields(lines[1]),
            (std::vector<std::string>{"ORDERS", "a,b.>", "3", "10", "2.0KiB", "2", "n1"}));
  EXPECT_EQ(RenderStreams(pb::ListStreamsResponse()), "No streams.\n");
}

TEST(OutputTest, ClusterTable) {
  pb::ClusterStatusResponse r;
  r.set_cluster_name("c1");
  r.set_meta_leader("n1");
  r.set_answered_by("n2");
  pb::NodeStatus* n = r.add_nodes();
  n->set_name("n1");
  n->set_id(11);
  n->set_up(true);
  n->set_meta_role("leader");
  n->set_connections(5);
  n->set_uptime_seconds(3661);
  n->set_disk_used_bytes(10);
  n->set_version("0.1.0");
  n->add_routes("n2");
  n->add_routes("n3");
  n = r.add_nodes();
  n->set_name("n2");
  n->set_up(true);
  n->add_routes("n1");  // no route to n3: a partial mesh
  n = r.add_nodes();
  n->set_name("n3");
  n->set_up(false);
  std::string text = RenderCluster(r);
  EXPECT_TRUE(absl::StartsWith(text, "Cluster c1, meta leader n1, answered by n2\n")) << text;
  std::vector<std::string> lines = Lines(text);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(Fields(lines[1])[0], "NAME");
  EXPECT_EQ(Fields(lines[1]).back(), "ROUTES");
  EXPECT_EQ(Fields(lines[2]), (std::vector<std::string>{"n1", "11", "yes", "leader", "5", "0", "0",
                                                        "1h1m1s", "10B", "0.1.0", "all"}));
  EXPECT_EQ(Fields(lines[3]).back(), "n1");
  EXPECT_EQ(Fields(lines[4])[2], "no");
  EXPECT_EQ(Fields(lines[4])[3], "-");
  EXPECT_EQ(Fields(lines[4]).back(), "-");
}

TEST(OutputTest, StreamInfoShowsPeersAndPrettyConfig) {
  pb::StreamInfo s;
  s.set_name("ORDERS");
  s.set_leader("n1");
  pb::ReplicaStatus* p = s.add_peers();
  p->set_node("n1");
  p->set_state("leader");
  p->set_current(true);
  s.set_config_json(R"({"name":"ORDERS","num_replicas":3})");
  std::string text = RenderStream(s);
  EXPECT_TRUE(absl::StrContains(text, "Name:       ORDERS\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "n1    leader")) << text;
  EXPECT_TRUE(absl::StrContains(text, "    \"num_replicas\": 3")) << text;
  // A config that does not parse is shown as sent, not dropped.
  s.set_config_json("{oops");
  EXPECT_TRUE(absl::StrContains(RenderStream(s), "{oops"));
}

TEST(OutputTest, ConnectionsTable) {
  pb::ListConnectionsResponse r;
  pb::Connection* c = r.add_connections();
  c->set_node("n2");
  c->set_cid(7);
  c->set_ip("127.0.0.1");
  c->set_port(50000);
  c->set_idle_ms(61500);
  c->set_num_subs(2);
  std::vector<std::string> lines = Lines(RenderConnections(r));
  ASSERT_EQ(lines.size(), 2u);
  std::vector<std::string> f = Fields(lines[1]);
  ASSERT_EQ(f.size(), Fields(lines[0]).size());
  EXPECT_EQ(f[0], "n2");
  EXPECT_EQ(f[1], "7");
  EXPECT_EQ(f[2], "127.0.0.1:50000");
  EXPECT_EQ(f[8], "1m1s");
}

}  // namespace
}  // namespace herald::ctl
