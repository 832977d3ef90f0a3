#include "fairness/accuracy_gap_interval.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <utility>
#include <vector>

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

TEST(GroupAccuracyTest, PrivacyNoiseOnTheCountsWidensTheIntervalByHand) {
  // 8 of 10 as above, each confusion count with noise variance 4: the two right
  // entries and the two wrong ones give Var p = 4·(2·0.2² + 2·0.8²) / 10² = 0.0544,
  // and each side widens in quadrature by 1.96·√0.0544.
  GroupStatistics group = Group(8, 10);
  group.noise.confusion = 4;
  const std::optional<ProportionInterval> accuracy = GroupAccuracy(group, 1.96);
  ASSERT_TRUE(accuracy);
  const double widening = 1.96 * std::sqrt(0.0544);
  EXPECT_DOUBLE_EQ(accuracy->estimate, 0.8);
  EXPECT_NEAR(accuracy->lower, 0.8 - std::hypot(0.8 - 0.490157, widening), 2e-6);
  EXPECT_EQ(accuracy->upper, 1.0);
  // Without noise it is Wilson's interval.
  EXPECT_NEAR(GroupAccuracy(Group(8, 10), 1.96)->lower, 0.490157, 2e-6);
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
  const std::optional<GroupGapInterval> gap = CellAccuracyGap(groups, 1.959963985);
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
  const std::optional<GroupGapInterval> gap = CellAccuracyGap(groups, 1.96);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->best_group, "b");
  EXPECT_EQ(gap->worst_group, "c");
  EXPECT_NEAR(gap->gap, 0.7, 1e-12);
}

TEST(CellAccuracyGapTest, TiedGroupsAreTwoDifferentGroups) {
  const GroupsOfCell groups = {{"a", Group(4, 4)}, {"b", Group(4, 4)}, {"c", Group(4, 4)}};
  const std::optional<GroupGapInterval> gap = CellAccuracyGap(groups, 1.96);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->best_group, "a");
  EXPECT_EQ(gap->worst_group, "b");
  EXPECT_EQ(gap->gap, 0);
}

TEST(CellAccuracyGapTest, TiesAtTheBottomGoToTheFirstName) {
  // The best group comes last: the least accurate is still the first of the tied.
  const GroupsOfCell groups = {{"a", Group(2, 4)}, {"b", Group(2, 4)}, {"c", Group(4, 4)}};
  const std::optional<GroupGapInterval> gap = CellAccuracyGap(groups, 1.96);
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
    const std::optional<GroupGapInterval> gap =
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

// A group of `classes` classes with the given row-major confusion counts.
GroupStatistics Confusion(uint32_t classes, std::vector<uint64_t> confusion) {
  GroupStatistics group;
  group.num_classes = classes;
  for (const uint64_t count : confusion) group.count += count;
  group.confusion = std::move(confusion);
  return group;
}

TEST(CellEqualOpportunityGapTest, TakesTheClassWithTheLargestRateGap) {
  // TPR: a (8/10, 9/10), b (5/10, 7/10): class 0's gap 0.3 beats class 1's 0.2.
  // Newcombe's interval for 8/10 − 5/10 at z = 1.96, computed in Python.
  const GroupsOfCell groups = {{"a", Confusion(2, {8, 2, 1, 9})},
                               {"b", Confusion(2, {5, 5, 3, 7})}};
  const std::optional<EqualOpportunityGapInterval> gap = CellEqualOpportunityGap(groups, 1.96);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->label, 0u);
  EXPECT_EQ(gap->rates.best_group, "a");
  EXPECT_EQ(gap->rates.worst_group, "b");
  EXPECT_NEAR(gap->rates.gap, 0.3, 1e-12);
  EXPECT_NEAR(gap->rates.lower, -0.1066790157184157, 1e-9);
  EXPECT_NEAR(gap->rates.upper, 0.5998756289920321, 1e-9);
}

TEST(CellEqualOpportunityGapTest, AGroupWithoutSamplesOfAClassDoesNotCountForIt) {
  // c has no sample of class 0 (its TPR there is undefined, not 0) and all of class 1
  // right: class 1's gap (1 − 0.6) beats class 0's (0.8 − 0.5), between c and b.
  const GroupsOfCell groups = {{"a", Confusion(2, {8, 2, 1, 9})},
                               {"b", Confusion(2, {5, 5, 4, 6})},
                               {"c", Confusion(2, {0, 0, 0, 4})}};
  const std::optional<EqualOpportunityGapInterval> gap = CellEqualOpportunityGap(groups, 1.96);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->label, 1u);
  EXPECT_EQ(gap->rates.best_group, "c");
  EXPECT_EQ(gap->rates.worst_group, "b");
  EXPECT_NEAR(gap->rates.gap, 0.4, 1e-12);
  EXPECT_FALSE(CellEqualOpportunityGap(
      {{"a", Confusion(2, {8, 2, 0, 0})}, {"b", Confusion(2, {0, 0, 3, 7})}}, 1.96));
}

