#include "fairness/accuracy_gap_interval.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/random.h"

namespace equifl::fairness {
namespace {

// Right predictions and samples with confusion counts of one group, and how many
// confusion counts each sums (for the noise they carry).
struct Tally {
  uint64_t correct = 0;
  uint64_t total = 0;
  uint64_t correct_entries = 0;
  uint64_t total_entries = 0;
};

// The Wilson interval of a tally, each side widened in quadrature by z times the
// deviation that noise of variance `entry_noise` on every confusion count gives
// the proportion: Var p ≈ (Var correct·(1 − p)² + Var wrong·p²) / total².
ProportionInterval NoisyProportion(const Tally& tally, double entry_noise, double z) {
  ProportionInterval interval = WilsonInterval(tally.correct, tally.total, z);
  if (entry_noise <= 0 || tally.total == 0) return interval;
  const double p = interval.estimate;
  const double wrong_entries = static_cast<double>(tally.total_entries - tally.correct_entries);
  const double variance =
      entry_noise *
      (static_cast<double>(tally.correct_entries) * (1 - p) * (1 - p) + wrong_entries * p * p) /
      (static_cast<double>(tally.total) * static_cast<double>(tally.total));
  const double widening = z * std::sqrt(variance);
  interval.lower = std::max(0.0, p - std::hypot(p - interval.lower, widening));
  interval.upper = std::min(1.0, p + std::hypot(interval.upper - p, widening));
  return interval;
}

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
  tally.correct_entries = classes;
  tally.total_entries = static_cast<uint64_t>(classes) * classes;
  return tally;
}

// True positives of class `label` among the group's samples of that class.
Tally TruePositivesOf(const GroupStatistics& group, uint32_t label) {
  Tally tally;
  const uint32_t classes = group.num_classes;
  if (label >= classes || group.confusion.size() != static_cast<size_t>(classes) * classes) {
    return tally;
  }
  for (uint32_t predicted = 0; predicted < classes; ++predicted) {
    tally.total += group.confusion[static_cast<size_t>(label) * classes + predicted];
  }
  tally.correct = group.confusion[static_cast<size_t>(label) * classes + label];
  tally.correct_entries = 1;
  tally.total_entries = classes;
  return tally;
}

// Samples of classes other than `label` that the group's predictions call `label`,
// among its samples of other classes.
Tally FalsePositivesOf(const GroupStatistics& group, uint32_t label) {
  Tally tally;
  const uint32_t classes = group.num_classes;
  if (label >= classes || group.confusion.size() != static_cast<size_t>(classes) * classes) {
    return tally;
  }
  for (uint32_t truth = 0; truth < classes; ++truth) {
    if (truth == label) continue;
    for (uint32_t predicted = 0; predicted < classes; ++predicted) {
      tally.total += group.confusion[static_cast<size_t>(truth) * classes + predicted];
    }
    tally.correct += group.confusion[static_cast<size_t>(truth) * classes + label];
  }
  tally.correct_entries = classes - 1;
  tally.total_entries = static_cast<uint64_t>(classes - 1) * classes;
  return tally;
}

// A group's value (a proportion with its interval, or a score) under its name.
struct NamedValue {
  const std::string* name;
  ProportionInterval value;
};

struct Extremes {
  const NamedValue* best;
  const NamedValue* worst;
};

// The highest value and the lowest of the others, the first in order on ties (so
// in name order for values listed as the table keeps groups); nullopt for fewer
// than two values.
std::optional<Extremes> ExtremesOf(const std::vector<NamedValue>& values) {
  if (values.size() < 2) return std::nullopt;
  const NamedValue* best = &values.front();
  for (const NamedValue& named : values) {
    if (named.value.estimate > best->value.estimate) best = &named;
  }
  const NamedValue* worst = nullptr;
  for (const NamedValue& named : values) {
    if (&named != best && (worst == nullptr || named.value.estimate < worst->value.estimate)) {
      worst = &named;
    }
  }
  return Extremes{best, worst};
}

// Newcombe's hybrid score interval for best − worst from their Wilson intervals.
GroupGapInterval NewcombeGap(const NamedValue& best, const NamedValue& worst) {
  const ProportionInterval& high = best.value;
  const ProportionInterval& low = worst.value;
  GroupGapInterval gap;
  gap.best_group = *best.name;
  gap.worst_group = *worst.name;
  gap.gap = high.estimate - low.estimate;
  gap.lower = gap.gap - std::hypot(high.estimate - high.lower, low.upper - low.estimate);
  gap.upper = gap.gap + std::hypot(high.upper - high.estimate, low.estimate - low.lower);
  return gap;
}

constexpr uint64_t kMacroF1Seed = 0x6631;

// Macro-F1 of one draw of the group's confusion proportions from their posterior,
// Dirichlet(counts + 1/2): F1_c = 2 p_cc / (row_c + col_c), averaged over classes.
double PosteriorMacroF1(random::Engine& engine, const GroupStatistics& group) {
  const uint32_t classes = group.num_classes;
  std::vector<double> draw(group.confusion.size());
  for (size_t i = 0; i < draw.size(); ++i) {
    // Privacy noise on the counts (if any) joins the draw as a normal deviation.
    const double count =
        static_cast<double>(group.confusion[i]) +
        (group.noise.confusion > 0 ? std::sqrt(group.noise.confusion) * random::Normal(engine) : 0);
    draw[i] = random::Gamma(engine, std::max(0.0, count) + 0.5);
  }
  double sum = 0;
  for (uint32_t c = 0; c < classes; ++c) {
    double row = 0;
    double column = 0;
    for (uint32_t other = 0; other < classes; ++other) {
      row += draw[static_cast<size_t>(c) * classes + other];
      column += draw[static_cast<size_t>(other) * classes + c];
    }
    sum += 2 * draw[static_cast<size_t>(c) * classes + c] / (row + column);
  }
  return sum / classes;
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
  return NoisyProportion(tally, group.noise.confusion, z);
}

std::optional<GroupGapInterval> CellAccuracyGap(const GroupsOfCell& groups, double z) {
  std::vector<NamedValue> accuracies;  // In name order, as the table keeps groups.
  for (const auto& [name, group] : groups) {
    if (std::optional<ProportionInterval> accuracy = GroupAccuracy(group, z)) {
      accuracies.push_back({&name, *accuracy});
    }
  }
  const std::optional<Extremes> extremes = ExtremesOf(accuracies);
  if (!extremes) return std::nullopt;
  return NewcombeGap(*extremes->best, *extremes->worst);
}

namespace {

// The gap of the groups' proportions `tally_of(group, label)` with Newcombe's
// interval; nullopt when fewer than two groups count any sample in it.
std::optional<GroupGapInterval> RateGap(const GroupsOfCell& groups, uint32_t label, double z,
                                        Tally (*tally_of)(const GroupStatistics&, uint32_t)) {
  std::vector<NamedValue> rates;
  for (const auto& [name, group] : groups) {
    const Tally tally = tally_of(group, label);
    if (tally.total > 0) rates.push_back({&name, NoisyProportion(tally, group.noise.confusion, z)});
  }
  const std::optional<Extremes> extremes = ExtremesOf(rates);
  if (!extremes) return std::nullopt;
  return NewcombeGap(*extremes->best, *extremes->worst);
}

}  // namespace

std::optional<GroupGapInterval> CellTruePositiveRateGap(const GroupsOfCell& groups, uint32_t label,
                                                        double z) {
  return RateGap(groups, label, z, TruePositivesOf);
}

std::optional<GroupGapInterval> CellFalsePositiveRateGap(const GroupsOfCell& groups, uint32_t label,
                                                         double z) {
  return RateGap(groups, label, z, FalsePositivesOf);
}

std::optional<EqualOpportunityGapInterval> CellEqualOpportunityGap(const GroupsOfCell& groups,
                                                                   double z) {
  uint32_t classes = 0;
  for (const auto& [name, group] : groups) classes = std::max(classes, group.num_classes);
  std::optional<EqualOpportunityGapInterval> largest;
  for (uint32_t label = 0; label < classes; ++label) {
    const std::optional<GroupGapInterval> gap = CellTruePositiveRateGap(groups, label, z);
    if (gap && (!largest || gap->gap > largest->rates.gap)) largest = {label, *gap};
  }
  return largest;
}

std::optional<GroupGapInterval> CellMacroF1Gap(const GroupsOfCell& groups, double z, int draws) {
  std::vector<NamedValue> scores;
  for (const auto& [name, group] : groups) {
    if (TallyOf(group).total == 0) continue;
    scores.push_back({&name, {MacroF1(group.confusion, group.num_classes), 0, 0}});
  }
  const std::optional<Extremes> extremes = ExtremesOf(scores);
  if (!extremes) return std::nullopt;
  const GroupStatistics& best = groups.at(*extremes->best->name);
  const GroupStatistics& worst = groups.at(*extremes->worst->name);
  // The posterior deviation of F1(best) − F1(worst) from Dirichlet(counts + 1/2)
  // draws of each group's confusion proportions; a fixed seed keeps reports stable.
  random::Engine engine = random::MakeEngine(kMacroF1Seed, 0);
  double sum = 0;
  double square_sum = 0;
  for (int draw = 0; draw < draws; ++draw) {
    const double difference = PosteriorMacroF1(engine, best) - PosteriorMacroF1(engine, worst);
    sum += difference;
    square_sum += difference * difference;
  }
  const double mean = sum / draws;
  const double deviation = std::sqrt(std::max(0.0, square_sum / draws - mean * mean));
  GroupGapInterval gap;
  gap.best_group = *extremes->best->name;
  gap.worst_group = *extremes->worst->name;
  gap.gap = extremes->best->value.estimate - extremes->worst->value.estimate;
  gap.lower = std::max(-1.0, gap.gap - z * deviation);
  gap.upper = std::min(1.0, gap.gap + z * deviation);
  return gap;
}

}  // namespace equifl::fairness
