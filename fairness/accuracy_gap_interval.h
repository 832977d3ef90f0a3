// Confidence intervals for accuracies and the accuracy gap between groups, from
// confusion counts alone (so they stay sums of client statistics, also under secure
// aggregation). Wilson's score interval per group and Newcombe's hybrid score
// interval (his method 10, Statistics in Medicine 1998) for the difference between
// the cell's most and least accurate groups. Choosing those two groups from the same
// data makes the point gap biased upwards; the interval describes the difference of
// the two groups named, at the stated confidence.
#ifndef EQUIFL_FAIRNESS_ACCURACY_GAP_INTERVAL_H_
#define EQUIFL_FAIRNESS_ACCURACY_GAP_INTERVAL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "fairness/group_statistics.h"

namespace equifl::fairness {

struct ProportionInterval {
  double estimate = 0;
  double lower = 0;
  double upper = 0;
};

//! Wilson's score interval for `successes` of `trials` at normal quantile `z`;
//! [0, 1] with estimate 0 when there are no trials.
ProportionInterval WilsonInterval(uint64_t successes, uint64_t trials, double z);

//! The standard normal quantile Φ⁻¹(p), p in (0, 1).
double NormalQuantile(double p);

//! The two-sided z that keeps `comparisons` intervals at `confidence` together
//! (Bonferroni): Φ⁻¹(1 − (1 − confidence) / (2 · comparisons)).
double SimultaneousZ(double confidence, size_t comparisons);

//! A group's accuracy from its confusion counts (right predictions of the samples
//! counted there) with Wilson's interval at `z`; nullopt when it kept no confusion
//! counts, or they do not have num_classes² entries, or count no sample.
std::optional<ProportionInterval> GroupAccuracy(const GroupStatistics& group, double z);

struct AccuracyGapInterval {
  std::string best_group;  //!< The most accurate group (first in name order on ties).
  //! The least accurate of the other groups (first in name order on ties), so
  //! never best_group.
  std::string worst_group;
  double gap = 0;    //!< accuracy(best) − accuracy(worst), in [0, 1].
  double lower = 0;  //!< Newcombe's interval for that difference.
  double upper = 0;
};

//! The accuracy gap of a cell's groups with confusion counts; nullopt when fewer
//! than two groups have samples with confusion counts.
std::optional<AccuracyGapInterval> CellAccuracyGap(const GroupsOfCell& groups, double z);

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_ACCURACY_GAP_INTERVAL_H_
