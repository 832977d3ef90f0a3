#include "server/fairness_engine.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "fairness/decision_offsets.h"
#include "fairness/fairness_report.h"
#include "fairness/metrics.h"
#include "protocol/fairness_wire.h"
#include "server/update_bounds.h"

namespace equifl::server {
namespace {

using fairness::FairnessMethod;

// FairFed's F: the equalized-odds difference (mean over classes) of a slice.
double EqualizedOdds(const fairness::GroupsOfCell& groups) {
  const absl::StatusOr<fairness::SliceMetrics> metrics = fairness::ComputeSliceMetrics(groups);
  return metrics.ok() ? metrics->equalized_odds_difference.mean : 0.0;
}

// ERM-MinMaxGAP's knobs, with ε the stated bound's (a bound on the loss gap;
// FairnessOptions::Validate refuses minmax_gap with another).
fairness::MinMaxGapOptions DrivenByTheBound(const FairnessOptions& options) {
  fairness::MinMaxGapOptions minmax_gap = options.minmax_gap;
  if (options.bound.metric == fairness::BoundMetric::kLossGap) {
    minmax_gap.epsilon = options.bound.epsilon;
  }
  minmax_gap.per_client_cells = options.per_client_cells;
  return minmax_gap;
}

// The weights of `directive` a client names its cells by: those of its own cells
// and of cells without a client, with the client cleared.
fairness::FairnessDirective ForClient(const fairness::FairnessDirective& directive,
                                      const std::string& client) {
  fairness::FairnessDirective own = directive;
  own.weights.clear();
  for (fairness::CellGroupWeight weight : directive.weights) {
    if (!weight.cell.client.empty() && weight.cell.client != client) continue;
    weight.cell.client.clear();
    own.weights.push_back(std::move(weight));
  }
  return own;
}

// Group DRO's knobs, with the confidence of the stated bound and the run's cells;
// under fixed_weights, its fixed power.
fairness::GroupDroOptions GroupDroOfTheRun(const FairnessOptions& options) {
  fairness::GroupDroOptions group_dro = options.group_dro;
  group_dro.confidence = options.bound.confidence;
  group_dro.per_client_cells = options.per_client_cells;
  if (options.method == FairnessMethod::kFixedWeights) {
    group_dro.fixed_power = options.fixed_weights_power;
  }
  return group_dro;
}

// Group DRO and fixed weights share the controller (its α, q and ρ).
bool UsesGroupDro(FairnessMethod method) {
  return method == FairnessMethod::kGroupDro || method == FairnessMethod::kFixedWeights;
}

// The stated bound's verdict on the objective's cells, as every report judges it.
fairness::BoundVerdict Verdict(const fairness::StatisticsTable& objective,
                               const fairness::StatedBound& bound) {
  const absl::StatusOr<fairness::FairnessReport> report =
      fairness::BuildFairnessReport(objective, fairness::kFusionView, {}, bound);
  return report.ok() ? report->bound.verdict : fairness::BoundVerdict::kUndetermined;
}

}  // namespace

absl::Status FairnessOptions::Validate() const {
  EQUIFL_RETURN_IF_ERROR(minmax_gap.Validate());
  EQUIFL_RETURN_IF_ERROR(GroupDroOfTheRun(*this).Validate());
  EQUIFL_RETURN_IF_ERROR(calibration.Validate());
  EQUIFL_RETURN_IF_ERROR(bound.Validate());
  if (method == fairness::FairnessMethod::kMinMaxGap &&
      bound.metric != fairness::BoundMetric::kLossGap) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fairness.method minmax_gap drives the loss gap, but fairness.bound.metric is ",
        NameOf(bound.metric),
        "; state the bound as metric: loss_gap (in nats), or pick "
        "another method"));
  }
  if (!(q >= 0) || q > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("fairness.q is ", q, "; it must be in [0, 100]"));
  }
  if (!(group_learning_rate > 0) || !std::isfinite(group_learning_rate)) {
    return absl::InvalidArgumentError(
        absl::StrCat("fairness.group_learning_rate is ", group_learning_rate, "; it must be > 0"));
  }
  if (!(fairfed_beta >= 0) || !std::isfinite(fairfed_beta)) {
    return absl::InvalidArgumentError(
        absl::StrCat("fairness.fairfed_beta is ", fairfed_beta, "; it must be >= 0"));
  }
  if (views.empty()) {
    return absl::InvalidArgumentError(
        "fairness.views is empty; name at least one view, e.g. [fusion]");
  }
  if (!(selection_share >= 0) || selection_share > 0.9) {
    return absl::InvalidArgumentError(
        absl::StrCat("fairness.selection_share is ", selection_share,
                     "; it must be in [0, 0.9] (0: no model selection)"));
  }
  for (const std::string& view : views) {
    if (view.empty()) return absl::InvalidArgumentError("fairness.views holds an empty name");
  }
  return absl::OkStatus();
}

