#include "client/local_trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "base/device.h"
#include "base/status_macros.h"
#include "client/model/multimodal_model.h"
#include "client/model/torch_device.h"
#include "protocol/torch/torch_status.h"

namespace equifl::client {
namespace {

namespace F = torch::nn::functional;

//! Turns on CUDA autocast (bfloat16, which needs no loss scaling) for its scope;
//! does nothing when constructed with false.
class CudaAutocastScope {
 public:
  explicit CudaAutocastScope(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    previous_enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
    previous_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    previous_enabled_ = at::autocast::is_enabled();
    previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
#endif
    at::autocast::increment_nesting();
  }

  ~CudaAutocastScope() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, previous_enabled_);
    at::autocast::set_autocast_dtype(at::kCUDA, previous_dtype_);
#else
    at::autocast::set_enabled(previous_enabled_);
    at::autocast::set_autocast_gpu_dtype(previous_dtype_);
#endif
  }

  CudaAutocastScope(const CudaAutocastScope&) = delete;
  CudaAutocastScope& operator=(const CudaAutocastScope&) = delete;

 private:
  bool enabled_;
  bool previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kHalf;
};

//! `dataset` with every tensor on `device`.
Dataset MoveTo(const Dataset& dataset, const at::Device& device) {
  Dataset moved;
  for (const ModalityFeatures& modality : dataset.modalities) {
    moved.modalities.push_back(
        {modality.name, modality.values.to(device),
         modality.lengths.defined() ? modality.lengths.to(device) : at::Tensor()});
  }
  moved.present = dataset.present.to(device);
  moved.label = dataset.label.to(device);
  moved.group = dataset.group.to(device);
  moved.language = dataset.language.to(device);
  return moved;
}

//! Checks that the model can read `dataset` and that its label, group and
//! language values are in range.
absl::Status CheckData(const MultimodalModelImpl& model, const Dataset& dataset) {
  EQUIFL_RETURN_IF_ERROR(model.CheckBatch(dataset));
  if (dataset.size() == 0) return absl::OkStatus();
  const ModelOptions& options = model.options();
  struct Column {
    const at::Tensor* values;
    const char* name;
    int64_t limit;  // Exclusive upper bound; 0 for none.
  };
  for (const Column& column :
       {Column{&dataset.label, "label", options.num_classes},
        Column{&dataset.group, "group", options.adversary ? options.num_groups : 0},
        Column{&dataset.language, "language", 0}}) {
    const int64_t low = column.values->min().item<int64_t>();
    const int64_t high = column.values->max().item<int64_t>();
    if (low < 0 || (column.limit > 0 && high >= column.limit)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "dataset column '", column.name, "' holds values from ", low, " to ", high,
          "; allowed: 0 to ", column.limit > 0 ? absl::StrCat(column.limit - 1) : "any"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckWeights(const at::Tensor& weights, int64_t samples) {
  if (!weights.defined()) return absl::OkStatus();
  if (!weights.is_floating_point() || weights.dim() != 1 || weights.size(0) != samples) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sample weights must be floating point [", samples, "]; they are ",
        std::string(c10::toString(weights.scalar_type())), " ", c10::str(weights.sizes())));
  }
  if (samples > 0 && !weights.isfinite().all().item<bool>()) {
    return absl::InvalidArgumentError("sample weights must be finite");
  }
  return absl::OkStatus();
}

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const TrainerOptions& options,
                                                       std::vector<at::Tensor> parameters) {
  switch (options.optimizer) {
    case OptimizerKind::kAdam:
      return std::make_unique<torch::optim::Adam>(
          parameters,
          torch::optim::AdamOptions(options.learning_rate).weight_decay(options.weight_decay));
    case OptimizerKind::kAdamW:
      return std::make_unique<torch::optim::AdamW>(
          parameters,
          torch::optim::AdamWOptions(options.learning_rate).weight_decay(options.weight_decay));
    case OptimizerKind::kSgd:
      break;
  }
  return std::make_unique<torch::optim::SGD>(parameters,
                                             torch::optim::SGDOptions(options.learning_rate)
                                                 .momentum(options.momentum)
                                                 .weight_decay(options.weight_decay));
}

