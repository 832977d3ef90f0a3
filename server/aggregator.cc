#include "server/aggregator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/random.h"
#include "base/status_macros.h"
#include "protocol/tensor_stream.h"
#include "server/client_identity.h"

namespace equifl::server {
namespace {

using Clock = std::chrono::steady_clock;

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbers.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// Scales `values` down to L2 norm `bound` if they are longer.
void ClipToNorm(std::vector<float>& values, double bound) {
  double squared = 0;
  for (float value : values) squared += static_cast<double>(value) * value;
  const double norm = std::sqrt(squared);
  if (norm <= bound) return;
  const double scale = bound / norm;
  for (float& value : values) value = static_cast<float>(value * scale);
}

int64_t UnixMilliseconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

}  // namespace

absl::Status PrivacyOptions::Validate() const {
  if (!(clip_norm >= 0) || std::isinf(clip_norm)) {
    return absl::InvalidArgumentError(
        absl::StrCat("privacy clip_norm is ", clip_norm, "; allowed: 0 (off) or a positive norm"));
  }
  if (!enabled()) return absl::OkStatus();
  if (!(noise_multiplier > 0) || std::isinf(noise_multiplier)) {
    return absl::InvalidArgumentError(absl::StrCat("privacy noise_multiplier is ", noise_multiplier,
                                                   "; allowed: a positive number"));
  }
  if (!(delta > 0 && delta < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("privacy delta is ", delta, "; allowed: (0, 1), e.g. 1e-5"));
  }
  return absl::OkStatus();
}

absl::Status AggregatorOptions::Validate() const {
  if (run_id.empty()) return absl::InvalidArgumentError("run_id is empty");
  EQUIFL_RETURN_IF_ERROR(rounds.Validate());
  EQUIFL_RETURN_IF_ERROR(download.Validate());
  EQUIFL_RETURN_IF_ERROR(optimizer.Validate());
  EQUIFL_RETURN_IF_ERROR(fairness.Validate());
  EQUIFL_RETURN_IF_ERROR(privacy.Validate());
  if (protocol::CodecOptions{upload_encoding, download.max_chunk_bytes}.Validate() !=
      absl::OkStatus()) {
    return absl::InvalidArgumentError("upload_encoding must be fp32, fp16, bf16 or int8");
  }
  if (max_concurrent_uploads == 0) {
    return absl::InvalidArgumentError("max_concurrent_uploads is 0; allowed: 1 or more");
  }
  if (poll_timeout <= std::chrono::milliseconds(0)) {
    return absl::InvalidArgumentError("poll_timeout must be positive");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Aggregator>> Aggregator::Create(
    const AggregatorOptions& options, GlobalModel model, aggregation::ServerOptimizer optimizer,
    uint64_t completed_rounds, RoundObserver* observer) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  if (model.size() == 0) return absl::InvalidArgumentError("the global model has no values");
  if (optimizer.model_size() != model.size()) {
    return absl::InvalidArgumentError(absl::StrCat("the server optimiser is sized for ",
                                                   optimizer.model_size(),
                                                   " values; the model has ", model.size()));
  }
  return std::unique_ptr<Aggregator>(
      new Aggregator(options, std::move(model), std::move(optimizer), completed_rounds, observer));
}

Aggregator::Aggregator(const AggregatorOptions& options, GlobalModel model,
                       aggregation::ServerOptimizer optimizer, uint64_t completed_rounds,
                       RoundObserver* observer)
    : options_(options),
      observer_(observer),
      coordinator_(options.rounds, completed_rounds),
      optimizer_(std::move(optimizer)),
      fairness_(options.fairness),
      model_(std::make_shared<const GlobalModel>(std::move(model))),
      model_version_(completed_rounds) {
  if (options_.privacy.enabled() && completed_rounds > 0) {
    // After --resume: the rounds done so far, at the configured sampling rate.
    const uint64_t trained = std::min<uint64_t>(completed_rounds, options_.rounds.rounds);
    accountant_
        .Compose(options_.rounds.client_fraction, options_.privacy.noise_multiplier,
                 static_cast<int64_t>(trained))
        .IgnoreError();  // the options were validated
  }
}

absl::Status Aggregator::AddPrivacyNoise(const RoundOutcome& outcome,
                                         std::vector<float>& mean_update, RoundSummary& summary) {
  // The mean is Σ clipped / contributors; DP-FedAvg's fixed denominator is the
  // number selected, and the noise on the sum is N(0, (σC)²).
  const double selected = static_cast<double>(outcome.selected.size());
  const double scale = static_cast<double>(outcome.contributors.size()) / selected;
  const double deviation =
      options_.privacy.noise_multiplier * options_.privacy.clip_norm / selected;
  random::Engine engine(std::random_device{}() * 0x100000000ULL + std::random_device{}());
  for (float& value : mean_update) {
    value = static_cast<float>(value * scale + deviation * random::Normal(engine));
  }
  const double joined = static_cast<double>(std::max<size_t>(coordinator_.JoinedCount(), 1));
  EQUIFL_RETURN_IF_ERROR(
      accountant_.Compose(std::min(1.0, selected / joined), options_.privacy.noise_multiplier));
  EQUIFL_ASSIGN_OR_RETURN(aggregation::PrivacyGuarantee spent,
                          accountant_.EpsilonFor(options_.privacy.delta));
  summary.privacy_epsilon = spent.epsilon;
  spdlog::info("round {}: client-level DP: ({:.4f}, {:g})-DP after {} rounds (RDP order {:g})",
               outcome.round_id, spent.epsilon, spent.delta, accountant_.rounds(), spent.order);
  return absl::OkStatus();
}

v1::RoundReference Aggregator::Reference(uint64_t round_id) const {
  v1::RoundReference reference;
  reference.set_run_id(options_.run_id);
  reference.set_round_id(round_id);
  return reference;
}

absl::Status Aggregator::Run() {
  while (true) {
    std::shared_ptr<const GlobalModel> model;
    {
      std::lock_guard lock(model_mutex_);
      model = model_;
    }
    {
      std::lock_guard lock(round_mutex_);
      round_ = std::make_unique<OpenRound>();
      round_->round_id = coordinator_.completed_rounds() + 1;
      round_->mean = aggregation::WeightedMean(model->size());
    }
    std::optional<uint64_t> round_id = coordinator_.OpenNextRound();
    if (!round_id) return absl::OkStatus();
    const auto opened = Clock::now();
    spdlog::info("round {}: open{}", *round_id,
                 coordinator_.IsEvaluationRound(*round_id) ? " (final evaluation)" : "");
    const RoundOutcome outcome = coordinator_.AwaitClose();

    std::unique_ptr<OpenRound> round;
    {
      std::lock_guard lock(round_mutex_);
      round = std::move(round_);
    }
    FoldPending(*round);
    RoundSummary summary;
    summary.round_id = outcome.round_id;
    summary.selected = outcome.selected;
    summary.contributors = outcome.contributors;
    summary.reached_quorum = outcome.reached_quorum;
    summary.total_weight = round->mean.total_weight();
    summary.train = std::move(round->train);
    summary.validation = std::move(round->validation);
    summary.validation_by_client = std::move(round->validation_by_client);
    summary.final_evaluation = coordinator_.IsEvaluationRound(outcome.round_id);
    auto next = std::make_shared<GlobalModel>(*model);
    if (coordinator_.IsEvaluationRound(outcome.round_id)) {
      const std::optional<double> accuracy = summary.validation.accuracy();
      spdlog::info("final evaluation: {} clients, {} test samples, test loss {:.4f}, accuracy {}",
                   outcome.contributors.size(), summary.validation.samples(),
                   summary.validation.mean_loss(),
                   accuracy ? absl::StrFormat("%.4f", *accuracy) : std::string("n/a"));
    } else if (outcome.contributors.empty()) {
      spdlog::warn("round {}: closed without any update; the model is unchanged", *round_id);
    } else {
      EQUIFL_ASSIGN_OR_RETURN(std::vector<float> mean_update, std::move(round->mean).Report());
      if (options_.privacy.enabled()) {
        EQUIFL_RETURN_IF_ERROR(AddPrivacyNoise(outcome, mean_update, summary));
      }
      EQUIFL_RETURN_IF_ERROR(optimizer_.Step(next->values(), mean_update));
    }
    if (!coordinator_.IsEvaluationRound(outcome.round_id)) {
      fairness_.OnRoundClosed(summary.train.ToTable(), summary.validation.ToTable(),
                              summary.validation_by_client, round->train_samples);
    }
    summary.fairness = fairness_.State();
    summary.seconds = std::chrono::duration<double>(Clock::now() - opened).count();
    if (observer_ != nullptr) {
      EQUIFL_RETURN_IF_ERROR(observer_->OnRoundClosed(summary, *next, optimizer_));
    }
    {
      std::lock_guard lock(model_mutex_);
      model_ = std::move(next);
      model_version_ = outcome.round_id;
    }
    if (!coordinator_.IsEvaluationRound(outcome.round_id)) {
      spdlog::info("round {}: {} of {} updates{}, train loss {:.4f}, {:.2f} s", outcome.round_id,
                   outcome.contributors.size(), outcome.selected.size(),
                   outcome.reached_quorum ? "" : " (deadline)", summary.train.mean_loss(),
                   summary.seconds);
    }
  }
}

void Aggregator::Stop() { coordinator_.Stop(); }

grpc::Status Aggregator::Join(grpc::ServerContext* context, const v1::JoinRequest* request,
                              v1::JoinResponse* response) {
  // A client certificate decides the id (server/client_identity.h).
  absl::StatusOr<std::string> bound = ClientIdForJoin(*context, request->requested_client_id());
  if (!bound.ok()) return ToGrpc(bound.status());
  std::string client_id = *std::move(bound);
  if (client_id.empty()) {
    std::lock_guard lock(clients_mutex_);
    client_id = absl::StrCat("client-", next_client_number_++);
  }
  coordinator_.Join(client_id);
  spdlog::info("client '{}' joined ({} training samples)", client_id,
               request->capabilities().num_train_samples());
  response->set_run_id(options_.run_id);
  response->set_client_id(client_id);
  response->set_poll_timeout_ms(static_cast<uint32_t>(options_.poll_timeout.count()));
  return grpc::Status::OK;
}

grpc::Status Aggregator::PollTask(grpc::ServerContext* context, const v1::PollTaskRequest* request,
                                  v1::PollTaskResponse* response) {
  if (grpc::Status caller = CheckCallerActsAs(*context, request->client_id()); !caller.ok()) {
    return caller;
  }
  if (request->run_id() != options_.run_id) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("this server runs '", options_.run_id, "', not '",
                                     request->run_id(), "'; join again"));
  }
  if (!coordinator_.IsJoined(request->client_id())) {
    return grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("client '", request->client_id(), "' has not joined this server; join again"));
  }
  const Assignment assignment =
      coordinator_.WaitForAssignment(request->client_id(), options_.poll_timeout);
  switch (assignment.kind) {
    case Assignment::Kind::kFinished:
      response->set_run_finished(true);
      break;
    case Assignment::Kind::kWait:
      response->set_retry_after_ms(100);
      break;
    case Assignment::Kind::kTrain:
    case Assignment::Kind::kEvaluate:
      FillTask(assignment, *response->mutable_task());
      break;
  }
  return grpc::Status::OK;
}

