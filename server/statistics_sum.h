// Group statistics summed over the clients of a round.
//
// Clients report, per (cell, group), sums of losses, sample counts and confusion
// counts; sums add across clients without losing anything, so the server can
// recompute every per-group quantity of the whole federation from them (and, with
// secure aggregation, from their masked sum alone).
#ifndef EQUIFL_SERVER_STATISTICS_SUM_H_
#define EQUIFL_SERVER_STATISTICS_SUM_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>

#include "absl/status/status.h"
#include "equifl/v1/aggregator.pb.h"
#include "fairness/group_statistics.h"

namespace equifl::server {

//! The modality view in which every sample is counted once: all modalities.
inline constexpr char kMainView[] = "fusion";

class StatisticsSum {
 public:
  //! Adds one client's statistics. Fails, adding nothing, when a cell's confusion
  //! counts do not match its num_classes or disagree with what was added before.
  absl::Status Add(const v1::GroupStatistics& statistics);

  //! Samples over every cell and group of the main view (kMainView; cells without
  //! a view count too). The aggregates below count those cells only.
  uint64_t samples() const;
  //! Mean loss per sample; 0 when there are no samples.
  double mean_loss() const;
  //! Share of samples predicted right, from the confusion counts; nullopt when no
  //! cell carried confusion counts.
  std::optional<double> accuracy() const;
  //! The sums as the fairness engine's table.
  fairness::StatisticsTable ToTable() const;
  //! The sums as the wire message, cells in a stable order.
  v1::GroupStatistics ToProto() const;

 private:
  using Key = std::tuple<std::string, std::string, std::string, std::string>;
  std::map<Key, v1::GroupCellStatistics> cells_;  //!< By (language, modality, client, group).
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_STATISTICS_SUM_H_
