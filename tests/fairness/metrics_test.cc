#include "fairness/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "tests/fairness/test_groups.h"
#include "tests/testing/status_matchers.h"

namespace equifl::fairness {
namespace {

using ::equifl::test::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr double kTolerance = 1e-12;

//! A group that kept losses but no confusion counts.
GroupStatistics LossOnly(double loss_sum, uint64_t count) {
  GroupStatistics statistics;
  statistics.loss_sum = loss_sum;
  statistics.count = count;
  return statistics;
}

// Two classes, two groups of 10 samples:
//   f = [[3,1],[2,4]]: trace 7, rows (4,6), cols (5,5), loss 6/10 = 0.6
//   m = [[5,0],[1,4]]: trace 9, rows (5,5), cols (6,4), loss 4/10 = 0.4
GroupsOfCell BinaryGroups() {
  return {{"f", Group({{3, 1}, {2, 4}}, 6.0)}, {"m", Group({{5, 0}, {1, 4}}, 4.0)}};
}

void ExpectNoDisparity(const SliceMetrics& metrics) {
  for (const DifferenceOverClasses* difference :
       {&metrics.statistical_parity_difference, &metrics.equal_opportunity_difference,
        &metrics.equalized_odds_difference}) {
    EXPECT_EQ(difference->mean, 0.0);
    EXPECT_EQ(difference->max, 0.0);
    for (double value : difference->per_class) EXPECT_EQ(value, 0.0);
  }
  EXPECT_EQ(metrics.disparate_impact.mean, 1.0);
  EXPECT_EQ(metrics.disparate_impact.min, 1.0);
  for (double value : metrics.disparate_impact.per_class) EXPECT_EQ(value, 1.0);
  EXPECT_EQ(metrics.f1_gap, 0.0);
}

TEST(MetricsTest, AccuracyAndMacroF1OfOneMatrix) {
  // [[3,1],[2,4]]: accuracy 7/10; F1_0 = 2*3/(row 4 + col 5) = 6/9, F1_1 = 2*4/(6+5) = 8/11;
  // macro-F1 = (6/9 + 8/11) / 2 = 23/33.
  EXPECT_NEAR(Accuracy({3, 1, 2, 4}, 2), 0.7, kTolerance);
  EXPECT_NEAR(MacroF1({3, 1, 2, 4}, 2), 23.0 / 33.0, kTolerance);
  // Class 2 is absent from truth and predictions and is skipped:
  // F1_0 = 2*2/(3+3) = 2/3, F1_1 = 2*2/(3+3) = 2/3 -> 2/3 (not (2/3 + 2/3 + 0) / 3).
  EXPECT_NEAR(MacroF1({2, 1, 0, 1, 2, 0, 0, 0, 0}, 3), 2.0 / 3.0, kTolerance);
  // A class only predicted (never true) is not skipped: F1_1 = 0 / (0 + 1) = 0.
  // [[2,1],[0,0]]: F1_0 = 4/(3+2) = 0.8 -> (0.8 + 0) / 2 = 0.4.
  EXPECT_NEAR(MacroF1({2, 1, 0, 0}, 2), 0.4, kTolerance);
  // No samples: every class skipped -> 0; accuracy 0.
  EXPECT_EQ(MacroF1({0, 0, 0, 0}, 2), 0.0);
  EXPECT_EQ(Accuracy({0, 0, 0, 0}, 2), 0.0);
  EXPECT_EQ(MacroF1({}, 0), 0.0);
}

TEST(MetricsTest, BinarySliceByHand) {
  const absl::StatusOr<SliceMetrics> result = ComputeSliceMetrics(BinaryGroups());
  ASSERT_THAT(result, IsOk());
  const SliceMetrics& metrics = *result;
  EXPECT_EQ(metrics.num_classes, 2u);
  EXPECT_EQ(metrics.count, 20u);
  EXPECT_EQ(metrics.confusion_count, 20u);
  // Pooled [[8,1],[3,8]]: accuracy 16/20; F1_0 = 16/(9+11), F1_1 = 16/(11+9) -> 0.8.
  EXPECT_NEAR(metrics.accuracy, 0.8, kTolerance);
  EXPECT_NEAR(metrics.macro_f1, 0.8, kTolerance);
  // f: accuracy 0.7, macro-F1 23/33. m: accuracy 0.9, F1_0 = 10/(5+6), F1_1 = 8/(5+4),
  // macro-F1 = (10/11 + 8/9) / 2 = 89/99.
  ASSERT_EQ(metrics.groups.size(), 2u);
  EXPECT_NEAR(metrics.groups.at("f").accuracy, 0.7, kTolerance);
  EXPECT_NEAR(metrics.groups.at("f").macro_f1, 23.0 / 33.0, kTolerance);
  EXPECT_NEAR(metrics.groups.at("f").mean_loss, 0.6, kTolerance);
  EXPECT_EQ(metrics.groups.at("f").count, 10u);
  EXPECT_EQ(metrics.groups.at("f").confusion_count, 10u);
  EXPECT_NEAR(metrics.groups.at("m").accuracy, 0.9, kTolerance);
  EXPECT_NEAR(metrics.groups.at("m").macro_f1, 89.0 / 99.0, kTolerance);
  EXPECT_NEAR(metrics.worst_group_accuracy, 0.7, kTolerance);
  EXPECT_EQ(metrics.worst_group, "f");
  // P(pred=0|f) = 5/10, P(pred=0|m) = 6/10; P(pred=1|f) = 5/10, P(pred=1|m) = 4/10.
  // SPD: 0.1 and 0.1. DI: 0.5/0.6 = 5/6 and 0.4/0.5 = 0.8; mean (5/6 + 0.8)/2, min 0.8.
  EXPECT_THAT(
      metrics.statistical_parity_difference.per_class,
      ElementsAre(testing::DoubleNear(0.1, kTolerance), testing::DoubleNear(0.1, kTolerance)));
  EXPECT_NEAR(metrics.statistical_parity_difference.mean, 0.1, kTolerance);
  EXPECT_NEAR(metrics.statistical_parity_difference.max, 0.1, kTolerance);
  EXPECT_NEAR(metrics.disparate_impact.per_class[0], 5.0 / 6.0, kTolerance);
  EXPECT_NEAR(metrics.disparate_impact.per_class[1], 0.8, kTolerance);
  EXPECT_NEAR(metrics.disparate_impact.mean, (5.0 / 6.0 + 0.8) / 2, kTolerance);
  EXPECT_NEAR(metrics.disparate_impact.min, 0.8, kTolerance);
  // TPR: f (3/4, 4/6), m (5/5, 4/5) -> gaps 0.25 and 0.8 - 2/3 = 2/15.
  EXPECT_NEAR(metrics.equal_opportunity_difference.per_class[0], 0.25, kTolerance);
  EXPECT_NEAR(metrics.equal_opportunity_difference.per_class[1], 2.0 / 15.0, kTolerance);
  EXPECT_NEAR(metrics.equal_opportunity_difference.mean, (0.25 + 2.0 / 15.0) / 2, kTolerance);
  EXPECT_NEAR(metrics.equal_opportunity_difference.max, 0.25, kTolerance);
  // FPR = (col - TP) / (n - row): f ((5-3)/6, (5-4)/4) = (1/3, 1/4), m ((6-5)/5, 0/5) =
  // (1/5, 0) -> gaps 2/15 and 1/4. EO: max(0.25, 2/15) = 0.25, max(2/15, 0.25) = 0.25.
  EXPECT_NEAR(metrics.equalized_odds_difference.per_class[0], 0.25, kTolerance);
  EXPECT_NEAR(metrics.equalized_odds_difference.per_class[1], 0.25, kTolerance);
  EXPECT_NEAR(metrics.equalized_odds_difference.mean, 0.25, kTolerance);
  EXPECT_NEAR(metrics.equalized_odds_difference.max, 0.25, kTolerance);
  // F1 gap 89/99 - 23/33 = 20/99; loss gap 0.6 - 0.4.
  EXPECT_NEAR(metrics.f1_gap, 20.0 / 99.0, kTolerance);
  EXPECT_NEAR(metrics.loss_gap, 0.2, kTolerance);
}

TEST(MetricsTest, ThreeClassesWithAClassMissingFromOneGroup) {
  // a = [[2,1,1],[0,2,0],[0,0,0]]: n 6, trace 4, rows (4,2,0), cols (2,3,1); no true class 2.
  // b = [[1,0,0],[0,1,1],[0,0,2]]: n 5, trace 4, rows (1,2,2), cols (1,1,3).
  const GroupsOfCell groups = {{"a", Group({{2, 1, 1}, {0, 2, 0}, {0, 0, 0}})},
                               {"b", Group({{1, 0, 0}, {0, 1, 1}, {0, 0, 2}})}};
  const absl::StatusOr<SliceMetrics> result = ComputeSliceMetrics(groups);
  ASSERT_THAT(result, IsOk());
  const SliceMetrics& metrics = *result;
  // Pooled [[3,1,1],[0,3,1],[0,0,2]]: accuracy 8/11; rows (5,4,2), cols (3,4,4):
  // F1 = 6/8, 6/8, 4/6 -> macro (0.75 + 0.75 + 2/3) / 3 = 13/18.
  EXPECT_NEAR(metrics.accuracy, 8.0 / 11.0, kTolerance);
  EXPECT_NEAR(metrics.macro_f1, 13.0 / 18.0, kTolerance);
  // a: F1 = 4/6, 4/5, 0/(0+1) -> 22/45. b: F1 = 2/2, 2/3, 4/5 -> 37/45. Gap 15/45.
  EXPECT_NEAR(metrics.groups.at("a").macro_f1, 22.0 / 45.0, kTolerance);
  EXPECT_NEAR(metrics.groups.at("b").macro_f1, 37.0 / 45.0, kTolerance);
  EXPECT_NEAR(metrics.f1_gap, 1.0 / 3.0, kTolerance);
  EXPECT_NEAR(metrics.worst_group_accuracy, 4.0 / 6.0, kTolerance);
  EXPECT_EQ(metrics.worst_group, "a");
  // P(pred|a) = (1/3, 1/2, 1/6), P(pred|b) = (1/5, 1/5, 3/5).
  // SPD = (2/15, 3/10, 13/30): mean 13/45, max 13/30.
  EXPECT_NEAR(metrics.statistical_parity_difference.per_class[0], 2.0 / 15.0, kTolerance);
  EXPECT_NEAR(metrics.statistical_parity_difference.per_class[1], 0.3, kTolerance);
  EXPECT_NEAR(metrics.statistical_parity_difference.per_class[2], 13.0 / 30.0, kTolerance);
  EXPECT_NEAR(metrics.statistical_parity_difference.mean, 13.0 / 45.0, kTolerance);
  EXPECT_NEAR(metrics.statistical_parity_difference.max, 13.0 / 30.0, kTolerance);
  // DI = (0.2/(1/3), 0.2/0.5, (1/6)/0.6) = (0.6, 0.4, 5/18): mean 23/54, min 5/18.
  EXPECT_NEAR(metrics.disparate_impact.per_class[0], 0.6, kTolerance);
  EXPECT_NEAR(metrics.disparate_impact.per_class[1], 0.4, kTolerance);
  EXPECT_NEAR(metrics.disparate_impact.per_class[2], 5.0 / 18.0, kTolerance);
  EXPECT_NEAR(metrics.disparate_impact.mean, 23.0 / 54.0, kTolerance);
  EXPECT_NEAR(metrics.disparate_impact.min, 5.0 / 18.0, kTolerance);
  // TPR a = (2/4, 2/2, undefined), b = (1/1, 1/2, 2/2): gaps (0.5, 0.5, 0 - only b has
  // class-2 positives). Mean 1/3, max 0.5.
  EXPECT_THAT(
      metrics.equal_opportunity_difference.per_class,
      ElementsAre(testing::DoubleNear(0.5, kTolerance), testing::DoubleNear(0.5, kTolerance), 0.0));
  EXPECT_NEAR(metrics.equal_opportunity_difference.mean, 1.0 / 3.0, kTolerance);
  EXPECT_NEAR(metrics.equal_opportunity_difference.max, 0.5, kTolerance);
  // FPR a = (0/2, 1/4, 1/6), b = (0/4, 0/3, 1/3): gaps (0, 1/4, 1/6).
  // EO = (max(0.5, 0), max(0.5, 0.25), max(0, 1/6)) = (0.5, 0.5, 1/6): mean 7/18, max 0.5.
  EXPECT_NEAR(metrics.equalized_odds_difference.per_class[2], 1.0 / 6.0, kTolerance);
  EXPECT_NEAR(metrics.equalized_odds_difference.mean, 7.0 / 18.0, kTolerance);
  EXPECT_NEAR(metrics.equalized_odds_difference.max, 0.5, kTolerance);
}

TEST(MetricsTest, EmptyGroupsAndLossOnlyGroupsStayOutOfConfusionMetrics) {
  GroupsOfCell groups = BinaryGroups();
  groups["x"] = Group({{0, 0}, {0, 0}});  // Kept confusion counts, but no samples.
  groups["y"] = LossOnly(5.0, 5);         // Mean loss 1.0, no confusion counts.
  const absl::StatusOr<SliceMetrics> result = ComputeSliceMetrics(groups);
  ASSERT_THAT(result, IsOk());
  const SliceMetrics& metrics = *result;
  // Confusion metrics as for f and m alone (x's accuracy 0 would otherwise be the worst).
  EXPECT_NEAR(metrics.accuracy, 0.8, kTolerance);
  EXPECT_NEAR(metrics.worst_group_accuracy, 0.7, kTolerance);
  EXPECT_EQ(metrics.worst_group, "f");
  EXPECT_NEAR(metrics.statistical_parity_difference.max, 0.1, kTolerance);
  EXPECT_NEAR(metrics.disparate_impact.min, 0.8, kTolerance);
  EXPECT_NEAR(metrics.f1_gap, 20.0 / 99.0, kTolerance);
  EXPECT_EQ(metrics.count, 25u);
  EXPECT_EQ(metrics.confusion_count, 20u);
  // Both reported, with defined zeros.
  ASSERT_EQ(metrics.groups.size(), 4u);
  EXPECT_EQ(metrics.groups.at("x").confusion_count, 0u);
  EXPECT_EQ(metrics.groups.at("x").accuracy, 0.0);
  EXPECT_EQ(metrics.groups.at("x").macro_f1, 0.0);
  EXPECT_EQ(metrics.groups.at("y").accuracy, 0.0);
  EXPECT_EQ(metrics.groups.at("y").count, 5u);
  // y counts for the loss gap: 1.0 - 0.4 (x, with no samples, does not: its mean loss 0
  // would make the gap 1.0).
  EXPECT_NEAR(metrics.loss_gap, 0.6, kTolerance);
}

TEST(MetricsTest, SingleClassData) {
  // One class: every sample true 0, predicted 0.
  GroupsOfCell groups = {{"a", Group({{5}}, 1.0)}, {"b", Group({{3}}, 3.0)}};
  absl::StatusOr<SliceMetrics> result = ComputeSliceMetrics(groups);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->num_classes, 1u);
  EXPECT_EQ(result->accuracy, 1.0);
  EXPECT_EQ(result->macro_f1, 1.0);
  EXPECT_EQ(result->worst_group_accuracy, 1.0);
  ExpectNoDisparity(*result);  // FPR has no negatives; TPR is 1 everywhere.
  EXPECT_NEAR(result->loss_gap, 1.0 - 0.2, kTolerance);

