// The shape of one modality's features: frame sequences or one vector per sample.
//
// Data and model agree on it: a shard's manifest records each modality's kind,
// and the model sizes an encoder for it from the same enum, so a manifest sizes a
// model directly. Plain data, no Torch.
#ifndef EQUIFL_CLIENT_DATA_MODALITY_KIND_H_
#define EQUIFL_CLIENT_DATA_MODALITY_KIND_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace equifl::client {

//! The shape of one modality's features.
enum class ModalityKind {
  kSequence,  //!< Frames [N, T, D] with per-sample lengths (video, audio, token embeddings).
  kVector,    //!< One vector [N, D] per sample (sentence embeddings, tabular features).
};

//! "sequence" / "vector", and back; the parse error lists the allowed names.
absl::string_view ModalityKindName(ModalityKind kind);
absl::StatusOr<ModalityKind> ParseModalityKind(absl::string_view name);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_DATA_MODALITY_KIND_H_
