#include "fairness/baselines.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace equifl::fairness {
namespace {

using testing::DoubleNear;
using testing::ElementsAre;

GroupStatistics Losses(double loss_sum, uint64_t count) {
  GroupStatistics statistics;
  statistics.loss_sum = loss_sum;
  statistics.count = count;
  return statistics;
}

TEST(QFedAvgTest, ScalingByHand) {
  // F = 2, ‖u‖² = 0.5, q = 1, lr = 0.1 so L = 10:
  // h = q·F^0·L²·‖u‖² + L·F = 100·0.5 + 20 = 70; scale = F·L/h = 20/70.
  const QFedAvgScaling scaling = ComputeQFedAvgScaling(2.0, 0.5, 1.0, 0.1);
  EXPECT_DOUBLE_EQ(scaling.weight, 70.0);
  EXPECT_DOUBLE_EQ(scaling.update_scale, 20.0 / 70.0);
  // q = 0 is FedAvg with equal client weights: h = L, scale 1.
  const QFedAvgScaling plain = ComputeQFedAvgScaling(2.0, 0.5, 0.0, 0.1);
  EXPECT_DOUBLE_EQ(plain.weight, 10.0);
  EXPECT_DOUBLE_EQ(plain.update_scale, 1.0);
  // A zero loss is floored so the weight stays positive.
  EXPECT_GT(ComputeQFedAvgScaling(0.0, 0.0, 2.0, 0.1).weight, 0.0);
}

TEST(QFedAvgTest, WeightedMeanOfScaledUpdatesIsTheQFedAvgStep) {
  // Two clients, scalar model w = 0, local models w_1 = 1, w_2 = −2; losses 1 and
  // 4; q = 2, lr = 0.5 (L = 2). q-FedAvg: Δw_k = L(w − w_k) = −2, 4;
  // Δ_k = F^q Δw_k = −2, 64; h_k = q F^(q−1) Δw² + L F^q = 2·1·4 + 2 = 10,
  // 2·4·16 + 2·16 = 160; step w − ΣΔ/Σh = −62/170.
  const QFedAvgScaling first = ComputeQFedAvgScaling(1.0, 1.0, 2.0, 0.5);
  const QFedAvgScaling second = ComputeQFedAvgScaling(4.0, 4.0, 2.0, 0.5);
  EXPECT_DOUBLE_EQ(first.weight, 10.0);
  EXPECT_DOUBLE_EQ(second.weight, 160.0);
  const double mean =
      (first.weight * first.update_scale * 1.0 + second.weight * second.update_scale * -2.0) /
      (first.weight + second.weight);
  EXPECT_DOUBLE_EQ(mean, -62.0 / 170.0);
}

TEST(SimplexTest, ProjectionByHand) {
  EXPECT_THAT(ProjectOntoSimplex({0.5, 0.5}), ElementsAre(0.5, 0.5));
  EXPECT_THAT(ProjectOntoSimplex({2.0, 0.0}), ElementsAre(1.0, 0.0));
  EXPECT_THAT(ProjectOntoSimplex({0.6, 0.6}), ElementsAre(0.5, 0.5));
  // Sorted 0.2, 0.1, −1: θ = (0.3 − 1)/2 = −0.35 (the third fails), so 0.55, 0.45, 0.
  EXPECT_THAT(ProjectOntoSimplex({0.2, 0.1, -1.0}),
              ElementsAre(DoubleNear(0.55, 1e-15), DoubleNear(0.45, 1e-15), 0.0));
  EXPECT_TRUE(ProjectOntoSimplex({}).empty());
}

TEST(FedMinMaxTest, AscendsOnGroupRisksAndWeightsByShare) {
  FedMinMaxController controller(0.1);
  StatisticsTable statistics;
  statistics[Cell{"en", "fusion", ""}]["f"] = Losses(1.0, 1);  // Risk 1.
  statistics[Cell{"en", "fusion", ""}]["m"] = Losses(0.0, 3);  // Risk 0.
  statistics[Cell{"en", "video", ""}]["m"] = Losses(90.0, 3);  // Another view: ignored.
  controller.Update(statistics);
  // μ = Π(0.5 + 0.1·1, 0.5 + 0) = Π(0.6, 0.5) = (0.55, 0.45).
  EXPECT_THAT(controller.group_weights(), ElementsAre(testing::Pair("f", DoubleNear(0.55, 1e-15)),
                                                      testing::Pair("m", DoubleNear(0.45, 1e-15))));
  // ρ = (1/4, 3/4): weights μ/ρ − 1 = 1.2 and −0.4.
  const FairnessDirective& directive = controller.directive();
  ASSERT_EQ(directive.weights.size(), 2u);
  EXPECT_NEAR(DirectiveWeight(directive, Cell{"en", "fusion", ""}, "f"), 1.2, 1e-14);
  EXPECT_NEAR(DirectiveWeight(directive, Cell{"en", "fusion", ""}, "m"), -0.4, 1e-14);
}

TEST(FairFedTest, MovesWeightAwayFromClientsFarFromTheGlobalMetric) {
  // F = mean loss of group "f". a: 1/1 = 1; b: 0/3 = 0; federation 1/4 = 0.25.
  FairFedWeights weights(0.1, [](const GroupsOfCell& groups) {
    const auto found = groups.find("f");
    return found == groups.end() ? 0.0 : found->second.mean_loss();
  });
  EXPECT_EQ(weights.Weight("a", 7), 7.0);  // Before any update: n_k.
  std::map<std::string, GroupsOfCell> by_client;
  by_client["a"]["f"] = Losses(1.0, 1);
  by_client["b"]["f"] = Losses(0.0, 3);
  weights.Update(by_client, {{"a", 1}, {"b", 3}});
  // ω = (1/4, 3/4); Δ = (0.75, 0.25), mean 0.5: ω̄ = 0.25 − 0.025, 0.75 + 0.025.
  EXPECT_NEAR(weights.Weight("a", 1), 0.225, 1e-15);
  EXPECT_NEAR(weights.Weight("b", 3), 0.775, 1e-15);
  EXPECT_DOUBLE_EQ(weights.Weight("c", 2), 0.5);  // Unseen: n_k / n = 2/4.
  // A large budget drives a's weight to 0, floored so its report still counts.
  FairFedWeights harsh(10.0, [](const GroupsOfCell& groups) { return groups.at("f").mean_loss(); });
  harsh.Update(by_client, {{"a", 1}, {"b", 3}});
  EXPECT_EQ(harsh.Weight("a", 1), FairFedWeights::kMinimumWeight);
  EXPECT_DOUBLE_EQ(harsh.Weight("b", 3), 1.0);
}

}  // namespace
}  // namespace equifl::fairness
