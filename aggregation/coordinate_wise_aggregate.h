// A round's updates held whole and combined coordinate by coordinate: the weighted
// trimmed mean and the weighted median of aggregation_rule.h.
//
// Definitions. At one coordinate, sort the K clients' values x_(1) <= ... <= x_(K);
// client j holds the weight interval [C_(j-1), C_j] with C_j = w_(1) + ... + w_(j),
// W = C_K. For a trim fraction β the weighted trimmed mean is
//   T = Σ_j x_(j)·|[C_(j-1), C_j] ∩ [βW, (1 − β)W]| / ((1 − 2β)W),
// the mean of the middle 1 − 2β of the weight, a client straddling a cut counting
// with the part of its weight inside. The weighted median is the value at W/2: the
// x_(j) whose interval holds W/2, or, when W/2 is exactly the boundary between two
// different values, their midpoint. With equal weights these are the usual median
// and, when βK is whole, the usual trimmed mean that drops βK values at each end.
//
// Memory: the updates themselves, K × size × 4 bytes (Accumulate moves each in).
// Time: per coordinate a weighted quickselect, expected O(K) (it sorts, O(K log K),
// if partitioning stalls, so no arrangement of values is quadratic) with
// branch-free partitions (which side a value falls on is a coin toss to a branch
// predictor); the trimmed mean selects twice, then sums the kept values in one
// pass. Coordinates are processed in blocks copied into contiguous per-coordinate
// arrays (every update read sequentially), and the blocks are split among
// threads: a coordinate's result depends only on its values, their weights and
// their order of arrival, never on the thread count. bench/RESULTS.md has the
// cost against the weighted mean (median about 20x, trimmed mean about 35x).
//
// Precision: values are compared as float32, weights and sums are float64, and
// each result is rounded once to float32. The median is the exact value (or
// midpoint) so rounded; a trimmed mean is within 2^-24·|T| + (3K + 8)·2^-53·X/(1 − 2β)
// of T, X the largest |x| at that coordinate: the float64 roundings of the kept
// sum and of the weights' partial sums at the two cuts, which follow the order of
// the selection's partitions, not the sorted one. No value outside the kept weight
// enters a sum, so an outlier, however large, cannot cancel the others' digits.
//
// Not thread-safe: give each thread its own aggregate and merge them.
#ifndef EQUIFL_AGGREGATION_COORDINATE_WISE_AGGREGATE_H_
#define EQUIFL_AGGREGATION_COORDINATE_WISE_AGGREGATE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aggregation/aggregation_rule.h"

namespace equifl::aggregation {

class CoordinateWiseAggregate {
 public:
  //! An empty aggregate of updates of `size` values combined by `rule`, which must
  //! be kTrimmedMean (with trim_fraction in (0, 0.5)) or kMedian.
  static absl::StatusOr<CoordinateWiseAggregate> Create(AggregationRule rule, double trim_fraction,
                                                        size_t size);

  CoordinateWiseAggregate(CoordinateWiseAggregate&&) noexcept = default;
  CoordinateWiseAggregate& operator=(CoordinateWiseAggregate&&) noexcept = default;

  //! Takes `update` with `weight`. InvalidArgument, keeping nothing, unless weight
  //! is finite and > 0 and update has size() finite values.
  absl::Status Accumulate(double weight, std::vector<float> update);

  //! Takes `other`'s updates, as if each had been accumulated here after this
  //! aggregate's own; `other` is left empty. InvalidArgument if the rule, trim or
  //! size differ or `other` is this aggregate.
  absl::Status MergeWith(CoordinateWiseAggregate&& other);

  //! The trimmed mean or median of every coordinate, on `threads` threads (0: one
  //! per core). FailedPrecondition if nothing was accumulated; OutOfRange if the
  //! weights' sum overflowed.
  absl::StatusOr<std::vector<float>> Report(unsigned threads = 1) &&;

  //! Values per update.
  size_t size() const { return size_; }
  //! Updates held.
  uint64_t count() const { return updates_.size(); }
  //! Σ w_k over the held updates.
  double total_weight() const { return total_weight_; }
  //! Bytes the held updates take.
  uint64_t held_bytes() const { return count() * size_ * sizeof(float); }

 private:
  CoordinateWiseAggregate(AggregationRule rule, double trim_fraction, size_t size)
      : rule_(rule), trim_fraction_(trim_fraction), size_(size) {}

  AggregationRule rule_;
  double trim_fraction_;  //!< β of the trimmed mean; unused by the median.
  size_t size_;
  std::vector<std::vector<float>> updates_;  //!< In order of arrival.
  std::vector<double> weights_;              //!< weights_[k] is updates_[k]'s.
  double total_weight_ = 0;
};

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_COORDINATE_WISE_AGGREGATE_H_
