// Shard sets appear whole or not at all: written beside their folder, moved into
// place by Commit, removed when anything fails.
#include "client/data/shard_set_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "client/data/import_split.h"
#include "tests/client/shard_test_util.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::client {
namespace {

using ::equifl::test::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The names in `folder`, hidden ones included.
std::vector<std::string> Entries(const std::filesystem::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(ShardSetWriterTest, ShardsAppearUnderTheirFolderOnlyAtCommit) {
  const test::TemporaryFolder folder("shard_set");
  const std::string out = folder / "shards";
  absl::StatusOr<ShardSetWriter> writer = ShardSetWriter::Begin(out);
  ASSERT_THAT(writer, IsOk());
  for (int client : {0, 1}) {
    absl::StatusOr<std::string> dir = writer->Write(client, testing::SmallShard());
    ASSERT_THAT(dir, IsOk());
    EXPECT_EQ(*dir, (std::filesystem::path(out) / ClientShardName(client)).string());
  }
  EXPECT_FALSE(std::filesystem::exists(out));
  ASSERT_EQ(Entries(folder.path()).size(), 1u);
  EXPECT_THAT(Entries(folder.path())[0], ::testing::StartsWith(".shards.tmp-"));
  ASSERT_THAT(std::move(*writer).Commit(), IsOk());
  EXPECT_THAT(Entries(folder.path()), ElementsAre("shards"));
  EXPECT_THAT(Entries(out), ElementsAre("client-000", "client-001"));
  EXPECT_THAT(Shard::Open(folder / "shards/client-001"), IsOk());
}

TEST(ShardSetWriterTest, AWriterDroppedBeforeCommitLeavesNothing) {
  const test::TemporaryFolder folder("shard_set");
  {
    absl::StatusOr<ShardSetWriter> writer = ShardSetWriter::Begin(folder / "shards/");
    ASSERT_THAT(writer, IsOk());
    ASSERT_THAT(writer->Write(0, testing::SmallShard()), IsOk());
  }
  EXPECT_THAT(Entries(folder.path()), ElementsAre());
}

TEST(ShardSetWriterTest, AnEmptyFolderIsFilledAndAFullOneIsNeverTouched) {
  const test::TemporaryFolder folder("shard_set");
  std::filesystem::create_directories(folder / "empty");
  absl::StatusOr<ShardSetWriter> writer = ShardSetWriter::Begin(folder / "empty");
  ASSERT_THAT(writer, IsOk());
  ASSERT_THAT(writer->Write(0, testing::SmallShard()), IsOk());
  ASSERT_THAT(std::move(*writer).Commit(), IsOk());
  EXPECT_THAT(Entries(folder / "empty"), ElementsAre("client-000"));

  EXPECT_EQ(ShardSetWriter::Begin(folder / "empty").status().code(),
            absl::StatusCode::kFailedPrecondition);
  // A folder filled while the shards were written is not replaced either.
  writer = ShardSetWriter::Begin(folder / "late");
  ASSERT_THAT(writer, IsOk());
  ASSERT_THAT(writer->Write(0, testing::SmallShard()), IsOk());
  std::filesystem::create_directories(folder / "late");
  std::ofstream(folder / "late/mine.txt") << "keep me";
  const absl::Status late = std::move(*writer).Commit();
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(late.message(), HasSubstr("appeared while the shards were written"));
  EXPECT_THAT(Entries(folder / "late"), ElementsAre("mine.txt"));
  EXPECT_THAT(Entries(folder.path()), ElementsAre("empty", "late"));
}

TEST(ShardSetWriterTest, WriteClientShardsLeavesNothingWhenAShardFails) {
  const test::TemporaryFolder folder("shard_set");
  std::vector<ShardData> shards = {testing::SmallShard(), testing::SmallShard()};
  shards[1].label[0] = 99;  // out of range: WriteShard refuses the second shard
  const absl::Status status = WriteClientShards(folder / "shards", shards).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("client-001"));
  EXPECT_THAT(Entries(folder.path()), ElementsAre());
}

}  // namespace
}  // namespace equifl::client
