#include "server/statistics_sum.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace equifl::server {
namespace {

std::tuple<std::string, std::string, std::string, std::string> KeyOf(
    const v1::GroupCellStatistics& cell) {
  return {cell.cell().language(), cell.cell().modality(), cell.cell().client_id(), cell.group()};
}

absl::Status CheckCell(const v1::GroupCellStatistics& cell) {
  const uint64_t classes = cell.num_classes();
  if (cell.confusion_size() != 0 &&
      static_cast<uint64_t>(cell.confusion_size()) != classes * classes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "statistics of group '", cell.group(), "' in language '", cell.cell().language(),
        "' carry ", cell.confusion_size(), " confusion counts for ", classes, " classes"));
  }
  if (!(cell.loss_sum() >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("statistics of group '", cell.group(),
                                                   "' carry a loss sum of ", cell.loss_sum()));
  }
  return absl::OkStatus();
}

// Whether the cell belongs to the view every sample is counted in once: the
// fusion of all modalities (named "fusion"; cells without a view count too).
bool InMainView(const v1::GroupCellStatistics& cell) {
  return cell.cell().modality().empty() || cell.cell().modality() == kMainView;
}

}  // namespace

absl::Status StatisticsSum::Add(const v1::GroupStatistics& statistics) {
  for (const v1::GroupCellStatistics& cell : statistics.cells()) {
    if (absl::Status status = CheckCell(cell); !status.ok()) return status;
    auto found = cells_.find(KeyOf(cell));
    if (found != cells_.end() && found->second.num_classes() != cell.num_classes()) {
      return absl::InvalidArgumentError(
          absl::StrCat("statistics of group '", cell.group(), "' report ", cell.num_classes(),
                       " classes where others reported ", found->second.num_classes()));
    }
  }
  for (const v1::GroupCellStatistics& cell : statistics.cells()) {
    auto [entry, inserted] = cells_.try_emplace(KeyOf(cell), cell);
    if (inserted) continue;
    v1::GroupCellStatistics& sum = entry->second;
    sum.set_loss_sum(sum.loss_sum() + cell.loss_sum());
    sum.set_sample_count(sum.sample_count() + cell.sample_count());
    if (sum.confusion_size() == 0) {
      *sum.mutable_confusion() = cell.confusion();
    } else if (cell.confusion_size() != 0) {
      for (int i = 0; i < cell.confusion_size(); ++i) {
        sum.set_confusion(i, sum.confusion(i) + cell.confusion(i));
      }
    }
  }
  return absl::OkStatus();
}

uint64_t StatisticsSum::samples() const {
  uint64_t total = 0;
  for (const auto& [key, cell] : cells_) {
    if (InMainView(cell)) total += cell.sample_count();
  }
  return total;
}

double StatisticsSum::mean_loss() const {
  double loss = 0;
  for (const auto& [key, cell] : cells_) {
    if (InMainView(cell)) loss += cell.loss_sum();
  }
  const uint64_t count = samples();
  return count == 0 ? 0 : loss / count;
}

std::optional<double> StatisticsSum::accuracy() const {
  uint64_t correct = 0;
  uint64_t total = 0;
  for (const auto& [key, cell] : cells_) {
    const uint32_t classes = cell.num_classes();
    if (cell.confusion_size() == 0 || !InMainView(cell)) continue;
    for (uint32_t truth = 0; truth < classes; ++truth) {
      for (uint32_t predicted = 0; predicted < classes; ++predicted) {
        const uint64_t count = cell.confusion(truth * classes + predicted);
        total += count;
        if (truth == predicted) correct += count;
      }
    }
  }
  if (total == 0) return std::nullopt;
  return static_cast<double>(correct) / total;
}

fairness::StatisticsTable StatisticsSum::ToTable() const {
  fairness::StatisticsTable table;
  for (const auto& [key, cell] : cells_) {
    fairness::GroupStatistics& group = table[fairness::Cell{
        cell.cell().language(), cell.cell().modality(), cell.cell().client_id()}][cell.group()];
    group.loss_sum = cell.loss_sum();
    group.count = cell.sample_count();
    if (cell.confusion_size() != 0) {
      group.num_classes = cell.num_classes();
      group.confusion.assign(cell.confusion().begin(), cell.confusion().end());
    }
  }
  return table;
}

v1::GroupStatistics StatisticsSum::ToProto() const {
  v1::GroupStatistics statistics;
  for (const auto& [key, cell] : cells_) *statistics.add_cells() = cell;
  return statistics;
}

}  // namespace equifl::server
