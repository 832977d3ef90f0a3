#include "fairness/accuracy_gap_interval.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace equifl::fairness {
namespace {

// A two-class group with `correct` of `total` samples predicted right.
GroupStatistics Group(uint64_t correct, uint64_t total) {
  GroupStatistics group;
  group.count = total;
  group.num_classes = 2;
  group.confusion = {correct, total - correct, 0, 0};
  return group;
}

TEST(NormalQuantileTest, MatchesTabulatedValues) {
  EXPECT_NEAR(NormalQuantile(0.975), 1.959963985, 1e-8);
  EXPECT_NEAR(NormalQuantile(0.995), 2.575829304, 1e-8);
  EXPECT_NEAR(NormalQuantile(0.5), 0, 1e-12);
  EXPECT_NEAR(NormalQuantile(0.05), -1.644853627, 1e-8);
}

TEST(NormalQuantileTest, SimultaneousZSplitsTheErrorOverComparisons) {
  EXPECT_NEAR(SimultaneousZ(0.95, 1), 1.959963985, 1e-8);
  // 5 comparisons: each two-sided at 1 %, Φ⁻¹(0.995).
  EXPECT_NEAR(SimultaneousZ(0.95, 5), 2.575829304, 1e-8);
  EXPECT_NEAR(SimultaneousZ(0.95, 0), 1.959963985, 1e-8);
}

TEST(WilsonIntervalTest, MatchesHandComputedValues) {
  // 8 of 10 at z = 1.96: centre (0.8 + 0.19208) / 1.38416 = 0.716738,
  // half-width 1.96·√(0.016 + 0.009604) / 1.38416 = 0.313624 / 1.38416 = 0.226581.
  const ProportionInterval interval = WilsonInterval(8, 10, 1.96);
  EXPECT_DOUBLE_EQ(interval.estimate, 0.8);
  EXPECT_NEAR(interval.lower, 0.490157, 2e-6);
  EXPECT_NEAR(interval.upper, 0.943319, 2e-6);
}

TEST(WilsonIntervalTest, NoTrialsIsTheWholeRange) {
  const ProportionInterval interval = WilsonInterval(0, 0, 1.96);
  EXPECT_EQ(interval.lower, 0);
  EXPECT_EQ(interval.upper, 1);
}

TEST(CellAccuracyGapTest, MatchesNewcombesPublishedExample) {
  // Newcombe (1998), Statistics in Medicine 17:873, Table II, example (a):
  // 56/70 − 48/80 = 0.2000, method 10 (hybrid score): 0.0524 to 0.3339.
  const GroupsOfCell groups = {{"a", Group(56, 70)}, {"b", Group(48, 80)}};
  const std::optional<AccuracyGapInterval> gap = CellAccuracyGap(groups, 1.959963985);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->best_group, "a");
  EXPECT_EQ(gap->worst_group, "b");
  EXPECT_NEAR(gap->gap, 0.2, 1e-12);
  EXPECT_NEAR(gap->lower, 0.0524, 5e-5);
  EXPECT_NEAR(gap->upper, 0.3339, 5e-5);
}

TEST(CellAccuracyGapTest, PicksTheMostAndLeastAccurateGroups) {
  const GroupsOfCell groups = {
      {"a", Group(5, 10)}, {"b", Group(9, 10)}, {"c", Group(2, 10)}, {"d", GroupStatistics{}}};
  const std::optional<AccuracyGapInterval> gap = CellAccuracyGap(groups, 1.96);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->best_group, "b");
  EXPECT_EQ(gap->worst_group, "c");
  EXPECT_NEAR(gap->gap, 0.7, 1e-12);
}

TEST(CellAccuracyGapTest, TiedGroupsAreTwoDifferentGroups) {
  const GroupsOfCell groups = {{"a", Group(4, 4)}, {"b", Group(4, 4)}, {"c", Group(4, 4)}};
  const std::optional<AccuracyGapInterval> gap = CellAccuracyGap(groups, 1.96);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->best_group, "a");
  EXPECT_EQ(gap->worst_group, "b");
  EXPECT_EQ(gap->gap, 0);
}

TEST(CellAccuracyGapTest, TiesAtTheBottomGoToTheFirstName) {
  // The best group comes last: the least accurate is still the first of the tied.
  const GroupsOfCell groups = {{"a", Group(2, 4)}, {"b", Group(2, 4)}, {"c", Group(4, 4)}};
  const std::optional<AccuracyGapInterval> gap = CellAccuracyGap(groups, 1.96);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->best_group, "c");
  EXPECT_EQ(gap->worst_group, "a");
  EXPECT_NEAR(gap->gap, 0.5, 1e-12);
}

TEST(CellAccuracyGapTest, NeedsTwoGroupsWithConfusionCounts) {
  GroupStatistics loss_only;
  loss_only.count = 10;
  loss_only.loss_sum = 3;
  EXPECT_FALSE(CellAccuracyGap({{"a", Group(5, 10)}, {"b", loss_only}}, 1.96));
  EXPECT_FALSE(CellAccuracyGap({{"a", Group(5, 10)}}, 1.96));
}

TEST(CellAccuracyGapTest, CoversTheTrueDifferenceAtTheStatedRate) {
  // Two fixed groups (p = 0.7, n = 60 and p = 0.5, n = 40): a 95 % interval
  // covers 0.2 in about 95 % of 2,000 draws (Newcombe's method 10 is close to
  // nominal at these sizes).
  std::mt19937_64 random(20261204);
  std::binomial_distribution<uint64_t> first(60, 0.7);
  std::binomial_distribution<uint64_t> second(40, 0.5);
  int covered = 0;
  int draws = 0;
  for (int i = 0; i < 2000; ++i) {
    const uint64_t a = first(random);
    const uint64_t b = second(random);
    // The difference of the named groups, whichever is ahead in this draw.
    const double pa = a / 60.0;
    const double pb = b / 40.0;
    const std::optional<AccuracyGapInterval> gap =
        CellAccuracyGap({{"a", Group(a, 60)}, {"b", Group(b, 40)}}, 1.959963985);
    ASSERT_TRUE(gap);
    const double truth = gap->best_group == "a" ? 0.2 : -0.2;
    if (pa == pb) continue;  // No order: the interval names no difference.
    ++draws;
    if (gap->lower <= truth && truth <= gap->upper) ++covered;
  }
  const double coverage = static_cast<double>(covered) / draws;
  EXPECT_GE(coverage, 0.93);
  EXPECT_LE(coverage, 0.97);
}

}  // namespace
}  // namespace equifl::fairness
