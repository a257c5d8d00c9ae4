#include "storage/raft_log_store.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace herald::storage {
namespace {

using raft::ConfState;
using raft::Entry;
using raft::HardState;
using raft::Ready;
using raft::Snapshot;

class RaftLogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    dir_ = std::string(tmp ? tmp : "/tmp") + "/rls_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen(uint64_t cache_bytes = 4 << 20) {
    store_.reset();
    RaftLogStoreOptions o;
    o.path = dir_;
    o.cache_bytes_per_group = cache_bytes;
    auto s = RaftLogStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }
  static std::vector<Entry> Ents(uint64_t lo, uint64_t hi, uint64_t term) {
    std::vector<Entry> out;
    for (uint64_t i = lo; i <= hi; ++i) {
      Entry e;
      e.index = i;
      e.term = term;
      e.data = "payload-" + std::to_string(i);
      e.Seal();
      out.push_back(e);
    }
    return out;
  }
  void Append(GroupId g, std::vector<Entry> ents, HardState hs) {
    Ready rd;
    rd.entries = std::move(ents);
    rd.has_hard_state = true;
    rd.hard_state = hs;
    ASSERT_TRUE(store_->SaveReady(g, rd).ok());
    ASSERT_TRUE(store_->Sync().ok());
  }
  GroupLog* G(GroupId g) {
    auto l = store_->Group(g);
    EXPECT_TRUE(l.ok()) << l.status();
    return l.ok() ? *l : nullptr;
  }
  std::string dir_;
  std::unique_ptr<RaftLogStore> store_;
  // No voters: the group is created empty (as a joining node's), so these
  // log-layer tests write from index 1. Bootstrapping is tested below.
  const ConfState conf_{{}, {4}};
};

TEST_F(RaftLogStoreTest, BootstrapWithVotersStartsFromASnapshotAtIndexOne) {
  const ConfState voters{{1, 2, 3}, {}};
  ASSERT_TRUE(store_->CreateGroup(3, voters).ok());
  for (int reopen = 0; reopen < 2; ++reopen) {
    GroupLog* g = G(3);
    EXPECT_EQ(g->InitialConfState(), voters);
    EXPECT_EQ(g->FirstIndex(), 2u);
    EXPECT_EQ(g->LastIndex(), 1u);
    EXPECT_EQ(*g->Term(1), 1u);
    EXPECT_TRUE(absl::IsOutOfRange(g->Term(0).status()));
    auto snap = g->GetSnapshot();
    ASSERT_TRUE(snap.ok());
    EXPECT_EQ(snap->meta.index, 1u);
    EXPECT_EQ(snap->meta.conf, voters);
    EXPECT_EQ(snap->data, "");
    EXPECT_EQ(g->InitialHardState(), (HardState{1, 0, 1, 0}));
    Reopen();
  }
  Append(3, Ents(2, 5, 2), HardState{2, 1, 4, 0});
  EXPECT_EQ(*G(3)->Entries(2, 6, 1 << 20), Ents(2, 5, 2));
}

// A store whose RocksDB lost everything (its only WAL deleted, which RocksDB
// does not notice: chaos `delete-file`) must not open as an empty store, or
// the node would rejoin its groups with no memory of votes or entries.
TEST_F(RaftLogStoreTest, StoreThatLostEveryGroupRefusesToOpen) {
  ASSERT_TRUE(store_->CreateGroup(1, conf_).ok());
  HardState hs;
  hs.term = 1;
  hs.vote = 4;
  Append(1, Ents(1, 5, 1), hs);
  store_.reset();
  int wals = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir_)) {
    if (f.path().extension() == ".log") {
      std::filesystem::remove(f.path());
      ++wals;
    }
  }
  ASSERT_GT(wals, 0);
  RaftLogStoreOptions o;
  o.path = dir_;
  auto s = RaftLogStore::Open(o);
  ASSERT_FALSE(s.ok()) << "opened with groups: " << (*s)->Groups().size();
  EXPECT_TRUE(absl::IsDataLoss(s.status())) << s.status();
  // The operator's way out: remove the marker to start it empty.
  std::filesystem::remove(std::filesystem::path(dir_) / kGroupsMarker);
  Reopen();
  EXPECT_TRUE(store_->Groups().empty());
}