grpc::Status Aggregator::PollTasks(grpc::ServerContext* context,
                                   const v1::PollTasksRequest* request,
                                   v1::PollTasksResponse* response) {
  for (const std::string& client_id : request->client_ids()) {
    if (grpc::Status caller = CheckCallerActsAs(*context, client_id); !caller.ok()) return caller;
  }
  if (request->run_id() != options_.run_id) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("this server runs '", options_.run_id, "', not '",
                                     request->run_id(), "'; join again"));
  }
  constexpr int kMaxClients = 100000;
  if (request->client_ids_size() > kMaxClients) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("PollTasks lists ", request->client_ids_size(),
                                     " clients; at most ", kMaxClients, " per call"));
  }
  const std::vector<std::string> client_ids(request->client_ids().begin(),
                                            request->client_ids().end());
  for (const auto& [client_id, assignment] :
       coordinator_.WaitForAssignments(client_ids, options_.poll_timeout)) {
    if (assignment.kind == Assignment::Kind::kFinished) {
      response->set_run_finished(true);
      return grpc::Status::OK;
    }
    v1::ClientTask* task = response->add_tasks();
    task->set_client_id(client_id);
    FillTask(assignment, *task->mutable_task());
  }
  if (response->tasks().empty()) response->set_retry_after_ms(100);
  return grpc::Status::OK;
}

