#include "fairness/baselines.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

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

// μ by pair name, for readable expectations.
std::map<std::string, double> ByName(const std::vector<GroupWeight>& weights) {
  std::map<std::string, double> named;
  for (const GroupWeight& weight : weights) named[GroupWeightName(weight)] = weight.weight;
  return named;
}

TEST(FedMinMaxTest, ExponentiatedGradientStepByHand) {
  FedMinMaxController controller(1.0);
  StatisticsTable statistics;
  statistics[Cell{"en", "fusion", ""}]["f"] = Losses(1.0, 1);  // Risk 1.
  statistics[Cell{"en", "fusion", ""}]["m"] = Losses(0.0, 3);  // Risk 0.
  statistics[Cell{"en", "video", ""}]["m"] = Losses(90.0, 3);  // Another view: ignored.
  controller.Update(statistics);
  // From (1/2, 1/2), r̄ = 1/2: μ ∝ (e^0.5, e^−0.5), so μ_f = 1/(1 + e^−1).
  const double f = 1.0 / (1.0 + std::exp(-1.0));
  EXPECT_THAT(ByName(controller.group_weights()),
              ElementsAre(testing::Pair("en/fusion: f", DoubleNear(f, 1e-15)),
                          testing::Pair("en/fusion: m", DoubleNear(1 - f, 1e-15))));
  // ρ = (1/4, 3/4): directive weights μ/ρ − 1.
  const FairnessDirective& directive = controller.directive();
  ASSERT_EQ(directive.weights.size(), 2u);
  EXPECT_NEAR(DirectiveWeight(directive, Cell{"en", "fusion", ""}, "f"), 4 * f - 1, 1e-14);
  EXPECT_NEAR(DirectiveWeight(directive, Cell{"en", "fusion", ""}, "m"), (1 - f) * 4 / 3 - 1,
              1e-14);
  EXPECT_EQ(controller.group_weights()[0].share, 0.25);
}

TEST(FedMinMaxTest, LanguagesAreGroupsOfTheirOwnNotPooled) {
  // Pooled over languages both groups have risk 1 and μ would not move; per
  // language, en's f and de's m are the worse-off groups.
  StatisticsTable statistics;
  statistics[Cell{"en", "fusion", ""}]["f"] = Losses(2.0, 1);
  statistics[Cell{"en", "fusion", ""}]["m"] = Losses(0.0, 1);
  statistics[Cell{"de", "fusion", ""}]["f"] = Losses(0.0, 1);
  statistics[Cell{"de", "fusion", ""}]["m"] = Losses(2.0, 1);
  FedMinMaxController controller(1.0);
  controller.Update(statistics);
  // r̄ = 1: μ ∝ e^(±1) from 1/4 each.
  const double high = 1.0 / (2.0 * (1.0 + std::exp(-2.0)));
  const double low = 0.5 - high;
  EXPECT_THAT(ByName(controller.group_weights()),
              ElementsAre(testing::Pair("de/fusion: f", DoubleNear(low, 1e-15)),
                          testing::Pair("de/fusion: m", DoubleNear(high, 1e-15)),
                          testing::Pair("en/fusion: f", DoubleNear(high, 1e-15)),
                          testing::Pair("en/fusion: m", DoubleNear(low, 1e-15))));
}

TEST(FedMinMaxTest, ClientsArePooledIntoTheirCell) {
  StatisticsTable per_client;
  per_client[Cell{"en", "fusion", "a"}]["f"] = Losses(1.0, 1);
  per_client[Cell{"en", "fusion", "b"}]["f"] = Losses(0.0, 1);
  per_client[Cell{"en", "fusion", "a"}]["m"] = Losses(0.0, 2);
  StatisticsTable pooled;
  pooled[Cell{"en", "fusion", ""}]["f"] = Losses(1.0, 2);
  pooled[Cell{"en", "fusion", ""}]["m"] = Losses(0.0, 2);
  FedMinMaxController from_clients(1.0);
  FedMinMaxController from_cells(1.0);
  from_clients.Update(per_client);
  from_cells.Update(pooled);
  EXPECT_EQ(ByName(from_clients.group_weights()), ByName(from_cells.group_weights()));
}

TEST(FedMinMaxTest, NewPairsJoinAtOneOverSizeAndAbsentPairsKeepTheirWeight) {
  const double eta = 0.5;
  FedMinMaxController controller(eta);
  StatisticsTable first;
  first[Cell{"en", "fusion", ""}]["f"] = Losses(1.0, 1);
  first[Cell{"en", "fusion", ""}]["m"] = Losses(0.0, 1);
  controller.Update(first);
  const double en_f = 1.0 / (1.0 + std::exp(-eta));  // r̄ = 1/2.
  const double en_m = 1.0 - en_f;

  // de/f joins at 1/3, the others share 2/3 in their old ratio; en/m has no samples
  // this round, so only en/f (risk 3) and de/f (risk 1) move, around r̄ = 2.
  StatisticsTable second;
  second[Cell{"en", "fusion", ""}]["f"] = Losses(3.0, 1);
  second[Cell{"de", "fusion", ""}]["f"] = Losses(3.0, 3);
  controller.Update(second);
  const double joined[] = {1.0 / 3, en_f * 2 / 3, en_m * 2 / 3};  // de/f, en/f, en/m.
  const double moved[] = {joined[0] * std::exp(-eta), joined[1] * std::exp(eta), joined[2]};
  const double sum = moved[0] + moved[1] + moved[2];
  EXPECT_THAT(ByName(controller.group_weights()),
              ElementsAre(testing::Pair("de/fusion: f", DoubleNear(moved[0] / sum, 1e-15)),
                          testing::Pair("en/fusion: f", DoubleNear(moved[1] / sum, 1e-15)),
                          testing::Pair("en/fusion: m", DoubleNear(moved[2] / sum, 1e-15))));
  // The directive covers the pairs with samples, by this round's shares (3/4, 1/4).
  const FairnessDirective& directive = controller.directive();
  ASSERT_EQ(directive.weights.size(), 2u);
  EXPECT_NEAR(DirectiveWeight(directive, Cell{"de", "fusion", ""}, "f"), moved[0] / sum / 0.75 - 1,
              1e-14);
  EXPECT_NEAR(DirectiveWeight(directive, Cell{"en", "fusion", ""}, "f"), moved[1] / sum / 0.25 - 1,
              1e-14);
}