// Refusing to open must leave the files as they were, so that putting back
// what was lost repairs the store. (RocksDB's read-write open replays the WAL
// into a new one and writes a new MANIFEST that skips the old WAL: a
// restored WAL was then ignored, and the node refused for good; chaos
// `truncate`, seed 745620.)
TEST_F(RaftLogStoreTest, RefusedStoreIsRepairedByPuttingBackTheLostWal) {
  ASSERT_TRUE(store_->CreateGroup(1, conf_).ok());
  HardState hs;
  hs.term = 2;
  hs.vote = 4;
  Append(1, Ents(1, 5, 2), hs);
  store_.reset();
  const std::filesystem::path aside = std::filesystem::path(dir_ + "-aside");
  std::filesystem::remove_all(aside);
  std::filesystem::create_directories(aside);
  int wals = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir_)) {
    if (f.path().extension() != ".log") continue;
    std::filesystem::copy_file(f.path(), aside / f.path().filename());
    std::filesystem::resize_file(f.path(), 0);  // chaos `truncate`: cut to nothing
    ++wals;
  }
  ASSERT_GT(wals, 0);
  RaftLogStoreOptions o;
  o.path = dir_;
  for (int attempt = 0; attempt < 2; ++attempt) {  // refused again: nothing changed
    auto s = RaftLogStore::Open(o);
    ASSERT_FALSE(s.ok()) << "opened with groups: " << (*s)->Groups().size();
    EXPECT_TRUE(absl::IsDataLoss(s.status())) << s.status();
  }
  for (const auto& f : std::filesystem::directory_iterator(aside)) {
    std::filesystem::copy_file(f.path(), std::filesystem::path(dir_) / f.path().filename(),
                               std::filesystem::copy_options::overwrite_existing);
  }
  Reopen();
  ASSERT_EQ(store_->Groups().size(), 1u);
  EXPECT_EQ(G(1)->LastIndex(), 5u);
  EXPECT_EQ(*G(1)->Entries(1, 6, 1 << 20), Ents(1, 5, 2));
  EXPECT_EQ(G(1)->InitialHardState().term, 2u);
  EXPECT_EQ(G(1)->InitialHardState().vote, 4u);
  std::filesystem::remove_all(aside);
}

// A WAL that loses its synced tail takes the state record, and the vote in
// it, back with it: nothing in RocksDB shows it. The vote witness does: the
// node reopens with the term and vote it last made durable, so it cannot vote
// a second time in that term.
TEST_F(RaftLogStoreTest, VoteTakenBackByACutWalIsRestoredFromTheWitness) {
  for (bool with_witness : {true, false}) {
    SCOPED_TRACE(with_witness ? "with the witness" : "witness removed");
    store_.reset();
    std::filesystem::remove_all(dir_);
    Reopen();
    ASSERT_TRUE(store_->CreateGroup(1, conf_).ok());
    Append(1, Ents(1, 3, 2), HardState{2, 4, 0, 0});
    std::map<std::string, uintmax_t> wal_sizes;
    for (const auto& f : std::filesystem::directory_iterator(dir_)) {
      if (f.path().extension() == ".log") wal_sizes[f.path().string()] = f.file_size();
    }
    ASSERT_FALSE(wal_sizes.empty());
    Append(1, {}, HardState{3, 7, 0, 0});  // a vote in term 3, synced (and so sent)
    store_.reset();
    // The cut: every WAL back to its size before the vote; newer ones gone.
    for (const auto& f : std::filesystem::directory_iterator(dir_)) {
      if (f.path().extension() != ".log") continue;
      auto it = wal_sizes.find(f.path().string());
      if (it == wal_sizes.end()) {
        std::filesystem::remove(f.path());
      } else {
        std::filesystem::resize_file(f.path(), it->second);
      }
    }
    if (!with_witness) std::filesystem::remove(std::filesystem::path(dir_) / kVoteWitnessFile);
    Reopen();
    const HardState hs = G(1)->InitialHardState();
    if (with_witness) {
      EXPECT_EQ(hs.term, 3u);
      EXPECT_EQ(hs.vote, 7u);
      EXPECT_EQ(store_->votes_restored(), 1u);
      // Persisted: a second restart does not depend on the witness alone.
      store_.reset();
      std::filesystem::remove(std::filesystem::path(dir_) / kVoteWitnessFile);
      Reopen();
      EXPECT_EQ(G(1)->InitialHardState().term, 3u);
      EXPECT_EQ(G(1)->InitialHardState().vote, 7u);
    } else {
      // What the cut does without it: the vote is gone unnoticed.
      EXPECT_EQ(hs.term, 2u);
      EXPECT_EQ(hs.vote, 4u);
      EXPECT_EQ(store_->votes_restored(), 0u);
    }
    EXPECT_EQ(G(1)->LastIndex(), 3u);
  }
}

