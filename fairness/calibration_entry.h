// One entry of a calibration file (calibration.h's temperatures, decision_offsets.h's
// offsets): a group of one fusion cell, by name, with the value fitted for it. The
// keys every entry shares are written and read here, so both lists agree on them.
#ifndef EQUIFL_FAIRNESS_CALIBRATION_ENTRY_H_
#define EQUIFL_FAIRNESS_CALIBRATION_ENTRY_H_

#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "fairness/group_statistics.h"

namespace equifl::fairness {

//! {"language", "group", "fitted"}, and "client" with per-client cells. Include
//! <nlohmann/json.hpp> to use the result.
nlohmann::json EntryToJson(const Cell& cell, const std::string& group, bool fitted);

//! What every entry holds.
struct CalibrationEntry {
  Cell cell;  //!< Language, kFusionView, and the client (empty without one).
  std::string group;
  double value = 0;    //!< The entry's numeric value key.
  bool fitted = true;  //!< Absent or not a boolean: true.
};

//! The shared keys and the numeric `value_key` of `line`, entry `number` (from 1) of
//! a list whose entries are called `what` ("calibration entry"); fails naming what
//! is missing.
absl::StatusOr<CalibrationEntry> EntryFromJson(const nlohmann::json& line, const char* value_key,
                                               const std::string& what, size_t number);

//! The number under `key` of `line`, 0 when absent or not a number: for the keys
//! that only describe a fit.
double DescriptiveNumber(const nlohmann::json& line, const char* key);

//! DescriptiveNumber as a count, clamped to [0, 10^18].
uint64_t DescriptiveCount(const nlohmann::json& line, const char* key);

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_CALIBRATION_ENTRY_H_