  // Two classes, every true label 0: a = [[3,1],[0,0]], b = [[2,2],[0,0]].
  groups = {{"a", Group({{3, 1}, {0, 0}})}, {"b", Group({{2, 2}, {0, 0}})}};
  result = ComputeSliceMetrics(groups);
  ASSERT_THAT(result, IsOk());
  // TPR_0 = 3/4 vs 2/4 -> 0.25; TPR_1 undefined everywhere -> 0.
  EXPECT_THAT(result->equal_opportunity_difference.per_class,
              ElementsAre(testing::DoubleNear(0.25, kTolerance), 0.0));
  // FPR_0: no negatives -> 0; FPR_1 = 1/4 vs 2/4 -> 0.25. EO = (0.25, 0.25).
  EXPECT_THAT(
      result->equalized_odds_difference.per_class,
      ElementsAre(testing::DoubleNear(0.25, kTolerance), testing::DoubleNear(0.25, kTolerance)));
  // Pooled [[5,3],[0,0]]: F1_0 = 10/(8+5) = 10/13, F1_1 = 0/(0+3) = 0 -> 5/13.
  EXPECT_NEAR(result->macro_f1, 5.0 / 13.0, kTolerance);
  for (double value : result->equalized_odds_difference.per_class)
    EXPECT_TRUE(std::isfinite(value));
}

TEST(MetricsTest, AllPredictionsOneClass) {
  // Everything predicted 0: a = [[3,0],[2,0]], b = [[1,0],[4,0]].
  const GroupsOfCell groups = {{"a", Group({{3, 0}, {2, 0}})}, {"b", Group({{1, 0}, {4, 0}})}};
  const absl::StatusOr<SliceMetrics> result = ComputeSliceMetrics(groups);
  ASSERT_THAT(result, IsOk());
  // P(pred=0|g) = 1 for both -> DI 1/1; P(pred=1|g) = 0 for both -> max 0 -> DI 1.
  EXPECT_THAT(result->disparate_impact.per_class, ElementsAre(1.0, 1.0));
  EXPECT_EQ(result->disparate_impact.min, 1.0);
  EXPECT_THAT(result->statistical_parity_difference.per_class, ElementsAre(0.0, 0.0));
  // Accuracy a 3/5, b 1/5. a: F1_0 = 6/(3+5) = 0.75, F1_1 = 0/(2+0) = 0 -> 0.375.
  EXPECT_NEAR(result->groups.at("a").accuracy, 0.6, kTolerance);
  EXPECT_NEAR(result->groups.at("b").accuracy, 0.2, kTolerance);
  EXPECT_NEAR(result->groups.at("a").macro_f1, 0.375, kTolerance);
  EXPECT_EQ(result->worst_group, "b");
  // TPR_0 = 1 for both; TPR_1 = 0 for both; FPR_0 = 1 for both; FPR_1 = 0 for both.
  EXPECT_EQ(result->equalized_odds_difference.max, 0.0);
}

TEST(MetricsTest, OneGroupHasNoGaps) {
  const GroupsOfCell groups = {{"f", Group({{3, 1}, {2, 4}}, 6.0)}};
  const absl::StatusOr<SliceMetrics> result = ComputeSliceMetrics(groups);
  ASSERT_THAT(result, IsOk());
  EXPECT_NEAR(result->accuracy, 0.7, kTolerance);
  EXPECT_NEAR(result->worst_group_accuracy, 0.7, kTolerance);
  EXPECT_EQ(result->worst_group, "f");
  ExpectNoDisparity(*result);
  EXPECT_EQ(result->loss_gap, 0.0);
}

TEST(MetricsTest, NoGroupsAndNoConfusionCounts) {
  absl::StatusOr<SliceMetrics> result = ComputeSliceMetrics({});
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->num_classes, 0u);
  EXPECT_EQ(result->accuracy, 0.0);
  EXPECT_EQ(result->worst_group_accuracy, 0.0);
  EXPECT_EQ(result->worst_group, "");
  EXPECT_TRUE(result->statistical_parity_difference.per_class.empty());
  ExpectNoDisparity(*result);