// A group deleted and created again under the same id starts from nothing:
// the witness does not give it the old group's term and vote.
TEST_F(RaftLogStoreTest, WitnessForgetsADeletedGroup) {
  ASSERT_TRUE(store_->CreateGroup(9, conf_).ok());
  Append(9, Ents(1, 1, 5), HardState{5, 4, 0, 0});
  ASSERT_TRUE(store_->DeleteGroup(9).ok());
  ASSERT_TRUE(store_->CreateGroup(9, conf_).ok());
  Reopen();
  EXPECT_EQ(G(9)->InitialHardState().term, 0u);
  EXPECT_EQ(G(9)->InitialHardState().vote, 0u);
  EXPECT_EQ(store_->votes_restored(), 0u);
}

// Deleting groups, the last one included, is no loss.
TEST_F(RaftLogStoreTest, DeletingEveryGroupIsNotALoss) {
  ASSERT_TRUE(store_->CreateGroup(1, conf_).ok());
  ASSERT_TRUE(store_->CreateGroup(2, conf_).ok());
  ASSERT_TRUE(store_->DeleteGroup(1).ok());
  Reopen();
  EXPECT_EQ(store_->Groups(), std::vector<GroupId>{2});
  ASSERT_TRUE(store_->DeleteGroup(2).ok());
  Reopen();
  EXPECT_TRUE(store_->Groups().empty());
  ASSERT_TRUE(store_->CreateGroup(3, conf_).ok());
  Reopen();
  EXPECT_EQ(store_->Groups(), std::vector<GroupId>{3});
}

TEST_F(RaftLogStoreTest, RoundTripAndReopen) {
  ASSERT_TRUE(store_->CreateGroup(7, conf_).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(store_->CreateGroup(7, conf_)));
  Append(7, Ents(1, 10, 1), HardState{2, 3, 5, 0});
  GroupLog* g = G(7);
  EXPECT_EQ(g->FirstIndex(), 1u);
  EXPECT_EQ(g->LastIndex(), 10u);
  EXPECT_EQ(*g->Term(0), 0u);
  EXPECT_EQ(*g->Term(10), 1u);
  EXPECT_TRUE(absl::IsUnavailable(g->Term(11).status()));
  auto ents = g->Entries(3, 11, 1 << 20);
  ASSERT_TRUE(ents.ok());
  EXPECT_EQ(*ents, Ents(3, 10, 1));
  // max_bytes: at least one entry, then stop before exceeding.
  EXPECT_EQ(g->Entries(3, 11, 1)->size(), 1u);

  Reopen();
  g = G(7);
  EXPECT_EQ(g->InitialHardState(), (HardState{2, 3, 5, 0}));
  EXPECT_EQ(g->InitialConfState(), conf_);
  EXPECT_EQ(g->LastIndex(), 10u);
  EXPECT_EQ(*g->Entries(1, 11, 1 << 20), Ents(1, 10, 1));
  EXPECT_EQ(g->damaged_from(), 0u);
}

