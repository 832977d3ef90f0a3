#include "server/aggregator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "aggregation/secure/neighbour_graph.h"
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

// An upload the round does not count: the client learns why.
grpc::Status Refuse(const absl::Status& status, v1::UploadUpdateResponse& response) {
  spdlog::warn("update refused: {}", std::string(status.message()));
  response.set_accepted(false);
  response.set_message(std::string(status.message()));
  return grpc::Status::OK;
}

bool HasStatistics(const v1::UpdateHeader& header) {
  return header.train_statistics().cells_size() > 0 ||
         header.validation_statistics().cells_size() > 0 || header.aggregation_weight() != 0;
}

int64_t UnixMilliseconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

}  // namespace

absl::Status SecureAggregationOptions::Validate() const {
  if (!enabled) return absl::OkStatus();
  if (!(threshold > 0 && threshold <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("secure_aggregation threshold is ", threshold, "; allowed: (0, 1]"));
  }
  if (!(update_bound > 0) || std::isinf(update_bound)) {
    return absl::InvalidArgumentError(absl::StrCat("secure_aggregation update_bound is ",
                                                   update_bound, "; allowed: a positive number"));
  }
  if (!(weight_bound >= 0) || std::isinf(weight_bound)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "secure_aggregation weight_bound is ", weight_bound, "; allowed: 0 (automatic) or more"));
  }
  if (phase_timeout <= std::chrono::milliseconds(0)) {
    return absl::InvalidArgumentError("secure_aggregation phase_timeout must be positive");
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
  EQUIFL_RETURN_IF_ERROR(secure_aggregation.Validate());
  if (secure_aggregation.enabled) {
    aggregation::StatisticsLayout layout = statistics;
    layout.views = fairness.views;
    if (absl::Status status = layout.Validate(); !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("secure aggregation needs the data's schema: ", status.message()));
    }
    if (fairness.method == fairness::FairnessMethod::kFairFed) {
      return absl::InvalidArgumentError(
          "fairness method fairfed weighs clients by their own statistics, which secure "
          "aggregation hides from the server; choose another method or turn "
          "secure_aggregation off");
    }
    if (fairness.method == fairness::FairnessMethod::kQFedAvg &&
        secure_aggregation.weight_bound == 0) {
      return absl::InvalidArgumentError(
          "q-FedAvg's aggregation weights have no automatic bound: set "
          "secure_aggregation.weight_bound");
    }
    if (rounds.min_clients < 2) {
      return absl::InvalidArgumentError(
          "secure aggregation needs min_clients >= 2: the sum of one client is its input");
    }
  }
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
      // After --resume: the rounds done so far, at the configured sampling rate.
      privacy_(options.privacy, std::min<uint64_t>(completed_rounds, options.rounds.rounds),
               options.rounds.client_fraction),
      fairness_(options.fairness),
      model_(std::make_shared<const GlobalModel>(std::move(model))),
      model_version_(completed_rounds),
      update_buffers_(options.max_concurrent_uploads),
      masked_buffers_(options.max_concurrent_uploads) {}

v1::RoundReference Aggregator::Reference(uint64_t round_id) const {
  v1::RoundReference reference;
  reference.set_run_id(options_.run_id);
  reference.set_round_id(round_id);
  return reference;
}

std::shared_ptr<SecureRound> Aggregator::MakeSecureRound(uint64_t round_id,
                                                         const std::vector<std::string>& selected,
                                                         size_t model_size) {
  const SecureAggregationOptions& secure = options_.secure_aggregation;
  const uint32_t clients = static_cast<uint32_t>(selected.size());
  aggregation::SecureRoundOptions protocol;
  protocol.context = {options_.run_id, round_id};
  protocol.selected = selected;
  protocol.neighbours = secure.neighbours;
  protocol.threshold_fraction = secure.threshold;
  protocol.min_survivors = aggregation::MinSurvivors(clients, secure.threshold);
  protocol.graph_seed = random::MixSeed(options_.rounds.seed * 1000003 + round_id);
  aggregation::SecureInputLayout layout;
  layout.update_size = coordinator_.IsEvaluationRound(round_id) ? 0 : model_size;
  layout.statistics = options_.statistics;
  layout.statistics.views = options_.fairness.views;
  layout.max_clients = std::max<uint32_t>(clients, 1);
  aggregation::ClientNoise noise;
  if (privacy_.enabled()) {
    // Clipped updates with each client's share of the noise; every weight is 1.
    noise = privacy_.ForClients(protocol.min_survivors);
    layout.update_bound = noise.clip_norm + 6 * noise.noise_stddev;
    layout.weight_bound = 1;
    layout.indicator_bound = 1 + 6 * noise.indicator_noise_stddev;
  } else {
    layout.update_bound = secure.update_bound;
    layout.weight_bound = secure.weight_bound;
    if (layout.weight_bound == 0) {
      std::lock_guard lock(clients_mutex_);
      layout.weight_bound = static_cast<double>(std::max<uint64_t>(largest_train_samples_, 1));
      if (options_.fairness.method == fairness::FairnessMethod::kMinMaxGap) {
        layout.weight_bound *=
            std::exp(std::max(0.0, options_.fairness.minmax_gap.aggregation_beta));
      }
    }
  }
  protocol.words = layout.Words();
  return std::make_shared<SecureRound>(protocol, layout, noise);
}

