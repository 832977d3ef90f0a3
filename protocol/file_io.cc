#include "protocol/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

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

}  // namespace

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
