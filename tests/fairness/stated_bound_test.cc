#include "fairness/stated_bound.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace equifl::fairness {
namespace {

using ::testing::HasSubstr;

CellGroupGap Gap(const char* language, double gap, double lower, double upper, uint64_t samples) {
  return {Cell{language, "fusion", ""}, {"m", "f", gap, lower, upper}, samples};
}

TEST(StatedBoundTest, RefusesEpsilonOutsideItsUnit) {
  EXPECT_TRUE((StatedBound{.metric = BoundMetric::kLossGap, .epsilon = 150}).Validate().ok());
  EXPECT_FALSE((StatedBound{.metric = BoundMetric::kAccuracyGap, .epsilon = 150}).Validate().ok());
  EXPECT_FALSE((StatedBound{.metric = BoundMetric::kLossGap, .epsilon = -1}).Validate().ok());
  EXPECT_EQ((StatedBound{.metric = BoundMetric::kWorstGroupAccuracy, .epsilon = 60}).Describe(),
            "worst-group accuracy >= 60 points");
}

TEST(JudgeCellGapsTest, HeldWhenEveryUpperBoundIsUnderEpsilon) {
  const std::vector<CellGroupGap> gaps = {Gap("en", 0.05, -0.02, 0.09, 100),
                                          Gap("de", 0.03, -0.01, 0.07, 100)};
  const BoundJudgement judgement =
      JudgeCellGaps(gaps, {.metric = BoundMetric::kAccuracyGap, .epsilon = 10});
  EXPECT_EQ(judgement.verdict, BoundVerdict::kHeld);
  EXPECT_EQ(judgement.deciding, "cell en/fusion");
  EXPECT_NEAR(judgement.estimate, 5, 1e-9);
  EXPECT_NEAR(judgement.upper, 9, 1e-9);
  EXPECT_THAT(judgement.text, HasSubstr("the largest 95% upper bound, 9.0, in cell en/fusion"));
}

TEST(JudgeCellGapsTest, UndeterminedSaysHowManySamplesWouldSettleIt) {
  // Every gap under 8 points, en's upper bound over: its half-width 4 points must
  // shrink to 3, so 100 · (4/3)² = 177.8 samples per group.
  const std::vector<CellGroupGap> gaps = {Gap("en", 0.05, -0.02, 0.09, 100),
                                          Gap("de", 0.03, -0.01, 0.07, 100)};
  BoundJudgement judgement =
      JudgeCellGaps(gaps, {.metric = BoundMetric::kAccuracyGap, .epsilon = 8});
  EXPECT_EQ(judgement.verdict, BoundVerdict::kUndetermined);
  EXPECT_EQ(judgement.samples_needed, 178u);
  EXPECT_EQ(judgement.text, "undetermined: needs about 178 samples per group in cell en/fusion");
  // A gap over ε leans towards a violation: 50 · (15/10)² = 112.5 samples.
  judgement = JudgeCellGaps({Gap("ja", 0.20, 0.05, 0.35, 50)},
                            {.metric = BoundMetric::kEqualOpportunityGap, .epsilon = 10});
  EXPECT_EQ(judgement.verdict, BoundVerdict::kUndetermined);
  EXPECT_EQ(judgement.samples_needed, 113u);
  EXPECT_EQ(judgement.deciding, "cell ja/fusion");
}

TEST(JudgeCellGapsTest, ViolatedWhenALowerBoundExceedsEpsilon) {
  const BoundJudgement judgement =
      JudgeCellGaps({Gap("en", 0.05, -0.02, 0.09, 100), Gap("ja", 0.30, 0.15, 0.45, 100)},
                    {.metric = BoundMetric::kEqualOpportunityGap, .epsilon = 10});
  EXPECT_EQ(judgement.verdict, BoundVerdict::kViolated);
  EXPECT_EQ(judgement.deciding, "cell ja/fusion");
  EXPECT_NEAR(judgement.lower, 15, 1e-9);
  EXPECT_THAT(judgement.text, HasSubstr("equal-opportunity gap's 95% lower bound 15.0 points"));
  EXPECT_EQ(JudgeCellGaps({}, {.metric = BoundMetric::kAccuracyGap}).verdict,
            BoundVerdict::kUndetermined);
}

// Groups m (30 of 50 right) and f (90 of 100); Wilson at z = Φ⁻¹(1 − 0.05/4), two
// groups held together, computed in Python: m [0.44256, 0.73918], f [0.81252, 0.94921].
TEST(JudgeWorstGroupAccuracyTest, JudgesTheLowestGroupByItsWilsonInterval) {
  std::map<std::string, GroupMetrics> groups;
  groups["m"].accuracy = 0.6;
  groups["m"].confusion_count = 50;
  groups["f"].accuracy = 0.9;
  groups["f"].confusion_count = 100;
  groups["no-confusion"].count = 7;  // Kept no confusion counts: not judged.
  const auto judge = [&](double epsilon) {
    return JudgeWorstGroupAccuracy(
        groups, {.metric = BoundMetric::kWorstGroupAccuracy, .epsilon = epsilon});
  };
  BoundJudgement judgement = judge(40);
  EXPECT_EQ(judgement.verdict, BoundVerdict::kHeld);
  EXPECT_NEAR(judgement.lower, 44.25582666849074, 1e-9);
  EXPECT_NEAR(judgement.estimate, 60, 1e-9);
  EXPECT_EQ(judgement.deciding, "group m");
  // 55: m's lower bound must rise from 44.3 to 55: 50 · (15.7/5)² = 496 samples.
  judgement = judge(55);
  EXPECT_EQ(judgement.verdict, BoundVerdict::kUndetermined);
  EXPECT_EQ(judgement.samples_needed, 496u);
  // 70: m's estimate is under it, its upper bound 73.9 over: 50 · (13.9/10)² = 97.
  judgement = judge(70);
  EXPECT_EQ(judgement.verdict, BoundVerdict::kUndetermined);
  EXPECT_EQ(judgement.samples_needed, 97u);
  judgement = judge(80);
  EXPECT_EQ(judgement.verdict, BoundVerdict::kViolated);
  EXPECT_NEAR(judgement.upper, 73.91809868087033, 1e-9);
  EXPECT_THAT(judgement.text, HasSubstr("group m's accuracy has a 95% upper bound of 73.9"));
}

}  // namespace
}  // namespace equifl::fairness
