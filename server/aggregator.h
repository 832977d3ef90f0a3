// The aggregator: the gRPC service clients dial into, in front of the round loop
// that runs the rounds (server/round_loop.h).
//
// Each round the coordinator selects clients; they download the global model,
// train, and upload their update (the difference between their model and the
// global one) with their statistics. The service checks every call (the caller's
// certificate, the run, the round), decodes an upload into a scratch buffer of the
// model's layout (at most max_concurrent_uploads at once, so memory stays bounded
// however many clients report) and hands it to the open round's accumulator. The
// model itself is opaque: any set of float32 tensors.
//
// Under secure aggregation (SecureAggregationOptions) each round also runs the
// protocol's key phases, and clients upload masked vectors that carry their
// weighted update, weight and statistics (aggregation/secure/secure_input.h); the
// server learns only the survivors' sums.
//
// Threads: gRPC calls the handlers concurrently; Run() runs on one thread and
// Stop() may come from any. The service's own state is its scratch pools and the
// counter that names clients joining without an id; the rest is the round loop's
// (see its lock order).
#ifndef EQUIFL_SERVER_AGGREGATOR_H_
#define EQUIFL_SERVER_AGGREGATOR_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "equifl/v1/aggregator.grpc.pb.h"
#include "server/aggregator_options.h"
#include "server/round_loop.h"
#include "server/scratch_pool.h"
#include "server/service_observer.h"
#include "server/upload_guard.h"

namespace equifl::server {

class Aggregator final : public v1::Aggregator::Service {
 public:
  //! `model` is the global model after `completed_rounds` rounds (the initial model
  //! for a new run); `optimizer` carries its state (restored after --resume).
  //! `observer` hears of every round, `watcher` (may be null) of every call.
  static absl::StatusOr<std::unique_ptr<Aggregator>> Create(
      const AggregatorOptions& options, GlobalModel model, aggregation::ServerOptimizer optimizer,
      uint64_t completed_rounds, RoundObserver* observer, ServiceObserver* watcher = nullptr);

  //! Runs rounds until every round is done or Stop() is called; fails when a round
  //! cannot be aggregated or the observer fails.
  absl::Status Run() { return loop_.Run(); }

  //! Ends the run: Run returns after the open round, clients are told to finish.
  void Stop() { loop_.Stop(); }

  //! The fairness method's state (for a restart: Restore before Run).
  FairnessEngine& fairness() { return loop_.fairness(); }

  grpc::Status Join(grpc::ServerContext* context, const v1::JoinRequest* request,
                    v1::JoinResponse* response) override;
  grpc::Status PollTask(grpc::ServerContext* context, const v1::PollTaskRequest* request,
                        v1::PollTaskResponse* response) override;
  grpc::Status PollTasks(grpc::ServerContext* context, const v1::PollTasksRequest* request,
                         v1::PollTasksResponse* response) override;
  grpc::Status DownloadModel(grpc::ServerContext* context, const v1::DownloadModelRequest* request,
                             grpc::ServerWriter<v1::DownloadModelResponse>* writer) override;
  grpc::Status UploadUpdate(grpc::ServerContext* context,
                            grpc::ServerReader<v1::UploadUpdateRequest>* reader,
                            v1::UploadUpdateResponse* response) override;
  grpc::Status AdvertiseKeys(grpc::ServerContext* context, const v1::AdvertiseKeysRequest* request,
                             v1::SecureAggregationAck* response) override;
  grpc::Status GetNeighbours(grpc::ServerContext* context, const v1::SecureStepRequest* request,
                             v1::GetNeighboursResponse* response) override;
  grpc::Status ShareKeys(grpc::ServerContext* context, const v1::ShareKeysRequest* request,
                         v1::SecureAggregationAck* response) override;
  grpc::Status GetShares(grpc::ServerContext* context, const v1::SecureStepRequest* request,
                         v1::GetSharesResponse* response) override;
  grpc::Status GetUnmaskRequest(grpc::ServerContext* context, const v1::SecureStepRequest* request,
                                v1::GetUnmaskRequestResponse* response) override;
  grpc::Status RevealShares(grpc::ServerContext* context, const v1::RevealSharesRequest* request,
                            v1::SecureAggregationAck* response) override;

 private:
  Aggregator(const AggregatorOptions& options, GlobalModel model,
             aggregation::ServerOptimizer optimizer, uint64_t completed_rounds,
             RoundObserver* observer, ServiceObserver* watcher);

  //! OK when `run_id` names this server's run; otherwise FAILED_PRECONDITION,
  //! saying what (`what`) was sent for which run and that the client should join
  //! again. Every handler that names a run checks it here.
  absl::Status CheckRun(absl::string_view what, absl::string_view run_id) const;
  v1::RoundReference Reference(uint64_t round_id) const;
  //! The task of `assignment` (kTrain or kEvaluate) as client `client_id` receives it.
  void FillTask(const std::string& client_id, const Assignment& assignment, v1::Task& task);
  //! The open secure round `round` names, or why there is none.
  absl::StatusOr<std::shared_ptr<SecureRound>> SecureRoundFor(const v1::RoundReference& round);
  //! Runs `step` on the open secure round `request` names, for a caller whose
  //! certificate allows `request`'s client id.
  template <typename Request, typename Step>
  grpc::Status OnSecureRound(absl::string_view method, const grpc::ServerContext& context,
                             const Request& request, const Step& step);
  //! UploadUpdate of a plain round: the update itself and the statistics.
  absl::Status AcceptUpdate(const v1::UploadUpdateRequest& opening,
                            grpc::ServerReaderInterface<v1::UploadUpdateRequest>& reader);
  //! UploadUpdate of a secure round: the client's masked vector.
  absl::Status AcceptMaskedInput(const v1::UploadUpdateRequest& opening, SecureRound& secure,
                                 grpc::ServerReaderInterface<v1::UploadUpdateRequest>& reader);

  const AggregatorOptions options_;
  ServiceObserver* const watcher_;        //!< May be null.
  ScratchPool<float> update_buffers_;     //!< Plain uploads; folded batches give them back.
  ScratchPool<uint32_t> masked_buffers_;  //!< Masked inputs of secure rounds.
  UploadGuard upload_guard_;              //!< Idle uploads cancelled, one per client.
  RoundLoop loop_;
  absl::Mutex clients_mutex_;
  uint64_t next_client_number_ ABSL_GUARDED_BY(clients_mutex_) = 1;
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_AGGREGATOR_H_
