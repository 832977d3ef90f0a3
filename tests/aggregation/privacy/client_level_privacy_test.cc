// Client-level DP on the server: clipping, the noise each client adds under
// secure aggregation, the fixed denominator and adaptive clipping's geometric
// update (Andrew et al. 2021), checked against values computed by hand, and how
// rounds are accounted.
#include "aggregation/privacy/client_level_privacy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace equifl::aggregation {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

PrivacyOptions Adaptive() {
  PrivacyOptions options;
  options.clip_norm = 1.0;
  options.noise_multiplier = 1e-6;  // noise far below every tolerance here
  options.adaptive_clipping = true;
  options.target_quantile = 0.5;
  options.clip_learning_rate = 0.2;
  options.clip_count_stddev = 1e-5;  // count noise far below every tolerance too
  return options;
}

TEST(ClientLevelPrivacyTest, ClipScalesLongUpdatesAndReportsWhetherItDid) {
  PrivacyOptions options;
  options.clip_norm = 1.0;
  ClientLevelPrivacy privacy(options, 0, 1.0);
  std::vector<float> short_update = {0.6f, 0.0f};
  EXPECT_TRUE(privacy.Clip(short_update));
  EXPECT_FLOAT_EQ(short_update[0], 0.6f);
  std::vector<float> long_update = {3.0f, 4.0f};
  EXPECT_FALSE(privacy.Clip(long_update));
  EXPECT_FLOAT_EQ(long_update[0], 0.6f);
  EXPECT_FLOAT_EQ(long_update[1], 0.8f);
}

TEST(ClientLevelPrivacyTest, ClientsSplitTheNoiseOverTheClientsTheRoundNeeds) {
  PrivacyOptions options = Adaptive();
  options.noise_multiplier = 1.0;
  options.clip_count_stddev = 2.0;
  ClientLevelPrivacy privacy(options, 0, 1.0);
  const ClientNoise noise = privacy.ForClients(4, 2);
  // σ_Δ = (1 - 1/16 - 1/4)^-1/2 beside z_s = 2; each of 4 clients adds σ_Δ·C / 2
  // and σ_b / 2, and on its statistics z_s·S / 2 with S = 2·100·√(2·2) over 2 views.
  EXPECT_DOUBLE_EQ(noise.noise_stddev, 1 / std::sqrt(1 - 1.0 / 16 - 1.0 / 4) / 2);
  EXPECT_DOUBLE_EQ(noise.indicator_noise_stddev, 1.0);
  EXPECT_EQ(noise.clip_norm, 1.0);
  EXPECT_DOUBLE_EQ(noise.statistics_noise_stddev, 2 * (2 * 100 * 2.0) / 2);
  EXPECT_EQ(noise.statistics.samples_per_view, 100u);
  EXPECT_EQ(noise.statistics.loss_clip, 4.0);
}

TEST(ClientLevelPrivacyTest, MeanUsesTheSelectedCountAndTheNormFollowsTheQuantile) {
  ClientLevelPrivacy privacy(Adaptive(), 0, 1.0);
  // 4 selected, 1 update within the norm: b = 1/4, so C becomes exp(-0.2 (0.25 - 0.5)).
  std::vector<float> sum = {4.0f, -8.0f};
  ASSERT_THAT(privacy.FinishRound(sum, 4, 4, 1.0, false), IsOk());
  EXPECT_NEAR(sum[0], 1.0, 1e-4);
  EXPECT_NEAR(sum[1], -2.0, 1e-4);
  EXPECT_NEAR(privacy.clip_norm(), std::exp(0.05), 1e-4);
  // Then every update within: C shrinks by exp(-0.2 · 0.5).
  ASSERT_THAT(privacy.FinishRound(sum, 4, 4, 4.0, false), IsOk());
  EXPECT_NEAR(privacy.clip_norm(), std::exp(0.05 - 0.1), 1e-4);
  EXPECT_EQ(privacy.rounds(), 2);
}

TEST(ClientLevelPrivacyTest, AFixedNormStaysFixed) {
  PrivacyOptions options = Adaptive();
  options.adaptive_clipping = false;
  ClientLevelPrivacy privacy(options, 0, 1.0);
  std::vector<float> sum = {1.0f};
  ASSERT_THAT(privacy.FinishRound(sum, 2, 2, 0.0, true), IsOk());
  EXPECT_EQ(privacy.clip_norm(), 1.0);
  EXPECT_FLOAT_EQ(sum[0], 0.5f);  // clients added the noise: the server only divides
}

// Each round is accounted as sampled without replacement at q = selected /
// population, charged z / 2 (the sum's sensitivity under replacement is 2C);
// rounds before a resume too. tests/aggregation/privacy/rdp_reference.py: z = 1.5,
// 1 of 25 clients, 2,250 rounds, δ = 1e-5 give ε = 52.328560440043 at order 2.
TEST(ClientLevelPrivacyTest, RoundsAreAccountedWithoutReplacementAtHalfTheMultiplier) {
  PrivacyOptions options;
  options.clip_norm = 1.0;
  options.noise_multiplier = 1.5;
  options.delta = 1e-5;
  EXPECT_EQ(options.AccountedNoiseMultiplier(), 0.75);
  ClientLevelPrivacy fresh(options, 0, 1.0);
  ClientLevelPrivacy resumed(options, 2249, 0.04);
  absl::StatusOr<PrivacyGuarantee> spent;
  for (int round = 0; round < 2250; ++round) {
    std::vector<float> sum = {0.0f};
    spent = fresh.FinishRound(sum, 1, 25, 1.0, false);
    ASSERT_THAT(spent, IsOk());
  }
  EXPECT_NEAR(spent->epsilon, 52.328560440043, 1e-8);
  EXPECT_EQ(spent->order, 2);
  std::vector<float> sum = {0.0f};
  absl::StatusOr<PrivacyGuarantee> after_resume = resumed.FinishRound(sum, 1, 25, 1.0, false);
  ASSERT_THAT(after_resume, IsOk());
  EXPECT_NEAR(after_resume->epsilon, spent->epsilon, 1e-9);
  EXPECT_EQ(resumed.rounds(), 2250);
}

