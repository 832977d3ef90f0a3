#include "fairness/loss_gap_bounds.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace equifl::fairness {
namespace {

const Cell kCell{"en", kFusionView, ""};

GroupStatistics FromLosses(const std::vector<double>& losses) {
  GroupStatistics statistics;
  for (double loss : losses) {
    statistics.loss_sum += loss;
    statistics.loss_square_sum += loss * loss;
    ++statistics.count;
  }
  return statistics;
}

// Group a: losses 1, 2, 3, 4 (mean 2.5, variance 5/3); group b: 0, 1, 1, 2 (mean 1,
// variance 2/3). The difference 1.5 has standard error √(5/12 + 1/6) = √(7/12).
StatisticsTable HandTable() {
  StatisticsTable table;
  table[kCell]["a"] = FromLosses({1, 2, 3, 4});
  table[kCell]["b"] = FromLosses({0, 1, 1, 2});
  return table;
}

LossGapBoundOptions WithEpsilon(double epsilon) {
  LossGapBoundOptions options;
  options.epsilon = epsilon;
  return options;
}

// Φ⁻¹(0.95) and Φ⁻¹(0.975), to the digits of a printed table.
constexpr double kZ95 = 1.6448536269514722;
constexpr double kZ975 = 1.959963984540054;

TEST(EstimateGroupLossTest, MeanDeviationAndStandardErrorByHand) {
  const GroupLossEstimate estimate = EstimateGroupLoss(FromLosses({1, 2, 3, 4}));
  EXPECT_EQ(estimate.count, 4u);
  EXPECT_DOUBLE_EQ(estimate.mean, 2.5);
  EXPECT_NEAR(estimate.deviation, std::sqrt(5.0 / 3), 1e-12);
  EXPECT_NEAR(estimate.standard_error, std::sqrt(5.0 / 12), 1e-12);
}

TEST(EstimateGroupLossTest, SquaresBelowTheMeanSquareReadAsNoSpread) {
  GroupStatistics statistics = FromLosses({1, 2, 3});
  statistics.loss_square_sum = 0;  // As from a client that reported none.
  const GroupLossEstimate estimate = EstimateGroupLoss(statistics);
  EXPECT_DOUBLE_EQ(estimate.mean, 2);
  EXPECT_EQ(estimate.deviation, 0);
  EXPECT_EQ(EstimateGroupLoss(FromLosses({7})).standard_error, 0);
}

TEST(BoundLossGapsTest, BoundsOfOneCellByHand) {
  const LossGapBounds bounds = BoundLossGaps(HandTable(), WithEpsilon(0.5));
  ASSERT_EQ(bounds.cells.size(), 1u);
  const CellLossGapBounds& cell = bounds.cells[0];
  EXPECT_EQ(cell.worst_group, "a");
  EXPECT_EQ(cell.best_group, "b");
  EXPECT_DOUBLE_EQ(cell.gap, 1.5);
  const double error = std::sqrt(7.0 / 12);
  EXPECT_NEAR(cell.upper, 1.5 + kZ95 * error, 1e-9);
  // Two ordered pairs: the one-sided 2.5% quantile.
  EXPECT_NEAR(cell.lower, 1.5 - kZ975 * error, 1e-9);
  EXPECT_DOUBLE_EQ(bounds.gap, 1.5);
  EXPECT_DOUBLE_EQ(bounds.upper, cell.upper);
  EXPECT_DOUBLE_EQ(bounds.lower, cell.lower);
  // 0.0031 < ε < 2.76, the difference above ε: settling the violation takes
  // z²·(s_a² + s_b²)/(d − ε)² = 1.96²·(5/3 + 2/3)/1 = 8.96 → 9 samples per group.
  EXPECT_EQ(bounds.verdict, BoundVerdict::kUndetermined);
  EXPECT_EQ(bounds.samples_needed, 9u);
  EXPECT_EQ(bounds.deciding_cell, kCell);
  EXPECT_EQ(DescribeVerdict(bounds),
            "undetermined: needs about 9 samples per group in cell en/fusion");
}

TEST(BoundLossGapsTest, HeldAndViolatedAgainstTheBounds) {
  const LossGapBounds held = BoundLossGaps(HandTable(), WithEpsilon(3));
  EXPECT_EQ(held.verdict, BoundVerdict::kHeld);
  EXPECT_EQ(held.samples_needed, 0u);
  EXPECT_NE(DescribeVerdict(held).find("held"), std::string::npos);

  const LossGapBounds violated = BoundLossGaps(HandTable(), WithEpsilon(0));
  EXPECT_EQ(violated.verdict, BoundVerdict::kViolated);
  EXPECT_EQ(violated.deciding_cell, kCell);
  EXPECT_NE(DescribeVerdict(violated).find("violated: in cell en/fusion"), std::string::npos);
}

TEST(BoundLossGapsTest, SamplesToShowTheBoundHoldByHand) {
  // Means 1.1 and 1.0, each with variance 1 (losses m ± 1, n = 4: variance 4/3).
  StatisticsTable table;
  table[kCell]["a"] = FromLosses({0.1, 2.1, 0.1, 2.1});
  table[kCell]["b"] = FromLosses({0, 2, 0, 2});
  const LossGapBounds bounds = BoundLossGaps(table, WithEpsilon(0.5));
  ASSERT_EQ(bounds.verdict, BoundVerdict::kUndetermined);
  // The pair a − b = 0.1 blocks: 1.645²·(4/3 + 4/3)/0.4² = 45.09 → 46; the pair
  // b − a = −0.1 needs 1.645²·(8/3)/0.6² = 20.04 → 21; the larger counts.
  EXPECT_EQ(bounds.samples_needed, 46u);
}

TEST(BoundLossGapsTest, GapAtEpsilonCannotBeSettled) {
  LossGapBounds bounds = BoundLossGaps(HandTable(), WithEpsilon(1.5));
  ASSERT_EQ(bounds.verdict, BoundVerdict::kUndetermined);
  EXPECT_EQ(bounds.samples_needed, 0u);
  EXPECT_NE(DescribeVerdict(bounds).find("no sample size settles it"), std::string::npos);
}

TEST(BoundLossGapsTest, GroupsWithoutSpreadAreLeftOutAndNamed) {
  StatisticsTable table;
  table[kCell]["a"] = FromLosses({1});
  table[kCell]["b"] = FromLosses({1, 2});
  const LossGapBounds bounds = BoundLossGaps(table, WithEpsilon(0.5));
  EXPECT_TRUE(bounds.cells.empty());
  EXPECT_EQ(bounds.verdict, BoundVerdict::kUndetermined);
  EXPECT_EQ(bounds.groups_without_spread, std::vector<std::string>{"a in en/fusion"});
  EXPECT_EQ(DescribeVerdict(bounds),
            "undetermined: no cell has two groups with two samples or more");
}

TEST(BoundLossGapsTest, LowerBoundsCorrectForEveryPairOfEveryCell) {
  // Three cells of three groups: 18 ordered pairs, so the lower bounds use the
  // one-sided 0.05/18 quantile.
  StatisticsTable table;
  for (const char* language : {"de", "en", "ja"}) {
    const Cell cell{language, kFusionView, ""};
    table[cell]["a"] = FromLosses({5, 6, 7, 8});
    table[cell]["b"] = FromLosses({0, 1, 1, 2});
    table[cell]["c"] = FromLosses({0, 1, 1, 2});
  }
  const LossGapBounds bounds = BoundLossGaps(table, WithEpsilon(0.5));
  ASSERT_EQ(bounds.cells.size(), 3u);
  // Φ⁻¹(1 − 0.05/18) = 2.7729213 (Python: statistics.NormalDist().inv_cdf).
  EXPECT_NEAR(bounds.lower, 5.5 - 2.7729213 * std::sqrt(7.0 / 12), 1e-6);
  EXPECT_NEAR(bounds.upper, 5.5 + kZ95 * std::sqrt(7.0 / 12), 1e-9);
}

TEST(BoundLossGapsTest, SameTableSameBiasCorrection) {
  const LossGapBounds first = BoundLossGaps(HandTable(), WithEpsilon(0.5));
  const LossGapBounds second = BoundLossGaps(HandTable(), WithEpsilon(0.5));
  EXPECT_EQ(first.bias_corrected, second.bias_corrected);
  EXPECT_LT(first.bias_corrected, first.gap);
  EXPECT_EQ(first.cells[0].bias_corrected, first.bias_corrected);
}

TEST(LossGapBoundOptionsTest, RefusesWhatIsOutOfRange) {
  LossGapBoundOptions options;
  EXPECT_TRUE(options.Validate().ok());
  options.confidence = 1;
  EXPECT_FALSE(options.Validate().ok());
  options = {};
  options.epsilon = -0.1;
  EXPECT_FALSE(options.Validate().ok());
  options = {};
  options.bootstrap_draws = 0;
  EXPECT_FALSE(options.Validate().ok());
}

// Draws `count` losses of a gamma distribution with mean `mean` (shape 2: skewed,
// as cross-entropies are) into a group's sums.
GroupStatistics DrawGroup(std::mt19937_64& generator, double mean, uint64_t count) {
  std::gamma_distribution<double> gamma(2.0, mean / 2.0);
  GroupStatistics statistics;
  for (uint64_t i = 0; i < count; ++i) {
    const double loss = gamma(generator);
    statistics.loss_sum += loss;
    statistics.loss_square_sum += loss * loss;
    ++statistics.count;
  }
  return statistics;
}

struct Coverage {
  double upper = 0;  // Share of draws whose upper bound is at least the true gap.
  double lower = 0;  // Share of draws whose lower bound is at most the true gap.
};

// Adds privacy noise as the server does (aggregation/privacy/statistics_privacy.h):
// N(0, σ²) on the count, rounded and at least 1, N(0, (σL)²) on the loss sum, at least 0.
void AddPrivacyNoise(std::mt19937_64& generator, double sigma, double clip,
                     GroupStatistics& statistics) {
  std::normal_distribution<double> normal;
  const double count = static_cast<double>(statistics.count) + sigma * normal(generator);
  statistics.count = static_cast<uint64_t>(std::max(1.0, std::round(count)));
  statistics.loss_sum = std::max(0.0, statistics.loss_sum + sigma * clip * normal(generator));
  statistics.loss_square_sum += sigma * clip * clip * normal(generator);
  statistics.noise.count = sigma * sigma;
  statistics.noise.loss_sum = sigma * sigma * clip * clip;
  statistics.noise.loss_square_sum = sigma * sigma * clip * clip * clip * clip;
}

// Coverage of the true MinMaxGAP over 2,000 tables drawn from `means` (cell ->
// group means), `count` samples per group; privacy noise of deviation
// `noise_sigma` on counts (times 4 nats on loss sums) when it is positive.
Coverage Simulate(const std::vector<std::vector<double>>& means, uint64_t count, double true_gap,
                  double noise_sigma = 0) {
  constexpr int kDraws = 2000;
  std::mt19937_64 generator(7);
  LossGapBoundOptions options = WithEpsilon(0.1);
  options.bootstrap_draws = 1;  // Only the bounds are checked here.
  int upper_covers = 0;
  int lower_covers = 0;
  for (int draw = 0; draw < kDraws; ++draw) {
    StatisticsTable table;
    for (size_t c = 0; c < means.size(); ++c) {
      for (size_t g = 0; g < means[c].size(); ++g) {
        GroupStatistics& group = table[Cell{std::to_string(c), kFusionView, ""}][std::to_string(g)];
        group = DrawGroup(generator, means[c][g], count);
        if (noise_sigma > 0) AddPrivacyNoise(generator, noise_sigma, 4.0, group);
      }
    }
    const LossGapBounds bounds = BoundLossGaps(table, options);
    upper_covers += bounds.upper >= true_gap;
    lower_covers += bounds.lower <= true_gap;
  }
  const Coverage coverage{upper_covers / static_cast<double>(kDraws),
                          lower_covers / static_cast<double>(kDraws)};
  ::testing::Test::RecordProperty("upper_coverage", std::to_string(coverage.upper));
  ::testing::Test::RecordProperty("lower_coverage", std::to_string(coverage.lower));
  return coverage;
}

TEST(LossGapCoverageTest, UpperBoundOfOneCellCoversAtItsConfidence) {
  // One cell, true gap 0.3 nats, 200 samples per group (standard error of the
  // difference about 0.08): the 95% upper bound is nearly exact here.
  const Coverage coverage = Simulate({{1.0, 1.3}}, 200, 0.3);
  EXPECT_GE(coverage.upper, 0.93);
  EXPECT_LE(coverage.upper, 0.97);
  EXPECT_GE(coverage.lower, 0.95);
}

TEST(LossGapCoverageTest, UpperBoundCoversWithPrivacyNoiseOnTheSums) {
  // One cell, true gap 1 nat, 200 samples per group, with DP noise σ = 10 on the
  // counts and 40 on the loss sums: the noise moves each group's mean by about
  // 0.2, three times its sampling error, so bounds that ignored it would cover
  // about 70% of the time.
  const Coverage coverage = Simulate({{1.0, 2.0}}, 200, 1.0, 10);
  EXPECT_GE(coverage.upper, 0.93);
  EXPECT_LE(coverage.upper, 0.97);
  EXPECT_GE(coverage.lower, 0.95);
}

TEST(EstimateGroupLossTest, PrivacyNoiseJoinsTheStandardErrorByHand) {
  GroupStatistics statistics = FromLosses({1, 2, 3, 4});
  statistics.noise.loss_sum = 8;
  statistics.noise.count = 2;
  // se² = (5/3)/4 + (8 + 2.5²·2)/4² = 5/12 + 20.5/16.
  EXPECT_NEAR(EstimateGroupLoss(statistics).standard_error, std::sqrt(5.0 / 12 + 20.5 / 16), 1e-12);
}

TEST(LossGapCoverageTest, BoundsOfTheMinMaxGapCoverAcrossCells) {
  // Four cells with gaps 0.3, 0.2, 0.1 and 0 (three groups in one): the MinMaxGAP
  // is 0.3; the largest upper bound still covers it at about 95%, and the
  // corrected lower bounds hold together.
  const Coverage coverage =
      Simulate({{1.0, 1.3}, {1.0, 1.2}, {0.8, 0.9, 0.85}, {1.1, 1.1}}, 200, 0.3);
  EXPECT_GE(coverage.upper, 0.93);
  EXPECT_LE(coverage.upper, 0.99);
  EXPECT_GE(coverage.lower, 0.95);
}

TEST(LossGapCoverageTest, BiasCorrectionShrinksTheGapOfAFairModel) {
  // Six fair cells, 45 samples per group, losses with mean 1 (deviation 0.71): the
  // plain MinMaxGAP reads about 0.25 above the true 0, the bias-corrected one about
  // 0.15 (a bootstrap corrects a maximum's bias only in part).
  std::mt19937_64 generator(11);
  double plain = 0;
  double corrected = 0;
  constexpr int kDraws = 200;
  for (int draw = 0; draw < kDraws; ++draw) {
    StatisticsTable table;
    for (int c = 0; c < 6; ++c) {
      for (const char* group : {"female", "male"}) {
        table[Cell{std::to_string(c), kFusionView, ""}][group] = DrawGroup(generator, 1.0, 45);
      }
    }
    const LossGapBounds bounds = BoundLossGaps(table, WithEpsilon(0.1));
    plain += bounds.gap / kDraws;
    corrected += bounds.bias_corrected / kDraws;
  }
  EXPECT_GT(plain, 0.2);
  EXPECT_LT(corrected, 0.7 * plain);
}

}  // namespace
}  // namespace equifl::fairness