TEST_F(RaftLogStoreTest, ACommitIndexAloneIsWrittenWithoutFsync) {
  ASSERT_TRUE(store_->CreateGroup(7, conf_).ok());
  Append(7, Ents(1, 3, 1), HardState{1, 0, 0, 0});
  const uint64_t syncs = store_->syncs();
  // Only the commit index moves: written, not fsynced.
  Append(7, {}, HardState{1, 0, 3, 0});
  EXPECT_EQ(store_->syncs(), syncs);
  EXPECT_EQ(store_->unsynced_writes(), 1u);
  EXPECT_EQ(G(7)->InitialHardState().commit, 3u);
  // A vote is a promise: fsynced.
  Append(7, {}, HardState{2, 4, 3, 0});
  EXPECT_EQ(store_->syncs(), syncs + 1);
  // And so are entries, with whatever commit index rides along.
  Append(7, Ents(4, 4, 2), HardState{2, 4, 4, 0});
  EXPECT_EQ(store_->syncs(), syncs + 2);
  Reopen();
  EXPECT_EQ(G(7)->InitialHardState(), (HardState{2, 4, 4, 0}));
  EXPECT_EQ(G(7)->LastIndex(), 4u);
}

TEST_F(RaftLogStoreTest, ConflictingSuffixIsReplaced) {
  ASSERT_TRUE(store_->CreateGroup(1, conf_).ok());
  Append(1, Ents(1, 10, 1), HardState{1, 1, 0, 0});
  Append(1, Ents(6, 7, 2), HardState{2, 2, 0, 0});
  EXPECT_EQ(G(1)->LastIndex(), 7u);
  EXPECT_EQ(*G(1)->Term(7), 2u);
  EXPECT_EQ(*G(1)->Term(5), 1u);
  Reopen();
  EXPECT_EQ(G(1)->LastIndex(), 7u);
  EXPECT_EQ(*G(1)->Term(6), 2u);
  EXPECT_EQ(G(1)->damaged_from(), 0u);
  // Gaps are refused.
  Ready rd;
  rd.entries = Ents(9, 9, 2);
  EXPECT_TRUE(absl::IsFailedPrecondition(store_->SaveReady(1, rd)));
}

TEST_F(RaftLogStoreTest, ReadsBeyondCacheComeFromRocksDB) {
  Reopen(/*cache_bytes=*/64);
  ASSERT_TRUE(store_->CreateGroup(1, conf_).ok());
  Append(1, Ents(1, 100, 3), HardState{3, 1, 0, 0});
  EXPECT_EQ(*G(1)->Entries(1, 101, 1 << 20), Ents(1, 100, 3));
  EXPECT_EQ(*G(1)->Term(2), 3u);
  // Damage an old entry while open: the read must fail, not hand it out.
  Entry bad = Ents(5, 5, 3)[0];
  bad.data[0] ^= 1;
  ASSERT_TRUE(store_->db_for_testing()
                  ->Put(rocksdb::WriteOptions(), keys::EntryKey(1, 5), keys::EncodeEntry(bad))
                  .ok());
  EXPECT_TRUE(absl::IsDataLoss(G(1)->Entries(1, 101, 1 << 20).status()));
  EXPECT_TRUE(absl::IsDataLoss(G(1)->Term(5).status()));
}

TEST_F(RaftLogStoreTest, CorruptEntryTruncatesAndMarksRepair) {
  ASSERT_TRUE(store_->CreateGroup(1, conf_).ok());
  Append(1, Ents(1, 10, 1), HardState{4, 2, 8, 0});
  Entry bad = Ents(5, 5, 1)[0];
  bad.data[2] ^= 0x10;  // bit flip, stale checksum
  ASSERT_TRUE(store_->db_for_testing()
                  ->Put(rocksdb::WriteOptions(), keys::EntryKey(1, 5), keys::EncodeEntry(bad))
                  .ok());
  Reopen();
  GroupLog* g = G(1);
  EXPECT_EQ(g->damaged_from(), 5u);
  EXPECT_EQ(g->LastIndex(), 4u);
  EXPECT_EQ(g->InitialHardState().repair_until, 10u);
  EXPECT_EQ(g->InitialHardState().term, 4u);
  EXPECT_EQ(g->InitialHardState().vote, 2u);
  // The mark is durable: a second restart still refuses to trust the log.
  Reopen();
  EXPECT_EQ(G(1)->InitialHardState().repair_until, 10u);
  EXPECT_EQ(G(1)->LastIndex(), 4u);
  // Repair: the leader re-sends 5..10, the core clears the mark.
  Append(1, Ents(5, 10, 1), HardState{4, 2, 10, 0});
  Reopen();
  EXPECT_EQ(G(1)->InitialHardState().repair_until, 0u);
  EXPECT_EQ(G(1)->LastIndex(), 10u);
}

