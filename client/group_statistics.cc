#include "client/group_statistics.h"

#include <cassert>

namespace equifl::client {

GroupStatisticsAccumulator::GroupStatisticsAccumulator(int64_t num_classes)
    : num_classes_(num_classes) {
  assert(num_classes > 0);
}

void GroupStatisticsAccumulator::Add(int64_t language, int64_t group, double loss, int64_t label,
                                     int64_t prediction) {
  assert(label >= 0 && label < num_classes_ && prediction >= 0 && prediction < num_classes_);
  auto [cell, inserted] = cells_.try_emplace({language, group});
  GroupCellStatistics& statistics = cell->second;
  if (inserted) {
    statistics.language = language;
    statistics.group = group;
    statistics.confusion.assign(static_cast<size_t>(num_classes_ * num_classes_), 0);
  }
  statistics.loss_sum += loss;
  ++statistics.count;
  ++statistics.confusion[static_cast<size_t>(label * num_classes_ + prediction)];
}

std::vector<GroupCellStatistics> GroupStatisticsAccumulator::Report() const {
  std::vector<GroupCellStatistics> cells;
  cells.reserve(cells_.size());
  for (const auto& [key, statistics] : cells_) cells.push_back(statistics);
  return cells;
}

}  // namespace equifl::client
