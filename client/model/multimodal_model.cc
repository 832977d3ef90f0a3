#include "client/model/multimodal_model.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "client/model/gradient_reversal.h"
#include "protocol/feature_moments.h"
#include "protocol/torch/torch_status.h"

namespace equifl::client {
namespace {

//! Index of the modality called `name` in `batch`, or -1.
int64_t BatchModalityIndex(const Dataset& batch, const std::string& name) {
  for (size_t i = 0; i < batch.modalities.size(); ++i) {
    if (batch.modalities[i].name == name) return static_cast<int64_t>(i);
  }
  return -1;
}

//! `values` with float16 widened to float32 (shards may store features as float16);
//! other types as they are.
at::Tensor Widened(const at::Tensor& values) {
  return values.scalar_type() == at::kHalf ? values.to(at::kFloat) : values;
}

std::string ModalityNames(const ModelOptions& options) {
  return absl::StrJoin(options.modalities, ", ", [](std::string* out, const ModalitySpec& spec) {
    absl::StrAppend(out, spec.name);
  });
}

}  // namespace

MultimodalModelImpl::MultimodalModelImpl(const ModelOptions& options) : options_(options) {
  standardisations_.resize(options_.modalities.size(), InputStandardisation{nullptr});
  if (options_.standardise_features) {
    std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> named;
    for (size_t m = 0; m < options_.modalities.size(); ++m) {
      const ModalitySpec& modality = options_.modalities[m];
      if (!IsStandardisedKind(modality.kind)) continue;
      standardisations_[m] = InputStandardisation(modality.input_dim);
      named.emplace_back(modality.name, standardisations_[m].ptr());
    }
    register_module(std::string(protocol::kStandardisationModule), torch::nn::ModuleDict(named));
  }
  if (options_.architecture == Architecture::kLinear) {
    int64_t inputs = 0;
    for (const ModalitySpec& modality : options_.modalities) {
      inputs += modality.kind == ModalityKind::kImages ? kLinearImageFeatures : modality.input_dim;
    }
    task_head_ = register_module(
        "task_head", torch::nn::Sequential(torch::nn::Dropout(options_.dropout),
                                           torch::nn::Linear(inputs, options_.num_classes)));
    return;
  }
  std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> named_encoders;
  for (const ModalitySpec& modality : options_.modalities) {
    encoders_.push_back(MakeModalityEncoder(modality, options_));
    named_encoders.emplace_back(modality.name, encoders_.back());
  }
  encoder_dict_ = register_module("encoders", torch::nn::ModuleDict(named_encoders));
  fusion_ = register_module(kFusionLayer, Fusion(options_));
  const int64_t hidden = options_.hidden_size;
  task_head_ = register_module(
      "task_head", torch::nn::Sequential(torch::nn::Linear(hidden, hidden), torch::nn::GELU(),
                                         torch::nn::Dropout(options_.dropout),
                                         torch::nn::Linear(hidden, options_.num_classes)));
  if (options_.adversary) {
    adversary_head_ =
        register_module("adversary_head",
                        torch::nn::Sequential(torch::nn::Linear(hidden, hidden), torch::nn::GELU(),
                                              torch::nn::Linear(hidden, options_.num_groups)));
  }
}

at::Tensor MultimodalModelImpl::Standardised(size_t m, const at::Tensor& values) const {
  return standardisations_[m] ? standardisations_[m]->forward(values) : values;
}

at::Device MultimodalModelImpl::device() const { return parameters().front().device(); }

absl::Status MultimodalModelImpl::CheckBatch(const Dataset& batch) const {
  EQUIFL_RETURN_IF_ERROR(batch.Validate());
  for (const ModalitySpec& spec : options_.modalities) {
    const int64_t index = BatchModalityIndex(batch, spec.name);
    if (index < 0) {
      return absl::InvalidArgumentError(absl::StrCat("the batch has no modality '", spec.name,
                                                     "'; the model reads ",
                                                     ModalityNames(options_)));
    }
    const at::Tensor& values = batch.modalities[index].values;
    if (spec.kind == ModalityKind::kTokens) {
      if (values.scalar_type() != at::kLong || values.dim() != 2 || values.size(1) < 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("modality '", spec.name, "' must be int64 token ids [N, T >= 1] for the ",
                         "model (tokens); it is ", c10::toString(values.scalar_type()), " ",
                         c10::str(values.sizes())));
      }
      continue;
    }
    if (spec.kind == ModalityKind::kImages) {
      const int64_t side = spec.input_dim;
      if (values.scalar_type() != at::kByte || values.dim() != 5 || values.size(1) < 1 ||
          values.size(2) != side || values.size(3) != side || values.size(4) != 3) {
        return absl::InvalidArgumentError(
            absl::StrCat("modality '", spec.name, "' must be uint8 RGB images [N, T >= 1, ", side,
                         ", ", side, ", 3] for the model (images); it is ",
                         c10::toString(values.scalar_type()), " ", c10::str(values.sizes())));
      }
      continue;
    }
    const int64_t rank = spec.kind == ModalityKind::kSequence ? 3 : 2;
    if ((values.scalar_type() != at::kFloat && values.scalar_type() != at::kHalf) ||
        values.dim() != rank || values.size(-1) != spec.input_dim ||
        (rank == 3 && values.size(1) < 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("modality '", spec.name, "' must be ", rank == 3 ? "[N, T >= 1, " : "[N, ",
                       spec.input_dim, "] for the model (", equifl::NameOf(spec.kind), "); it is ",
                       c10::str(values.sizes())));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<at::Tensor> MultimodalModelImpl::ViewMask(const ModalityView& view) const {
  const int64_t modalities = static_cast<int64_t>(options_.modalities.size());
  at::Tensor mask = torch::full({modalities}, view.modalities.empty(), torch::dtype(at::kBool));
  for (const std::string& name : view.modalities) {
    const int64_t index = options_.ModalityIndex(name);
    if (index < 0) {
      return absl::InvalidArgumentError(absl::StrCat("modality view names '", name,
                                                     "'; the model has ", ModalityNames(options_)));
    }
    mask[index].fill_(true);
  }
  return mask.to(device());
}

ModelOutput MultimodalModelImpl::forward(const Dataset& batch, const ModalityView& view) {
  if (absl::Status status = CheckBatch(batch); !status.ok()) {
    TORCH_CHECK(false, std::string(status.message()));
  }
  absl::StatusOr<at::Tensor> visible = ViewMask(view);
  TORCH_CHECK(visible.ok(), std::string(visible.status().message()));
  const at::Device on = device();
  const at::Tensor present = batch.present.to(on);

  if (options_.architecture == Architecture::kLinear) {
    std::vector<at::Tensor> inputs;
    for (size_t m = 0; m < options_.modalities.size(); ++m) {
      const int64_t column = BatchModalityIndex(batch, options_.modalities[m].name);
      const ModalityFeatures& features = batch.modalities[column];
      const at::Tensor seen = present.select(1, column).logical_and((*visible)[m]);  // [B]
      at::Tensor values = Standardised(m, Widened(features.values.to(on)));
      if (options_.modalities[m].kind == ModalityKind::kTokens) {  // each id's share of tokens
        values = torch::one_hot(values, options_.modalities[m].input_dim).to(at::kFloat);
      }
      if (options_.modalities[m].kind == ModalityKind::kImages) {  // each image's colour grid
        const int64_t batch = values.size(0);
        const int64_t frames = values.size(1);
        values = torch::adaptive_avg_pool2d(
                     values.flatten(0, 1).permute({0, 3, 1, 2}).to(at::kFloat).div(255.0),
                     {kLinearImageGrid, kLinearImageGrid})
                     .reshape({batch, frames, kLinearImageFeatures});
      }
      if (values.dim() == 3) {  // the mean of the valid frames
        const at::Tensor lengths = features.lengths.to(on);
        const at::Tensor valid =
            torch::arange(values.size(1), torch::TensorOptions().device(on)).view({1, -1}) <
            lengths.view({-1, 1});
        values = (values * valid.unsqueeze(2)).sum(1) / lengths.clamp_min(1).view({-1, 1});
      }
      inputs.push_back(values.masked_fill(seen.logical_not().view({-1, 1}), 0.0));
    }
    ModelOutput output;
    output.fused = torch::cat(inputs, 1);
    output.logits = task_head_->forward(output.fused);
    return output;
  }
  std::vector<at::Tensor> tokens;
  std::vector<at::Tensor> token_present;
  for (size_t m = 0; m < encoders_.size(); ++m) {
    const int64_t column = BatchModalityIndex(batch, options_.modalities[m].name);
    const ModalityFeatures& features = batch.modalities[column];
    const at::Tensor seen = present.select(1, column).logical_and((*visible)[m]);  // [B]
    const at::Tensor unseen = seen.logical_not();
    // An unseen sample's values (frames, token ids or a vector) and length are zeros.
    std::vector<int64_t> per_sample(static_cast<size_t>(features.values.dim()), 1);
    per_sample[0] = -1;
    const at::Tensor values =
        Standardised(m, Widened(features.values.to(on))).masked_fill(unseen.view(per_sample), 0);
    at::Tensor lengths;
    if (features.lengths.defined()) lengths = features.lengths.to(on).masked_fill(unseen, 0);
    tokens.push_back(encoders_[m]->forward(values, lengths));
    token_present.push_back(seen);
  }
  ModelOutput output;
  output.fused = fusion_(torch::stack(tokens, 1), torch::stack(token_present, 1));
  output.logits = task_head_->forward(output.fused);
  if (adversary_head_) {
    output.group_logits =
        adversary_head_->forward(ReverseGradient(output.fused, options_.adversary_lambda));
  }
  return output;
}

absl::StatusOr<MultimodalModel> CreateMultimodalModel(const ModelOptions& options) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  return protocol::TorchCall("building the model failed", [&] { return MultimodalModel(options); });
}

}  // namespace equifl::client