TEST_F(RaftLogStoreTest, DamageInsideSnapshotRestartsLogAfterIt) {
  ASSERT_TRUE(store_->CreateGroup(1, conf_).ok());
  Append(1, Ents(1, 20, 2), HardState{2, 1, 20, 0});
  Snapshot snap;
  snap.meta.index = 15;
  snap.meta.term = 2;
  snap.meta.conf = conf_;
  snap.data = "state@15";
  ASSERT_TRUE(store_->SaveSnapshot(1, snap, 10).ok());  // keeps 11..20
  Entry bad = Ents(13, 13, 2)[0];
  bad.data[0] ^= 2;
  ASSERT_TRUE(store_->db_for_testing()
                  ->Put(rocksdb::WriteOptions(), keys::EntryKey(1, 13), keys::EncodeEntry(bad))
                  .ok());
  Reopen();
  GroupLog* g = G(1);
  EXPECT_EQ(g->damaged_from(), 13u);
  EXPECT_EQ(g->FirstIndex(), 16u);
  EXPECT_EQ(g->LastIndex(), 15u);
  EXPECT_EQ(*g->Term(15), 2u);
  EXPECT_EQ(g->InitialHardState().repair_until, 20u);
  Reopen();
  EXPECT_EQ(G(1)->FirstIndex(), 16u);
  EXPECT_EQ(G(1)->LastIndex(), 15u);
  Append(1, Ents(16, 20, 2), HardState{2, 1, 20, 0});
  EXPECT_EQ(*G(1)->Entries(16, 21, 1 << 20), Ents(16, 20, 2));
}

TEST_F(RaftLogStoreTest, GarbageValueAndTruncation) {
  ASSERT_TRUE(store_->CreateGroup(1, conf_).ok());
  ASSERT_TRUE(store_->CreateGroup(2, conf_).ok());
  Append(1, Ents(1, 10, 1), HardState{1, 0, 0, 0});
  Append(2, Ents(1, 10, 1), HardState{1, 0, 0, 0});
  auto* db = store_->db_for_testing();
  // Group 1: a too-short value (torn record) at 9.
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), keys::EntryKey(1, 9), "xy").ok());
  // Group 2: the last three entries vanished (lost file, truncation).
  for (uint64_t i = 8; i <= 10; ++i) {
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), keys::EntryKey(2, i)).ok());
  }
  Reopen();
  EXPECT_EQ(G(1)->LastIndex(), 8u);
  EXPECT_EQ(G(1)->InitialHardState().repair_until, 10u);
  EXPECT_EQ(G(2)->LastIndex(), 7u);
  EXPECT_EQ(G(2)->damaged_from(), 8u);
  EXPECT_EQ(G(2)->InitialHardState().repair_until, 10u);
}

TEST_F(RaftLogStoreTest, DamagedMetadataMakesGroupUnrecoverable) {
  ASSERT_TRUE(store_->CreateGroup(1, conf_).ok());
  ASSERT_TRUE(store_->CreateGroup(2, conf_).ok());
  Append(1, Ents(1, 3, 1), HardState{1, 0, 0, 0});
  std::string v;
  ASSERT_TRUE(store_->db_for_testing()->Get(rocksdb::ReadOptions(), keys::StateKey(1), &v).ok());
  v[3] ^= 4;
  ASSERT_TRUE(store_->db_for_testing()->Put(rocksdb::WriteOptions(), keys::StateKey(1), v).ok());
  Reopen();
  EXPECT_TRUE(absl::IsDataLoss(store_->Group(1).status()));
  EXPECT_EQ(store_->unrecoverable().size(), 1u);
  EXPECT_TRUE(store_->Group(2).ok());
  EXPECT_TRUE(absl::IsDataLoss(store_->CreateGroup(1, conf_)));
}

