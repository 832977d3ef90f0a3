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
  const at::Tensor losses = fusion.losses.to(at::kCPU).to(at::kDouble).contiguous();
  const at::Tensor labels = dataset.label.to(at::kCPU).to(at::kLong).contiguous();
  const at::Tensor language = dataset.language.to(at::kCPU).to(at::kLong).contiguous();
  const at::Tensor group = dataset.group.to(at::kCPU).to(at::kLong).contiguous();
  const double* loss = losses.data_ptr<double>();
  const int64_t* label = labels.data_ptr<int64_t>();
  const int64_t* sample_language = language.data_ptr<int64_t>();
  const int64_t* sample_group = group.data_ptr<int64_t>();
  const int64_t* prediction = predictions.data_ptr<int64_t>();
  for (int64_t i = 0; i < samples; ++i) {
    accumulator.Add(sample_language[i], sample_group[i], loss[i], label[i], prediction[i]);
  }
  return NamedStatistics(accumulator.Report(), languages, groups, view);
}

}  // namespace equifl::client
