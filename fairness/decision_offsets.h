// Group-specific decision offsets for equal opportunity (Hardt, Price and Srebro's
// post-processing, on a grid), fitted after training on the validation split's
// statistics (docs/ARCHITECTURE.md, "Calibration").
//
// Equal opportunity asks that members of every group who belong to the favourable
// class (the positive class: "has the condition", "qualifies") are recognised as
// often: equal true-positive rates of that class. An offset δ is added to the fused
// model's log-probability of the positive class before the argmax; with two classes
// it moves the group's threshold on the log-odds by −δ. It changes predictions, so
// confusion counts, and never a loss. For each δ ≠ 0 of kOffsetGrid, clients report
// the view "fusion@offset[c]=δ": the fusion view's samples with their predictions at
// δ on class c. These are sums, so they add up under secure aggregation.
//
// Per fusion cell (a language, and a client with per-client cells) the fit gives each
// group one δ. It acts only where the plain model's spread of the groups' validation
// true-positive rates exceeds both `tolerance` and its standard error times a z
// corrected for the number of cells: a spread the validation split cannot tell from
// none is left as it is, since equalising it would move the test rates by the
// validation noise. There it narrows the spread as far as it can, down to
// `tolerance`, without costing more than max_accuracy_cost of the cell's validation
// accuracy, and within the spread it reaches takes the combination with the most
// correct validation predictions, the smallest total |δ| on ties. (Equal rates are
// always within reach by predicting the class for everyone, which is why the
// accuracy budget bounds the fit.) Unless allow_levelling_down, offsets are ≥ 0:
// a lagging group's rate is raised, no group's lowered. A group with fewer than
// min_positives validation samples of the positive class keeps δ = 0 and takes no
// part; a cell with fewer than two such groups has nothing to equalise. Plain
// arithmetic on statistics.
#ifndef EQUIFL_FAIRNESS_DECISION_OFFSETS_H_
#define EQUIFL_FAIRNESS_DECISION_OFFSETS_H_

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fairness/accuracy_gap_interval.h"
#include "fairness/group_statistics.h"