TEST_F(RaftLogStoreTest, DeleteGroupRemovesEverythingAndTheIdCanBeReused) {
  ASSERT_TRUE(store_->CreateGroup(1, conf_).ok());
  ASSERT_TRUE(store_->CreateGroup(2, conf_).ok());
  ASSERT_TRUE(store_->CreateGroup(3, conf_).ok());
  Append(1, Ents(1, 5, 1), HardState{1, 1, 5, 0});
  Append(2, Ents(1, 5, 1), HardState{1, 1, 5, 0});
  // Group 3's metadata is damaged: unrecoverable until deleted.
  std::string v;
  ASSERT_TRUE(store_->db_for_testing()->Get(rocksdb::ReadOptions(), keys::StateKey(3), &v).ok());
  v[3] ^= 4;
  ASSERT_TRUE(store_->db_for_testing()->Put(rocksdb::WriteOptions(), keys::StateKey(3), v).ok());
  Reopen();
  ASSERT_TRUE(absl::IsDataLoss(store_->Group(3).status()));

  // Not while a write of the group is pending.
  Ready rd;
  rd.entries = Ents(6, 6, 1);
  ASSERT_TRUE(store_->SaveReady(1, rd).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(store_->DeleteGroup(1)));
  ASSERT_TRUE(store_->Sync().ok());

  ASSERT_TRUE(store_->DeleteGroup(1).ok());
  ASSERT_TRUE(store_->DeleteGroup(3).ok());
  EXPECT_TRUE(absl::IsNotFound(store_->DeleteGroup(1)));
  EXPECT_TRUE(absl::IsNotFound(store_->Group(1).status()));
  // No key of groups 1 and 3 is left; group 2 is untouched.
  {
    std::unique_ptr<rocksdb::Iterator> it(
        store_->db_for_testing()->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string k = it->key().ToString();
      EXPECT_FALSE(k.rfind(keys::StateKey(1).substr(0, 9), 0) == 0) << "key of group 1 left";
      EXPECT_FALSE(k.rfind(keys::StateKey(3).substr(0, 9), 0) == 0) << "key of group 3 left";
    }
  }
  Reopen();
  EXPECT_EQ(store_->Groups(), (std::vector<GroupId>{2}));
  EXPECT_TRUE(store_->unrecoverable().empty());
  EXPECT_EQ(G(2)->LastIndex(), 5u);
  // The ids can be used again, as new replicas (a joiner starts empty).
  ASSERT_TRUE(store_->CreateGroup(3, raft::ConfState{}).ok());
  EXPECT_EQ(G(3)->LastIndex(), 0u);
  EXPECT_EQ(G(3)->InitialHardState().term, 0u);
}

TEST_F(RaftLogStoreTest, ManyGroupsShareOneSync) {
  constexpr GroupId kGroups = 1000;
  for (GroupId g = 1; g <= kGroups; ++g) ASSERT_TRUE(store_->CreateGroup(g, conf_).ok());
  const uint64_t before = store_->syncs();
  for (GroupId g = 1; g <= kGroups; ++g) {
    Ready rd;
    rd.entries = Ents(1, 3, g);
    rd.has_hard_state = true;
    rd.hard_state = HardState{g, 1, 2, 0};
    ASSERT_TRUE(store_->SaveReady(g, rd).ok());
  }
  // Nothing is visible before the sync.
  EXPECT_EQ(G(5)->LastIndex(), 0u);
  ASSERT_TRUE(store_->Sync().ok());
  EXPECT_EQ(store_->syncs(), before + 1);
  EXPECT_EQ(store_->entries_written(), 3 * kGroups);
  Reopen();
  EXPECT_EQ(store_->Groups().size(), kGroups);
  for (GroupId g = 1; g <= kGroups; ++g) {
    EXPECT_EQ(G(g)->LastIndex(), 3u);
    EXPECT_EQ(*G(g)->Term(3), g);
    EXPECT_EQ(G(g)->InitialHardState().term, g);
  }
}

