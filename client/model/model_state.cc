#include "client/model/model_state.h"

#include <torch/torch.h>

#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "protocol/feature_moments.h"
#include "protocol/torch/torch_status.h"

namespace equifl::client {
namespace {

//! Every parameter and buffer of `module` by name (the tensors themselves).
std::vector<std::pair<std::string, at::Tensor>> StateTensors(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    tensors.emplace_back(item.key(), item.value());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    tensors.emplace_back(item.key(), item.value());
  }
  return tensors;
}

bool IsStandardisation(const std::string& name) {
  return absl::StartsWith(name, absl::StrCat(protocol::kStandardisationModule, "."));
}

//! What to change when a state and a model disagree on standardisation.
std::string StandardisationHint(bool state_standardises) {
  return absl::StrCat(
      "; the state's model ", state_standardises ? "standardises" : "does not standardise",
      " its features: set model.standardise_features: ", state_standardises ? "true" : "false",
      " as the run that made it did");
}

std::string Describe(const at::Tensor& tensor) {
  return absl::StrCat(std::string(c10::toString(tensor.scalar_type())), " ",
                      c10::str(tensor.sizes()));
}

}  // namespace

std::vector<protocol::NamedTensor> ExportState(const torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  std::vector<protocol::NamedTensor> state;
  for (auto& [name, tensor] : StateTensors(module)) {
    state.push_back({name, tensor.detach().clone()});
  }
  return state;
}

absl::Status LoadState(torch::nn::Module& module, const std::vector<protocol::NamedTensor>& state) {
  std::map<std::string, const at::Tensor*> incoming;
  for (const protocol::NamedTensor& named : state) {
    if (!incoming.emplace(named.name, &named.tensor).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("model state has tensor '", named.name, "' twice"));
    }
  }
  const std::vector<std::pair<std::string, at::Tensor>> targets = StateTensors(module);
  std::map<std::string, const at::Tensor*> known;
  for (const auto& [name, target] : targets) known.emplace(name, &target);
  for (const auto& [name, tensor] : incoming) {
    if (!known.contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("model state has tensor '", name, "', which the model does not have",
                       IsStandardisation(name) ? StandardisationHint(true) : ""));
    }
  }
  for (const auto& [name, target] : targets) {
    const auto found = incoming.find(name);
    if (found == incoming.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("model state lacks tensor '", name, "' (", Describe(target), ")",
                       IsStandardisation(name) ? StandardisationHint(false) : ""));
    }
    const at::Tensor& source = *found->second;
    if (!source.defined()) {
      return absl::InvalidArgumentError(
          absl::StrCat("model state tensor '", name, "' is undefined"));
    }
    if (source.scalar_type() != target.scalar_type() || !source.sizes().equals(target.sizes())) {
      return absl::InvalidArgumentError(absl::StrCat("model state tensor '", name, "' is ",
                                                     Describe(source), "; the model's is ",
                                                     Describe(target)));
    }
  }
  return protocol::TorchCall("loading the model state failed", [&] {
    torch::NoGradGuard no_grad;
    for (const auto& [name, target] : targets) {
      at::Tensor destination = target;
      destination.copy_(*incoming.at(name));
    }
  });
}

}  // namespace equifl::client
