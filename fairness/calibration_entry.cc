#include "fairness/calibration_entry.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>

#include "absl/strings/str_cat.h"

namespace equifl::fairness {

nlohmann::json EntryToJson(const Cell& cell, const std::string& group, bool fitted) {
  nlohmann::json line = {{"language", cell.language}, {"group", group}, {"fitted", fitted}};
  if (!cell.client.empty()) line["client"] = cell.client;
  return line;
}

absl::StatusOr<CalibrationEntry> EntryFromJson(const nlohmann::json& line, const char* value_key,
                                               const std::string& what, size_t number) {
  const auto text_of = [&](const char* key) -> std::optional<std::string> {
    if (!line.is_object()) return std::nullopt;
    const auto found = line.find(key);
    if (found == line.end() || !found->is_string()) return std::nullopt;
    return found->get<std::string>();
  };
  const std::optional<std::string> language = text_of("language");
  const std::optional<std::string> group = text_of("group");
  const auto value = line.is_object() ? line.find(value_key) : line.end();
  if (!language || !group || value == line.end() || !value->is_number()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", number,
                                                   " lacks a \"language\", a \"group\" or a "
                                                   "numeric \"",
                                                   value_key, "\""));
  }
  CalibrationEntry entry;
  entry.cell = {*language, kFusionView, text_of("client").value_or("")};
  entry.group = *group;
  entry.value = value->get<double>();
  const auto fitted = line.find("fitted");
  entry.fitted = fitted == line.end() || !fitted->is_boolean() || fitted->get<bool>();
  return entry;
}

double DescriptiveNumber(const nlohmann::json& line, const char* key) {
  const auto found = line.find(key);
  return found != line.end() && found->is_number() ? found->get<double>() : 0.0;
}

uint64_t DescriptiveCount(const nlohmann::json& line, const char* key) {
  return static_cast<uint64_t>(std::clamp(DescriptiveNumber(line, key), 0.0, 1e18));
}

}  // namespace equifl::fairness
