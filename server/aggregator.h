// The aggregator: the gRPC service clients dial into, and the loop that runs the
// rounds.
//
// Each round the coordinator selects clients; they download the global model,
// train, and upload their update (the difference between their model and the
// global one) with their statistics. Updates are decoded into a scratch buffer of
// the model's layout and folded into a streaming weighted mean in batches of
// max_concurrent_uploads (one pass over the accumulator per batch), so memory
// stays at the model times (2 + max_concurrent_uploads) however many clients
// report. When the round closes, the server optimiser applies the mean
// update and the observer (checkpoints, run history) is told before the next round
// opens. The model itself is opaque: any set of float32 tensors.
//
// Under secure aggregation (SecureAggregationOptions) each round also runs the
// protocol's key phases, and clients upload masked vectors that carry their
// weighted update, weight and statistics (aggregation/secure/secure_input.h); the server
// sums them modulo 2^32 as they arrive and learns only the survivors' sums. A
// round that keeps too few clients to be unmasked stops the run, revealing
// nothing; --resume continues from the last completed round.
#ifndef EQUIFL_SERVER_AGGREGATOR_H_
#define EQUIFL_SERVER_AGGREGATOR_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aggregation/privacy/client_level_privacy.h"
#include "aggregation/secure/secure_input.h"
#include "aggregation/server_optimizer.h"
#include "aggregation/weighted_mean.h"
#include "equifl/v1/aggregator.grpc.pb.h"
#include "protocol/chunk_decoder.h"
#include "protocol/chunk_encoder.h"
#include "server/fairness_engine.h"
#include "server/global_model.h"
#include "server/round_coordinator.h"
#include "server/scratch_pool.h"
#include "server/secure_round.h"
#include "server/statistics_sum.h"

namespace equifl::server {

//! The `secure_aggregation` section: whether updates and statistics are summed
//! under secure aggregation (Bonawitz et al. 2017 with SecAgg+ neighbourhoods),
//! so the server learns only sums, and the fixed point's ranges
//! (aggregation/secure/secure_input.h).
struct SecureAggregationOptions {
  bool enabled = false;
  //! SecAgg+'s neighbours per client; 0: 2·ceil(log2 n) + 2 (every client when
  //! that covers them all, which is Bonawitz's complete graph).
  uint32_t neighbours = 0;
  //! Share of a neighbourhood whose shares rebuild a secret (t), and share of the
  //! selected clients whose masked inputs the round needs.
  double threshold = 0.5;
  //! Each coordinate of a client's weighted update r·Δ is clamped to ±this; with
  //! client-level DP the range follows the clipping norm instead.
  double update_bound = 1.0;
  //! Aggregation weights above this count as it; 0: the largest training-set size
  //! clients announced at Join (times e^β for ERM-MinMaxGAP).
  double weight_bound = 0;
  //! How long key advertisement, key sharing and unmasking may each take.
  std::chrono::milliseconds phase_timeout{std::chrono::seconds(30)};

  absl::Status Validate() const;
};

//! Everything the aggregator needs to know besides the model.
struct AggregatorOptions {
  std::string run_id;               //!< Stamped on every message; required.
  RoundOptions rounds;              //!< Selection, quorum, deadline.
  protocol::CodecOptions download;  //!< Encoding and chunk size of model downloads.
  v1::Encoding upload_encoding = v1::ENCODING_FLOAT32;  //!< Asked of clients.
  v1::TrainingHyperparameters training;                 //!< Sent with every task.
  aggregation::ServerOptimizerOptions optimizer;        //!< How the mean update is applied.
  std::chrono::milliseconds poll_timeout{std::chrono::seconds(10)};  //!< Long-poll bound.
  uint32_t max_concurrent_uploads = 2;          //!< Uploads decoded at once (each needs a buffer).
  protocol::DecoderLimits upload_limits;        //!< What a client may send.
  FairnessOptions fairness;                     //!< The fairness method and its knobs.
  aggregation::PrivacyOptions privacy;          //!< Client-level DP; off by default.
  SecureAggregationOptions secure_aggregation;  //!< Off by default.
  //! The languages, groups and classes of the run's data (its schema), which
  //! secure aggregation's statistics grid needs; its views are fairness.views.
  aggregation::StatisticsLayout statistics;

  absl::Status Validate() const;
};

//! What one closed round produced, for logs, checkpoints and the run history.
struct RoundSummary {
  uint64_t round_id = 0;                  //!< The round.
  std::vector<std::string> selected;      //!< Clients selected.
  std::vector<std::string> contributors;  //!< Clients whose updates were averaged.
  bool reached_quorum = false;            //!< False when the deadline closed the round.
  bool final_evaluation = false;          //!< The final evaluation round (no training).
  double total_weight = 0;                //!< Sum of the contributors' aggregation weights.
  StatisticsSum train;                    //!< Summed training statistics.
  StatisticsSum validation;               //!< Summed validation statistics of the model
                                          //!< the round started from; in the final
                                          //!< evaluation round, test statistics.
  //! Each contributor's validation statistics (clients pooled in `validation`); only
  //! kept for methods that need them (FairnessEngine::NeedsClientStatistics).
  std::map<std::string, fairness::StatisticsTable> validation_by_client;
  //! The fairness engine's state after the round (what the next round uses).
  FairnessState fairness;
  double privacy_epsilon = 0;    //!< ε spent after this round at PrivacyOptions::delta; 0: off.
  double clip_norm = 0;          //!< The clipping norm the round used; 0: DP off.
  bool secure = false;           //!< Securely aggregated: the server saw only sums.
  uint64_t clamped_clients = 0;  //!< Secure rounds: clients that clamped a value.
  double seconds = 0;            //!< From opening to the new model.
};

//! Told about every closed round, before the next one opens.
class RoundObserver {
 public:
  virtual ~RoundObserver() = default;
  //! `model` is the global model after the round; failing stops the run.
  virtual absl::Status OnRoundClosed(const RoundSummary& summary, const GlobalModel& model,
                                     const aggregation::ServerOptimizer& optimizer) = 0;
};

class Aggregator final : public v1::Aggregator::Service {
 public:
  //! `model` is the global model after `completed_rounds` rounds (the initial model
  //! for a new run); `optimizer` carries its state (restored after --resume).
  static absl::StatusOr<std::unique_ptr<Aggregator>> Create(const AggregatorOptions& options,
                                                            GlobalModel model,
                                                            aggregation::ServerOptimizer optimizer,
                                                            uint64_t completed_rounds,
                                                            RoundObserver* observer);

