// The statistics the fairness engine works from: per (cell, group) sums of
// per-sample losses, sample counts and confusion counts.
//
// A cell is one language and one modality view (docs/ARCHITECTURE.md, "The federated
// MinMaxGAP objective"), optionally one client. Clients report sums, never means,
// so tables from many clients add up exactly (also inside a secure-aggregation
// sum) and every per-group quantity of the federation can be recomputed from them.
// Plain data: no LibTorch, no protobuf.
#ifndef EQUIFL_FAIRNESS_GROUP_STATISTICS_H_
#define EQUIFL_FAIRNESS_GROUP_STATISTICS_H_

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace equifl::fairness {

//! The modality view of every modality together, the fused model's: the view in
//! which every sample is counted once.
inline constexpr char kFusionView[] = "fusion";

//! Where samples sit in the objective.
struct Cell {
  std::string language;  //!< e.g. "en"; empty when the run has no language axis.
  std::string modality;  //!< Modality view: kFusionView, or one modality ("video", ...).
  std::string client;    //!< Client id when kept per client; empty otherwise.

  auto operator<=>(const Cell&) const = default;
};

//! "language/modality", with "/client" when kept per client ("-" for no language).
std::string CellName(const Cell& cell);

//! The finite number after `prefix` in a view named like "fusion@T=1.25" (the
//! derived views of calibration and model selection); nullopt when `view` does not
//! start with `prefix` or the rest is not a finite number.
std::optional<double> NumberAfterPrefix(std::string_view view, std::string_view prefix);

//! The variance of the zero-mean noise each sum of a GroupStatistics carries:
//! differential privacy's Gaussian noise (aggregation/privacy/statistics_privacy.h),
//! zero for exact sums. Noise of independent tables adds up, so sums add these too,
//! and every interval computed from the sums widens by them.
struct SumNoise {
  double count = 0;            //!< Of the sample count.
  double loss_sum = 0;         //!< Of the loss sum.
  double loss_square_sum = 0;  //!< Of the sum of squared losses.
  double confusion = 0;        //!< Of each confusion count.

  bool any() const { return count > 0 || loss_sum > 0 || loss_square_sum > 0 || confusion > 0; }
};

//! Sums over the samples of one group in one cell.
struct GroupStatistics {
  double loss_sum = 0;       //!< Sum of per-sample task losses.
  uint64_t count = 0;        //!< Samples.
  uint32_t num_classes = 0;  //!< C; 0 when no confusion counts were kept.
  //! C x C counts, row-major: confusion[true_class * C + predicted_class]; empty
  //! when num_classes is 0.
  std::vector<uint64_t> confusion;
  //! Sum of the squared per-sample losses: with loss_sum and count, the spread of
  //! the group's losses, so the server can say how precisely it knows the mean.
  double loss_square_sum = 0;
  //! The noise the sums carry (variances); zero unless privacy noise was added.
  SumNoise noise = {};

  //! loss_sum / count; 0 for an empty group.
  double mean_loss() const { return count == 0 ? 0.0 : loss_sum / static_cast<double>(count); }
};

//! The groups of one cell, by group name.
using GroupsOfCell = std::map<std::string, GroupStatistics>;

//! Every (cell, group) of a split, cells and groups in sorted order.
using StatisticsTable = std::map<Cell, GroupsOfCell>;

//! Adds `addend` into `sum` (loss sums and square sums, counts, confusion counts, noise).
//! Fails, changing nothing, when both carry confusion counts for different numbers
//! of classes, a confusion vector does not have num_classes^2 entries, or the
//! addend's loss sum or square sum is negative or not finite (a sum of
//! cross-entropies is neither).
absl::Status AddInto(GroupStatistics& sum, const GroupStatistics& addend);

//! Adds every (cell, group) of `addend` into `sum`; fails, changing nothing, like
//! AddInto.
absl::Status AddInto(StatisticsTable& sum, const StatisticsTable& addend);

//! The error AddInto(sum, addend) would return, without adding: for callers that
//! add to several tables all or nothing.
absl::Status CheckAddable(const StatisticsTable& sum, const StatisticsTable& addend);

//! The cells of `table` with the client part of the key cleared, summed: the
//! federation-wide table of a run that keeps statistics per client. Confusion
//! counts that disagree on the number of classes with the first ones pooled are
//! left out (ValidateTable in fairness/metrics.h reports them).
StatisticsTable WithoutClients(const StatisticsTable& table);

//! `table` with every cell keyed by `client`: one client's statistics as cells of
//! their own (fairness.per_client_cells).
StatisticsTable WithClient(const StatisticsTable& table, const std::string& client);

//! The cells of `table` whose modality view is one of `views`.
StatisticsTable OfViews(const StatisticsTable& table, const std::vector<std::string>& views);

//! Pools the cells of one modality view over languages (and clients): group ->
//! sums over every cell whose modality is `modality`.
GroupsOfCell PoolModality(const StatisticsTable& table, const std::string& modality);

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_GROUP_STATISTICS_H_