FairnessEngine::FairnessEngine(const FairnessOptions& options)
    : options_(options),
      minmax_gap_(DrivenByTheBound(options)),
      fedminmax_(options.group_learning_rate, fairness::kFusionView),
      fairfed_(options.fairfed_beta, EqualizedOdds),
      group_dro_(GroupDroOfTheRun(options)),
      floor_(options.bound.confidence) {}

std::vector<std::string> FairnessEngine::EvaluatedViews(bool final_evaluation) const {
  std::vector<std::string> views = options_.views;
  if (final_evaluation && options_.calibration.enabled) {
    for (std::string& view : fairness::TemperatureViews()) views.push_back(std::move(view));
    if (options_.calibration.decision_offsets) {
      for (std::string& view : fairness::OffsetViews(options_.calibration.positive_class)) {
        views.push_back(std::move(view));
      }
    }
  }
  if (!final_evaluation && options_.selection_share > 0) {
    views.push_back(fairness::SelectionViewName(options_.selection_share));
  }
  return views;
}

v1::FairnessDirective FairnessEngine::Directive(const std::string& client,
                                                bool final_evaluation) const {
  v1::FairnessDirective directive;
  for (const std::string& view : EvaluatedViews(final_evaluation)) directive.add_views(view);
  directive.set_calibrate(final_evaluation && options_.calibration.enabled);
  absl::MutexLock lock(&mutex_);
  directive.set_method(protocol::FairnessMethodToProto(options_.method));
  directive.set_q(options_.q);
  if (options_.method == FairnessMethod::kMinMaxGap) {
    protocol::DirectiveToProto(ForClient(minmax_gap_.directive(), client), directive);
  } else if (options_.method == FairnessMethod::kFedMinMax) {
    protocol::DirectiveToProto(fedminmax_.directive(), directive);
  } else if (UsesGroupDro(options_.method)) {
    protocol::DirectiveToProto(ForClient(group_dro_.directive(), client), directive);
  }
  return directive;
}

absl::StatusOr<double> FairnessEngine::AggregationWeight(const std::string& client,
                                                         const v1::UpdateHeader& header) const {
  double weight = static_cast<double>(header.num_train_samples());
  if (options_.method == FairnessMethod::kFairFed) {
    absl::MutexLock lock(&mutex_);
    weight = fairfed_.Weight(client, header.num_train_samples());
  } else if (header.aggregation_weight() != 0) {
    weight = header.aggregation_weight();
  }
  if (absl::Status status = CheckAggregationWeight(options_, weight, header.num_train_samples());
      !status.ok()) {
    return status;
  }
  return weight;
}

