// Who takes part in which round, and when a round closes.
//
// The coordinator is the aggregator's round state machine, free of tensors and
// gRPC: clients join; a round opens once enough have joined and selects a sample
// of them, a fixed share drawn uniformly without replacement (from the seed, or
// unpredictably under client-level DP: privacy amplification by sampling holds only
// if nobody can tell who was drawn); selected clients receive the task when they
// poll; their updates count while the round collects; the round closes at a quorum
// of the selected clients or at its deadline, whichever comes first, so stragglers
// and clients that disconnect are dropped instead of stalling the run. An update is
// folded in under the coordinator's lock (TryCommit), so no update can slip into a
// closed round.
//
// Thread-safe: every method may be called from any thread. Its lock is the
// outermost of the server's (server/round_loop.h): TryCommit's fold and
// OpenNextRound's selection hook run under it and may take later locks.
#ifndef EQUIFL_SERVER_ROUND_COORDINATOR_H_
#define EQUIFL_SERVER_ROUND_COORDINATOR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace equifl::server {

//! How rounds are formed and closed.
struct RoundOptions {
  uint32_t rounds = 5;  //!< Training rounds in total (counting resumed ones).
  //! After the training rounds, one more round in which every joined client
  //! evaluates the final model on its test split.
  bool final_evaluation = true;
  //! Before round 1, round 0: every joined client reports its training split's
  //! feature moments for the model's standardisation (protocol/feature_moments.h).
  //! For a new run whose model standardises its features.
  bool feature_moments = false;
  uint32_t min_clients = 2;      //!< Joined clients needed before a round opens.
  double client_fraction = 1.0;  //!< Share of joined clients selected per round, in (0, 1].
  double quorum = 1.0;           //!< Share of selected clients whose updates close a round.
  std::chrono::milliseconds round_deadline{std::chrono::minutes(2)};  //!< Close by this age.
  uint64_t seed = 0;  //!< Seeds the selection of clients.

  //! OK, or which option is out of range and what is allowed.
  absl::Status Validate() const;
};

//! What a polling client is told to do.
struct Assignment {
  enum class Kind { kWait, kTrain, kEvaluate, kFeatureMoments, kFinished, kStopped };
  Kind kind = Kind::kWait;  //!< kTrain, kEvaluate and kFeatureMoments carry their round.
  uint64_t round_id = 0;    //!< The open round, for kTrain and kEvaluate.
  std::chrono::system_clock::time_point deadline;  //!< The round's deadline.
};

//! The clients whose updates a closed round counted.
struct RoundOutcome {
  uint64_t round_id = 0;                  //!< The round that closed.
  std::vector<std::string> selected;      //!< Clients the round selected.
  std::vector<std::string> contributors;  //!< Clients whose updates were committed.
  bool reached_quorum = false;            //!< False when the deadline closed it.
  //! Stop() ended the round before it closed: nothing of it may be recorded.
  bool stopped = false;
  size_t population = 0;  //!< Clients joined when it selected: the pool sampled.
};

class RoundCoordinator {
 public:
  //! `completed_rounds` rounds are already done (0 for a new run, the checkpoint's
  //! round after --resume); the next round opened is completed_rounds + 1. With
  //! `unpredictable_selection` each sample is drawn from OpenSSL's CSPRNG instead
  //! of options.seed (client-level DP's accounting needs a sample nobody can
  //! predict).
  RoundCoordinator(const RoundOptions& options, uint64_t completed_rounds,
                   bool unpredictable_selection = false);

  //! Registers a client; joining again is harmless.
  void Join(const std::string& client_id);

  //! Whether `client_id` has joined.
  bool IsJoined(const std::string& client_id) const;

  //! Clients joined so far.
  size_t JoinedCount() const;

  //! Long poll: returns the client's task for the open round if it was selected
  //! and has not taken it yet, kFinished once every round is done, kStopped once
  //! Stop() was called (the run is not over: a resumed server goes on with it),
  //! otherwise kWait after at most `timeout`.
  Assignment WaitForAssignment(const std::string& client_id, std::chrono::milliseconds timeout);

