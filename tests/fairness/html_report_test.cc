#include "fairness/html_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::fairness {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

//! A "validation" object in the schema of fairness_report.h, with cells de/fusion and
//! en/audio, groups "f" and "<b&>", and the given headline numbers.
nlohmann::json Validation(double accuracy, double de_gap, double en_gap) {
  nlohmann::json groups = {
      {"f", {{"count", 10}, {"mean_loss", 0.5}, {"accuracy", 0.8}, {"macro_f1", 0.7}}},
      {"<b&>", {{"count", 7}, {"mean_loss", 0.9}, {"accuracy", 0.6}, {"macro_f1", 0.5}}}};
  nlohmann::json overall = {{"accuracy", accuracy},
                            {"macro_f1", 0.625},
                            {"worst_group", "<b&>"},
                            {"worst_group_accuracy", 0.6},
                            {"equalized_odds_difference", {{"mean", 0.125}, {"max", 0.25}}},
                            {"disparate_impact", {{"mean", 0.875}, {"min", 0.75}}},
                            {"groups", groups}};
  auto cell = [](const char* language, const char* modality, double gap, double loss) {
    return nlohmann::json{{"language", language},
                          {"modality", modality},
                          {"client", ""},
                          {"loss_gap", gap},
                          {"groups",
                           {{"f", {{"count", 4}, {"mean_loss", loss}}},
                            {"<b&>", {{"count", 3}, {"mean_loss", loss + gap}}}}}};
  };
  return {{"overall", overall},
          {"cells", {cell("de", "fusion", de_gap, 0.25), cell("en", "audio", en_gap, 0.5)}},
          {"min_max_gap",
           {{"value", std::max(de_gap, en_gap)},
            {"cell", {{"language", "de"}, {"modality", "fusion"}, {"client", ""}}}}},
          {"msfd", {{"fusion", 0.05}}},
          {"afi", 0.05}};
}

nlohmann::json Line(int round, bool final_evaluation, double accuracy, double de_gap,
                    double en_gap) {
  return {{"round", round},
          {"final_evaluation", final_evaluation},
          {"contributors", 2},
          {"train_loss", 0.7},
          {"validation_loss", 0.6},
          {"lambda", 0.1 * round},
          {"validation_gap", de_gap},
          {"seconds", 1.5},
          {"validation", Validation(accuracy, de_gap, en_gap)}};
}

std::vector<std::string> ThreeLines() {
  return {Line(1, false, 0.5, 0.4, 0.2).dump(), Line(2, false, 0.625, 0.3, 0.1).dump(),
          Line(2, true, 0.8125, 0.375, 0.125).dump()};
}

TEST(HtmlReportTest, ShowsTitleChartsCellsAndGroups) {
  const absl::StatusOr<std::string> page = RenderHtmlReport(ThreeLines(), "Run <42>");
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(*page, HasSubstr("<title>Run &lt;42&gt;</title>"));
  EXPECT_THAT(*page, HasSubstr("<h1>Run &lt;42&gt;</h1>"));
  EXPECT_THAT(*page, HasSubstr("<svg"));
  // Each cell is a line of the loss-gap chart, with a legend entry.
  EXPECT_THAT(*page, HasSubstr(">de/fusion</text>"));
  EXPECT_THAT(*page, HasSubstr(">en/audio</text>"));
  EXPECT_THAT(*page, HasSubstr(">f<"));
  EXPECT_THAT(*page, HasSubstr("MinMaxGAP"));
  EXPECT_THAT(*page, HasSubstr("λ"));
  EXPECT_THAT(*page, Not(HasSubstr("<script")));
  EXPECT_THAT(*page, Not(HasSubstr("src=")));  // nothing loaded from elsewhere
  EXPECT_THAT(*page, Not(HasSubstr("<link")));
}

TEST(HtmlReportTest, SummaryUsesTheFinalEvaluation) {
  const absl::StatusOr<std::string> page = RenderHtmlReport(ThreeLines(), "run");
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(*page, HasSubstr("<th>Training rounds</th><td>2</td>"));
  EXPECT_THAT(*page, HasSubstr("<th>Accuracy</th><td>0.8125</td>"));
  EXPECT_THAT(*page, HasSubstr("<th>MinMaxGAP</th><td>0.3750 (de/fusion)</td>"));
  EXPECT_THAT(*page, HasSubstr("final evaluation"));
}

TEST(HtmlReportTest, SummaryNamesTheChosenModel) {
  std::vector<std::string> lines = ThreeLines();
  EXPECT_THAT(*RenderHtmlReport(lines, "run"), Not(HasSubstr("<th>Model</th>")));
  nlohmann::json final_line = Line(2, true, 0.8125, 0.375, 0.125);
  final_line["chosen"] = {{"model_round", 1}, {"reason", "round 1's model (<best>)"}};
  lines.back() = final_line.dump();
  const absl::StatusOr<std::string> page = RenderHtmlReport(lines, "run");
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(*page, HasSubstr("<th>Model</th><td>chosen on the selection split: round 1&#39;s "
                               "model (&lt;best&gt;)</td>"));
}

TEST(HtmlReportTest, SummaryFallsBackToTheLastLine) {
  std::vector<std::string> lines = ThreeLines();
  lines.pop_back();
  const absl::StatusOr<std::string> page = RenderHtmlReport(lines, "run");
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(*page, HasSubstr("<th>Accuracy</th><td>0.6250</td>"));
  EXPECT_THAT(*page, HasSubstr("no final evaluation"));
}

