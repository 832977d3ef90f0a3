// Writing a set of client shards, `out_dir`/client-000, client-001, ..., so that
// a failure leaves nothing behind and a crash leaves no half-written `out_dir`.
//
// The shards go into a hidden folder beside `out_dir`, `.<name>.tmp-<random>`,
// which Commit renames to `out_dir` once every shard is written. An error, or a
// writer dropped before Commit, removes the hidden folder; only a crash can leave
// it behind, and never under the final name. `out_dir` must not exist or be an
// empty folder (which the rename replaces): nothing is ever overwritten. The
// importers (import_split.h) and `equifl data synth` write their shards this way.
#ifndef EQUIFL_CLIENT_DATA_SHARD_SET_WRITER_H_
#define EQUIFL_CLIENT_DATA_SHARD_SET_WRITER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/data/shard.h"

namespace equifl::client {

//! Shards written into a hidden folder, then moved to their folder at once.
class ShardSetWriter {
 public:
  //! Checks that `out_dir` does not exist or is an empty folder
  //! (FailedPrecondition otherwise), creates its parent folders if missing and the
  //! hidden folder beside it.
  static absl::StatusOr<ShardSetWriter> Begin(const std::string& out_dir);

  ShardSetWriter(ShardSetWriter&& other) noexcept;
  ShardSetWriter& operator=(ShardSetWriter&& other) noexcept;
  ShardSetWriter(const ShardSetWriter&) = delete;
  ShardSetWriter& operator=(const ShardSetWriter&) = delete;
  //! Removes the hidden folder unless Commit moved it.
  ~ShardSetWriter();

  //! Writes client `index`'s shard (WriteShard) into the hidden folder and returns
  //! the folder it will have once committed: `out_dir`/ClientShardName(index).
  absl::StatusOr<std::string> Write(int index, const ShardData& data);

  //! Renames the hidden folder to `out_dir` and makes the rename durable. On an
  //! error (e.g. `out_dir` was filled meanwhile) the hidden folder is removed.
  absl::Status Commit() &&;

 private:
  ShardSetWriter(std::string out_dir, std::string staging)
      : out_dir_(std::move(out_dir)), staging_(std::move(staging)) {}
  void RemoveStaging();

  std::string out_dir_;  //!< As given to Begin.
  std::string staging_;  //!< The hidden folder; empty once committed or moved from.
};

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_DATA_SHARD_SET_WRITER_H_
