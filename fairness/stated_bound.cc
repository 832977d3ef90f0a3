#include "fairness/stated_bound.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace equifl::fairness {
namespace {

// More samples per group than any verdict is worth asking for.
constexpr double kMostSamples = 1e12;

std::string Points(double share) { return absl::StrFormat("%.1f", 100 * share); }

int Percent(double confidence) { return static_cast<int>(std::lround(confidence * 100)); }

// How many samples per group narrow an interval of half-width `half_width`, seen at
// `samples`, to `distance` (half-widths shrink as 1/√n); infinity when distance is 0.
double SamplesToNarrow(uint64_t samples, double half_width, double distance) {
  if (distance <= 0) return std::numeric_limits<double>::infinity();
  const double ratio = half_width / distance;
  return std::ceil(static_cast<double>(std::max<uint64_t>(samples, 1)) * ratio * ratio);
}

uint64_t Needed(double samples) {
  return std::isfinite(samples) ? static_cast<uint64_t>(std::min(samples, kMostSamples)) : 0;
}

std::string Undetermined(const BoundJudgement& judgement, const char* reason_without_samples) {
  if (judgement.deciding.empty()) return absl::StrCat("undetermined: ", reason_without_samples);
  if (judgement.samples_needed == 0) {
    return absl::StrCat("undetermined: the estimate in ", judgement.deciding,
                        " is epsilon itself; no sample size settles it");
  }
  return absl::StrCat("undetermined: needs about ", judgement.samples_needed,
                      " samples per group in ", judgement.deciding);
}

}  // namespace

absl::Status StatedBound::Validate() const {
  if (!IsNamed(metric)) return absl::InvalidArgumentError("fairness.bound.metric is unknown");
  const bool in_points = metric != BoundMetric::kLossGap;
  if (!std::isfinite(epsilon) || epsilon < 0 || (in_points && epsilon > 100)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fairness.bound.epsilon is ", epsilon,
        "; allowed: ", in_points ? "0 to 100 points" : "a finite number of nats, at least 0"));
  }
  if (!(confidence > 0 && confidence < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the bound's confidence is ", confidence, "; allowed: between 0 and 1"));
  }
  return absl::OkStatus();
}

std::string StatedBound::Describe() const {
  switch (metric) {
    case BoundMetric::kLossGap:
      return absl::StrCat("MinMaxGAP <= ", epsilon, " nats");
    case BoundMetric::kAccuracyGap:
      return absl::StrCat("accuracy gap <= ", epsilon, " points in every cell");
    case BoundMetric::kEqualOpportunityGap:
      return absl::StrCat("equal-opportunity gap <= ", epsilon, " points in every cell");
    case BoundMetric::kWorstGroupAccuracy:
      return absl::StrCat("worst-group accuracy >= ", epsilon, " points");
  }
  return "";
}

BoundJudgement JudgeLossGap(const LossGapBounds& bounds, const StatedBound& bound) {
  BoundJudgement judgement;
  judgement.bound = bound;
  judgement.estimate = bounds.gap;
  judgement.lower = bounds.lower;
  judgement.upper = bounds.upper;
  judgement.verdict = bounds.verdict;
  if (!bounds.cells.empty())
    judgement.deciding = absl::StrCat("cell ", CellName(bounds.deciding_cell));
  judgement.samples_needed = bounds.samples_needed;
  judgement.text = DescribeVerdict(bounds);
  return judgement;
}

BoundJudgement JudgeCellGaps(const std::vector<CellGroupGap>& gaps, const StatedBound& bound) {
  BoundJudgement judgement;
  judgement.bound = bound;
  const char* what =
      bound.metric == BoundMetric::kEqualOpportunityGap ? "equal-opportunity gap" : "accuracy gap";
  if (gaps.empty()) {
    judgement.text = absl::StrCat("undetermined: no cell has two groups with samples to compare");
    return judgement;
  }
  const double threshold = bound.epsilon / 100;
  const CellGroupGap* highest_upper = &gaps.front();
  const CellGroupGap* highest_lower = &gaps.front();
  double estimate = 0;
  // The cell that would settle an undetermined verdict: the easiest violation to
  // show when some gap exceeds ε, else the hardest upper bound to bring under it.
  double violation_samples = std::numeric_limits<double>::infinity();
  const CellGroupGap* violation = nullptr;
  double hold_samples = 0;
  const CellGroupGap* hold = nullptr;
  for (const CellGroupGap& gap : gaps) {
    const GroupGapInterval& interval = gap.interval;
    estimate = std::max(estimate, interval.gap);
    if (interval.upper > highest_upper->interval.upper) highest_upper = &gap;
    if (interval.lower > highest_lower->interval.lower) highest_lower = &gap;
    if (interval.gap > threshold) {
      const double samples =
          SamplesToNarrow(gap.samples, interval.gap - interval.lower, interval.gap - threshold);
      if (violation == nullptr || samples < violation_samples) {
        violation_samples = samples;
        violation = &gap;
      }
    } else if (interval.upper > threshold) {
      const double samples =
          SamplesToNarrow(gap.samples, interval.upper - interval.gap, threshold - interval.gap);
      if (hold == nullptr || samples > hold_samples) {
        hold_samples = samples;
        hold = &gap;
      }
    }
  }
  judgement.estimate = 100 * estimate;
  judgement.lower = 100 * std::max(0.0, highest_lower->interval.lower);
  judgement.upper = 100 * highest_upper->interval.upper;
  const int percent = Percent(bound.confidence);
  if (highest_upper->interval.upper <= threshold) {
    judgement.verdict = BoundVerdict::kHeld;
    judgement.deciding = absl::StrCat("cell ", CellName(highest_upper->cell));
    judgement.text =
        absl::StrCat("held: every cell's ", what, " is at most ", bound.epsilon,
                     " points (the largest ", percent, "% upper bound, ",
                     Points(highest_upper->interval.upper), ", in ", judgement.deciding, ")");
    return judgement;
  }
  if (highest_lower->interval.lower > threshold) {
    judgement.verdict = BoundVerdict::kViolated;
    judgement.deciding = absl::StrCat("cell ", CellName(highest_lower->cell));
    judgement.text = absl::StrCat(
        "violated: in ", judgement.deciding, " the ", what, "'s ", percent, "% lower bound ",
        Points(highest_lower->interval.lower), " points exceeds ", bound.epsilon, " (",
        highest_lower->interval.best_group, " vs ", highest_lower->interval.worst_group, ")");
    return judgement;
  }
  const CellGroupGap* deciding = violation != nullptr ? violation : hold;
  if (deciding != nullptr) {
    judgement.deciding = absl::StrCat("cell ", CellName(deciding->cell));
    judgement.samples_needed = Needed(violation != nullptr ? violation_samples : hold_samples);
  }
  judgement.text = Undetermined(judgement, "no cell decides it");
  return judgement;
}