//! Adds a batch's per-sample results to `accumulator`; returns the batch's loss sum.
double Accumulate(const at::Tensor& losses, const at::Tensor& logits, const Dataset& batch,
                  GroupStatisticsAccumulator& accumulator, at::Tensor* cpu_losses = nullptr,
                  at::Tensor* cpu_predictions = nullptr) {
  const at::Tensor loss = losses.detach().to(at::kCPU, at::kDouble).contiguous();
  const at::Tensor prediction = logits.detach().argmax(1).to(at::kCPU).contiguous();
  AddSamples(loss, prediction, batch, accumulator);
  const double* loss_data = loss.data_ptr<double>();
  double sum = 0;
  for (int64_t i = 0; i < loss.size(0); ++i) sum += loss_data[i];
  if (cpu_losses != nullptr) *cpu_losses = loss;
  if (cpu_predictions != nullptr) *cpu_predictions = prediction;
  return sum;
}

//! mean_i(weights_i · per_sample_i), or the plain mean without weights.
at::Tensor WeightedMean(const at::Tensor& per_sample, const at::Tensor& weights) {
  return weights.defined() ? (per_sample * weights).mean() : per_sample.mean();
}

//! Hides each present modality of each row of `present` (bool [B, M], CPU) with
//! probability `p`, keeping rows that would lose every modality as they were.
at::Tensor DropModalities(const at::Tensor& present, double p, at::Generator& generator) {
  const at::Tensor kept =
      present.logical_and(torch::rand(present.sizes(), generator, torch::kFloat) >= p);
  return torch::where(kept.any(1, /*keepdim=*/true), kept, present);
}

absl::StatusOr<TrainResult> TrainOrThrow(MultimodalModel& model, const Dataset& dataset,
                                         const TrainerOptions& options,
                                         const at::Tensor& sample_weights,
                                         const std::vector<ViewLossWeights>& view_weights,
                                         const at::Tensor& draw_weights, const at::Device& device) {
  const int64_t samples = dataset.size();
  const int64_t batches_per_epoch = (samples + options.batch_size - 1) / options.batch_size;
  const int64_t total_steps =
      options.epochs > 0 ? options.epochs * batches_per_epoch : options.steps;

  torch::manual_seed(options.seed);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  model->to(device);
  model->train();
  std::vector<at::Tensor> parameters = model->parameters();
  std::vector<at::Tensor> anchors;
  if (options.proximal_mu > 0) {
    torch::NoGradGuard no_grad;
    for (const at::Tensor& parameter : parameters) anchors.push_back(parameter.detach().clone());
  }
  std::unique_ptr<torch::optim::Optimizer> optimizer = MakeOptimizer(options, parameters);
  const at::Tensor weights =
      sample_weights.defined() ? sample_weights.to(device, at::kFloat) : at::Tensor();
  std::vector<at::Tensor> view_weight_tensors;
  for (const ViewLossWeights& term : view_weights) {
    view_weight_tensors.push_back(term.weights.to(device, at::kFloat));
  }
  const bool autocast = options.mixed_precision && device.is_cuda();
  const at::Device data_device = dataset.label.device();

  GroupStatisticsAccumulator accumulator(model->options().num_classes);
  TrainResult result;
  result.samples = samples;
  double loss_sum = 0;
  while (result.steps < total_steps) {
    const at::Tensor order = draw_weights.defined()
                                 ? at::multinomial(draw_weights.to(at::kCPU, at::kFloat), samples,
                                                   /*replacement=*/true, generator)
                                 : torch::randperm(samples, generator, torch::kLong);
    for (int64_t start = 0; start < samples && result.steps < total_steps;
         start += options.batch_size) {
      const int64_t end = std::min(samples, start + options.batch_size);
      const at::Tensor indices = order.slice(0, start, end);
      Dataset batch = dataset.Select(indices.to(data_device));
      if (options.modality_dropout > 0) {
        batch.present =
            DropModalities(batch.present.to(at::kCPU), options.modality_dropout, generator);
      }
      batch = MoveTo(batch, device);

      const double learning_rate = LearningRateAt(options, result.steps, total_steps);
      for (torch::optim::OptimizerParamGroup& group : optimizer->param_groups()) {
        group.options().set_lr(learning_rate);
      }
      at::Tensor per_sample;
      at::Tensor logits;
      at::Tensor loss;
      {
        CudaAutocastScope autocast_scope(autocast);
        const ModelOutput output = model->forward(batch);
        logits = output.logits.detach();
        per_sample = F::cross_entropy(output.logits.to(at::kFloat), batch.label,
                                      F::CrossEntropyFuncOptions().reduction(torch::kNone));
        loss =
            WeightedMean(per_sample, weights.defined() ? weights.index_select(0, indices.to(device))
                                                       : at::Tensor());
        for (size_t v = 0; v < view_weights.size(); ++v) {
          const ModelOutput view_output = model->forward(batch, view_weights[v].view);
          loss =
              loss + WeightedTaskLoss(view_output.logits, batch.label,
                                      view_weight_tensors[v].index_select(0, indices.to(device)));
        }
        if (output.group_logits.defined()) {
          loss = loss + F::cross_entropy(output.group_logits.to(at::kFloat), batch.group);
        }
      }
      if (options.proximal_mu > 0) {
        loss = loss + ProximalTerm(parameters, anchors, options.proximal_mu);
      }
      optimizer->zero_grad();
      loss.backward();
      if (options.max_grad_norm > 0) {
        torch::nn::utils::clip_grad_norm_(parameters, options.max_grad_norm);
      }
      optimizer->step();

      const double batch_loss = Accumulate(per_sample, logits, batch, accumulator);
      if (!std::isfinite(batch_loss)) {
        return absl::InternalError(absl::StrCat("local training diverged: the task loss is ",
                                                batch_loss, " at step ", result.steps));
      }
      loss_sum += batch_loss;
      result.samples_seen += end - start;
      ++result.steps;
    }
  }
  result.mean_loss = result.samples_seen > 0 ? loss_sum / result.samples_seen : 0.0;
  result.groups = accumulator.Report();
  return result;
}