absl::Status Aggregator::RunSecureSetup(SecureRound& secure, uint64_t round_id) {
  const auto phase_end = [&] {
    return SecureRound::Clock::now() + options_.secure_aggregation.phase_timeout;
  };
  EQUIFL_RETURN_IF_ERROR(secure.CloseAdvertising(phase_end()));
  EQUIFL_ASSIGN_OR_RETURN(std::vector<std::string> unable, secure.CloseSharing(phase_end()));
  if (!unable.empty()) {
    spdlog::warn("round {}: {} selected clients did not share their keys and cannot contribute",
                 round_id, unable.size());
    coordinator_.ExcludeFromRound(round_id, unable);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> Aggregator::UnmaskSecureRound(OpenRound& round,
                                                                 RoundSummary& summary,
                                                                 double& weight,
                                                                 double& clip_indicators) {
  SecureRound& secure = *round.secure;
  EQUIFL_RETURN_IF_ERROR(secure.CloseCollection());
  EQUIFL_ASSIGN_OR_RETURN(
      aggregation::SecureSum sum,
      secure.Unmask(SecureRound::Clock::now() + options_.secure_aggregation.phase_timeout));
  const auto to_proto = [&](const std::vector<aggregation::CellGroupSums>& entries) {
    v1::GroupStatistics statistics;
    for (const aggregation::CellGroupSums& entry : entries) {
      v1::GroupCellStatistics& cell = *statistics.add_cells();
      cell.mutable_cell()->set_language(entry.language);
      cell.mutable_cell()->set_modality(entry.view);
      cell.set_group(entry.group);
      cell.set_loss_sum(entry.loss_sum);
      cell.set_sample_count(entry.count);
      cell.set_num_classes(secure.layout().statistics.num_classes);
      for (uint64_t count : entry.confusion) cell.add_confusion(count);
    }
    return statistics;
  };
  EQUIFL_RETURN_IF_ERROR(round.train.Add(to_proto(sum.train)));
  EQUIFL_RETURN_IF_ERROR(round.validation.Add(to_proto(sum.validation)));
  summary.clamped_clients = sum.clamped_clients;
  if (sum.clamped_clients > 0) {
    spdlog::warn(
        "round {}: {} clients clamped values to secure aggregation's range (update bound {:g}, "
        "weight bound {:g}); raise secure_aggregation.update_bound or weight_bound",
        round.round_id, sum.clamped_clients, secure.layout().update_bound,
        secure.layout().weight_bound);
  }
  weight = sum.weight * secure.layout().weight_bound;
  clip_indicators = sum.clip_indicator;
  if (!(sum.weight > 0) && !sum.weighted_update.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("round ", round.round_id, ": the unmasked weights sum to ", sum.weight));
  }
  // The mean Σ r·Δ / Σ r; under DP every r is 1 and the caller divides by the
  // number selected instead.
  if (!privacy_.enabled()) {
    for (float& value : sum.weighted_update) value = static_cast<float>(value / sum.weight);
  }
  return std::move(sum.weighted_update);
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
    std::optional<uint64_t> round_id =
        coordinator_.OpenNextRound([&](uint64_t opened, const std::vector<std::string>& selected) {
          if (!options_.secure_aggregation.enabled) return;
          std::shared_ptr<SecureRound> secure = MakeSecureRound(opened, selected, model->size());
          std::lock_guard lock(round_mutex_);
          round_->secure = secure;
          secure_ = std::move(secure);
        });
    if (!round_id) return absl::OkStatus();
    const auto opened = Clock::now();
    spdlog::info("round {}: open{}{}", *round_id,
                 coordinator_.IsEvaluationRound(*round_id) ? " (final evaluation)" : "",
                 options_.secure_aggregation.enabled ? ", securely aggregated" : "");
    std::shared_ptr<SecureRound> secure;
    {
      std::lock_guard lock(round_mutex_);
      secure = round_->secure;
    }
    // A secure round that cannot finish stops the run: nothing was revealed, the
    // model is unchanged, and --resume starts again from the last completed round.
    const auto stop_run = [&](const absl::Status& status) {
      if (secure != nullptr) secure->Cancel();
      coordinator_.Stop();
      return absl::Status(status.code(),
                          absl::StrCat("round ", *round_id, ": ", status.message(),
                                       "; the model is unchanged (--resume continues after round ",
                                       *round_id - 1, ")"));
    };
    if (secure != nullptr) {
      if (absl::Status status = RunSecureSetup(*secure, *round_id); !status.ok()) {
        if (absl::IsCancelled(status)) return absl::OkStatus();  // Stop()
        return stop_run(status);
      }
    }
    const RoundOutcome outcome = coordinator_.AwaitClose();

    std::unique_ptr<OpenRound> round;
    {
      std::lock_guard lock(round_mutex_);
      round = std::move(round_);
    }
    RoundSummary summary;
    summary.round_id = outcome.round_id;
    summary.selected = outcome.selected;
    summary.contributors = outcome.contributors;
    summary.reached_quorum = outcome.reached_quorum;
    summary.final_evaluation = coordinator_.IsEvaluationRound(outcome.round_id);
    summary.secure = secure != nullptr;
    summary.clip_norm = privacy_.enabled() ? privacy_.clip_norm() : 0;
    // The contributors' update sum (DP) or mean, and what it was weighed by.
    std::vector<float> update;
    double weight = 0;
    double clip_indicators = round->clip_indicators;
    if (secure != nullptr) {
      absl::StatusOr<std::vector<float>> unmasked =
          UnmaskSecureRound(*round, summary, weight, clip_indicators);
      if (!unmasked.ok()) {
        if (absl::IsCancelled(unmasked.status())) return absl::OkStatus();
        return stop_run(unmasked.status());
      }
      update = *std::move(unmasked);
      std::lock_guard lock(round_mutex_);
      secure_.reset();
    } else {
      FoldPending(*round);
      weight = round->mean.total_weight();
      if (!outcome.contributors.empty() && !summary.final_evaluation) {
        EQUIFL_ASSIGN_OR_RETURN(update, std::move(round->mean).Report());
        if (privacy_.enabled()) {
          // Clipped updates of weight 1: the mean times the contributors is their sum.
          const double contributors = static_cast<double>(outcome.contributors.size());
          for (float& value : update) value = static_cast<float>(value * contributors);
        }
      }
    }
    summary.total_weight = weight;
    summary.train = std::move(round->train);
    summary.validation = std::move(round->validation);
    summary.validation_by_client = std::move(round->validation_by_client);
    auto next = std::make_shared<GlobalModel>(*model);
    if (summary.final_evaluation) {
      const std::optional<double> accuracy = summary.validation.accuracy();
      spdlog::info("final evaluation: {} clients, {} test samples, test loss {:.4f}, accuracy {}",
                   outcome.contributors.size(), summary.validation.samples(),
                   summary.validation.mean_loss(),
                   accuracy ? absl::StrFormat("%.4f", *accuracy) : std::string("n/a"));
    } else if (outcome.contributors.empty()) {
      spdlog::warn("round {}: closed without any update; the model is unchanged", *round_id);
    } else {
      if (privacy_.enabled()) {
        const double clip_norm = privacy_.clip_norm();
        EQUIFL_ASSIGN_OR_RETURN(
            aggregation::PrivacyGuarantee spent,
            privacy_.FinishRound(update, outcome.selected.size(), coordinator_.JoinedCount(),
                                 clip_indicators, /*noise_added_by_clients=*/secure != nullptr));
        summary.privacy_epsilon = spent.epsilon;
        spdlog::info(
            "round {}: client-level DP: ({:.4f}, {:g})-DP after {} rounds (RDP order {:g}), "
            "clipping norm {:.4g}{}",
            outcome.round_id, spent.epsilon, spent.delta, privacy_.rounds(), spent.order, clip_norm,
            options_.privacy.adaptive_clipping
                ? absl::StrFormat(" (next round %.4g)", privacy_.clip_norm())
                : "");
      }
      EQUIFL_RETURN_IF_ERROR(optimizer_.Step(next->values(), update));
    }
    if (!summary.final_evaluation) {
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
    if (!summary.final_evaluation) {
      spdlog::info("round {}: {} of {} updates{}, train loss {:.4f}, {:.2f} s", outcome.round_id,
                   outcome.contributors.size(), outcome.selected.size(),
                   outcome.reached_quorum ? "" : " (deadline)", summary.train.mean_loss(),
                   summary.seconds);
    }
  }
}

void Aggregator::Stop() {
  coordinator_.Stop();
  std::lock_guard lock(round_mutex_);
  if (secure_ != nullptr) secure_->Cancel();
}

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
  {
    std::lock_guard lock(clients_mutex_);
    largest_train_samples_ =
        std::max(largest_train_samples_, request->capabilities().num_train_samples());
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
  std::shared_ptr<SecureRound> secure;
  {
    std::lock_guard lock(round_mutex_);
    secure = secure_;
  }
  if (secure == nullptr || secure->round_id() != assignment.round_id) return;
  const aggregation::SecureInputLayout& layout = secure->layout();
  v1::SecureAggregationTask& wire = *task.mutable_secure_aggregation();
  wire.set_selected_clients(layout.max_clients);
  wire.set_update_bound(layout.update_bound);
  wire.set_weight_bound(layout.weight_bound);
  wire.set_indicator_bound(layout.indicator_bound);
  for (const std::string& language : layout.statistics.languages) wire.add_languages(language);
  for (const std::string& view : layout.statistics.views) wire.add_views(view);
  for (const std::string& group : layout.statistics.groups) wire.add_groups(group);
  wire.set_num_classes(layout.statistics.num_classes);
  if (privacy_.enabled() && assignment.kind == Assignment::Kind::kTrain) {
    const aggregation::ClientNoise& noise = secure->client_noise();
    v1::ClientPrivacy& client_privacy = *task.mutable_privacy();
    client_privacy.set_clip_norm(noise.clip_norm);
    client_privacy.set_noise_stddev(noise.noise_stddev);
    client_privacy.set_indicator_noise_stddev(noise.indicator_noise_stddev);
  }
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
  for (PendingUpdate& update : round.pending) update_buffers_.GiveBack(std::move(update.values));
  round.pending.clear();
}

grpc::Status Aggregator::UploadUpdate(grpc::ServerContext* context,
                                      grpc::ServerReader<v1::UploadUpdateRequest>* reader,
                                      v1::UploadUpdateResponse* response) {
  const auto refuse = [&](const absl::Status& status) { return Refuse(status, *response); };
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
  if (options_.secure_aggregation.enabled || header.masked_input()) {
    absl::StatusOr<std::shared_ptr<SecureRound>> secure = SecureRoundFor(opening->round());
    if (!secure.ok()) return refuse(secure.status());
    return UploadMaskedInput(*opening, **secure, *reader, *response);
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
  std::vector<float> buffer = update_buffers_.Take();
  buffer.resize(model->size());
  // Non-finite values are refused while each chunk is in cache, so the batched
  // fold below never meets one.
  protocol::DecoderLimits limits = options_.upload_limits;
  limits.require_finite = true;
  absl::Status status = protocol::ReadUpdateChunks(
      opening->round(), header.update(), model->MutableViewsOver(buffer), *reader, limits);
  // Trusted-aggregator DP: the server clips, and counts the updates within the
  // norm for adaptive clipping.
  const bool within_clip_norm = status.ok() && privacy_.enabled() && privacy_.Clip(buffer);
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
      if (within_clip_norm) round_->clip_indicators += 1;
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
  if (!pending) update_buffers_.GiveBack(std::move(buffer));
  if (!status.ok()) return refuse(status);
  response->set_accepted(true);
  return grpc::Status::OK;
}

grpc::Status Aggregator::UploadMaskedInput(const v1::UploadUpdateRequest& opening,
                                           SecureRound& secure,
                                           grpc::ServerReader<v1::UploadUpdateRequest>& reader,
                                           v1::UploadUpdateResponse& response) {
  const v1::UpdateHeader& header = opening.header();
  const std::string& client_id = header.client_id();
  if (!header.masked_input()) {
    return Refuse(absl::FailedPreconditionError(absl::StrCat(
                      "round ", secure.round_id(),
                      " is securely aggregated: send a masked input, not the update itself")),
                  response);
  }
  if (HasStatistics(header)) {
    return Refuse(absl::InvalidArgumentError(
                      "a masked input must not carry plaintext statistics or weights: they ride "
                      "inside the masked vector"),
                  response);
  }
  if (absl::Status status = secure.CheckMaskedInput(client_id); !status.ok()) {
    return Refuse(status, response);
  }
  std::vector<uint32_t> words = masked_buffers_.Take();
  words.resize(secure.layout().Words());
  std::vector<protocol::MutableTensorView> destination = {
      {"masked_input",
       v1::DATA_TYPE_INT32,
       {static_cast<int64_t>(words.size())},
       std::as_writable_bytes(std::span(words))}};
  absl::Status status = protocol::ReadUpdateChunks(
      opening.round(), header.update(), std::move(destination), reader, options_.upload_limits);
  if (status.ok()) {
    status = coordinator_.TryCommit(client_id, secure.round_id(),
                                    [&] { return secure.AddMaskedInput(client_id, words); });
  }
  masked_buffers_.GiveBack(std::move(words));
  if (!status.ok()) return Refuse(status, response);
  response.set_accepted(true);
  return grpc::Status::OK;
}

absl::StatusOr<std::shared_ptr<SecureRound>> Aggregator::SecureRoundFor(
    const v1::RoundReference& round) {
  if (round.run_id() != options_.run_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("this server runs '", options_.run_id, "', not '", round.run_id(), "'"));
  }
  std::lock_guard lock(round_mutex_);
  if (secure_ == nullptr || secure_->round_id() != round.round_id()) {
    return absl::FailedPreconditionError(
        absl::StrCat("round ", round.round_id(), " is not the open securely aggregated round"));
  }
  return secure_;
}

template <typename Request, typename Step>
grpc::Status Aggregator::OnSecureRound(const grpc::ServerContext& context, const Request& request,
                                       const Step& step) {
  if (grpc::Status caller = CheckCallerActsAs(context, request.client_id()); !caller.ok()) {
    return caller;
  }
  absl::StatusOr<std::shared_ptr<SecureRound>> secure = SecureRoundFor(request.round());
  if (!secure.ok()) return ToGrpc(secure.status());
  return ToGrpc(step(**secure));
}

grpc::Status Aggregator::AdvertiseKeys(grpc::ServerContext* context,
                                       const v1::AdvertiseKeysRequest* request,
                                       v1::SecureAggregationAck*) {
  return OnSecureRound(*context, *request,
                       [&](SecureRound& secure) { return secure.AdvertiseKeys(*request); });
}

grpc::Status Aggregator::GetNeighbours(grpc::ServerContext* context,
                                       const v1::SecureStepRequest* request,
                                       v1::GetNeighboursResponse* response) {
  return OnSecureRound(*context, *request, [&](SecureRound& secure) {
    return secure.GetNeighbours(request->client_id(), options_.poll_timeout, *response);
  });
}

grpc::Status Aggregator::ShareKeys(grpc::ServerContext* context,
                                   const v1::ShareKeysRequest* request, v1::SecureAggregationAck*) {
  return OnSecureRound(*context, *request,
                       [&](SecureRound& secure) { return secure.ShareKeys(*request); });
}

grpc::Status Aggregator::GetShares(grpc::ServerContext* context,
                                   const v1::SecureStepRequest* request,
                                   v1::GetSharesResponse* response) {
  return OnSecureRound(*context, *request, [&](SecureRound& secure) {
    return secure.GetShares(request->client_id(), options_.poll_timeout, *response);
  });
}

grpc::Status Aggregator::GetUnmaskRequest(grpc::ServerContext* context,
                                          const v1::SecureStepRequest* request,
                                          v1::GetUnmaskRequestResponse* response) {
  return OnSecureRound(*context, *request, [&](SecureRound& secure) {
    return secure.GetUnmaskRequest(request->client_id(), options_.poll_timeout, *response);
  });
}

grpc::Status Aggregator::RevealShares(grpc::ServerContext* context,
                                      const v1::RevealSharesRequest* request,
                                      v1::SecureAggregationAck*) {
  return OnSecureRound(*context, *request,
                       [&](SecureRound& secure) { return secure.RevealShares(*request); });
}

}  // namespace equifl::server
