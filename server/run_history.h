// The run history: one SQLite file per run folder with every completed round,
// who took part, and the round's metrics.
//
// A round counts as completed once its row is committed, which happens after its
// checkpoint file is in place, so `equifl server --resume` continues from the last
// round recorded here and loses no completed round. SQLite makes the file readable
// with any SQLite tool (`sqlite3 history.db 'select * from rounds'`).
#ifndef EQUIFL_SERVER_RUN_HISTORY_H_
#define EQUIFL_SERVER_RUN_HISTORY_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fairness/baselines.h"
#include "fairness/feasibility_floor.h"
#include "fairness/group_dro.h"
#include "fairness/minmax_gap.h"
#include "fairness/model_selection.h"

namespace equifl::server {

//! The fairness controllers' state after a round, so --resume continues it.
struct ControllerWeights {
  //! ERM-MinMaxGAP's directive weights (with RoundRecord::fairness_lambda).
  std::vector<fairness::CellGroupWeight> minmax_gap_weights;
  std::vector<fairness::GroupWeight> group_weights;    //!< FedMinMax's μ and ρ.
  std::vector<fairness::ClientWeight> client_weights;  //!< FairFed's ω and n_k.
  //! Group DRO's q, ρ and FedAvg levels (with RoundRecord::fairness_lambda, its α).
  std::vector<fairness::GroupDroWeight> group_dro_weights;
  //! Group DRO's probe of the loss gap's floor (fairness/feasibility_floor.h).
  std::vector<fairness::ProbeCell> floor_probe;
};

//! One completed round as the history keeps it.
struct RoundRecord {
  uint64_t round_id = 0;              //!< The round.
  std::string checkpoint;             //!< Path of the model checkpoint, relative to the run folder.
  double seconds = 0;                 //!< Round duration.
  bool reached_quorum = false;        //!< False when the deadline closed it.
  std::vector<std::string> selected;  //!< Clients selected.
  std::vector<std::string> contributors;      //!< Clients whose updates were averaged.
  uint64_t train_samples = 0;                 //!< Training samples over contributors.
  double train_loss = 0;                      //!< Mean training loss.
  uint64_t validation_samples = 0;            //!< Validation samples evaluated.
  double validation_loss = 0;                 //!< Mean validation loss of the round's start model.
  std::optional<double> validation_accuracy;  //!< Of the round's start model.
  double fairness_lambda = 0;   //!< λ (ERM-MinMaxGAP) or α (group DRO) after the round.
  double validation_gap = 0;    //!< MinMaxGAP of the validation statistics.
  double privacy_epsilon = 0;   //!< Client-level DP: ε spent so far (0: DP off).
  std::string fairness_report;  //!< The round's fairness report as JSON (fairness_report.h).
  //! SHA-256 digests of the round's checkpoint files as written (empty: not recorded).
  std::string model_sha256;
  std::string optimizer_sha256;
  //! Written by RecordRound; Rounds() leaves it empty (ControllerWeightsAfter reads it).
  ControllerWeights controller;
  //! The round's start model judged on the selection split; written by
  //! RecordRound, read back by SelectionJudgements (Rounds() leaves it empty).
  std::optional<fairness::SelectionJudgement> selection;
};

//! The digests recorded for one round's checkpoint files.
struct CheckpointDigests {
  std::string model_sha256;
  std::string optimizer_sha256;  //!< Empty for round 0 (no optimiser state).
};

class RunHistory {
 public:
  //! Opens (creating if needed) the history at `path` for run `run_id`. Fails when
  //! the file belongs to another run. An empty `run_id` takes the recorded one and
  //! fails when the history records none.
  static absl::StatusOr<RunHistory> Open(const std::string& path, const std::string& run_id);

  //! The run this history belongs to.
  const std::string& run_id() const { return run_id_; }

  //! Records a completed round, its participants and its checkpoint digests in one
  //! transaction.
  absl::Status RecordRound(const RoundRecord& record);

  //! Records the digests of a checkpoint written outside a round (the initial model).
  absl::Status RecordDigests(uint64_t round_id, const CheckpointDigests& digests);

  //! The digests recorded for round `round_id`'s checkpoint; nullopt when none were
  //! (a run folder written before digests were kept).
  absl::StatusOr<std::optional<CheckpointDigests>> Digests(uint64_t round_id) const;

  //! Forgets every round after `round_id` (--resume-from-last-good), in one
  //! transaction.
  absl::Status ForgetRoundsAfter(uint64_t round_id);

  //! The last completed round, or nullopt for a new run.
  absl::StatusOr<std::optional<RoundRecord>> LastRound() const;

  //! The controllers' state recorded with round `round_id` (empty for a round
  //! recorded before it was kept, or by a method that keeps none).
  absl::StatusOr<ControllerWeights> ControllerWeightsAfter(uint64_t round_id) const;

  //! Every recorded judgement of model selection, in round order (their bounds'
  //! StatedBound is left at its defaults: the run's options hold it).
  absl::StatusOr<std::vector<fairness::SelectionJudgement>> SelectionJudgements() const;

  //! Every completed round, in order.
  absl::StatusOr<std::vector<RoundRecord>> Rounds() const;

 private:
  struct Closer {
    void operator()(sqlite3* database) const { sqlite3_close(database); }
  };
  explicit RunHistory(sqlite3* database) : database_(database) {}

  std::unique_ptr<sqlite3, Closer> database_;  //!< The open SQLite file.
  std::string run_id_;                         //!< As recorded in the file.
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_RUN_HISTORY_H_
