#include "fairness/model_selection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/fairness/test_groups.h"

namespace equifl::fairness {
namespace {

using testing::HasSubstr;

const Cell kEnglish{"en", kFusionView, ""};

// A group of `count` samples whose losses have mean `mean` and deviation 1, and
// `right` of them right (two classes).
GroupStatistics Measured(uint64_t count, uint64_t right, double mean) {
  GroupStatistics group = Group(
      {{right / 2, count / 2 - right / 2}, {count / 2 - (right - right / 2), right - right / 2}});
  group.loss_sum = mean * static_cast<double>(count);
  group.loss_square_sum = static_cast<double>(count) * (mean * mean + 1);
  return group;
}

SelectionJudgement Judged(uint64_t round, BoundVerdict verdict, double accuracy) {
  SelectionJudgement judgement;
  judgement.model_round = round;
  judgement.samples = 100;
  judgement.accuracy = ProportionInterval{accuracy, accuracy - 0.05, accuracy + 0.05};
  judgement.bound.verdict = verdict;
  return judgement;
}

TEST(ModelSelectionTest, ViewNamesCarryTheirShare) {
  EXPECT_EQ(SelectionViewName(0.3), "selection@0.3");
  EXPECT_EQ(SelectionShareOfView("selection@0.3"), 0.3);
  EXPECT_EQ(SelectionShareOfView("fusion"), std::nullopt);
  EXPECT_EQ(SelectionShareOfView("fusion@T=1.25"), std::nullopt);
  EXPECT_EQ(SelectionShareOfView("selection@1"), std::nullopt);
  EXPECT_EQ(SelectionShareOfView("selection@0"), std::nullopt);
  EXPECT_EQ(SelectionShareOfView("selection@x"), std::nullopt);
}

TEST(ModelSelectionTest, TheSelectionViewLeavesTheValidationTable) {
  StatisticsTable table;
  table[kEnglish]["f"] = Measured(10, 6, 0.5);
  table[{"en", "video", ""}]["f"] = Measured(10, 6, 0.7);
  table[{"en", SelectionViewName(0.3), "c1"}]["f"] = Measured(4, 2, 0.9);
  const SelectionSplit split = SplitOffSelection(table);
  EXPECT_EQ(split.validation.size(), 2u);
  EXPECT_TRUE(split.validation.contains(kEnglish));
  ASSERT_EQ(split.selection.size(), 1u);
  const Cell selection_cell{"en", kFusionView, "c1"};
  ASSERT_TRUE(split.selection.contains(selection_cell));
  EXPECT_EQ(split.selection.at(selection_cell).at("f").count, 4u);
}

// 90 of 100 right: Wilson's 95% interval [0.82563, 0.94477] (by hand: centre
// (p + z²/2n)/(1 + z²/n), half-width z·sqrt(p(1−p)/n + z²/4n²)/(1 + z²/n)).
TEST(ModelSelectionTest, AccuracyAndVerdictComeFromTheSelectionSplit) {
  StatisticsTable equal;
  equal[kEnglish]["f"] = Measured(50, 40, 0.6);
  equal[kEnglish]["m"] = Measured(50, 50, 0.6);
  StatedBound bound;  // MinMaxGAP <= 0.4 nats at 95%
  const SelectionJudgement judged = JudgeOnSelection(7, equal, bound);
  EXPECT_EQ(judged.model_round, 7u);
  EXPECT_EQ(judged.samples, 100u);
  ASSERT_TRUE(judged.accuracy);
  EXPECT_NEAR(judged.accuracy->estimate, 0.9, 1e-12);
  EXPECT_NEAR(judged.accuracy->lower, 0.8256343, 1e-6);
  EXPECT_NEAR(judged.accuracy->upper, 0.9447709, 1e-6);
  // Equal means, deviation 1, 50 per group: the gap's upper bound is about
  // 1.96·sqrt(2/50) = 0.39 < 0.4.
  EXPECT_EQ(judged.bound.verdict, BoundVerdict::kHeld);

  StatisticsTable apart;
  apart[kEnglish]["f"] = Measured(50, 40, 2.0);
  apart[kEnglish]["m"] = Measured(50, 50, 0.2);
  EXPECT_EQ(JudgeOnSelection(7, apart, bound).bound.verdict, BoundVerdict::kViolated);

  const SelectionJudgement empty = JudgeOnSelection(3, {}, bound);
  EXPECT_FALSE(empty.accuracy);
  EXPECT_EQ(empty.bound.verdict, BoundVerdict::kUndetermined);
}

// Of the models within one standard error of the most accurate (sqrt(0.9·0.1/100)
// = 3 points at 90% on 100 samples), the latest whose bound held, else the latest.
// A model that holds the bound but is further below is never chosen (that would be
// levelling down), and an undetermined bound is no better than a violated one.
TEST(ModelSelectionTest, TheLatestNearlyMostAccurateModelWhoseBoundHeldIsChosen) {
  ModelSelection selection;
  EXPECT_EQ(selection.Chosen(), std::nullopt);
  EXPECT_EQ(selection.Reason(), "");
  selection.Observe(Judged(0, BoundVerdict::kHeld, 0.99));  // the initial model: no candidate
  EXPECT_EQ(selection.Chosen(), std::nullopt);
  selection.Observe(Judged(4, BoundVerdict::kViolated, 0.90));
  EXPECT_EQ(selection.Chosen()->model_round, 4u);
  EXPECT_THAT(selection.Reason(), HasSubstr("held for none of them (0 undetermined, 1 violated)"));
  selection.Observe(Judged(1, BoundVerdict::kHeld, 0.50));
  selection.Observe(Judged(2, BoundVerdict::kUndetermined, 0.86));  // 4 points below
  EXPECT_EQ(selection.Chosen()->model_round, 4u);
  selection.Observe(Judged(3, BoundVerdict::kUndetermined, 0.88));  // 2 points below
  EXPECT_EQ(selection.Chosen()->model_round, 4u);  // undetermined does not beat violated
  selection.Observe(Judged(5, BoundVerdict::kUndetermined, 0.885));
  EXPECT_EQ(selection.Chosen()->model_round, 5u);  // the latest
  EXPECT_THAT(selection.Reason(), HasSubstr("(2 undetermined, 1 violated)"));
  selection.Observe(Judged(6, BoundVerdict::kHeld, 0.875));
  selection.Observe(Judged(7, BoundVerdict::kViolated, 0.89));
  EXPECT_EQ(selection.Chosen()->model_round, 6u);  // held beats later, more accurate models
  EXPECT_EQ(selection.judged().size(), 7u);
  EXPECT_EQ(selection.judged().front().model_round, 1u);
  EXPECT_THAT(selection.Reason(),
              HasSubstr("round 6's model (87.5% [82.5, 92.5] on 100 samples): the latest of the 1 "
                        "of 7 models judged that are within one standard error (3.0 points) of "
                        "the most accurate, round 4's (90.0% [85.0, 95.0]), whose bound"));
  selection.Observe(Judged(8, BoundVerdict::kHeld, 0.88));
  EXPECT_EQ(selection.Chosen()->model_round, 8u);  // the latest of the two that held
  // A model judged again replaces its judgement.
  selection.Observe(Judged(8, BoundVerdict::kViolated, 0.88));
  EXPECT_EQ(selection.Chosen()->model_round, 6u);
  EXPECT_EQ(selection.judged().size(), 8u);
  // A far better model moves the window: only it is near enough.
  selection.Observe(Judged(9, BoundVerdict::kViolated, 0.99));
  EXPECT_EQ(selection.Chosen()->model_round, 9u);
}

TEST(ModelSelectionTest, JsonCarriesTheJudgement) {
  const nlohmann::json json = SelectionToJson(Judged(6, BoundVerdict::kHeld, 0.8));
  EXPECT_EQ(json["model_round"], 6);
  EXPECT_EQ(json["verdict"], "held");
  EXPECT_DOUBLE_EQ(json["accuracy"]["value"].get<double>(), 0.8);
  EXPECT_TRUE(SelectionToJson(SelectionJudgement{})["accuracy"].is_null());
}

TEST(ModelSelectionTest, TheChosenModelIsReportedWithItsReason) {
  const nlohmann::json chosen = ChosenToJson(4, "round 4's model: the latest within one SE");
  EXPECT_EQ(chosen["model_round"], 4);
  EXPECT_EQ(chosen["reason"], "round 4's model: the latest within one SE");
  EXPECT_TRUE(ChosenToJson(std::nullopt, "").is_null());
}

}  // namespace
}  // namespace equifl::fairness
