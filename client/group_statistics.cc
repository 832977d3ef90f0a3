#include "client/group_statistics.h"

#include <cassert>

namespace equifl::client {

GroupStatisticsAccumulator::GroupStatisticsAccumulator(int64_t num_classes)
    : num_classes_(static_cast<uint32_t>(num_classes)) {
  assert(num_classes > 0);
}

void GroupStatisticsAccumulator::Add(int64_t language, int64_t group, double loss, int64_t label,
                                     int64_t prediction) {
  assert(label >= 0 && label < num_classes_ && prediction >= 0 && prediction < num_classes_);
  auto [entry, inserted] = sums_.try_emplace({language, group});
  fairness::GroupStatistics& statistics = entry->second;
  if (inserted) {
    statistics.num_classes = num_classes_;
    statistics.confusion.assign(static_cast<size_t>(num_classes_) * num_classes_, 0);
  }
  statistics.loss_sum += loss;
  statistics.loss_square_sum += loss * loss;
  ++statistics.count;
  ++statistics.confusion[static_cast<size_t>(label * num_classes_ + prediction)];
}

std::string NameOf(const std::vector<std::string>& names, int64_t index) {
  return index >= 0 && index < static_cast<int64_t>(names.size()) ? names[index]
                                                                  : std::to_string(index);
}

fairness::StatisticsTable NamedStatistics(const GroupSums& sums,
                                          const std::vector<std::string>& languages,
                                          const std::vector<std::string>& groups,
                                          const std::string& view) {
  fairness::StatisticsTable table;
  for (const auto& [key, statistics] : sums) {
    table[fairness::Cell{NameOf(languages, key.language), view, ""}][NameOf(groups, key.group)] =
        statistics;
  }
  return table;
}

}  // namespace equifl::client