void Aggregator::FillTask(const Assignment& assignment, v1::Task& task) {
  *task.mutable_round() = Reference(assignment.round_id);
  task.set_kind(assignment.kind == Assignment::Kind::kTrain ? v1::TASK_KIND_TRAIN
                                                            : v1::TASK_KIND_EVALUATE);
  task.set_model_version(assignment.round_id - 1);
  *task.mutable_hyperparameters() = options_.training;
  task.mutable_hyperparameters()->set_seed(options_.training.seed() * 1000003 +
                                           assignment.round_id);
  task.set_upload_encoding(options_.upload_encoding);
  *task.mutable_fairness() = fairness_.Directive();
  task.set_deadline_unix_ms(UnixMilliseconds(assignment.deadline));
}

grpc::Status Aggregator::DownloadModel(grpc::ServerContext* context,
                                       const v1::DownloadModelRequest* request,
                                       grpc::ServerWriter<v1::DownloadModelResponse>* writer) {
  if (grpc::Status caller = CheckCallerActsAs(*context, request->client_id()); !caller.ok()) {
    return caller;
  }
  std::shared_ptr<const GlobalModel> model;
  uint64_t version = 0;
  {
    std::lock_guard lock(model_mutex_);
    model = model_;
    version = model_version_;
  }
  if (request->round().run_id() != options_.run_id || request->model_version() != version) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("model version ", request->model_version(), " of run '",
                                     request->round().run_id(), "' is not available; run '",
                                     options_.run_id, "' is at version ", version));
  }
  protocol::CodecOptions codec = options_.download;
  if (request->encoding() != v1::ENCODING_UNSPECIFIED) codec.encoding = request->encoding();
  absl::StatusOr<protocol::ChunkEncoder> encoder =
      protocol::ChunkEncoder::Create(model->Views(), codec);
  if (!encoder.ok()) return ToGrpc(encoder.status());
  return ToGrpc(protocol::WriteModelStream(request->round(), *encoder, *writer));
}