  result = ComputeSliceMetrics({{"f", LossOnly(1.0, 2)}, {"m", LossOnly(3.0, 2)}});
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->num_classes, 0u);
  EXPECT_EQ(result->count, 4u);
  EXPECT_NEAR(result->loss_gap, 1.0, kTolerance);  // 1.5 - 0.5.
  ExpectNoDisparity(*result);
}

TEST(MetricsTest, RefusesMismatchedClassesNamingTheGroups) {
  const GroupsOfCell groups = {{"f", Group({{1, 0}, {0, 1}})},
                               {"g", Group({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}})},
                               {"h", LossOnly(1.0, 1)}};
  const absl::StatusOr<SliceMetrics> result = ComputeSliceMetrics(groups);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("2 classes in group 'f'"));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("3 classes in group 'g'"));
  EXPECT_THAT(std::string(result.status().message()), testing::Not(HasSubstr("'h'")));
}

TEST(MetricsTest, RefusesMalformedConfusion) {
  GroupStatistics bad;
  bad.num_classes = 2;
  bad.confusion = {1, 2, 3};
  const absl::StatusOr<SliceMetrics> result = ComputeSliceMetrics({{"bad", bad}});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("group 'bad'"));
}

TEST(MetricsTest, LossGapIgnoresEmptyGroups) {
  // a: 2/4 = 0.5; b: empty (mean 0, ignored); c: 3/2 = 1.5 -> 1.0.
  const GroupsOfCell groups = {
      {"a", LossOnly(2.0, 4)}, {"b", LossOnly(0.0, 0)}, {"c", LossOnly(3.0, 2)}};
  EXPECT_NEAR(LossGap(groups), 1.0, kTolerance);
  EXPECT_EQ(LossGap({{"a", LossOnly(2.0, 4)}, {"b", LossOnly(0.0, 0)}}), 0.0);
  EXPECT_EQ(LossGap({}), 0.0);
}

