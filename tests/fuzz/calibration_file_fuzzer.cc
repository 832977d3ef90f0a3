// Fuzzes the calibration file reader (fairness/calibration.h CalibrationFromJson and
// fairness/decision_offsets.h DecisionOffsetsFromJson, which `equifl eval` runs on
// STEM.calibration.json or --calibration FILE): the input is the file's text.
//
// Checked beyond "no crash, leak or undefined behaviour": every temperature it
// accepts is finite and > 0 and every offset finite, and writing what it read
// (CalibrationToJson with DecisionOffsetsToJson, what a run writes) and reading
// that back gives the same file again.
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fairness/calibration.h"
#include "fairness/decision_offsets.h"
#include "tests/fuzz/require.h"

using equifl::fairness::DecisionOffsets;
using equifl::fairness::GroupTemperature;
using equifl::fuzz::Require;

namespace {

// What a run would write for `temperatures` and `offsets`.
std::string Written(const std::vector<GroupTemperature>& temperatures,
                    const std::optional<DecisionOffsets>& offsets) {
  nlohmann::json file = equifl::fairness::CalibrationToJson(temperatures);
  if (offsets) file["decision_offsets"] = equifl::fairness::DecisionOffsetsToJson(*offsets);
  return file.dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<GroupTemperature>> temperatures =
      equifl::fairness::CalibrationFromJson(text);
  absl::StatusOr<std::optional<DecisionOffsets>> offsets =
      equifl::fairness::DecisionOffsetsFromJson(text);
  if (!temperatures.ok() || !offsets.ok()) return 0;
  for (const GroupTemperature& entry : *temperatures) {
    Require(std::isfinite(entry.temperature) && entry.temperature > 0,
            "an accepted temperature is not finite and > 0");
  }
  if (*offsets) {
    for (const auto& entry : (*offsets)->groups) {
      Require(std::isfinite(entry.offset), "an accepted offset is not finite");
    }
  }
  const std::string written = Written(*temperatures, *offsets);
  absl::StatusOr<std::vector<GroupTemperature>> temperatures_again =
      equifl::fairness::CalibrationFromJson(written);
  absl::StatusOr<std::optional<DecisionOffsets>> offsets_again =
      equifl::fairness::DecisionOffsetsFromJson(written);
  Require(temperatures_again.ok() && offsets_again.ok(), "a written calibration file is refused");
  Require(Written(*temperatures_again, *offsets_again) == written,
          "the calibration changed on its way through the writer");
  return 0;
}