TEST(FedMinMaxTest, AHugeStepStaysFiniteAndALosingPairRecovers) {
  FedMinMaxController controller(1e6);
  StatisticsTable statistics;
  statistics[Cell{"en", "fusion", ""}]["f"] = Losses(1000.0, 1);
  statistics[Cell{"en", "fusion", ""}]["m"] = Losses(0.0, 1);
  controller.Update(statistics);
  std::map<std::string, double> weights = ByName(controller.group_weights());
  EXPECT_NEAR(weights["en/fusion: f"], 1.0, 1e-11);
  EXPECT_GE(weights["en/fusion: m"], FedMinMaxController::kSmallestWeight / 2);
  for (const CellGroupWeight& weight : controller.directive().weights) {
    EXPECT_TRUE(std::isfinite(weight.weight)) << weight.group;
  }
  std::swap(statistics[Cell{"en", "fusion", ""}]["f"], statistics[Cell{"en", "fusion", ""}]["m"]);
  controller.Update(statistics);
  weights = ByName(controller.group_weights());
  EXPECT_NEAR(weights["en/fusion: m"], 1.0, 1e-11);
}

TEST(FedMinMaxTest, ADamagedRecordRestoresToFiniteWeights) {
  const Cell en{"en", "fusion", ""};
  FedMinMaxController controller(1.0);
  controller.Restore({{en, "f", 0.0, 0.5},
                      {en, "m", 1.0, 0.5},
                      {en, "x", std::nan(""), 0.1},
                      {en, "y", 0.5, std::nan("")}});
  StatisticsTable statistics;
  statistics[en]["f"] = Losses(2.0, 1);
  statistics[en]["m"] = Losses(0.0, 1);
  controller.Update(statistics);
  double sum = 0;
  for (const GroupWeight& weight : controller.group_weights()) {
    EXPECT_TRUE(std::isfinite(weight.weight) && weight.weight > 0) << weight.group;
    EXPECT_NE(weight.group, "x");
    sum += weight.weight;
  }
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_EQ(controller.group_weights().size(), 3u);
}

TEST(FedMinMaxTest, ARestoredControllerContinuesWhereTheOtherStopped) {
  StatisticsTable first;
  first[Cell{"en", "fusion", ""}]["f"] = Losses(1.0, 1);
  first[Cell{"en", "fusion", ""}]["m"] = Losses(0.5, 3);
  StatisticsTable second;
  second[Cell{"en", "fusion", ""}]["f"] = Losses(0.2, 2);
  second[Cell{"de", "fusion", ""}]["m"] = Losses(4.0, 2);
  FedMinMaxController uninterrupted(0.7);
  uninterrupted.Update(first);
  FedMinMaxController restarted(0.7);
  restarted.Restore(uninterrupted.group_weights());
  // The restored directive is the one the next round would have been sent.
  ASSERT_EQ(restarted.directive().weights.size(), uninterrupted.directive().weights.size());
  for (size_t i = 0; i < restarted.directive().weights.size(); ++i) {
    EXPECT_DOUBLE_EQ(restarted.directive().weights[i].weight,
                     uninterrupted.directive().weights[i].weight);
  }
  uninterrupted.Update(second);
  restarted.Update(second);
  EXPECT_EQ(ByName(restarted.group_weights()), ByName(uninterrupted.group_weights()));
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

TEST(FairFedTest, ARestoredWeightingContinuesWhereTheOtherStopped) {
  const SliceMetric metric = [](const GroupsOfCell& groups) {
    const auto found = groups.find("f");
    return found == groups.end() ? 0.0 : found->second.mean_loss();
  };
  std::map<std::string, GroupsOfCell> first;
  first["a"]["f"] = Losses(1.0, 1);
  first["b"]["f"] = Losses(0.0, 3);
  std::map<std::string, GroupsOfCell> second;
  second["a"]["f"] = Losses(0.5, 2);
  second["c"]["f"] = Losses(2.0, 2);
  FairFedWeights uninterrupted(0.1, metric);
  uninterrupted.Update(first, {{"a", 1}, {"b", 3}});
  FairFedWeights restarted(0.1, metric);
  restarted.Restore(uninterrupted.client_weights());
  EXPECT_DOUBLE_EQ(restarted.Weight("c", 4), uninterrupted.Weight("c", 4));  // n over a and b.
  uninterrupted.Update(second, {{"a", 2}, {"c", 4}});
  restarted.Update(second, {{"a", 2}, {"c", 4}});
  for (const char* client : {"a", "b", "c"}) {
    EXPECT_DOUBLE_EQ(restarted.Weight(client, 1), uninterrupted.Weight(client, 1)) << client;
  }
  ASSERT_EQ(restarted.client_weights().size(), 3u);
  EXPECT_EQ(restarted.client_weights()[2].samples, 4u);
}

}  // namespace
}  // namespace equifl::fairness
