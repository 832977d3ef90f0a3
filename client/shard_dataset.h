// An opened shard's samples as a client::Dataset, the trainer's input.
//
// The features, lengths and label columns are at::Tensors over the shard's mapped
// file (at::from_blob, no copy) whenever the requested rows are contiguous, which
// they are for every split of a shard equifl wrote (rows are stored by split); other
// row orders are gathered into new tensors. `present` is always converted to bool.
//
// The Shard must outlive the Dataset and every tensor sliced from it without a copy.
// Those tensors are read-only: the mapping is, so writing into one crashes; clone()
// first (Dataset::Select already copies).
#ifndef EQUIFL_CLIENT_SHARD_DATASET_H_
#define EQUIFL_CLIENT_SHARD_DATASET_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/data/shard.h"
#include "client/model/dataset.h"

namespace equifl::client {

//! Every sample of `shard`, in stored order.
absl::StatusOr<Dataset> DatasetFromShard(const Shard& shard);

//! The samples of `shard` in `split`, in stored order: the rows RowsOfSplit names.
absl::StatusOr<Dataset> DatasetFromShard(const Shard& shard, Split split);

//! The shard's rows (0-based, in stored order) that belong to `split`.
std::vector<int64_t> RowsOfSplit(const Shard& shard, Split split);

//! Every sample of `columns`, laid out as `manifest` says, as views (no copy) of
//! memory the caller keeps alive: a ShardData's vectors or a Shard's mapping.
//! `source` prefixes error messages.
absl::StatusOr<Dataset> DatasetFromColumns(const ShardManifest& manifest,
                                           const ShardColumns& columns, absl::string_view source);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_SHARD_DATASET_H_
