// The server's side of the fairness method of a run: the controller state that
// rounds update (λ of ERM-MinMaxGAP, group DRO's α and q, FedMinMax's group
// weights, FairFed's client weights), the directive sent with every task, and the
// weight each update is averaged with.
//
// Round t's directive comes from the statistics of round t − 1: the validation
// statistics of the model round t − 1 started from (ERM-MinMaxGAP, group DRO,
// FairFed) or its training statistics (FedMinMax). The first round runs plain ERM.
// Thread-safe: the service threads read the directive and weights while the round
// loop updates them between rounds; its lock is a leaf (nothing else is locked
// while it is held).
#ifndef EQUIFL_SERVER_FAIRNESS_ENGINE_H_
#define EQUIFL_SERVER_FAIRNESS_ENGINE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "equifl/v1/aggregator.pb.h"
#include "fairness/baselines.h"
#include "fairness/calibration.h"
#include "fairness/fairness_method.h"
#include "fairness/feasibility_floor.h"
#include "fairness/group_dro.h"
#include "fairness/group_statistics.h"
#include "fairness/minmax_gap.h"
#include "fairness/model_selection.h"
#include "fairness/stated_bound.h"

namespace equifl::server {

//! The `fairness` section of the configuration.
struct FairnessOptions {
  fairness::FairnessMethod method = fairness::FairnessMethod::kFedAvg;
  fairness::MinMaxGapOptions minmax_gap;  //!< ERM-MinMaxGAP's knobs.
  //! Group DRO's knobs; its confidence and per-client cells come from `bound`
  //! and per_client_cells.
  fairness::GroupDroOptions group_dro;
  //! Per-group temperature scaling of the final model (fairness/calibration.h).
  fairness::CalibrationOptions calibration;
  double q = 1.0;  //!< q of q-FedAvg.
  //! FedMinMax's η_μ. 1, not the projected step's 0.1: with exponentiated
  //! gradients a pair whose risk is 0.3 nats above the mean gains a factor
  //! e^(0.3·η_μ) a round, 35% at 1 (a projected step of 0.1 moved μ by about 0.01).
  double group_learning_rate = 1.0;
  double fairfed_beta = 1.0;  //!< FairFed's fairness budget β.
  //! fixed_weights' t: a pair's samples weigh ∝ share^(−t), capped at
  //! group_dro.weight_cap (fairness/group_dro.h). 1: group-balanced.
  double fixed_weights_power = 1.0;
  //! Modality views clients evaluate (fairness::kFusionView = every modality); the
  //! MinMaxGAP cells are (language, view) over these.
  std::vector<std::string> views = {fairness::kFusionView};
  //! Keep each client's statistics in cells of their own, (language, view,
  //! client), so the MinMaxGAP, the bound and ERM-MinMaxGAP's weights cover
  //! clients too. The server keys them by the sender's authenticated id; secure
  //! aggregation, which hides each client's statistics, cannot have it.
  bool per_client_cells = false;
  //! The share of each validation group that clients keep aside as the selection
  //! split, on which the run's model is chosen (fairness/model_selection.h); 0:
  //! no selection, the last round's model is the run's.
  double selection_share = 0.3;
  //! The bound reports judge. ERM-MinMaxGAP drives the loss gap towards it (its ε
  //! replaces minmax_gap.epsilon), so with minmax_gap it must be on the loss gap.
  fairness::StatedBound bound;

  absl::Status Validate() const;
};

//! What the engine's state is after a round, for logs and the run history.
struct FairnessState {
  //! The method's dual variable for the next round: ERM-MinMaxGAP's λ, group DRO's α.
  double lambda = 0;
  double validation_gap = 0;  //!< MinMaxGAP of the round's validation statistics.
  //! ERM-MinMaxGAP's directive weights for the next round.
  std::vector<fairness::CellGroupWeight> minmax_gap_weights;
  std::vector<fairness::GroupWeight> group_weights;         //!< FedMinMax's μ and ρ.
  std::vector<fairness::ClientWeight> client_weights;       //!< FairFed's ω.
  std::vector<fairness::GroupDroWeight> group_dro_weights;  //!< Group DRO's q, ρ and levels.
  //! Group DRO's probe of the loss gap's floor (its streaks and settled cells).
  std::vector<fairness::ProbeCell> floor_probe;
  //! Group DRO: what the round did with α and why (the guard's pairs), for logs.
  std::string alpha_step;
  //! A loss-gap bound against its floor (fairness/feasibility_floor.h); absent
  //! for a bound on another metric.
  std::optional<fairness::FloorJudgement> feasibility;
};

class FairnessEngine {
 public:
  explicit FairnessEngine(const FairnessOptions& options);

