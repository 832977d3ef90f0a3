#include "client/model/dataset.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"

namespace equifl::client {
namespace {

absl::Status CheckColumn(const at::Tensor& column, const char* name, int64_t samples,
                         at::ScalarType type) {
  if (!column.defined()) {
    return absl::InvalidArgumentError(absl::StrCat("dataset has no '", name, "' column"));
  }
  if (column.scalar_type() != type || column.dim() < 1 || column.size(0) != samples) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset column '", name, "' must be ", c10::toString(type), " with ", samples,
        " rows; it is ", c10::toString(column.scalar_type()), " ", c10::str(column.sizes())));
  }
  return absl::OkStatus();
}

}  // namespace

int64_t Dataset::size() const { return label.defined() ? label.size(0) : 0; }

absl::Status Dataset::Validate() const {
  const int64_t samples = size();
  if (absl::Status status = CheckColumn(label, "label", samples, at::kLong); !status.ok()) {
    return status;
  }
  for (const auto& [column, name] : {std::pair{&group, "group"}, {&language, "language"}}) {
    if (absl::Status status = CheckColumn(*column, name, samples, at::kLong); !status.ok()) {
      return status;
    }
  }
  if (absl::Status status = CheckColumn(present, "present", samples, at::kBool); !status.ok()) {
    return status;
  }
  if (present.dim() != 2 || present.size(1) != static_cast<int64_t>(modalities.size())) {
    return absl::InvalidArgumentError(absl::StrCat("dataset column 'present' must be [", samples,
                                                   ", ", modalities.size(), "]; it is ",
                                                   c10::str(present.sizes())));
  }
  for (const ModalityFeatures& modality : modalities) {
    const at::Tensor& values = modality.values;
    const bool tokens = values.defined() && values.scalar_type() == at::kLong;
    const bool images = values.defined() && values.scalar_type() == at::kByte;
    const bool floats = values.defined() &&
                        (values.scalar_type() == at::kFloat || values.scalar_type() == at::kHalf);
    const bool shaped =
        (floats && (values.dim() == 2 || values.dim() == 3)) || (tokens && values.dim() == 2) ||
        (images && values.dim() == 5 && values.size(2) == values.size(3) && values.size(4) == 3);
    if (!shaped || values.size(0) != samples) {
      return absl::InvalidArgumentError(absl::StrCat(
          "modality '", modality.name, "' must be float32 or float16 [", samples, ", T, D] or [",
          samples, ", D], int64 [", samples, ", T] (tokens) or uint8 [", samples,
          ", T, D, D, 3] (images); it is ",
          values.defined()
              ? absl::StrCat(c10::toString(values.scalar_type()), " ", c10::str(values.sizes()))
              : "missing"));
    }
    if (values.dim() != 2 || tokens) {
      if (absl::Status status = CheckColumn(modality.lengths, (modality.name + " lengths").c_str(),
                                            samples, at::kLong);
          !status.ok()) {
        return status;
      }
    }
  }
  return absl::OkStatus();
}

Dataset Dataset::Select(const at::Tensor& indices) const {
  Dataset subset;
  for (const ModalityFeatures& modality : modalities) {
    subset.modalities.push_back(
        {modality.name, modality.values.index_select(0, indices),
         modality.lengths.defined() ? modality.lengths.index_select(0, indices) : at::Tensor()});
  }
  subset.present = present.index_select(0, indices);
  subset.label = label.index_select(0, indices);
  subset.group = group.index_select(0, indices);
  subset.language = language.index_select(0, indices);
  return subset;
}

}  // namespace equifl::client
