// Fairness and accuracy metrics computed from per-group statistics (group_statistics.h).
//
// Conventions shared by every metric below (C = number of classes):
// - M_g is group g's C x C confusion matrix, M_g[t][p] = confusion[t * C + p]; n_g is the
//   sum of its entries. The pooled matrix M is the sum of M_g over the groups.
// - A group takes part in the confusion-based metrics when it kept confusion counts
//   (num_classes > 0) and n_g > 0: it is a "non-empty" group there. A group takes part in
//   the loss metrics when count > 0. Groups that kept no confusion counts still count for
//   losses.
// - For class c (one-vs-rest) in group g: TP = M_g[c][c], row_g(c) = sum_p M_g[c][p]
//   (samples whose true class is c), col_g(c) = sum_t M_g[t][c] (samples predicted c).
// - A "gap" of a per-group quantity is max_g - min_g over the groups where it is defined;
//   with fewer than two such groups it is 0. A ratio over fewer than two groups is 1.
// - No metric is ever NaN or infinite: every zero denominator has a documented value.
// Plain C++: no LibTorch, no protobuf.
#ifndef EQUIFL_FAIRNESS_METRICS_H_
#define EQUIFL_FAIRNESS_METRICS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fairness/group_statistics.h"

namespace equifl::fairness {

//! A per-class difference (0 = fair) and its summaries over the C classes.
struct DifferenceOverClasses {
  std::vector<double> per_class;  //!< One value per class; empty when C is 0.
  double mean = 0;                //!< Mean of per_class over all C classes; 0 when C is 0.
  double max = 0;                 //!< Max of per_class; 0 when C is 0.
};

//! A per-class ratio (1 = fair) and its summaries over the C classes.
struct RatioOverClasses {
  std::vector<double> per_class;  //!< One value per class; empty when C is 0.
  double mean = 1;                //!< Mean of per_class over all C classes; 1 when C is 0.
  double min = 1;                 //!< Min of per_class (the worst class); 1 when C is 0.
};

//! The metrics of one group of a slice.
struct GroupMetrics {
  uint64_t count = 0;            //!< Samples (GroupStatistics::count).
  double mean_loss = 0;          //!< loss_sum / count; 0 when count is 0.
  uint64_t confusion_count = 0;  //!< n_g: samples in the confusion counts; 0 without them.
  //! sum_c M_g[c][c] / n_g; 0 when n_g is 0.
  double accuracy = 0;
  //! MacroF1(M_g) (see SliceMetrics::macro_f1); 0 when n_g is 0.
  double macro_f1 = 0;
};

//! The metrics of one slice of data (one cell, or cells pooled), from its groups.
struct SliceMetrics {
  uint32_t num_classes = 0;      //!< C shared by the groups; 0 when none kept confusion counts.
  uint64_t count = 0;            //!< Samples over all groups.
  uint64_t confusion_count = 0;  //!< n = sum_g n_g.
  //! Pooled accuracy: sum_c M[c][c] / n; 0 when n is 0.
  double accuracy = 0;
  //! MacroF1(M): mean over classes c of F1_c = 2 TP / (2 TP + FP + FN) with TP = M[c][c],
  //! FP = col(c) - TP, FN = row(c) - TP; a class absent from both truth and predictions
  //! (2 TP + FP + FN = 0) is skipped; 0 when every class is skipped.
  double macro_f1 = 0;
  //! Per-group metrics, for every group of the slice (empty groups included).
  std::map<std::string, GroupMetrics> groups;
  //! min_g accuracy_g over non-empty groups; 0 when there is none.
  double worst_group_accuracy = 0;
  //! The group attaining worst_group_accuracy (the first in name order on ties); empty
  //! when there is no non-empty group.
  std::string worst_group;
  //! Statistical parity difference, per class c: gap over non-empty groups of
  //! P(pred = c | g) = col_g(c) / n_g.
  DifferenceOverClasses statistical_parity_difference;
  //! Disparate impact ratio, per class c: min_g P(pred = c | g) / max_g P(pred = c | g) over
  //! non-empty groups; 1 when the max is 0 or there are fewer than two non-empty groups.
  RatioOverClasses disparate_impact;
  //! Equal-opportunity difference, per class c: gap of TPR_g(c) = TP / row_g(c) over the
  //! groups with row_g(c) > 0.
  DifferenceOverClasses equal_opportunity_difference;
  //! Equalized-odds difference, per class c: max(TPR gap, FPR gap), where the TPR gap is
  //! the equal-opportunity difference and the FPR gap is the gap of
  //! FPR_g(c) = (col_g(c) - TP) / (n_g - row_g(c)) over the groups with n_g - row_g(c) > 0.
  DifferenceOverClasses equalized_odds_difference;
  //! F1 gap: gap of per-group macro-F1 over non-empty groups.
  double f1_gap = 0;
  //! LossGap(groups): gap of mean loss over the groups with count > 0.
  double loss_gap = 0;
};

//! Computes every metric of the slice made of `groups`. Fails with InvalidArgument, naming
//! the groups, when a group's confusion vector does not have num_classes^2 entries or two
//! groups kept confusion counts for different numbers of classes.
absl::StatusOr<SliceMetrics> ComputeSliceMetrics(const GroupsOfCell& groups);

//! Accuracy of one confusion matrix of `num_classes` classes (num_classes^2 entries):
//! trace / total; 0 when the total is 0.
double Accuracy(const std::vector<uint64_t>& confusion, uint32_t num_classes);

//! Macro-F1 of one confusion matrix, as SliceMetrics::macro_f1 defines it.
double MacroF1(const std::vector<uint64_t>& confusion, uint32_t num_classes);

//! Loss gap of a cell: max_g mean_loss - min_g mean_loss over the groups with count > 0;
//! 0 with fewer than two such groups.
double LossGap(const GroupsOfCell& groups);

//! The MinMaxGAP of a table and the cell attaining it.
struct MinMaxGapResult {
  double value = 0;  //!< max over cells of LossGap; 0 for an empty table.
  //! The first cell in table order whose gap is `value`; a default Cell for an empty table.
  Cell cell;
};

//! MinMaxGAP = max over the cells of `table` of LossGap(cell), cells taken as keyed (with
//! the client part when the table keeps one; pass WithoutClients(table) for the
//! federation-wide cells).
MinMaxGapResult MinMaxGap(const StatisticsTable& table);

//! Checks that every confusion vector of `table` has num_classes^2 entries and that all
//! groups that kept confusion counts agree on num_classes within each modality view (so
//! PoolModality is safe) or, with `across_views`, across the whole table.
absl::Status ValidateTable(const StatisticsTable& table, bool across_views = false);

//! MSFD (modality-specific fairness disparity) of every modality view of `table`: for view
//! m, the groups pooled over languages and clients (PoolModality), then the gap of
//! per-group accuracy over non-empty groups (0 with fewer than two). Keyed by view name;
//! fails like ValidateTable.
absl::StatusOr<std::map<std::string, double>> ModalityDisparities(const StatisticsTable& table);

//! AFI (aggregate fairness index; 0 = fair, lower is better): the weighted mean of `msfd`
//! over its views, sum_m w_m * msfd_m / sum_m w_m. Empty `weights`: uniform over the views
//! of `msfd`. Otherwise a view missing from `weights` has weight 0 and weights of views
//! missing from `msfd` are ignored. 0 when `msfd` is empty or the weights sum to 0. Fails
//! with InvalidArgument for a negative or non-finite weight or a non-finite MSFD value.
absl::StatusOr<double> AggregateFairnessIndex(const std::map<std::string, double>& msfd,
                                              const std::map<std::string, double>& weights = {});

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_METRICS_H_
