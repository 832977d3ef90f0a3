#include "server/aggregator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/random.h"
#include "base/status_macros.h"
#include "protocol/fairness_wire.h"
#include "protocol/feature_moments.h"
#include "protocol/schema_agreement.h"
#include "protocol/tensor_stream.h"
#include "server/client_identity.h"
#include "server/update_bounds.h"

namespace equifl::server {
namespace {

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
         header.validation_statistics().cells_size() > 0 || header.aggregation_weight() != 0 ||
         header.feature_moments_size() > 0;
}

int64_t UnixMilliseconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

// Tells the watcher, when there is one, how long a call took once it returns, and
// for which client once the caller was allowed to act as it. Without a watcher it
// costs nothing.
class CallTimer {
 public:
  CallTimer(ServiceObserver* watcher, absl::string_view method)
      : watcher_(watcher), method_(method) {
    if (watcher_ != nullptr) started_ = std::chrono::steady_clock::now();
  }
  CallTimer(const CallTimer&) = delete;
  CallTimer& operator=(const CallTimer&) = delete;
  ~CallTimer() {
    if (watcher_ == nullptr) return;
    watcher_->OnCall(
        method_, client_id_,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  }
  void set_client_id(const std::string& client_id) {
    if (watcher_ != nullptr) client_id_ = client_id;
  }

 private:
  ServiceObserver* const watcher_;
  const absl::string_view method_;
  std::string client_id_;
  std::chrono::steady_clock::time_point started_;
};

// An upload's reader that counts the bytes of the messages it reads and tells the
// upload guard while it waits for the client.
class WatchedReader final : public grpc::ServerReaderInterface<v1::UploadUpdateRequest> {
 public:
  WatchedReader(grpc::ServerReaderInterface<v1::UploadUpdateRequest>& reader,
                UploadGuard::Watch& watch)
      : reader_(reader), watch_(watch) {}
  void SendInitialMetadata() override { reader_.SendInitialMetadata(); }
  bool NextMessageSize(uint32_t* size) override { return reader_.NextMessageSize(size); }
  bool Read(v1::UploadUpdateRequest* message) override {
    watch_.BeginRead();
    const bool read = reader_.Read(message);
    watch_.EndRead();
    if (!read) return false;
    bytes_ += message->ByteSizeLong();
    return true;
  }
  uint64_t bytes() const { return bytes_; }

 private:
  grpc::ServerReaderInterface<v1::UploadUpdateRequest>& reader_;
  UploadGuard::Watch& watch_;
  uint64_t bytes_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Aggregator>> Aggregator::Create(
    const AggregatorOptions& options, GlobalModel model, aggregation::ServerOptimizer optimizer,
    uint64_t completed_rounds, RoundObserver* observer, ServiceObserver* watcher) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  if (model.size() == 0) return absl::InvalidArgumentError("the global model has no values");
  if (optimizer.model_size() != model.size()) {
    return absl::InvalidArgumentError(absl::StrCat("the server optimiser is sized for ",
                                                   optimizer.model_size(),
                                                   " values; the model has ", model.size()));
  }
  return std::unique_ptr<Aggregator>(new Aggregator(options, std::move(model), std::move(optimizer),
                                                    completed_rounds, observer, watcher));
}

Aggregator::Aggregator(const AggregatorOptions& options, GlobalModel model,
                       aggregation::ServerOptimizer optimizer, uint64_t completed_rounds,
                       RoundObserver* observer, ServiceObserver* watcher)
    : options_(options),
      watcher_(watcher),
      update_buffers_(options.max_concurrent_uploads),
      masked_buffers_(options.max_concurrent_uploads),
      upload_guard_(options.upload_idle_timeout),
      loop_(options, std::move(model), std::move(optimizer), completed_rounds, observer) {}

absl::Status Aggregator::CheckRun(absl::string_view what, absl::string_view run_id) const {
  if (run_id == options_.run_id) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      what, " for run '", run_id, "': this server runs '", options_.run_id, "'; join again"));
}

v1::RoundReference Aggregator::Reference(uint64_t round_id) const {
  v1::RoundReference reference;
  reference.set_run_id(options_.run_id);
  reference.set_round_id(round_id);
  return reference;
}