void FairnessEngine::OnRoundClosed(
    uint64_t round_id, const fairness::StatisticsTable& train,
    const fairness::StatisticsTable& validation,
    const std::map<std::string, fairness::StatisticsTable>& validation_by_client,
    const std::map<std::string, uint64_t>& train_samples) {
  absl::MutexLock lock(&mutex_);
  const fairness::StatisticsTable objective = fairness::OfViews(validation, options_.views);
  if (!objective.empty()) validation_gap_ = fairness::MinMaxGap(objective).value;
  switch (options_.method) {
    case FairnessMethod::kMinMaxGap:
      minmax_gap_.Update(objective);
      break;
    case FairnessMethod::kFedMinMax:
      fedminmax_.Update(train);
      break;
    case FairnessMethod::kGroupDro: {
      // This round's validation statistics measure the model the last round trained.
      if (alpha_of_last_round_ >= 1) {
        floor_.ObserveFullWeight(round_id, objective);
      } else {
        floor_.ObserveLowerWeight();
      }
      alpha_of_last_round_ = group_dro_.alpha();
      fairness::StatedBound bound = options_.bound;
      bool at_floor = false;
      if (bound.metric == fairness::BoundMetric::kLossGap &&
          !options_.group_dro.allow_levelling_down) {
        // Only a floor above ε beyond doubt moves the target.
        const fairness::FloorJudgement judgement = floor_.Judge(bound.epsilon);
        at_floor = judgement.feasibility == fairness::Feasibility::kInfeasible;
        if (at_floor) bound.epsilon = judgement.effective_epsilon;
      }
      group_dro_.Update(objective, Verdict(objective, bound), /*raise_on_evidence=*/!at_floor);
      break;
    }
    case FairnessMethod::kFixedWeights:
      // Only the shares move the weights; no verdict is read.
      group_dro_.Update(objective, fairness::BoundVerdict::kUndetermined);
      break;
    case FairnessMethod::kFairFed: {
      std::map<std::string, fairness::GroupsOfCell> by_client;
      for (const auto& [client, table] : validation_by_client) {
        by_client[client] = fairness::PoolModality(table, fairness::kFusionView);
      }
      fairfed_.Update(by_client, train_samples);
      break;
    }
    default:
      break;
  }
}

void FairnessEngine::OnFinalEvaluation(uint64_t round_id,
                                       const fairness::StatisticsTable& calibrated) {
  absl::MutexLock lock(&mutex_);
  floor_.ObserveCalibrated(round_id, calibrated);
}

fairness::SelectionJudgement FairnessEngine::OnSelectionStatistics(
    uint64_t model_round, const fairness::StatisticsTable& selection) {
  fairness::SelectionJudgement judgement =
      fairness::JudgeOnSelection(model_round, selection, options_.bound);
  absl::MutexLock lock(&mutex_);
  selection_.Observe(judgement);
  return judgement;
}

std::optional<fairness::SelectionJudgement> FairnessEngine::ChosenModel() const {
  absl::MutexLock lock(&mutex_);
  return selection_.Chosen();
}

std::string FairnessEngine::ChosenReason() const {
  absl::MutexLock lock(&mutex_);
  return selection_.Reason();
}

void FairnessEngine::RestoreSelection(const std::vector<fairness::SelectionJudgement>& judged) {
  absl::MutexLock lock(&mutex_);
  selection_ = {};
  for (fairness::SelectionJudgement judgement : judged) {
    judgement.bound.bound = options_.bound;
    selection_.Observe(judgement);
  }
}

void FairnessEngine::Restore(const FairnessState& state) {
  absl::MutexLock lock(&mutex_);
  alpha_of_last_round_ = UsesGroupDro(options_.method) ? state.lambda : 0;
  minmax_gap_.Restore(state.lambda, state.minmax_gap_weights);
  fedminmax_.Restore(state.group_weights);
  fairfed_.Restore(state.client_weights);
  group_dro_.Restore(state.lambda, state.group_dro_weights);
  floor_.RestoreProbe(state.floor_probe);
  validation_gap_ = state.validation_gap;
}

FairnessState FairnessEngine::State() const {
  absl::MutexLock lock(&mutex_);
  FairnessState state;
  state.lambda = UsesGroupDro(options_.method) ? group_dro_.alpha() : minmax_gap_.lambda();
  state.validation_gap = validation_gap_;
  state.minmax_gap_weights = minmax_gap_.directive().weights;
  state.group_weights = fedminmax_.group_weights();
  state.client_weights = fairfed_.client_weights();
  state.group_dro_weights = group_dro_.weights();
  state.floor_probe = floor_.ProbeCells();
  if (UsesGroupDro(options_.method)) {
    state.alpha_step = fairness::AlphaStepName(group_dro_.last_step());
    if (!group_dro_.harmed().empty()) {
      absl::StrAppend(&state.alpha_step, ": ", absl::StrJoin(group_dro_.harmed(), ", "));
    }
  }
  if (options_.bound.metric == fairness::BoundMetric::kLossGap) {
    state.feasibility = floor_.Judge(options_.bound.epsilon);
  }
  return state;
}

}  // namespace equifl::server
