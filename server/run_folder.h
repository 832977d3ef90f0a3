// A run's folder on disk, and what `equifl server --resume` starts from.
//
//   RUN/history.db                              rounds, participants, metrics (SQLite)
//   RUN/checkpoints/round-000012.safetensors    the global model after round 12
//   RUN/checkpoints/round-000012.optimizer.safetensors   the server optimiser's state
//   RUN/checkpoints/round-000013.calibration.json   the final model's per-group
//                                               temperatures (fairness.calibration on)
//                                               and decision offsets (decision_offsets)
//
// With model selection the final evaluation's checkpoint (round 13 above, after 12
// training rounds) holds the model it evaluated: the chosen one.
//
//   RUN/lock                                    held (flock) by the server using the folder
//
// A model checkpoint is an ordinary safetensors file: one tensor per model tensor,
// under the model's own names, float32, with metadata "format" = "equifl-checkpoint",
// "run_id" and "round". Round 0 is the initial model. Files are written atomically
// and a round is recorded in the history, with the SHA-256 of both files, only
// after both are in place, so a crash at any moment leaves the last recorded round
// loadable, and a file changed afterwards is caught before a run resumes from it
// (server/checkpoint_integrity.h). One server at a time uses a run folder: Open
// takes an exclusive lock on RUN/lock that the process holds until it exits.
#ifndef EQUIFL_SERVER_RUN_FOLDER_H_
#define EQUIFL_SERVER_RUN_FOLDER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "aggregation/server_optimizer.h"
#include "fairness/calibration.h"
#include "fairness/stated_bound.h"
#include "server/global_model.h"
#include "server/round_loop.h"
#include "server/run_history.h"

namespace equifl::server {

class RunFolder final : public RoundObserver {
 public:
  //! Opens or creates the run folder at `path` for run `run_id` (empty: the run the
  //! folder already records, for --resume).
  static absl::StatusOr<std::unique_ptr<RunFolder>> Open(const std::string& path,
                                                         const std::string& run_id);

  //! The state after the last recorded round (or the initial model of round 0).
  struct Checkpoint {
    uint64_t completed_rounds = 0;                      //!< Rounds done.
    GlobalModel model;                                  //!< The model after them.
    aggregation::ServerOptimizerState optimizer_state;  //!< Empty for round 0.
  };

  //! The latest checkpoint, or nullopt when the folder holds none yet. Fails,
  //! naming the file, when a checkpoint file does not match its recorded digest or
  //! holds a non-finite value; with `fall_back_to_last_good` the newest round whose
  //! files verify is taken instead and the rounds after it are forgotten.
  absl::StatusOr<std::optional<Checkpoint>> LoadLatest(bool fall_back_to_last_good = false);

  //! For --resume with more training rounds than a finished run did: when the last
  //! recorded round is the final evaluation (it trained nothing) and
  //! `training_rounds` exceeds the rounds trained before it, forgets it, so the run
  //! trains on from the last training round and evaluates again at its new end.
  //! Returns whether it did. Call before LoadLatest.
  absl::StatusOr<bool> ReopenForMoreRounds(uint64_t training_rounds);

  //! Writes the initial model as round 0.
  absl::Status SaveInitialModel(const GlobalModel& model);

  //! Writes the round's model and optimiser state, then records the round.
  absl::Status OnRoundClosed(const RoundSummary& summary, const GlobalModel& model,
                             const aggregation::ServerOptimizer& optimizer) override;

  //! Round `round`'s model checkpoint, verified against its recorded digest.
  absl::StatusOr<GlobalModel> ModelAfterRound(uint64_t round) const override;

  //! The run this folder belongs to.
  const std::string& run_id() const { return history_.run_id(); }
  //! The history, for reports.
  const RunHistory& history() const { return history_; }
  //! The bound the rounds' fairness reports judge; fairness::StatedBound's
  //! defaults until set.
  void set_gap_bound(const fairness::StatedBound& bound) { gap_bound_ = bound; }
  //! The fairness table (fairness::FormatTable) of the last round recorded in this
  //! process: per-group metrics and every cell's gap; empty before the first.
  const std::string& last_fairness_table() const { return last_fairness_table_; }

  //! Path of round `round`'s model checkpoint.
  std::string ModelPath(uint64_t round) const;

 private:
  RunFolder(std::string path, RunHistory history, int lock_descriptor)
      : path_(std::move(path)), history_(std::move(history)), lock_(lock_descriptor) {}

  std::string OptimizerPath(uint64_t round) const;
  //! Writes round `round`'s model and returns the file's SHA-256.
  absl::StatusOr<std::string> WriteModel(uint64_t round, const GlobalModel& model) const;
  //! Round `round`'s checkpoint, verified against its recorded digests.
  absl::StatusOr<Checkpoint> LoadRound(uint64_t round) const;
  //! RUN/checkpoints/round-R.calibration.json, written atomically.
  absl::Status WriteCalibration(uint64_t round, const RoundSummary& summary) const;
  //! Closes the lock file's descriptor (and so releases the lock) on destruction.
  struct LockFile {
    explicit LockFile(int descriptor) : descriptor(descriptor) {}
    LockFile(LockFile&& other) noexcept : descriptor(std::exchange(other.descriptor, -1)) {}
    LockFile(const LockFile&) = delete;
    LockFile& operator=(const LockFile&) = delete;
    ~LockFile();
    int descriptor;
  };

  std::string path_;    //!< The run folder.
  RunHistory history_;  //!< RUN/history.db.
  std::string last_fairness_table_;
  fairness::StatedBound gap_bound_;
  LockFile lock_;  //!< RUN/lock, held for the folder's lifetime.
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_RUN_FOLDER_H_