TEST(MetricsTest, MinMaxGapPicksTheWorstCell) {
  StatisticsTable table;
  table[Cell{"en", "fusion", ""}] = {{"f", LossOnly(6.0, 10)}, {"m", LossOnly(4.0, 10)}};  // 0.2
  table[Cell{"de", "fusion", ""}] = {{"f", LossOnly(1.0, 2)}, {"m", LossOnly(1.0, 1)}};    // 0.5
  table[Cell{"ja", "video", ""}] = {{"f", LossOnly(3.0, 10)}, {"m", LossOnly(6.0, 10)}};   // 0.3
  MinMaxGapResult result = MinMaxGap(table);
  EXPECT_NEAR(result.value, 0.5, kTolerance);
  EXPECT_EQ(result.cell, (Cell{"de", "fusion", ""}));

  // A tie goes to the first cell in table order ("de" < "fr").
  table[Cell{"fr", "audio", ""}] = {{"f", LossOnly(0.0, 1)}, {"m", LossOnly(1.0, 2)}};  // 0.5
  EXPECT_EQ(MinMaxGap(table).cell, (Cell{"de", "fusion", ""}));
  table[Cell{"fr", "audio", ""}]["m"] = LossOnly(1.2, 2);  // 0.6
  result = MinMaxGap(table);
  EXPECT_NEAR(result.value, 0.6, kTolerance);
  EXPECT_EQ(result.cell, (Cell{"fr", "audio", ""}));

  result = MinMaxGap({});
  EXPECT_EQ(result.value, 0.0);
  EXPECT_EQ(result.cell, Cell{});
}

