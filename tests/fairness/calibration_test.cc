#include "fairness/calibration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace equifl::fairness {
namespace {

using testing::HasSubstr;

GroupStatistics Losses(double mean, uint64_t count) {
  GroupStatistics statistics;
  statistics.count = count;
  statistics.loss_sum = mean * static_cast<double>(count);
  return statistics;
}

const Cell kEnglish{"en", kFusionView, ""};

Cell AtTemperature(double temperature) { return {"en", TemperatureViewName(temperature), ""}; }

TEST(CalibrationTest, ViewNamesCarryTheirTemperature) {
  EXPECT_EQ(TemperatureViewName(1.25), "fusion@T=1.25");
  EXPECT_EQ(TemperatureOfView("fusion@T=1.25"), 1.25);
  EXPECT_EQ(TemperatureOfView("fusion"), std::nullopt);
  EXPECT_EQ(TemperatureOfView("video"), std::nullopt);
  EXPECT_EQ(TemperatureOfView("fusion@T=abc"), std::nullopt);
  EXPECT_EQ(TemperatureOfView("fusion@T=-2"), std::nullopt);
  EXPECT_EQ(TemperatureViews().size(), std::size(kTemperatureGrid));
  for (const std::string& view : TemperatureViews()) EXPECT_TRUE(TemperatureOfView(view));
}

// Group f (120 samples) has its lowest validation loss at T = 1.5 and T = 2 (a tie,
// which the temperature nearer 1 wins); group m (50 samples) is below the 100-sample
// minimum and keeps T = 1.
TEST(CalibrationTest, TheFitPicksEachGroupsLowestLossByHand) {
  StatisticsTable validation;
  validation[kEnglish] = {{"f", Losses(1.0, 120)}, {"m", Losses(0.9, 50)}};
  for (const double temperature : kTemperatureGrid) {
    const double f_loss = temperature == 1.5 || temperature == 2.0 ? 0.8 : 1.0 + 0.1 * temperature;
    validation[AtTemperature(temperature)] = {{"f", Losses(f_loss, 120)}, {"m", Losses(0.5, 50)}};
  }
  validation[{"en", "video", ""}] = {{"f", Losses(3.0, 120)}};
  const std::vector<GroupTemperature> fit = FitTemperatures(validation, 100);
  ASSERT_EQ(fit.size(), 2u);
  EXPECT_EQ(fit[0].group, "f");
  EXPECT_TRUE(fit[0].fitted);
  EXPECT_EQ(fit[0].temperature, 1.5);
  EXPECT_EQ(fit[0].samples, 120u);
  EXPECT_DOUBLE_EQ(fit[0].loss_before, 1.0);
  EXPECT_DOUBLE_EQ(fit[0].loss_after, 0.8);
  EXPECT_EQ(fit[1].group, "m");
  EXPECT_FALSE(fit[1].fitted);
  EXPECT_EQ(fit[1].temperature, 1.0);
  EXPECT_DOUBLE_EQ(fit[1].loss_after, 0.9);

  // Applied to a test table: f is read from its T = 1.5 view, m stays, the
  // temperature views are gone and other views are kept.
  StatisticsTable test;
  test[kEnglish] = {{"f", Losses(1.1, 30)}, {"m", Losses(0.7, 20)}};
  test[AtTemperature(1.5)] = {{"f", Losses(0.95, 30)}, {"m", Losses(0.6, 20)}};
  test[AtTemperature(1.0)] = {{"f", Losses(1.1, 30)}, {"m", Losses(0.7, 20)}};
  test[{"en", "video", ""}] = {{"f", Losses(2.0, 30)}};
  const StatisticsTable calibrated = ApplyTemperatures(test, fit);
  ASSERT_EQ(calibrated.size(), 2u);
  EXPECT_DOUBLE_EQ(calibrated.at(kEnglish).at("f").mean_loss(), 0.95);
  EXPECT_DOUBLE_EQ(calibrated.at(kEnglish).at("m").mean_loss(), 0.7);
  EXPECT_DOUBLE_EQ(calibrated.at({"en", "video", ""}).at("f").mean_loss(), 2.0);
  EXPECT_EQ(WithoutTemperatureViews(test).size(), 2u);
}

TEST(CalibrationTest, TheFileRoundTripsAndBadFilesAreNamed) {
  GroupTemperature entry;
  entry.cell = {"ja", kFusionView, "client-7"};
  entry.group = "female";
  entry.temperature = 1.75;
  entry.samples = 212;
  entry.fitted = true;
  entry.loss_before = 1.4;
  entry.loss_after = 1.1;
  absl::StatusOr<std::vector<GroupTemperature>> read =
      CalibrationFromJson(CalibrationToJson({entry}).dump());
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].cell, entry.cell);
  EXPECT_EQ((*read)[0].group, "female");
  EXPECT_EQ((*read)[0].temperature, 1.75);
  EXPECT_EQ((*read)[0].samples, 212u);
  EXPECT_DOUBLE_EQ((*read)[0].loss_after, 1.1);

  EXPECT_THAT(std::string(CalibrationFromJson("not json").status().message()),
              HasSubstr("not a calibration file"));
  EXPECT_THAT(std::string(CalibrationFromJson(R"({"format": "equifl-calibration",
      "temperatures": [{"language": "en", "group": "f", "temperature": 0}]})")
                              .status()
                              .message()),
              HasSubstr("finite and > 0"));
  EXPECT_THAT(std::string(CalibrationFromJson(R"({"format": "equifl-calibration",
      "temperatures": [{"language": "en", "temperature": "2"}]})")
                              .status()
                              .message()),
              HasSubstr("entry 1 lacks"));
  // Descriptive fields of the wrong type read as absent rather than throwing.
  EXPECT_TRUE(CalibrationFromJson(R"({"format": "equifl-calibration",
      "temperatures": [{"language": "en", "group": "f", "temperature": 2, "samples": "x"}]})")
                  .ok());
}

}  // namespace
}  // namespace equifl::fairness
