// The model's standardisation of its float modalities, and the moments a client
// measures for it (the federated standardisation of protocol/feature_moments.h).
//
// With ModelOptions::standardise_features, every float modality (frame sequences
// and vectors) passes through an InputStandardisation before its encoder:
// (x - shift) * scale per feature, shift and scale being the buffers
// "standardisation.<modality>.shift|scale". They start as the identity; before
// round 1 the server replaces them with the pooled training data's mean and
// 1 / deviation, from the moments every client measured with
// MeasureFeatureMoments, and keeps them fixed afterwards.
#ifndef EQUIFL_CLIENT_MODEL_INPUT_STANDARDISATION_H_
#define EQUIFL_CLIENT_MODEL_INPUT_STANDARDISATION_H_

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <vector>

#include "absl/status/statusor.h"
#include "client/data/modality_kind.h"
#include "client/model/dataset.h"
#include "client/model/model_options.h"

namespace equifl::client {

class InputStandardisationImpl : public torch::nn::Module {
 public:
  //! The identity on `features` features (shift 0, scale 1).
  explicit InputStandardisationImpl(int64_t features);

  //! (values - shift) * scale over the last dimension (float32 values).
  at::Tensor forward(const at::Tensor& values) const;

 private:
  at::Tensor shift_;
  at::Tensor scale_;
};
TORCH_MODULE(InputStandardisation);

//! Whether the model standardises a modality of `kind` (float sequences and vectors).
bool IsStandardisedKind(ModalityKind kind);

//! The moments of `dataset` for every modality the model built from `options`
//! standardises, in the model's order (protocol::MomentValues' layout): the count
//! of feature vectors, their sums and their sums of squares, in float64. Samples
//! without the modality and frames past a sequence's length are left out. Empty
//! when the model standardises nothing; an error names a modality the dataset
//! lacks.
absl::StatusOr<std::vector<double>> MeasureFeatureMoments(const ModelOptions& options,
                                                          const Dataset& dataset);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MODEL_INPUT_STANDARDISATION_H_