//! fusion: en f [[4,0],[0,0]] m [[1,1],[0,0]]; de f [[0,0],[2,4]] m [[0,0],[1,5]].
//! audio: en f [[2,2],[0,0]] m [[3,1],[0,0]] x (no samples).
//! text: en f [[1,0],[0,1]], y (losses only).
StatisticsTable ModalityTable() {
  StatisticsTable table;
  table[Cell{"en", "fusion", ""}] = {{"f", Group({{4, 0}, {0, 0}})},
                                     {"m", Group({{1, 1}, {0, 0}})}};
  table[Cell{"de", "fusion", ""}] = {{"f", Group({{0, 0}, {2, 4}})},
                                     {"m", Group({{0, 0}, {1, 5}})}};
  table[Cell{"en", "audio", ""}] = {{"f", Group({{2, 2}, {0, 0}})},
                                    {"m", Group({{3, 1}, {0, 0}})},
                                    {"x", Group({{0, 0}, {0, 0}})}};
  table[Cell{"en", "text", ""}] = {{"f", Group({{1, 0}, {0, 1}})}, {"y", LossOnly(1.0, 1)}};
  return table;
}

TEST(MetricsTest, ModalityDisparitiesPoolLanguagesFirst) {
  const absl::StatusOr<std::map<std::string, double>> msfd = ModalityDisparities(ModalityTable());
  ASSERT_THAT(msfd, IsOk());
  ASSERT_EQ(msfd->size(), 3u);
  // fusion pooled: f [[4,0],[2,4]] -> 8/10, m [[1,1],[1,5]] -> 6/8 -> 0.8 - 0.75 = 0.05
  // (the per-language gaps would be 0.5 and 1/6).
  EXPECT_NEAR(msfd->at("fusion"), 0.05, kTolerance);
  // audio: f 2/4, m 3/4, x empty (its accuracy 0 would make it 0.75) -> 0.25.
  // text: one group with confusion counts -> 0.
  EXPECT_NEAR(msfd->at("audio"), 0.25, kTolerance);
  EXPECT_EQ(msfd->at("text"), 0.0);
}