TEST(ClientLevelPrivacyTest, TheRunStartLineSaysHowRoundsAreSampledAndAccounted) {
  PrivacyOptions options;
  EXPECT_EQ(DescribePrivacy(options), "");  // DP off
  options = Adaptive();
  options.noise_multiplier = 1.5;
  const std::string line = DescribePrivacy(options);
  EXPECT_THAT(line, HasSubstr("clipping norm 1 (adaptive, towards quantile 0.5)"));
  EXPECT_THAT(line, HasSubstr("noise multiplier z = 1.5, delta 1e-05"));
  EXPECT_THAT(line, HasSubstr("samples its clients without replacement"));
  EXPECT_THAT(line, HasSubstr("RDP of sampling without replacement"));
  EXPECT_THAT(line, HasSubstr("replacing one client's data"));
  EXPECT_THAT(line, HasSubstr("z / 2 = 0.75"));
  EXPECT_THAT(line, HasSubstr("Balle et al. 2020"));
  EXPECT_THAT(line, HasSubstr("a final evaluation is charged z_s / 2 = 1.5"));
  EXPECT_THAT(line, HasSubstr("(epsilon, delta) covers the model updates and the fairness "
                              "statistics"));
  EXPECT_THAT(line, HasSubstr("bounded to 100 samples per view and 4 nats per sample, noised at "
                              "z_s = 3"));
}

// A training round releases the update (σ_Δ) and the statistics (z_s) of the same
// clients: one Gaussian mechanism of multiplier (σ_Δ^-2 + z_s^-2)^-1/2 = z, charged
// z / 2; a final evaluation releases statistics only, charged z_s / 2. With every
// client selected (no sampling) the RDP at order α is α / (2σ²) per release, so
// after 3 rounds and an evaluation at z = 2, z_s = 4 (the default 2z) it is
// α/2 · (3 / 1² + 1 / 2²), and ε = min over the orders of RDP + log(1 − 1/α) −
// (log δ + log α) / (α − 1).
TEST(ClientLevelPrivacyTest, ARoundWithStatisticsIsChargedTheComposedMultiplier) {
  PrivacyOptions options;
  options.clip_norm = 1.0;
  options.noise_multiplier = 2.0;
  options.delta = 1e-5;
  ASSERT_THAT(options.Validate(), IsOk());
  EXPECT_EQ(options.StatisticsNoiseMultiplier(), 4.0);
  const double update = options.UpdateNoiseMultiplier();
  EXPECT_DOUBLE_EQ(update, 1 / std::sqrt(0.25 - 1.0 / 16));
  EXPECT_NEAR(1 / (update * update) + 1 / 16.0, 1 / 4.0, 1e-15);

  ClientLevelPrivacy privacy(options, 0, 1.0);
  for (int round = 0; round < 3; ++round) {
    std::vector<float> sum = {0.0f};
    ASSERT_THAT(privacy.FinishRound(sum, 5, 5, 0.0, false), IsOk());
  }
  absl::StatusOr<PrivacyGuarantee> spent = privacy.AccountStatisticsRelease(5, 5);
  ASSERT_THAT(spent, IsOk());
  double expected = std::numeric_limits<double>::infinity();
  for (double order : PrivacyAccountant::DefaultOrders()) {
    const double rdp = order / 2 * (3 / 1.0 + 1 / 4.0);
    expected = std::min(
        expected, rdp + std::log(1 - 1 / order) - (std::log(1e-5) + std::log(order)) / (order - 1));
  }
  EXPECT_NEAR(spent->epsilon, expected, 1e-9);
  EXPECT_EQ(privacy.rounds(), 4);
}

TEST(PrivacyOptionsTest, TheStatisticsMustLeaveTheUpdatesAShare) {
  PrivacyOptions options;
  options.clip_norm = 1;
  options.noise_multiplier = 1;
  options.statistics_noise_multiplier = 1;
  EXPECT_THAT(options.Validate().message(),
              HasSubstr("statistics_noise_multiplier 1 leaves the updates no share of "
                        "noise_multiplier 1"));
  options.statistics_noise_multiplier = 3;
  EXPECT_THAT(options.Validate(), IsOk());
  EXPECT_DOUBLE_EQ(options.UpdateNoiseMultiplier(), 1 / std::sqrt(1 - 1.0 / 9));
  options.statistics_samples_per_view = 0;
  EXPECT_THAT(options.Validate().message(), HasSubstr("statistics_samples_per_view is 0"));
  options.statistics_samples_per_view = 10;
  options.statistics_loss_clip = 0;
  EXPECT_THAT(options.Validate().message(), HasSubstr("statistics_loss_clip is 0"));
}

TEST(PrivacyOptionsTest, ValidateNamesTheField) {
  PrivacyOptions options;
  EXPECT_THAT(options.Validate(), IsOk());  // off
  options.clip_norm = -1;
  EXPECT_THAT(options.Validate().message(), HasSubstr("clip_norm is -1"));
  options.clip_norm = 1;
  options.noise_multiplier = 0;
  EXPECT_THAT(options.Validate().message(), HasSubstr("noise_multiplier is 0"));
  options.noise_multiplier = 1;
  options.delta = 1;
  EXPECT_THAT(options.Validate().message(), HasSubstr("delta is 1"));
}

}  // namespace
}  // namespace equifl::aggregation
