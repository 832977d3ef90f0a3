// Small, seeded multimodal datasets and model options for the client tests.
//
// Two modalities: "video", frame sequences [N, T, 6] with random lengths, and
// "text", vectors [N, 5]. Each class has a prototype per modality; a sample's
// valid frames and its vector are its class's prototype plus noise, so the
// classes are separable from either modality alone. Padding frames hold large
// garbage, so a model that reads them learns noise.
#ifndef EQUIFL_TESTS_CLIENT_SYNTHETIC_DATA_H_
#define EQUIFL_TESTS_CLIENT_SYNTHETIC_DATA_H_

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cstdint>

#include "client/model/dataset.h"
#include "client/model/model_options.h"
#include "protocol/torch/torch_tensors.h"

namespace equifl::client::testing {

struct SyntheticOptions {
  int64_t samples = 256;        //!< N.
  int64_t classes = 3;          //!< Label values 0 .. classes - 1.
  int64_t frames = 8;           //!< T of "video".
  double noise = 0.8;           //!< Standard deviation around the prototypes.
  double present_rate = 0.8;    //!< Chance of each modality being present (>= 1 kept).
  uint64_t seed = 7;            //!< Everything is drawn from this.
  uint64_t prototype_seed = 1;  //!< Class prototypes: equal across splits of one task.
};

inline constexpr int64_t kVideoDim = 6;
inline constexpr int64_t kTextDim = 5;

inline Dataset MakeSyntheticDataset(const SyntheticOptions& options = {}) {
  at::Generator prototypes = at::make_generator<at::CPUGeneratorImpl>(options.prototype_seed);
  const at::Tensor video_prototype =
      2.0 * torch::randn({options.classes, kVideoDim}, prototypes, torch::kFloat);
  const at::Tensor text_prototype =
      2.0 * torch::randn({options.classes, kTextDim}, prototypes, torch::kFloat);

  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  const int64_t n = options.samples;
  Dataset dataset;
  dataset.label = torch::randint(options.classes, {n}, generator, torch::kLong);
  dataset.group = torch::randint(2, {n}, generator, torch::kLong);
  dataset.language = torch::randint(3, {n}, generator, torch::kLong);
  const at::Tensor lengths = torch::randint(1, options.frames + 1, {n}, generator, torch::kLong);
  const at::Tensor valid = torch::arange(options.frames).unsqueeze(0) < lengths.unsqueeze(1);
  const at::Tensor frames =
      video_prototype.index_select(0, dataset.label).unsqueeze(1) +
      options.noise * torch::randn({n, options.frames, kVideoDim}, generator, torch::kFloat);
  const at::Tensor garbage =
      100.0 * torch::randn({n, options.frames, kVideoDim}, generator, torch::kFloat);
  const at::Tensor video = torch::where(valid.unsqueeze(-1), frames, garbage);
  const at::Tensor text = text_prototype.index_select(0, dataset.label) +
                          options.noise * torch::randn({n, kTextDim}, generator, torch::kFloat);
  dataset.modalities = {{"video", video, lengths}, {"text", text, at::Tensor()}};
  at::Tensor present = torch::rand({n, 2}, generator, torch::kFloat) < options.present_rate;
  // Samples that drew no modality get the video.
  present.select(1, 0).logical_or_(present.any(1).logical_not());
  dataset.present = present;
  return dataset;
}

inline ModelOptions SmallModelOptions(EncoderKind encoder = EncoderKind::kConv,
                                      FusionKind fusion = FusionKind::kCrossAttention) {
  ModelOptions options;
  options.modalities = {{"video", ModalityKind::kSequence, kVideoDim},
                        {"text", ModalityKind::kVector, kTextDim}};
  options.hidden_size = 16;
  options.encoder = encoder;
  options.encoder_depth = 2;
  options.fusion = fusion;
  options.attention_heads = 2;
  options.dropout = 0.0;
  options.num_classes = 3;
  options.num_groups = 2;
  return options;
}

//! Whether two states hold the same names and bit-identical tensors, in order.
inline bool SameState(const std::vector<protocol::NamedTensor>& a,
                      const std::vector<protocol::NamedTensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || !torch::equal(a[i].tensor, b[i].tensor)) return false;
  }
  return true;
}

}  // namespace equifl::client::testing

#endif  // EQUIFL_TESTS_CLIENT_SYNTHETIC_DATA_H_
