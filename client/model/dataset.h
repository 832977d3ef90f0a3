// Samples held in memory on a client, as the model and the local trainer take them.
//
// A shard on disk (docs/ARCHITECTURE.md, "Data on a client") becomes a Dataset; the
// trainer draws batches with Select. Besides the features, every sample carries the
// columns the fairness engine needs: label, sensitive group and language.
#ifndef EQUIFL_CLIENT_MODEL_DATASET_H_
#define EQUIFL_CLIENT_MODEL_DATASET_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace equifl::client {

//! One modality's features for every sample.
struct ModalityFeatures {
  std::string name;  //!< E.g. "video", "audio", "text" or "tabular".
  //! float32 or float16 [N, T, D] (frame sequences) or [N, D] (vectors), int64 [N, T]
  //! (token ids), or uint8 [N, T, D, D, 3] (RGB images, e.g. video frames).
  at::Tensor values;
  at::Tensor lengths;  //!< int64 [N], valid frames, tokens or images per sample; undefined
                       //!< for vectors.
};

//! A set of samples: features per modality, the modality-present mask and labels.
struct Dataset {
  std::vector<ModalityFeatures> modalities;  //!< In the order of `present`'s columns.
  at::Tensor present;                        //!< bool [N, M]: sample n has modality m.
  at::Tensor label;                          //!< int64 [N], class index.
  at::Tensor group;                          //!< int64 [N], sensitive-group index.
  at::Tensor language;                       //!< int64 [N], language index.

  //! Number of samples N.
  int64_t size() const;

  //! OK when every tensor has the documented type and shape and all agree on N;
  //! otherwise names the tensor and what is wrong.
  absl::Status Validate() const;

  //! The samples at `indices` (int64 [K]), in that order, on the same device.
  Dataset Select(const at::Tensor& indices) const;
};

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MODEL_DATASET_H_
