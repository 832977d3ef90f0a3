// The aggregator's round loop: opens each round, lets it collect, and applies what
// it gathered to the global model.
//
//   Open     the coordinator selects the round's clients; an accumulator for the
//            round (in the clear or under secure aggregation, RoundAccumulator) is
//            published for the service before any client can take a task.
//   Collect  the accumulator's setup (secure aggregation's key phases), then the
//            coordinator's quorum or deadline, then the accumulator's Report.
//   Apply    client-level DP's noise and accounting, the server optimiser's step,
//            the fairness engine's update, model selection's judgement of the
//            round's start model, the observer (checkpoint, history), and the new
//            model published for downloads.
// With model selection (fairness.selection_share) the final evaluation is of the
// chosen model, not the last one: it is served from the moment that round opens.
// A model that standardises its features (protocol/feature_moments.h) starts a
// new run with round 0, the feature-moments round: every joined client reports
// its training split's moments, and their sum sets the model's standardisation
// tensors, which later rounds keep as they are (whatever noise or optimiser
// state their update carries). Round 0 trains nothing and is not recorded: the
// checkpoint of round 1 holds the standardisation.
// A secure round whose aggregate cannot be known because of its clients (too few
// left to unmask, or an unmasked sum no honest clients could produce) is abandoned:
// recorded with no contributor and the model unchanged, and the run goes on. Any
// other failure (an internal one) stops the run with the model unchanged; --resume
// continues from the last completed round. A stop while a round is open records
// nothing of it, so --resume runs it again.
//
// Threads and locks. Run() runs on one thread, the driver. Stop() may be called
// from any thread (a signal watcher). The service's RPC threads call the other
// public methods concurrently with Run and with each other. Lock order, outermost
// first: the coordinator's lock (RoundCoordinator) -> round_mutex_ -> an
// accumulator's or secure round's lock -> a scratch pool's lock. model_mutex_ and
// clients_mutex_ are leaves: nothing is locked while they are held. The fairness
// engine and the privacy state have their own leaf locks or atomics.
#ifndef EQUIFL_SERVER_ROUND_LOOP_H_
#define EQUIFL_SERVER_ROUND_LOOP_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "aggregation/privacy/client_level_privacy.h"
#include "aggregation/secure/secure_input.h"
#include "aggregation/server_optimizer.h"
#include "fairness/calibration.h"
#include "fairness/decision_offsets.h"
#include "fairness/model_selection.h"
#include "fairness/statistics_sum.h"
#include "protocol/feature_moments.h"
#include "server/aggregator_options.h"
#include "server/fairness_engine.h"
#include "server/global_model.h"
#include "server/round_accumulator.h"
#include "server/round_coordinator.h"
#include "server/secure_round.h"

