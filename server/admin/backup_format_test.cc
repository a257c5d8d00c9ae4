#include "server/admin/backup_format.h"

#include <gtest/gtest.h>

#include <vector>

namespace herald::admin {
namespace {

BackupInfo Info(uint64_t first, uint64_t last, uint64_t messages) {
  BackupInfo i;
  i.stream = "ORDERS";
  i.config = {{"name", "ORDERS"}, {"subjects", {"orders.>"}}};
  i.as_of_seq = last;
  i.first_seq = first;
  i.last_seq = last;
  i.messages = messages;
  i.bytes = 1234;
  i.created = "2024-01-02T03:04:05Z";
  i.last_time_ns = 99;
  return i;
}

BackupMessage Msg(uint64_t seq) {
  BackupMessage m;
  m.seq = seq;
  m.time_ns = 1700000000000000000 + static_cast<int64_t>(seq);
  m.subject = "orders." + std::to_string(seq);
  if (seq % 2 == 0) m.headers = "NATS/1.0\r\nNats-Msg-Id: " + std::to_string(seq) + "\r\n\r\n";
  m.data = std::string(seq % 7, static_cast<char>('a' + seq % 26));
  return m;
}

// A file of messages at `seqs`.
std::string File(const std::vector<uint64_t>& seqs, uint64_t first, uint64_t last) {
  BackupWriter w;
  w.Begin(Info(first, last, seqs.size()));
  for (uint64_t s : seqs) w.AddMessage(Msg(s));
  w.End();
  return w.TakeOutput();
}

struct ReadResult {
  absl::Status status;
  BackupInfo info;
  std::vector<BackupMessage> messages;
  int ends = 0;
};

// Feeds `file` in chunks of `chunk` bytes.
ReadResult ReadAll(std::string_view file, size_t chunk, size_t max_frame = kMaxBackupFrameBytes) {
  ReadResult r;
  BackupReader reader(max_frame);
  for (size_t off = 0; off <= file.size(); off += chunk) {
    reader.Feed(file.substr(off, chunk));
    for (int guard = 0; guard < 1000000; ++guard) {
      absl::StatusOr<std::optional<BackupFrame>> f = reader.Next();
      if (!f.ok()) {
        r.status = f.status();
        return r;
      }
      if (!f->has_value()) break;
      switch ((*f)->kind) {
        case BackupFrame::Kind::kConfig:
          r.info = (*f)->info;
          break;
        case BackupFrame::Kind::kMessage:
          r.messages.push_back((*f)->message);
          break;
        case BackupFrame::Kind::kEnd:
          ++r.ends;
          break;
      }
    }
  }
  r.status = reader.Finish();
  return r;
}

TEST(BackupFormatTest, RoundTripInAnyChunking) {
  const std::vector<uint64_t> seqs = {3, 4, 5, 9, 10, 200};
  const std::string file = File(seqs, 3, 250);
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{7}, size_t{64}, file.size()}) {
    ReadResult r = ReadAll(file, chunk);
    ASSERT_TRUE(r.status.ok()) << chunk << ": " << r.status;
    EXPECT_EQ(r.ends, 1);
    EXPECT_EQ(r.info.stream, "ORDERS");
    EXPECT_EQ(r.info.config["subjects"][0], "orders.>");
    EXPECT_EQ(r.info.first_seq, 3u);
    EXPECT_EQ(r.info.last_seq, 250u);
    EXPECT_EQ(r.info.as_of_seq, 250u);
    EXPECT_EQ(r.info.messages, seqs.size());
    EXPECT_EQ(r.info.bytes, 1234u);
    EXPECT_EQ(r.info.created, "2024-01-02T03:04:05Z");
    EXPECT_EQ(r.info.last_time_ns, 99);
    ASSERT_EQ(r.messages.size(), seqs.size());
    for (size_t i = 0; i < seqs.size(); ++i) {
      const BackupMessage want = Msg(seqs[i]);
      EXPECT_EQ(r.messages[i].seq, want.seq);
      EXPECT_EQ(r.messages[i].time_ns, want.time_ns);
      EXPECT_EQ(r.messages[i].subject, want.subject);
      EXPECT_EQ(r.messages[i].headers, want.headers);
      EXPECT_EQ(r.messages[i].data, want.data);
    }
  }
}

TEST(BackupFormatTest, EmptyStream) {
  ReadResult r = ReadAll(File({}, 11, 10), 5);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.messages.size(), 0u);
  EXPECT_EQ(r.info.last_seq, 10u);
}

TEST(BackupFormatTest, WriterOutputDrainsInPieces) {
  BackupWriter w;
  std::string file;
  w.Begin(Info(1, 3, 3));
  file += w.TakeOutput();
  EXPECT_EQ(w.output_size(), 0u);
  for (uint64_t s = 1; s <= 3; ++s) {
    w.AddMessage(Msg(s));
    file += w.TakeOutput();
  }
  w.End();
  file += w.TakeOutput();
  EXPECT_EQ(w.messages(), 3u);
  EXPECT_EQ(file, File({1, 2, 3}, 1, 3));
}

TEST(BackupFormatTest, TruncatedAnywhereIsRefused) {
  const std::string file = File({1, 2, 3, 4}, 1, 4);
  for (size_t cut = 0; cut < file.size(); ++cut) {
    ReadResult r = ReadAll(std::string_view(file).substr(0, cut), 3);
    ASSERT_FALSE(r.status.ok()) << "cut at " << cut;
    EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument) << cut << ": " << r.status;
    EXPECT_NE(r.status.message().find("truncated"), std::string::npos) << r.status;
  }
}

