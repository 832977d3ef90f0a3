#include "fairness/accuracy_gap_interval.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace equifl::fairness {
namespace {

// Right predictions and samples with confusion counts of one group.
struct Tally {
  uint64_t correct = 0;
  uint64_t total = 0;
};

Tally TallyOf(const GroupStatistics& group) {
  Tally tally;
  const uint32_t classes = group.num_classes;
  if (classes == 0 || group.confusion.size() != static_cast<size_t>(classes) * classes)
    return tally;
  for (uint32_t truth = 0; truth < classes; ++truth) {
    for (uint32_t predicted = 0; predicted < classes; ++predicted) {
      const uint64_t count = group.confusion[truth * classes + predicted];
      tally.total += count;
      if (truth == predicted) tally.correct += count;
    }
  }
  return tally;
}

}  // namespace

ProportionInterval WilsonInterval(uint64_t successes, uint64_t trials, double z) {
  if (trials == 0) return {0, 0, 1};
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(successes) / n;
  const double z2 = z * z;
  const double center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const double half = z * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n);
  return {p, std::max(0.0, center - half), std::min(1.0, center + half)};
}

double NormalQuantile(double p) {
  // Bisection on Φ(x) = erfc(−x/√2)/2, to double precision within 200 steps.
  double low = -40;
  double high = 40;
  for (int step = 0; step < 200 && high - low > 1e-15; ++step) {
    const double middle = (low + high) / 2;
    if (0.5 * std::erfc(-middle / std::sqrt(2.0)) < p) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return (low + high) / 2;
}

double SimultaneousZ(double confidence, size_t comparisons) {
  const double tail =
      (1 - confidence) / (2 * static_cast<double>(std::max<size_t>(comparisons, 1)));
  return NormalQuantile(1 - tail);
}

std::optional<ProportionInterval> GroupAccuracy(const GroupStatistics& group, double z) {
  const Tally tally = TallyOf(group);
  if (tally.total == 0) return std::nullopt;
  return WilsonInterval(tally.correct, tally.total, z);
}

std::optional<AccuracyGapInterval> CellAccuracyGap(const GroupsOfCell& groups, double z) {
  struct Named {
    const std::string* name;
    ProportionInterval accuracy;
  };
  std::vector<Named> accuracies;  // In name order, as the table keeps groups.
  for (const auto& [name, group] : groups) {
    if (std::optional<ProportionInterval> accuracy = GroupAccuracy(group, z)) {
      accuracies.push_back({&name, *accuracy});
    }
  }
  if (accuracies.size() < 2) return std::nullopt;
  // The first of equals in name order, for both ends; worst is never best.
  const Named* best = &accuracies.front();
  for (const Named& named : accuracies) {
    if (named.accuracy.estimate > best->accuracy.estimate) best = &named;
  }
  const Named* worst = nullptr;
  for (const Named& named : accuracies) {
    if (&named != best &&
        (worst == nullptr || named.accuracy.estimate < worst->accuracy.estimate)) {
      worst = &named;
    }
  }
  const ProportionInterval& high = best->accuracy;
  const ProportionInterval& low = worst->accuracy;
  AccuracyGapInterval gap;
  gap.best_group = *best->name;
  gap.worst_group = *worst->name;
  gap.gap = high.estimate - low.estimate;
  gap.lower = gap.gap - std::hypot(high.estimate - high.lower, low.upper - low.estimate);
  gap.upper = gap.gap + std::hypot(high.upper - high.estimate, low.estimate - low.lower);
  return gap;
}

}  // namespace equifl::fairness
