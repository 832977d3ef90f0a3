#include "protocol/feature_moments.h"

#include <cfloat>
#include <cmath>
#include <cstring>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace equifl::protocol {
namespace {

constexpr char kShift[] = "shift";
constexpr char kScale[] = "scale";
constexpr double kMaxCount = 1099511627776.0;  // 2^40, as for every count a client sends.

std::string TensorName(const std::string& modality, absl::string_view which) {
  return absl::StrCat(kStandardisationModule, ".", modality, ".", which);
}

//! The modality of a "standardisation.<modality>.shift" name; empty otherwise.
absl::string_view ShiftModality(absl::string_view name) {
  const std::string prefix = absl::StrCat(kStandardisationModule, ".");
  const std::string suffix = absl::StrCat(".", kShift);
  if (!absl::StartsWith(name, prefix) || !absl::EndsWith(name, suffix)) return {};
  name.remove_prefix(prefix.size());
  name.remove_suffix(suffix.size());
  return name.find('.') == absl::string_view::npos ? name : absl::string_view();
}

}  // namespace

std::vector<StandardisedModality> StandardisedModalities(std::span<const TensorView> model) {
  std::vector<StandardisedModality> modalities;
  for (const TensorView& tensor : model) {
    const absl::string_view modality = ShiftModality(tensor.name);
    if (modality.empty() || tensor.data_type != v1::DATA_TYPE_FLOAT32 || tensor.shape.size() != 1) {
      continue;
    }
    modalities.push_back({std::string(modality), static_cast<size_t>(tensor.shape[0])});
  }
  return modalities;
}

size_t MomentValues(std::span<const StandardisedModality> modalities) {
  size_t values = 0;
  for (const StandardisedModality& modality : modalities) values += 1 + 2 * modality.features;
  return values;
}

absl::Status CheckMoments(std::span<const StandardisedModality> modalities,
                          std::span<const double> moments) {
  if (moments.size() != MomentValues(modalities)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the feature moments have ", moments.size(), " values; the model's ", modalities.size(),
        " standardised modalities need ", MomentValues(modalities)));
  }
  size_t at = 0;
  for (const StandardisedModality& modality : modalities) {
    const double count = moments[at];
    const std::span<const double> sums = moments.subspan(at + 1, modality.features);
    const std::span<const double> squares =
        moments.subspan(at + 1 + modality.features, modality.features);
    at += 1 + 2 * modality.features;
    if (!(count >= 0 && count <= kMaxCount && std::floor(count) == count)) {
      return absl::InvalidArgumentError(absl::StrCat("the feature moments of '", modality.name,
                                                     "' count ", count,
                                                     " vectors; a count is a whole number in "
                                                     "[0, 2^40]"));
    }
    for (size_t d = 0; d < modality.features; ++d) {
      if (!std::isfinite(sums[d]) || !std::isfinite(squares[d]) || squares[d] < 0) {
        return absl::InvalidArgumentError(absl::StrCat("the feature moments of '", modality.name,
                                                       "' feature ", d, " are not finite sums (",
                                                       sums[d], ", ", squares[d], ")"));
      }
      // Cauchy–Schwarz: (Σx)² <= n·Σx², with room for float64 rounding and for the
      // 2^-32 quantum of a securely aggregated sum.
      const long double lhs = static_cast<long double>(sums[d]) * sums[d];
      const long double rhs = static_cast<long double>(count) * squares[d];
      if (lhs > rhs * (1 + 1e-9L) + 1e-6L * (count + 1)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the feature moments of '", modality.name, "' feature ", d,
            " are impossible: the square of the sum exceeds the count times the sum of squares"));
      }
    }
  }
  return absl::OkStatus();
}

std::vector<double> Standardisation::Scale() const {
  std::vector<double> scale(deviation.size(), 1.0);
  for (size_t d = 0; d < deviation.size(); ++d) {
    // A spread float32 cannot resolve around the mean is rounding, not signal.
    const double resolution = std::max<double>(10 * FLT_EPSILON * std::fabs(mean[d]), FLT_MIN);
    if (deviation[d] > resolution) scale[d] = 1.0 / deviation[d];
  }
  return scale;
}

absl::StatusOr<std::vector<Standardisation>> StandardisationFromMoments(
    std::span<const StandardisedModality> modalities, std::span<const double> moments) {
  if (absl::Status checked = CheckMoments(modalities, moments); !checked.ok()) return checked;
  std::vector<Standardisation> result;
  size_t at = 0;
  for (const StandardisedModality& modality : modalities) {
    Standardisation& standardisation = result.emplace_back();
    standardisation.modality = modality.name;
    standardisation.count = moments[at];
    standardisation.mean.assign(modality.features, 0.0);
    standardisation.deviation.assign(modality.features, 1.0);
    const long double count = moments[at];
    for (size_t d = 0; count > 0 && d < modality.features; ++d) {
      const long double mean = moments[at + 1 + d] / count;
      const long double variance = moments[at + 1 + modality.features + d] / count - mean * mean;
      standardisation.mean[d] = static_cast<double>(mean);
      standardisation.deviation[d] = static_cast<double>(std::sqrt(std::max(variance, 0.0L)));
    }
    at += 1 + 2 * modality.features;
  }
  return result;
}

absl::Status WriteStandardisation(std::span<const Standardisation> standardisation,
                                  std::span<const MutableTensorView> model) {
  std::map<std::string, const MutableTensorView*> by_name;
  for (const MutableTensorView& tensor : model) by_name.emplace(tensor.name, &tensor);
  const auto find = [&](const Standardisation& modality,
                        absl::string_view which) -> absl::StatusOr<const MutableTensorView*> {
    const std::string name = TensorName(modality.modality, which);
    const auto found = by_name.find(name);
    if (found == by_name.end() || found->second->data_type != v1::DATA_TYPE_FLOAT32 ||
        found->second->bytes.size() != modality.mean.size() * sizeof(float)) {
      return absl::InvalidArgumentError(absl::StrCat("the model has no float32 tensor '", name,
                                                     "' of ", modality.mean.size(), " values"));
    }
    return found->second;
  };
  for (const Standardisation& modality : standardisation) {  // check everything first
    for (const absl::string_view which : {absl::string_view(kShift), absl::string_view(kScale)}) {
      if (absl::StatusOr<const MutableTensorView*> tensor = find(modality, which); !tensor.ok()) {
        return tensor.status();
      }
    }
  }
  for (const Standardisation& modality : standardisation) {
    const std::vector<double> scale = modality.Scale();
    for (const absl::string_view which : {absl::string_view(kShift), absl::string_view(kScale)}) {
      const MutableTensorView& tensor = **find(modality, which);
      const std::vector<double>& values = which == kShift ? modality.mean : scale;
      for (size_t d = 0; d < values.size(); ++d) {
        const float value = static_cast<float>(values[d]);
        std::memcpy(tensor.bytes.data() + d * sizeof(float), &value, sizeof(float));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace equifl::protocol