TEST(MetricsTest, ModalityDisparitiesRefuseMismatchedClassesWithinAView) {
  StatisticsTable table = ModalityTable();
  // Another view may use other classes...
  table[Cell{"en", "video", ""}] = {{"f", Group({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}})}};
  ASSERT_THAT(ModalityDisparities(table), IsOk());
  // ...but not another language of the same view.
  table[Cell{"ja", "fusion", ""}] = {{"f", Group({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}})}};
  const absl::StatusOr<std::map<std::string, double>> msfd = ModalityDisparities(table);
  ASSERT_FALSE(msfd.ok());
  EXPECT_EQ(msfd.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(msfd.status().message()), HasSubstr("modality view 'fusion'"));
  EXPECT_THAT(std::string(msfd.status().message()), HasSubstr("language 'ja'"));
  EXPECT_THAT(ValidateTable(ModalityTable()), IsOk());
  EXPECT_FALSE(ValidateTable(table, /*across_views=*/false).ok());
}

TEST(MetricsTest, ValidateTableAcrossViews) {
  StatisticsTable table = ModalityTable();
  table[Cell{"en", "video", ""}] = {{"f", Group({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}})}};
  EXPECT_THAT(ValidateTable(table), IsOk());
  const absl::Status status = ValidateTable(table, /*across_views=*/true);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("modality 'video'"));
}

