// What a round gathers from its clients, behind one interface for both ways of
// gathering it: in the clear (PlainAccumulator: a streaming weighted mean of the
// updates and sums of the statistics) or under secure aggregation
// (SecureAccumulator: masked vectors whose sum is all the server learns). The
// round loop opens one per round, the service feeds it the uploads, and the loop
// asks for its Report; the loop never needs to know which kind it holds. The
// shape follows Google federated-compute's aggregators: Accumulate, MergeWith,
// Report() && (reporting consumes the accumulator).
//
// Threads: the service calls Accumulate from its RPC threads, inside
// RoundCoordinator::TryCommit (under the coordinator's lock); the round loop calls
// AwaitSetup and then Report once the coordinator closed the round, so no
// Accumulate runs during Report; Cancel may come from any thread at any time.
// Implementations hold their own lock, taken after the coordinator's.
#ifndef EQUIFL_SERVER_ROUND_ACCUMULATOR_H_
#define EQUIFL_SERVER_ROUND_ACCUMULATOR_H_

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fairness/group_statistics.h"
#include "fairness/statistics_sum.h"
#include "server/scratch_pool.h"

namespace equifl::server {

//! A client's contribution in the clear.
struct PlainInput {
  double weight = 0;  //!< Aggregation weight, finite and > 0 (training rounds).
  //! The model's change, decoded into a scratch buffer; empty in an evaluation round.
  ScratchPool<float>::Buffer update;
  fairness::StatisticsTable train;
  fairness::StatisticsTable validation;  //!< Test statistics in an evaluation round.
  uint64_t train_samples = 0;
  bool within_clip_norm = false;        //!< Trusted DP: the update was within the clipping norm.
  std::vector<double> feature_moments;  //!< The feature-moments round's (checked) moments.
};

//! A client's masked vector under secure aggregation (aggregation/secure/secure_input.h).
struct MaskedInput {
  std::span<const uint32_t> words;
};

//! One client's upload, as the service read it.
struct ClientInput {
  std::string client_id;
  std::variant<PlainInput, MaskedInput> content;
};

//! What a closed round gathered.
struct RoundAggregate {
  //! The weighted mean of the updates, or under client-level DP their sum (each
  //! counted with weight 1); empty when no update counted or in an evaluation round.
  std::vector<float> update;
  double total_weight = 0;     //!< Sum of the contributors' aggregation weights.
  double clip_indicators = 0;  //!< Adaptive clipping: updates within the norm (with noise).
  fairness::StatisticsSum train;
  fairness::StatisticsSum validation;  //!< Test statistics in an evaluation round.
  //! Each contributor's own validation statistics and training-set size, kept only
  //! when the fairness method needs them (FairnessEngine::NeedsClientStatistics).
  std::map<std::string, fairness::StatisticsTable> validation_by_client;
  std::map<std::string, uint64_t> train_samples;
  uint64_t clamped_clients = 0;  //!< Secure rounds: clients that clamped a value.
  //! The feature-moments round: the sum of the clients' moments.
  std::vector<double> feature_moments;
};

class RoundAccumulator {
 public:
  virtual ~RoundAccumulator() = default;

  //! Waits for what must happen before clients can contribute (secure
  //! aggregation's key phases; nothing in the clear) and returns the selected
  //! clients that can no longer contribute. Cancelled after Cancel().
  virtual absl::StatusOr<std::vector<std::string>> AwaitSetup() = 0;

  //! Adds one client's input; fails, adding nothing, on input of the other kind
  //! or input that does not fit the round.
  virtual absl::Status Accumulate(ClientInput input) = 0;

  //! Adds the inputs `other` gathered for the same round; `other` is left empty.
  virtual absl::Status MergeWith(RoundAccumulator&& other) = 0;

  //! What the round gathered; fails when it cannot be known (a secure round left
  //! with too few clients, an aggregate that overflowed). Cancelled after Cancel().
  virtual absl::StatusOr<RoundAggregate> Report() && = 0;

  //! The run is stopping: wakes AwaitSetup and Report, which return Cancelled.
  virtual void Cancel() = 0;
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_ROUND_ACCUMULATOR_H_
