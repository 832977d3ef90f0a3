// The shape of one modality's features: frame sequences, token sequences, image
// sequences or one vector per sample.
//
// Data and model agree on it: a shard's manifest records each modality's kind,
// and the model sizes an encoder for it from the same enum, so a manifest sizes a
// model directly. Plain data, no Torch.
#ifndef EQUIFL_CLIENT_DATA_MODALITY_KIND_H_
#define EQUIFL_CLIENT_DATA_MODALITY_KIND_H_

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/enum_names.h"

namespace equifl::client {

//! The shape of one modality's features.
enum class ModalityKind {
  kSequence,  //!< Frames [N, T, D] with per-sample lengths (video, audio, token embeddings).
  kVector,    //!< One vector [N, D] per sample (sentence embeddings, tabular features).
  kTokens,    //!< Token ids [N, T] in [0, D) with per-sample lengths; D is the vocabulary.
  kImages,    //!< RGB images uint8 [N, T, D, D, 3] with per-sample lengths (video frames);
              //!< D is the side of the square images.
};

//! Colour channels of an image modality's pixels (RGB).
inline constexpr int64_t kImageChannels = 3;
//! The largest side of an image modality's square images.
inline constexpr int64_t kMaxImageSide = 4096;

//! Whether samples of `kind` have T frames, tokens or images and a length each.
inline bool HasFrames(ModalityKind kind) { return kind != ModalityKind::kVector; }

//! "sequence" / "vector" / "tokens" / "images", in manifests and messages.
inline std::span<const EnumName<ModalityKind>> EnumNames(ModalityKind) {
  static constexpr EnumName<ModalityKind> kNames[] = {{ModalityKind::kSequence, "sequence"},
                                                      {ModalityKind::kVector, "vector"},
                                                      {ModalityKind::kTokens, "tokens"},
                                                      {ModalityKind::kImages, "images"}};
  return kNames;
}

//! The kind called `name`; the error lists the allowed names.
inline absl::StatusOr<ModalityKind> ParseModalityKind(absl::string_view name) {
  return ParseEnum<ModalityKind>("modality kind", name);
}

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_DATA_MODALITY_KIND_H_
