#include "server/auth/revocation.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace herald::auth {
namespace {

TEST(TokenId, Sha256Hex) {
  EXPECT_EQ(TokenId("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(RevocationList, Parse) {
  const std::string abc = TokenId("abc");
  auto l = RevocationList::Parse(absl::StrCat(R"({"users":["alice"],"nkeys":["UABC"],"tokens":[")",
                                              abc, R"("],"jwt_ids":["j1"],"subjects":["bob"]})"));
  ASSERT_TRUE(l.ok()) << l.status();
  const RevocationList& r = **l;
  EXPECT_TRUE(r.IsUserRevoked("alice"));
  EXPECT_FALSE(r.IsUserRevoked("Alice"));
  EXPECT_TRUE(r.IsNkeyRevoked("UABC"));
  EXPECT_TRUE(r.IsTokenRevoked(abc));
  EXPECT_FALSE(r.IsTokenRevoked(TokenId("abd")));
  EXPECT_TRUE(r.IsJwtIdRevoked("j1"));
  EXPECT_FALSE(r.IsJwtIdRevoked(""));
  EXPECT_TRUE(r.IsSubjectRevoked("bob"));
  EXPECT_EQ(r.size(), 5u);

  std::string upper = abc;
  for (char& c : upper) c = static_cast<char>(toupper(c));
  l = RevocationList::Parse(absl::StrCat(R"({"tokens":[")", upper, R"("]})"));
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE((*l)->IsTokenRevoked(abc));

  EXPECT_TRUE(RevocationList::Parse("{}").ok());
  EXPECT_FALSE(RevocationList::Parse("").ok());
  EXPECT_FALSE(RevocationList::Parse("[]").ok());
  EXPECT_FALSE(RevocationList::Parse(R"({"user":["typo"]})").ok());
  EXPECT_FALSE(RevocationList::Parse(R"({"users":"alice"})").ok());
  EXPECT_FALSE(RevocationList::Parse(R"({"users":[1]})").ok());
  EXPECT_FALSE(RevocationList::Parse(R"({"users":[""]})").ok());
  EXPECT_FALSE(RevocationList::Parse(R"({"tokens":["plaintoken"]})").ok());
}

TEST(RevocationList, BeforeTimes) {
  auto l = RevocationList::Parse(
      R"({"users_before":{"alice":1000},"nkeys_before":{"UK":"1970-01-01T00:16:40Z"},"subjects_before":{"s":1000}})");
  ASSERT_TRUE(l.ok()) << l.status();
  const RevocationList& r = **l;
  const absl::Time t = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(r.IsUserRevokedAt("alice", t - absl::Seconds(1)));
  EXPECT_TRUE(r.IsUserRevokedAt("alice", t));
  EXPECT_FALSE(r.IsUserRevokedAt("alice", t + absl::Seconds(1)));
  EXPECT_FALSE(r.IsUserRevoked("alice"));
  EXPECT_FALSE(r.IsUserRevokedAt("bob", t));
  EXPECT_TRUE(r.IsNkeyRevokedAt("UK", t));
  EXPECT_FALSE(r.IsNkeyRevokedAt("UK", t + absl::Seconds(1)));
  EXPECT_TRUE(r.IsSubjectRevokedAt("s", t));
  EXPECT_FALSE(RevocationList::Parse(R"({"users_before":["alice"]})").ok());
  EXPECT_FALSE(RevocationList::Parse(R"({"users_before":{"alice":"yesterday"}})").ok());
  EXPECT_FALSE(RevocationList::Parse(R"({"users_before":{"alice":1.5}})").ok());
}

class WatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("TEST_TMPDIR");
    path_ = absl::StrCat(dir ? dir : "/tmp", "/revoked_",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".json");
    std::remove(path_.c_str());
  }
  void TearDown() override { std::remove(path_.c_str()); }
  void Write(const std::string& s) {
    const std::string tmp = path_ + ".tmp";
    std::ofstream(tmp) << s;
    std::rename(tmp.c_str(), path_.c_str());
  }
  std::string path_;
};

TEST_F(WatcherTest, PollDetectsChangesAndKeepsListOnErrors) {
  std::vector<size_t> sizes;
  std::vector<std::string> errors;
  RevocationWatcher w(
      path_, [&](std::shared_ptr<const RevocationList> l) { sizes.push_back(l->size()); },
      [&](const absl::Status& s) { errors.emplace_back(s.message()); });
  EXPECT_FALSE(w.Start().ok());  // missing file at start is an error
  Write(R"({"users":["a"]})");
  w.Poll();
  ASSERT_EQ(sizes.size(), 1u);
  EXPECT_TRUE(w.Current()->IsUserRevoked("a"));
  w.Poll();  // unchanged: no callback
  EXPECT_EQ(sizes.size(), 1u);
  Write(R"({"users":["a","b"]})");
  w.Poll();
  ASSERT_EQ(sizes.size(), 2u);
  EXPECT_EQ(sizes[1], 2u);
  // Broken: reported once, old list stays.
  Write(R"({"users":["a",)");
  w.Poll();
  w.Poll();
  EXPECT_EQ(errors.size(), 1u);
  EXPECT_TRUE(w.Current()->IsUserRevoked("b"));
  // Removed: reported once, old list stays; back again: reloaded.
  std::remove(path_.c_str());
  w.Poll();
  w.Poll();
  EXPECT_EQ(errors.size(), 2u);
  EXPECT_TRUE(w.Current()->IsUserRevoked("b"));
  Write(R"({"users":[]})");
  w.Poll();
  EXPECT_EQ(sizes.size(), 3u);
  EXPECT_FALSE(w.Current()->IsUserRevoked("a"));
}

TEST_F(WatcherTest, ThreadDeliversChangesWithinOneSecond) {
  Write(R"({"users":["a"]})");
  std::atomic<int> changes{0};
  std::atomic<bool> saw_b{false};
  RevocationWatcher w(
      path_,
      [&](std::shared_ptr<const RevocationList> l) {
        changes++;
        if (l->IsUserRevoked("b")) saw_b = true;
      },
      nullptr, absl::Milliseconds(50));
  ASSERT_TRUE(w.Start().ok());
  EXPECT_EQ(changes.load(), 1);
  const auto t0 = std::chrono::steady_clock::now();
  Write(R"({"users":["b"]})");
  while (!saw_b && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(saw_b.load());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  EXPECT_TRUE(w.Current()->IsUserRevoked("b"));
  w.Stop();
  w.Stop();  // idempotent
}

}  // namespace
}  // namespace herald::auth