namespace equifl::fairness {

//! The offsets tried besides 0, in nats of log-probability.
inline constexpr double kOffsetGrid[] = {-3,   -2.5, -2,   -1.5, -1.25, -1,  -0.75, -0.5, -0.25,
                                         0.25, 0.5,  0.75, 1,    1.25,  1.5, 2,     2.5,  3};

//! "fusion@offset[1]=0.25": the fusion view with `offset` added to class
//! `positive_class`'s log-probability.
std::string OffsetViewName(uint32_t positive_class, double offset);

//! The class and offset of a view named by OffsetViewName.
struct ViewOffset {
  uint32_t positive_class = 0;
  double offset = 0;
};

//! The class and offset of `view`; nullopt for any other view.
std::optional<ViewOffset> OffsetOfView(const std::string& view);

//! OffsetViewName of every grid offset for `positive_class`, in grid order.
std::vector<std::string> OffsetViews(uint32_t positive_class);

//! The fitted offset of one group in one fusion cell.
struct GroupDecisionOffset {
  Cell cell;  //!< Language, kFusionView and the client with per-client cells.
  std::string group;
  double offset = 0;
  uint64_t positives = 0;  //!< Validation samples of the positive class.
  //! The group's validation true-positive rate of the positive class, in [0, 1],
  //! at δ = 0 and at the chosen δ (0 without positives).
  double true_positive_rate_before = 0;
  double true_positive_rate_after = 0;
  bool fitted = false;  //!< False: too few positives, or no other group to equalise with.
};

//! The fit of a run: the positive class and an entry per group of every fusion cell,
//! sorted by (cell, group).
struct DecisionOffsets {
  uint32_t positive_class = 1;
  std::vector<GroupDecisionOffset> groups;
};

//! How far the fit goes (fractions, not points).
struct DecisionOffsetOptions {
  double tolerance = 0.02;          //!< A spread of rates this small counts as equal.
  double max_accuracy_cost = 0.01;  //!< Of a cell's validation accuracy, the most spent.
  uint64_t min_positives = 100;     //!< A group's fewest positives for an offset of its own.
  //! A cell's spread is acted on where it exceeds its standard error times the z
  //! that keeps every fusion cell's test at this confidence together (Bonferroni).
  double confidence = 0.95;
  //! Offsets below 0 too, which lower a group's true-positive rate (levelling
  //! down); otherwise the fit only raises the rates that lag.
  bool allow_levelling_down = false;
};

//! The fit on `validation` (which holds the offset views of `positive_class`).
DecisionOffsets FitDecisionOffsets(const StatisticsTable& validation, uint32_t positive_class,
                                   const DecisionOffsetOptions& options);

//! `table` without its offset views.
StatisticsTable WithoutOffsetViews(const StatisticsTable& table);

//! `table` with each fusion group's confusion counts read from the view of its
//! offset (where `table` has that group there; losses stay), and the offset views
//! dropped.
StatisticsTable ApplyDecisionOffsets(const StatisticsTable& table, const DecisionOffsets& offsets);

//! What the offsets did to one fusion cell of the test split.
struct OffsetEffect {
  Cell cell;
  //! The gap of the positive class's true-positive rates with Newcombe's interval
  //! (accuracy_gap_interval.h), without and with the offsets; nullopt when fewer
  //! than two groups have samples of that class.
  std::optional<GroupGapInterval> gap_before;
  std::optional<GroupGapInterval> gap_after;
  //! The gap of the class's false-positive rates, likewise: raising a group's
  //! true-positive rate raises its false-positive rate too, so equal opportunity
  //! can cost equalized odds.
  std::optional<GroupGapInterval> false_gap_before;
  std::optional<GroupGapInterval> false_gap_after;
  double accuracy_before = 0;  //!< Of the cell's samples, in [0, 1].
  double accuracy_after = 0;
};

//! The effect per fusion cell of `plain` (the test split without offsets) against
//! `with_offsets` (ApplyDecisionOffsets's), intervals at `confidence` together over
//! the cells (Bonferroni).
std::vector<OffsetEffect> OffsetEffects(const StatisticsTable& plain,
                                        const StatisticsTable& with_offsets,
                                        uint32_t positive_class, double confidence);

//! The fit and its effects for a terminal report: a line per cell, every group's
//! offset and validation true-positive rates, the test gaps (true- and
//! false-positive rates) before and after with their intervals, and the groups
//! left at 0 with why.
std::string FormatDecisionOffsets(const DecisionOffsets& offsets,
                                  const std::vector<OffsetEffect>& effects,
                                  const std::string& positive_label);

//! The effects as JSON: [{"cell", "true_positive_rate_gap_before", "…_after",
//! "false_positive_rate_gap_before", "…_after" (each {"gap", "lower", "upper",
//! "best_group", "worst_group"} or null), "accuracy_before", "accuracy_after"}].
nlohmann::json OffsetEffectsToJson(const std::vector<OffsetEffect>& effects);

//! The fit as the calibration file keeps it, under "decision_offsets":
//! {"positive_class", "offsets": [{"language", "client" (per-client cells only),
//! "group", "offset", "positives", "fitted", "validation_true_positive_rate_before",
//! "validation_true_positive_rate_after"}]}. Include <nlohmann/json.hpp> to use it.
nlohmann::json DecisionOffsetsToJson(const DecisionOffsets& offsets);

//! The "decision_offsets" of a calibration file's text (CalibrationToJson's, with
//! DecisionOffsetsToJson's added); nullopt when it has none. Fails naming what is
//! missing or out of range (an offset must be finite).
absl::StatusOr<std::optional<DecisionOffsets>> DecisionOffsetsFromJson(const std::string& text);

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_DECISION_OFFSETS_H_
