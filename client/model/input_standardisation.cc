#include "client/model/input_standardisation.h"

#include <torch/torch.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "protocol/torch/torch_status.h"

namespace equifl::client {

InputStandardisationImpl::InputStandardisationImpl(int64_t features)
    : shift_(register_buffer("shift", torch::zeros({features}))),
      scale_(register_buffer("scale", torch::ones({features}))) {}

at::Tensor InputStandardisationImpl::forward(const at::Tensor& values) const {
  return (values - shift_) * scale_;
}

bool IsStandardisedKind(ModalityKind kind) {
  return kind == ModalityKind::kSequence || kind == ModalityKind::kVector;
}

absl::StatusOr<std::vector<double>> MeasureFeatureMoments(const ModelOptions& options,
                                                          const Dataset& dataset) {
  std::vector<double> moments;
  if (!options.standardise_features) return moments;
  for (const ModalitySpec& spec : options.modalities) {
    if (!IsStandardisedKind(spec.kind)) continue;
    const auto column =
        std::find_if(dataset.modalities.begin(), dataset.modalities.end(),
                     [&](const ModalityFeatures& features) { return features.name == spec.name; });
    if (column == dataset.modalities.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the data has no modality '", spec.name, "' to standardise"));
    }
    const int64_t index = column - dataset.modalities.begin();
    double count = 0;
    at::Tensor sums = torch::zeros({spec.input_dim}, torch::kDouble);
    at::Tensor squares = torch::zeros({spec.input_dim}, torch::kDouble);
    EQUIFL_RETURN_IF_ERROR(
        protocol::TorchCall(absl::StrCat("measuring the moments of '", spec.name, "'"), [&] {
          torch::NoGradGuard no_grad;
          // In slices of samples, so a long float16 sequence is widened a slice at a time.
          constexpr int64_t kSlice = 1024;
          for (int64_t start = 0; start < dataset.size(); start += kSlice) {
            const int64_t end = std::min(dataset.size(), start + kSlice);
            at::Tensor values = column->values.slice(0, start, end).cpu().to(torch::kDouble);
            at::Tensor valid = dataset.present.slice(0, start, end).select(1, index).cpu();
            if (values.dim() == 3) {  // a sample's valid frames
              const at::Tensor lengths = column->lengths.slice(0, start, end).cpu();
              valid = valid.view({-1, 1}).logical_and(torch::arange(values.size(1)).view({1, -1}) <
                                                      lengths.view({-1, 1}));
            }
            const at::Tensor vectors = values.index({valid});  // [K, D]
            count += static_cast<double>(vectors.size(0));
            sums += vectors.sum(0);
            squares += vectors.square().sum(0);
          }
        }));
    moments.push_back(count);
    const double* sum = sums.data_ptr<double>();
    const double* square = squares.data_ptr<double>();
    moments.insert(moments.end(), sum, sum + spec.input_dim);
    moments.insert(moments.end(), square, square + spec.input_dim);
  }
  return moments;
}

}  // namespace equifl::client