TEST(BackupFormatTest, FlippedByteIsAChecksumError) {
  const std::string file = File({1, 2, 3, 4}, 1, 4);
  int data_loss = 0;
  for (size_t i = 9; i < file.size(); ++i) {  // after the header
    std::string bad = file;
    bad[i] ^= 0x20;
    ReadResult r = ReadAll(bad, 16);
    ASSERT_FALSE(r.status.ok()) << "flip at " << i;
    // A flipped type or length byte may also read as another frame's
    // layout; everything else is a checksum mismatch.
    EXPECT_TRUE(r.status.code() == absl::StatusCode::kDataLoss ||
                r.status.code() == absl::StatusCode::kInvalidArgument)
        << r.status;
    if (r.status.code() == absl::StatusCode::kDataLoss) {
      ++data_loss;
      EXPECT_NE(r.status.message().find("checksum"), std::string::npos) << r.status;
    }
  }
  EXPECT_GT(data_loss, static_cast<int>(file.size()) / 2);
  // A flipped data byte in the middle of a message: that frame's checksum.
  std::string bad = file;
  bad[file.size() / 2] ^= 1;
  ReadResult r = ReadAll(bad, 1000);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss) << r.status;
}

TEST(BackupFormatTest, WrongMagicAndVersion) {
  std::string file = File({1}, 1, 1);
  std::string v2 = file;
  v2[8] = 2;
  ReadResult r = ReadAll(v2, 4);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status.message().find("version 2 is not supported"), std::string::npos) << r.status;
  r = ReadAll("PK\x03\x04 this is a zip file", 100);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status.message().find("not a Herald stream backup"), std::string::npos) << r.status;
  r = ReadAll("", 100);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
}

TEST(BackupFormatTest, DroppedOrReorderedFramesAreDetected) {
  // A message frame of another backup spliced in: each frame passes its
  // own checksum, the end frame's running checksum does not.
  BackupWriter a;
  a.Begin(Info(1, 3, 3));
  std::string head_a = a.TakeOutput();
  BackupMessage m2 = Msg(2);
  a.AddMessage(Msg(1));
  a.AddMessage(m2);
  a.AddMessage(Msg(3));
  m2.data = "other";
  a.End();
  const std::string rest_a = a.TakeOutput();
  const std::string frame1 = EncodeMessageFrame(Msg(1));
  const std::string frame2b = EncodeMessageFrame(m2);
  const std::string frame2a = EncodeMessageFrame(Msg(2));
  const std::string spliced =
      head_a + frame1 + frame2b + rest_a.substr(frame1.size() + frame2a.size());
  ReadResult r = ReadAll(spliced, 8);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss) << r.status;
  EXPECT_NE(r.status.message().find("whole file"), std::string::npos) << r.status;

  // A message frame dropped: the count disagrees.
  const std::string dropped = head_a + rest_a.substr(frame1.size());
  r = ReadAll(dropped, 8);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument) << r.status;
  // Out of order.
  const std::string frame3 = EncodeMessageFrame(Msg(3));
  const std::string reordered = head_a + frame3 + frame1;
  r = ReadAll(reordered, 8);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument) << r.status;
  EXPECT_NE(r.status.message().find("out of order"), std::string::npos) << r.status;
}

TEST(BackupFormatTest, TrailingBytesAndSecondConfigAreRefused) {
  std::string file = File({1}, 1, 1) + "x";
  ReadResult r = ReadAll(file, 3);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status.message().find("after the end frame"), std::string::npos) << r.status;

  BackupWriter w;
  w.Begin(Info(1, 1, 1));
  std::string twice = w.TakeOutput() + EncodeConfigFrame(Info(1, 1, 1));
  r = ReadAll(twice, 3);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status.message().find("second config"), std::string::npos) << r.status;
}

TEST(BackupFormatTest, OversizedFrameIsRefusedBeforeBuffering) {
  BackupWriter w;
  w.Begin(Info(1, 1, 1));
  BackupMessage big = Msg(1);
  big.data.assign(5000, 'z');
  w.AddMessage(big);
  w.End();
  const std::string file = w.TakeOutput();
  ReadResult r = ReadAll(file, 100, /*max_frame=*/4096);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status.message().find("the limit is 4096"), std::string::npos) << r.status;
  EXPECT_TRUE(ReadAll(file, 100, 8192).status.ok());
}

TEST(BackupFormatTest, InconsistentConfigIsRefused) {
  BackupWriter w;
  w.Begin(Info(10, 5, 3));  // first > last with messages
  w.End();
  ReadResult r = ReadAll(w.TakeOutput(), 50);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status.message().find("inconsistent"), std::string::npos) << r.status;
}

TEST(BackupFormatTest, MessageFramesDecodeAndAppendAsTheyAre) {
  std::string frames;
  for (uint64_t s : {1, 2, 5}) frames += EncodeMessageFrame(Msg(s));
  std::vector<uint64_t> seen;
  absl::Status st = DecodeMessageFrames(frames, [&](BackupMessage m) {
    seen.push_back(m.seq);
    EXPECT_EQ(m.data, Msg(m.seq).data);
    return absl::OkStatus();
  });
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 5}));
  BackupWriter w;
  w.Begin(Info(1, 5, 3));
  w.AddMessageFrames(frames, 3);
  w.End();
  EXPECT_EQ(w.TakeOutput(), File({1, 2, 5}, 1, 5));
  std::string bad = frames;
  bad[3] ^= 1;
  EXPECT_EQ(DecodeMessageFrames(bad, [](BackupMessage) { return absl::OkStatus(); }).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeMessageFrames(frames.substr(0, frames.size() - 1),
                                [](BackupMessage) { return absl::OkStatus(); })
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace herald::admin