//! Puts a module in eval mode for its scope, then back in the mode it found.
class EvalModeScope {
 public:
  explicit EvalModeScope(torch::nn::Module& module)
      : module_(module), was_training_(module.is_training()) {
    module_.eval();
  }
  ~EvalModeScope() { module_.train(was_training_); }
  EvalModeScope(const EvalModeScope&) = delete;
  EvalModeScope& operator=(const EvalModeScope&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
};

absl::StatusOr<EvaluationResult> EvaluateOrThrow(
    MultimodalModel& model, const Dataset& dataset, const ModalityView& view, int64_t batch_size,
    const std::function<void(int64_t samples)>& on_batch) {
  EvalModeScope eval_mode(*model);
  torch::NoGradGuard no_grad;
  const at::Device device = model->device();
  const at::Device data_device = dataset.label.device();
  const int64_t samples = dataset.size();

  GroupStatisticsAccumulator accumulator(model->options().num_classes);
  std::vector<at::Tensor> losses;
  std::vector<at::Tensor> predictions;
  std::vector<at::Tensor> probabilities;
  EvaluationResult result;
  double loss_sum = 0;
  for (int64_t start = 0; start < samples; start += batch_size) {
    const int64_t end = std::min(samples, start + batch_size);
    const Dataset batch = MoveTo(
        dataset.Select(torch::arange(start, end, torch::dtype(at::kLong).device(data_device))),
        device);
    const ModelOutput output = model->forward(batch, view);
    const at::Tensor per_sample =
        F::cross_entropy(output.logits.to(at::kFloat), batch.label,
                         F::CrossEntropyFuncOptions().reduction(torch::kNone));
    losses.emplace_back();
    predictions.emplace_back();
    loss_sum += Accumulate(per_sample, output.logits, batch, accumulator, &losses.back(),
                           &predictions.back());
    probabilities.push_back(output.logits.to(at::kFloat).softmax(1).to(at::kCPU));
    if (on_batch) on_batch(end);
  }
  if (samples == 0) {
    result.losses = torch::zeros({0}, torch::kDouble);
    result.predictions = torch::zeros({0}, torch::kLong);
    result.probabilities = torch::zeros({0, model->options().num_classes}, torch::kFloat);
    return result;
  }
  result.losses = torch::cat(losses);
  result.predictions = torch::cat(predictions);
  result.probabilities = torch::cat(probabilities);
  result.mean_loss = loss_sum / samples;
  result.accuracy = result.predictions.eq(dataset.label.to(at::kCPU)).sum().item<int64_t>() /
                    static_cast<double>(samples);
  result.groups = accumulator.Report();
  return result;
}

}  // namespace

