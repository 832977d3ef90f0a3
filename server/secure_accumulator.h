// A round gathered under secure aggregation: clients' masked vectors summed in
// their secure round's protocol state (server/secure_round.h), of which the server
// learns only the survivors' sum, decoded into the mean update, the summed weights
// and the summed statistics.
#ifndef EQUIFL_SERVER_SECURE_ACCUMULATOR_H_
#define EQUIFL_SERVER_SECURE_ACCUMULATOR_H_

#include <chrono>
#include <memory>

#include "server/round_accumulator.h"
#include "server/secure_round.h"

namespace equifl::server {

struct SecureAccumulatorOptions {
  //! How long key advertisement, key sharing and unmasking may each take.
  std::chrono::milliseconds phase_timeout{std::chrono::seconds(30)};
  //! Client-level DP: report the sum of the clients' clipped, noised updates (every
  //! weight is 1), not their mean.
  bool sum_updates = false;
};

class SecureAccumulator final : public RoundAccumulator {
 public:
  SecureAccumulator(std::shared_ptr<SecureRound> round, const SecureAccumulatorOptions& options);

  //! Closes key advertisement and key sharing, each once every selected client
  //! took part or the phase timed out; returns the clients that did not share.
  absl::StatusOr<std::vector<std::string>> AwaitSetup() override;
  //! Adds a masked vector to the sum; refuses an update in the clear.
  absl::Status Accumulate(ClientInput input) override;
  //! Refused: a secure round's sum lives in its protocol state.
  absl::Status MergeWith(RoundAccumulator&& other) override;
  //! Ends collection, waits for the survivors' shares and unmasks the sum.
  absl::StatusOr<RoundAggregate> Report() && override;
  void Cancel() override { round_->Cancel(); }

 private:
  SecureRound::Clock::time_point PhaseEnd() const;

  const std::shared_ptr<SecureRound> round_;
  const SecureAccumulatorOptions options_;
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_SECURE_ACCUMULATOR_H_
