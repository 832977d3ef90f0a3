// The multimodal classifier every client trains: one encoder per modality, a
// fusion layer, a task head and, for adversarial debiasing, a group-predicting
// adversary behind gradient reversal.
//
// It reads a Dataset batch directly (modalities matched by name, the present
// mask honoured), and can run on a *modality view*, a subset of the modalities
// with the others masked as if absent, which is how the fairness engine measures
// each modality alone (MSFD) and how the (language, modality) cells of MinMaxGAP
// get their losses.
#ifndef EQUIFL_CLIENT_MODEL_MULTIMODAL_MODEL_H_
#define EQUIFL_CLIENT_MODEL_MULTIMODAL_MODEL_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/moduledict.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/model/dataset.h"
#include "client/model/fusion.h"
#include "client/model/input_standardisation.h"
#include "client/model/modality_encoder.h"
#include "client/model/modality_view.h"
#include "client/model/model_options.h"

namespace equifl::client {

//! The linear model reads each image of an image modality as its mean colour in the
//! cells of a kLinearImageGrid x kLinearImageGrid grid (then the mean over the
//! sample's valid images), kLinearImageFeatures inputs in all.
inline constexpr int64_t kLinearImageGrid = 4;
inline constexpr int64_t kLinearImageFeatures = kLinearImageGrid * kLinearImageGrid * 3;

//! What a forward pass returns.
struct ModelOutput {
  at::Tensor logits;        //!< float [B, C], task logits.
  at::Tensor group_logits;  //!< float [B, G] from the adversary; undefined without one.
  at::Tensor fused;         //!< float [B, H], the fused latent.
};

class MultimodalModelImpl : public torch::nn::Module {
 public:
  //! `options` must be valid (see CreateMultimodalModel, which checks).
  explicit MultimodalModelImpl(const ModelOptions& options);

  //! Logits for `batch` (on the model's device). A sample's modality counts when
  //! its present bit is set and `view` includes it; absent modalities' features
  //! are never read (zeroed before encoding, masked in fusion). Throws c10::Error
  //! on a batch that CheckBatch refuses.
  ModelOutput forward(const Dataset& batch, const ModalityView& view = {});

  //! OK when `batch` holds every modality of the model by name, with the
  //! configured kind and input dimension and at least one frame per sequence;
  //! otherwise names the modality and what is wrong. Extra modalities are ignored.
  absl::Status CheckBatch(const Dataset& batch) const;

  //! bool [M] on the model's device, true for the modalities in `view`, or an
  //! error naming a modality the model does not have.
  absl::StatusOr<at::Tensor> ViewMask(const ModalityView& view) const;

  //! The options the model was built from.
  const ModelOptions& options() const { return options_; }

  //! The device of the model's parameters.
  at::Device device() const;

 private:
  //! `values` of modality `m` (float32) standardised, or as they are.
  at::Tensor Standardised(size_t m, const at::Tensor& values) const;

  ModelOptions options_;  //!< Validated options.
  //! "standardisation.<modality>", by modality index (empty: not standardised).
  std::vector<InputStandardisation> standardisations_;
  torch::nn::ModuleDict encoder_dict_{nullptr};                 //!< "encoders.<modality>".
  std::vector<std::shared_ptr<ModalityEncoderImpl>> encoders_;  //!< Same, by index.
  Fusion fusion_{nullptr};
  torch::nn::Sequential task_head_{nullptr};       //!< H to C.
  torch::nn::Sequential adversary_head_{nullptr};  //!< H to G, behind gradient reversal.
};
TORCH_MODULE(MultimodalModel);

//! A freshly initialised model after ModelOptions::Validate. Initial weights come
//! from LibTorch's global generator: call torch::manual_seed first for a
//! reproducible model (in federated training the server's state replaces them).
absl::StatusOr<MultimodalModel> CreateMultimodalModel(const ModelOptions& options);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MODEL_MULTIMODAL_MODEL_H_
