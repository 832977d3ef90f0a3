// Small file helpers the on-disk formats share: atomic replacement and errno
// translated into statuses a user can act on.
#ifndef EQUIFL_PROTOCOL_FILE_IO_H_
#define EQUIFL_PROTOCOL_FILE_IO_H_

#include <cstddef>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace equifl::protocol {

//! "cannot <what> <path>: <strerror>", with a code that says whose problem it is:
//! NotFound, PermissionDenied, ResourceExhausted (disk full) or Internal.
absl::Status FileError(absl::string_view what, const std::string& path, int error);

//! Writes `pieces`, one after another, to `path` so that readers see either the old
//! file or the whole new one: a temporary file in the same folder, fsync, rename,
//! fsync of the folder. On failure the temporary file is removed.
absl::Status WriteFileAtomically(const std::string& path,
                                 std::span<const std::span<const std::byte>> pieces);

}  // namespace equifl::protocol

#endif  // EQUIFL_PROTOCOL_FILE_IO_H_