std::vector<float> Aggregator::TakeBuffer() {
  std::unique_lock lock(buffers_mutex_);
  buffer_returned_.wait(lock, [this] { return buffers_out_ < options_.max_concurrent_uploads; });
  ++buffers_out_;
  if (free_buffers_.empty()) return {};
  std::vector<float> buffer = std::move(free_buffers_.back());
  free_buffers_.pop_back();
  return buffer;
}

size_t Aggregator::FoldBatchSize() const {
  return std::min<size_t>(options_.max_concurrent_uploads, aggregation::WeightedMean::kMaxBatch);
}

void Aggregator::FoldPending(OpenRound& round) {
  if (round.pending.empty()) return;
  std::vector<double> weights;
  std::vector<std::span<const float>> updates;
  for (const PendingUpdate& update : round.pending) {
    weights.push_back(update.weight);
    updates.push_back(update.values);
  }
  // Weights were checked and values are finite (the decoder refuses others), so a
  // failure here is a bug; the updates it names are left out of the mean.
  if (absl::Status status = round.mean.AccumulateBatch(weights, updates); !status.ok()) {
    spdlog::error("round {}: folding {} updates: {}", round.round_id, updates.size(),
                  std::string(status.message()));
  }
  for (PendingUpdate& update : round.pending) GiveBackBuffer(std::move(update.values));
  round.pending.clear();
}

void Aggregator::GiveBackBuffer(std::vector<float> buffer) {
  {
    std::lock_guard lock(buffers_mutex_);
    --buffers_out_;
    free_buffers_.push_back(std::move(buffer));
  }
  buffer_returned_.notify_one();
}

