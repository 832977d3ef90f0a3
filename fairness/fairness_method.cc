#include "fairness/fairness_method.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"

namespace equifl::fairness {
namespace {

constexpr std::array<std::pair<FairnessMethod, absl::string_view>, 7> kNames = {{
    {FairnessMethod::kFedAvg, "fedavg"},
    {FairnessMethod::kMinMaxGap, "minmax_gap"},
    {FairnessMethod::kQFedAvg, "qfedavg"},
    {FairnessMethod::kFedMinMax, "fedminmax"},
    {FairnessMethod::kFairFed, "fairfed"},
    {FairnessMethod::kAdversarial, "adversarial"},
    {FairnessMethod::kBalanced, "balanced"},
}};

}  // namespace

absl::string_view FairnessMethodName(FairnessMethod method) {
  for (const auto& [known, name] : kNames) {
    if (known == method) return name;
  }
  return "unknown";
}

absl::StatusOr<FairnessMethod> ParseFairnessMethod(absl::string_view name) {
  for (const auto& [method, known] : kNames) {
    if (known == name) return method;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown fairness method '", name, "'; allowed: ", FairnessMethodNames()));
}

std::string FairnessMethodNames() {
  std::string names;
  for (const auto& [method, name] : kNames) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", name);
  }
  return names;
}

}  // namespace equifl::fairness