grpc::Status Aggregator::Join(grpc::ServerContext* context, const v1::JoinRequest* request,
                              v1::JoinResponse* response) {
  CallTimer timer(watcher_, "Join");
  // A client certificate decides the id (server/client_identity.h).
  absl::StatusOr<std::string> bound = ClientIdForJoin(*context, request->requested_client_id());
  if (!bound.ok()) return ToGrpc(bound.status());
  std::string client_id = *std::move(bound);
  if (options_.data_schema && request->capabilities().has_data_schema()) {
    if (absl::Status agreement = protocol::CheckSchemaAgreement(
            *options_.data_schema, request->capabilities().data_schema());
        !agreement.ok()) {
      const std::string who = client_id.empty() ? std::string("a client") : client_id;
      spdlog::warn("refused '{}' at join: {}", who, std::string(agreement.message()));
      return ToGrpc(absl::FailedPreconditionError(
          absl::StrCat("this run cannot use your data: ", agreement.message())));
    }
  }
  if (client_id.empty()) {
    absl::MutexLock lock(&clients_mutex_);
    client_id = absl::StrCat("client-", next_client_number_++);
  }
  loop_.NoteTrainingSetSize(request->capabilities().num_train_samples());
  loop_.coordinator().Join(client_id);
  timer.set_client_id(client_id);
  if (watcher_ != nullptr) watcher_->OnClientJoined(client_id);
  spdlog::info("client '{}' joined ({} training samples)", client_id,
               request->capabilities().num_train_samples());
  response->set_run_id(options_.run_id);
  response->set_client_id(client_id);
  response->set_poll_timeout_ms(static_cast<uint32_t>(options_.poll_timeout.count()));
  return grpc::Status::OK;
}

grpc::Status Aggregator::PollTask(grpc::ServerContext* context, const v1::PollTaskRequest* request,
                                  v1::PollTaskResponse* response) {
  CallTimer timer(watcher_, "PollTask");
  if (grpc::Status caller = CheckCallerActsAs(*context, request->client_id()); !caller.ok()) {
    return caller;
  }
  timer.set_client_id(request->client_id());
  if (absl::Status run = CheckRun("poll", request->run_id()); !run.ok()) return ToGrpc(run);
  if (!loop_.coordinator().IsJoined(request->client_id())) {
    return grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("client '", request->client_id(), "' has not joined this server; join again"));
  }
  const Assignment assignment =
      loop_.coordinator().WaitForAssignment(request->client_id(), options_.poll_timeout);
  switch (assignment.kind) {
    case Assignment::Kind::kFinished:
      response->set_run_finished(true);
      break;
    case Assignment::Kind::kStopped:
      // Not finished: the client waits for a server that resumes the run.
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the aggregator is stopping; the run goes on when it is resumed");
    case Assignment::Kind::kWait:
      response->set_retry_after_ms(100);
      break;
    case Assignment::Kind::kTrain:
    case Assignment::Kind::kEvaluate:
    case Assignment::Kind::kFeatureMoments:
      FillTask(request->client_id(), assignment, *response->mutable_task());
      if (watcher_ != nullptr) watcher_->OnTaskTaken(request->client_id(), assignment.round_id);
      break;
  }
  return grpc::Status::OK;
}

grpc::Status Aggregator::PollTasks(grpc::ServerContext* context,
                                   const v1::PollTasksRequest* request,
                                   v1::PollTasksResponse* response) {
  CallTimer timer(watcher_, "PollTasks");
  for (const std::string& client_id : request->client_ids()) {
    if (grpc::Status caller = CheckCallerActsAs(*context, client_id); !caller.ok()) return caller;
  }
  if (absl::Status run = CheckRun("poll", request->run_id()); !run.ok()) return ToGrpc(run);
  constexpr int kMaxClients = 100000;
  if (request->client_ids_size() > kMaxClients) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("PollTasks lists ", request->client_ids_size(),
                                     " clients; at most ", kMaxClients, " per call"));
  }
  const std::vector<std::string> client_ids(request->client_ids().begin(),
                                            request->client_ids().end());
  for (const auto& [client_id, assignment] :
       loop_.coordinator().WaitForAssignments(client_ids, options_.poll_timeout)) {
    if (assignment.kind == Assignment::Kind::kFinished) {
      response->set_run_finished(true);
      return grpc::Status::OK;
    }
    v1::ClientTask* task = response->add_tasks();
    task->set_client_id(client_id);
    FillTask(client_id, assignment, *task->mutable_task());
    if (watcher_ != nullptr) watcher_->OnTaskTaken(client_id, assignment.round_id);
  }
  if (response->tasks().empty()) response->set_retry_after_ms(100);
  return grpc::Status::OK;
}

