#include "client/decision_offset_views.h"

#include <ATen/ATen.h>

#include "client/group_statistics.h"

namespace equifl::client {

at::Tensor PredictionsWithOffset(const at::Tensor& probabilities, uint32_t positive_class,
                                 double offset) {
  at::Tensor scores = probabilities.to(at::kCPU).to(at::kDouble).clamp_min(1e-45).log();
  scores.select(1, positive_class).add_(offset);
  return scores.argmax(1).contiguous();
}

fairness::StatisticsTable DecisionOffsetViewStatistics(const EvaluationResult& fusion,
                                                       const Dataset& dataset,
                                                       uint32_t positive_class, double offset,
                                                       const std::string& view,
                                                       const std::vector<std::string>& languages,
                                                       const std::vector<std::string>& groups) {
  const int64_t samples = fusion.probabilities.defined() ? fusion.probabilities.size(0) : 0;
  const int64_t classes = samples > 0 ? fusion.probabilities.size(1) : 0;
  if (samples == 0 || positive_class >= classes) return {};
  GroupStatisticsAccumulator accumulator(classes);
  const at::Tensor predictions =
      PredictionsWithOffset(fusion.probabilities, positive_class, offset);
  AddSamples(fusion.losses.to(at::kCPU).to(at::kDouble), predictions, dataset, accumulator);
  return NamedStatistics(accumulator.Report(), languages, groups, view);
}

}  // namespace equifl::client
