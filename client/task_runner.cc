#include "client/task_runner.h"

#include <ATen/ATen.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/device.h"
#include "base/status_macros.h"
#include "client/decision_offset_views.h"
#include "client/fairness_weights.h"
#include "client/model/input_standardisation.h"
#include "client/model/model_state.h"
#include "client/secure_round_client.h"
#include "client/selection_split.h"
#include "client/temperature_views.h"
#include "fairness/baselines.h"
#include "fairness/calibration.h"
#include "fairness/decision_offsets.h"
#include "fairness/model_selection.h"
#include "protocol/fairness_wire.h"
#include "protocol/tensor_stream.h"

namespace equifl::client {

bool IsLostServer(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::NOT_FOUND:
      return true;
    default:
      return false;
  }
}

absl::Status FromGrpc(const grpc::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  const auto code = IsLostServer(status) ? absl::StatusCode::kUnavailable
                                         : static_cast<absl::StatusCode>(status.error_code());
  return absl::Status(code, absl::StrCat(what, ": ", status.error_message()));
}

namespace {

using fairness::kFusionView;

// The sums of `groups` in modality view `view`, named after the shard's lists.
fairness::StatisticsTable Named(const GroupSums& groups, const FederatedClientOptions& options,
                                const std::string& view) {
  return NamedStatistics(groups, options.languages, options.groups, view);
}

// Whether `view` names one of the model's modalities (a single-modality view).
bool IsModalityOf(const MultimodalModel& model, const std::string& view) {
  const auto& modalities = model->options().modalities;
  return std::any_of(modalities.begin(), modalities.end(),
                     [&](const auto& modality) { return modality.name == view; });
}

// Evaluates `model` on `all` in the fusion view and every other view the
// directive names (views of modalities the model lacks are skipped; temperature
// and offset views come from the fusion view's probabilities) into `statistics`;
// returns the fusion view's result. A selection view (fairness/model_selection.h) takes its
// share of `all` aside: the fused model on those samples is that view, and every
// other view is of the rest.
absl::StatusOr<EvaluationResult> EvaluateViews(MultimodalModel& model, const Dataset& all,
                                               const v1::FairnessDirective& directive,
                                               const FederatedClientOptions& options,
                                               fairness::StatisticsTable& statistics) {
  Dataset rest;
  const Dataset* dataset = &all;
  fairness::StatisticsTable selection;
  for (const std::string& view : directive.views()) {
    const std::optional<double> share = fairness::SelectionShareOfView(view);
    if (!share) continue;
    const SelectionIndices split = SplitForSelection(all, *share);
    const at::Device device = all.label.device();
    EQUIFL_ASSIGN_OR_RETURN(EvaluationResult selected,
                            Evaluate(model, all.Select(split.selection.to(device))));
    selection = Named(selected.groups, options, view);
    rest = all.Select(split.validation.to(device));
    dataset = &rest;
  }
  EQUIFL_ASSIGN_OR_RETURN(EvaluationResult fusion, Evaluate(model, *dataset));
  statistics = Named(fusion.groups, options, kFusionView);
  statistics.merge(selection);
  for (const std::string& view : directive.views()) {
    if (const std::optional<double> temperature = fairness::TemperatureOfView(view)) {
      statistics.merge(TemperatureViewStatistics(fusion, *dataset, *temperature, view,
                                                 options.languages, options.groups));
      continue;
    }
    if (const std::optional<fairness::ViewOffset> offset = fairness::OffsetOfView(view)) {
      statistics.merge(DecisionOffsetViewStatistics(fusion, *dataset, offset->positive_class,
                                                    offset->offset, view, options.languages,
                                                    options.groups));
      continue;
    }
    if (view == kFusionView || !IsModalityOf(model, view)) continue;
    EQUIFL_ASSIGN_OR_RETURN(EvaluationResult result,
                            Evaluate(model, *dataset, ModalityView::Only(view)));
    statistics.merge(Named(result.groups, options, view));
  }
  return fusion;
}

TrainerOptions WithTask(TrainerOptions trainer, const v1::TrainingHyperparameters& task) {
  if (task.local_epochs() > 0 || task.local_steps() > 0) {
    trainer.epochs = task.local_epochs();
    trainer.steps = task.local_steps();
  }
  if (task.batch_size() > 0) trainer.batch_size = task.batch_size();
  if (task.learning_rate() > 0) trainer.learning_rate = task.learning_rate();
  if (!task.optimizer().empty()) {
    if (absl::StatusOr<OptimizerKind> kind = ParseOptimizerKind(task.optimizer()); kind.ok()) {
      trainer.optimizer = *kind;
    }
  }
  trainer.weight_decay = task.weight_decay() > 0 ? task.weight_decay() : trainer.weight_decay;
  trainer.proximal_mu = task.proximal_mu();
  trainer.modality_dropout = task.modality_dropout();
  trainer.seed = task.seed();
  return trainer;
}

// What the fairness method changes in a round's local training.
struct FairTraining {
  at::Tensor sample_weights;  //!< Per-sample loss weights; undefined for plain ERM.
  at::Tensor draw_weights;    //!< Group DRO where its cap binds: how often samples are drawn.
  //! ERM-MinMaxGAP's weights of single-modality cells, each an extra loss term.
  std::vector<ViewLossWeights> view_weights;
  //! Sent when > 0: ERM-MinMaxGAP's n_k·exp(β·s_k), group DRO's sum of capped weights.
  double aggregation_weight = 0;
  double loss_at_global = 0;  //!< q-FedAvg's F_k: training loss of the global model.
};

absl::StatusOr<FairTraining> PrepareFairTraining(MultimodalModel& model, const Dataset& train,
                                                 const v1::FairnessDirective& directive,
                                                 const TrainerOptions& trainer,
                                                 const FederatedClientOptions& options) {
  FairTraining fair;
  switch (directive.method()) {
    case v1::FAIRNESS_METHOD_MINMAX_GAP:
    case v1::FAIRNESS_METHOD_FEDMINMAX: {
      const fairness::FairnessDirective weights = protocol::DirectiveFromProto(directive);
      if (weights.weights.empty()) break;
      const at::Tensor directive_weights =
          DirectiveSampleWeights(weights, train, options.languages, options.groups, kFusionView);
      fair.sample_weights = (directive_weights + 1).to(at::kFloat);
      if (directive.method() == v1::FAIRNESS_METHOD_MINMAX_GAP) {
        for (const std::string& view : directive.views()) {
          if (view == kFusionView || !IsModalityOf(model, view)) continue;
          at::Tensor view_weights =
              DirectiveSampleWeights(weights, train, options.languages, options.groups, view);
          if (view_weights.count_nonzero().item<int64_t>() == 0) continue;
          fair.view_weights.push_back({ModalityView::Only(view), view_weights.to(at::kFloat)});
        }
        const double* data = directive_weights.data_ptr<double>();
        const double score = fairness::CoverageScore(
            weights, std::vector<double>(data, data + directive_weights.numel()));
        fair.aggregation_weight =
            static_cast<double>(train.size()) * std::exp(weights.aggregation_beta * score);
      }
      break;
    }
    case v1::FAIRNESS_METHOD_GROUP_DRO:
    case v1::FAIRNESS_METHOD_FIXED_WEIGHTS: {
      const fairness::FairnessDirective weights = protocol::DirectiveFromProto(directive);
      if (weights.weights.empty()) break;
      CappedSampleWeights capped = CapAndRenormalise(
          DirectiveSampleWeights(weights, train, options.languages, options.groups, kFusionView) +
              1,
          weights.sample_weight_cap);
      fair.sample_weights = std::move(capped.loss_weights);
      fair.draw_weights = std::move(capped.draw_weights);
      fair.aggregation_weight = capped.total;
      break;
    }
    case v1::FAIRNESS_METHOD_BALANCED:
      fair.sample_weights = BalancedSampleWeights(train);
      break;
    case v1::FAIRNESS_METHOD_Q_FEDAVG: {
      EQUIFL_ASSIGN_OR_RETURN(EvaluationResult at_global,
                              Evaluate(model, train, ModalityView::All(), trainer.batch_size));
      fair.loss_at_global = at_global.mean_loss;
      break;
    }
    default:
      break;
  }
  return fair;
}

// Downloads the task's model into `global` (CPU tensors of the model's state) and
// loads it into the model; `order` receives the server's order of the tensors.
absl::Status Download(v1::Aggregator::StubInterface& stub, const ClientIdentity& identity,
                      const v1::Task& task, MultimodalModel& model,
                      std::vector<protocol::NamedTensor>& global, std::vector<std::string>& order) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  v1::DownloadModelRequest request;
  *request.mutable_round() = task.round();
  request.set_client_id(identity.client_id);
  request.set_model_version(task.model_version());
  auto reader = stub.DownloadModel(&context, request);
  absl::StatusOr<v1::TensorManifest> manifest = protocol::ReadModelStream(
      task.round(), *reader,
      [&](const v1::TensorManifest&) { return protocol::MutableViewsOf(global); });
  if (!manifest.ok()) context.TryCancel();
  const grpc::Status finished = reader->Finish();
  EQUIFL_RETURN_IF_ERROR(FromGrpc(finished, "downloading the global model"));
  EQUIFL_RETURN_IF_ERROR(manifest.status());
  order.clear();
  for (const v1::TensorSpec& tensor : manifest->tensors()) order.push_back(tensor.name());
  return LoadState(*model, global);
}

