#include "fairness/group_dro.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "fairness/accuracy_gap_interval.h"

namespace equifl::fairness {
namespace {

// Moves x towards 0 by `by`, stopping at 0.
double SoftThreshold(double x, double by) { return x > by ? x - by : (x < -by ? x + by : 0.0); }

}  // namespace

absl::Status GroupDroOptions::Validate() const {
  const auto out_of_range = [](const char* name, double value, const char* allowed) {
    return absl::InvalidArgumentError(
        absl::StrCat("fairness.group_dro.", name, " is ", value, "; it must be ", allowed));
  };
  if (!(learning_rate > 0) || !std::isfinite(learning_rate)) {
    return out_of_range("learning_rate", learning_rate, "> 0");
  }
  if (!(alpha_step > 0) || alpha_step > 1) {
    return out_of_range("alpha_step", alpha_step, "in (0, 1]");
  }
  if (!(weight_cap >= 1) || !std::isfinite(weight_cap)) {
    return out_of_range("weight_cap", weight_cap, ">= 1 (a sample's ERM weight is 1)");
  }
  if (!(harm_margin >= 0) || !std::isfinite(harm_margin)) {
    return out_of_range("harm_margin", harm_margin, ">= 0 (nats)");
  }
  if (reference_rounds < 1) {
    return out_of_range("reference_rounds", reference_rounds,
                        ">= 1 (the FedAvg levels need a measurement)");
  }
  if (!(confidence > 0) || !(confidence < 1)) {
    return out_of_range("confidence", confidence, "in (0, 1)");
  }
  if (fixed_power && !(*fixed_power >= 0 && *fixed_power <= kLargestFixedPower)) {
    return absl::InvalidArgumentError(
        absl::StrCat("fairness.fixed_weights_power is ", *fixed_power, "; it must be in [0, ",
                     kLargestFixedPower,
                     "] (0: every sample weighs 1, 1: group-balanced, 2: each pair weighed by "
                     "the inverse of its share again)"));
  }
  return absl::OkStatus();
}

const char* AlphaStepName(AlphaStep step) {
  switch (step) {
    case AlphaStep::kWarmingUp:
      return "warming up";
    case AlphaStep::kRaised:
      return "raised";
    case AlphaStep::kRaisedOnEvidence:
      return "raised (bound undetermined, a pair confidently above its cell)";
    case AlphaStep::kLowered:
      return "lowered";
    case AlphaStep::kKept:
      return "kept";
    case AlphaStep::kPulledBack:
      return "pulled back (no-harm guard)";
    case AlphaStep::kProbing:
      return "probing the floor at full weight";
    case AlphaStep::kFixed:
      return "fixed weights";
  }
  return "kept";
}

GroupDroController::GroupDroController(const GroupDroOptions& options) : options_(options) {
  directive_.sample_weight_cap = options_.weight_cap;
}

void GroupDroController::Update(const StatisticsTable& validation, BoundVerdict verdict,
                                bool raise_on_evidence) {
  const StatisticsTable pooled =
      options_.per_client_cells ? validation : WithoutClients(validation);
  // Each pair's estimate and its cell's mean loss.
  std::map<CellGroupPair, GroupLossEstimate> estimates;
  std::map<Cell, double> cell_means;
  uint64_t total = 0;
  for (const auto& [cell, groups] : pooled) {
    if (cell.modality != kFusionView) continue;
    double loss_sum = 0;
    uint64_t count = 0;
    for (const auto& [group, sums] : groups) {
      loss_sum += sums.loss_sum;
      count += sums.count;
      if (sums.count >= 2) estimates[{cell, group}] = EstimateGroupLoss(sums);
    }
    if (count > 0) cell_means[cell] = loss_sum / static_cast<double>(count);
    total += count;
  }
  if (estimates.empty()) return;
  UpdateShares(pooled, total);
  if (options_.fixed_power) {
    std::map<CellGroupPair, double> tilted;
    for (const auto& [pair, share] : shares_)
      tilted[pair] = std::pow(share, 1 - *options_.fixed_power);
    q_.Restore(tilted);
    alpha_ = 1;
    last_step_ = AlphaStep::kFixed;
    RecomputeDirective();
    return;
  }

  const double z = NormalQuantile(options_.confidence);
  std::vector<CellGroupPair> pairs;
  std::map<CellGroupPair, double> gains;
  for (const auto& [pair, estimate] : estimates) {
    pairs.push_back(pair);
    gains[pair] =
        SoftThreshold(estimate.mean - cell_means[pair.first], z * estimate.standard_error);
  }
  q_.Join(pairs);
  q_.Step(gains, options_.learning_rate);
  // Some pair above its cell beyond doubt, Bonferroni-corrected over the pairs.
  const double pair_z =
      NormalQuantile(1 - (1 - options_.confidence) / static_cast<double>(pairs.size()));
  bool pair_above = false;
  for (const auto& [pair, estimate] : estimates) {
    if (estimate.mean - cell_means[pair.first] - pair_z * estimate.standard_error > 0) {
      pair_above = true;
    }
  }

  harmed_.clear();
  if (measurements_ < options_.reference_rounds) {
    // A model trained with α = 0: the latest measurement is each pair's level.
    for (const auto& [pair, estimate] : estimates) {
      Reference& reference = references_[pair];
      reference.level = estimate.mean;
      reference.error = estimate.standard_error;
      reference.measured = std::min(reference.measured + 1, options_.reference_rounds);
    }
    ++measurements_;
  }
  if (measurements_ < options_.reference_rounds) {
    last_step_ = AlphaStep::kWarmingUp;
  } else if (!probe_started_ && options_.probe_rounds > 0 && verdict != BoundVerdict::kHeld) {
    probe_started_ = true;
    probe_rounds_left_ = options_.probe_rounds - 1;
    alpha_ = 1;
    last_step_ = AlphaStep::kProbing;
  } else if (probe_rounds_left_ > 0) {
    --probe_rounds_left_;
    alpha_ = 1;
    last_step_ = AlphaStep::kProbing;
  } else {
    // At α = 0 a worse group is not group DRO's doing (plain FedAvg overfits too).
    if (!options_.allow_levelling_down && alpha_ > 0) {
      for (const auto& [pair, estimate] : estimates) {
        const auto reference = references_.find(pair);
        if (reference == references_.end()) continue;
        const double spread = std::sqrt(estimate.standard_error * estimate.standard_error +
                                        reference->second.error * reference->second.error);
        if (estimate.mean - reference->second.level - z * spread > options_.harm_margin) {
          harmed_.push_back(absl::StrCat(CellName(pair.first), ": ", pair.second));
        }
      }
    }
    if (!harmed_.empty()) {
      alpha_ /= 2;
      last_step_ = AlphaStep::kPulledBack;
    } else if (verdict == BoundVerdict::kViolated ||
               (verdict == BoundVerdict::kUndetermined && raise_on_evidence && pair_above)) {
      alpha_ = std::min(1.0, alpha_ + options_.alpha_step);
      last_step_ =
          verdict == BoundVerdict::kViolated ? AlphaStep::kRaised : AlphaStep::kRaisedOnEvidence;
    } else if (verdict == BoundVerdict::kHeld) {
      alpha_ = std::max(0.0, alpha_ - options_.alpha_step);
      last_step_ = AlphaStep::kLowered;
    } else {
      last_step_ = AlphaStep::kKept;
    }
  }
  RecomputeDirective();
}

void GroupDroController::Restore(double alpha, const std::vector<GroupDroWeight>& weights) {
  alpha_ = std::isfinite(alpha) ? std::clamp(alpha, 0.0, 1.0) : 0.0;
  std::map<CellGroupPair, double> recorded;
  shares_.clear();
  references_.clear();
  measurements_ = 0;
  for (const GroupDroWeight& weight : weights) {
    const CellGroupPair pair{weight.cell, weight.group};
    if (!std::isfinite(weight.weight)) continue;
    recorded[pair] = weight.weight;
    if (std::isfinite(weight.share) && weight.share > 0) shares_[pair] = weight.share;
    if (weight.reference && std::isfinite(*weight.reference) &&
        std::isfinite(weight.reference_error)) {
      const uint32_t measured = std::min(weight.measured, options_.reference_rounds);
      references_[pair] = {*weight.reference, std::max(weight.reference_error, 0.0), measured};
      measurements_ = std::max(measurements_, measured);
    }
  }
  // α moves only once the references are in; a restarted run does not probe again.
  if (alpha_ > 0) measurements_ = options_.reference_rounds;
  probe_started_ = alpha_ > 0;
  probe_rounds_left_ = 0;
  q_.Restore(recorded);
  RecomputeDirective();
}

std::vector<GroupDroWeight> GroupDroController::weights() const {
  std::vector<GroupDroWeight> weights;
  for (const auto& [pair, weight] : q_.weights()) {
    GroupDroWeight entry;
    entry.cell = pair.first;
    entry.group = pair.second;
    entry.weight = weight;
    if (const auto share = shares_.find(pair); share != shares_.end()) {
      entry.share = share->second;
    }
    if (const auto reference = references_.find(pair); reference != references_.end()) {
      entry.reference = reference->second.level;
      entry.reference_error = reference->second.error;
      entry.measured = reference->second.measured;
    }
    weights.push_back(std::move(entry));
  }
  return weights;
}

void GroupDroController::UpdateShares(const StatisticsTable& pooled, uint64_t total) {
  shares_.clear();
  for (const auto& [cell, groups] : pooled) {
    if (cell.modality != kFusionView) continue;
    for (const auto& [group, sums] : groups) {
      if (sums.count > 0) {
        shares_[{cell, group}] = static_cast<double>(sums.count) / static_cast<double>(total);
      }
    }
  }
}

void GroupDroController::RecomputeDirective() {
  directive_ = FairnessDirective{};
  directive_.lambda = alpha_;
  directive_.sample_weight_cap = options_.weight_cap;
  if (alpha_ == 0) return;
  for (const auto& [pair, share] : shares_) {
    const auto weight = q_.weights().find(pair);
    if (weight == q_.weights().end()) continue;
    directive_.weights.push_back({pair.first, pair.second, alpha_ * (weight->second / share - 1)});
  }
}

}  // namespace equifl::fairness
