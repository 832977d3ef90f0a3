// Streaming weighted mean of client updates: Σ_k w_k·x_k / Σ_k w_k over flat
// float32 vectors of one fixed size (the caller flattens the model).
//
// Modelled on federated-compute's aggregators: Accumulate() folds one update into
// a running sum in place, so memory stays at one accumulator (8 bytes per element)
// however many updates arrive; MergeWith() combines partial aggregates (one per
// thread or per shard of clients); Report() consumes the aggregate and returns the
// mean.
//
// Precision: float64, chosen by measurement. The running sum and the total weight
// are float64; each update is widened and multiplied by its weight in float64. For
// K accumulated updates, with mean_i = Σ w_k·x_k,i / W and A_i = Σ w_k·|x_k,i| / W
// (W = Σ w_k), the report obeys
//   |Report_i − mean_i| <= 2^-24·|mean_i| + (2K + 2)·2^-53·A_i,
// the exact mean rounded once to float32, give or take 2^-32·A_i for any K up to
// 2^20, in any order of arrival or merge tree. Measured on random zero-mean updates
// with unequal weights (K = 20 to 10^4), every element equalled the correctly
// rounded mean, so the order in which clients report does not change the model
// (but for the rare element within (2K + 2)·2^-53·A_i of a rounding boundary). A float32
// accumulator folds about 1.7x faster (it reads 8 bytes per element instead of 12
// and writes 4 instead of 8), but its error grows with K (measured 2.4e-7·A_i at
// K = 20 up to 8.4e-7·A_i at K = 10^4, with 70 to 98% of elements off the correctly
// rounded mean) and depends on arrival order, so a rerun of a round would not
// reproduce the model. Both folds are bound by memory reads, not arithmetic; the
// float64 one folds about 10 GB/s of update bytes on the development machine,
// several times faster than an update arrives over gRPC (bench/RESULTS.md).
//
// A moved-from WeightedMean is empty: size() and count() are 0.
//
// Not thread-safe: give each thread its own WeightedMean and merge them.
#ifndef EQUIFL_AGGREGATION_WEIGHTED_MEAN_H_
#define EQUIFL_AGGREGATION_WEIGHTED_MEAN_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace equifl::aggregation {

class WeightedMean {
 public:
  //! An empty aggregate of vectors of `size` elements (its accumulator, 8 bytes
  //! per element, is allocated and zeroed here).
  explicit WeightedMean(size_t size);

  WeightedMean(WeightedMean&& other) noexcept;
  WeightedMean& operator=(WeightedMean&& other) noexcept;
  WeightedMean(const WeightedMean&) = delete;
  WeightedMean& operator=(const WeightedMean&) = delete;

  //! Folds `weight`·`update` into the sum. `weight` must be finite and > 0 and
  //! `update` must have size() finite elements; otherwise returns InvalidArgument
  //! saying what is wrong. A refused update with a non-finite value is taken out
  //! again, which leaves the sum as it was up to one float64 rounding per element
  //! (the bound above then holds with K counting the refused update).
  absl::Status Accumulate(double weight, std::span<const float> update);

  //! Folds several updates in one pass over the accumulator: the same sum, bit for
  //! bit, as calling Accumulate for each in order (each element adds
  //! weights[0]·x_0, then weights[1]·x_1, ... in float64), but reading and writing
  //! the accumulator once instead of once per update, which is what bounds the
  //! fold (bench/RESULTS.md). Takes 1 to kMaxBatch updates. On a bad weight or size
  //! nothing is folded; an update with a non-finite value is refused as by
  //! Accumulate and the others are still folded; the error names the refused
  //! updates by their index in the batch.
  static constexpr size_t kMaxBatch = 8;
  absl::Status AccumulateBatch(std::span<const double> weights,
                               std::span<const std::span<const float>> updates);

  //! Adds `other`'s updates to this aggregate, as if each had been accumulated
  //! here; `other` is left empty. InvalidArgument if the sizes differ or `other`
  //! is this aggregate.
  absl::Status MergeWith(WeightedMean&& other);

  //! The weighted mean, Σ w_k·x_k / Σ w_k, rounded to float32. FailedPrecondition
  //! if nothing was accumulated; OutOfRange if the weighted sum overflowed (weights
  //! near the float64 maximum).
  absl::StatusOr<std::vector<float>> Report() &&;

  //! Elements per update.
  size_t size() const { return sum_.size(); }
  //! Updates accumulated, including those merged in.
  uint64_t count() const { return count_; }
  //! Σ w_k over the accumulated updates.
  double total_weight() const { return total_weight_; }

 private:
  std::vector<double> sum_;  //!< Σ w_k·x_k, element by element.
  double total_weight_ = 0;  //!< Σ w_k.
  uint64_t count_ = 0;       //!< Number of updates in the sums.
};

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_WEIGHTED_MEAN_H_
