// Reading files a user names: only regular files, never more than the limit, and
// nothing allocated or blocked on before the checks.
#include "protocol/file_io.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::protocol {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

TEST(RegularFileTest, ReadsARegularFileWholeAndReportsItsProgress) {
  const test::TemporaryFolder folder("file_io");
  const std::string path = folder / "data.bin";
  const std::string bytes(9 << 20, 'z');
  std::ofstream(path, std::ios::binary) << bytes;
  absl::StatusOr<RegularFile> file = RegularFile::Open(path, bytes.size());
  ASSERT_THAT(file, IsOk());
  EXPECT_EQ(file->size(), bytes.size());
  std::vector<uint64_t> reports;
  absl::StatusOr<std::string> read = file->ReadAll([&](uint64_t done) { reports.push_back(done); });
  ASSERT_THAT(read, IsOk());
  EXPECT_TRUE(*read == bytes);
  EXPECT_THAT(reports, ::testing::ElementsAre(4 << 20, 8 << 20, 9 << 20));
  // Moving keeps the descriptor open.
  RegularFile moved = *std::move(file);
  EXPECT_THAT(moved.ReadAll(), IsOk());

  std::ofstream(folder / "empty.txt").flush();
  EXPECT_EQ(ReadRegularFile(folder / "empty.txt", 0).value_or("x"), "");
}

TEST(RegularFileTest, RefusesWhatIsNotARegularFileWithoutReadingOrBlocking) {
  const test::TemporaryFolder folder("file_io");
  const std::string fifo = folder / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const struct {
    std::string path;
    const char* kind;
  } cases[] = {
      {"/dev/zero", "is a character device"},
      {"/dev/null", "is a character device"},
      {fifo, "is a FIFO (named pipe)"},  // opening it must not wait for a writer
      {folder.path().string(), "is a folder"},
  };
  for (const auto& [path, kind] : cases) {
    const absl::Status status = ReadRegularFile(path, 1 << 20).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_THAT(status.message(), HasSubstr(path + " " + kind + "; give a regular file"));
  }
  EXPECT_EQ(ReadRegularFile(folder / "none", 1 << 20).status().code(), absl::StatusCode::kNotFound);
}

TEST(RegularFileTest, RefusesAFileAboveTheLimitBeforeReadingIt) {
  const test::TemporaryFolder folder("file_io");
  const std::string path = folder / "sparse.bin";
  // 1 TiB of nothing: refused from its size, never allocated.
  std::ofstream(path).flush();
  std::filesystem::resize_file(path, uint64_t{1} << 40);
  const absl::Status status = ReadRegularFile(path, 1 << 20).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr(path + " has 1099511627776 bytes; at most 1048576 are read from it"));
  std::ofstream(folder / "four.txt") << "four";
  EXPECT_THAT(ReadRegularFile(folder / "four.txt", 3).status().message(), HasSubstr("has 4 bytes"));
  EXPECT_EQ(ReadRegularFile(folder / "four.txt", 4).value_or(""), "four");
}

}  // namespace
}  // namespace equifl::protocol
