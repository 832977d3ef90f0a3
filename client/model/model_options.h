// What the multimodal model looks like: its modalities, sizes and parts.
//
// Every module in client/ is sized from one ModelOptions, so the server and every
// client build the same architecture and exchange states tensor by tensor. The
// options are plain data (no LibTorch) so configuration code can fill and check
// them cheaply; Validate() names the bad field and what is allowed.
#ifndef EQUIFL_CLIENT_MODEL_MODEL_OPTIONS_H_
#define EQUIFL_CLIENT_MODEL_MODEL_OPTIONS_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/enum_names.h"
#include "client/data/modality_kind.h"
#include "fairness/group_statistics.h"

namespace equifl::client {

//! What the model is.
enum class Architecture {
  kMultimodal,  //!< Encoders per modality, fusion, an MLP task head (the default).
  //! Multinomial logistic regression over the concatenated features (sequences as
  //! the mean of their valid frames, missing modalities as zeros): FLUTE's benchmark
  //! model and a fast baseline for large simulations.
  kLinear,
};

//! How frame sequences are encoded.
enum class EncoderKind {
  kConv,         //!< A stack of temporal (Conv1d) convolutions.
  kTransformer,  //!< A small pre-norm transformer encoder with sinusoidal positions.
};

//! How per-modality embeddings become one latent vector.
enum class FusionKind {
  kCrossAttention,  //!< A learned query attends over the present modalities' tokens.
  kConcat,          //!< Concatenation (zeros for missing modalities) and a projection.
};

//! "multimodal" / "linear" in configuration files and messages.
inline std::span<const EnumName<Architecture>> EnumNames(Architecture) {
  static constexpr EnumName<Architecture> kNames[] = {{Architecture::kMultimodal, "multimodal"},
                                                      {Architecture::kLinear, "linear"}};
  return kNames;
}
//! "conv" / "transformer".
inline std::span<const EnumName<EncoderKind>> EnumNames(EncoderKind) {
  static constexpr EnumName<EncoderKind> kNames[] = {{EncoderKind::kConv, "conv"},
                                                     {EncoderKind::kTransformer, "transformer"}};
  return kNames;
}
//! "cross_attention" / "concat".
inline std::span<const EnumName<FusionKind>> EnumNames(FusionKind) {
  static constexpr EnumName<FusionKind> kNames[] = {
      {FusionKind::kCrossAttention, "cross_attention"}, {FusionKind::kConcat, "concat"}};
  return kNames;
}

//! The names and back; a parse error lists the allowed names.
inline absl::string_view ArchitectureName(Architecture architecture) {
  return equifl::NameOf(architecture);
}
inline absl::StatusOr<Architecture> ParseArchitecture(absl::string_view name) {
  return ParseEnum<Architecture>("architecture", name);
}
inline absl::string_view EncoderKindName(EncoderKind kind) { return equifl::NameOf(kind); }
inline absl::StatusOr<EncoderKind> ParseEncoderKind(absl::string_view name) {
  return ParseEnum<EncoderKind>("encoder", name);
}
//! The fusion layer's one name: its option (`model.fusion`), its parameters' prefix
//! in checkpoints ("fusion.") and the view that evaluates its prediction.
inline constexpr const char* kFusionLayer = fairness::kFusionView;

inline absl::string_view FusionKindName(FusionKind kind) { return equifl::NameOf(kind); }
inline absl::StatusOr<FusionKind> ParseFusionKind(absl::string_view name) {
  return ParseEnum<FusionKind>(kFusionLayer, name);
}

//! One modality the model reads.
struct ModalitySpec {
  std::string name;                             //!< Matches ModalityFeatures::name.
  ModalityKind kind = ModalityKind::kSequence;  //!< [N, T, D], [N, D] or token ids [N, T].
  int64_t input_dim = 0;                        //!< D, the feature size of a frame or vector.
};

//! The architecture of MultimodalModel.
struct ModelOptions {
  std::vector<ModalitySpec> modalities;                   //!< At least one; names unique, no '.'.
  Architecture architecture = Architecture::kMultimodal;  //!< kLinear ignores the rest but
                                                          //!< classes, groups and dropout.
  int64_t hidden_size = 128;                              //!< H: every encoder maps to [B, H].
  EncoderKind encoder = EncoderKind::kConv;               //!< Encoder of sequence modalities.
  int64_t encoder_depth = 2;     //!< Conv layers, transformer blocks or MLP layers.
  int64_t conv_kernel_size = 3;  //!< Odd temporal kernel of the conv encoder.
  FusionKind fusion = FusionKind::kCrossAttention;  //!< How modalities are fused.
  int64_t attention_heads = 4;  //!< Heads of every attention layer; must divide H.
  double dropout = 0.1;         //!< Dropout probability in encoders, fusion and heads.
  int64_t num_classes = 2;      //!< C, classes of the task head.
  int64_t num_groups = 2;       //!< G, sensitive groups the adversary predicts.
  bool adversary = false;       //!< Adds the group-predicting head behind gradient reversal.
  //! Gradient-reversal strength: the encoders receive -lambda times the adversary's
  //! gradient (the lambda of L_task + lambda * L_bias, docs/ARCHITECTURE.md).
  double adversary_lambda = 0.1;
  //! Standardises every float modality (frame sequences, vectors) by the pooled
  //! training data's mean and deviation, which the federation measures before
  //! round 1 (client/model/input_standardisation.h).
  bool standardise_features = false;

  static constexpr int64_t kMaxHiddenSize = 1 << 16;
  static constexpr int64_t kMaxDepth = 64;
  static constexpr int64_t kMaxInputDim = 1 << 20;

  //! OK, or which field is out of range and what is allowed.
  absl::Status Validate() const;

  //! Index of the modality called `name` in `modalities`, or -1.
  int64_t ModalityIndex(absl::string_view name) const;
};

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MODEL_MODEL_OPTIONS_H_
