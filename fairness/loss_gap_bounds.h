// How precisely a statistics table knows its loss gaps, and whether the bound
// MinMaxGAP ≤ ε holds, from sums alone (so it works on the sums secure aggregation
// returns): each group's loss sum, sum of squared losses and count give its mean
// loss m and standard error se = √(s²/n), s² the sample variance of its losses;
// sums that carry privacy noise (GroupStatistics::noise) add its share,
// (Var e_S + m²·Var e_n) / n², to se² (the first-order error of (S + e_S)/(n + e_n)).
//
// A cell's gap is max − min of its groups' true mean losses; the MinMaxGAP is the
// largest cell gap. For the groups g, h of a cell, d = m_g − m_h estimates their
// difference without bias, with standard error √(se_g² + se_h²). Then
//   upper(cell) = max over ordered pairs of d + z·√(se_g² + se_h²), z = Φ⁻¹(confidence):
//     the pair whose true difference is the largest is one fixed pair, so the cell's
//     gap and the MinMaxGAP (the largest of the uppers) are each covered at the
//     stated confidence without a correction for the number of cells;
//   lower(cell) = max(0, max over ordered pairs of d − z_K·√(se_g² + se_h²)), z_K with
//     Bonferroni's correction over the K ordered pairs of every cell: every lower
//     bound holds together with the others at the stated confidence, so any cell
//     whose lower bound exceeds ε violates the bound.
// Both rest on the normal approximation of a mean (fine from a few dozen samples
// per group; tests/fairness/loss_gap_bounds_test.cc checks the coverage by
// simulation). The plain gap max_g m_g − min_g m_g is biased upwards (a maximum of
// noisy differences: a perfectly fair model reads a positive gap); the bias-
// corrected gap subtracts the bias a parametric bootstrap measures (means redrawn
// from N(m, se²)): 2·gap − mean(bootstrap gaps), at least 0.
//
// Verdicts: held (the MinMaxGAP's upper bound ≤ ε), violated (some lower bound
// > ε), undetermined otherwise, with the samples per group that would decide it
// if the estimated differences and spreads stayed as they are.
#ifndef EQUIFL_FAIRNESS_LOSS_GAP_BOUNDS_H_
#define EQUIFL_FAIRNESS_LOSS_GAP_BOUNDS_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/enum_names.h"
#include "fairness/group_statistics.h"

namespace equifl::fairness {

struct LossGapBoundOptions {
  double epsilon = 0.02;     //!< The bound ε on the MinMaxGAP, in nats.
  double confidence = 0.95;  //!< Of every bound, in (0, 1).
  //! Redraws of the parametric bootstrap behind the bias-corrected gaps.
  uint32_t bootstrap_draws = 2000;
  uint64_t bootstrap_seed = 20261204;  //!< Same table and seed, same gaps.

  //! OK, or which option is out of range.
  absl::Status Validate() const;
};

//! The mean loss of one group in one cell and how precisely it is known.
struct GroupLossEstimate {
  uint64_t count = 0;
  double mean = 0;            //!< loss_sum / count.
  double deviation = 0;       //!< s: the sample standard deviation of the losses.
  double standard_error = 0;  //!< s / √count.
};

//! The estimate of a group with at least two samples; a group with fewer has no
//! spread, and a sum of squares below (loss sum)²/count (rounding, or a client that
//! did not report them) reads as deviation 0.
GroupLossEstimate EstimateGroupLoss(const GroupStatistics& group);

//! The bounds on one cell's gap, over its groups with at least two samples.
struct CellLossGapBounds {
  Cell cell;
  std::string worst_group;    //!< Highest mean loss.
  std::string best_group;     //!< Lowest mean loss.
  double gap = 0;             //!< m(worst) − m(best).
  double bias_corrected = 0;  //!< The gap less its bootstrap bias, at least 0.
  double lower = 0;           //!< Simultaneous with every cell's lower bound.
  double upper = 0;           //!< At the stated confidence.
};

enum class BoundVerdict { kHeld, kViolated, kUndetermined };

//! "held", "violated" and "undetermined", in reports and the run history.
inline std::span<const EnumName<BoundVerdict>> EnumNames(BoundVerdict) {
  static constexpr EnumName<BoundVerdict> kNames[] = {
      {BoundVerdict::kHeld, "held"},
      {BoundVerdict::kViolated, "violated"},
      {BoundVerdict::kUndetermined, "undetermined"}};
  return kNames;
}

//! NameOf(verdict) as a C string, for JSON and SQLite.
const char* VerdictName(BoundVerdict verdict);

//! The bounds of a whole table (cells as keyed).
struct LossGapBounds {
  double epsilon = 0;
  double confidence = 0;
  //! Cells with at least two groups of at least two samples, in table order.
  std::vector<CellLossGapBounds> cells;
  double gap = 0;             //!< The largest cell gap: the plain MinMaxGAP.
  double bias_corrected = 0;  //!< The MinMaxGAP less its bootstrap bias, at least 0.
  double lower = 0;           //!< The largest cell lower bound.
  double upper = 0;           //!< The largest cell upper bound.
  BoundVerdict verdict = BoundVerdict::kUndetermined;
  //! The cell behind the verdict: held, the largest upper bound's; violated, the
  //! largest lower bound's; undetermined, where more samples would settle it.
  Cell deciding_cell;
  //! Undetermined only: about how many samples per group (in each group of the
  //! pair that decides) would settle the verdict in `deciding_cell`; 0 when no
  //! sample size can (a difference estimated exactly at ε) or no cell has a gap.
  uint64_t samples_needed = 0;
  //! Groups left out for having a single sample, as "group in (language, view)".
  std::vector<std::string> groups_without_spread;
};

//! The bounds of `table`; options must be valid (Validate).
LossGapBounds BoundLossGaps(const StatisticsTable& table, const LossGapBoundOptions& options);

//! One line: the verdict and the bound behind it, e.g. "undetermined: needs about
//! 12000 samples per group in cell en/fusion".
std::string DescribeVerdict(const LossGapBounds& bounds);

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_LOSS_GAP_BOUNDS_H_
