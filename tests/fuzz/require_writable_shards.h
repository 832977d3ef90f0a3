// The property every importer's fuzz target checks of the shards an accepted input
// builds: they pass the checks WriteShard makes before writing (the manifest's and
// ValidateShardColumns), so an accepted input always becomes writable shards.
#ifndef EQUIFL_TESTS_FUZZ_REQUIRE_WRITABLE_SHARDS_H_
#define EQUIFL_TESTS_FUZZ_REQUIRE_WRITABLE_SHARDS_H_

#include <cstdint>
#include <vector>

#include "client/data/shard.h"
#include "tests/fuzz/require.h"

namespace equifl::fuzz {

//! Requires every shard to be writable; returns the samples they hold.
inline int64_t RequireWritableShards(const std::vector<client::ShardData>& shards) {
  int64_t samples = 0;
  for (const client::ShardData& shard : shards) {
    const absl::Status manifest = shard.manifest.Validate();
    Require(manifest.ok(), manifest.message());
    const absl::Status columns = client::ValidateShardColumns(shard.manifest, shard.Columns());
    Require(columns.ok(), columns.message());
    samples += shard.manifest.num_samples;
  }
  return samples;
}

}  // namespace equifl::fuzz

#endif  // EQUIFL_TESTS_FUZZ_REQUIRE_WRITABLE_SHARDS_H_
