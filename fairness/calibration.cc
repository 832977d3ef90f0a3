#include "fairness/calibration.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "fairness/calibration_entry.h"

namespace equifl::fairness {
namespace {

constexpr char kTemperaturePrefix[] = "fusion@T=";

// The cell of temperature view `view` that holds the samples of fusion cell `cell`.
Cell AtTemperature(const Cell& cell, const std::string& view) {
  return {cell.language, view, cell.client};
}

}  // namespace

absl::Status CalibrationOptions::Validate() const {
  if (min_samples < 2) {
    return absl::InvalidArgumentError(absl::StrCat("calibration.min_samples is ", min_samples,
                                                   "; it must be >= 2 (a mean needs samples)"));
  }
  if (decision_offsets && !enabled) {
    return absl::InvalidArgumentError(
        "calibration.decision_offsets needs calibration.enabled: true (the offsets are fitted on "
        "the final model's validation split, which only calibration evaluates)");
  }
  if (!(offset_tolerance_points >= 0 && offset_tolerance_points <= 100)) {
    return absl::InvalidArgumentError(
        absl::StrCat("calibration.offset_tolerance_points is ", offset_tolerance_points,
                     "; it must be in [0, 100] (points of true-positive rate)"));
  }
  if (!(offset_max_accuracy_cost_points >= 0 && offset_max_accuracy_cost_points <= 100)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "calibration.offset_max_accuracy_cost_points is ", offset_max_accuracy_cost_points,
        "; it must be in [0, 100] (points of accuracy)"));
  }
  return absl::OkStatus();
}

std::string TemperatureViewName(double temperature) {
  return absl::StrCat(kTemperaturePrefix, absl::StrFormat("%g", temperature));
}

std::optional<double> TemperatureOfView(const std::string& view) {
  const std::optional<double> temperature = NumberAfterPrefix(view, kTemperaturePrefix);
  if (!temperature || !(*temperature > 0)) return std::nullopt;
  return temperature;
}

std::vector<std::string> TemperatureViews() {
  std::vector<std::string> views;
  for (const double temperature : kTemperatureGrid)
    views.push_back(TemperatureViewName(temperature));
  return views;
}

std::vector<GroupTemperature> FitTemperatures(const StatisticsTable& validation,
                                              uint64_t min_samples) {
  std::vector<GroupTemperature> fit;
  for (const auto& [cell, groups] : validation) {
    if (cell.modality != kFusionView) continue;
    for (const auto& [group, sums] : groups) {
      GroupTemperature entry;
      entry.cell = cell;
      entry.group = group;
      entry.samples = sums.count;
      entry.loss_before = entry.loss_after = sums.mean_loss();
      if (sums.count >= min_samples) {
        // The view itself is the temperature-1 candidate: under privacy noise its
        // temperature-1 copy differs from it, and the fit must never end above it.
        bool found = false;
        double best_loss = entry.loss_before;
        double best_temperature = 1;
        for (const double temperature : kTemperatureGrid) {
          const auto at = validation.find(AtTemperature(cell, TemperatureViewName(temperature)));
          if (at == validation.end()) continue;
          const auto scaled = at->second.find(group);
          if (scaled == at->second.end() || scaled->second.count == 0) continue;
          found = true;
          const double loss = scaled->second.mean_loss();
          if (loss < best_loss || (loss == best_loss && std::abs(std::log(temperature)) <
                                                            std::abs(std::log(best_temperature)))) {
            best_loss = loss;
            best_temperature = temperature;
          }
        }
        if (found) {
          entry.temperature = best_temperature;
          entry.loss_after = best_loss;
          entry.fitted = true;
        }
      }
      fit.push_back(std::move(entry));
    }
  }
  return fit;
}

StatisticsTable WithoutTemperatureViews(const StatisticsTable& table) {
  StatisticsTable kept;
  for (const auto& [cell, groups] : table) {
    if (!TemperatureOfView(cell.modality)) kept.emplace(cell, groups);
  }
  return kept;
}

StatisticsTable ApplyTemperatures(const StatisticsTable& table,
                                  const std::vector<GroupTemperature>& temperatures) {
  StatisticsTable calibrated = WithoutTemperatureViews(table);
  for (const GroupTemperature& entry : temperatures) {
    const auto fusion = calibrated.find(entry.cell);
    if (fusion == calibrated.end() || !fusion->second.contains(entry.group)) continue;
    const auto at = table.find(AtTemperature(entry.cell, TemperatureViewName(entry.temperature)));
    if (at == table.end()) continue;
    const auto scaled = at->second.find(entry.group);
    if (scaled != at->second.end()) fusion->second[entry.group] = scaled->second;
  }
  return calibrated;
}

nlohmann::json CalibrationToJson(const std::vector<GroupTemperature>& temperatures) {
  nlohmann::json entries = nlohmann::json::array();
  for (const GroupTemperature& entry : temperatures) {
    nlohmann::json line = EntryToJson(entry.cell, entry.group, entry.fitted);
    line["temperature"] = entry.temperature;
    line["samples"] = entry.samples;
    line["validation_loss_before"] = entry.loss_before;
    line["validation_loss_after"] = entry.loss_after;
    entries.push_back(std::move(line));
  }
  return {{"format", "equifl-calibration"}, {"temperatures", std::move(entries)}};
}

absl::StatusOr<std::vector<GroupTemperature>> CalibrationFromJson(const std::string& text) {
  const nlohmann::json document = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object() ||
      document.value("format", "") != "equifl-calibration" || !document.contains("temperatures") ||
      !document["temperatures"].is_array()) {
    return absl::InvalidArgumentError(
        "not a calibration file: expected a JSON object with \"format\": "
        "\"equifl-calibration\" and a \"temperatures\" list");
  }
  std::vector<GroupTemperature> temperatures;
  for (const nlohmann::json& line : document["temperatures"]) {
    EQUIFL_ASSIGN_OR_RETURN(
        const CalibrationEntry read,
        EntryFromJson(line, "temperature", "calibration entry", temperatures.size() + 1));
    GroupTemperature entry;
    entry.cell = read.cell;
    entry.group = read.group;
    entry.temperature = read.value;
    entry.fitted = read.fitted;
    if (!(entry.temperature > 0) || !std::isfinite(entry.temperature)) {
      return absl::InvalidArgumentError(absl::StrCat("calibration entry ", temperatures.size() + 1,
                                                     " has temperature ", entry.temperature,
                                                     "; a temperature is finite and > 0"));
    }
    // The rest only describes the fit; a wrong type reads as absent.
    entry.samples = DescriptiveCount(line, "samples");
    entry.loss_before = DescriptiveNumber(line, "validation_loss_before");
    entry.loss_after = DescriptiveNumber(line, "validation_loss_after");
    temperatures.push_back(std::move(entry));
  }
  return temperatures;
}

}  // namespace equifl::fairness
