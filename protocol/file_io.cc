#include "protocol/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"

namespace equifl::protocol {
namespace {

// Writes all of `bytes`, retrying short writes; 0 or an errno value.
int WriteAll(int descriptor, std::span<const std::byte> bytes) {
  const std::byte* next = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t written = ::write(descriptor, next, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    next += written;
    left -= static_cast<size_t>(written);
  }
  return 0;
}

// What a file that is not a regular one is, for messages.
const char* KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

absl::StatusOr<RegularFile> RegularFile::Open(const std::string& path, uint64_t max_bytes) {
  // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting.
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (descriptor < 0) return FileError("open", path, errno);
  RegularFile file(path, descriptor, 0);
  struct stat info {};
  if (::fstat(descriptor, &info) != 0) return FileError("inspect", path, errno);
  if (!S_ISREG(info.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is ", KindOf(info.st_mode), "; give a regular file"));
  }
  file.size_ = static_cast<uint64_t>(info.st_size);
  if (file.size_ > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, " has ", file.size_, " bytes; at most ",
                                                   max_bytes, " are read from it"));
  }
  // Reads of a regular file never block; clear the flag all the same.
  ::fcntl(descriptor, F_SETFL, ::fcntl(descriptor, F_GETFL) & ~O_NONBLOCK);
  return file;
}

RegularFile::RegularFile(RegularFile&& other) noexcept { *this = std::move(other); }

RegularFile& RegularFile::operator=(RegularFile&& other) noexcept {
  if (this != &other) {
    if (descriptor_ >= 0) ::close(descriptor_);
    path_ = std::move(other.path_);
    descriptor_ = std::exchange(other.descriptor_, -1);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

RegularFile::~RegularFile() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

absl::StatusOr<std::string> RegularFile::ReadAll(
    const std::function<void(uint64_t)>& progress) const {
  std::string bytes;
  try {
    bytes.resize(static_cast<size_t>(size_));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot hold ", path_, " (", size_, " bytes) in memory"));
  }
  constexpr size_t kChunk = size_t{4} << 20;
  size_t filled = 0;
  while (filled < bytes.size()) {
    const ssize_t got =
        ::pread(descriptor_, bytes.data() + filled, std::min(kChunk, bytes.size() - filled),
                static_cast<off_t>(filled));
    if (got < 0) {
      if (errno == EINTR) continue;
      return FileError("read", path_, errno);
    }
    if (got == 0) break;  // the file shrank since it was opened
    filled += static_cast<size_t>(got);
    if (progress) progress(filled);
  }
  bytes.resize(filled);
  return bytes;
}

absl::StatusOr<std::string> ReadRegularFile(const std::string& path, uint64_t max_bytes) {
  absl::StatusOr<RegularFile> file = RegularFile::Open(path, max_bytes);
  if (!file.ok()) return file.status();
  return file->ReadAll();
}

absl::Status FileError(absl::string_view what, const std::string& path, int error) {
  const std::string message = absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(error));
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status WriteFileAtomically(const std::string& path,
                                 std::span<const std::span<const std::byte>> pieces) {
  const std::filesystem::path target(path);
  const std::filesystem::path folder =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::string temporary = (folder / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  const int descriptor = ::mkstemp(temporary.data());
  if (descriptor < 0) return FileError("create a temporary file in", folder.string(), errno);
  auto fail = [&](absl::string_view what, int error) {
    ::close(descriptor);
    ::unlink(temporary.c_str());
    return FileError(what, path, error);
  };
  for (const std::span<const std::byte> piece : pieces) {
    if (const int error = WriteAll(descriptor, piece); error != 0) return fail("write", error);
  }
  if (::fchmod(descriptor, 0644) != 0) return fail("set the permissions of", errno);
  if (::fsync(descriptor) != 0) return fail("sync", errno);
  if (::close(descriptor) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return FileError("close", path, error);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return FileError("rename a temporary file to", path, error);
  }
  // Make the rename itself durable.
  if (const int directory = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      directory >= 0) {
    ::fsync(directory);
    ::close(directory);
  }
  return absl::OkStatus();
}

}  // namespace equifl::protocol
