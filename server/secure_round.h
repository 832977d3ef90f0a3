// One securely aggregated round on the server: the protocol's state
// (aggregation::SecureAggregationServer) behind a lock, the long polls through
// which clients wait for each phase to close, the translation of the protocol's
// messages from and to the wire, and the steps the run loop drives.
//
// The run loop closes key advertisement once every selected client advertised
// or the phase's deadline passed, then key sharing likewise; the coordinator's
// quorum or deadline ends the collection of masked inputs; unmasking ends when
// every survivor revealed its shares or the phase's deadline passed. A step that
// leaves too few clients fails the round, and nothing about any client's input
// is revealed (aggregation/secure/secure_aggregation_server.h).
//
// Thread-safe: the service's handlers and the round loop's steps call it
// concurrently. Its lock comes after the coordinator's and the round loop's
// (server/round_loop.h) and is held while a long poll waits, never while calling
// out.
#ifndef EQUIFL_SERVER_SECURE_ROUND_H_
#define EQUIFL_SERVER_SECURE_ROUND_H_

#include <chrono>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "aggregation/privacy/client_level_privacy.h"
#include "aggregation/secure/secure_aggregation_server.h"
#include "aggregation/secure/secure_input.h"
#include "equifl/v1/aggregator.pb.h"

namespace equifl::server {

class SecureRound {
 public:
  using Clock = std::chrono::system_clock;

  //! `noise` is what each training client does for client-level DP (all zero
  //! when DP is off).
  SecureRound(const aggregation::SecureRoundOptions& options,
              const aggregation::SecureInputLayout& layout, const aggregation::ClientNoise& noise);

  const aggregation::SecureInputLayout& layout() const { return layout_; }
  const aggregation::ClientNoise& client_noise() const { return client_noise_; }
  uint64_t round_id() const { return round_id_; }

  // Called by the service for its clients; a `timeout` bounds a long poll.
  absl::Status AdvertiseKeys(const v1::AdvertiseKeysRequest& request);
  absl::Status GetNeighbours(const std::string& client_id, std::chrono::milliseconds timeout,
                             v1::GetNeighboursResponse& response);
  absl::Status ShareKeys(const v1::ShareKeysRequest& request);
  absl::Status GetShares(const std::string& client_id, std::chrono::milliseconds timeout,
                         v1::GetSharesResponse& response);
  absl::Status CheckMaskedInput(const std::string& client_id);
  absl::Status AddMaskedInput(const std::string& client_id, std::span<const uint32_t> words);
  absl::Status GetUnmaskRequest(const std::string& client_id, std::chrono::milliseconds timeout,
                                v1::GetUnmaskRequestResponse& response);
  absl::Status RevealShares(const v1::RevealSharesRequest& request);

  // Driven by the run loop, in order.
  //! Waits until every selected client advertised or `until`, then closes
  //! advertising; fails when too few advertised.
  absl::Status CloseAdvertising(Clock::time_point until);
  //! Likewise for key sharing; returns the selected clients that cannot
  //! contribute (they did not share), so the round need not wait for them.
  absl::StatusOr<std::vector<std::string>> CloseSharing(Clock::time_point until);
  //! Ends collection; fails with too few masked inputs.
  absl::Status CloseCollection();
  //! Waits for the survivors' shares until every one revealed or `until`, then
  //! removes the masks and decodes the sum.
  absl::StatusOr<aggregation::SecureSum> Unmask(Clock::time_point until);
  //! Whether Unmask produced the sum: from then on the server has seen it (and,
  //! under client-level DP, the round's noisy release happened).
  bool Unmasked() ABSL_LOCKS_EXCLUDED(mutex_);
  //! Fails the round (the run stops): wakes every wait.
  void Cancel();

 private:
  using Phase = aggregation::SecureAggregationServer::Phase;

  //! Runs `step` (a change to the protocol state it is given) under the lock
  //! unless the round failed, then wakes the waits.
  template <typename Step>
  absl::Status Change(const Step& step) ABSL_LOCKS_EXCLUDED(mutex_);
  //! Waits, at most `timeout`, for the protocol to leave `phase`. Neither wait
  //! releases the lock once its deadline has passed (a poll that does not wait).
  void WaitWhileLocked(Phase phase, std::chrono::milliseconds timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  //! Waits until the current phase is complete or `until`.
  void WaitForPhaseLocked(Clock::time_point until) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  //! Why a poll found the round failed or cancelled; OK otherwise.
  absl::Status FailureLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const aggregation::SecureInputLayout layout_;
  const aggregation::ClientNoise client_noise_;
  const uint64_t round_id_;
  absl::Mutex mutex_;
  absl::CondVar changed_;  //!< Signalled on every change of the protocol's state.
  aggregation::SecureAggregationServer protocol_ ABSL_GUARDED_BY(mutex_);
  bool cancelled_ ABSL_GUARDED_BY(mutex_) = false;
  absl::Status failure_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_SECURE_ROUND_H_