// The update's values back to back in the server's order of its tensors (the
// masked vector is positional).
absl::StatusOr<std::vector<float>> Flatten(const std::vector<protocol::NamedTensor>& update,
                                           const std::vector<std::string>& order) {
  std::vector<float> flat;
  for (const std::string& name : order) {
    const auto tensor =
        std::find_if(update.begin(), update.end(),
                     [&](const protocol::NamedTensor& t) { return t.name == name; });
    if (tensor == update.end() || tensor->tensor.scalar_type() != at::kFloat) {
      return absl::InvalidArgumentError(
          absl::StrCat("the global model's tensor '", name, "' is not a float32 tensor here"));
    }
    const float* values = tensor->tensor.data_ptr<float>();
    flat.insert(flat.end(), values, values + tensor->tensor.numel());
  }
  return flat;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// What a task reports besides the update: the plain upload's header carries it,
// the secure vector carries it masked.
struct TaskReport {
  v1::UpdateHeader header;  //!< Everything but the statistics, which follow.
  fairness::StatisticsTable train;
  fairness::StatisticsTable validation;
  std::vector<double> feature_moments;  //!< A feature-moments task's moments.
};

// The secure vector's plaintext of a task, from what the plain upload would send.
absl::Status UploadSecurely(v1::Aggregator::StubInterface& stub, const v1::Task& task,
                            const FederatedClientOptions& options, TaskReport report,
                            std::vector<float> update, SecureRoundClient& secure) {
  const v1::UpdateHeader& header = report.header;
  aggregation::SecureInput input;
  input.weight = header.aggregation_weight() > 0
                     ? header.aggregation_weight()
                     : static_cast<double>(std::max<uint64_t>(header.num_train_samples(), 1));
  input.train_samples = header.num_train_samples();
  input.exact_sums = report.feature_moments;
  if (task.kind() == v1::TASK_KIND_FEATURE_MOMENTS) input.weight = 1;  // no update to weigh
  if (task.privacy().clip_norm() > 0) {
    // Client-level DP: clipped and noised here, every client weighs 1.
    EQUIFL_ASSIGN_OR_RETURN(input.clip_indicator, ApplyClientPrivacy(task.privacy(), update));
    input.weight = 1;
  }
  std::vector<double> noised_statistics;
  if (secure.layout().statistics.noised) {
    // Client-level DP covers the statistics too: bounded and noised here, and the
    // weight 1 lets the server count the contributors' shares of the noise.
    EQUIFL_ASSIGN_OR_RETURN(noised_statistics,
                            aggregation::NoiseClientStatistics(
                                ClientNoiseOf(task.privacy()), secure.layout().statistics,
                                std::move(report.train), std::move(report.validation)));
    input.noised_statistics = noised_statistics;
    input.weight = 1;
  } else {
    input.train = std::move(report.train);
    input.validation = std::move(report.validation);
  }
  input.update = update;
  EQUIFL_ASSIGN_OR_RETURN(const Device device,
                          ParseDevice("trainer device", options.trainer.device));
  return secure.UploadMaskedInput(stub, input, options.upload.max_chunk_bytes, options.mask_threads,
                                  device.is_cuda());
}

absl::Status Upload(v1::Aggregator::StubInterface& stub, const ClientIdentity& identity,
                    const v1::Task& task, const FederatedClientOptions& options, TaskReport report,
                    const std::vector<protocol::TensorView>& update) {
  protocol::CodecOptions codec = options.upload;
  codec.encoding = task.upload_encoding() == v1::ENCODING_UNSPECIFIED ? v1::ENCODING_FLOAT32
                                                                      : task.upload_encoding();
  EQUIFL_ASSIGN_OR_RETURN(protocol::ChunkEncoder encoder,
                          protocol::ChunkEncoder::Create(update, codec));
  v1::UpdateHeader& header = report.header;
  header.set_client_id(identity.client_id);
  *header.mutable_train_statistics() = protocol::StatisticsToProto(report.train);
  *header.mutable_validation_statistics() = protocol::StatisticsToProto(report.validation);
  header.mutable_feature_moments()->Assign(report.feature_moments.begin(),
                                           report.feature_moments.end());
  return UploadStream(stub, task.round(), std::move(header), encoder, "the update");
}

}  // namespace