  //! Long poll for many clients (a simulation worker's): the tasks of the open round
  //! for every client in `client_ids` that was selected and has not taken its task
  //! yet, each with its client id; a single kFinished entry once the run is over
  //! or stopped (a simulation's workers end with it); empty after at most `timeout`. Costs
  //! O(|client_ids| log selected).
  std::vector<std::pair<std::string, Assignment>> WaitForAssignments(
      const std::vector<std::string>& client_ids, std::chrono::milliseconds timeout);

  //! Counts `client_id`'s update for `round_id` by running `fold` (which adds the
  //! decoded update to the round's aggregate) under the coordinator's lock. Refused,
  //! without running `fold`, when the round is not the open one, is closed, did not
  //! select the client, or already counted it.
  absl::Status TryCommit(const std::string& client_id, uint64_t round_id,
                         const std::function<absl::Status()>& fold);

  //! Checks what TryCommit would, without committing, so a server can refuse an
  //! upload before it reads the update's chunks.
  absl::Status CheckUpload(const std::string& client_id, uint64_t round_id) const;

  //! Told the round and its selected clients (sorted) under the coordinator's lock,
  //! before any client can take the round's task.
  using SelectionHook =
      std::function<void(uint64_t round_id, const std::vector<std::string>& selected)>;

  //! Driver: waits until min_clients have joined and opens the next round; nullopt
  //! once every round is done or Stop() was called. `on_selected` may be empty.
  std::optional<uint64_t> OpenNextRound(const SelectionHook& on_selected = {});

  //! Selected clients of the open round `round_id` that can no longer contribute
  //! (secure aggregation: they did not share their keys); the round closes once
  //! every other selected client committed, without waiting for them.
  void ExcludeFromRound(uint64_t round_id, const std::vector<std::string>& clients);

  //! Driver: waits for the open round's quorum or deadline, then closes it.
  RoundOutcome AwaitClose();

  //! Stops the run (a signal, or a failure): pollers get kStopped and
  //! OpenNextRound returns nullopt.
  void Stop();

  //! Rounds closed so far, including those done before a resume.
  uint64_t completed_rounds() const;

  //! Whether `round_id` is the final evaluation round (after every training round).
  bool IsEvaluationRound(uint64_t round_id) const { return round_id > options_.rounds; }
  enum class Phase { kIdle, kCollecting, kFinished, kStopped };

  absl::Status CheckUploadLocked(const std::string& client_id, uint64_t round_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  //! Hands `client_id` the open round's task if it is selected and untasked.
  std::optional<Assignment> TakeTaskLocked(const std::string& client_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  size_t QuorumCount() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  //! The open round has its quorum (of the clients still able), or is not open.
  bool CanCloseLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  //! Whether `round_id` is the feature-moments round (round 0, before round 1).
  bool IsFeatureMomentsRound(uint64_t round_id) const {
    return options_.feature_moments && round_id == 0;
  }

 private:
  //! Training rounds plus the evaluation round, if any.
  uint64_t TotalRounds() const { return options_.rounds + (options_.final_evaluation ? 1 : 0); }

  const RoundOptions options_;
  const bool unpredictable_selection_;
  mutable absl::Mutex mutex_;
  absl::CondVar changed_;  //!< Signalled on every state change.
  Phase phase_ ABSL_GUARDED_BY(mutex_) = Phase::kIdle;
  uint64_t completed_rounds_ ABSL_GUARDED_BY(mutex_);
  uint64_t open_round_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t openings_ ABSL_GUARDED_BY(mutex_) = 0;  //!< Rounds opened by this coordinator.
  //! The feature-moments round is still to come.
  bool feature_moments_pending_ ABSL_GUARDED_BY(mutex_) = false;
  std::chrono::system_clock::time_point deadline_ ABSL_GUARDED_BY(mutex_);
  std::set<std::string> joined_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::string> selected_ ABSL_GUARDED_BY(mutex_);  //!< Of the open round, sorted.
  size_t population_ ABSL_GUARDED_BY(mutex_) = 0;         //!< Joined when the open round selected.
  std::set<std::string> tasked_ ABSL_GUARDED_BY(mutex_);  //!< Given the open round's task.
  std::set<std::string> excluded_ ABSL_GUARDED_BY(mutex_);       //!< Cannot contribute.
  std::vector<std::string> committed_ ABSL_GUARDED_BY(mutex_);   //!< In commit order.
  std::set<std::string> committed_set_ ABSL_GUARDED_BY(mutex_);  //!< The same, for lookups.
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_ROUND_COORDINATOR_H_
