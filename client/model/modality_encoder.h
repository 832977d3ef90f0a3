// Per-modality encoders: each maps one modality's features to [B, H].
//
// Frame sequences [B, T, D] carry per-sample lengths; frames at or beyond a
// sample's length are padding and must not influence anything: they are zeroed
// before every layer that mixes frames, masked out of attention and left out of
// the (masked mean) pooling, so a sample's embedding is the same whatever its
// padding holds. A sample of length 0 (e.g. a missing modality) pools to zeros,
// never NaN. Vectors [B, D] go through an MLP; token ids [B, T] through an
// embedding and images [B, T, D, D, 3] (video frames) through a small 2D CNN per
// image, each then through a sequence encoder. Every encoder ends in a LayerNorm,
// so embeddings of different modalities share a scale before fusion.
#ifndef EQUIFL_CLIENT_MODEL_MODALITY_ENCODER_H_
#define EQUIFL_CLIENT_MODEL_MODALITY_ENCODER_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/pooling.h>
#include <torch/nn/pimpl.h>

#include <memory>

#include "client/model/model_options.h"

namespace equifl::client {

//! bool [B, T]: true where frame t of sample b lies before lengths[b] (int64 [B]).
at::Tensor FrameMask(const at::Tensor& lengths, int64_t frames);

//! float [B, H]: mean over each sample's valid frames of `frames` [B, T, H], with
//! `mask` from FrameMask; zeros for a sample without valid frames.
at::Tensor MaskedMeanPool(const at::Tensor& frames, const at::Tensor& mask);

//! What every modality encoder does; MultimodalModel holds one per modality.
class ModalityEncoderImpl : public torch::nn::Module {
 public:
  //! float [B, H] from `values` (float [B, T, D] with `lengths` int64 [B], or
  //! float [B, D] with `lengths` undefined).
  virtual at::Tensor forward(const at::Tensor& values, const at::Tensor& lengths) = 0;
};

//! Frame sequences through a stack of Conv1d layers (the first maps D to H, the
//! rest are residual H to H), GELU and dropout, then masked mean pooling.
class ConvSequenceEncoderImpl : public ModalityEncoderImpl {
 public:
  ConvSequenceEncoderImpl(int64_t input_dim, const ModelOptions& options);
  at::Tensor forward(const at::Tensor& values, const at::Tensor& lengths) override;

 private:
  torch::nn::ModuleList layers_;  //!< Conv1d layers, kernel options.conv_kernel_size.
  torch::nn::Dropout dropout_;    //!< After every activation.
  torch::nn::LayerNorm norm_;     //!< On the pooled embedding.
};
TORCH_MODULE(ConvSequenceEncoder);

//! One pre-norm transformer block: self-attention and a GELU feed-forward layer,
//! each added to the residual stream.
class TransformerBlockImpl : public torch::nn::Module {
 public:
  TransformerBlockImpl(int64_t hidden_size, int64_t heads, double dropout);
  //! `x` float [T, B, H]; `padding` bool [B, T], true for keys to ignore (every row
  //! must leave at least one key unmasked).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& padding);

 private:
  torch::nn::LayerNorm attention_norm_;
  torch::nn::MultiheadAttention attention_;
  torch::nn::LayerNorm feed_forward_norm_;
  torch::nn::Linear feed_forward_in_;   //!< H to 2H.
  torch::nn::Linear feed_forward_out_;  //!< 2H to H.
  torch::nn::Dropout dropout_;
};
TORCH_MODULE(TransformerBlock);

//! Frame sequences through a linear projection to H, sinusoidal positions, and
//! options.encoder_depth transformer blocks with a key-padding mask, then masked
//! mean pooling.
class TransformerSequenceEncoderImpl : public ModalityEncoderImpl {
 public:
  TransformerSequenceEncoderImpl(int64_t input_dim, const ModelOptions& options);
  at::Tensor forward(const at::Tensor& values, const at::Tensor& lengths) override;

 private:
  torch::nn::Linear input_;       //!< D to H, frame by frame.
  torch::nn::ModuleList blocks_;  //!< TransformerBlock.
  torch::nn::LayerNorm norm_;     //!< On the pooled embedding.
};
TORCH_MODULE(TransformerSequenceEncoder);

//! Vectors through an MLP: D to H, then options.encoder_depth - 1 further H to H
//! layers, GELU and dropout between them.
class VectorEncoderImpl : public ModalityEncoderImpl {
 public:
  VectorEncoderImpl(int64_t input_dim, const ModelOptions& options);
  at::Tensor forward(const at::Tensor& values, const at::Tensor& lengths) override;

 private:
  torch::nn::ModuleList layers_;  //!< Linear layers.
  torch::nn::Dropout dropout_;
  torch::nn::LayerNorm norm_;
};
TORCH_MODULE(VectorEncoder);

//! Token ids through an embedding (vocabulary to H), then the sequence encoder
//! `options` asks for over the embedded tokens. Padding ids are embedded like any
//! other but lie beyond each sample's length, so the sequence encoder ignores them.
class TokenEncoderImpl : public ModalityEncoderImpl {
 public:
  TokenEncoderImpl(int64_t vocabulary, const ModelOptions& options);
  //! `values` int64 [B, T] in [0, vocabulary), `lengths` int64 [B].
  at::Tensor forward(const at::Tensor& values, const at::Tensor& lengths) override;

 private:
  torch::nn::Embedding embedding_;
  std::shared_ptr<ModalityEncoderImpl> sequence_;  //!< Conv or transformer, H to H.
};
TORCH_MODULE(TokenEncoder);

//! RGB images (video frames) uint8 [B, T, D, D, 3]: each valid image, its pixels
//! scaled to [-1, 1], through three stride-2 3x3 convolutions (3 to 16, 32 and 64
//! channels, GELU after each), a global average pool and a linear layer to H; the
//! images' embeddings [B, T, H] then go through the sequence encoder `options` asks
//! for. Images at or beyond a sample's length are never computed (their embedding
//! is zeros, and the sequence encoder ignores them anyway).
class ImageSequenceEncoderImpl : public ModalityEncoderImpl {
 public:
  explicit ImageSequenceEncoderImpl(const ModelOptions& options);
  //! `values` uint8 [B, T, side, side, 3], `lengths` int64 [B].
  at::Tensor forward(const at::Tensor& values, const at::Tensor& lengths) override;

 private:
  torch::nn::ModuleList convolutions_;             //!< Conv2d, stride 2.
  torch::nn::Linear project_;                      //!< Pooled channels to H.
  std::shared_ptr<ModalityEncoderImpl> sequence_;  //!< Conv or transformer, H to H.
};
TORCH_MODULE(ImageSequenceEncoder);

//! The encoder `options` asks for `modality` (options must be valid).
std::shared_ptr<ModalityEncoderImpl> MakeModalityEncoder(const ModalitySpec& modality,
                                                         const ModelOptions& options);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MODEL_MODALITY_ENCODER_H_
