#include "fairness/feasibility_floor.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace equifl::fairness {
namespace {

// Stalls in a row that settle a cell's probe.
constexpr int kStallsToSettle = 2;

std::string Nats(double value) { return absl::StrFormat("%.3g", value); }

// "0.31 [0.18, 0.45] nats in en/fusion (f above m; group DRO at full weight,
// round 9)".
std::string DescribeFloor(const CellFloor& floor) {
  const CellLossGapBounds& gap = floor.gap;
  return absl::StrCat(Nats(gap.bias_corrected), " [", Nats(gap.lower), ", ", Nats(gap.upper),
                      "] nats in ", CellName(gap.cell), " (", gap.worst_group, " above ",
                      gap.best_group, "; ", FloorSourceName(floor.source), ", round ", floor.round,
                      ")");
}

}  // namespace

const char* FloorSourceName(FloorSource source) {
  return source == FloorSource::kProbe ? "group DRO at full weight" : "calibration";
}

const char* FeasibilityName(Feasibility feasibility) {
  switch (feasibility) {
    case Feasibility::kUnknown:
      return "unknown";
    case Feasibility::kFeasible:
      return "feasible";
    case Feasibility::kPossiblyInfeasible:
      return "possibly infeasible";
    case Feasibility::kInfeasible:
      return "infeasible";
  }
  return "unknown";
}

nlohmann::json FloorToJson(const FloorJudgement& judgement) {
  const auto cell_floor = [](const std::optional<CellFloor>& floor) -> nlohmann::json {
    if (!floor) return nullptr;
    const CellLossGapBounds& gap = floor->gap;
    return {{"settled", floor->settled},
            {"source", FloorSourceName(floor->source)},
            {"round", floor->round},
            {"language", gap.cell.language},
            {"modality", gap.cell.modality},
            {"client", gap.cell.client},
            {"estimate", gap.bias_corrected},
            {"lower", gap.lower},
            {"upper", gap.upper},
            {"worst_group", gap.worst_group},
            {"best_group", gap.best_group}};
  };
  return {{"feasibility", FeasibilityName(judgement.feasibility)},
          {"epsilon", judgement.epsilon},
          {"effective_epsilon", judgement.effective_epsilon},
          {"text", judgement.text},
          {"floor", cell_floor(judgement.floor)},
          {"upper_estimate", cell_floor(judgement.upper_estimate)}};
}

FeasibilityFloor::FeasibilityFloor(double confidence, double tolerance) : tolerance_(tolerance) {
  options_.confidence = confidence;
  options_.epsilon = 0;
}

void FeasibilityFloor::ObserveFullWeight(uint64_t round, const StatisticsTable& validation) {
  const StatisticsTable fusion = OfViews(validation, {kFusionView});
  for (const CellLossGapBounds& gap : BoundLossGaps(fusion, options_).cells) {
    const double worst_loss = EstimateGroupLoss(fusion.at(gap.cell).at(gap.worst_group)).mean;
    const auto streak = streaks_.find(gap.cell);
    if (streak == streaks_.end()) {
      streaks_[gap.cell] = {worst_loss, 0};
      continue;
    }
    if (worst_loss > streak->second.lowest - tolerance_) {
      ++streak->second.stalls;
    } else {
      streak->second.stalls = 0;
    }
    streak->second.lowest = std::min(streak->second.lowest, worst_loss);
    // The worst group no longer gains from its weight: what is left is the floor.
    if (streak->second.stalls >= kStallsToSettle) {
      probed_[gap.cell] = {true, FloorSource::kProbe, round, gap};
    }
  }
}

void FeasibilityFloor::ObserveLowerWeight() { streaks_.clear(); }

std::vector<ProbeCell> FeasibilityFloor::ProbeCells() const {
  std::map<Cell, ProbeCell> cells;
  for (const auto& [cell, streak] : streaks_) {
    ProbeCell& entry = cells[cell];
    entry.lowest = streak.lowest;
    entry.stalls = streak.stalls;
  }
  for (const auto& [cell, floor] : probed_) cells[cell].floor = floor;
  std::vector<ProbeCell> list;
  for (auto& [cell, entry] : cells) {
    entry.cell = cell;
    list.push_back(std::move(entry));
  }
  return list;
}

