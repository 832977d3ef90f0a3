#include "fairness/decision_offsets.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fairness/calibration.h"
#include "tests/testing/status_matchers.h"

namespace equifl::fairness {
namespace {

using ::equifl::test::IsOk;
using ::equifl::test::StatusIs;
using ::testing::HasSubstr;

// Two classes, class 1 positive: `positives` samples of class 1 of which
// `recognised` are predicted 1, `negatives` of class 0 of which `rejected` are
// predicted 0. Loss sums are the count (mean loss 1), so they can be told apart
// from the confusion counts the offsets change.
GroupStatistics Binary(uint64_t positives, uint64_t recognised, uint64_t negatives,
                       uint64_t rejected) {
  GroupStatistics statistics;
  statistics.count = positives + negatives;
  statistics.loss_sum = static_cast<double>(statistics.count);
  statistics.num_classes = 2;
  statistics.confusion = {rejected, negatives - rejected, positives - recognised, recognised};
  return statistics;
}

DecisionOffsetOptions Options(double tolerance, uint64_t min_positives,
                              double max_accuracy_cost = 0.01) {
  return {.tolerance = tolerance,
          .max_accuracy_cost = max_accuracy_cost,
          .min_positives = min_positives};
}

Cell Fusion(const std::string& language) { return {language, kFusionView, ""}; }
Cell AtOffset(const std::string& language, double offset) {
  return {language, OffsetViewName(1, offset), ""};
}

TEST(DecisionOffsetsTest, ViewNamesCarryTheirClassAndOffset) {
  EXPECT_EQ(OffsetViewName(1, 0.25), "fusion@offset[1]=0.25");
  EXPECT_EQ(OffsetViewName(3, -1.5), "fusion@offset[3]=-1.5");
  const std::optional<ViewOffset> parsed = OffsetOfView("fusion@offset[3]=-1.5");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->positive_class, 3u);
  EXPECT_EQ(parsed->offset, -1.5);
  for (const char* other : {"fusion", "fusion@T=1.5", "fusion@offset[x]=1", "fusion@offset[1]1",
                            "fusion@offset[1]=abc", "fusion@offset[]=1", "fusion@offset[-1]=1"}) {
    EXPECT_EQ(OffsetOfView(other), std::nullopt) << other;
  }
  EXPECT_EQ(OffsetViews(2).size(), std::size(kOffsetGrid));
  for (const std::string& view : OffsetViews(2)) {
    ASSERT_TRUE(OffsetOfView(view)) << view;
    EXPECT_EQ(OffsetOfView(view)->positive_class, 2u);
    EXPECT_NE(OffsetOfView(view)->offset, 0) << "δ = 0 is the fusion view itself";
  }
}

// The English cell by hand (200 positives and 200 negatives per group):
//   offset        -0.5       0          0.5        1
//   f: TPR, right 50%, 290   60%, 300   70%, 310   80%, 310
//   m: TPR, right 70%, 320   80%, 330   85%, 330   90%, 320
// Within 2 points: (f +0.5, m −0.5) at 70% with 630 right, or (f +1, m 0) at 80%
// with 640: the latter. Within 10 points (f +0.5, m 0), (f +1, m 0) and
// (f +1, m +0.5) all have 640 right; the smallest total |offset| wins: f +0.5.
// Group x has 50 positives, below the minimum of 100: it keeps 0 and takes no part.
StatisticsTable English() {
  StatisticsTable validation;
  validation[Fusion("en")] = {{"f", Binary(200, 120, 200, 180)},
                              {"m", Binary(200, 160, 200, 170)},
                              {"x", Binary(50, 10, 50, 50)}};
  validation[AtOffset("en", -0.5)] = {{"f", Binary(200, 100, 200, 190)},
                                      {"m", Binary(200, 140, 200, 180)},
                                      {"x", Binary(50, 50, 50, 0)}};
  validation[AtOffset("en", 0.5)] = {{"f", Binary(200, 140, 200, 170)},
                                     {"m", Binary(200, 170, 200, 160)},
                                     {"x", Binary(50, 50, 50, 0)}};
  validation[AtOffset("en", 1)] = {{"f", Binary(200, 160, 200, 150)},
                                   {"m", Binary(200, 180, 200, 140)},
                                   {"x", Binary(50, 50, 50, 0)}};
  return validation;
}

TEST(DecisionOffsetsTest, TheFitTakesTheMostAccurateCombinationWithinTheTolerance) {
  const DecisionOffsets tight = FitDecisionOffsets(English(), 1, Options(0.02, 100));
  EXPECT_EQ(tight.positive_class, 1u);
  ASSERT_EQ(tight.groups.size(), 3u);
  EXPECT_EQ(tight.groups[0].group, "f");
  EXPECT_TRUE(tight.groups[0].fitted);
  EXPECT_EQ(tight.groups[0].offset, 1);
  EXPECT_EQ(tight.groups[0].positives, 200u);
  EXPECT_DOUBLE_EQ(tight.groups[0].true_positive_rate_before, 0.6);
  EXPECT_DOUBLE_EQ(tight.groups[0].true_positive_rate_after, 0.8);
  EXPECT_EQ(tight.groups[1].group, "m");
  EXPECT_TRUE(tight.groups[1].fitted);
  EXPECT_EQ(tight.groups[1].offset, 0);
  EXPECT_DOUBLE_EQ(tight.groups[1].true_positive_rate_after, 0.8);
  EXPECT_EQ(tight.groups[2].group, "x");
  EXPECT_FALSE(tight.groups[2].fitted);
  EXPECT_EQ(tight.groups[2].offset, 0);
  EXPECT_EQ(tight.groups[2].positives, 50u);
  EXPECT_DOUBLE_EQ(tight.groups[2].true_positive_rate_after, 0.2);

  const DecisionOffsets loose = FitDecisionOffsets(English(), 1, Options(0.10, 100));
  EXPECT_EQ(loose.groups[0].offset, 0.5);
  EXPECT_EQ(loose.groups[1].offset, 0);
}

// Equal rates cost accuracy here, and the budget (1% of 400 samples: at least 306
// of the plain 310 right) decides how far the fit goes. Spreads (right):
//   plain f 50% / m 90%: 40 points (310); f +0.5 (62%) / m 0: 28 (312);
//   f +3 (95%) / m 0: 5 (285); f +3 / m +0.5 (95%): 0 (270).
// The narrowest affordable spread is 28 points. With a budget of 20% (at least
// 230 right) the fit goes down to the tolerance: f +3, m +0.5.
TEST(DecisionOffsetsTest, TheAccuracyBudgetBoundsHowFarTheRatesAreEqualised) {
  StatisticsTable validation;
  validation[Fusion("de")] = {{"f", Binary(100, 50, 100, 90)}, {"m", Binary(100, 90, 100, 80)}};
  validation[AtOffset("de", 0.5)] = {{"f", Binary(100, 62, 100, 80)},
                                     {"m", Binary(100, 95, 100, 60)}};
  validation[AtOffset("de", 3)] = {{"f", Binary(100, 95, 100, 20)},
                                   {"m", Binary(100, 100, 100, 0)}};
  const DecisionOffsets fit = FitDecisionOffsets(validation, 1, Options(0.02, 100));
  ASSERT_EQ(fit.groups.size(), 2u);
  EXPECT_EQ(fit.groups[0].offset, 0.5);
  EXPECT_EQ(fit.groups[1].offset, 0);
  EXPECT_TRUE(fit.groups[0].fitted && fit.groups[1].fitted);
  const DecisionOffsets generous = FitDecisionOffsets(validation, 1, Options(0.02, 100, 0.2));
  EXPECT_EQ(generous.groups[0].offset, 3);
  EXPECT_EQ(generous.groups[1].offset, 0.5);
  EXPECT_DOUBLE_EQ(generous.groups[0].true_positive_rate_after, 0.95);
  EXPECT_DOUBLE_EQ(generous.groups[1].true_positive_rate_after, 0.95);
}

// A spread the validation split cannot resolve is left alone: with 20 positives
// per group, 60% against 70% is within 1.96 standard errors (1.96 · 15 points), so
// f +0.5, which would equalise them at 70% for one right prediction of 60 (within
// the 20% budget), is not taken; at confidence 0.38 (z = 0.5: 7.5 points) it is,
// but not when the same cell is one of ten (Bonferroni: z = 1.87). Nor does the fit
// widen the spread within a large tolerance, though f 0 with m +0.5 (100%) would be
// right 65 times, at 40 points.
TEST(DecisionOffsetsTest, ASpreadWithinTheNoiseIsLeftAlone) {
  StatisticsTable validation;
  validation[Fusion("en")] = {{"f", Binary(20, 12, 20, 18)}, {"m", Binary(20, 14, 20, 16)}};
  validation[AtOffset("en", 0.5)] = {{"f", Binary(20, 14, 20, 15)}, {"m", Binary(20, 20, 20, 15)}};
  const DecisionOffsets fit = FitDecisionOffsets(validation, 1, Options(0.02, 10, 0.2));
  EXPECT_EQ(fit.groups[0].offset, 0);
  EXPECT_EQ(fit.groups[1].offset, 0);
  EXPECT_TRUE(fit.groups[0].fitted);
  DecisionOffsetOptions convinced = Options(0.02, 10, 0.2);
  convinced.confidence = 0.38;
  const DecisionOffsets acted = FitDecisionOffsets(validation, 1, convinced);
  EXPECT_EQ(acted.groups[0].offset, 0.5);
  EXPECT_EQ(acted.groups[1].offset, 0);
  StatisticsTable ten = validation;
  for (int language = 1; language < 10; ++language) {
    const std::string name = "l" + std::to_string(language);
    ten[Fusion(name)] = validation.at(Fusion("en"));
  }
  for (const GroupDecisionOffset& entry : FitDecisionOffsets(ten, 1, convinced).groups) {
    EXPECT_EQ(entry.offset, 0) << CellName(entry.cell) << " " << entry.group;
  }
  convinced.tolerance = 0.5;
  const DecisionOffsets tolerant = FitDecisionOffsets(validation, 1, convinced);
  EXPECT_EQ(tolerant.groups[0].offset, 0);
  EXPECT_EQ(tolerant.groups[1].offset, 0);
}

// Privacy noise on the confusion counts widens what the validation split can
// resolve: English's 20-point spread is 4.5 binomial standard errors, but with
// noise of deviation 20 on every count the standard error is 11.8 points
// (sqrt(.002 + 400·(.4² + .6²)/200² + 400·(.2² + .8²)/200²)), and 20 is within 1.96 of it.
TEST(DecisionOffsetsTest, PrivacyNoiseOnTheCountsWidensTheNoiseGate) {
  StatisticsTable noisy = English();
  for (auto& [cell, groups] : noisy) {
    for (auto& [name, group] : groups) group.noise.confusion = 400;
  }
  for (const GroupDecisionOffset& entry : FitDecisionOffsets(noisy, 1, Options(0.02, 100)).groups) {
    EXPECT_EQ(entry.offset, 0) << entry.group;
  }
}

// Lowering a group's rate is levelling down, which the fit does only when allowed.
// f 60% (300 right) or +0.5: 70% (280); m 80% (330) or −1: 70% (325); budget 8 of
// 800. Raising f alone is not affordable (610 right at 10 points), so without
// levelling down the plain model stays; with it, m −1 brings the spread to 10
// points at 625 right.
TEST(DecisionOffsetsTest, LoweringARateNeedsLevellingDown) {
  StatisticsTable validation;
  validation[Fusion("en")] = {{"f", Binary(200, 120, 200, 180)}, {"m", Binary(200, 160, 200, 170)}};
  validation[AtOffset("en", 0.5)] = {{"f", Binary(200, 140, 200, 140)},
                                     {"m", Binary(200, 170, 200, 150)}};
  validation[AtOffset("en", -1)] = {{"f", Binary(200, 100, 200, 190)},
                                    {"m", Binary(200, 140, 200, 185)}};
  DecisionOffsetOptions options = Options(0.02, 100);
  for (const GroupDecisionOffset& entry : FitDecisionOffsets(validation, 1, options).groups) {
    EXPECT_EQ(entry.offset, 0) << entry.group;
  }
  options.allow_levelling_down = true;
  const DecisionOffsets lowered = FitDecisionOffsets(validation, 1, options);
  EXPECT_EQ(lowered.groups[0].offset, 0);
  EXPECT_EQ(lowered.groups[1].offset, -1);
  EXPECT_DOUBLE_EQ(lowered.groups[1].true_positive_rate_after, 0.7);
}

// One group with enough positives has nobody to be equal to; other classes, other
// views and cells of other views stay out.
TEST(DecisionOffsetsTest, ACellWithOneEligibleGroupIsLeftAlone) {
  StatisticsTable validation;
  validation[Fusion("ja")] = {{"f", Binary(150, 60, 10, 5)}, {"m", Binary(20, 20, 10, 5)}};
  validation[AtOffset("ja", 1)] = {{"f", Binary(150, 140, 10, 0)}, {"m", Binary(20, 20, 10, 0)}};
  validation[{"ja", "video", ""}] = {{"f", Binary(150, 1, 10, 5)}};
  const DecisionOffsets fit = FitDecisionOffsets(validation, 1, Options(0.02, 100));
  ASSERT_EQ(fit.groups.size(), 2u);
  for (const GroupDecisionOffset& entry : fit.groups) {
    EXPECT_FALSE(entry.fitted) << entry.group;
    EXPECT_EQ(entry.offset, 0) << entry.group;
  }
  // A positive class the statistics do not have: no rates, nothing fitted.
  for (const GroupDecisionOffset& entry :
       FitDecisionOffsets(English(), 4, Options(0.02, 2)).groups) {
    EXPECT_FALSE(entry.fitted);
    EXPECT_EQ(entry.positives, 0u);
  }
}

TEST(DecisionOffsetsTest, ApplyingReadsEachGroupsPredictionsAtItsOffset) {
  StatisticsTable test = English();
  test[{"en", "video", ""}] = {{"f", Binary(10, 1, 10, 1)}};
  const StatisticsTable applied =
      ApplyDecisionOffsets(test, FitDecisionOffsets(English(), 1, Options(0.02, 100)));
  EXPECT_EQ(applied.size(), 2u) << "the offset views are gone, the video cell stays";
  const GroupsOfCell& english = applied.at(Fusion("en"));
  EXPECT_EQ(english.at("f").confusion, test.at(AtOffset("en", 1)).at("f").confusion);
  EXPECT_EQ(english.at("f").loss_sum, 400) << "losses do not change with an offset";
  EXPECT_EQ(english.at("f").count, 400u);
  EXPECT_EQ(english.at("m").confusion, test.at(Fusion("en")).at("m").confusion);
  EXPECT_EQ(english.at("x").confusion, test.at(Fusion("en")).at("x").confusion);
  EXPECT_EQ(WithoutOffsetViews(test).size(), 2u);
}

// Test gaps by hand: before, f 60% against m 80% (20 points); after, 80% both.
// Accuracy of the cell's 900 samples: (300 + 330 + 60) before, (310 + 330 + 60)
// after; without x, 630 and 640 of 800.
TEST(DecisionOffsetsTest, TheEffectIsTheTestGapBeforeAndAfter) {
  const DecisionOffsets fit = FitDecisionOffsets(English(), 1, Options(0.02, 100));
  const StatisticsTable plain = WithoutOffsetViews(English());
  const std::vector<OffsetEffect> effects =
      OffsetEffects(plain, ApplyDecisionOffsets(English(), fit), 1, 0.95);
  ASSERT_EQ(effects.size(), 1u);
  ASSERT_TRUE(effects[0].gap_before && effects[0].gap_after);
  EXPECT_NEAR(effects[0].gap_before->gap, 0.8 - 0.2, 1e-12) << "x's 20% is the lowest rate";
  EXPECT_EQ(effects[0].gap_before->worst_group, "x");
  EXPECT_NEAR(effects[0].gap_after->gap, 0.8 - 0.2, 1e-12);
  EXPECT_LT(effects[0].gap_before->lower, effects[0].gap_before->gap);
  EXPECT_GT(effects[0].gap_before->upper, effects[0].gap_before->gap);
  // False-positive rates: f 10%, m 15%, x 0% before; f 25% after.
  ASSERT_TRUE(effects[0].false_gap_before && effects[0].false_gap_after);
  EXPECT_NEAR(effects[0].false_gap_before->gap, 0.15, 1e-12);
  EXPECT_NEAR(effects[0].false_gap_after->gap, 0.25, 1e-12);
  EXPECT_EQ(effects[0].false_gap_after->best_group, "f");
  EXPECT_NEAR(effects[0].accuracy_before, 690.0 / 900, 1e-12);
  EXPECT_NEAR(effects[0].accuracy_after, 700.0 / 900, 1e-12);

  StatisticsTable two = English();
  for (auto& [cell, groups] : two) groups.erase("x");
  const std::vector<OffsetEffect> equalised = OffsetEffects(
      WithoutOffsetViews(two),
      ApplyDecisionOffsets(two, FitDecisionOffsets(two, 1, Options(0.02, 100))), 1, 0.95);
  ASSERT_TRUE(equalised[0].gap_before && equalised[0].gap_after);
  EXPECT_NEAR(equalised[0].gap_before->gap, 0.2, 1e-12);
  EXPECT_NEAR(equalised[0].gap_after->gap, 0.0, 1e-12);
  EXPECT_NEAR(equalised[0].false_gap_before->gap, 0.05, 1e-12);
  EXPECT_NEAR(equalised[0].false_gap_after->gap, 0.10, 1e-12);
  const std::string text = FormatDecisionOffsets(fit, equalised, "yes");
  EXPECT_THAT(text, HasSubstr("f +1 (validation 60.0% -> 80.0%)"));
  EXPECT_THAT(text, HasSubstr("test true-positive-rate gap of 'yes': 20.0 ["));
  EXPECT_THAT(text, HasSubstr("accuracy 78.8% -> 80.0%"));
  EXPECT_THAT(text, HasSubstr("test false-positive-rate gap: 5.0 ["));
  EXPECT_THAT(text, HasSubstr("left at 0"));
  EXPECT_THAT(text, HasSubstr("x (50)"));
  const nlohmann::json json = OffsetEffectsToJson(equalised);
  EXPECT_NEAR(json[0]["true_positive_rate_gap_before"]["gap"].get<double>(), 0.2, 1e-12);
  EXPECT_EQ(json[0]["cell"], "en/fusion");
  EXPECT_NEAR(json[0]["false_positive_rate_gap_after"]["gap"].get<double>(), 0.10, 1e-12);
}

TEST(DecisionOffsetsTest, TheFitRoundTripsThroughTheCalibrationFile) {
  DecisionOffsets fit = FitDecisionOffsets(English(), 1, Options(0.02, 100));
  fit.groups[1].cell.client = "client-7";
  nlohmann::json file = CalibrationToJson({});
  file["decision_offsets"] = DecisionOffsetsToJson(fit);
  const absl::StatusOr<std::optional<DecisionOffsets>> read = DecisionOffsetsFromJson(file.dump());
  ASSERT_THAT(read, IsOk());
  ASSERT_TRUE(read->has_value());
  const DecisionOffsets& back = **read;
  EXPECT_EQ(back.positive_class, 1u);
  ASSERT_EQ(back.groups.size(), fit.groups.size());
  for (size_t i = 0; i < fit.groups.size(); ++i) {
    EXPECT_EQ(back.groups[i].cell, fit.groups[i].cell);
    EXPECT_EQ(back.groups[i].group, fit.groups[i].group);
    EXPECT_EQ(back.groups[i].offset, fit.groups[i].offset);
    EXPECT_EQ(back.groups[i].fitted, fit.groups[i].fitted);
    EXPECT_EQ(back.groups[i].positives, fit.groups[i].positives);
    EXPECT_EQ(back.groups[i].true_positive_rate_after, fit.groups[i].true_positive_rate_after);
  }
  // A file without offsets (temperatures only) has none.
  const auto none = DecisionOffsetsFromJson(CalibrationToJson({}).dump());
  ASSERT_THAT(none, IsOk());
  EXPECT_FALSE(none->has_value());

  EXPECT_THAT(DecisionOffsetsFromJson("[1]"),
              StatusIs(absl::StatusCode::kInvalidArgument, "not a calibration file"));
  EXPECT_THAT(DecisionOffsetsFromJson(R"({"decision_offsets": {"offsets": []}})"),
              StatusIs(absl::StatusCode::kInvalidArgument, "positive_class"));
  EXPECT_THAT(
      DecisionOffsetsFromJson(
          R"({"decision_offsets": {"positive_class": 1, "offsets": [{"language": "en"}]}})"),
      StatusIs(absl::StatusCode::kInvalidArgument, "entry 1 lacks"));
}

TEST(DecisionOffsetsTest, TheOptionsSayWhatIsWrong) {
  CalibrationOptions options;
  options.decision_offsets = true;
  EXPECT_THAT(options.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                           "decision_offsets needs calibration.enabled"));
  options.enabled = true;
  EXPECT_THAT(options.Validate(), IsOk());
  options.offset_tolerance_points = 101;
  EXPECT_THAT(options.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument, "offset_tolerance_points is 101"));
}

}  // namespace
}  // namespace equifl::fairness
