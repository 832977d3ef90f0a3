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
#include "aggregation/privacy_accountant.h"
#include "aggregation/server_optimizer.h"
#include "aggregation/weighted_mean.h"
#include "equifl/v1/aggregator.grpc.pb.h"
#include "protocol/chunk_decoder.h"
#include "protocol/chunk_encoder.h"
#include "server/fairness_engine.h"
#include "server/global_model.h"
#include "server/round_coordinator.h"
#include "server/statistics_sum.h"

namespace equifl::server {

//! Client-level differential privacy with a trusted aggregator (DP-FedAvg, McMahan
//! et al. 2018): every update is clipped to L2 norm `clip_norm` and counted with
//! weight 1; the sum gets Gaussian noise of standard deviation
//! noise_multiplier · clip_norm and is divided by the number of clients selected,
//! so one client changes the mean by at most clip_norm / selected. The RDP
//! accountant (aggregation/privacy_accountant.h) reports (ε, delta) every round,
//! treating the selection as Poisson sampling at rate selected / joined.
struct PrivacyOptions {
  double clip_norm = 0;           //!< C; 0 turns client-level DP off.
  double noise_multiplier = 1.0;  //!< σ: noise standard deviation over C.
  double delta = 1e-5;            //!< δ of the reported (ε, δ).

  bool enabled() const { return clip_norm > 0; }
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
  uint32_t max_concurrent_uploads = 2;    //!< Uploads decoded at once (each needs a buffer).
  protocol::DecoderLimits upload_limits;  //!< What a client may send.
  FairnessOptions fairness;               //!< The fairness method and its knobs.
  PrivacyOptions privacy;                 //!< Client-level DP; off by default.

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
  double privacy_epsilon = 0;  //!< ε spent after this round at PrivacyOptions::delta; 0: off.
  double seconds = 0;          //!< From opening to the new model.
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

 private:
  Aggregator(const AggregatorOptions& options, GlobalModel model,
             aggregation::ServerOptimizer optimizer, uint64_t completed_rounds,
             RoundObserver* observer);

  //! An accepted update waiting for its batch to be folded.
  struct PendingUpdate {
    double weight = 0;
    std::vector<float> values;  //!< A scratch buffer (TakeBuffer), given back once folded.
  };

  //! The state of the round being collected.
  struct OpenRound {
    uint64_t round_id = 0;
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
  //! Takes a scratch buffer for one upload, waiting while max_concurrent_uploads
  //! buffers are in use; GiveBackBuffer returns it.
  std::vector<float> TakeBuffer();
  void GiveBackBuffer(std::vector<float> buffer);
  //! Updates folded together: max_concurrent_uploads, at most WeightedMean::kMaxBatch.
  //! Every scratch buffer can be waiting in a batch, so a full batch always folds.
  size_t FoldBatchSize() const;
  //! Folds `round`'s pending updates into its mean and gives their buffers back.
  void FoldPending(OpenRound& round);
  //! Client-level DP: rescales the mean of clipped updates to the fixed
  //! denominator, adds the Gaussian noise and accounts for the round.
  absl::Status AddPrivacyNoise(const RoundOutcome& outcome, std::vector<float>& mean_update,
                               RoundSummary& summary);

  const AggregatorOptions options_;
  RoundObserver* const observer_;
  RoundCoordinator coordinator_;
  aggregation::ServerOptimizer optimizer_;     //!< Used by Run only.
  aggregation::PrivacyAccountant accountant_;  //!< Used by Run only.
  FairnessEngine fairness_;

  std::mutex model_mutex_;
  //! The current global model; replaced (not changed) after each round, so a
  //! download in progress keeps the version it started with.
  std::shared_ptr<const GlobalModel> model_ ABSL_GUARDED_BY(model_mutex_);
  uint64_t model_version_ ABSL_GUARDED_BY(model_mutex_);

  std::mutex round_mutex_;
  std::unique_ptr<OpenRound> round_ ABSL_GUARDED_BY(round_mutex_);

  std::mutex buffers_mutex_;
  std::condition_variable buffer_returned_;
  std::vector<std::vector<float>> free_buffers_ ABSL_GUARDED_BY(buffers_mutex_);
  uint32_t buffers_out_ ABSL_GUARDED_BY(buffers_mutex_) = 0;

  std::mutex clients_mutex_;
  uint64_t next_client_number_ ABSL_GUARDED_BY(clients_mutex_) = 1;
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_AGGREGATOR_H_
