// A fairness report of one split: every metric of metrics.h over a StatisticsTable, as a
// struct, as JSON and as a plain-text table for a terminal.
//
// JSON schema (ToJson / ToJsonText); keys are stable, numbers are never NaN or infinite:
// {
//   "main_view": "fusion",                 // the view `overall` describes
//   "main_view_found": true,               // false: `overall` pools every cell instead
//   "overall": <slice>,
//   "views": {"<view>": <slice>, ...},     // every modality view, pooled over languages
//   "cells": [                             // every cell of the table, in table order
//     {"language": "en", "modality": "fusion", "client": "", "loss_gap": 0.1,
//      "loss_gap_bounds": {"bias_corrected": 0.06, "lower": 0, "upper": 0.3,
//                          "worst_group": "f", "best_group": "m"},  // null: < 2 groups
//                                                                   // of >= 2 samples
//      "accuracy_gap": {"value": 0.1, "lower": -0.2, "upper": 0.4,   // null: < 2 groups
//                       "best_group": "m", "worst_group": "f"},       // with confusion
//      "macro_f1_gap": {...},                 // as accuracy_gap
//      "equal_opportunity_gap": {..., "label": "angry"},  // null: no class with 2 groups
//      "groups": {"<group>": {"count": 10, "mean_loss": 0.5, "standard_error": 0.2,
//                             "accuracy": {"value": 0.7, "lower": 0.4, "upper": 0.9}},
//                 ...}}, ...],                           // accuracy null: no confusion
//   "min_max_gap": {"value": 0.1, "cell": {"language": "en", "modality": "fusion",
//                                          "client": ""},
//                   "bias_corrected": 0.06, "lower": 0, "upper": 0.3, "confidence": 0.95,
//                   "groups_without_spread": ["f in en/fusion", ...]},
//   "bound": {"metric": "loss_gap", "epsilon": 0.3, "unit": "nats",  // or "points"
//             "description": "MinMaxGAP <= 0.3 nats", "confidence": 0.95,
//             "estimate": 0.1, "lower": 0, "upper": 0.3,   // in the unit
//             "verdict": "undetermined",                   // or "held", "violated"
//             "verdict_text": "undetermined: needs about 1200 samples per ...",
//             "deciding": "cell en/fusion", "samples_needed": 1200},
//   "msfd": {"<view>": 0.05, ...},
//   "afi": 0.05
// }
// <slice> = {
//   "num_classes": 5, "count": 120, "confusion_count": 120,
//   "accuracy": 0.7, "macro_f1": 0.65,
//   "worst_group": "f", "worst_group_accuracy": 0.6,
//   "statistical_parity_difference": {"mean": .., "max": .., "per_class": [..]},
//   "disparate_impact": {"mean": .., "min": .., "per_class": [..]},
//   "equal_opportunity_difference": {"mean": .., "max": .., "per_class": [..]},
//   "equalized_odds_difference": {"mean": .., "max": .., "per_class": [..]},
//   "f1_gap": .., "loss_gap": ..,
//   "groups": {"<group>": {"count": .., "mean_loss": .., "confusion_count": ..,
//                          "accuracy": .., "macro_f1": ..}, ...}
// }
// Every value means what the same-named member of SliceMetrics / FairnessReport /
// LossGapBounds (loss_gap_bounds.h) / BoundJudgement (stated_bound.h) means.
#ifndef EQUIFL_FAIRNESS_FAIRNESS_REPORT_H_
#define EQUIFL_FAIRNESS_FAIRNESS_REPORT_H_

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fairness/accuracy_gap_interval.h"
#include "fairness/group_statistics.h"
#include "fairness/loss_gap_bounds.h"
#include "fairness/metrics.h"
#include "fairness/stated_bound.h"

