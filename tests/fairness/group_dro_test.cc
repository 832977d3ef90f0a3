#include "fairness/group_dro.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "fairness/accuracy_gap_interval.h"

namespace equifl::fairness {
namespace {

using testing::DoubleNear;
using testing::ElementsAre;
using testing::IsEmpty;

// Φ⁻¹(0.95), the one-sided z of the default confidence.
constexpr double kZ = 1.6448536269514722;

// A group of `count` losses with mean `mean` and sample deviation `deviation`:
// the sums a client would report.
GroupStatistics Losses(double mean, double deviation, uint64_t count) {
  const double n = static_cast<double>(count);
  GroupStatistics statistics;
  statistics.count = count;
  statistics.loss_sum = mean * n;
  statistics.loss_square_sum = deviation * deviation * (n - 1) + mean * mean * n;
  return statistics;
}

// One English fusion cell with groups f and m, 100 samples each, deviation 0.5
// (standard error 0.05).
StatisticsTable TwoGroups(double f_mean, double m_mean) {
  return {{{"en", kFusionView, ""},
           {{"f", Losses(f_mean, 0.5, 100)}, {"m", Losses(m_mean, 0.5, 100)}}}};
}

std::map<std::string, double> QByName(const GroupDroController& controller) {
  std::map<std::string, double> named;
  for (const GroupDroWeight& weight : controller.weights()) {
    named[CellName(weight.cell) + ": " + weight.group] = weight.weight;
  }
  return named;
}

// Without the probe, which the first test below checks on its own.
GroupDroOptions Options(uint32_t reference_rounds) {
  GroupDroOptions options;
  options.reference_rounds = reference_rounds;
  options.probe_rounds = 0;
  return options;
}

TEST(GroupDroTest, TheStepMovesQByWhatTheConfidenceBoundSaysIsReal) {
  EXPECT_NEAR(NormalQuantile(0.95), kZ, 1e-9);
  GroupDroController controller(Options(3));
  controller.Update(TwoGroups(1.0, 0.6), BoundVerdict::kViolated);
  // Cell mean 0.8; f is 0.2 above it, m 0.2 below, each shrunk by z·0.05:
  // gains ±(0.2 − 0.0822), from q = (1/2, 1/2) with η = 1.
  const double gain = 0.2 - kZ * 0.05;
  const double q_f = std::exp(gain) / (std::exp(gain) + std::exp(-gain));
  EXPECT_THAT(QByName(controller),
              ElementsAre(testing::Pair("en/fusion: f", DoubleNear(q_f, 1e-12)),
                          testing::Pair("en/fusion: m", DoubleNear(1 - q_f, 1e-12))));
  // A difference within the noise (0.02 each way, shrink 0.082) leaves q alone.
  GroupDroController noise(Options(3));
  noise.Update(TwoGroups(0.82, 0.78), BoundVerdict::kViolated);
  EXPECT_THAT(QByName(noise), ElementsAre(testing::Pair("en/fusion: f", DoubleNear(0.5, 1e-15)),
                                          testing::Pair("en/fusion: m", DoubleNear(0.5, 1e-15))));
}

TEST(GroupDroTest, AlphaWaitsForTheReferencesThenFollowsTheVerdict) {
  GroupDroController controller(Options(2));
  const StatisticsTable table = TwoGroups(0.7, 0.7);
  controller.Update(table, BoundVerdict::kViolated);
  EXPECT_EQ(controller.alpha(), 0);
  EXPECT_EQ(controller.last_step(), AlphaStep::kWarmingUp);
  EXPECT_THAT(controller.directive().weights, IsEmpty());
  // The second measurement completes the references: α may move now.
  controller.Update(table, BoundVerdict::kViolated);
  EXPECT_DOUBLE_EQ(controller.alpha(), 0.25);
  EXPECT_EQ(controller.last_step(), AlphaStep::kRaised);
  for (int round = 0; round < 5; ++round) controller.Update(table, BoundVerdict::kViolated);
  EXPECT_DOUBLE_EQ(controller.alpha(), 1.0);  // Never above 1.
  controller.Update(table, BoundVerdict::kUndetermined);
  EXPECT_DOUBLE_EQ(controller.alpha(), 1.0);
  EXPECT_EQ(controller.last_step(), AlphaStep::kKept);
  controller.Update(table, BoundVerdict::kHeld);
  EXPECT_DOUBLE_EQ(controller.alpha(), 0.75);
  EXPECT_EQ(controller.last_step(), AlphaStep::kLowered);
  for (int round = 0; round < 5; ++round) controller.Update(table, BoundVerdict::kHeld);
  EXPECT_EQ(controller.alpha(), 0);  // Never below 0.
}

// The probe: after the references, the first round whose bound is not held sets
// α to 1 for probe_rounds rounds, the guard suspended (f's loss here is far above
// its level); then the usual rules, from 1, with the guard back. A run whose
// bound holds when the references are in does not probe.
TEST(GroupDroTest, TheProbeHoldsFullWeightForItsRoundsThenTheRulesResume) {
  GroupDroOptions options = Options(1);
  options.probe_rounds = 2;
  GroupDroController controller(options);
  controller.Update(TwoGroups(0.7, 0.7), BoundVerdict::kHeld);
  EXPECT_EQ(controller.alpha(), 0);
  EXPECT_EQ(controller.last_step(), AlphaStep::kLowered);
  controller.Update(TwoGroups(0.7, 0.7), BoundVerdict::kUndetermined);
  EXPECT_EQ(controller.alpha(), 1);
  EXPECT_EQ(controller.last_step(), AlphaStep::kProbing);
  EXPECT_EQ(std::string(AlphaStepName(controller.last_step())), "probing the floor at full weight");
  controller.Update(TwoGroups(1.5, 0.7), BoundVerdict::kHeld);  // Harm, and held: still 1.
  EXPECT_EQ(controller.alpha(), 1);
  EXPECT_EQ(controller.last_step(), AlphaStep::kProbing);
  EXPECT_THAT(controller.harmed(), IsEmpty());
  controller.Update(TwoGroups(1.5, 0.7), BoundVerdict::kViolated);  // The guard is back.
  EXPECT_EQ(controller.alpha(), 0.5);
  EXPECT_EQ(controller.last_step(), AlphaStep::kPulledBack);
  // Once only.
  controller.Update(TwoGroups(0.7, 0.7), BoundVerdict::kViolated);
  EXPECT_EQ(controller.alpha(), 0.75);
  EXPECT_EQ(controller.last_step(), AlphaStep::kRaised);

  GroupDroController without(Options(1));  // probe_rounds 0
  without.Update(TwoGroups(0.7, 0.7), BoundVerdict::kViolated);
  EXPECT_EQ(without.alpha(), 0.25);
}

TEST(GroupDroTest, AnUndeterminedBoundRaisesAlphaOnAPairConfidentlyAboveItsCell) {
  // Cell mean 0.8: f is 0.2 above it, standard error 0.05. With two pairs the
  // corrected z is Φ⁻¹(1 − 0.05/2) = 1.96: 0.2 − 0.098 > 0, α rises.
  GroupDroController above(Options(1));
  above.Update(TwoGroups(1.0, 0.6), BoundVerdict::kUndetermined);
  EXPECT_DOUBLE_EQ(above.alpha(), 0.25);
  EXPECT_EQ(above.last_step(), AlphaStep::kRaisedOnEvidence);
  // f 0.09 above: beyond one pair's z (0.09 − 0.082 > 0) but not the corrected one
  // (0.09 − 0.098 < 0): α stays.
  GroupDroController within(Options(1));
  within.Update(TwoGroups(0.89, 0.71), BoundVerdict::kUndetermined);
  EXPECT_EQ(within.alpha(), 0);
  EXPECT_EQ(within.last_step(), AlphaStep::kKept);
  // A bound that holds lowers α whatever a pair shows.
  above.Update(TwoGroups(1.0, 0.6), BoundVerdict::kHeld);
  EXPECT_EQ(above.alpha(), 0);
}

TEST(GroupDroTest, TheDirectiveMixesErmAndQByHand) {
  // 300 f and 100 m samples: ρ = (0.75, 0.25). After one step q_f = q (above).
  StatisticsTable table = {
      {{"en", kFusionView, ""}, {{"f", Losses(1.0, 0.5, 300)}, {"m", Losses(0.6, 0.5, 100)}}}};
  GroupDroController controller(Options(1));
  controller.Update(table, BoundVerdict::kViolated);
  ASSERT_DOUBLE_EQ(controller.alpha(), 0.25);
  // Cell mean 0.9: f is 0.1 above (shrink z·0.5/√300), m 0.3 below (shrink z·0.05).
  const double gain_f = 0.1 - kZ * 0.5 / std::sqrt(300.0);
  const double gain_m = -(0.3 - kZ * 0.05);
  const double q_f = std::exp(gain_f) / (std::exp(gain_f) + std::exp(gain_m));
  const double alpha = 0.25;
  ASSERT_EQ(controller.directive().weights.size(), 2u);
  EXPECT_NEAR(controller.directive().weights[0].weight, alpha * (q_f / 0.75 - 1), 1e-12);
  EXPECT_NEAR(controller.directive().weights[1].weight, alpha * ((1 - q_f) / 0.25 - 1), 1e-12);
  EXPECT_EQ(controller.directive().weights[0].group, "f");
  EXPECT_DOUBLE_EQ(controller.directive().sample_weight_cap, 5.0);
  // Each sample weighs 1 + weight; over the federation they average 1.
  EXPECT_NEAR(0.75 * (1 + controller.directive().weights[0].weight) +
                  0.25 * (1 + controller.directive().weights[1].weight),
              1.0, 1e-12);
}

TEST(GroupDroTest, TheGuardPullsAlphaBackWhenAGroupIsWorseThanUnderFedAvg) {
  GroupDroController controller(Options(1));
  controller.Update(TwoGroups(1.0, 0.6), BoundVerdict::kViolated);  // Levels 1.0 and 0.6.
  ASSERT_DOUBLE_EQ(controller.alpha(), 0.25);
  // m up by 0.1: the increase's lower bound 0.1 − z·√(0.05² + 0.05²) = −0.016 is
  // within the 0.05 margin, so α steps with the verdict.
  controller.Update(TwoGroups(0.9, 0.7), BoundVerdict::kViolated);
  EXPECT_DOUBLE_EQ(controller.alpha(), 0.5);
  EXPECT_THAT(controller.harmed(), IsEmpty());
  // m up by 0.3: lower bound 0.3 − 0.116 = 0.184 > 0.05: α halves, though violated.
  controller.Update(TwoGroups(0.9, 0.9), BoundVerdict::kViolated);
  EXPECT_DOUBLE_EQ(controller.alpha(), 0.25);
  EXPECT_EQ(controller.last_step(), AlphaStep::kPulledBack);
  EXPECT_THAT(controller.harmed(), ElementsAre("en/fusion: m"));

  // At α = 0 the same rise is not group DRO's doing: α follows the verdict.
  GroupDroController at_zero(Options(1));
  at_zero.Update(TwoGroups(1.0, 0.6), BoundVerdict::kHeld);
  ASSERT_EQ(at_zero.alpha(), 0);
  at_zero.Update(TwoGroups(0.9, 0.9), BoundVerdict::kViolated);
  EXPECT_DOUBLE_EQ(at_zero.alpha(), 0.25);
  EXPECT_THAT(at_zero.harmed(), IsEmpty());

  GroupDroOptions levelling = Options(1);
  levelling.allow_levelling_down = true;
  GroupDroController unguarded(levelling);
  unguarded.Update(TwoGroups(1.0, 0.6), BoundVerdict::kViolated);
  unguarded.Update(TwoGroups(0.9, 0.9), BoundVerdict::kViolated);
  EXPECT_DOUBLE_EQ(unguarded.alpha(), 0.5);
  EXPECT_THAT(unguarded.harmed(), IsEmpty());
}

TEST(GroupDroTest, ARestoredControllerContinuesExactly) {
  GroupDroController original(Options(2));
  original.Update(TwoGroups(1.0, 0.6), BoundVerdict::kViolated);
  original.Update(TwoGroups(0.95, 0.6), BoundVerdict::kViolated);
  original.Update(TwoGroups(0.9, 0.62), BoundVerdict::kViolated);
  GroupDroController restored(Options(2));
  restored.Restore(original.alpha(), original.weights());
  EXPECT_EQ(restored.alpha(), original.alpha());
  original.Update(TwoGroups(0.9, 0.9), BoundVerdict::kViolated);
  restored.Update(TwoGroups(0.9, 0.9), BoundVerdict::kViolated);
  EXPECT_EQ(restored.alpha(), original.alpha());
  EXPECT_EQ(restored.harmed(), original.harmed());
  const std::map<std::string, double> expected = QByName(original);
  for (const auto& [name, weight] : QByName(restored)) {
    EXPECT_NEAR(weight, expected.at(name), 1e-15) << name;
  }
  ASSERT_EQ(restored.directive().weights.size(), original.directive().weights.size());
  for (size_t i = 0; i < restored.directive().weights.size(); ++i) {
    EXPECT_NEAR(restored.directive().weights[i].weight, original.directive().weights[i].weight,
                1e-14);
  }

  // A damaged record: a NaN weight is dropped, α out of range clamped.
  std::vector<GroupDroWeight> damaged = original.weights();
  damaged[0].weight = std::numeric_limits<double>::quiet_NaN();
  GroupDroController repaired(Options(2));
  repaired.Restore(7.0, damaged);
  EXPECT_EQ(repaired.alpha(), 1.0);
  EXPECT_THAT(QByName(repaired), ElementsAre(testing::Pair("en/fusion: m", 1.0)));
}

TEST(GroupDroTest, PerClientCellsKeepTheirClientAndPooledOnesDoNot) {
  StatisticsTable table = {
      {{"en", kFusionView, "a"}, {{"f", Losses(1.0, 0.5, 100)}, {"m", Losses(0.6, 0.5, 100)}}},
      {{"en", kFusionView, "b"}, {{"f", Losses(0.6, 0.5, 100)}, {"m", Losses(1.0, 0.5, 100)}}},
      {{"en", "video", "a"}, {{"f", Losses(3.0, 0.5, 100)}, {"m", Losses(0.1, 0.5, 100)}}}};
  GroupDroOptions per_client = Options(1);
  per_client.per_client_cells = true;
  GroupDroController kept(per_client);
  kept.Update(table, BoundVerdict::kViolated);
  EXPECT_EQ(kept.weights().size(), 4u);  // (a, f), (a, m), (b, f), (b, m); no video.
  EXPECT_GT(QByName(kept)["en/fusion/a: f"], QByName(kept)["en/fusion/a: m"]);
  EXPECT_GT(QByName(kept)["en/fusion/b: m"], QByName(kept)["en/fusion/b: f"]);
  // Pooled, the two clients' opposite gaps cancel: q stays uniform.
  GroupDroController pooled(Options(1));
  pooled.Update(table, BoundVerdict::kViolated);
  EXPECT_THAT(QByName(pooled), ElementsAre(testing::Pair("en/fusion: f", DoubleNear(0.5, 1e-15)),
                                           testing::Pair("en/fusion: m", DoubleNear(0.5, 1e-15))));
}

// Fixed weights: 150 f and 850 m samples (ρ = 0.15, 0.85). A sample weighs
// s_i = ρ_i^(−t)/Σ_j ρ_j^(1 − t), whatever the verdict and from the first
// statistics on: t = 0 all 1; t = 1 group-balanced, 1/(2·0.15) and 1/(2·0.85);
// t = 2 (1/0.15², 1/0.85²)/(1/0.15 + 1/0.85).
TEST(GroupDroTest, FixedWeightsTiltTheSharesByHand) {
  const StatisticsTable table = {
      {{"en", kFusionView, ""}, {{"f", Losses(1.0, 0.5, 150)}, {"m", Losses(0.6, 0.5, 850)}}}};
  const double inverse_sum = 1 / 0.15 + 1 / 0.85;
  const struct {
    double power, f, m;
  } cases[] = {{0, 1, 1},
               {1, 1 / 0.30, 1 / 1.70},
               {2, 1 / (0.15 * 0.15) / inverse_sum, 1 / (0.85 * 0.85) / inverse_sum}};
  for (const auto& expected : cases) {
    SCOPED_TRACE(expected.power);
    GroupDroOptions options = Options(3);
    options.fixed_power = expected.power;
    GroupDroController controller(options);
    controller.Update(table, BoundVerdict::kHeld);
    EXPECT_EQ(controller.alpha(), 1);
    EXPECT_EQ(controller.last_step(), AlphaStep::kFixed);
    const std::vector<CellGroupWeight>& weights = controller.directive().weights;
    ASSERT_EQ(weights.size(), 2u);
    EXPECT_EQ(weights[0].group, "f");
    EXPECT_NEAR(1 + weights[0].weight, expected.f, 1e-12);
    EXPECT_NEAR(1 + weights[1].weight, expected.m, 1e-12);
    EXPECT_NEAR(0.15 * (1 + weights[0].weight) + 0.85 * (1 + weights[1].weight), 1.0, 1e-12);
    EXPECT_DOUBLE_EQ(controller.directive().sample_weight_cap, 5.0);
  }
}

TEST(GroupDroTest, OptionsOutOfRangeAreNamed) {
  GroupDroOptions options;
  EXPECT_TRUE(options.Validate().ok());
  options.weight_cap = 0.5;
  EXPECT_THAT(std::string(options.Validate().message()), testing::HasSubstr("weight_cap"));
  options = {};
  options.alpha_step = 1.5;
  EXPECT_THAT(std::string(options.Validate().message()), testing::HasSubstr("alpha_step"));
  options = {};
  options.reference_rounds = 0;
  EXPECT_THAT(std::string(options.Validate().message()), testing::HasSubstr("reference_rounds"));
  options = {};
  options.fixed_power = -0.5;
  EXPECT_THAT(std::string(options.Validate().message()),
              testing::HasSubstr("fixed_weights_power is -0.5"));
  options.fixed_power = 2;
  EXPECT_TRUE(options.Validate().ok());
}

}  // namespace
}  // namespace equifl::fairness
