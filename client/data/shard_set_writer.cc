#include "client/data/shard_set_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <random>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "protocol/file_io.h"

namespace equifl::client {
namespace {

// `path` without a trailing separator ("shards/" names the folder "shards").
std::filesystem::path WithoutTrailingSeparator(const std::string& path) {
  std::filesystem::path folder(path);
  if (!folder.has_filename() && folder.has_parent_path()) folder = folder.parent_path();
  return folder;
}

}  // namespace

absl::StatusOr<ShardSetWriter> ShardSetWriter::Begin(const std::string& out_dir) {
  const std::filesystem::path target = WithoutTrailingSeparator(out_dir);
  std::error_code error;
  if (std::filesystem::exists(target, error) &&
      !(std::filesystem::is_directory(target, error) && std::filesystem::is_empty(target, error))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "output folder ", out_dir, " exists and is not empty; choose another or remove it"));
  }
  const std::filesystem::path parent =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::filesystem::create_directories(parent, error);
  if (error) return protocol::FileError("create the folder", parent.string(), error.value());
  // mkdir, not mkdtemp: the folder gets the permissions the umask gives, as the
  // final folder would.
  std::random_device entropy;
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::string staging =
        (parent / absl::StrFormat(".%s.tmp-%08x", target.filename().string(), entropy())).string();
    if (::mkdir(staging.c_str(), 0777) == 0) return ShardSetWriter(out_dir, staging);
    if (errno != EEXIST) return protocol::FileError("create a folder in", parent.string(), errno);
  }
  return protocol::FileError("create a folder in", parent.string(), EEXIST);
}

ShardSetWriter::ShardSetWriter(ShardSetWriter&& other) noexcept { *this = std::move(other); }

ShardSetWriter& ShardSetWriter::operator=(ShardSetWriter&& other) noexcept {
  if (this != &other) {
    RemoveStaging();
    out_dir_ = std::move(other.out_dir_);
    staging_ = std::exchange(other.staging_, std::string());
  }
  return *this;
}

ShardSetWriter::~ShardSetWriter() { RemoveStaging(); }

void ShardSetWriter::RemoveStaging() {
  if (staging_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(staging_, ignored);
  staging_.clear();
}

absl::StatusOr<std::string> ShardSetWriter::Write(int index, const ShardData& data) {
  if (staging_.empty()) {
    return absl::FailedPreconditionError("the shard set is already committed");
  }
  const std::string name = ClientShardName(index);
  EQUIFL_RETURN_IF_ERROR(WriteShard((std::filesystem::path(staging_) / name).string(), data));
  return (std::filesystem::path(out_dir_) / name).string();
}

absl::Status ShardSetWriter::Commit() && {
  if (staging_.empty()) {
    return absl::FailedPreconditionError("the shard set is already committed");
  }
  const std::filesystem::path target = WithoutTrailingSeparator(out_dir_);
  // Replaces `target` only if it is an empty folder (or missing).
  if (::rename(staging_.c_str(), target.c_str()) != 0) {
    const int error = errno;
    RemoveStaging();
    if (error == ENOTEMPTY || error == EEXIST || error == ENOTDIR || error == EISDIR) {
      return absl::FailedPreconditionError(
          absl::StrCat("output folder ", out_dir_,
                       " appeared while the shards were written and is not an empty folder; "
                       "choose another or remove it"));
    }
    return protocol::FileError("move the shards to", out_dir_, error);
  }
  staging_.clear();
  const std::filesystem::path parent =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  if (const int folder = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); folder >= 0) {
    ::fsync(folder);
    ::close(folder);
  }
  return absl::OkStatus();
}

}  // namespace equifl::client