  //! The directive to send with a task of the next round to `client`: with
  //! per-client cells only the weights of its own cells (and of pooled ones),
  //! named without the client, as the client names its cells. For the final
  //! evaluation with calibration on, it also names the temperature views and asks
  //! for the validation split's statistics.
  v1::FairnessDirective Directive(const std::string& client, bool final_evaluation = false) const;

  //! The views clients evaluate in a round: `views`, in a training round the
  //! selection view (selection_share > 0), and for the final evaluation with
  //! calibration on, the temperature views.
  std::vector<std::string> EvaluatedViews(bool final_evaluation) const;

  //! The weight the update of `client` is averaged with: FairFed's ω_k, else the
  //! client's aggregation_weight when it sent one (non-zero), else num_train_samples.
  //! Fails when that weight breaks server/update_bounds.h's bounds (a NaN, negative
  //! or oversized weight is refused, never replaced).
  absl::StatusOr<double> AggregationWeight(const std::string& client,
                                           const v1::UpdateHeader& header) const;

  //! Whether OnRoundClosed needs each contributor's own statistics (FairFed's
  //! client weights do); otherwise the aggregator keeps only sums, so its memory
  //! does not grow with the number of clients.
  bool NeedsClientStatistics() const {
    return options_.method == fairness::FairnessMethod::kFairFed;
  }

  //! Moves the state with a closed training round's summed statistics and each
  //! contributor's validation statistics and training-sample count. Group DRO
  //! probes the loss gap's floor at full weight, and while ε is infeasible (the
  //! floor above it beyond doubt) judges its bound at the floor instead (unless
  //! levelling down is allowed), without raising α on a pair's evidence alone.
  void OnRoundClosed(uint64_t round_id, const fairness::StatisticsTable& train,
                     const fairness::StatisticsTable& validation,
                     const std::map<std::string, fairness::StatisticsTable>& validation_by_client,
                     const std::map<std::string, uint64_t>& train_samples);

  //! The final evaluation's test statistics with the fitted temperatures applied:
  //! the floor's calibration measurement.
  void OnFinalEvaluation(uint64_t round_id, const fairness::StatisticsTable& calibrated);

  //! Judges the model after `model_round` rounds on its selection statistics
  //! (SplitOffSelection's), which no controller reads, and returns the judgement.
  fairness::SelectionJudgement OnSelectionStatistics(uint64_t model_round,
                                                     const fairness::StatisticsTable& selection);

  //! The model the rule chooses so far, and why; nullopt before any was judged.
  std::optional<fairness::SelectionJudgement> ChosenModel() const;
  std::string ChosenReason() const;

  //! Continues a run after a restart from the state a round left: λ and the
  //! directive weights, μ, ω and the last validation gap.
  void Restore(const FairnessState& state);
  //! Continues model selection from the judgements the history recorded.
  void RestoreSelection(const std::vector<fairness::SelectionJudgement>& judged);

  FairnessState State() const;
  const FairnessOptions& options() const { return options_; }

 private:
  const FairnessOptions options_;
  mutable absl::Mutex mutex_;
  fairness::MinMaxGapController minmax_gap_ ABSL_GUARDED_BY(mutex_);
  fairness::FedMinMaxController fedminmax_ ABSL_GUARDED_BY(mutex_);
  fairness::FairFedWeights fairfed_ ABSL_GUARDED_BY(mutex_);
  fairness::GroupDroController group_dro_ ABSL_GUARDED_BY(mutex_);
  double validation_gap_ ABSL_GUARDED_BY(mutex_) = 0;
  fairness::FeasibilityFloor floor_ ABSL_GUARDED_BY(mutex_);
  fairness::ModelSelection selection_ ABSL_GUARDED_BY(mutex_);
  //! Group DRO's α in the directive of the round that just closed, whose model the
  //! next round's validation statistics measure.
  double alpha_of_last_round_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_FAIRNESS_ENGINE_H_