grpc::Status Aggregator::UploadUpdate(grpc::ServerContext* context,
                                      grpc::ServerReader<v1::UploadUpdateRequest>* reader,
                                      v1::UploadUpdateResponse* response) {
  const auto refuse = [&](const absl::Status& status) {
    spdlog::warn("update refused: {}", std::string(status.message()));
    response->set_accepted(false);
    response->set_message(std::string(status.message()));
    return grpc::Status::OK;
  };
  absl::StatusOr<v1::UploadUpdateRequest> opening = protocol::ReadUpdateHeader(*reader);
  if (!opening.ok()) return refuse(opening.status());
  const v1::UpdateHeader& header = opening->header();
  if (grpc::Status caller = CheckCallerActsAs(*context, header.client_id()); !caller.ok()) {
    return caller;
  }
  const uint64_t round_id = opening->round().round_id();
  if (opening->round().run_id() != options_.run_id) {
    return refuse(
        absl::FailedPreconditionError(absl::StrCat("update for run '", opening->round().run_id(),
                                                   "'; this server runs '", options_.run_id, "'")));
  }
  if (absl::Status status = coordinator_.CheckUpload(header.client_id(), round_id); !status.ok()) {
    return refuse(status);
  }
  if (coordinator_.IsEvaluationRound(round_id)) {
    // An evaluation result carries statistics only: no update follows.
    absl::Status status = coordinator_.TryCommit(header.client_id(), round_id, [&] {
      std::lock_guard lock(round_mutex_);
      return round_->validation.Add(header.validation_statistics());
    });
    if (!status.ok()) return refuse(status);
    response->set_accepted(true);
    return grpc::Status::OK;
  }
  // Under client-level DP every update counts once: its weight must not depend on
  // the client's data.
  const double weight =
      options_.privacy.enabled() ? 1.0 : fairness_.AggregationWeight(header.client_id(), header);
  if (!(weight > 0) || !std::isfinite(weight)) {
    return refuse(absl::InvalidArgumentError(
        absl::StrCat("update of client '", header.client_id(), "' has weight ", weight,
                     "; send num_train_samples > 0 or a positive aggregation_weight")));
  }

  std::shared_ptr<const GlobalModel> model;
  {
    std::lock_guard lock(model_mutex_);
    model = model_;
  }
  std::vector<float> buffer = TakeBuffer();
  buffer.resize(model->size());
  // Non-finite values are refused while each chunk is in cache, so the batched
  // fold below never meets one.
  protocol::DecoderLimits limits = options_.upload_limits;
  limits.require_finite = true;
  absl::Status status = protocol::ReadUpdateChunks(
      opening->round(), header.update(), model->MutableViewsOver(buffer), *reader, limits);
  if (status.ok() && options_.privacy.enabled()) ClipToNorm(buffer, options_.privacy.clip_norm);
  bool pending = false;
  if (status.ok()) {
    status = coordinator_.TryCommit(header.client_id(), round_id, [&]() -> absl::Status {
      std::lock_guard lock(round_mutex_);
      if (round_ == nullptr || round_->round_id != round_id) {
        return absl::FailedPreconditionError("the round closed");
      }
      // Statistics first: a bad statistics message must not leave half an update.
      StatisticsSum train = round_->train;
      StatisticsSum validation = round_->validation;
      EQUIFL_RETURN_IF_ERROR(train.Add(header.train_statistics()));
      EQUIFL_RETURN_IF_ERROR(validation.Add(header.validation_statistics()));
      round_->train = std::move(train);
      round_->validation = std::move(validation);
      // The update waits until a batch is full, then the batch is folded in one
      // pass over the accumulator (WeightedMean::AccumulateBatch).
      round_->pending.push_back({weight, std::move(buffer)});
      pending = true;
      if (round_->pending.size() >= FoldBatchSize()) FoldPending(*round_);
      if (fairness_.NeedsClientStatistics()) {
        StatisticsSum own;
        if (own.Add(header.validation_statistics()).ok()) {
          round_->validation_by_client[header.client_id()] = own.ToTable();
        }
        round_->train_samples[header.client_id()] = header.num_train_samples();
      }
      return absl::OkStatus();
    });
  }
  if (!pending) GiveBackBuffer(std::move(buffer));
  if (!status.ok()) return refuse(status);
  response->set_accepted(true);
  return grpc::Status::OK;
}

}  // namespace equifl::server