void Aggregator::FillTask(const std::string& client_id, const Assignment& assignment,
                          v1::Task& task) {
  *task.mutable_round() = Reference(assignment.round_id);
  switch (assignment.kind) {
    case Assignment::Kind::kEvaluate:
      task.set_kind(v1::TASK_KIND_EVALUATE);
      break;
    case Assignment::Kind::kFeatureMoments:
      task.set_kind(v1::TASK_KIND_FEATURE_MOMENTS);
      break;
    default:
      task.set_kind(v1::TASK_KIND_TRAIN);
      break;
  }
  // Round r starts from the model after round r - 1; the moments round (0) from
  // the initial model; the final evaluation from the model served when it opened
  // (with model selection, the chosen one).
  task.set_model_version(assignment.kind == Assignment::Kind::kEvaluate ? loop_.Model().version
                         : assignment.round_id > 0                      ? assignment.round_id - 1
                                                                        : 0);
  *task.mutable_hyperparameters() = options_.training;
  task.mutable_hyperparameters()->set_seed(
      random::RoundSeed(options_.training.seed(), assignment.round_id));
  task.set_upload_encoding(options_.upload_encoding);
  *task.mutable_fairness() =
      loop_.fairness().Directive(client_id, assignment.kind == Assignment::Kind::kEvaluate);
  task.set_deadline_unix_ms(UnixMilliseconds(assignment.deadline));
  const std::shared_ptr<SecureRound> secure = loop_.SecureRoundFor(assignment.round_id);
  if (secure == nullptr) return;
  const aggregation::SecureInputLayout& layout = secure->layout();
  v1::SecureAggregationTask& wire = *task.mutable_secure_aggregation();
  wire.set_selected_clients(layout.max_clients);
  wire.set_update_bound(layout.update_bound);
  wire.set_weight_bound(layout.weight_bound);
  wire.set_indicator_bound(layout.indicator_bound);
  wire.set_update_norm_bound(options_.robust_aggregation.norm_bound);
  for (const std::string& language : layout.statistics.languages) wire.add_languages(language);
  for (const std::string& view : layout.statistics.views) wire.add_views(view);
  for (const std::string& group : layout.statistics.groups) wire.add_groups(group);
  wire.set_num_classes(layout.statistics.num_classes);
  wire.set_exact_sums(static_cast<uint32_t>(layout.exact_sums));
  wire.set_noised_statistics(layout.statistics.noised);
  if (layout.statistics.noised) {
    const aggregation::ClientNoise& noise = secure->client_noise();
    v1::ClientPrivacy& client_privacy = *task.mutable_privacy();
    if (assignment.kind == Assignment::Kind::kTrain) {
      client_privacy.set_clip_norm(noise.clip_norm);
      client_privacy.set_noise_stddev(noise.noise_stddev);
      client_privacy.set_indicator_noise_stddev(noise.indicator_noise_stddev);
    }
    client_privacy.set_statistics_samples_per_view(noise.statistics.samples_per_view);
    client_privacy.set_statistics_loss_clip(noise.statistics.loss_clip);
    client_privacy.set_statistics_noise_stddev(noise.statistics_noise_stddev);
  }
}

grpc::Status Aggregator::DownloadModel(grpc::ServerContext* context,
                                       const v1::DownloadModelRequest* request,
                                       grpc::ServerWriter<v1::DownloadModelResponse>* writer) {
  CallTimer timer(watcher_, "DownloadModel");
  if (grpc::Status caller = CheckCallerActsAs(*context, request->client_id()); !caller.ok()) {
    return caller;
  }
  timer.set_client_id(request->client_id());
  if (absl::Status run = CheckRun("download", request->round().run_id()); !run.ok()) {
    return ToGrpc(run);
  }
  const ModelSnapshot model = loop_.Model();
  if (request->model_version() != model.version) {
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("model version ", request->model_version(), " is not available; run '",
                     options_.run_id, "' is at version ", model.version));
  }
  protocol::CodecOptions codec = options_.download;
  if (request->encoding() != v1::ENCODING_UNSPECIFIED) codec.encoding = request->encoding();
  absl::StatusOr<protocol::ChunkEncoder> encoder =
      protocol::ChunkEncoder::Create(model.model->Views(), codec);
  if (!encoder.ok()) return ToGrpc(encoder.status());
  return ToGrpc(protocol::WriteModelStream(request->round(), *encoder, *writer));
}

