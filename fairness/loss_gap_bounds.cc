#include "fairness/loss_gap_bounds.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "fairness/accuracy_gap_interval.h"

namespace equifl::fairness {
namespace {

// More samples than any sample-size answer is worth printing.
constexpr double kMostSamplesNeeded = 1e15;

struct NamedEstimate {
  std::string group;
  GroupLossEstimate estimate;
};

// The groups of one cell that have a spread, with the cell's place in the result.
struct CellEstimates {
  Cell cell;
  std::vector<NamedEstimate> groups;
};

// Samples per group for `difference` to be told apart from `epsilon` at quantile
// `z`, with per-sample deviations `deviation_a` and `deviation_b`.
double SamplesToSettle(double difference, double epsilon, double z, double deviation_a,
                       double deviation_b) {
  const double distance = std::abs(difference - epsilon);
  if (distance == 0) return std::numeric_limits<double>::infinity();
  const double variance = deviation_a * deviation_a + deviation_b * deviation_b;
  return std::ceil(z * z * variance / (distance * distance));
}

// The bootstrap bias of every cell gap and of their maximum: mean of the redrawn
// gaps minus the gaps themselves.
void CorrectBias(const std::vector<CellEstimates>& cells, const LossGapBoundOptions& options,
                 LossGapBounds& bounds) {
  std::mt19937_64 generator(options.bootstrap_seed);
  std::normal_distribution<double> normal;
  std::vector<double> cell_sums(cells.size(), 0.0);
  double maximum_sum = 0;
  for (uint32_t draw = 0; draw < options.bootstrap_draws; ++draw) {
    double maximum = 0;
    for (size_t c = 0; c < cells.size(); ++c) {
      double highest = -std::numeric_limits<double>::infinity();
      double lowest = std::numeric_limits<double>::infinity();
      for (const NamedEstimate& group : cells[c].groups) {
        const double mean = group.estimate.mean + group.estimate.standard_error * normal(generator);
        highest = std::max(highest, mean);
        lowest = std::min(lowest, mean);
      }
      cell_sums[c] += highest - lowest;
      maximum = std::max(maximum, highest - lowest);
    }
    maximum_sum += maximum;
  }
  const double draws = options.bootstrap_draws;
  for (size_t c = 0; c < cells.size(); ++c) {
    CellLossGapBounds& cell = bounds.cells[c];
    cell.bias_corrected = std::max(0.0, 2 * cell.gap - cell_sums[c] / draws);
  }
  bounds.bias_corrected = std::max(0.0, 2 * bounds.gap - maximum_sum / draws);
}

}  // namespace

absl::Status LossGapBoundOptions::Validate() const {
  if (!(epsilon >= 0) || !std::isfinite(epsilon)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the gap bound epsilon is ", epsilon, "; it must be finite and >= 0"));
  }
  if (!(confidence > 0 && confidence < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("the confidence of the gap bounds is ",
                                                   confidence, "; it must lie in (0, 1)"));
  }
  if (bootstrap_draws == 0) {
    return absl::InvalidArgumentError("the bias correction needs at least one bootstrap draw");
  }
  return absl::OkStatus();
}

GroupLossEstimate EstimateGroupLoss(const GroupStatistics& group) {
  GroupLossEstimate estimate;
  estimate.count = group.count;
  if (group.count == 0) return estimate;
  const double n = static_cast<double>(group.count);
  estimate.mean = group.loss_sum / n;
  if (group.count < 2) return estimate;
  // Σ(ℓ − m)² = Σℓ² − (Σℓ)²/n, never below 0 whatever the rounding.
  const double squares = std::max(0.0, group.loss_square_sum - group.loss_sum * estimate.mean);
  estimate.deviation = std::sqrt(squares / (n - 1));
  // Noise e_S on the loss sum and e_n on the count move the mean by about
  // (e_S − m·e_n) / n (first order), independent of the sampling error.
  const double noise =
      (group.noise.loss_sum + estimate.mean * estimate.mean * group.noise.count) / (n * n);
  estimate.standard_error = std::sqrt(estimate.deviation * estimate.deviation / n + noise);
  return estimate;
}

const char* VerdictName(BoundVerdict verdict) {
  // The table's names are string literals, so their data is NUL-terminated.
  return IsNamed(verdict) ? NameOf(verdict).data() : "undetermined";
}

LossGapBounds BoundLossGaps(const StatisticsTable& table, const LossGapBoundOptions& options) {
  LossGapBounds bounds;
  bounds.epsilon = options.epsilon;
  bounds.confidence = options.confidence;

  std::vector<CellEstimates> cells;
  size_t ordered_pairs = 0;
  for (const auto& [cell, groups] : table) {
    CellEstimates estimates{cell, {}};
    for (const auto& [group, statistics] : groups) {
      if (statistics.count == 1) {
        bounds.groups_without_spread.push_back(absl::StrCat(group, " in ", CellName(cell)));
      }
      if (statistics.count >= 2) estimates.groups.push_back({group, EstimateGroupLoss(statistics)});
    }
    if (estimates.groups.size() < 2) continue;
    ordered_pairs += estimates.groups.size() * (estimates.groups.size() - 1);
    cells.push_back(std::move(estimates));
  }
  if (cells.empty()) return bounds;

  const double z_upper = NormalQuantile(options.confidence);
  const double z_lower =
      NormalQuantile(1 - (1 - options.confidence) / static_cast<double>(ordered_pairs));
  // The pair that would settle an undetermined verdict each way: the easiest
  // violation to show, and the hardest upper bound to bring under ε.
  double violation_samples = std::numeric_limits<double>::infinity();
  Cell violation_cell;
  double hold_samples = 0;
  Cell hold_cell;
  bool some_difference_above_epsilon = false;
  Cell upper_cell;

  for (const CellEstimates& estimates : cells) {
    CellLossGapBounds cell;
    cell.cell = estimates.cell;
    const auto by_mean = [](const NamedEstimate& a, const NamedEstimate& b) {
      return a.estimate.mean < b.estimate.mean;
    };
    const auto [best, worst] =
        std::minmax_element(estimates.groups.begin(), estimates.groups.end(), by_mean);
    cell.best_group = best->group;
    cell.worst_group = worst->group;
    cell.gap = worst->estimate.mean - best->estimate.mean;
    cell.upper = 0;
    cell.lower = 0;
    for (const NamedEstimate& a : estimates.groups) {
      for (const NamedEstimate& b : estimates.groups) {
        if (&a == &b) continue;
        const double difference = a.estimate.mean - b.estimate.mean;
        const double error = std::hypot(a.estimate.standard_error, b.estimate.standard_error);
        cell.upper = std::max(cell.upper, difference + z_upper * error);
        cell.lower = std::max(cell.lower, difference - z_lower * error);
        if (difference > options.epsilon) {
          some_difference_above_epsilon = true;
          const double samples = SamplesToSettle(difference, options.epsilon, z_lower,
                                                 a.estimate.deviation, b.estimate.deviation);
          if (samples < violation_samples) {
            violation_samples = samples;
            violation_cell = cell.cell;
          }
        } else if (difference + z_upper * error > options.epsilon) {
          const double samples = SamplesToSettle(difference, options.epsilon, z_upper,
                                                 a.estimate.deviation, b.estimate.deviation);
          if (samples > hold_samples) {
            hold_samples = samples;
            hold_cell = cell.cell;
          }
        }
      }
    }
    if (cell.gap > bounds.gap) bounds.gap = cell.gap;
    if (cell.upper > bounds.upper || bounds.cells.empty()) {
      bounds.upper = cell.upper;
      upper_cell = cell.cell;
    }
    if (cell.lower > bounds.lower) bounds.lower = cell.lower;
    bounds.cells.push_back(std::move(cell));
  }
  CorrectBias(cells, options, bounds);

  if (bounds.upper <= options.epsilon) {
    bounds.verdict = BoundVerdict::kHeld;
    bounds.deciding_cell = upper_cell;
    return bounds;
  }
  if (bounds.lower > options.epsilon) {
    bounds.verdict = BoundVerdict::kViolated;
    for (const CellLossGapBounds& cell : bounds.cells) {
      if (cell.lower == bounds.lower) {
        bounds.deciding_cell = cell.cell;
        break;
      }
    }
    return bounds;
  }
  bounds.verdict = BoundVerdict::kUndetermined;
  // Which way the estimates lean decides which question more samples would answer.
  const double samples = some_difference_above_epsilon ? violation_samples : hold_samples;
  bounds.deciding_cell = some_difference_above_epsilon ? violation_cell : hold_cell;
  bounds.samples_needed =
      std::isfinite(samples) ? static_cast<uint64_t>(std::min(samples, kMostSamplesNeeded)) : 0;
  return bounds;
}

std::string DescribeVerdict(const LossGapBounds& bounds) {
  const auto percent = static_cast<int>(std::lround(bounds.confidence * 100));
  switch (bounds.verdict) {
    case BoundVerdict::kHeld:
      return absl::StrCat("held: the MinMaxGAP's ", percent, "% upper bound ", bounds.upper,
                          " is at most epsilon ", bounds.epsilon);
    case BoundVerdict::kViolated:
      return absl::StrCat("violated: in cell ", CellName(bounds.deciding_cell), " the gap's ",
                          percent, "% lower bound ", bounds.lower, " exceeds epsilon ",
                          bounds.epsilon);
    case BoundVerdict::kUndetermined:
      break;
  }
  if (bounds.cells.empty()) {
    return "undetermined: no cell has two groups with two samples or more";
  }
  if (bounds.samples_needed == 0) {
    return absl::StrCat("undetermined: a gap in cell ", CellName(bounds.deciding_cell),
                        " is estimated at epsilon itself; no sample size settles it");
  }
  return absl::StrCat("undetermined: needs about ", bounds.samples_needed,
                      " samples per group in cell ", CellName(bounds.deciding_cell));
}

}  // namespace equifl::fairness
