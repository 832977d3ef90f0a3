// The fairness bound a user states (`fairness.bound` in the configuration) and the
// verdict every report gives on it: held, violated or undetermined, from the
// intervals of loss_gap_bounds.h and accuracy_gap_interval.h. The metrics:
//   loss_gap               MinMaxGAP ≤ ε nats: the largest gap of mean loss between
//                          the groups of a (language, view) cell
//   accuracy_gap           every cell's accuracy gap ≤ ε points
//   equal_opportunity_gap  every cell's equal-opportunity gap ≤ ε points
//   worst_group_accuracy   every group's accuracy ≥ ε points, in the report's main
//                          view pooled over languages and clients
// Gaps are judged by the simultaneous intervals of their cells (held: every upper
// bound ≤ ε; violated: some lower bound > ε); worst-group accuracy by Wilson's
// intervals of the groups, held together over them.
#ifndef EQUIFL_FAIRNESS_STATED_BOUND_H_
#define EQUIFL_FAIRNESS_STATED_BOUND_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/enum_names.h"
#include "fairness/accuracy_gap_interval.h"
#include "fairness/group_statistics.h"
#include "fairness/loss_gap_bounds.h"
#include "fairness/metrics.h"

namespace equifl::fairness {

enum class BoundMetric { kLossGap, kAccuracyGap, kEqualOpportunityGap, kWorstGroupAccuracy };

//! "loss_gap", "accuracy_gap", "equal_opportunity_gap", "worst_group_accuracy".
inline std::span<const EnumName<BoundMetric>> EnumNames(BoundMetric) {
  static constexpr EnumName<BoundMetric> kNames[] = {
      {BoundMetric::kLossGap, "loss_gap"},
      {BoundMetric::kAccuracyGap, "accuracy_gap"},
      {BoundMetric::kEqualOpportunityGap, "equal_opportunity_gap"},
      {BoundMetric::kWorstGroupAccuracy, "worst_group_accuracy"},
  };
  return kNames;
}

struct StatedBound {
  BoundMetric metric = BoundMetric::kLossGap;
  //! In nats for loss_gap, in points (0 to 100) for the others. The default is
  //! what a model with equal groups can be shown to meet from about 225
  //! validation samples per group and cell (deploy/config/example.yaml says why).
  double epsilon = 0.4;
  double confidence = 0.95;  //!< Of every interval behind the verdict, in (0, 1).

  //! OK, or what is out of range and what is allowed.
  absl::Status Validate() const;
  //! E.g. "MinMaxGAP <= 0.3 nats", "accuracy gap <= 10 points".
  std::string Describe() const;
};

//! A verdict on a stated bound, with the interval it rests on.
struct BoundJudgement {
  StatedBound bound;
  //! The metric (worst cell's gap, or worst group's accuracy) and its interval,
  //! in the bound's unit (nats or points); lower/upper hold together over the
  //! cells or groups.
  double estimate = 0;
  double lower = 0;
  double upper = 0;
  BoundVerdict verdict = BoundVerdict::kUndetermined;
  std::string deciding;  //!< The cell (or group) that decides; empty when none does.
  //! Undetermined only: about how many samples per group in `deciding` would settle
  //! it (from how the interval narrows with samples); 0 when no size can.
  uint64_t samples_needed = 0;
  std::string text;  //!< The verdict in a sentence, for reports.
};

//! The loss-gap bound judged from BoundLossGaps's result, computed at the same ε.
BoundJudgement JudgeLossGap(const LossGapBounds& bounds, const StatedBound& bound);

//! One cell's gap in points between two groups, and the smaller group's samples.
struct CellGroupGap {
  Cell cell;
  GroupGapInterval interval;
  uint64_t samples = 0;
};

//! An accuracy or equal-opportunity bound judged from the cells' simultaneous
//! intervals (fraction units; the judgement is in points).
BoundJudgement JudgeCellGaps(const std::vector<CellGroupGap>& gaps, const StatedBound& bound);

//! A worst-group-accuracy bound judged from the groups of one slice.
BoundJudgement JudgeWorstGroupAccuracy(const std::map<std::string, GroupMetrics>& groups,
                                       const StatedBound& bound);

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_STATED_BOUND_H_
