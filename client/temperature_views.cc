#include "client/temperature_views.h"

#include <ATen/ATen.h>

#include "client/group_statistics.h"

namespace equifl::client {

fairness::StatisticsTable TemperatureViewStatistics(const EvaluationResult& fusion,
                                                    const Dataset& dataset, double temperature,
                                                    const std::string& view,
                                                    const std::vector<std::string>& languages,
                                                    const std::vector<std::string>& groups) {
  const int64_t samples = fusion.probabilities.defined() ? fusion.probabilities.size(0) : 0;
  const int64_t classes = samples > 0 ? fusion.probabilities.size(1) : 0;
  GroupStatisticsAccumulator accumulator(classes);
  if (samples == 0) return NamedStatistics(accumulator.Report(), languages, groups, view);
  const at::Tensor logits =
      fusion.probabilities.to(at::kDouble).clamp_min(1e-45).log() / temperature;
  const at::Tensor labels = dataset.label.to(at::kCPU).to(at::kLong);
  const at::Tensor losses = logits.logsumexp(1) - logits.gather(1, labels.unsqueeze(1)).squeeze(1);
  AddSamples(losses, fusion.predictions.to(at::kLong), dataset, accumulator);
  return NamedStatistics(accumulator.Report(), languages, groups, view);
}

}  // namespace equifl::client
