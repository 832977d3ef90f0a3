#include "fairness/minmax_gap.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "tests/testing/status_matchers.h"

namespace equifl::fairness {
namespace {

using ::equifl::test::IsOk;

GroupStatistics Losses(double loss_sum, uint64_t count) {
  GroupStatistics statistics;
  statistics.loss_sum = loss_sum;
  statistics.count = count;
  return statistics;
}

const Cell kEnglish{"en", "fusion", ""};
const Cell kGerman{"de", "fusion", ""};

// One cell: f has mean loss 3/2 = 1.5, m has 2/4 = 0.5, so gap = 1.
StatisticsTable OneCell() {
  StatisticsTable table;
  table[kEnglish]["f"] = Losses(3.0, 2);
  table[kEnglish]["m"] = Losses(2.0, 4);
  return table;
}

TEST(MinMaxGapTest, EmptyGroupsGetNoWeight) {
  StatisticsTable table = OneCell();
  table[kEnglish]["x"] = Losses(0, 0);  // Empty: its mean loss 0 is not the cell's best.
  MinMaxGapOptions signed_weights;
  signed_weights.up_weight_only = false;
  const FairnessDirective directive = ComputeDirective(table, 2.0, signed_weights);
  EXPECT_DOUBLE_EQ(DirectiveWeight(directive, kEnglish, "m"), -6.0);
  EXPECT_EQ(DirectiveWeight(directive, kEnglish, "x"), 0.0);
  StatisticsTable equal;
  equal[kEnglish]["f"] = Losses(1.0, 2);
  equal[kEnglish]["m"] = Losses(2.0, 4);
  EXPECT_TRUE(ComputeDirective(equal, 2.0, MinMaxGapOptions{}).weights.empty());
}

TEST(MinMaxGapTest, DirectiveWeightsOfOneCellByHand) {
  MinMaxGapOptions options;  // p = 2.
  options.up_weight_only = false;
  // Single cell: softmax share 1, soft gap = gap = 1. scale = λ·p·G^(p−1) = 2·2·1 = 4.
  // N_m = 6: weight(f) = 4·6/2 = 12, weight(m) = −4·6/4 = −6.
  const FairnessDirective directive = ComputeDirective(OneCell(), 2.0, options);
  ASSERT_EQ(directive.weights.size(), 2u);
  EXPECT_DOUBLE_EQ(DirectiveWeight(directive, kEnglish, "f"), 12.0);
  EXPECT_DOUBLE_EQ(DirectiveWeight(directive, kEnglish, "m"), -6.0);
  EXPECT_EQ(DirectiveWeight(directive, kGerman, "f"), 0.0);
  EXPECT_EQ(directive.lambda, 2.0);
  EXPECT_EQ(directive.epsilon, 0.02);

  options.up_weight_only = true;
  const FairnessDirective up_only = ComputeDirective(OneCell(), 2.0, options);
  ASSERT_EQ(up_only.weights.size(), 1u);
  EXPECT_DOUBLE_EQ(DirectiveWeight(up_only, kEnglish, "f"), 12.0);
  EXPECT_TRUE(up_only.up_weight_only);

  EXPECT_TRUE(ComputeDirective(OneCell(), 0.0, options).weights.empty());
}

TEST(MinMaxGapTest, DefaultsKeepOnlyUpWeights) {
  const FairnessDirective directive = ComputeDirective(OneCell(), 2.0, MinMaxGapOptions{});
  EXPECT_TRUE(directive.up_weight_only);
  ASSERT_EQ(directive.weights.size(), 1u);
  EXPECT_DOUBLE_EQ(DirectiveWeight(directive, kEnglish, "f"), 12.0);
}

TEST(MinMaxGapTest, SoftMaximumSpreadsOverCells) {
  // en: gap 0.1 (f 0.6, m 0.5); de: gap 0 (equal losses). τ = 0.1.
  StatisticsTable table;
  table[kEnglish]["f"] = Losses(0.6, 1);
  table[kEnglish]["m"] = Losses(0.5, 1);
  table[kGerman]["f"] = Losses(0.5, 1);
  table[kGerman]["m"] = Losses(0.5, 1);
  MinMaxGapOptions options;
  options.temperature = 0.1;
  options.gap_exponent = 1.0;
  options.up_weight_only = false;
  // Σ exp((gap − 0.1)/0.1) = 1 + e^-1; soft gap = 0.1 + 0.1·ln(1 + e^-1).
  const double normaliser = 1 + std::exp(-1.0);
  EXPECT_NEAR(SoftMaxGap(table, 0.1), 0.1 + 0.1 * std::log(normaliser), 1e-15);
  // p = 1: scale = λ = 1; share(en) = 1/(1 + e^-1); N_m = 4, N(g, en) = 1.
  const FairnessDirective directive = ComputeDirective(table, 1.0, options);
  EXPECT_NEAR(DirectiveWeight(directive, kEnglish, "f"), 4.0 / normaliser, 1e-12);
  EXPECT_NEAR(DirectiveWeight(directive, kEnglish, "m"), -4.0 / normaliser, 1e-12);
  EXPECT_EQ(DirectiveWeight(directive, kGerman, "f"), 0.0);
}

TEST(MinMaxGapTest, PoolsClientsBeforeComputingGaps) {
  // Per client the cell looks fair (one group each); pooled, f 1.5 vs m 0.5.
  StatisticsTable table;
  table[Cell{"en", "fusion", "a"}]["f"] = Losses(3.0, 2);
  table[Cell{"en", "fusion", "b"}]["m"] = Losses(2.0, 4);
  const FairnessDirective directive = ComputeDirective(table, 2.0, MinMaxGapOptions{});
  EXPECT_DOUBLE_EQ(DirectiveWeight(directive, kEnglish, "f"), 12.0);
}

TEST(MinMaxGapTest, DualAscentClipsLambda) {
  MinMaxGapOptions options;  // ε = 0.02, λ_max = 10.
  options.lambda_learning_rate = 5;
  MinMaxGapController controller(options);
  EXPECT_EQ(controller.lambda(), 0.0);
  EXPECT_TRUE(controller.directive().weights.empty());
  StatisticsTable table;
  table[kEnglish]["f"] = Losses(0.6, 1);
  table[kEnglish]["m"] = Losses(0.5, 1);
  controller.Update(table);  // λ = 0 + 5·(0.1 − 0.02) = 0.4.
  EXPECT_NEAR(controller.lambda(), 0.4, 1e-12);
  EXPECT_NEAR(controller.last_gap(), 0.1, 1e-12);
  EXPECT_FALSE(controller.directive().weights.empty());
  table[kEnglish]["f"] = Losses(0.51, 1);
  controller.Update(table);  // λ = 0.4 + 5·(0.01 − 0.02) = 0.35.
  EXPECT_NEAR(controller.lambda(), 0.35, 1e-12);
  for (int round = 0; round < 10; ++round) controller.Update(OneCell());  // gap 1: up to λ_max.
  EXPECT_EQ(controller.lambda(), 10.0);
  StatisticsTable fair;
  fair[kEnglish]["f"] = Losses(0.5, 1);
  fair[kEnglish]["m"] = Losses(0.5, 1);
  for (int round = 0; round < 200; ++round) controller.Update(fair);  // Below ε: down to 0.
  EXPECT_EQ(controller.lambda(), 0.0);
  controller.Update({});  // No statistics: unchanged.
  EXPECT_EQ(controller.lambda(), 0.0);
}

TEST(MinMaxGapTest, CoverageScoreIsShareOfPositiveWeight) {
  MinMaxGapOptions signed_weights;
  signed_weights.up_weight_only = false;
  const FairnessDirective directive = ComputeDirective(OneCell(), 2.0, signed_weights);
  // Weights f = 12, m = −6: max |w| = 12. Samples f, f, m, m: (1 + 1 + 0 + 0)/4.
  EXPECT_DOUBLE_EQ(CoverageScore(directive, {12, 12, -6, -6}), 0.5);
  EXPECT_EQ(CoverageScore(directive, {}), 0.0);
  EXPECT_EQ(CoverageScore(FairnessDirective{}, {1.0}), 0.0);
}

TEST(MinMaxGapTest, OptionsNameTheBadKnob) {
  MinMaxGapOptions options;
  EXPECT_THAT(options.Validate(), IsOk());
  options.temperature = 0;
  EXPECT_THAT(std::string(options.Validate().message()), testing::HasSubstr("temperature"));
  options = {};
  options.initial_lambda = 11;
  EXPECT_THAT(std::string(options.Validate().message()), testing::HasSubstr("initial_lambda"));
  options = {};
  options.epsilon = -1;
  EXPECT_FALSE(options.Validate().ok());
}

}  // namespace
}  // namespace equifl::fairness
