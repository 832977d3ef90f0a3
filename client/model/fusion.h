// Fusion of per-modality embeddings into one latent vector per sample.
//
// Missing modalities are masked, never fed garbage: cross-attention gives them a
// key-padding mask, concatenation puts zeros in their place (and the presence bits
// beside them, so a missing modality is not mistaken for an all-zero one). A
// sample with no modality present gets a finite, learned "nothing known" latent.
#ifndef EQUIFL_CLIENT_MODEL_FUSION_H_
#define EQUIFL_CLIENT_MODEL_FUSION_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "client/model/model_options.h"

namespace equifl::client {

//! Fuses M modality tokens [B, M, H] into [B, H], as options.fusion says.
//!
//! Cross-attention: a learned query attends over the tokens (each plus a learned
//! modality embedding) and over itself, the "null" key that keeps a sample with
//! no modality present well defined; then a residual feed-forward layer.
//! Concat: [tokens, presence bits] through a linear layer to H.
class FusionImpl : public torch::nn::Module {
 public:
  explicit FusionImpl(const ModelOptions& options);

  //! float [B, H] from `tokens` float [B, M, H] and `present` bool [B, M]; the
  //! tokens of absent modalities are ignored whatever they hold.
  at::Tensor forward(const at::Tensor& tokens, const at::Tensor& present);

 private:
  at::Tensor CrossAttention(const at::Tensor& tokens, const at::Tensor& present);
  at::Tensor Concat(const at::Tensor& tokens, const at::Tensor& present);

  FusionKind kind_;                //!< Which of the two.
  at::Tensor query_;               //!< [1, H], cross-attention's query.
  at::Tensor modality_embedding_;  //!< [M, H], tells the modalities apart.
  torch::nn::MultiheadAttention attention_{nullptr};
  torch::nn::LayerNorm attention_norm_{nullptr};
  torch::nn::Linear feed_forward_in_{nullptr};   //!< H to 2H.
  torch::nn::Linear feed_forward_out_{nullptr};  //!< 2H to H.
  torch::nn::LayerNorm feed_forward_norm_{nullptr};
  torch::nn::Linear projection_{nullptr};  //!< Concat: M * H + M to H.
  torch::nn::LayerNorm projection_norm_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(Fusion);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MODEL_FUSION_H_