void AddSamples(const at::Tensor& losses, const at::Tensor& predictions, const Dataset& samples,
                GroupStatisticsAccumulator& accumulator) {
  const at::Tensor loss = losses.contiguous();
  const at::Tensor prediction = predictions.contiguous();
  const at::Tensor label = samples.label.to(at::kCPU).to(at::kLong).contiguous();
  const at::Tensor group = samples.group.to(at::kCPU).to(at::kLong).contiguous();
  const at::Tensor language = samples.language.to(at::kCPU).to(at::kLong).contiguous();
  const double* loss_data = loss.data_ptr<double>();
  const int64_t* prediction_data = prediction.data_ptr<int64_t>();
  const int64_t* label_data = label.data_ptr<int64_t>();
  const int64_t* group_data = group.data_ptr<int64_t>();
  const int64_t* language_data = language.data_ptr<int64_t>();
  for (int64_t i = 0; i < loss.size(0); ++i) {
    accumulator.Add(language_data[i], group_data[i], loss_data[i], label_data[i],
                    prediction_data[i]);
  }
}

at::Tensor WeightedTaskLoss(const at::Tensor& logits, const at::Tensor& labels,
                            const at::Tensor& weights) {
  // Reduced-precision logits (autocast) are widened; float64 ones stay float64.
  const at::Tensor wide = logits.scalar_type() == at::kDouble ? logits : logits.to(at::kFloat);
  const at::Tensor per_sample =
      F::cross_entropy(wide, labels, F::CrossEntropyFuncOptions().reduction(torch::kNone));
  return WeightedMean(per_sample, weights);
}

at::Tensor ProximalTerm(const std::vector<at::Tensor>& parameters,
                        const std::vector<at::Tensor>& anchors, double mu) {
  TORCH_CHECK(parameters.size() == anchors.size(), "ProximalTerm: ", parameters.size(),
              " parameters but ", anchors.size(), " anchors");
  at::Tensor sum;
  for (size_t i = 0; i < parameters.size(); ++i) {
    const at::Tensor term = (parameters[i] - anchors[i]).square().sum();
    sum = sum.defined() ? sum + term : term;
  }
  if (!sum.defined()) return torch::zeros({});
  return sum * (mu / 2);
}

absl::StatusOr<TrainResult> Train(MultimodalModel& model, const Dataset& dataset,
                                  const TrainerOptions& options, const at::Tensor& sample_weights,
                                  const std::vector<ViewLossWeights>& view_weights,
                                  const at::Tensor& draw_weights) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  EQUIFL_ASSIGN_OR_RETURN(const Device configured, ParseDevice("trainer device", options.device));
  EQUIFL_ASSIGN_OR_RETURN(const at::Device device, ToTorchDevice("trainer device", configured));
  return protocol::TorchCall("local training failed", [&]() -> absl::StatusOr<TrainResult> {
    EQUIFL_RETURN_IF_ERROR(CheckData(*model, dataset));
    if (dataset.size() == 0) return absl::InvalidArgumentError("the training set is empty");
    EQUIFL_RETURN_IF_ERROR(CheckWeights(sample_weights, dataset.size()));
    for (const ViewLossWeights& term : view_weights) {
      if (!term.weights.defined()) {
        return absl::InvalidArgumentError(
            absl::StrCat("view '", term.view.Name(), "' has no sample weights"));
      }
      EQUIFL_RETURN_IF_ERROR(CheckWeights(term.weights, dataset.size()));
    }
    EQUIFL_RETURN_IF_ERROR(CheckWeights(draw_weights, dataset.size()));
    if (draw_weights.defined() &&
        (draw_weights.lt(0).any().item<bool>() || !(draw_weights.sum().item<double>() > 0))) {
      return absl::InvalidArgumentError(
          "draw weights must be >= 0 and not all 0 (they are sampling probabilities)");
    }
    return TrainOrThrow(model, dataset, options, sample_weights, view_weights, draw_weights,
                        device);
  });
}

absl::StatusOr<EvaluationResult> Evaluate(MultimodalModel& model, const Dataset& dataset,
                                          const ModalityView& view, int64_t batch_size,
                                          const std::function<void(int64_t samples)>& on_batch) {
  if (batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("evaluation batch_size is ", batch_size, "; allowed: at least 1"));
  }
  return protocol::TorchCall("evaluation failed", [&]() -> absl::StatusOr<EvaluationResult> {
    EQUIFL_RETURN_IF_ERROR(CheckData(*model, dataset));
    EQUIFL_RETURN_IF_ERROR(model->ViewMask(view).status());
    return EvaluateOrThrow(model, dataset, view, batch_size, on_batch);
  });
}

}  // namespace equifl::client