grpc::Status Aggregator::UploadUpdate(grpc::ServerContext* context,
                                      grpc::ServerReader<v1::UploadUpdateRequest>* reader,
                                      v1::UploadUpdateResponse* response) {
  CallTimer timer(watcher_, "UploadUpdate");
  const std::unique_ptr<UploadGuard::Watch> watch = upload_guard_.Start(*context);
  WatchedReader watched(*reader, *watch);
  absl::StatusOr<v1::UploadUpdateRequest> opening = protocol::ReadUpdateHeader(watched);
  if (!opening.ok()) {
    if (watcher_ != nullptr) watcher_->OnUpload("", 0, watched.bytes(), opening.status());
    return Refuse(opening.status(), *response);
  }
  const v1::UpdateHeader& header = opening->header();
  if (grpc::Status caller = CheckCallerActsAs(*context, header.client_id()); !caller.ok()) {
    // Counted as refused, against no client: the caller may not act as the one named.
    if (watcher_ != nullptr) {
      watcher_->OnUpload(
          "", opening->round().round_id(), watched.bytes(),
          absl::Status(static_cast<absl::StatusCode>(caller.error_code()), caller.error_message()));
    }
    return caller;
  }
  timer.set_client_id(header.client_id());
  absl::Status status = CheckRun("update", opening->round().run_id());
  if (status.ok()) status = watch->ClaimClient(header.client_id());
  if (status.ok()) {
    status = loop_.coordinator().CheckUpload(header.client_id(), opening->round().round_id());
  }
  if (status.ok()) {
    if (options_.secure_aggregation.enabled || header.masked_input()) {
      absl::StatusOr<std::shared_ptr<SecureRound>> secure = SecureRoundFor(opening->round());
      status = secure.ok() ? AcceptMaskedInput(*opening, **secure, watched) : secure.status();
    } else {
      status = AcceptUpdate(*opening, watched);
    }
  }
  if (!status.ok() && watch->cancelled_for_idling()) {
    status = absl::DeadlineExceededError(absl::StrCat(
        "the upload was cancelled: nothing arrived for ", options_.upload_idle_timeout.count(),
        " ms (server.upload_idle_timeout_seconds)"));
  }
  if (watcher_ != nullptr) {
    watcher_->OnUpload(header.client_id(), opening->round().round_id(), watched.bytes(), status);
  }
  if (!status.ok()) return Refuse(status, *response);
  spdlog::debug("round {}: update from '{}' accepted", opening->round().round_id(),
                header.client_id());
  response->set_accepted(true);
  return grpc::Status::OK;
}

absl::Status Aggregator::AcceptUpdate(
    const v1::UploadUpdateRequest& opening,
    grpc::ServerReaderInterface<v1::UploadUpdateRequest>& reader) {
  const v1::UpdateHeader& header = opening.header();
  const uint64_t round_id = opening.round().round_id();
  PlainInput input;
  if (loop_.coordinator().IsFeatureMomentsRound(round_id)) {
    input.feature_moments.assign(header.feature_moments().begin(), header.feature_moments().end());
    EQUIFL_RETURN_IF_ERROR(
        protocol::CheckMoments(loop_.StandardisedModalities(), input.feature_moments));
    return loop_.Contribute(round_id, {header.client_id(), std::move(input)});
  }
  // An evaluation result carries statistics only: no update follows.
  if (!loop_.coordinator().IsEvaluationRound(round_id)) {
    // Under client-level DP every update counts once: its weight must not depend on
    // the client's data.
    if (options_.privacy.enabled()) {
      input.weight = 1.0;
    } else {
      EQUIFL_ASSIGN_OR_RETURN(input.weight,
                              loop_.fairness().AggregationWeight(header.client_id(), header));
    }
    const ModelSnapshot model = loop_.Model();
    input.update = update_buffers_.Take();
    input.update.values().resize(model.model->size());
    // Non-finite values are refused while each chunk is in cache, so the batched
    // fold never meets one.
    protocol::DecoderLimits limits = options_.upload_limits;
    limits.require_finite = true;
    EQUIFL_RETURN_IF_ERROR(protocol::ReadUpdateChunks(
        opening.round(), header.update(), model.model->MutableViewsOver(input.update.values()),
        reader, limits));
    // Trusted-aggregator DP: the server clips, and counts the updates within the
    // norm for adaptive clipping.
    input.within_clip_norm =
        loop_.privacy().enabled() && loop_.privacy().Clip(input.update.values());
    input.train_samples = header.num_train_samples();
  }
  // In an evaluation round the training statistics' place carries the validation
  // split's, for calibration (the round loop keeps them out of the training columns).
  EQUIFL_ASSIGN_OR_RETURN(input.train, protocol::StatisticsFromProto(header.train_statistics()));
  EQUIFL_RETURN_IF_ERROR(CheckClientStatistics(input.train, "training"));
  EQUIFL_ASSIGN_OR_RETURN(input.validation,
                          protocol::StatisticsFromProto(header.validation_statistics()));
  EQUIFL_RETURN_IF_ERROR(CheckClientStatistics(input.validation, "validation"));
  return loop_.Contribute(round_id, {header.client_id(), std::move(input)});
}

