// The group statistics of a round, summed over the clients that reported them.
//
// Adds tables (fairness/group_statistics.h) all or nothing, so one client's bad
// statistics never leave half a contribution behind, and reads the totals every
// log line and history row shows: samples, mean loss and accuracy of the view in
// which every sample is counted once (kFusionView; cells without a view count
// too).
#ifndef EQUIFL_FAIRNESS_STATISTICS_SUM_H_
#define EQUIFL_FAIRNESS_STATISTICS_SUM_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "fairness/group_statistics.h"

namespace equifl::fairness {

class StatisticsSum {
 public:
  //! Adds one client's statistics. Fails, adding nothing, like AddInto: a bad
  //! confusion shape, a loss sum that is negative or not finite, or a number of
  //! classes that disagrees with what was added before.
  absl::Status Add(const StatisticsTable& statistics);
  //! The error Add would return, without adding.
  absl::Status CheckAdd(const StatisticsTable& statistics) const;

  //! Samples over every group of the fusion view's cells.
  uint64_t samples() const;
  //! Mean loss per sample of those cells; 0 when there are no samples.
  double mean_loss() const;
  //! Share of those cells' samples predicted right, from the confusion counts;
  //! nullopt when none carried confusion counts.
  std::optional<double> accuracy() const;

  //! The sums, cells and groups in sorted order.
  const StatisticsTable& table() const { return table_; }

 private:
  StatisticsTable table_;
};

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_STATISTICS_SUM_H_