absl::Status UploadStream(v1::Aggregator::StubInterface& stub, const v1::RoundReference& round,
                          v1::UpdateHeader header, protocol::ChunkEncoder& encoder,
                          absl::string_view what) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  v1::UploadUpdateResponse response;
  auto writer = stub.UploadUpdate(&context, &response);
  const absl::Status written =
      protocol::WriteUpdateStream(round, std::move(header), encoder, *writer);
  writer->WritesDone();
  EQUIFL_RETURN_IF_ERROR(FromGrpc(writer->Finish(), absl::StrCat("uploading ", what)));
  if (!response.accepted()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the server refused ", what, ": ", response.message()));
  }
  return written;
}

absl::StatusOr<TaskOutcome> RunTask(v1::Aggregator::StubInterface& stub,
                                    const ClientIdentity& identity, const v1::Task& task,
                                    MultimodalModel& model, const ClientDatasets& data,
                                    const FederatedClientOptions& options,
                                    std::vector<protocol::NamedTensor>& global,
                                    SecureRoundClient* secure) {
  if (task.has_secure_aggregation() && secure == nullptr) {
    return absl::InvalidArgumentError(
        "the task is securely aggregated but the client set up no secure round");
  }
  TaskOutcome outcome;
  // A server that restarted, or a round that closed before the update arrived,
  // drops this round for this client; the run goes on.
  const auto not_counted = [&](const absl::Status& status) -> absl::StatusOr<TaskOutcome> {
    if (!absl::IsUnavailable(status) && !absl::IsFailedPrecondition(status)) return status;
    outcome.not_counted = std::string(status.message());
    return outcome;
  };
  const auto upload = [&](TaskReport report, std::vector<float> flat,
                          const std::vector<protocol::TensorView>& views) {
    const auto upload_started = std::chrono::steady_clock::now();
    const absl::Status status =
        secure != nullptr
            ? UploadSecurely(stub, task, options, std::move(report), std::move(flat), *secure)
            : Upload(stub, identity, task, options, std::move(report), views);
    if (!status.ok()) return not_counted(status);
    outcome.upload_seconds = SecondsSince(upload_started);
    outcome.counted = true;
    return absl::StatusOr<TaskOutcome>(outcome);
  };
  const uint64_t round = task.round().round_id();
  if (task.kind() == v1::TASK_KIND_FEATURE_MOMENTS) {
    // Sums over the training split only: no model to download, nothing trained.
    TaskReport report;
    EQUIFL_ASSIGN_OR_RETURN(report.feature_moments,
                            MeasureFeatureMoments(model->options(), data.train));
    report.header.set_num_train_samples(static_cast<uint64_t>(data.train.size()));
    outcome.feature_moments = true;
    spdlog::debug("round {}: uploading the feature moments", round);
    return upload(std::move(report), {}, {});
  }
  spdlog::debug("round {}: downloading the model", round);
  std::vector<std::string> order;
  if (absl::Status status = Download(stub, identity, task, model, global, order); !status.ok()) {
    if (!absl::IsUnavailable(status)) return status;
    return not_counted(status);
  }
  TaskReport report;
  v1::UpdateHeader& header = report.header;
  header.set_model_version(task.model_version());

  const v1::FairnessDirective& directive = task.fairness();
  if (task.kind() == v1::TASK_KIND_EVALUATE) {
    EQUIFL_ASSIGN_OR_RETURN(EvaluationResult result,
                            EvaluateViews(model, data.test, directive, options, report.validation));
    if (directive.calibrate()) {
      // The evaluated model's validation statistics, in the training statistics'
      // place (an evaluation trains nothing): the server fits calibration on them.
      EQUIFL_RETURN_IF_ERROR(
          EvaluateViews(model, data.validation, directive, options, report.train).status());
    }
    outcome.evaluated = true;
    outcome.accuracy = result.accuracy;
    outcome.loss = result.mean_loss;
    return upload(std::move(report), {}, {});
  }

  EQUIFL_ASSIGN_OR_RETURN(EvaluationResult before, EvaluateViews(model, data.validation, directive,
                                                                 options, report.validation));
  outcome.accuracy = before.accuracy;
  const TrainerOptions trainer = WithTask(options.trainer, task.hyperparameters());
  EQUIFL_ASSIGN_OR_RETURN(FairTraining fair,
                          PrepareFairTraining(model, data.train, directive, trainer, options));
  spdlog::debug("round {}: training", round);
  const auto train_started = std::chrono::steady_clock::now();
  EQUIFL_ASSIGN_OR_RETURN(
      TrainResult trained,
      Train(model, data.train, trainer, fair.sample_weights, fair.view_weights, fair.draw_weights));
  outcome.train_seconds = SecondsSince(train_started);
  outcome.train_samples = trained.samples_seen;
  report.train = Named(trained.groups, options, kFusionView);
  header.set_num_train_samples(static_cast<uint64_t>(trained.samples));
  header.set_num_steps(static_cast<uint64_t>(trained.steps));
  if (fair.aggregation_weight > 0) header.set_aggregation_weight(fair.aggregation_weight);
  outcome.loss = trained.mean_loss;
  outcome.steps = trained.steps;

  // The update is the change the round made: local model minus global model.
  EQUIFL_ASSIGN_OR_RETURN(std::vector<protocol::NamedTensor> local,
                          protocol::ToContiguousCpu(ExportState(*model)));
  for (size_t i = 0; i < local.size(); ++i) local[i].tensor.sub_(global[i].tensor);
  if (directive.method() == v1::FAIRNESS_METHOD_Q_FEDAVG) {
    double squared_norm = 0;
    for (const protocol::NamedTensor& tensor : local) {
      if (tensor.tensor.is_floating_point()) {
        squared_norm += tensor.tensor.to(at::kDouble).square().sum().item<double>();
      }
    }
    const fairness::QFedAvgScaling scaling = fairness::ComputeQFedAvgScaling(
        fair.loss_at_global, squared_norm, directive.q(), trainer.learning_rate);
    for (protocol::NamedTensor& tensor : local) {
      if (tensor.tensor.is_floating_point()) tensor.tensor.mul_(scaling.update_scale);
    }
    header.set_aggregation_weight(scaling.weight);
  }
  spdlog::debug("round {}: uploading the update", round);
  if (secure != nullptr) {
    EQUIFL_ASSIGN_OR_RETURN(std::vector<float> flat, Flatten(local, order));
    return upload(std::move(report), std::move(flat), {});
  }
  EQUIFL_ASSIGN_OR_RETURN(std::vector<protocol::TensorView> update, protocol::ViewsOf(local));
  return upload(std::move(report), {}, update);
}

}  // namespace equifl::client