BoundJudgement JudgeWorstGroupAccuracy(const std::map<std::string, GroupMetrics>& groups,
                                       const StatedBound& bound) {
  BoundJudgement judgement;
  judgement.bound = bound;
  size_t judged = 0;
  for (const auto& [name, group] : groups) judged += group.confusion_count > 0;
  if (judged == 0) {
    judgement.text = "undetermined: no group has samples with confusion counts";
    return judgement;
  }
  const double threshold = bound.epsilon / 100;
  const double z = SimultaneousZ(bound.confidence, judged);
  struct Judged {
    const std::string* name;
    uint64_t samples;
    ProportionInterval accuracy;
  };
  std::vector<Judged> intervals;
  for (const auto& [name, group] : groups) {
    if (group.confusion_count == 0) continue;
    const auto correct = static_cast<uint64_t>(
        std::llround(group.accuracy * static_cast<double>(group.confusion_count)));
    intervals.push_back(
        {&name, group.confusion_count, WilsonInterval(correct, group.confusion_count, z)});
  }
  const Judged* lowest_estimate = &intervals.front();
  const Judged* lowest_lower = &intervals.front();
  const Judged* lowest_upper = &intervals.front();
  double violation_samples = std::numeric_limits<double>::infinity();
  const Judged* violation = nullptr;
  double hold_samples = 0;
  const Judged* hold = nullptr;
  for (const Judged& group : intervals) {
    const ProportionInterval& accuracy = group.accuracy;
    if (accuracy.estimate < lowest_estimate->accuracy.estimate) lowest_estimate = &group;
    if (accuracy.lower < lowest_lower->accuracy.lower) lowest_lower = &group;
    if (accuracy.upper < lowest_upper->accuracy.upper) lowest_upper = &group;
    if (accuracy.estimate < threshold) {
      const double samples = SamplesToNarrow(group.samples, accuracy.upper - accuracy.estimate,
                                             threshold - accuracy.estimate);
      if (violation == nullptr || samples < violation_samples) {
        violation_samples = samples;
        violation = &group;
      }
    } else if (accuracy.lower < threshold) {
      const double samples = SamplesToNarrow(group.samples, accuracy.estimate - accuracy.lower,
                                             accuracy.estimate - threshold);
      if (hold == nullptr || samples > hold_samples) {
        hold_samples = samples;
        hold = &group;
      }
    }
  }
  judgement.estimate = 100 * lowest_estimate->accuracy.estimate;
  judgement.lower = 100 * lowest_lower->accuracy.lower;
  judgement.upper = 100 * lowest_upper->accuracy.upper;
  const int percent = Percent(bound.confidence);
  if (lowest_lower->accuracy.lower >= threshold) {
    judgement.verdict = BoundVerdict::kHeld;
    judgement.deciding = absl::StrCat("group ", *lowest_lower->name);
    judgement.text =
        absl::StrCat("held: every group's accuracy is at least ", bound.epsilon,
                     " points (the lowest ", percent, "% lower bound, ",
                     Points(lowest_lower->accuracy.lower), ", is ", judgement.deciding, "'s)");
    return judgement;
  }
  if (lowest_upper->accuracy.upper < threshold) {
    judgement.verdict = BoundVerdict::kViolated;
    judgement.deciding = absl::StrCat("group ", *lowest_upper->name);
    judgement.text = absl::StrCat("violated: ", judgement.deciding, "'s accuracy has a ", percent,
                                  "% upper bound of ", Points(lowest_upper->accuracy.upper),
                                  " points, under ", bound.epsilon);
    return judgement;
  }
  const Judged* deciding = violation != nullptr ? violation : hold;
  if (deciding != nullptr) {
    judgement.deciding = absl::StrCat("group ", *deciding->name);
    judgement.samples_needed = Needed(violation != nullptr ? violation_samples : hold_samples);
  }
  judgement.text = Undetermined(judgement, "no group decides it");
  return judgement;
}

}  // namespace equifl::fairness
