#include "client/model/modality_encoder.h"

#include <torch/torch.h>

#include <cmath>

namespace equifl::client {
namespace {

//! Valid-frame mask for `values` [B, T, D]: lengths clamped to [0, T].
at::Tensor SequenceMask(const at::Tensor& values, const at::Tensor& lengths) {
  const int64_t frames = values.size(1);
  return FrameMask(lengths.to(values.device(), at::kLong).clamp(0, frames), frames);
}

//! float [T, H] sinusoidal positions (Vaswani et al., 2017).
at::Tensor SinusoidalPositions(int64_t frames, int64_t hidden_size,
                               const at::TensorOptions& options) {
  const at::TensorOptions float_options = options.dtype(at::kFloat);
  const at::Tensor position = torch::arange(frames, float_options).unsqueeze(1);
  const at::Tensor channel = torch::arange(hidden_size, float_options);
  // Channels 2i and 2i+1 share the frequency 10000^(-2i/H).
  const at::Tensor frequency =
      torch::exp(torch::floor(channel / 2) * 2 * (-std::log(10000.0) / hidden_size));
  const at::Tensor angle = position * frequency.unsqueeze(0);
  const at::Tensor even = torch::fmod(channel, 2).eq(0).unsqueeze(0);
  return torch::where(even, torch::sin(angle), torch::cos(angle)).to(options.dtype());
}

}  // namespace

at::Tensor FrameMask(const at::Tensor& lengths, int64_t frames) {
  return torch::arange(frames, lengths.options().dtype(at::kLong)).unsqueeze(0) <
         lengths.unsqueeze(1);
}

at::Tensor MaskedMeanPool(const at::Tensor& frames, const at::Tensor& mask) {
  const at::Tensor kept = frames.masked_fill(mask.logical_not().unsqueeze(-1), 0.0);
  const at::Tensor count = mask.sum(1, /*keepdim=*/true).clamp_min(1).to(frames.scalar_type());
  return kept.sum(1) / count;
}

ConvSequenceEncoderImpl::ConvSequenceEncoderImpl(int64_t input_dim, const ModelOptions& options)
    : dropout_(options.dropout), norm_(torch::nn::LayerNormOptions({options.hidden_size})) {
  const int64_t kernel = options.conv_kernel_size;
  for (int64_t layer = 0; layer < options.encoder_depth; ++layer) {
    layers_->push_back(
        torch::nn::Conv1d(torch::nn::Conv1dOptions(layer == 0 ? input_dim : options.hidden_size,
                                                   options.hidden_size, kernel)
                              .padding(kernel / 2)));
  }
  register_module("layers", layers_);
  register_module("dropout", dropout_);
  register_module("norm", norm_);
}

at::Tensor ConvSequenceEncoderImpl::forward(const at::Tensor& values, const at::Tensor& lengths) {
  const at::Tensor mask = SequenceMask(values, lengths);
  // [B, C, T] with padding frames zeroed; re-zeroed after every layer so no kernel
  // ever reads what a padding frame held or what a layer computed there.
  const at::Tensor padding = mask.logical_not().unsqueeze(1);
  at::Tensor x = values.transpose(1, 2).masked_fill(padding, 0.0);
  for (size_t layer = 0; layer < layers_->size(); ++layer) {
    at::Tensor y = dropout_(torch::gelu(layers_->at<torch::nn::Conv1dImpl>(layer).forward(x)));
    x = (layer == 0 ? y : x + y).masked_fill(padding, 0.0);
  }
  return norm_(MaskedMeanPool(x.transpose(1, 2), mask));
}

TransformerBlockImpl::TransformerBlockImpl(int64_t hidden_size, int64_t heads, double dropout)
    : attention_norm_(torch::nn::LayerNormOptions({hidden_size})),
      attention_(torch::nn::MultiheadAttentionOptions(hidden_size, heads).dropout(dropout)),
      feed_forward_norm_(torch::nn::LayerNormOptions({hidden_size})),
      feed_forward_in_(hidden_size, 2 * hidden_size),
      feed_forward_out_(2 * hidden_size, hidden_size),
      dropout_(dropout) {
  register_module("attention_norm", attention_norm_);
  register_module("attention", attention_);
  register_module("feed_forward_norm", feed_forward_norm_);
  register_module("feed_forward_in", feed_forward_in_);
  register_module("feed_forward_out", feed_forward_out_);
  register_module("dropout", dropout_);
}

at::Tensor TransformerBlockImpl::forward(const at::Tensor& x, const at::Tensor& padding) {
  const at::Tensor h = attention_norm_(x);
  at::Tensor y = x + dropout_(std::get<0>(attention_(h, h, h, padding, /*need_weights=*/false)));
  return y + dropout_(
                 feed_forward_out_(dropout_(torch::gelu(feed_forward_in_(feed_forward_norm_(y))))));
}

TransformerSequenceEncoderImpl::TransformerSequenceEncoderImpl(int64_t input_dim,
                                                               const ModelOptions& options)
    : input_(input_dim, options.hidden_size),
      norm_(torch::nn::LayerNormOptions({options.hidden_size})) {
  for (int64_t block = 0; block < options.encoder_depth; ++block) {
    blocks_->push_back(
        TransformerBlock(options.hidden_size, options.attention_heads, options.dropout));
  }
  register_module("input", input_);
  register_module("blocks", blocks_);
  register_module("norm", norm_);
}

at::Tensor TransformerSequenceEncoderImpl::forward(const at::Tensor& values,
                                                   const at::Tensor& lengths) {
  const at::Tensor mask = SequenceMask(values, lengths);
  const int64_t frames = values.size(1);
  at::Tensor x = input_(values.masked_fill(mask.logical_not().unsqueeze(-1), 0.0));
  x = x + SinusoidalPositions(frames, x.size(2), x.options()).unsqueeze(0);
  // A sample without valid frames would mask every key and turn attention into
  // NaN; it attends to its (zeroed) first frame instead and pools to zeros anyway.
  const at::Tensor empty = mask.any(1).logical_not().unsqueeze(1);
  const at::Tensor first =
      torch::arange(frames, mask.options().dtype(at::kLong)).eq(0).unsqueeze(0);
  const at::Tensor padding = mask.logical_not().logical_and(first.logical_and(empty).logical_not());
  x = x.transpose(0, 1);  // [T, B, H], as MultiheadAttention takes it.
  for (size_t block = 0; block < blocks_->size(); ++block) {
    x = blocks_->at<TransformerBlockImpl>(block).forward(x, padding);
  }
  return norm_(MaskedMeanPool(x.transpose(0, 1), mask));
}

VectorEncoderImpl::VectorEncoderImpl(int64_t input_dim, const ModelOptions& options)
    : dropout_(options.dropout), norm_(torch::nn::LayerNormOptions({options.hidden_size})) {
  for (int64_t layer = 0; layer < options.encoder_depth; ++layer) {
    layers_->push_back(
        torch::nn::Linear(layer == 0 ? input_dim : options.hidden_size, options.hidden_size));
  }
  register_module("layers", layers_);
  register_module("dropout", dropout_);
  register_module("norm", norm_);
}

at::Tensor VectorEncoderImpl::forward(const at::Tensor& values, const at::Tensor& /*lengths*/) {
  at::Tensor x = layers_->at<torch::nn::LinearImpl>(0).forward(values);
  for (size_t layer = 1; layer < layers_->size(); ++layer) {
    x = layers_->at<torch::nn::LinearImpl>(layer).forward(dropout_(torch::gelu(x)));
  }
  return norm_(x);
}

namespace {

std::shared_ptr<ModalityEncoderImpl> MakeSequenceEncoder(int64_t input_dim,
                                                         const ModelOptions& options) {
  if (options.encoder == EncoderKind::kTransformer) {
    return std::make_shared<TransformerSequenceEncoderImpl>(input_dim, options);
  }
  return std::make_shared<ConvSequenceEncoderImpl>(input_dim, options);
}

}  // namespace

TokenEncoderImpl::TokenEncoderImpl(int64_t vocabulary, const ModelOptions& options)
    : embedding_(torch::nn::EmbeddingOptions(vocabulary, options.hidden_size)),
      sequence_(MakeSequenceEncoder(options.hidden_size, options)) {
  register_module("embedding", embedding_);
  register_module("sequence", sequence_);
}

at::Tensor TokenEncoderImpl::forward(const at::Tensor& values, const at::Tensor& lengths) {
  return sequence_->forward(embedding_(values), lengths);
}

namespace {

//! Channels of the image encoder's convolutions, in order.
constexpr int64_t kImageChannelsPerLayer[] = {16, 32, 64};

}  // namespace

ImageSequenceEncoderImpl::ImageSequenceEncoderImpl(const ModelOptions& options)
    : project_(kImageChannelsPerLayer[std::size(kImageChannelsPerLayer) - 1], options.hidden_size),
      sequence_(MakeSequenceEncoder(options.hidden_size, options)) {
  int64_t channels = 3;
  for (const int64_t out : kImageChannelsPerLayer) {
    convolutions_->push_back(torch::nn::Conv2d(
        torch::nn::Conv2dOptions(channels, out, /*kernel_size=*/3).stride(2).padding(1)));
    channels = out;
  }
  register_module("convolutions", convolutions_);
  register_module("project", project_);
  register_module("sequence", sequence_);
}

at::Tensor ImageSequenceEncoderImpl::forward(const at::Tensor& values, const at::Tensor& lengths) {
  const int64_t batch = values.size(0);
  const int64_t frames = values.size(1);
  const at::Tensor valid = SequenceMask(values, lengths).reshape({-1});
  const at::Tensor rows = valid.nonzero().squeeze(1);
  // [V, 3, D, D] in [-1, 1] for the V valid images only.
  at::Tensor x = values.reshape({batch * frames, values.size(2), values.size(3), values.size(4)})
                     .index_select(0, rows)
                     .permute({0, 3, 1, 2})
                     .to(project_->weight.scalar_type())
                     .div(127.5)
                     .sub(1.0);
  for (size_t layer = 0; layer < convolutions_->size(); ++layer) {
    x = torch::gelu(convolutions_->at<torch::nn::Conv2dImpl>(layer).forward(x));
  }
  const at::Tensor embedded = project_(x.mean({2, 3}));  // [V, H]
  const at::Tensor sequence = torch::zeros({batch * frames, embedded.size(1)}, embedded.options())
                                  .index_copy(0, rows, embedded)
                                  .view({batch, frames, -1});
  return sequence_->forward(sequence, lengths);
}

std::shared_ptr<ModalityEncoderImpl> MakeModalityEncoder(const ModalitySpec& modality,
                                                         const ModelOptions& options) {
  switch (modality.kind) {
    case ModalityKind::kVector:
      return std::make_shared<VectorEncoderImpl>(modality.input_dim, options);
    case ModalityKind::kTokens:
      return std::make_shared<TokenEncoderImpl>(modality.input_dim, options);
    case ModalityKind::kImages:
      return std::make_shared<ImageSequenceEncoderImpl>(options);
    case ModalityKind::kSequence:
      break;
  }
  return MakeSequenceEncoder(modality.input_dim, options);
}

}  // namespace equifl::client