void FeasibilityFloor::RestoreProbe(const std::vector<ProbeCell>& cells) {
  streaks_.clear();
  probed_.clear();
  for (const ProbeCell& entry : cells) {
    if (entry.lowest && std::isfinite(*entry.lowest)) {
      streaks_[entry.cell] = {*entry.lowest, std::max(entry.stalls, 0)};
    }
    if (entry.floor && std::isfinite(entry.floor->gap.bias_corrected) &&
        std::isfinite(entry.floor->gap.lower) && std::isfinite(entry.floor->gap.upper)) {
      CellFloor floor = *entry.floor;
      floor.settled = true;
      floor.source = FloorSource::kProbe;
      floor.gap.cell = entry.cell;
      probed_[entry.cell] = floor;
    }
  }
}

void FeasibilityFloor::ObserveCalibrated(uint64_t round, const StatisticsTable& calibrated) {
  for (const CellLossGapBounds& gap :
       BoundLossGaps(OfViews(calibrated, {kFusionView}), options_).cells) {
    calibrated_[gap.cell] = {false, FloorSource::kCalibration, round, gap};
  }
}

std::map<Cell, CellFloor> FeasibilityFloor::CellFloors() const {
  std::map<Cell, CellFloor> floors = probed_;
  for (const auto& [cell, calibrated] : calibrated_) {
    const auto probed = floors.find(cell);
    if (probed == floors.end()) {
      floors[cell] = calibrated;
    } else {
      // The smaller of two measured gaps: each bound the smaller of the two.
      CellFloor& floor = probed->second;
      const double lower = std::min(floor.gap.lower, calibrated.gap.lower);
      const double upper = std::min(floor.gap.upper, calibrated.gap.upper);
      if (calibrated.gap.bias_corrected < floor.gap.bias_corrected) {
        floor = calibrated;
        floor.settled = true;  // By the probe.
      }
      floor.gap.lower = lower;
      floor.gap.upper = upper;
    }
  }
  return floors;
}

FloorJudgement FeasibilityFloor::Judge(double epsilon) const {
  FloorJudgement judgement;
  judgement.epsilon = epsilon;
  judgement.effective_epsilon = epsilon;
  const auto larger = [](const std::optional<CellFloor>& kept, const CellFloor& floor) {
    return !kept || floor.gap.bias_corrected > kept->gap.bias_corrected;
  };
  double largest_upper = 0;
  for (const auto& [cell, floor] : CellFloors()) {
    if (floor.settled && larger(judgement.floor, floor)) judgement.floor = floor;
    if (larger(judgement.upper_estimate, floor)) judgement.upper_estimate = floor;
    largest_upper = std::max(largest_upper, floor.gap.upper);
  }
  // Every measured cell reached a gap within ε beyond doubt: the floor is no higher.
  if (judgement.upper_estimate && largest_upper <= epsilon) {
    judgement.feasibility = Feasibility::kFeasible;
    judgement.text = absl::StrCat("feasible: every gap measured is within epsilon ", Nats(epsilon),
                                  " nats at its upper bound; the largest is ",
                                  DescribeFloor(*judgement.upper_estimate));
    return judgement;
  }
  if (!judgement.floor || judgement.floor->gap.bias_corrected <= epsilon) {
    judgement.text =
        judgement.floor
            ? absl::StrCat("unknown: the settled floor, ", DescribeFloor(*judgement.floor),
                           ", is within epsilon, but other cells are not settled")
            : "unknown: no cell's floor is settled (group DRO's probe settles a cell "
              "once its worst group stops improving at full weight)";
    if (judgement.upper_estimate) {
      absl::StrAppend(&judgement.text, "; the floor is at most the largest gap measured, ",
                      DescribeFloor(*judgement.upper_estimate));
    }
    return judgement;
  }
  const CellLossGapBounds& gap = judgement.floor->gap;
  const std::string floor = DescribeFloor(*judgement.floor);
  judgement.feasibility =
      gap.lower > epsilon ? Feasibility::kInfeasible : Feasibility::kPossiblyInfeasible;
  judgement.effective_epsilon = gap.bias_corrected;
  if (judgement.feasibility == Feasibility::kInfeasible) {
    judgement.text = absl::StrCat(
        "infeasible: epsilon ", Nats(epsilon), " nats is below what the data allow; the floor is ",
        floor, ", so the effective bound is MinMaxGAP <= ", Nats(gap.bias_corrected),
        " nats, which group DRO aims at instead. Closing the gap further would make the "
        "better-off groups worse; fairness.group_dro.allow_levelling_down: true permits that");
  } else {
    judgement.text = absl::StrCat(
        "possibly infeasible: epsilon ", Nats(epsilon),
        " nats is probably below what the data allow; the floor is estimated at ", floor,
        ", and if it is there the effective bound is MinMaxGAP <= ", Nats(gap.bias_corrected),
        " nats (group DRO keeps aiming at epsilon until the floor is above it beyond doubt)");
  }
  return judgement;
}

}  // namespace equifl::fairness
