// The floor of a loss-gap bound (docs/ARCHITECTURE.md, "Feasibility"): the
// MinMaxGAP that is left once nothing that spares the better-off groups can
// reduce it further. Two measurements estimate it, cell by cell (fusion cells):
//   probe        group DRO at its full bounded weight (α = 1, sample weights
//                capped): once the cell's worst group's validation loss has twice
//                in a row failed to fall below its lowest full-weight value by
//                `tolerance` (a single stall is often training noise), the cell's
//                gap is what weighting leaves;
//   calibration  the final model's gap after per-group temperature scaling (fitted
//                on the validation split, measured on the test split): what
//                calibration leaves.
// Any measured gap is reachable, so it bounds the floor from above; only the probe
// says that weighting cannot go lower. So a cell's floor is settled once its probe
// is, at the smaller of its measurements: the smaller bias-corrected gap, and as
// interval the smaller of the two lower and of the two upper bounds (the minimum
// of two quantities lies between those; loss_gap_bounds.h). The MinMaxGAP's floor
// is the largest settled cell floor: an unsettled cell may only raise it, so a
// floor whose lower bound exceeds ε shows that ε asks for more than the data
// allow. A cell measured by calibration alone (a FedAvg run) gives an upper
// estimate. The effective bound is max(ε, floor). Plain arithmetic on statistics
// tables.
#ifndef EQUIFL_FAIRNESS_FEASIBILITY_FLOOR_H_
#define EQUIFL_FAIRNESS_FEASIBILITY_FLOOR_H_

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fairness/group_statistics.h"
#include "fairness/loss_gap_bounds.h"

namespace equifl::fairness {

enum class FloorSource { kProbe, kCalibration };

//! "group DRO at full weight" or "calibration".
const char* FloorSourceName(FloorSource source);

//! One cell's floor and the measurement it comes from.
struct CellFloor {
  //! The probe settled: weighting cannot lower the gap. Otherwise the gap is only
  //! an upper estimate of the floor.
  bool settled = false;
  FloorSource source = FloorSource::kProbe;
  uint64_t round = 0;  //!< The round whose statistics measured it.
  //! The measured gap: bias-corrected estimate, interval, and its groups.
  CellLossGapBounds gap;
};

//! One cell of the probe as a run's history keeps it, so that --resume continues
//! it: the current streak of full-weight measurements and the settled floor.
struct ProbeCell {
  Cell cell;
  //! The worst group's lowest loss in the current streak; absent between streaks.
  std::optional<double> lowest;
  int stalls = 0;                  //!< Measurements since it last fell.
  std::optional<CellFloor> floor;  //!< The settled floor; absent until the probe settles.
};

enum class Feasibility {
  kUnknown,             //!< Neither of the below.
  kFeasible,            //!< Every measured cell's gap is at most ε (upper bounds).
  kPossiblyInfeasible,  //!< The settled floor's estimate exceeds ε, its lower bound does not.
  kInfeasible,          //!< The settled floor's lower bound exceeds ε.
};

//! "unknown", "feasible", "possibly infeasible", "infeasible".
const char* FeasibilityName(Feasibility feasibility);

//! The stated ε against the floor.
struct FloorJudgement {
  double epsilon = 0;
  //! max(ε, the floor's estimate); ε while the floor is unknown.
  double effective_epsilon = 0;
  Feasibility feasibility = Feasibility::kUnknown;
  std::optional<CellFloor> floor;  //!< The deciding settled cell's; absent while unknown.
  //! The largest measured gap of any cell, settled or not: the floor is at most
  //! this; absent before any measurement.
  std::optional<CellFloor> upper_estimate;
  std::string text;  //!< The judgement in a sentence, for reports.
};

//! {"feasibility": "infeasible", "epsilon", "effective_epsilon", "text",
//!  "floor": {"settled", "source", "round", "language", "modality", "client",
//!            "estimate", "lower", "upper", "worst_group", "best_group"},
//!  "upper_estimate": {the same}} (each null when absent). Include
//! <nlohmann/json.hpp> to use the result.
nlohmann::json FloorToJson(const FloorJudgement& judgement);

class FeasibilityFloor {
 public:
  //! `confidence` of the intervals; `tolerance` (nats) how little the worst
  //! group's loss may fall below its lowest full-weight value to count as a stall.
  explicit FeasibilityFloor(double confidence, double tolerance = 0.01);

  //! Round `round`'s validation statistics of a model trained at full bounded
  //! weight; only fusion cells count.
  void ObserveFullWeight(uint64_t round, const StatisticsTable& validation);
  //! A measurement at lower weight: the next full-weight one starts afresh.
  void ObserveLowerWeight();
  //! The final model's test statistics with the fitted temperatures applied.
  void ObserveCalibrated(uint64_t round, const StatisticsTable& calibrated);

  //! The probe's state, by cell. Calibration's measurement, which follows the
  //! last round, is not part of it.
  std::vector<ProbeCell> ProbeCells() const;
  //! Continues from a run's recorded ProbeCells (after a restart), replacing the
  //! probe's state; non-finite values are dropped.
  void RestoreProbe(const std::vector<ProbeCell>& cells);

  //! Each measured cell's floor (the smaller measurement; settled or not), by cell.
  std::map<Cell, CellFloor> CellFloors() const;
  //! ε (nats) against the floor.
  FloorJudgement Judge(double epsilon) const;

 private:
  LossGapBoundOptions options_;
  double tolerance_;
  //! Per cell, over the current run of full-weight measurements: the worst
  //! group's lowest loss and the stalls since it last fell.
  struct Streak {
    double lowest = 0;
    int stalls = 0;
  };
  std::map<Cell, Streak> streaks_;
  std::map<Cell, CellFloor> probed_;
  std::map<Cell, CellFloor> calibrated_;
};

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_FEASIBILITY_FLOOR_H_
