// The fairness statistics under client-level DP: each client's table bounded by
// hand-computed values and within the sensitivity the noise is sized for, and the
// noise of the stated deviation on every entry of the grid, present or not.
#include "aggregation/privacy/statistics_privacy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace equifl::aggregation {
namespace {

using ::equifl::test::IsOk;
using fairness::Cell;
using fairness::GroupStatistics;
using fairness::StatisticsTable;

GroupStatistics Group(uint64_t count, double loss_sum, double square_sum,
                      std::vector<uint64_t> confusion) {
  GroupStatistics group;
  group.count = count;
  group.loss_sum = loss_sum;
  group.loss_square_sum = square_sum;
  group.num_classes = 2;
  group.confusion = std::move(confusion);
  return group;
}

// A grid of one language and the fusion view.
StatisticsLayout Grid(std::vector<std::string> languages, std::vector<std::string> groups,
                      uint32_t classes) {
  StatisticsLayout grid;
  grid.languages = std::move(languages);
  grid.views = {"fusion"};
  grid.groups = std::move(groups);
  grid.num_classes = classes;
  return grid;
}

TEST(StatisticsPrivacyTest, BoundScalesAViewPastBSamplesAndClampsLossesByHand) {
  StatisticsTable table;
  // The fusion view counts 300 samples over two languages: scaled by 100 / 300.
  table[Cell{"en", "fusion", ""}]["f"] = Group(150, 150, 300, {60, 30, 30, 30});
  table[Cell{"de", "fusion", ""}]["m"] = Group(150, 1500, 30000, {150, 0, 0, 0});
  // The audio view counts 40: not scaled, but its loss sums are clamped to L·count.
  table[Cell{"en", "audio", ""}]["f"] = Group(40, 400, 4000, {10, 10, 10, 10});
  // Confusion counts beyond the count are scaled down to it.
  table[Cell{"en", "audio", ""}]["m"] = Group(10, 5, 5, {20, 0, 0, 20});
  BoundContribution(table, {.noise_multiplier = 1, .samples_per_view = 100, .loss_clip = 4});

  const GroupStatistics& fusion_f = table[Cell{"en", "fusion", ""}]["f"];
  EXPECT_EQ(fusion_f.count, 50u);
  EXPECT_DOUBLE_EQ(fusion_f.loss_sum, 50);          // 150 / 3, under 4·50
  EXPECT_DOUBLE_EQ(fusion_f.loss_square_sum, 100);  // 300 / 3
  EXPECT_EQ(fusion_f.confusion, (std::vector<uint64_t>{20, 10, 10, 10}));
  const GroupStatistics& fusion_m = table[Cell{"de", "fusion", ""}]["m"];
  EXPECT_EQ(fusion_m.count, 50u);
  EXPECT_DOUBLE_EQ(fusion_m.loss_sum, 200);         // 500 clamped to 4·50
  EXPECT_DOUBLE_EQ(fusion_m.loss_square_sum, 800);  // 10000 clamped to 16·50
  const GroupStatistics& audio_f = table[Cell{"en", "audio", ""}]["f"];
  EXPECT_EQ(audio_f.count, 40u);
  EXPECT_DOUBLE_EQ(audio_f.loss_sum, 160);
  EXPECT_DOUBLE_EQ(audio_f.loss_square_sum, 640);
  const std::vector<uint64_t> limited = {5, 0, 0, 5};
  EXPECT_EQ((table[Cell{"en", "audio", ""}]["m"].confusion), limited);
}

// A selection view's samples are not the fusion view's: the two share one budget
// of B samples (80 + 40 = 120 > 100: both scaled by 100 / 120), and the view does not
// count towards S.
TEST(StatisticsPrivacyTest, TheSelectionViewSharesTheFusionViewsBudget) {
  StatisticsTable table;
  table[Cell{"en", "fusion", ""}]["f"] = Group(60, 60, 60, {30, 0, 0, 30});
  table[Cell{"en", "fusion", ""}]["m"] = Group(24, 24, 24, {12, 0, 0, 12});
  table[Cell{"en", "selection@0.3", ""}]["f"] = Group(36, 36, 36, {18, 0, 0, 18});
  BoundContribution(table, {.noise_multiplier = 1, .samples_per_view = 100, .loss_clip = 4});
  EXPECT_EQ((table[Cell{"en", "fusion", ""}]["f"].count), 50u);
  EXPECT_EQ((table[Cell{"en", "fusion", ""}]["m"].count), 20u);
  EXPECT_EQ((table[Cell{"en", "selection@0.3", ""}]["f"].count), 30u);
  EXPECT_EQ(BudgetedViews({"fusion", "selection@0.3", "video"}), 2u);
  EXPECT_EQ(BudgetedViews({"fusion", "video"}), 2u);
}

// In units of (count, loss / L, square / L², confusion) a bounded view's vector is
// at most 2B long, whatever the client sent: S = 2B·√(2V) covers two splits.
TEST(StatisticsPrivacyTest, ABoundedTableIsWithinTheSensitivity) {
  const StatisticsPrivacyOptions options{
      .noise_multiplier = 1, .samples_per_view = 64, .loss_clip = 3};
  random::Engine engine = random::MakeEngine(7, 0);
  std::uniform_int_distribution<uint64_t> counts(0, 400);
  std::uniform_real_distribution<double> losses(0, 40);
  for (int draw = 0; draw < 200; ++draw) {
    StatisticsTable table;
    for (const char* language : {"en", "de", "ja"}) {
      for (const char* view : {"fusion", "video"}) {
        for (const char* group : {"f", "m", "x"}) {
          const uint64_t count = counts(engine);
          table[Cell{language, view, ""}][group] =
              Group(count, losses(engine) * count, losses(engine) * losses(engine) * count,
                    {counts(engine), counts(engine), counts(engine), counts(engine)});
        }
      }
    }
    BoundContribution(table, options);
    std::map<std::string, double> squared_norm;
    for (const auto& [cell, groups] : table) {
      for (const auto& [name, group] : groups) {
        double square = std::pow(static_cast<double>(group.count), 2) +
                        std::pow(group.loss_sum / 3, 2) + std::pow(group.loss_square_sum / 9, 2);
        for (uint64_t count : group.confusion) square += std::pow(static_cast<double>(count), 2);
        squared_norm[cell.modality] += square;
      }
    }
    for (const auto& [view, square] : squared_norm) {
      EXPECT_LE(std::sqrt(square), 2.0 * 64 + 1e-9) << "view " << view << ", draw " << draw;
    }
  }
  EXPECT_DOUBLE_EQ(StatisticsSensitivity(options, 2), 2 * 64 * std::sqrt(4.0));
}

// The server receives every entry with noise of deviation σ = z_s·S on counts and
// confusion counts, σ·L on loss sums and σ·L² on squares: z_s = 2, B = 5, V = 1,
// L = 2 give S = 10·√2 and σ = 28.28. Over 2,000 draws each deviation's estimate is
// within 6% (its own standard error is 1.6%) and each mean within 4 standard errors.
TEST(StatisticsPrivacyTest, TheNoiseHasTheStatedDeviationOnEveryEntryOfTheGrid) {
  const StatisticsPrivacyOptions options{
      .noise_multiplier = 2, .samples_per_view = 5, .loss_clip = 2};
  const double sigma = 2 * 10 * std::sqrt(2.0);
  const StatisticsLayout grid = Grid({"en"}, {"f", "m"}, 2);
  const Cell cell{"en", "fusion", ""};
  // Large sums, so clamping and rounding play no part; group "m" is absent.
  const GroupStatistics truth = Group(100000, 150000, 350000, {40000, 10000, 20000, 30000});
  random::Engine engine = random::MakeEngine(11, 0);
  constexpr int kDraws = 2000;
  std::vector<std::vector<double>> errors(4 + 4);
  int absent_present = 0;
  for (int draw = 0; draw < kDraws; ++draw) {
    StatisticsTable table;
    table[cell]["f"] = truth;
    ASSERT_THAT(AddNoise(table, grid, options, engine), IsOk());
    const GroupStatistics& noised = table.at(cell).at("f");
    errors[0].push_back(static_cast<double>(noised.count) - 100000);
    errors[1].push_back(noised.loss_sum - truth.loss_sum);
    errors[2].push_back(noised.loss_square_sum - truth.loss_square_sum);
    for (size_t i = 0; i < 4; ++i) {
      errors[3 + i].push_back(static_cast<double>(noised.confusion[i]) -
                              static_cast<double>(truth.confusion[i]));
    }
    EXPECT_DOUBLE_EQ(noised.noise.count, sigma * sigma);
    EXPECT_DOUBLE_EQ(noised.noise.loss_sum, sigma * sigma * 4);
    EXPECT_DOUBLE_EQ(noised.noise.loss_square_sum, sigma * sigma * 16);
    EXPECT_DOUBLE_EQ(noised.noise.confusion, sigma * sigma);
    if (table.at(cell).contains("m")) {
      ++absent_present;
      const GroupStatistics& phantom = table.at(cell).at("m");
      EXPECT_GE(phantom.count, 1u);
      EXPECT_LE(phantom.loss_sum, 2.0 * static_cast<double>(phantom.count));
      EXPECT_LE(phantom.loss_square_sum, 4.0 * static_cast<double>(phantom.count));
    }
  }
  const std::vector<double> deviations = {sigma, sigma * 2, sigma * 4, sigma, sigma, sigma, sigma};
  for (size_t kind = 0; kind < deviations.size(); ++kind) {
    double sum = 0;
    double square = 0;
    for (double error : errors[kind]) {
      sum += error;
      square += error * error;
    }
    const double mean = sum / kDraws;
    const double deviation = std::sqrt(square / kDraws - mean * mean);
    EXPECT_NEAR(deviation / deviations[kind], 1.0, 0.06) << "kind " << kind;
    EXPECT_LT(std::abs(mean), 4 * deviations[kind] / std::sqrt(kDraws)) << "kind " << kind;
  }
  // The absent group's count is N(0, σ²) rounded, kept when at least 1: about 49%.
  EXPECT_GT(absent_present, kDraws * 40 / 100);
  EXPECT_LT(absent_present, kDraws * 58 / 100);
}

TEST(StatisticsPrivacyTest, GridValuesRoundTripAndAnImpossibleSumIsNamed) {
  const StatisticsLayout grid = Grid({"de", "en"}, {"f", "m"}, 2);
  StatisticsTable table;
  table[Cell{"en", "fusion", ""}]["m"] = Group(10, 12.5, 20, {4, 1, 2, 3});
  absl::StatusOr<std::vector<double>> values = GridValues(table, grid);
  ASSERT_THAT(values, IsOk());
  // Entries (de, f), (de, m), (en, f), (en, m), each 3 + 4 values.
  ASSERT_EQ(values->size(), 4u * 7);
  EXPECT_EQ(std::vector<double>(values->begin() + 21, values->end()),
            (std::vector<double>{12.5, 20, 10, 4, 1, 2, 3}));
  const fairness::SumNoise noise{.count = 4, .loss_sum = 1, .loss_square_sum = 2, .confusion = 4};
  const StatisticsTable back = TableFromNoisedValues(*values, grid, 4, noise);
  ASSERT_EQ(back.size(), 1u);
  const GroupStatistics& group = back.at(Cell{"en", "fusion", ""}).at("m");
  EXPECT_EQ(group.count, 10u);
  EXPECT_EQ(group.loss_sum, 12.5);
  EXPECT_EQ(group.confusion, (std::vector<uint64_t>{4, 1, 2, 3}));
  EXPECT_EQ(group.noise.loss_square_sum, 2);

  const StatisticsPrivacyOptions bound{
      .noise_multiplier = 1, .samples_per_view = 5, .loss_clip = 4};
  // Two clients of at most 5 samples: counts up to 10 + 10σ, loss sums to 40 + 40σ.
  EXPECT_THAT(CheckNoisedSum(*values, grid, bound, 2, 0.5), IsOk());
  (*values)[21] = 40 + 40 * 0.5 + 1;
  EXPECT_THAT(CheckNoisedSum(*values, grid, bound, 2, 0.5).message(),
              ::testing::HasSubstr("noised loss sum 61 of entry 3, beyond 10 noise deviations"));
  (*values)[21] = 12.5;
  (*values)[2] = -5.5;
  EXPECT_THAT(CheckNoisedSum(*values, grid, bound, 2, 0.5).message(),
              ::testing::HasSubstr("noised count -5.5 of entry 0"));

  table[Cell{"en", "audio", ""}]["m"] = Group(1, 1, 1, {1, 0, 0, 0});
  EXPECT_THAT(GridValues(table, grid).status().message(),
              ::testing::HasSubstr("group 'm' of cell en/audio is not on the run's grid"));
}

// A negative noised confusion count becomes 0 and the same row's other counts pay
// for it, wrong predictions (largest first) before right ones, so the row keeps its
// noisy sum while it can: clamping alone would inflate sparse rows.
TEST(StatisticsPrivacyTest, NegativeConfusionCountsArePaidForWithinTheirRowByHand) {
  const StatisticsLayout grid = Grid({"en"}, {"f"}, 3);
  // Loss sum, sum of squares, count, then the rows of the confusion counts:
  // 20 -3 5 (the 5 pays 3); 1 4 -6 (the 1, then the 4 pay 5; 1 stays unpaid);
  // 2 4 9 (nothing to pay).
  const std::vector<double> values = {1, 1, 30, 20.2, -3.4, 5, 1, 4, -6.2, 2, 3.6, 9};
  const StatisticsTable table = TableFromNoisedValues(values, grid, 4, {});
  EXPECT_EQ(table.at(Cell{"en", "fusion", ""}).at("f").confusion,
            (std::vector<uint64_t>{20, 0, 2, 0, 0, 0, 2, 4, 9}));
}

TEST(StatisticsPrivacyTest, AnEntryOfAnotherShapeIsRefusedNamingIt) {
  const StatisticsLayout grid = Grid({"en"}, {"f"}, 3);
  StatisticsTable table;
  table[Cell{"en", "fusion", ""}]["f"] = Group(10, 1, 1, {5, 0, 0, 5});
  random::Engine engine = random::MakeEngine(1, 0);
  EXPECT_THAT(
      AddNoise(table, grid, {.noise_multiplier = 1, .samples_per_view = 1, .loss_clip = 1}, engine)
          .message(),
      ::testing::HasSubstr("group 'f' of cell en/fusion carries 4 confusion counts"));
}

}  // namespace
}  // namespace equifl::aggregation
