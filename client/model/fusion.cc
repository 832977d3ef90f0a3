#include "client/model/fusion.h"

#include <torch/torch.h>

namespace equifl::client {

FusionImpl::FusionImpl(const ModelOptions& options) : kind_(options.fusion) {
  const int64_t hidden = options.hidden_size;
  const int64_t modalities = static_cast<int64_t>(options.modalities.size());
  dropout_ = register_module("dropout", torch::nn::Dropout(options.dropout));
  if (kind_ == FusionKind::kCrossAttention) {
    query_ = register_parameter("query", torch::randn({1, hidden}) * 0.02);
    modality_embedding_ =
        register_parameter("modality_embedding", torch::randn({modalities, hidden}) * 0.02);
    attention_ = register_module(
        "attention", torch::nn::MultiheadAttention(
                         torch::nn::MultiheadAttentionOptions(hidden, options.attention_heads)
                             .dropout(options.dropout)));
    attention_norm_ = register_module("attention_norm",
                                      torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})));
    feed_forward_in_ = register_module("feed_forward_in", torch::nn::Linear(hidden, 2 * hidden));
    feed_forward_out_ = register_module("feed_forward_out", torch::nn::Linear(2 * hidden, hidden));
    feed_forward_norm_ = register_module(
        "feed_forward_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})));
  } else {
    projection_ =
        register_module("projection", torch::nn::Linear(modalities * hidden + modalities, hidden));
    projection_norm_ = register_module("projection_norm",
                                       torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})));
  }
}

at::Tensor FusionImpl::forward(const at::Tensor& tokens, const at::Tensor& present) {
  // Whatever an absent modality's token holds (even NaN) stops here.
  const at::Tensor kept = tokens.masked_fill(present.logical_not().unsqueeze(-1), 0.0);
  return kind_ == FusionKind::kCrossAttention ? CrossAttention(kept, present)
                                              : Concat(kept, present);
}

at::Tensor FusionImpl::CrossAttention(const at::Tensor& tokens, const at::Tensor& present) {
  const int64_t batch = tokens.size(0);
  const at::Tensor query = query_.to(tokens.scalar_type()).unsqueeze(0).expand({batch, 1, -1});
  const at::Tensor keys = torch::cat(
      {query, tokens + modality_embedding_.to(tokens.scalar_type()).unsqueeze(0)}, /*dim=*/1);
  // The query's own key is never masked, so no row of the softmax is all -inf.
  const at::Tensor padding =
      torch::cat({torch::zeros({batch, 1}, present.options()), present.logical_not()}, 1);
  const at::Tensor keys_first = keys.transpose(0, 1);  // [1 + M, B, H]
  const at::Tensor attended = std::get<0>(
      attention_(query.transpose(0, 1), keys_first, keys_first, padding, /*need_weights=*/false));
  const at::Tensor x = attention_norm_(query.squeeze(1) + dropout_(attended.squeeze(0)));
  return feed_forward_norm_(
      x + dropout_(feed_forward_out_(dropout_(torch::gelu(feed_forward_in_(x))))));
}

at::Tensor FusionImpl::Concat(const at::Tensor& tokens, const at::Tensor& present) {
  const at::Tensor features =
      torch::cat({tokens.flatten(1), present.to(tokens.scalar_type())}, /*dim=*/1);
  return projection_norm_(dropout_(torch::gelu(projection_(features))));
}

}  // namespace equifl::client
