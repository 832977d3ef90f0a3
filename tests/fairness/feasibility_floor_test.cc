#include "fairness/feasibility_floor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

namespace equifl::fairness {
namespace {

// A group of `count` losses with mean `mean` and sample deviation `deviation`.
GroupStatistics Losses(uint64_t count, double mean, double deviation) {
  GroupStatistics group;
  const auto n = static_cast<double>(count);
  group.count = count;
  group.loss_sum = n * mean;
  group.loss_square_sum = (n - 1) * deviation * deviation + n * mean * mean;
  return group;
}

const Cell kEnglish{"en", kFusionView, ""};
const Cell kJapanese{"ja", kFusionView, ""};

// One fusion cell whose groups f and m have 400 samples of deviation 0.5 each
// (standard error 0.025), and a video cell the floor must ignore.
StatisticsTable Table(double female, double male) {
  StatisticsTable table;
  table[kEnglish] = {{"f", Losses(400, female, 0.5)}, {"m", Losses(400, male, 0.5)}};
  table[Cell{"en", "video", ""}] = {{"f", Losses(400, 3.0, 0.5)}, {"m", Losses(400, 0.1, 0.5)}};
  return table;
}

// By hand: the difference's standard error is 0.025·√2; the upper bound uses
// z = Φ⁻¹(0.95) = 1.644854, the lower z = Φ⁻¹(1 − 0.05/2) = 1.959964 (Bonferroni
// over the cell's two ordered pairs).
constexpr double kSpread = 0.025 * 1.4142135623730951;

TEST(FeasibilityFloorTest, TheProbeSettlesWhenTheWorstGroupStopsImproving) {
  FeasibilityFloor floor(0.95);
  floor.ObserveFullWeight(5, Table(1.2, 0.8));
  EXPECT_TRUE(floor.CellFloors().empty());  // One measurement says nothing of a trend.
  floor.ObserveFullWeight(6, Table(1.0, 0.8));
  EXPECT_TRUE(floor.CellFloors().empty());  // Down by 0.2: still improving.
  EXPECT_EQ(floor.Judge(0.1).feasibility, Feasibility::kUnknown);
  EXPECT_EQ(floor.Judge(0.1).effective_epsilon, 0.1);

  floor.ObserveFullWeight(7, Table(0.995, 0.8));  // 0.005 under its lowest: a stall.
  EXPECT_TRUE(floor.CellFloors().empty());        // One stall is often noise.
  floor.ObserveFullWeight(8, Table(0.998, 0.8));  // The second stall in a row.
  const auto floors = floor.CellFloors();
  ASSERT_EQ(floors.size(), 1u);  // The video cell is not a fusion cell.
  const CellFloor& english = floors.at(kEnglish);
  EXPECT_EQ(english.source, FloorSource::kProbe);
  EXPECT_EQ(english.round, 8u);
  EXPECT_EQ(english.gap.worst_group, "f");
  EXPECT_NEAR(english.gap.gap, 0.198, 1e-12);
  EXPECT_NEAR(english.gap.upper, 0.198 + 1.644854 * kSpread, 1e-5);
  EXPECT_NEAR(english.gap.lower, 0.198 - 1.959964 * kSpread, 1e-5);
  // A gap of eight standard errors has next to no bootstrap bias.
  EXPECT_NEAR(english.gap.bias_corrected, 0.198, 0.005);
}

// A floor restored from another's ProbeCells continues its streak: after two
// full-weight measurements (one stall), a third stall settles the restored floor
// exactly as it settles the original; a fresh floor would need two more. A settled
// cell survives the restore too.
TEST(FeasibilityFloorTest, ARestoredProbeContinuesItsStreakAndKeepsItsFloor) {
  FeasibilityFloor original(0.95);
  original.ObserveFullWeight(5, Table(1.0, 0.8));
  original.ObserveFullWeight(6, Table(0.995, 0.8));  // A stall.
  FeasibilityFloor restored(0.95);
  restored.RestoreProbe(original.ProbeCells());
  ASSERT_EQ(restored.ProbeCells().size(), 1u);
  EXPECT_EQ(restored.ProbeCells()[0].stalls, 1);
  EXPECT_EQ(restored.ProbeCells()[0].lowest, 0.995);
  FeasibilityFloor fresh(0.95);
  for (FeasibilityFloor* floor : {&original, &restored, &fresh}) {
    floor->ObserveFullWeight(7, Table(0.998, 0.8));
  }
  EXPECT_TRUE(fresh.CellFloors().empty());
  ASSERT_EQ(original.CellFloors().size(), 1u);
  ASSERT_EQ(restored.CellFloors().size(), 1u);
  EXPECT_EQ(restored.CellFloors().at(kEnglish).round, 7u);
  EXPECT_EQ(restored.CellFloors().at(kEnglish).gap.upper,
            original.CellFloors().at(kEnglish).gap.upper);
  EXPECT_EQ(restored.Judge(0.1).text, original.Judge(0.1).text);

  // Settled, after a lower-weight round ended the streak: the floor alone.
  original.ObserveLowerWeight();
  FeasibilityFloor again(0.95);
  again.RestoreProbe(original.ProbeCells());
  ASSERT_EQ(again.ProbeCells().size(), 1u);
  EXPECT_FALSE(again.ProbeCells()[0].lowest);
  EXPECT_TRUE(again.CellFloors().at(kEnglish).settled);
  EXPECT_EQ(again.Judge(0.1).text, original.Judge(0.1).text);
}

TEST(FeasibilityFloorTest, EpsilonAgainstTheFloor) {
  FeasibilityFloor floor(0.95);
  for (uint64_t round = 1; round <= 3; ++round) floor.ObserveFullWeight(round, Table(1.0, 0.8));
  // Floor 0.2, interval [0.131, 0.258].
  const double estimate = floor.CellFloors().at(kEnglish).gap.bias_corrected;

  const FloorJudgement below = floor.Judge(0.1);  // Under the lower bound.
  EXPECT_EQ(below.feasibility, Feasibility::kInfeasible);
  EXPECT_EQ(below.effective_epsilon, estimate);
  EXPECT_NE(below.text.find("infeasible: epsilon 0.1 nats is below what the data allow"),
            std::string::npos)
      << below.text;
  EXPECT_NE(below.text.find("en/fusion (f above m; group DRO at full weight, round 3)"),
            std::string::npos)
      << below.text;
  EXPECT_NE(below.text.find("allow_levelling_down"), std::string::npos) << below.text;

  const FloorJudgement inside = floor.Judge(0.15);  // Above the lower bound, below 0.2.
  EXPECT_EQ(inside.feasibility, Feasibility::kPossiblyInfeasible);
  EXPECT_EQ(inside.effective_epsilon, estimate);

  const FloorJudgement above = floor.Judge(0.3);  // Above the upper bound.
  EXPECT_EQ(above.feasibility, Feasibility::kFeasible);
  EXPECT_EQ(above.effective_epsilon, 0.3);
  // Above the estimate, below the upper bound: the floor may still exceed ε.
  EXPECT_EQ(floor.Judge(0.22).feasibility, Feasibility::kUnknown);

  const nlohmann::json json = FloorToJson(below);
  EXPECT_EQ(json["feasibility"], "infeasible");
  EXPECT_EQ(json["floor"]["source"], "group DRO at full weight");
  EXPECT_EQ(json["floor"]["language"], "en");
  EXPECT_EQ(json["floor"]["round"], 3);
  EXPECT_NEAR(json["floor"]["upper"].get<double>(), 0.2 + 1.644854 * kSpread, 1e-5);
  EXPECT_TRUE(FloorToJson(FeasibilityFloor(0.95).Judge(0.1))["floor"].is_null());
}

// The probe compares consecutive full-weight measurements only: a round at lower
// weight in between starts it afresh.
TEST(FeasibilityFloorTest, ALowerWeightRoundRestartsTheProbe) {
  FeasibilityFloor floor(0.95);
  floor.ObserveFullWeight(1, Table(1.0, 0.8));
  floor.ObserveLowerWeight();
  floor.ObserveFullWeight(3, Table(1.0, 0.8));
  floor.ObserveFullWeight(4, Table(1.0, 0.8));
  EXPECT_TRUE(floor.CellFloors().empty());  // One stall since the restart.
  floor.ObserveFullWeight(5, Table(1.0, 0.8));
  EXPECT_EQ(floor.CellFloors().size(), 1u);
}

// Each cell takes the smaller of its measurements, each bound the smaller of the
// two; the MinMaxGAP's floor is the largest cell floor. Here ja's probe has 25
// samples a group, so its wide lower bound stays with the floor though the
// tighter calibrated measurement is the smaller: ε is only possibly infeasible.
TEST(FeasibilityFloorTest, CellsTakeTheirSmallerMeasurementAndTheLargestCellDecides) {
  FeasibilityFloor floor(0.95);
  StatisticsTable probed = Table(1.0, 0.8);                                        // en: 0.2
  probed[kJapanese] = {{"f", Losses(25, 1.1, 0.5)}, {"m", Losses(25, 0.8, 0.5)}};  // ja: 0.3
  for (uint64_t round = 1; round <= 3; ++round) floor.ObserveFullWeight(round, probed);
  StatisticsTable calibrated = Table(0.9, 0.8);  // en: 0.1 after calibration
  calibrated[kJapanese] = {{"f", Losses(400, 1.05, 0.5)}, {"m", Losses(400, 0.8, 0.5)}};  // 0.25
  floor.ObserveCalibrated(9, calibrated);
  LossGapBoundOptions options;
  const LossGapBounds probe_bounds = BoundLossGaps(probed, options);
  const LossGapBounds calibrated_bounds = BoundLossGaps(calibrated, options);
  ASSERT_EQ(probe_bounds.cells.size(), 3u);  // en/fusion, en/video, ja/fusion
  ASSERT_EQ(calibrated_bounds.cells.size(), 3u);

  const auto floors = floor.CellFloors();
  ASSERT_EQ(floors.size(), 2u);
  const CellFloor& english = floors.at(kEnglish);
  EXPECT_EQ(english.source, FloorSource::kCalibration);
  EXPECT_TRUE(english.settled);  // By the probe.
  EXPECT_EQ(english.round, 9u);
  EXPECT_NEAR(english.gap.gap, 0.1, 1e-12);
  const CellFloor& japanese = floors.at(kJapanese);
  EXPECT_EQ(japanese.source, FloorSource::kCalibration);
  EXPECT_NEAR(japanese.gap.gap, 0.25, 1e-12);
  EXPECT_LT(probe_bounds.cells[2].lower, calibrated_bounds.cells[2].lower);
  EXPECT_GT(probe_bounds.cells[2].upper, calibrated_bounds.cells[2].upper);
  // The lower bound is the probe's (0.3 − z·0.141 < 0 with 25 samples), the upper
  // calibration's (upper bounds do not depend on the other cells).
  EXPECT_LE(japanese.gap.lower, 0.05);
  EXPECT_NEAR(japanese.gap.upper, calibrated_bounds.cells[2].upper, 1e-12);

  const FloorJudgement judgement = floor.Judge(0.05);
  ASSERT_TRUE(judgement.floor);
  EXPECT_EQ(judgement.floor->gap.cell, kJapanese);
  EXPECT_EQ(judgement.feasibility, Feasibility::kPossiblyInfeasible);
  EXPECT_NE(judgement.text.find("keeps aiming at epsilon"), std::string::npos) << judgement.text;
}

// A measured gap is reachable, so without the probe it only bounds the floor from
// above: a calibrated FedAvg run cannot call ε infeasible, however far above ε
// its gap is (weighting might still close it).
TEST(FeasibilityFloorTest, CalibrationAloneGivesAnUpperEstimateOnly) {
  FeasibilityFloor floor(0.95);
  floor.ObserveCalibrated(9, Table(1.5, 0.8));
  const auto floors = floor.CellFloors();
  ASSERT_EQ(floors.size(), 1u);
  EXPECT_FALSE(floors.at(kEnglish).settled);

  const FloorJudgement judgement = floor.Judge(0.05);
  EXPECT_EQ(judgement.feasibility, Feasibility::kUnknown);
  EXPECT_EQ(judgement.effective_epsilon, 0.05);
  EXPECT_FALSE(judgement.floor);
  ASSERT_TRUE(judgement.upper_estimate);
  EXPECT_EQ(judgement.upper_estimate->source, FloorSource::kCalibration);
  EXPECT_NEAR(judgement.upper_estimate->gap.gap, 0.7, 1e-12);
  EXPECT_NE(judgement.text.find("the floor is at most the largest gap measured, 0.7"),
            std::string::npos)
      << judgement.text;
  const nlohmann::json json = FloorToJson(judgement);
  EXPECT_TRUE(json["floor"].is_null());
  EXPECT_EQ(json["upper_estimate"]["settled"], false);
  // A gap reached within ε says the floor is too.
  EXPECT_EQ(floor.Judge(0.8).feasibility, Feasibility::kFeasible);
}

// A settled cell within ε says nothing of the cells not settled: feasible needs
// every measured cell within ε.
TEST(FeasibilityFloorTest, FeasibleNeedsEveryMeasuredCellWithinEpsilon) {
  FeasibilityFloor floor(0.95);
  // en settled at 0.
  for (uint64_t round = 1; round <= 3; ++round) floor.ObserveFullWeight(round, Table(0.8, 0.8));
  StatisticsTable calibrated;
  calibrated[kJapanese] = {{"f", Losses(400, 1.3, 0.5)}, {"m", Losses(400, 0.8, 0.5)}};
  floor.ObserveCalibrated(9, calibrated);  // ja: at most 0.5.
  const FloorJudgement judgement = floor.Judge(0.1);
  EXPECT_EQ(judgement.feasibility, Feasibility::kUnknown);
  EXPECT_EQ(judgement.effective_epsilon, 0.1);
  ASSERT_TRUE(judgement.floor && judgement.upper_estimate);
  EXPECT_EQ(judgement.floor->gap.cell, kEnglish);
  EXPECT_EQ(judgement.upper_estimate->gap.cell, kJapanese);
  EXPECT_NE(judgement.text.find("other cells are not settled"), std::string::npos)
      << judgement.text;
  EXPECT_EQ(floor.Judge(0.6).feasibility, Feasibility::kFeasible);
}

}  // namespace
}  // namespace equifl::fairness