TEST(CellFalsePositiveRateGapTest, CountsOtherClassesPredictedAsTheClass) {
  // Class 1's false-positive rates: a 2/10, b 5/10. With two classes that is one minus
  // class 0's true-positive rate, so the gap and its interval are those of the
  // true-positive rates above (8/10 against 5/10), the groups swapped.
  const GroupsOfCell groups = {{"a", Confusion(2, {8, 2, 1, 9})},
                               {"b", Confusion(2, {5, 5, 3, 7})}};
  const std::optional<GroupGapInterval> gap = CellFalsePositiveRateGap(groups, 1, 1.96);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->best_group, "b");
  EXPECT_EQ(gap->worst_group, "a");
  EXPECT_NEAR(gap->gap, 0.3, 1e-12);
  EXPECT_NEAR(gap->lower, -0.1066790157184157, 1e-9);
  EXPECT_NEAR(gap->upper, 0.5998756289920321, 1e-9);
  // Three classes: class 2's false positives come from both other classes' rows,
  // a 5 of 20, b 1 of 20.
  const GroupsOfCell three = {{"a", Confusion(3, {5, 0, 5, 0, 10, 0, 0, 0, 10})},
                              {"b", Confusion(3, {10, 0, 0, 0, 9, 1, 0, 0, 10})}};
  const std::optional<GroupGapInterval> of_two = CellFalsePositiveRateGap(three, 2, 1.96);
  ASSERT_TRUE(of_two);
  EXPECT_EQ(of_two->best_group, "a");
  EXPECT_NEAR(of_two->gap, 0.25 - 0.05, 1e-12);
  EXPECT_FALSE(CellFalsePositiveRateGap(three, 3, 1.96)) << "no such class";
}

TEST(CellMacroF1GapTest, NamesTheGroupsAndItsValueIsTheF1Difference) {
  // Macro-F1 a = (16/19 + 18/21) / 2, b = (10/18 + 14/22) / 2 (Python: 0.8496, 0.5960).
  const GroupsOfCell groups = {{"a", Confusion(2, {8, 2, 1, 9})},
                               {"b", Confusion(2, {5, 5, 3, 7})}};
  const std::optional<GroupGapInterval> gap = CellMacroF1Gap(groups, 1.96);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->best_group, "a");
  EXPECT_EQ(gap->worst_group, "b");
  EXPECT_NEAR(gap->gap, 0.849624060150376 - 0.595959595959596, 1e-12);
  EXPECT_LT(gap->lower, gap->gap);
  EXPECT_GT(gap->upper, gap->gap);
  // The same counts give the same interval (the draws are seeded).
  const std::optional<GroupGapInterval> again = CellMacroF1Gap(groups, 1.96);
  EXPECT_EQ(again->lower, gap->lower);
  EXPECT_FALSE(CellMacroF1Gap({{"a", Confusion(2, {8, 2, 1, 9})}}, 1.96));
}

// Macro-F1 of confusion proportions (population values), written out here.
double PopulationMacroF1(const std::vector<double>& p, int classes) {
  double sum = 0;
  for (int c = 0; c < classes; ++c) {
    double row = 0;
    double column = 0;
    for (int other = 0; other < classes; ++other) {
      row += p[c * classes + other];
      column += p[other * classes + c];
    }
    sum += 2 * p[c * classes + c] / (row + column);
  }
  return sum / classes;
}

TEST(CellMacroF1GapTest, CoversTheTrueDifferenceAtAboutTheStatedRate) {
  // Two groups of 150 samples whose three-class confusion proportions are fixed;
  // 1,000 draws of their counts; the 95 % interval should cover the named pair's
  // population difference about 95 % of the time.
  const std::vector<double> first = {0.25, 0.04, 0.04, 0.03, 0.26, 0.04, 0.03, 0.03, 0.28};
  const std::vector<double> second = {0.20, 0.07, 0.06, 0.06, 0.20, 0.07, 0.05, 0.06, 0.23};
  const double truth = PopulationMacroF1(first, 3) - PopulationMacroF1(second, 3);
  std::mt19937_64 random(20261205);
  std::discrete_distribution<int> draw_first(first.begin(), first.end());
  std::discrete_distribution<int> draw_second(second.begin(), second.end());
  int covered = 0;
  const int trials = 1000;
  for (int trial = 0; trial < trials; ++trial) {
    std::vector<uint64_t> a(9, 0);
    std::vector<uint64_t> b(9, 0);
    for (int i = 0; i < 150; ++i) {
      ++a[draw_first(random)];
      ++b[draw_second(random)];
    }
    const std::optional<GroupGapInterval> gap =
        CellMacroF1Gap({{"a", Confusion(3, a)}, {"b", Confusion(3, b)}}, 1.959963985, 400);
    ASSERT_TRUE(gap);
    const double named = gap->best_group == "a" ? truth : -truth;
    if (gap->lower <= named && named <= gap->upper) ++covered;
  }
  const double coverage = static_cast<double>(covered) / trials;
  EXPECT_GE(coverage, 0.92);
  EXPECT_LE(coverage, 0.98);
}

}  // namespace
}  // namespace equifl::fairness