namespace equifl::server {

//! What one closed round produced, for logs, checkpoints and the run history.
struct RoundSummary {
  uint64_t round_id = 0;                  //!< The round.
  std::vector<std::string> selected;      //!< Clients selected.
  std::vector<std::string> contributors;  //!< Clients whose updates were averaged.
  bool reached_quorum = false;            //!< False when the deadline closed the round.
  bool final_evaluation = false;          //!< The final evaluation round (no training).
  double total_weight = 0;                //!< Sum of the contributors' aggregation weights.
  fairness::StatisticsSum train;          //!< Summed training statistics.
  //! Summed validation statistics of the model the round started from; in the
  //! final evaluation round, test statistics.
  fairness::StatisticsSum validation;
  //! Each contributor's validation statistics (clients pooled in `validation`); only
  //! kept for methods that need them (FairnessEngine::NeedsClientStatistics).
  std::map<std::string, fairness::StatisticsTable> validation_by_client;
  //! A training round's selection split (fairness/model_selection.h): its
  //! statistics, kept out of `validation`, and the round's start model judged on
  //! them (absent for the initial model and without model selection).
  fairness::StatisticsTable selection_statistics;
  std::optional<fairness::SelectionJudgement> selection;
  //! The model chosen so far, and why ("round 4's model (…): the latest of …"); in
  //! the final evaluation, the model it evaluated and why (nullopt: no model
  //! selection, or none judged yet).
  std::optional<uint64_t> chosen_round;
  std::string chosen_reason;
  //! The fairness engine's state after the round (what the next round uses).
  FairnessState fairness;
  //! Final evaluation with calibration on: the temperatures fitted on the final
  //! model's validation split, and the test statistics with each fusion group at
  //! its temperature (fairness/calibration.h); empty otherwise.
  //! With calibration.decision_offsets, the offsets fitted there too, and
  //! `calibrated` also has each fusion group's predictions at its offset
  //! (fairness/decision_offsets.h).
  std::vector<fairness::GroupTemperature> temperatures;
  std::optional<fairness::DecisionOffsets> decision_offsets;
  fairness::StatisticsTable calibrated;
  double privacy_epsilon = 0;    //!< ε spent after this round at PrivacyOptions::delta; 0: off.
  double clip_norm = 0;          //!< The clipping norm the round used; 0: DP off.
  bool secure = false;           //!< Securely aggregated: the server saw only sums.
  uint64_t clamped_clients = 0;  //!< Secure rounds: clients that clamped a value.
  double seconds = 0;            //!< From opening to the new model.
  std::string abandoned;         //!< Why the round was abandoned; empty when it was not.
};

//! Told about every closed round, before the next one opens.
class RoundObserver {
 public:
  virtual ~RoundObserver() = default;
  //! Round `round_id` opened and selected `selected` (sorted); called under the
  //! coordinator's lock before any client can take the round's task, so it must be
  //! quick and take no lock of the server's.
  virtual void OnRoundOpened(uint64_t round_id, const std::vector<std::string>& selected,
                             bool final_evaluation) {}
  //! `model` is the global model after the round; failing stops the run.
  virtual absl::Status OnRoundClosed(const RoundSummary& summary, const GlobalModel& model,
                                     const aggregation::ServerOptimizer& optimizer) = 0;
  //! The global model after round `round`, as OnRoundClosed was given it: the model
  //! selection chose, for the final evaluation. The run folder reads its checkpoint.
  virtual absl::StatusOr<GlobalModel> ModelAfterRound(uint64_t round) const {
    return absl::UnimplementedError("this run keeps no models of earlier rounds");
  }
};

//! The global model and the round after which it holds.
struct ModelSnapshot {
  std::shared_ptr<const GlobalModel> model;  //!< Replaced, never changed, after a round.
  uint64_t version = 0;
};

class RoundLoop {
 public:
  //! `options` were validated. `model` holds after `completed_rounds` rounds and
  //! `optimizer` carries its state (restored after --resume).
  RoundLoop(const AggregatorOptions& options, GlobalModel model,
            aggregation::ServerOptimizer optimizer, uint64_t completed_rounds,
            RoundObserver* observer);

  //! Runs rounds until every round is done or Stop() is called; fails when a round
  //! cannot be aggregated or the observer fails.
  absl::Status Run();
  //! Ends the run: Run returns after the open round, clients are told to finish.
  void Stop();

  // For the service's RPC threads.
  RoundCoordinator& coordinator() { return coordinator_; }
  FairnessEngine& fairness() { return fairness_; }
  const aggregation::ClientLevelPrivacy& privacy() const { return privacy_; }
  //! The current global model.
  ModelSnapshot Model() const;
  //! Counts `input` in round `round_id`: the open round's accumulator takes it
  //! under the coordinator's commit (RoundCoordinator::TryCommit). Refused, taking
  //! nothing, when that round is not collecting, did not give the client a task,
  //! already counted it, or the input does not fit the round.
  absl::Status Contribute(uint64_t round_id, ClientInput input);
  //! The open round's secure round; nullptr unless `round_id` is the open round and
  //! it is securely aggregated.
  std::shared_ptr<SecureRound> SecureRoundFor(uint64_t round_id) const;
  //! A client announced `train_samples` at Join (secure aggregation's automatic
  //! weight bound is the largest).
  void NoteTrainingSetSize(uint64_t train_samples);
  //! The modalities the model standardises (empty: no feature-moments round).
  const std::vector<protocol::StandardisedModality>& StandardisedModalities() const {
    return standardised_;
  }

 private:
  //! A round between Open and Apply.
  struct OpenedRound {
    uint64_t round_id = 0;
    bool final_evaluation = false;
    ModelSnapshot start;                //!< The model the round started from.
    std::vector<std::string> selected;  //!< The clients it selected.
    std::shared_ptr<RoundAccumulator> accumulator;
    std::shared_ptr<SecureRound> secure;  //!< Set when securely aggregated.
    std::chrono::steady_clock::time_point opened;
  };
  //! What Collect gathered.
  struct CollectedRound {
    RoundOutcome outcome;
    RoundAggregate aggregate;
    std::string abandoned;  //!< Why the round was abandoned; empty when it was not.
    //! Abandoned after the server saw the unmasked sum: under client-level DP the
    //! round's noisy release happened and is charged.
    bool released = false;
  };

