#include "fairness/fairness_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/fairness/test_groups.h"
#include "tests/testing/status_matchers.h"

namespace equifl::fairness {
namespace {

using ::equifl::test::IsOk;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

constexpr double kTolerance = 1e-12;

// Cells, in table order, with their group mean losses and gaps:
//   de/fusion: f [[2,0],[0,2]] loss 2/4 = 0.5, m [[1,1],[1,2]] loss 5/5 = 1.0 -> gap 0.5
//   en/audio:  f [[1,0],[1,0]] loss 1/2 = 0.5, m [[1,0],[0,2]] loss 2.4/3 = 0.8 -> gap 0.3
//   en/fusion: f [[3,1],[2,4]] loss 6/10 = 0.6, m [[5,0],[1,4]] loss 4/10 = 0.4 -> gap 0.2
StatisticsTable SmallTable() {
  StatisticsTable table;
  table[Cell{"de", "fusion", ""}] = {{"f", Group({{2, 0}, {0, 2}}, 2.0)},
                                     {"m", Group({{1, 1}, {1, 2}}, 5.0)}};
  table[Cell{"en", "audio", ""}] = {{"f", Group({{1, 0}, {1, 0}}, 1.0)},
                                    {"m", Group({{1, 0}, {0, 2}}, 2.4)}};
  table[Cell{"en", "fusion", ""}] = {{"f", Group({{3, 1}, {2, 4}}, 6.0)},
                                     {"m", Group({{5, 0}, {1, 4}}, 4.0)}};
  return table;
}

// Hand-computed values of SmallTable:
// fusion pooled: f [[5,1],[2,6]] (n 14, trace 11, loss 8/14), m [[6,1],[2,6]] (n 15, trace
// 12, loss 9/15 = 0.6); pooled [[11,2],[4,12]] -> accuracy 23/29; worst group f (11/14);
// loss gap 0.6 - 4/7 = 1/35; SPD: P(pred=0|f) = 7/14, P(pred=0|m) = 8/15 -> 1/30.
// audio pooled: f 1/2, m 3/3 -> accuracy 4/5. MSFD fusion 12/15 - 11/14 = 1/70, audio 0.5.
// AFI uniform: (1/70 + 1/2) / 2 = 9/35.

TEST(FairnessReportTest, BuildsEveryPartByHand) {
  const absl::StatusOr<FairnessReport> report = BuildFairnessReport(SmallTable());
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->main_view, "fusion");
  EXPECT_TRUE(report->main_view_found);
  EXPECT_EQ(report->overall.count, 29u);
  EXPECT_NEAR(report->overall.accuracy, 23.0 / 29.0, kTolerance);
  EXPECT_EQ(report->overall.worst_group, "f");
  EXPECT_NEAR(report->overall.worst_group_accuracy, 11.0 / 14.0, kTolerance);
  EXPECT_NEAR(report->overall.loss_gap, 1.0 / 35.0, kTolerance);
  EXPECT_NEAR(report->overall.statistical_parity_difference.max, 1.0 / 30.0, kTolerance);
  ASSERT_EQ(report->views.size(), 2u);
  EXPECT_NEAR(report->views.at("audio").accuracy, 0.8, kTolerance);
  EXPECT_NEAR(report->views.at("fusion").accuracy, 23.0 / 29.0, kTolerance);
  ASSERT_EQ(report->cells.size(), 3u);
  EXPECT_EQ(report->cells[0].cell, (Cell{"de", "fusion", ""}));
  EXPECT_NEAR(report->cells[0].loss_gap, 0.5, kTolerance);
  EXPECT_EQ(report->cells[0].groups.at("f").count, 4u);
  EXPECT_NEAR(report->cells[0].groups.at("m").mean_loss, 1.0, kTolerance);
  EXPECT_NEAR(report->cells[1].loss_gap, 0.3, kTolerance);
  EXPECT_NEAR(report->cells[2].loss_gap, 0.2, kTolerance);
  EXPECT_NEAR(report->min_max_gap.value, 0.5, kTolerance);
  EXPECT_EQ(report->min_max_gap.cell, (Cell{"de", "fusion", ""}));
  EXPECT_NEAR(report->msfd.at("fusion"), 1.0 / 70.0, kTolerance);
  EXPECT_NEAR(report->msfd.at("audio"), 0.5, kTolerance);
  EXPECT_NEAR(report->afi, 9.0 / 35.0, kTolerance);
}

TEST(FairnessReportTest, AfiWeights) {
  // Weights fusion 3, audio 1: (3/70 + 1/2) / 4 = (3 + 35) / 280 = 19/140.
  absl::StatusOr<FairnessReport> report =
      BuildFairnessReport(SmallTable(), "fusion", {{"fusion", 3.0}, {"audio", 1.0}});
  ASSERT_THAT(report, IsOk());
  EXPECT_NEAR(report->afi, 19.0 / 140.0, kTolerance);
  report = BuildFairnessReport(SmallTable(), "fusion", {{"audio", -1.0}});
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FairnessReportTest, PoolsEveryCellWithoutTheMainView) {
  const absl::StatusOr<FairnessReport> report = BuildFairnessReport(SmallTable(), "video");
  ASSERT_THAT(report, IsOk());
  EXPECT_FALSE(report->main_view_found);
  // All cells: f traces 11 + 1 (n 16), m traces 12 + 3 (n 18) -> 27/34.
  EXPECT_EQ(report->overall.count, 34u);
  EXPECT_NEAR(report->overall.accuracy, 27.0 / 34.0, kTolerance);
  EXPECT_EQ(report->views.count("video"), 0u);
}

TEST(FairnessReportTest, RefusesMismatchedClasses) {
  StatisticsTable table = SmallTable();
  table[Cell{"en", "text", ""}] = {{"f", Group({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, 1.0)}};
  // Per view the classes agree, so a report on the fusion view works...
  EXPECT_THAT(BuildFairnessReport(table), IsOk());
  // ...but pooling every view together cannot.
  const absl::StatusOr<FairnessReport> report = BuildFairnessReport(table, "video");
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("modality 'text'"));
  // Within a view they must agree.
  table[Cell{"ja", "text", ""}] = {{"m", Group({{1, 0}, {0, 1}}, 1.0)}};
  EXPECT_FALSE(BuildFairnessReport(table).ok());
}

TEST(FairnessReportTest, JsonKeysAndValues) {
  const absl::StatusOr<FairnessReport> report = BuildFairnessReport(SmallTable());
  ASSERT_THAT(report, IsOk());
  const nlohmann::json json = nlohmann::json::parse(ToJsonText(*report));
  EXPECT_EQ(json, ToJson(*report));
  for (const char* key : {"main_view", "main_view_found", "overall", "views", "cells",
                          "min_max_gap", "bound", "msfd", "afi"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  EXPECT_EQ(json.size(), 9u);
  const nlohmann::json& overall = json.at("overall");
  for (const char* key : {"num_classes", "count", "confusion_count", "accuracy", "macro_f1",
                          "worst_group", "worst_group_accuracy", "statistical_parity_difference",
                          "disparate_impact", "equal_opportunity_difference",
                          "equalized_odds_difference", "f1_gap", "loss_gap", "groups"}) {
    EXPECT_TRUE(overall.contains(key)) << key;
  }
  EXPECT_EQ(overall.size(), 14u);
  EXPECT_EQ(json.at("main_view"), "fusion");
  EXPECT_EQ(json.at("main_view_found"), true);
  EXPECT_EQ(overall.at("num_classes"), 2);
  EXPECT_EQ(overall.at("count"), 29);
  EXPECT_NEAR(overall.at("accuracy").get<double>(), 23.0 / 29.0, kTolerance);
  EXPECT_EQ(overall.at("worst_group"), "f");
  EXPECT_NEAR(overall.at("statistical_parity_difference").at("max").get<double>(), 1.0 / 30.0,
              kTolerance);
  EXPECT_EQ(overall.at("statistical_parity_difference").at("per_class").size(), 2u);
  // P(pred=0|g): f 7/14, m 8/15 -> DI_0 = 15/16; P(pred=1|g): f 7/14, m 7/15 -> DI_1 = 14/15.
  EXPECT_NEAR(overall.at("disparate_impact").at("mean").get<double>(),
              (15.0 / 16.0 + 14.0 / 15.0) / 2, kTolerance);
  EXPECT_NEAR(overall.at("disparate_impact").at("min").get<double>(), 14.0 / 15.0, kTolerance);
  // TPR: f (5/6, 6/8), m (6/7, 6/8) -> (1/42, 0). FPR: f (2/8, 1/6), m (2/8, 1/7) -> (0, 1/42).
  EXPECT_NEAR(overall.at("equal_opportunity_difference").at("mean").get<double>(), 1.0 / 84.0,
              kTolerance);
  EXPECT_NEAR(overall.at("equal_opportunity_difference").at("max").get<double>(), 1.0 / 42.0,
              kTolerance);
  EXPECT_NEAR(overall.at("equalized_odds_difference").at("mean").get<double>(), 1.0 / 42.0,
              kTolerance);
  EXPECT_NEAR(overall.at("equalized_odds_difference").at("max").get<double>(), 1.0 / 42.0,
              kTolerance);
  const nlohmann::json& group_f = overall.at("groups").at("f");
  EXPECT_EQ(group_f.at("count"), 14);
  EXPECT_EQ(group_f.at("confusion_count"), 14);
  EXPECT_NEAR(group_f.at("accuracy").get<double>(), 11.0 / 14.0, kTolerance);
  EXPECT_NEAR(group_f.at("mean_loss").get<double>(), 8.0 / 14.0, kTolerance);
  EXPECT_TRUE(group_f.contains("macro_f1"));
  EXPECT_NEAR(json.at("views").at("audio").at("accuracy").get<double>(), 0.8, kTolerance);

  const nlohmann::json& cells = json.at("cells");
  ASSERT_EQ(cells.size(), 3u);
  EXPECT_EQ(cells[0].at("language"), "de");
  EXPECT_EQ(cells[0].at("modality"), "fusion");
  EXPECT_EQ(cells[0].at("client"), "");
  EXPECT_NEAR(cells[0].at("loss_gap").get<double>(), 0.5, kTolerance);
  EXPECT_EQ(cells[0].at("groups").at("f").at("count"), 4);
  EXPECT_NEAR(cells[0].at("groups").at("f").at("mean_loss").get<double>(), 0.5, kTolerance);
  EXPECT_EQ(cells[1].at("modality"), "audio");
  EXPECT_NEAR(cells[1].at("groups").at("m").at("mean_loss").get<double>(), 0.8, kTolerance);

  // de/fusion: f 4 of 4 right, m 3 of 5; Wilson intervals at z = Φ⁻¹(1 − 0.05/6) (three
  // cells with accuracy gaps) and Newcombe's difference, computed in Python.
  const nlohmann::json& accuracy_gap = cells[0].at("accuracy_gap");
  EXPECT_EQ(accuracy_gap.at("best_group"), "f");
  EXPECT_EQ(accuracy_gap.at("worst_group"), "m");
  EXPECT_NEAR(accuracy_gap.at("value").get<double>(), 0.4, kTolerance);
  EXPECT_NEAR(accuracy_gap.at("lower").get<double>(), -0.26488843946584795, 1e-9);
  EXPECT_NEAR(accuracy_gap.at("upper").get<double>(), 0.8153847550197639, 1e-9);
  // de/fusion's equal-opportunity gap: class 0, f 2 of 2 against m 1 of 2, Newcombe at
  // the same z (three cells have one); its macro-F1 gap: f 1, m (1/2 + 2/3) / 2.
  const nlohmann::json& opportunity = cells[0].at("equal_opportunity_gap");
  EXPECT_EQ(opportunity.at("label"), 0);
  EXPECT_EQ(opportunity.at("best_group"), "f");
  EXPECT_NEAR(opportunity.at("value").get<double>(), 0.5, kTolerance);
  EXPECT_NEAR(opportunity.at("lower").get<double>(), -0.3572403040776787, 1e-9);
  EXPECT_NEAR(opportunity.at("upper").get<double>(), 0.9304956199921428, 1e-9);
  const nlohmann::json& macro_f1 = cells[0].at("macro_f1_gap");
  EXPECT_EQ(macro_f1.at("worst_group"), "m");
  EXPECT_NEAR(macro_f1.at("value").get<double>(), 1 - (0.5 + 2.0 / 3) / 2, kTolerance);
  EXPECT_LT(macro_f1.at("lower").get<double>(), macro_f1.at("value").get<double>());
  // The groups' own Wilson intervals, at the same z.
  const nlohmann::json& accuracy_m = cells[0].at("groups").at("m").at("accuracy");
  EXPECT_NEAR(accuracy_m.at("value").get<double>(), 0.6, kTolerance);
  EXPECT_NEAR(accuracy_m.at("lower").get<double>(), 0.18461524498023607, 1e-9);
  EXPECT_NEAR(accuracy_m.at("upper").get<double>(), 0.9085715056272263, 1e-9);
  EXPECT_NEAR(cells[0].at("groups").at("f").at("accuracy").at("lower").get<double>(),
              0.4110515618067425, 1e-9);

  EXPECT_NEAR(json.at("min_max_gap").at("value").get<double>(), 0.5, kTolerance);
  EXPECT_EQ(json.at("min_max_gap").at("cell").at("language"), "de");
  EXPECT_EQ(json.at("min_max_gap").at("cell").at("modality"), "fusion");
  EXPECT_NEAR(json.at("msfd").at("fusion").get<double>(), 1.0 / 70.0, kTolerance);
  EXPECT_NEAR(json.at("msfd").at("audio").get<double>(), 0.5, kTolerance);
  EXPECT_NEAR(json.at("afi").get<double>(), 9.0 / 35.0, kTolerance);
}

TEST(FairnessReportTest, EmptyTableGivesValidJson) {
  const absl::StatusOr<FairnessReport> report = BuildFairnessReport({});
  ASSERT_THAT(report, IsOk());
  const std::string text = ToJsonText(*report, -1);
  EXPECT_THAT(text, testing::Not(HasSubstr("null")));  // nlohmann writes NaN as null.
  const nlohmann::json json = nlohmann::json::parse(text);
  EXPECT_EQ(json.at("main_view_found"), false);
  EXPECT_EQ(json.at("cells").size(), 0u);
  EXPECT_EQ(json.at("overall").at("disparate_impact").at("mean"), 1.0);
  EXPECT_EQ(json.at("min_max_gap").at("value"), 0.0);
  EXPECT_EQ(json.at("afi"), 0.0);
  EXPECT_TRUE(json.at("views").is_object());
  EXPECT_TRUE(json.at("msfd").is_object());
  EXPECT_FALSE(FormatTable(*report).empty());
}

TEST(FairnessReportTest, TextTableShowsGroupsAndGaps) {
  const absl::StatusOr<FairnessReport> report = BuildFairnessReport(SmallTable());
  ASSERT_THAT(report, IsOk());
  const std::string text = FormatTable(*report);
  const std::vector<std::string> lines = absl::StrSplit(text, '\n');
  // Overall metrics.
  EXPECT_THAT(lines, Contains(MatchesRegex(" *accuracy +0\\.7931")));  // 23/29.
  EXPECT_THAT(lines, Contains(MatchesRegex(" *worst-group accuracy +0\\.7857 \\(f\\)")));
  EXPECT_THAT(lines, Contains(MatchesRegex(" *MinMaxGAP +0\\.5000 at de/fusion")));
  EXPECT_THAT(lines, Contains(MatchesRegex(" *AFI.* +0\\.2571")));  // 9/35.
  // Per-group rows: name, samples, mean loss, accuracy, macro-F1.
  EXPECT_THAT(lines, Contains(MatchesRegex(" *f +14 +0\\.5714 +0\\.7857 +[0-9.]+")));
  EXPECT_THAT(lines, Contains(MatchesRegex(" *m +15 +0\\.6000 +0\\.8000 +[0-9.]+")));
  // Views with their MSFD (fusion 1/70, audio 0.5).
  EXPECT_THAT(lines, Contains(MatchesRegex(" *fusion +29 +0\\.7931 +[0-9.]+ +0\\.0143 .*")));
  EXPECT_THAT(lines, Contains(MatchesRegex(" *audio +5 +0\\.8000 +[0-9.]+ +0\\.5000 .*")));
  // Every cell's groups (mean loss, standard error: 0 without squares) and gap.
  EXPECT_THAT(lines, Contains(MatchesRegex(" *de/fusion +f +4 +0\\.5000 +0\\.0000 +0\\.5000 .* "
                                           "40\\.0 \\[-26\\.5, 81\\.5\\] f vs m")));
  EXPECT_THAT(lines, Contains(MatchesRegex(" *m +5 +1\\.0000 +0\\.0000 +macro-F1 .*")));
  EXPECT_THAT(lines, Contains(MatchesRegex(" +equal opportunity \\(class 0\\) 50\\.0 .* f vs m")));
  EXPECT_THAT(lines, Contains(MatchesRegex(" *en/audio +f +2 +0\\.5000 +0\\.0000 +0\\.3000 .*")));
  EXPECT_THAT(lines, Contains(MatchesRegex(" *en/fusion +f +10 +0\\.6000 +0\\.0000 +0\\.2000 .*")));
  EXPECT_THAT(lines, Contains(MatchesRegex(" *m +10 +0\\.4000 +0\\.0000.*")));
}

// Group a: losses 1, 2, 3, 4; group b: 0, 1, 1, 2 (tests/fairness/loss_gap_bounds_test.cc
// has the hand computation: gap 1.5, standard error of the difference √(7/12)).
StatisticsTable SpreadTable() {
  const auto group = [](const std::vector<double>& losses) {
    GroupStatistics statistics = Group({{losses.size()}});
    for (double loss : losses) {
      statistics.loss_sum += loss;
      statistics.loss_square_sum += loss * loss;
    }
    return statistics;
  };
  StatisticsTable table;
  table[Cell{"en", "fusion", ""}] = {{"a", group({1, 2, 3, 4})}, {"b", group({0, 1, 1, 2})}};
  table[Cell{"en", "video", ""}] = {{"a", group({1})}};
  return table;
}

TEST(FairnessReportTest, JsonCarriesTheGapBoundsAndVerdict) {
  StatedBound bound;
  bound.epsilon = 0.5;
  const absl::StatusOr<FairnessReport> report =
      BuildFairnessReport(SpreadTable(), kFusionView, {}, bound);
  ASSERT_THAT(report, IsOk());
  const nlohmann::json json = ToJson(*report);
  const nlohmann::json& gap = json.at("min_max_gap");
  const double error = std::sqrt(7.0 / 12);
  EXPECT_NEAR(gap.at("upper").get<double>(), 1.5 + 1.6448536269514722 * error, 1e-9);
  EXPECT_NEAR(gap.at("lower").get<double>(), 1.5 - 1.959963984540054 * error, 1e-9);
  EXPECT_LT(gap.at("bias_corrected").get<double>(), 1.5);
  EXPECT_EQ(gap.at("confidence"), 0.95);
  const nlohmann::json& judged = json.at("bound");
  EXPECT_EQ(judged.at("metric"), "loss_gap");
  EXPECT_EQ(judged.at("unit"), "nats");
  EXPECT_EQ(judged.at("epsilon"), 0.5);
  EXPECT_EQ(judged.at("verdict"), "undetermined");
  EXPECT_EQ(judged.at("samples_needed"), 9);
  EXPECT_EQ(judged.at("deciding"), "cell en/fusion");
  EXPECT_NEAR(judged.at("upper").get<double>(), gap.at("upper").get<double>(), 1e-12);
  EXPECT_EQ(gap.at("groups_without_spread"), nlohmann::json::array({"a in en/video"}));
  const nlohmann::json& cells = json.at("cells");
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells[0].at("loss_gap_bounds").at("worst_group"), "a");
  EXPECT_NEAR(cells[0].at("loss_gap_bounds").at("upper").get<double>(),
              gap.at("upper").get<double>(), 1e-12);
  EXPECT_NEAR(cells[0].at("groups").at("a").at("standard_error").get<double>(), std::sqrt(5.0 / 12),
              1e-12);
  EXPECT_TRUE(cells[1].at("loss_gap_bounds").is_null());  // One group only.
  EXPECT_TRUE(cells[1].at("accuracy_gap").is_null());
}

TEST(FairnessReportTest, TextTableShowsTheGapBoundsAndVerdict) {
  StatedBound bound;
  bound.epsilon = 0.5;
  const absl::StatusOr<FairnessReport> report =
      BuildFairnessReport(SpreadTable(), kFusionView, {}, bound);
  ASSERT_THAT(report, IsOk());
  const std::vector<std::string> lines = absl::StrSplit(FormatTable(*report), '\n');
  EXPECT_THAT(lines, Contains(MatchesRegex(" *MinMaxGAP 95% bounds +\\[0\\.0031, 2\\.7563\\]")));
  EXPECT_THAT(lines, Contains(MatchesRegex(" *bound MinMaxGAP <= 0.5 nats +undetermined: needs "
                                           "about 9 samples per group in cell en/fusion")));
  EXPECT_THAT(lines, Contains(MatchesRegex(" *en/fusion +a +4 +2\\.5000 +0\\.6455 +1\\.5000 +"
                                           "[0-9.]+ +\\[0\\.0031, 2\\.7563\\] .*")));
}

TEST(FairnessReportTest, RefusesAnOutOfRangeBound) {
  StatedBound bound;
  bound.confidence = 1.5;
  EXPECT_FALSE(BuildFairnessReport(SmallTable(), kFusionView, {}, bound).ok());
  bound = {.metric = BoundMetric::kAccuracyGap, .epsilon = 150};
  EXPECT_FALSE(BuildFairnessReport(SmallTable(), kFusionView, {}, bound).ok());
}

// A bound in points is judged from the cells' accuracy intervals: SmallTable's
// de/fusion gap of 40 points has a lower bound under 0, so 10 points is
// undetermined, and 90 points (every upper bound under it) held.
TEST(FairnessReportTest, JudgesABoundOnTheAccuracyGap) {
  StatedBound bound{.metric = BoundMetric::kAccuracyGap, .epsilon = 10};
  absl::StatusOr<FairnessReport> report = BuildFairnessReport(SmallTable(), kFusionView, {}, bound);
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->bound.verdict, BoundVerdict::kUndetermined);
  EXPECT_NEAR(report->bound.estimate, 50.0, 1e-9);  // en/audio: m 3 of 3, f 1 of 2.
  EXPECT_THAT(report->bound.text, HasSubstr("samples per group in cell"));
  const nlohmann::json json = ToJson(*report);
  EXPECT_EQ(json.at("bound").at("metric"), "accuracy_gap");
  EXPECT_EQ(json.at("bound").at("unit"), "points");
  bound.epsilon = 99.9;
  report = BuildFairnessReport(SmallTable(), kFusionView, {}, bound);
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->bound.verdict, BoundVerdict::kHeld) << report->bound.text;
  EXPECT_THAT(FormatTable(*report),
              HasSubstr("bound accuracy gap <= 99.9 points in every cell  held: every cell's"));
}

