// A client's side of a securely aggregated round over gRPC: the protocol steps
// around local training (aggregation/secure/secure_round_messages.h), the masked vector
// it uploads instead of its update and statistics, and client-level DP and the
// update's norm bound done on the client, since the server cannot see an update to
// clip, bound or noise.
//
// A real client runs the steps one after another; `equifl sim` runs each step
// for all the virtual clients of a round before the next step, so none waits for
// a phase that others have not reached. Advertise, ShareKeys and ReceiveShares
// come before training (the keys do not depend on the data), UploadMaskedInput
// replaces the plain upload, and Unmask follows once the server stops collecting.
#ifndef EQUIFL_CLIENT_SECURE_ROUND_CLIENT_H_
#define EQUIFL_CLIENT_SECURE_ROUND_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aggregation/privacy/client_level_privacy.h"
#include "aggregation/secure/secure_aggregation_client.h"
#include "aggregation/secure/secure_input.h"
#include "client/task_runner.h"
#include "equifl/v1/aggregator.grpc.pb.h"

namespace equifl::client {

class SecureRoundClient {
 public:
  //! Makes this round's keys for `task` (which must carry secure_aggregation;
  //! `model_size` values for a training task) and advertises them.
  static absl::StatusOr<SecureRoundClient> Advertise(v1::Aggregator::StubInterface& stub,
                                                     const ClientIdentity& identity,
                                                     const v1::Task& task, uint64_t model_size);

  //! Waits for the neighbourhood, then sends each neighbour its encrypted shares.
  absl::Status ShareKeys(v1::Aggregator::StubInterface& stub);
  //! Waits for the shares the neighbours sent this client.
  absl::Status ReceiveShares(v1::Aggregator::StubInterface& stub);
  //! Encodes `input` in the round's layout, masks it and uploads it; an update
  //! longer than the task's update_norm_bound is first scaled down to it
  //! (aggregation::ClipToNorm), the norm bound the server cannot apply. The masks
  //! expand on the GPU when `on_gpu` and the build and machine have one
  //! (aggregation/secure/mask_stream_cuda.h), else on `threads` CPU threads (0: every
  //! core). FailedPrecondition when the server refuses the input.
  absl::Status UploadMaskedInput(v1::Aggregator::StubInterface& stub,
                                 const aggregation::SecureInput& input, size_t max_chunk_bytes,
                                 int threads, bool on_gpu = false);
  //! Waits for the server's request and reveals the shares it asks for; reveals
  //! nothing when this client's input is not in the sum or too few survived.
  absl::Status Unmask(v1::Aggregator::StubInterface& stub);

  const aggregation::SecureInputLayout& layout() const { return layout_; }

 private:
  SecureRoundClient(ClientIdentity identity, v1::Task task, aggregation::SecureInputLayout layout,
                    aggregation::SecureAggregationClient protocol);

  //! A SecureStepRequest for this client and round.
  v1::SecureStepRequest Step() const;
  //! Calls `poll` until it stops asking to retry (`retry_after_ms` > 0), at most
  //! until the round's deadline plus a margin.
  template <typename Response, typename Call>
  absl::StatusOr<Response> Poll(const char* what, const Call& call);

  ClientIdentity identity_;
  v1::Task task_;
  aggregation::SecureInputLayout layout_;
  aggregation::SecureAggregationClient protocol_;
  bool counted_ = false;  //!< The masked input was accepted.
};

//! What the task's client-level DP asks of this client.
aggregation::ClientNoise ClientNoiseOf(const v1::ClientPrivacy& privacy);

//! Client-level DP on the client as the task asks (aggregation::AddClientNoise):
//! clips `update` to the task's norm and adds its share of the Gaussian noise;
//! returns the clip indicator with its noise.
absl::StatusOr<double> ApplyClientPrivacy(const v1::ClientPrivacy& privacy,
                                          std::vector<float>& update);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_SECURE_ROUND_CLIENT_H_