  //! Opens the next round; nullopt once every round is done or the run stopped.
  std::optional<OpenedRound> Open();
  //! Sets up, collects and reports `round`. Cancelled when the run stopped; a
  //! secure round its clients made impossible comes back abandoned (Abandon); any
  //! other failure has stopped the run (StopRun).
  absl::StatusOr<CollectedRound> Collect(const OpenedRound& round);
  //! The (language, view, group) grid of a round's statistics: the schema's, with
  //! the views clients evaluate in a training round or the final evaluation.
  aggregation::StatisticsLayout StatisticsGrid(bool final_evaluation) const;
  //! Client-level DP with the trusted aggregator: noises the summed statistics of
  //! `round` (the accumulator bounded each client's) over the run's grid.
  absl::Status NoiseStatistics(const OpenedRound& round, RoundAggregate& aggregate) const;
  //! Closes `round` (still collecting unless `closed`) with nothing to apply and
  //! says `why`; Cancelled when the run stopped meanwhile.
  absl::StatusOr<CollectedRound> Abandon(const OpenedRound& round, const absl::Status& why,
                                         std::optional<RoundOutcome> closed);
  //! With model selection, before the final evaluation opens: the chosen model
  //! (RoundObserver::ModelAfterRound) becomes the one served, so the final
  //! evaluation (and its checkpoint) is of it; if it cannot be had, the last one
  //! stays, and unserved_choice_ says why.
  void ServeChosenModel() ABSL_LOCKS_EXCLUDED(model_mutex_);
  //! Applies a collected round to the model and tells the observer.
  absl::Status Apply(const OpenedRound& round, CollectedRound collected);
  //! Applies the feature-moments round: the summed moments become the model's
  //! standardisation; fails, stopping the run, when no client reported them or
  //! their sum is impossible.
  absl::Status ApplyFeatureMoments(const OpenedRound& round, const CollectedRound& collected);
  //! The summary of a collected round (its statistics moved out of `collected`).
  RoundSummary Summarize(const OpenedRound& round, CollectedRound& collected) const;
  //! Client-level DP's noise and accounting on `update`, then the server
  //! optimiser's step of `model`.
  absl::Status Step(const RoundOutcome& outcome, std::vector<float>& update, double clip_indicators,
                    RoundSummary& summary, GlobalModel& model);
  //! The round's line in the log.
  void Log(const RoundSummary& summary) const;

  //! The accumulator of round `round_id` over `selected` (under the coordinator's
  //! lock, before any client can take the round's task); sets `secure` when the
  //! round is securely aggregated.
  std::shared_ptr<RoundAccumulator> MakeAccumulator(uint64_t round_id,
                                                    const std::vector<std::string>& selected,
                                                    size_t model_size,
                                                    std::shared_ptr<SecureRound>& secure);
  std::shared_ptr<SecureRound> MakeSecureRound(uint64_t round_id,
                                               const std::vector<std::string>& selected,
                                               size_t model_size);
  //! Stops the run after round `round_id` failed; the error says the model is
  //! unchanged and where --resume continues.
  absl::Status StopRun(uint64_t round_id, const absl::Status& failure);
  //! Withdraws the open round's accumulator and secure round from the service.
  void CloseRound() ABSL_LOCKS_EXCLUDED(round_mutex_);

  const AggregatorOptions options_;
  RoundObserver* const observer_;
  const std::vector<protocol::StandardisedModality> standardised_;
  RoundCoordinator coordinator_;
  aggregation::ServerOptimizer optimizer_;   //!< Used by Run only.
  aggregation::ClientLevelPrivacy privacy_;  //!< Its clipping norm changes only between rounds.
  FairnessEngine fairness_;

  mutable absl::Mutex model_mutex_;
  std::shared_ptr<const GlobalModel> model_ ABSL_GUARDED_BY(model_mutex_);
  uint64_t model_version_ ABSL_GUARDED_BY(model_mutex_);
  //! Why the final evaluation is not of the model selection chose; empty when it
  //! is (or nothing was chosen). Used by Run only.
  std::string unserved_choice_;

  mutable absl::Mutex round_mutex_;
  //! 0: none, or the feature-moments round (then accumulator_ is set).
  uint64_t open_round_ ABSL_GUARDED_BY(round_mutex_) = 0;
  std::shared_ptr<RoundAccumulator> accumulator_ ABSL_GUARDED_BY(round_mutex_);
  std::shared_ptr<SecureRound> secure_ ABSL_GUARDED_BY(round_mutex_);

  absl::Mutex clients_mutex_;
  uint64_t largest_train_samples_ ABSL_GUARDED_BY(clients_mutex_) = 0;
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_ROUND_LOOP_H_