  //! Runs rounds until every round is done or Stop() is called; fails when the
  //! observer fails.
  absl::Status Run();

  //! Ends the run: Run returns after the open round, clients are told to finish.
  void Stop();

  //! The fairness method's state (for a restart: RestoreLambda before Run).
  FairnessEngine& fairness() { return fairness_; }

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
             RoundObserver* observer);

  //! An accepted update waiting for its batch to be folded.
  struct PendingUpdate {
    double weight = 0;
    std::vector<float> values;  //!< From update_buffers_, given back once folded.
  };

  //! The state of the round being collected.
  struct OpenRound {
    uint64_t round_id = 0;
    std::shared_ptr<SecureRound> secure;  //!< Set when the round is securely aggregated.
    double clip_indicators = 0;           //!< Trusted DP: updates within the clipping norm.
    aggregation::WeightedMean mean{0};
    StatisticsSum train;
    StatisticsSum validation;
    std::map<std::string, fairness::StatisticsTable> validation_by_client;
    std::map<std::string, uint64_t> train_samples;
    std::vector<PendingUpdate> pending;  //!< Accepted, not yet folded into `mean`.
  };

  v1::RoundReference Reference(uint64_t round_id) const;
  //! The task of `assignment` (kTrain or kEvaluate) as clients receive it.
  void FillTask(const Assignment& assignment, v1::Task& task);
  //! Updates folded together: max_concurrent_uploads, at most WeightedMean::kMaxBatch.
  //! Every scratch buffer can be waiting in a batch, so a full batch always folds.
  size_t FoldBatchSize() const;
  //! Folds `round`'s pending updates into its mean and gives their buffers back.
  void FoldPending(OpenRound& round);
  //! The secure round of round `round_id` with its layout, made when the round
  //! selects its clients (RoundCoordinator::SelectionHook).
  std::shared_ptr<SecureRound> MakeSecureRound(uint64_t round_id,
                                               const std::vector<std::string>& selected,
                                               size_t model_size);
  //! The open secure round that `round` names, or why there is none.
  absl::StatusOr<std::shared_ptr<SecureRound>> SecureRoundFor(const v1::RoundReference& round);
  //! Runs `step` on the open secure round `request` names, for a caller whose
  //! certificate allows `request`'s client id.
  template <typename Request, typename Step>
  grpc::Status OnSecureRound(const grpc::ServerContext& context, const Request& request,
                             const Step& step);
  //! Runs a secure round's key phases while its clients set up.
  absl::Status RunSecureSetup(SecureRound& secure, uint64_t round_id);
  //! Unmasks a secure round's sum into `round` and `summary`; returns the sum of
  //! the weighted updates (empty in an evaluation round) and its weight.
  absl::StatusOr<std::vector<float>> UnmaskSecureRound(OpenRound& round, RoundSummary& summary,
                                                       double& weight, double& clip_indicators);
  //! UploadUpdate for a secure round: the client's masked vector.
  grpc::Status UploadMaskedInput(const v1::UploadUpdateRequest& opening, SecureRound& secure,
                                 grpc::ServerReader<v1::UploadUpdateRequest>& reader,
                                 v1::UploadUpdateResponse& response);

  const AggregatorOptions options_;
  RoundObserver* const observer_;
  RoundCoordinator coordinator_;
  aggregation::ServerOptimizer optimizer_;   //!< Used by Run only.
  aggregation::ClientLevelPrivacy privacy_;  //!< Its clipping norm changes only between rounds.
  FairnessEngine fairness_;

  std::mutex model_mutex_;
  //! The current global model; replaced (not changed) after each round, so a
  //! download in progress keeps the version it started with.
  std::shared_ptr<const GlobalModel> model_ ABSL_GUARDED_BY(model_mutex_);
  uint64_t model_version_ ABSL_GUARDED_BY(model_mutex_);

  std::mutex round_mutex_;
  std::unique_ptr<OpenRound> round_ ABSL_GUARDED_BY(round_mutex_);
  //! The open round's secure round (also in round_), for the secure RPCs.
  std::shared_ptr<SecureRound> secure_ ABSL_GUARDED_BY(round_mutex_);

  ScratchPool<float> update_buffers_;     //!< Plain uploads.
  ScratchPool<uint32_t> masked_buffers_;  //!< Masked inputs of secure rounds.

  std::mutex clients_mutex_;
  uint64_t next_client_number_ ABSL_GUARDED_BY(clients_mutex_) = 1;
  //! The largest training-set size a client announced at Join (secure
  //! aggregation's automatic weight bound).
  uint64_t largest_train_samples_ ABSL_GUARDED_BY(clients_mutex_) = 0;
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_AGGREGATOR_H_
