// How the server combines a round's plain updates, and the bound on each update's
// L2 norm: the `aggregation` section of the configuration.
//
// Rules (Yin et al., "Byzantine-robust distributed learning", ICML 2018, with
// FedAvg's weights): `mean` is the streaming weighted mean (weighted_mean.h);
// `trimmed_mean` and `median` are coordinate-wise and weighted by mass
// (coordinate_wise_aggregate.h): per coordinate, each client's value stands for
// its weight, the lowest and highest trim_fraction of the weight are dropped (or
// all but the middle point, for the median), and the rest is averaged. They resist
// clients whose values are outliers as long as those hold less than trim_fraction
// (median: half) of a round's weight on each side; weights are the clients'
// claims (e.g. sample counts), so a client that overstates its weight gains say
// under every rule, the mean included.
//
// The robust rules cannot stream: they hold every update of a round until it
// closes, clients × model size × 4 bytes, which memory_limit_mb bounds.
//
// norm_bound scales every update Δ longer than it down to that L2 norm
// (privacy/client_level_privacy.h's ClipToNorm) before it is weighted: on the
// server for plain updates, which need not trust the client, and on the client
// under secure aggregation, where the server never sees an update. A client that
// ignores the bound inside secure aggregation is limited only by the masked
// vector's per-coordinate clamp (secure_aggregation.update_bound).
#ifndef EQUIFL_AGGREGATION_AGGREGATION_RULE_H_
#define EQUIFL_AGGREGATION_AGGREGATION_RULE_H_

#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "base/enum_names.h"

namespace equifl::aggregation {

//! How a round's updates are combined into one.
enum class AggregationRule { kMean, kTrimmedMean, kMedian };

//! "mean", "trimmed_mean" and "median", in configuration files and messages.
inline std::span<const EnumName<AggregationRule>> EnumNames(AggregationRule) {
  static constexpr EnumName<AggregationRule> kNames[] = {
      {AggregationRule::kMean, "mean"},
      {AggregationRule::kTrimmedMean, "trimmed_mean"},
      {AggregationRule::kMedian, "median"}};
  return kNames;
}

//! The `aggregation` section of the configuration.
struct RobustAggregationOptions {
  AggregationRule rule = AggregationRule::kMean;
  //! trimmed_mean: share of each round's weight dropped at each end, in (0, 0.5).
  double trim_fraction = 0.1;
  //! Updates longer than this L2 norm are scaled down to it; 0: no bound.
  double norm_bound = 0;
  //! trimmed_mean and median: the most memory (MiB) a round's held updates may
  //! take; an update beyond it fails the round.
  uint64_t memory_limit_mb = 4096;

  //! Whether the rule needs every update of a round at once.
  bool HoldsUpdates() const { return rule != AggregationRule::kMean; }
  //! memory_limit_mb in bytes.
  uint64_t MemoryLimitBytes() const { return memory_limit_mb << 20; }

  absl::Status Validate() const;
  //! Refuses what cannot go with client-level DP or secure aggregation: the robust
  //! rules need each update in the clear, and DP's noise is calibrated to the
  //! clipped sum of weight-1 updates, which they are not; DP's clip_norm already
  //! bounds every update, so norm_bound would only shadow it.
  absl::Status CheckCompatibleWith(bool client_level_privacy, bool secure_aggregation) const;
};

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_AGGREGATION_RULE_H_