TEST_F(RaftLogStoreTest, SnapshotsCompactAndInstall) {
  ASSERT_TRUE(store_->CreateGroup(1, conf_).ok());
  Append(1, Ents(1, 20, 2), HardState{2, 1, 20, 0});
  Snapshot snap;
  snap.meta.index = 15;
  snap.meta.term = 2;
  snap.meta.conf = conf_;
  snap.data = "state@15";
  ASSERT_TRUE(store_->SaveSnapshot(1, snap, 10).ok());
  EXPECT_EQ(G(1)->FirstIndex(), 11u);
  EXPECT_EQ(*G(1)->Term(10), 2u);
  EXPECT_TRUE(absl::IsOutOfRange(G(1)->Entries(5, 12, 100).status()));
  Reopen();
  EXPECT_EQ(G(1)->FirstIndex(), 11u);
  EXPECT_EQ(G(1)->LastIndex(), 20u);
  EXPECT_EQ(*G(1)->GetSnapshot(), snap);
  EXPECT_EQ(G(1)->damaged_from(), 0u);

  // A leader's snapshot replaces the whole log.
  Ready rd;
  rd.snapshot = snap;
  rd.snapshot.meta.index = 40;
  rd.snapshot.meta.term = 5;
  rd.snapshot.data = "state@40";
  rd.entries = Ents(41, 42, 5);
  rd.has_hard_state = true;
  rd.hard_state = HardState{5, 0, 40, 0};
  ASSERT_TRUE(store_->SaveReady(1, rd).ok());
  ASSERT_TRUE(store_->Sync().ok());
  Reopen();
  EXPECT_EQ(G(1)->FirstIndex(), 41u);
  EXPECT_EQ(G(1)->LastIndex(), 42u);
  EXPECT_EQ(*G(1)->Term(40), 5u);
  EXPECT_EQ(G(1)->GetSnapshot()->data, "state@40");
  EXPECT_EQ(G(1)->damaged_from(), 0u);
}

TEST_F(RaftLogStoreTest, AGroupWritesItsNextReadyWhileThePreviousOneIsUnsynced) {
  ASSERT_TRUE(store_->CreateGroup(1, conf_).ok());
  Append(1, Ents(1, 10, 2), HardState{2, 1, 10, 0});
  // Ready 1 (entries 11..12) is written; its sync has not run yet.
  Ready rd1;
  rd1.entries = Ents(11, 12, 2);
  ASSERT_TRUE(store_->SaveReady(1, rd1).ok());
  auto w1 = store_->WritePending();
  ASSERT_TRUE(w1.ok() && *w1);
  // Ready 2 builds on it: 13..14 and a new vote, not a gap after 10.
  Ready rd2;
  rd2.entries = Ents(13, 14, 3);
  rd2.has_hard_state = true;
  rd2.hard_state = HardState{3, 2, 12, 0};
  ASSERT_TRUE(store_->SaveReady(1, rd2).ok());
  auto w2 = store_->WritePending();
  ASSERT_TRUE(w2.ok() && *w2);
  EXPECT_EQ(G(1)->LastIndex(), 10u);  // nothing published before its sync
  // A compaction meanwhile keeps the unsynced term and vote, and the
  // publishing of the older writes does not move the start back.
  Snapshot snap;
  snap.meta.index = 8;
  snap.meta.term = 2;
  snap.meta.conf = conf_;
  ASSERT_TRUE(store_->SaveSnapshot(1, snap, 5).ok());
  ASSERT_TRUE(store_->SyncPending({w1->get(), w2->get()}).ok());
  store_->PublishPending(**w1);
  EXPECT_EQ(G(1)->LastIndex(), 12u);
  store_->PublishPending(**w2);
  EXPECT_EQ(G(1)->FirstIndex(), 6u);
  EXPECT_EQ(G(1)->LastIndex(), 14u);
  EXPECT_EQ(*G(1)->Term(14), 3u);
  EXPECT_EQ(*G(1)->Term(5), 2u);
  Reopen();
  EXPECT_EQ(G(1)->FirstIndex(), 6u);
  EXPECT_EQ(G(1)->LastIndex(), 14u);
  EXPECT_EQ(G(1)->InitialHardState().term, 3u);
  EXPECT_EQ(G(1)->InitialHardState().vote, 2u);
  EXPECT_EQ(G(1)->damaged_from(), 0u);
}

}  // namespace
}  // namespace herald::storage
