#include "client/model/model_options.h"

#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace equifl::client {
namespace {

absl::Status OutOfRange(absl::string_view field, int64_t value, int64_t low, int64_t high) {
  return absl::InvalidArgumentError(
      absl::StrCat("model ", field, " is ", value, "; allowed: ", low, " to ", high));
}

}  // namespace

int64_t ModelOptions::ModalityIndex(absl::string_view name) const {
  for (size_t i = 0; i < modalities.size(); ++i) {
    if (modalities[i].name == name) return static_cast<int64_t>(i);
  }
  return -1;
}

absl::Status ModelOptions::Validate() const {
  if (modalities.empty()) {
    return absl::InvalidArgumentError("model modalities is empty; allowed: at least one modality");
  }
  std::set<std::string> names;
  for (const ModalitySpec& modality : modalities) {
    if (modality.name.empty() || modality.name.find('.') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("model modality name '", modality.name,
                       "' is not allowed; allowed: a non-empty name without '.'"));
    }
    if (!names.insert(modality.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("model modality '", modality.name, "' appears twice; names must be unique"));
    }
    EQUIFL_RETURN_IF_ERROR(
        CheckNamed(absl::StrCat("model modality '", modality.name, "' kind"), modality.kind));
    if (modality.input_dim < 1 || modality.input_dim > kMaxInputDim) {
      return OutOfRange(absl::StrCat("modality '", modality.name, "' input_dim"),
                        modality.input_dim, 1, kMaxInputDim);
    }
  }
  EQUIFL_RETURN_IF_ERROR(CheckNamed("model architecture", architecture));
  if (architecture == Architecture::kLinear && adversary) {
    return absl::InvalidArgumentError(
        "the adversary head needs model architecture multimodal; the linear model has no "
        "representation to debias");
  }
  if (hidden_size < 1 || hidden_size > kMaxHiddenSize) {
    return OutOfRange("hidden_size", hidden_size, 1, kMaxHiddenSize);
  }
  EQUIFL_RETURN_IF_ERROR(CheckNamed("model encoder", encoder));
  if (encoder_depth < 1 || encoder_depth > kMaxDepth) {
    return OutOfRange("encoder_depth", encoder_depth, 1, kMaxDepth);
  }
  if (conv_kernel_size < 1 || conv_kernel_size > 63 || conv_kernel_size % 2 == 0) {
    return absl::InvalidArgumentError(absl::StrCat("model conv_kernel_size is ", conv_kernel_size,
                                                   "; allowed: an odd number from 1 to 63"));
  }
  EQUIFL_RETURN_IF_ERROR(CheckNamed("model fusion", fusion));
  if (attention_heads < 1 || attention_heads > hidden_size) {
    return OutOfRange("attention_heads", attention_heads, 1, hidden_size);
  }
  if (hidden_size % attention_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat("model attention_heads is ", attention_heads,
                                                   "; allowed: a divisor of hidden_size (",
                                                   hidden_size, ")"));
  }
  if (!(dropout >= 0.0 && dropout < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model dropout is ", dropout, "; allowed: 0 <= dropout < 1"));
  }
  if (num_classes < 2 || num_classes > kMaxHiddenSize) {
    return OutOfRange("num_classes", num_classes, 2, kMaxHiddenSize);
  }
  if (num_groups < 1 || num_groups > kMaxHiddenSize) {
    return OutOfRange("num_groups", num_groups, 1, kMaxHiddenSize);
  }
  if (adversary && num_groups < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("model num_groups is ", num_groups,
                     " with the adversary on; allowed: at least 2 groups to predict"));
  }
  if (!std::isfinite(adversary_lambda) || adversary_lambda < 0.0) {
    return absl::InvalidArgumentError(absl::StrCat("model adversary_lambda is ", adversary_lambda,
                                                   "; allowed: a finite value >= 0"));
  }
  return absl::OkStatus();
}

}  // namespace equifl::client