TEST(MetricsTest, AggregateFairnessIndex) {
  const std::map<std::string, double> msfd = {{"fusion", 0.05}, {"audio", 0.25}, {"text", 0.0}};
  // Uniform: (0.05 + 0.25 + 0) / 3 = 0.1.
  absl::StatusOr<double> afi = AggregateFairnessIndex(msfd);
  ASSERT_THAT(afi, IsOk());
  EXPECT_NEAR(*afi, 0.1, kTolerance);
  // Weighted 2:1:1: (2*0.05 + 0.25 + 0) / 4 = 0.0875.
  afi = AggregateFairnessIndex(msfd, {{"fusion", 2.0}, {"audio", 1.0}, {"text", 1.0}});
  ASSERT_THAT(afi, IsOk());
  EXPECT_NEAR(*afi, 0.0875, kTolerance);
  // Views missing from the weights weigh 0; weights of absent views are ignored.
  afi = AggregateFairnessIndex(msfd, {{"audio", 1.0}, {"video", 5.0}});
  ASSERT_THAT(afi, IsOk());
  EXPECT_NEAR(*afi, 0.25, kTolerance);
  // Weights summing to 0, and no views: 0.
  afi = AggregateFairnessIndex(msfd, {{"fusion", 0.0}, {"audio", 0.0}});
  ASSERT_THAT(afi, IsOk());
  EXPECT_EQ(*afi, 0.0);
  afi = AggregateFairnessIndex({});
  ASSERT_THAT(afi, IsOk());
  EXPECT_EQ(*afi, 0.0);
  // Huge weights do not overflow: (0.05 + 0.25) / 2.
  afi = AggregateFairnessIndex(msfd, {{"fusion", 1e308}, {"audio", 1e308}});
  ASSERT_THAT(afi, IsOk());
  EXPECT_NEAR(*afi, 0.15, kTolerance);
}

TEST(MetricsTest, AggregateFairnessIndexRefusesBadWeights) {
  const std::map<std::string, double> msfd = {{"fusion", 0.05}};
  absl::StatusOr<double> afi = AggregateFairnessIndex(msfd, {{"fusion", -1.0}});
  EXPECT_EQ(afi.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(afi.status().message()), HasSubstr("'fusion'"));
  afi = AggregateFairnessIndex(msfd, {{"fusion", std::nan("")}});
  EXPECT_EQ(afi.status().code(), absl::StatusCode::kInvalidArgument);
  afi = AggregateFairnessIndex({{"fusion", INFINITY}});
  EXPECT_EQ(afi.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace equifl::fairness
