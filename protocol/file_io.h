// Small file helpers the on-disk formats share: reading a file a user names
// without trusting it (only regular files, never more than a stated size),
// atomic replacement, and errno translated into statuses a user can act on.
#ifndef EQUIFL_PROTOCOL_FILE_IO_H_
#define EQUIFL_PROTOCOL_FILE_IO_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace equifl::protocol {

//! "cannot <what> <path>: <strerror>", with a code that says whose problem it is:
//! NotFound, PermissionDenied, ResourceExhausted (disk full) or Internal.
absl::Status FileError(absl::string_view what, const std::string& path, int error);

//! A regular file open for reading, its size known before anything is read.
//!
//! Every reader of a file a user names goes through Open, so that /dev/zero, a
//! FIFO or a folder is an error rather than an endless read, a hang or a huge
//! allocation, and a file over the reader's limit is refused before its bytes are
//! allocated. Move-only; closes the descriptor when destroyed.
class RegularFile {
 public:
  //! Opens `path` (symbolic links followed) without blocking on a FIFO. Errors:
  //! FileError's when it cannot be opened; InvalidArgument naming the path when it
  //! is not a regular file (a folder, a FIFO, a device, a socket) or is larger
  //! than `max_bytes`.
  static absl::StatusOr<RegularFile> Open(const std::string& path, uint64_t max_bytes);

  RegularFile(RegularFile&& other) noexcept;
  RegularFile& operator=(RegularFile&& other) noexcept;
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;
  ~RegularFile();

  //! Reads the file from the start: its size when opened, or less if it has
  //! shrunk since; never more. Calls `progress`, when given, with the bytes read
  //! so far after every few MiB. ResourceExhausted when the bytes cannot be held
  //! in memory.
  absl::StatusOr<std::string> ReadAll(const std::function<void(uint64_t)>& progress = {}) const;

  //! The open descriptor (e.g. for mmap); owned by this object.
  int descriptor() const { return descriptor_; }
  //! The size when opened.
  uint64_t size() const { return size_; }
  //! The path it was opened from, for messages.
  const std::string& path() const { return path_; }

 private:
  RegularFile(std::string path, int descriptor, uint64_t size)
      : path_(std::move(path)), descriptor_(descriptor), size_(size) {}

  std::string path_;     //!< As given to Open.
  int descriptor_ = -1;  //!< Open for reading; -1 once moved from.
  uint64_t size_ = 0;    //!< st_size when opened.
};

//! The whole of the regular file at `path`, at most `max_bytes` of it: opened and
//! read with RegularFile, whose errors it returns.
absl::StatusOr<std::string> ReadRegularFile(const std::string& path, uint64_t max_bytes);

//! Writes `pieces`, one after another, to `path` so that readers see either the old
//! file or the whole new one: a temporary file in the same folder, fsync, rename,
//! fsync of the folder. On failure the temporary file is removed.
absl::Status WriteFileAtomically(const std::string& path,
                                 std::span<const std::span<const std::byte>> pieces);

}  // namespace equifl::protocol

#endif  // EQUIFL_PROTOCOL_FILE_IO_H_