absl::Status Aggregator::AcceptMaskedInput(
    const v1::UploadUpdateRequest& opening, SecureRound& secure,
    grpc::ServerReaderInterface<v1::UploadUpdateRequest>& reader) {
  const v1::UpdateHeader& header = opening.header();
  const std::string& client_id = header.client_id();
  if (!header.masked_input()) {
    return absl::FailedPreconditionError(
        absl::StrCat("round ", secure.round_id(),
                     " is securely aggregated: send a masked input, not the update itself"));
  }
  if (HasStatistics(header)) {
    return absl::InvalidArgumentError(
        "a masked input must not carry plaintext statistics or weights: they ride inside the "
        "masked vector");
  }
  EQUIFL_RETURN_IF_ERROR(secure.CheckMaskedInput(client_id));
  ScratchPool<uint32_t>::Buffer words = masked_buffers_.Take();
  words.values().resize(secure.layout().Words());
  std::vector<protocol::MutableTensorView> destination = {
      {"masked_input",
       v1::DATA_TYPE_INT32,
       {static_cast<int64_t>(words.values().size())},
       std::as_writable_bytes(std::span(words.values()))}};
  EQUIFL_RETURN_IF_ERROR(protocol::ReadUpdateChunks(
      opening.round(), header.update(), std::move(destination), reader, options_.upload_limits));
  return loop_.Contribute(secure.round_id(), {client_id, MaskedInput{words.values()}});
}

absl::StatusOr<std::shared_ptr<SecureRound>> Aggregator::SecureRoundFor(
    const v1::RoundReference& round) {
  EQUIFL_RETURN_IF_ERROR(CheckRun("secure aggregation step", round.run_id()));
  std::shared_ptr<SecureRound> secure = loop_.SecureRoundFor(round.round_id());
  if (secure == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("round ", round.round_id(), " is not the open securely aggregated round"));
  }
  return secure;
}

template <typename Request, typename Step>
grpc::Status Aggregator::OnSecureRound(absl::string_view method, const grpc::ServerContext& context,
                                       const Request& request, const Step& step) {
  CallTimer timer(watcher_, method);
  if (grpc::Status caller = CheckCallerActsAs(context, request.client_id()); !caller.ok()) {
    return caller;
  }
  timer.set_client_id(request.client_id());
  absl::StatusOr<std::shared_ptr<SecureRound>> secure = SecureRoundFor(request.round());
  if (!secure.ok()) return ToGrpc(secure.status());
  return ToGrpc(step(**secure));
}

grpc::Status Aggregator::AdvertiseKeys(grpc::ServerContext* context,
                                       const v1::AdvertiseKeysRequest* request,
                                       v1::SecureAggregationAck*) {
  return OnSecureRound("AdvertiseKeys", *context, *request,
                       [&](SecureRound& secure) { return secure.AdvertiseKeys(*request); });
}

grpc::Status Aggregator::GetNeighbours(grpc::ServerContext* context,
                                       const v1::SecureStepRequest* request,
                                       v1::GetNeighboursResponse* response) {
  return OnSecureRound("GetNeighbours", *context, *request, [&](SecureRound& secure) {
    return secure.GetNeighbours(request->client_id(), options_.poll_timeout, *response);
  });
}

grpc::Status Aggregator::ShareKeys(grpc::ServerContext* context,
                                   const v1::ShareKeysRequest* request, v1::SecureAggregationAck*) {
  return OnSecureRound("ShareKeys", *context, *request,
                       [&](SecureRound& secure) { return secure.ShareKeys(*request); });
}

grpc::Status Aggregator::GetShares(grpc::ServerContext* context,
                                   const v1::SecureStepRequest* request,
                                   v1::GetSharesResponse* response) {
  return OnSecureRound("GetShares", *context, *request, [&](SecureRound& secure) {
    return secure.GetShares(request->client_id(), options_.poll_timeout, *response);
  });
}

grpc::Status Aggregator::GetUnmaskRequest(grpc::ServerContext* context,
                                          const v1::SecureStepRequest* request,
                                          v1::GetUnmaskRequestResponse* response) {
  return OnSecureRound("GetUnmaskRequest", *context, *request, [&](SecureRound& secure) {
    return secure.GetUnmaskRequest(request->client_id(), options_.poll_timeout, *response);
  });
}

grpc::Status Aggregator::RevealShares(grpc::ServerContext* context,
                                      const v1::RevealSharesRequest* request,
                                      v1::SecureAggregationAck*) {
  return OnSecureRound("RevealShares", *context, *request,
                       [&](SecureRound& secure) { return secure.RevealShares(*request); });
}

}  // namespace equifl::server
