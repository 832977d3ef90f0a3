// Confidence intervals for accuracies and for the gaps between groups that come from
// confusion counts alone (so they stay sums of client statistics, also under secure
// aggregation):
//   - per group, Wilson's score interval for its accuracy;
//   - the accuracy gap (most against least accurate group) and the equal-opportunity
//     gap (the largest difference of true-positive rates), Newcombe's hybrid score
//     interval (his method 10, Statistics in Medicine 1998);
//   - the macro-F1 gap, a normal interval whose deviation comes from the posterior of
//     the two groups' confusion proportions (Dirichlet, half a count added to every
//     entry). It covers at about the stated rate from some 30 samples per group with
//     three classes and is too narrow below (85% for a 95% interval at 12).
// Choosing the two groups (and the class) from the same data makes a point gap biased
// upwards; an interval describes the difference of the two groups named. Counts that
// carry privacy noise (GroupStatistics::noise) widen each proportion's interval on
// both sides, in quadrature, by z times the deviation the noise gives it (first
// order), and join the macro-F1 posterior draws as normal deviations.
#ifndef EQUIFL_FAIRNESS_ACCURACY_GAP_INTERVAL_H_
#define EQUIFL_FAIRNESS_ACCURACY_GAP_INTERVAL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "fairness/group_statistics.h"
#include "fairness/metrics.h"

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

//! A gap between two groups of a cell, with its interval.
struct GroupGapInterval {
  std::string best_group;  //!< The group with the highest value (first in name order on ties).
  //! The group with the lowest value of the others (first in name order on ties), so
  //! never best_group.
  std::string worst_group;
  double gap = 0;    //!< value(best) − value(worst), in [0, 1].
  double lower = 0;  //!< The interval for that difference.
  double upper = 0;
};

//! The accuracy gap of a cell's groups with confusion counts; nullopt when fewer
//! than two groups have samples with confusion counts.
std::optional<GroupGapInterval> CellAccuracyGap(const GroupsOfCell& groups, double z);

//! The gap of true-positive rates TPR_g(c) = TP / row_g(c) of class `label` among
//! the cell's groups with row_g(c) > 0; nullopt when fewer than two have any.
std::optional<GroupGapInterval> CellTruePositiveRateGap(const GroupsOfCell& groups, uint32_t label,
                                                        double z);

//! The gap of false-positive rates of class `label` (the share of a group's samples
//! of other classes predicted as `label`), like CellTruePositiveRateGap.
std::optional<GroupGapInterval> CellFalsePositiveRateGap(const GroupsOfCell& groups, uint32_t label,
                                                         double z);

//! The equal-opportunity gap of a cell (metrics.h): over the classes, the largest
//! gap of true-positive rates TPR_g(c) = TP / row_g(c) among the groups with
//! row_g(c) > 0, the first class on ties.
struct EqualOpportunityGapInterval {
  uint32_t label = 0;      //!< The class c whose gap is the largest.
  GroupGapInterval rates;  //!< The TPR gap of c with Newcombe's interval.
};

//! The cell's equal-opportunity gap; nullopt when no class has two groups with
//! samples of it.
std::optional<EqualOpportunityGapInterval> CellEqualOpportunityGap(const GroupsOfCell& groups,
                                                                   double z);

//! The macro-F1 gap of a cell's groups with confusion counts (metrics.h's MacroF1),
//! ± z posterior standard deviations (from `draws` draws, seeded, so a report is
//! reproducible), clamped to [−1, 1]; nullopt as for CellAccuracyGap.
std::optional<GroupGapInterval> CellMacroF1Gap(const GroupsOfCell& groups, double z,
                                               int draws = 1000);

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_ACCURACY_GAP_INTERVAL_H_
