// A round gathered in the clear, for a trusted aggregator: the updates combined by
// the run's rule (aggregation/aggregation_rule.h) and the statistics summed.
//
// Under the weighted mean, accepted updates wait in their scratch buffers until a
// batch of `fold_batch` is full, then are folded in one pass over a streaming
// mean (aggregation/weighted_mean.h); what is left is folded at Report. Buffers
// go back to their pool once folded, so the server's memory stays at the model
// times (2 + pool capacity) however many clients report; with fold_batch at most
// the pool's capacity a full batch always folds, so uploads waiting for a buffer
// never deadlock. A fold that fails (it cannot for inputs the service checked)
// poisons the round: Report returns the failure instead of a mean that silently
// lacks updates.
//
// Under the trimmed mean or the median every update is held until Report
// (aggregation/coordinate_wise_aggregate.h): its values move out of the scratch
// buffer, which goes back to the pool at once. An update that would take the held
// updates past memory_limit_mb is refused and fails the round, rather than leave
// a robust aggregate of whichever clients came first.
//
// With a norm bound, each update longer than it is scaled down to it before it
// is weighted (aggregation/privacy/client_level_privacy.h's ClipToNorm).
#ifndef EQUIFL_SERVER_PLAIN_ACCUMULATOR_H_
#define EQUIFL_SERVER_PLAIN_ACCUMULATOR_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "aggregation/aggregation_rule.h"
#include "aggregation/coordinate_wise_aggregate.h"
#include "aggregation/privacy/statistics_privacy.h"
#include "aggregation/weighted_mean.h"
#include "server/round_accumulator.h"
#include "server/scratch_pool.h"

namespace equifl::server {

struct PlainAccumulatorOptions {
  uint64_t round_id = 0;
  size_t model_size = 0;  //!< Values per update; 0 for an evaluation round (no updates).
  size_t fold_batch = 1;  //!< Updates folded together, 1 to WeightedMean::kMaxBatch.
  //! Client-level DP: report the sum of the (clipped, weight-1) updates, not their
  //! mean; the mean rule only (RobustAggregationOptions refuses the others with DP).
  bool sum_updates = false;
  //! Client-level DP: refuse statistics off `statistics_grid` and bound each
  //! input's of each split to these before adding them
  //! (aggregation/privacy/statistics_privacy.h); the round loop noises the sums.
  std::optional<aggregation::StatisticsPrivacyOptions> statistics_bound;
  aggregation::StatisticsLayout statistics_grid;
  //! Keep each client's validation statistics and training-set size (FairFed).
  bool keep_client_statistics = false;
  //! Key every cell of an input's statistics by the sender's id
  //! (fairness.per_client_cells), so each client's cells stay apart in the sums.
  bool per_client_cells = false;
  //! The rule, the norm bound and the robust rules' memory limit.
  aggregation::RobustAggregationOptions aggregation;
  //! Threads that compute a robust rule's report; 0: one per core.
  unsigned report_threads = 0;
};

class PlainAccumulator final : public RoundAccumulator {
 public:
  explicit PlainAccumulator(const PlainAccumulatorOptions& options);

  absl::StatusOr<std::vector<std::string>> AwaitSetup() override {
    return std::vector<std::string>{};
  }
  absl::Status Accumulate(ClientInput input) override;
  absl::Status MergeWith(RoundAccumulator&& other) override;
  absl::StatusOr<RoundAggregate> Report() && override;
  void Cancel() override {}

 private:
  //! An accepted update waiting for its batch to be folded.
  struct PendingUpdate {
    double weight = 0;
    ScratchPool<float>::Buffer values;  //!< Goes back to its pool once folded.
  };

  //! Whether both tables can be added to the round's sums (AddInto's checks).
  absl::Status CheckStatisticsLocked(const fairness::StatisticsTable& train,
                                     const fairness::StatisticsTable& validation) const
      ABSL_SHARED_LOCKS_REQUIRED(mutex_);
  //! Adds a feature-moments round's moments to the round's sum; fails, adding
  //! nothing, on moments of another length than the earlier ones.
  absl::Status AddMomentsLocked(std::span<const double> moments)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  //! Adds both tables, which CheckStatisticsLocked accepted.
  absl::Status AddStatisticsLocked(const fairness::StatisticsTable& train,
                                   const fairness::StatisticsTable& validation)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  //! Folds the pending updates into the mean and gives their buffers back; a
  //! failure is kept for Report.
  void FoldPendingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  //! Robust rules: holds `update`, which the round's memory limit must leave room
  //! for (otherwise the round fails).
  absl::Status HoldLocked(double weight, std::vector<float>& update)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  //! The streaming mean, or the updates held for a robust rule.
  using Updates = std::variant<aggregation::WeightedMean, aggregation::CoordinateWiseAggregate>;

  const PlainAccumulatorOptions options_;
  absl::Mutex mutex_;
  Updates updates_ ABSL_GUARDED_BY(mutex_);
  std::vector<PendingUpdate> pending_ ABSL_GUARDED_BY(mutex_);
  //! A failed fold, an update past the memory limit or a rule that cannot be made.
  absl::Status fold_failure_ ABSL_GUARDED_BY(mutex_);
  RoundAggregate aggregate_ ABSL_GUARDED_BY(mutex_);  //!< All but the update.
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_PLAIN_ACCUMULATOR_H_
