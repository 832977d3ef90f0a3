#include "fairness/statistics_sum.h"

namespace equifl::fairness {
namespace {

// Whether `cell` belongs to the view every sample is counted in once.
bool InFusionView(const Cell& cell) {
  return cell.modality.empty() || cell.modality == kFusionView;
}

}  // namespace

absl::Status StatisticsSum::Add(const StatisticsTable& statistics) {
  return AddInto(table_, statistics);
}

absl::Status StatisticsSum::CheckAdd(const StatisticsTable& statistics) const {
  return CheckAddable(table_, statistics);
}

uint64_t StatisticsSum::samples() const {
  uint64_t total = 0;
  for (const auto& [cell, groups] : table_) {
    if (!InFusionView(cell)) continue;
    for (const auto& [group, statistics] : groups) total += statistics.count;
  }
  return total;
}

double StatisticsSum::mean_loss() const {
  double loss = 0;
  for (const auto& [cell, groups] : table_) {
    if (!InFusionView(cell)) continue;
    for (const auto& [group, statistics] : groups) loss += statistics.loss_sum;
  }
  const uint64_t count = samples();
  return count == 0 ? 0 : loss / static_cast<double>(count);
}

std::optional<double> StatisticsSum::accuracy() const {
  uint64_t correct = 0;
  uint64_t total = 0;
  for (const auto& [cell, groups] : table_) {
    if (!InFusionView(cell)) continue;
    for (const auto& [group, statistics] : groups) {
      const uint32_t classes = statistics.num_classes;
      for (uint32_t truth = 0; truth < classes; ++truth) {
        for (uint32_t predicted = 0; predicted < classes; ++predicted) {
          const uint64_t count = statistics.confusion[truth * classes + predicted];
          total += count;
          if (truth == predicted) correct += count;
        }
      }
    }
  }
  if (total == 0) return std::nullopt;
  return static_cast<double>(correct) / static_cast<double>(total);
}

}  // namespace equifl::fairness
