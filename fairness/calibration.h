// Per-(cell, group) temperature scaling, fitted after training on the validation
// split's statistics (docs/ARCHITECTURE.md, "Calibration").
//
// A temperature T divides the fused model's logits, p_T = softmax(z/T): every
// argmax, so accuracy and the confusion counts, stays as it is; only the losses
// change. For each T of kTemperatureGrid, clients report the view "fusion@T=…": the
// fusion view's samples with their losses at T. These are sums like any other
// view's, so they add up under secure aggregation. For each (language, group) of
// the fusion view (and client, with per-client cells) the fit picks the grid's T
// with the lowest mean validation loss, where the group has at least min_samples
// validation samples; a smaller group keeps T = 1 and is reported as not fitted.
// Applying the fit to another split's statistics (the test split's) reads each
// group from its chosen temperature's view. Plain arithmetic on statistics tables.
#ifndef EQUIFL_FAIRNESS_CALIBRATION_H_
#define EQUIFL_FAIRNESS_CALIBRATION_H_

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fairness/group_statistics.h"

namespace equifl::fairness {

//! The temperatures tried, 1 among them.
inline constexpr double kTemperatureGrid[] = {0.5, 0.6,  0.7, 0.8, 0.9, 1.0, 1.25,
                                              1.5, 1.75, 2.0, 2.5, 3.0, 4.0};

//! The `calibration` section of the configuration.
struct CalibrationOptions {
  bool enabled = false;  //!< Fit temperatures on the final model's validation split.
  //! The fewest validation samples a group-cell needs for its own temperature: the
  //! mean loss at each T must be known well enough to choose between neighbours.
  uint64_t min_samples = 100;
  //! Also fit group-specific decision offsets for equal opportunity
  //! (decision_offsets.h), which change predictions; needs `enabled`.
  bool decision_offsets = false;
  //! The favourable class whose true-positive rate the offsets equalise, by index.
  uint32_t positive_class = 1;
  //! The spread of the groups' validation true-positive rates the offsets may
  //! leave, in points; with a smaller one they trade less accuracy.
  double offset_tolerance_points = 2;
  //! The most validation accuracy, in points of a cell's, the offsets may cost.
  double offset_max_accuracy_cost_points = 1;

  absl::Status Validate() const;
};

//! "fusion@T=1.25": the fusion view at temperature T.
std::string TemperatureViewName(double temperature);

//! T of a view named by TemperatureViewName; nullopt for any other view.
std::optional<double> TemperatureOfView(const std::string& view);

//! TemperatureViewName of every grid temperature, in grid order.
std::vector<std::string> TemperatureViews();

//! The fitted temperature of one group in one fusion cell.
struct GroupTemperature {
  Cell cell;  //!< Language, kFusionView and the client with per-client cells.
  std::string group;
  double temperature = 1;
  uint64_t samples = 0;    //!< Validation samples of the group-cell.
  double loss_before = 0;  //!< Mean validation loss at T = 1.
  double loss_after = 0;   //!< At the chosen T.
  bool fitted = false;     //!< False: fewer than min_samples; T stays 1.
};

//! The fit on `validation` (which holds the temperature views), one entry per
//! group of every fusion cell, sorted by (cell, group). Among equally low losses
//! the temperature closest to 1 wins.
std::vector<GroupTemperature> FitTemperatures(const StatisticsTable& validation,
                                              uint64_t min_samples);

//! `table` without its temperature views.
StatisticsTable WithoutTemperatureViews(const StatisticsTable& table);

//! `table` with each fusion group read from the view of its fitted temperature
//! (where `table` has that group there), and the temperature views dropped.
StatisticsTable ApplyTemperatures(const StatisticsTable& table,
                                  const std::vector<GroupTemperature>& temperatures);

//! The fit as saved beside a checkpoint: {"format": "equifl-calibration",
//! "temperatures": [{"language", "client" (per-client cells only), "group",
//! "temperature", "samples", "fitted", "validation_loss_before",
//! "validation_loss_after"}]}. Include <nlohmann/json.hpp> to use the result.
nlohmann::json CalibrationToJson(const std::vector<GroupTemperature>& temperatures);

//! Parses CalibrationToJson's text; fails naming what is missing or out of range
//! (a temperature must be finite and > 0).
absl::StatusOr<std::vector<GroupTemperature>> CalibrationFromJson(const std::string& text);

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_CALIBRATION_H_
