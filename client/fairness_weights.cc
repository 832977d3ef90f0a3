#include "client/fairness_weights.h"

#include <torch/torch.h>

#include "client/group_statistics.h"

namespace equifl::client {

at::Tensor DirectiveSampleWeights(const fairness::FairnessDirective& directive,
                                  const Dataset& dataset, const std::vector<std::string>& languages,
                                  const std::vector<std::string>& groups, const std::string& view) {
  const int64_t samples = dataset.size();
  at::Tensor weights = torch::zeros({samples}, torch::kDouble);
  if (samples == 0 || directive.weights.empty()) return weights;
  const at::Tensor language = dataset.language.to(at::kCPU).contiguous();
  const at::Tensor group = dataset.group.to(at::kCPU).contiguous();
  // One lookup per (language, group) pair present, then a gather.
  const int64_t language_count = language.max().item<int64_t>() + 1;
  const int64_t group_count = group.max().item<int64_t>() + 1;
  at::Tensor table = torch::zeros({language_count * group_count}, torch::kDouble);
  double* entries = table.data_ptr<double>();
  for (int64_t l = 0; l < language_count; ++l) {
    for (int64_t g = 0; g < group_count; ++g) {
      entries[l * group_count + g] = fairness::DirectiveWeight(
          directive, fairness::Cell{NameOf(languages, l), view, ""}, NameOf(groups, g));
    }
  }
  return table.index_select(0, language * group_count + group);
}

at::Tensor BalancedSampleWeights(const Dataset& dataset) {
  const int64_t samples = dataset.size();
  if (samples == 0) return torch::ones({0}, torch::kFloat);
  const at::Tensor group = dataset.group.to(at::kCPU);
  const at::Tensor counts = torch::bincount(group).to(torch::kDouble);
  const int64_t present = counts.gt(0).sum().item<int64_t>();
  const at::Tensor per_group = torch::where(
      counts > 0, static_cast<double>(samples) / (present * counts), torch::zeros_like(counts));
  return per_group.index_select(0, group).to(torch::kFloat);
}

CappedSampleWeights CapAndRenormalise(const at::Tensor& weights, double cap) {
  CappedSampleWeights capped;
  const int64_t samples = weights.numel();
  at::Tensor clipped = weights.to(at::kDouble).clamp_min(0);
  if (cap > 0) clipped = clipped.clamp_max(cap);
  capped.total = clipped.sum().item<double>();
  if (!(capped.total > 0)) {
    capped.loss_weights = torch::ones({samples}, torch::kFloat);
    capped.total = static_cast<double>(samples);
    return capped;
  }
  const at::Tensor renormalised = clipped * (static_cast<double>(samples) / capped.total);
  if (cap <= 0 || renormalised.max().item<double>() <= cap) {
    capped.loss_weights = renormalised.to(at::kFloat);
    return capped;
  }
  const at::Tensor draws = (renormalised / cap).clamp_min(1);
  const double mean_draw = draws.mean().item<double>();
  capped.loss_weights = (renormalised / draws * mean_draw).to(at::kFloat);
  capped.draw_weights = draws.to(at::kFloat);
  return capped;
}

}  // namespace equifl::client
