// What makes a checkpoint trustworthy before a run resumes from it or `equifl eval`
// reads it: the SHA-256 of the file as written, recorded in the run history beside
// the round, and values that are all finite. A bit flip, a truncated or an older
// file copied over a newer one changes the digest; a model that diverged to NaN
// or Inf fails the finiteness check.
#ifndef EQUIFL_SERVER_CHECKPOINT_INTEGRITY_H_
#define EQUIFL_SERVER_CHECKPOINT_INTEGRITY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "protocol/safetensors.h"

namespace equifl::server {

//! The SHA-256 of the file at `path`, as 64 lowercase hex digits.
absl::StatusOr<std::string> FileSha256(const std::string& path);

//! OK when every float tensor of `file` (read from `path`) holds finite values
//! only; otherwise a DataLoss error naming the file, the tensor and the count.
absl::Status CheckFiniteValues(const protocol::SafetensorsFile& file, const std::string& path);

//! Verifies the checkpoint at `path` for a reader outside the server (`equifl
//! eval`): finite values, and when the file lies in a run folder's checkpoints/
//! whose history.db records a digest for its round, that digest.
absl::Status VerifyCheckpointFile(const std::string& path);

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_CHECKPOINT_INTEGRITY_H_