TEST(FairnessReportTest, TextTableNamesClientsAndMissingLanguages) {
  StatisticsTable table;
  table[Cell{"", "fusion", "client-7"}] = {{"f", Group({{1, 0}, {0, 1}}, 1.0)}};
  const absl::StatusOr<FairnessReport> report = BuildFairnessReport(table);
  ASSERT_THAT(report, IsOk());
  EXPECT_THAT(FormatTable(*report), HasSubstr("-/fusion/client-7"));
}

// Per-client cells of a large federation: the terminal table lists the cells with
// the largest loss gaps and counts the rest.
TEST(FairnessReportTest, TextTableListsTheWidestCellsOfMany) {
  StatisticsTable table;
  const size_t cells = kMaxTableCells + 10;
  for (size_t i = 0; i < cells; ++i) {
    // Cell i's gap is i/100 nats: f's loss (1 + i/100)·2 over 2 samples, m's 2/2.
    table[Cell{"en", "fusion", absl::StrCat("client-", 100 + i)}] = {
        {"f", Group({{1, 0}, {0, 1}}, 2.0 + 2.0 * static_cast<double>(i) / 100)},
        {"m", Group({{1, 0}, {0, 1}}, 2.0)}};
  }
  const absl::StatusOr<FairnessReport> report = BuildFairnessReport(table);
  ASSERT_THAT(report, IsOk());
  const std::string text = FormatTable(*report);
  EXPECT_THAT(text, HasSubstr("... and 10 more cells, each with a smaller loss gap"));
  for (size_t i = 0; i < cells; ++i) {
    const std::string name = absl::StrCat("en/fusion/client-", 100 + i);
    if (i < 10) {
      EXPECT_THAT(text, Not(HasSubstr(name))) << name;
    } else {
      EXPECT_THAT(text, HasSubstr(name)) << name;
    }
  }
  EXPECT_EQ(report->cells.size(), cells);
  // A table of few cells lists them all.
  EXPECT_THAT(FormatTable(*BuildFairnessReport(SmallTable())), Not(HasSubstr("more cells")));
}

}  // namespace
}  // namespace equifl::fairness