namespace equifl::fairness {

//! One group's loss in one cell.
struct GroupLoss {
  uint64_t count = 0;         //!< Samples.
  double mean_loss = 0;       //!< loss_sum / count; 0 when count is 0.
  double standard_error = 0;  //!< Of mean_loss; 0 with fewer than two samples.
  //! Accuracy with Wilson's interval, at the confidence of its cell's accuracy gap;
  //! absent without confusion counts.
  std::optional<ProportionInterval> accuracy;
};

//! The loss gap of one cell and the group losses it comes from, and its accuracy gap.
struct CellLossGap {
  Cell cell;            //!< As keyed in the table.
  double loss_gap = 0;  //!< LossGap of the cell.
  //! Its bounds; absent without two groups of at least two samples.
  std::optional<CellLossGapBounds> bounds;
  //! The accuracy gap with Newcombe's interval at the bounds' confidence, held
  //! together over the cells that have one (Bonferroni); absent without two groups
  //! with confusion counts.
  std::optional<GroupGapInterval> accuracy_gap;
  //! The macro-F1 and equal-opportunity gaps with their intervals, each held
  //! together over the cells that have one, like accuracy_gap.
  std::optional<GroupGapInterval> macro_f1_gap;
  std::optional<EqualOpportunityGapInterval> equal_opportunity_gap;
  std::map<std::string, GroupLoss> groups;  //!< Every group of the cell.
};

//! Every fairness metric of one split.
struct FairnessReport {
  std::string main_view;         //!< The view `overall` describes.
  bool main_view_found = false;  //!< False: the table had no cell of main_view.
  //! The main view pooled over languages and clients; every cell pooled when
  //! main_view_found is false.
  SliceMetrics overall;
  std::map<std::string, SliceMetrics> views;  //!< Each view pooled over languages, clients.
  std::vector<CellLossGap> cells;             //!< Every cell of the table, in table order.
  MinMaxGapResult min_max_gap;                //!< MinMaxGap of the table.
  //! BoundLossGaps of the table; its verdict is the bound's only when the bound
  //! is on the loss gap (otherwise it is judged against ε = 0).
  LossGapBounds loss_gap_bounds;
  BoundJudgement bound;                //!< The verdict on the stated bound.
  std::map<std::string, double> msfd;  //!< ModalityDisparities of the table.
  double afi = 0;                      //!< AggregateFairnessIndex of msfd.
};

//! Builds the report of `table`, with its cells as keyed (pass WithoutClients(table) for
//! federation-wide cells). `afi_weights` are AggregateFairnessIndex's weights (empty:
//! uniform); `bound` the stated bound judged and the confidence of every interval. Fails with
//! InvalidArgument when confusion counts are malformed or disagree on the number of
//! classes within a view (or, when main_view is absent, across the table), when a
//! weight is negative or non-finite, or when `bound` is out of range.
absl::StatusOr<FairnessReport> BuildFairnessReport(
    const StatisticsTable& table, const std::string& main_view = kFusionView,
    const std::map<std::string, double>& afi_weights = {}, const StatedBound& bound = {});

//! The report as JSON, in the schema at the top of this file. Include
//! <nlohmann/json.hpp> to use the result.
nlohmann::json ToJson(const FairnessReport& report);

//! ToJson(report) serialized; `indent` < 0 gives one line.
std::string ToJsonText(const FairnessReport& report, int indent = 2);

//! A plain-text table for a terminal: the overall metrics, the MinMaxGAP with its
//! bounds, the stated bound's verdict, per-group loss, accuracy and macro-F1, per-view metrics with
//! MSFD, and the cells' groups (mean loss ± standard error), loss gap with its
//! bounds and accuracy gap with its interval. Past kMaxTableCells cells (per-client
//! cells of a large federation), only the cells with the largest loss gaps are
//! listed and a line counts the rest, which ToJson always holds.
std::string FormatTable(const FairnessReport& report);

//! The most cells FormatTable lists.
inline constexpr size_t kMaxTableCells = 30;

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_FAIRNESS_REPORT_H_