TEST(HtmlReportTest, EscapesGroupNames) {
  const absl::StatusOr<std::string> page = RenderHtmlReport(ThreeLines(), "run");
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(*page, HasSubstr("&lt;b&amp;&gt;"));
  EXPECT_THAT(*page, Not(HasSubstr("<b&>")));
  EXPECT_EQ(HtmlEscape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
}

TEST(HtmlReportTest, CellTableHasEveryGroupOfTheFinalLine) {
  const absl::StatusOr<std::string> page = RenderHtmlReport(ThreeLines(), "run");
  ASSERT_THAT(page, IsOk());
  // de/fusion of the final line, groups in name order: <b&> loss 0.625 count 3, f loss 0.25
  // count 4, gap 0.375; it is the MinMaxGAP cell.
  EXPECT_THAT(*page, HasSubstr("<tr class=\"worst\"><td rowspan=\"2\">de/fusion</td>"
                               "<td>&lt;b&amp;&gt;</td><td>0.6250</td><td>3</td>"
                               "<td rowspan=\"2\">0.3750</td><td rowspan=\"2\">&ndash;</td></tr>"));
  EXPECT_THAT(*page, HasSubstr("<td>f</td><td>0.2500</td><td>4</td></tr>"));
  EXPECT_THAT(*page, HasSubstr("<tr><td rowspan=\"2\">en/audio</td>"));
  EXPECT_THAT(*page, HasSubstr("<td rowspan=\"2\">0.1250</td>"));
}

TEST(HtmlReportTest, ShowsTheGapBoundsAndVerdictWhereTheLineHasThem) {
  nlohmann::json line = Line(2, true, 0.8125, 0.375, 0.125);
  nlohmann::json& gap = line["validation"]["min_max_gap"];
  gap["bias_corrected"] = 0.25;
  gap["lower"] = 0.0625;
  gap["upper"] = 0.5;
  gap["confidence"] = 0.95;
  gap["epsilon"] = 0.1;
  gap["verdict_text"] = "undetermined: needs about 90 samples per group in cell de/fusion";
  line["validation"]["cells"][0]["loss_gap_bounds"] = {{"lower", 0.0625}, {"upper", 0.5}};
  line["validation"]["cells"][0]["accuracy_gap"] = {{"value", 0.125},
                                                    {"lower", -0.05},
                                                    {"upper", 0.3},
                                                    {"best_group", "f"},
                                                    {"worst_group", "<b&>"}};
  const absl::StatusOr<std::string> page = RenderHtmlReport({line.dump()}, "run");
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(*page, HasSubstr("<th>MinMaxGAP bias-corrected</th><td>0.2500</td>"));
  EXPECT_THAT(*page, HasSubstr("<th>MinMaxGAP 95% bounds</th><td>[0.0625, 0.5000]</td>"));
  EXPECT_THAT(*page, HasSubstr("<th>Bound MinMaxGAP &le; 0.1000</th><td>undetermined: needs "
                               "about 90 samples per group in cell de/fusion</td>"));
  EXPECT_THAT(*page,
              HasSubstr("<td rowspan=\"2\">0.3750 [0.0625, 0.5000]</td>"
                        "<td rowspan=\"2\">accuracy 12.5 [-5.0, 30.0] f vs &lt;b&amp;&gt;</td>"));
  // Lines written before the bounds existed show none.
  const absl::StatusOr<std::string> old_page = RenderHtmlReport(ThreeLines(), "run");
  ASSERT_THAT(old_page, IsOk());
  EXPECT_THAT(*old_page, Not(HasSubstr("bias-corrected")));
}

TEST(HtmlReportTest, ShowsTheStatedBoundsVerdict) {
  nlohmann::json line = Line(2, true, 0.8125, 0.375, 0.125);
  line["validation"]["bound"] = {
      {"metric", "accuracy_gap"},
      {"description", "accuracy gap <= 10 points in every cell"},
      {"verdict_text", "violated: in cell <de>/fusion the accuracy ..."}};
  const absl::StatusOr<std::string> page = RenderHtmlReport({line.dump()}, "run");
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(*page, HasSubstr("<th>Bound accuracy gap &lt;= 10 points in every cell</th>"
                               "<td>violated: in cell &lt;de&gt;/fusion the accuracy ...</td>"));
}

TEST(HtmlReportTest, BadJsonNamesTheLine) {
  std::vector<std::string> lines = ThreeLines();
  lines[1] = "{\"round\": 2,";
  const absl::StatusOr<std::string> page = RenderHtmlReport(lines, "run");
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(page.status().message(), HasSubstr("line 2"));
}

TEST(HtmlReportTest, MissingRoundNamesTheLine) {
  std::vector<std::string> lines = {"", ThreeLines()[0], "{\"final_evaluation\": true}"};
  const absl::StatusOr<std::string> page = RenderHtmlReport(lines, "run");
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(page.status().message(), HasSubstr("line 3"));
}

TEST(HtmlReportTest, NoRoundsSaysSo) {
  const absl::StatusOr<std::string> page = RenderHtmlReport({"", "  "}, "empty run");
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(*page, HasSubstr("No rounds recorded"));
  EXPECT_THAT(*page, HasSubstr("empty run"));
}

TEST(HtmlReportTest, RendersAFileAndReportsAMissingOne) {
  const equifl::test::TemporaryFolder temporary("html_report");
  const std::filesystem::path path = temporary.path() / "report.jsonl";
  {
    std::ofstream file(path);
    for (const std::string& line : ThreeLines()) file << line << '\n';
  }
  const absl::StatusOr<std::string> page = RenderHtmlReportFile(path.string(), "from file");
  std::filesystem::remove(path);
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(*page, HasSubstr("<th>Accuracy</th><td>0.8125</td>"));

  const absl::StatusOr<std::string> missing = RenderHtmlReportFile(path.string(), "gone");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(path.string()));
}

}  // namespace
}  // namespace equifl::fairness
