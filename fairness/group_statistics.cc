#include "fairness/group_statistics.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace equifl::fairness {
namespace {

absl::Status CheckShape(const GroupStatistics& statistics) {
  const uint64_t classes = statistics.num_classes;
  if (statistics.confusion.size() != classes * classes) {
    return absl::InvalidArgumentError(
        absl::StrCat("group statistics carry ", statistics.confusion.size(),
                     " confusion counts for ", classes, " classes; expected ", classes * classes));
  }
  return absl::OkStatus();
}

absl::Status CheckCompatible(const GroupStatistics& sum, const GroupStatistics& addend) {
  if (absl::Status status = CheckShape(sum); !status.ok()) return status;
  if (absl::Status status = CheckShape(addend); !status.ok()) return status;
  if (!(addend.loss_sum >= 0) || std::isinf(addend.loss_sum)) {
    return absl::InvalidArgumentError(absl::StrCat("group statistics carry a loss sum of ",
                                                   addend.loss_sum,
                                                   "; a sum of losses is finite and not negative"));
  }
  if (!(addend.loss_square_sum >= 0) || std::isinf(addend.loss_square_sum)) {
    return absl::InvalidArgumentError(
        absl::StrCat("group statistics carry a sum of squared losses of ", addend.loss_square_sum,
                     "; a sum of squares is finite and not negative"));
  }
  if (sum.num_classes != 0 && addend.num_classes != 0 && sum.num_classes != addend.num_classes) {
    return absl::InvalidArgumentError(absl::StrCat("statistics report ", addend.num_classes,
                                                   " classes where others reported ",
                                                   sum.num_classes));
  }
  return absl::OkStatus();
}

void AddUnchecked(GroupStatistics& sum, const GroupStatistics& addend) {
  sum.loss_sum += addend.loss_sum;
  sum.loss_square_sum += addend.loss_square_sum;
  sum.count += addend.count;
  sum.noise.count += addend.noise.count;
  sum.noise.loss_sum += addend.noise.loss_sum;
  sum.noise.loss_square_sum += addend.noise.loss_square_sum;
  sum.noise.confusion += addend.noise.confusion;
  if (addend.num_classes == 0 ||
      addend.confusion.size() != addend.num_classes * addend.num_classes) {
    return;
  }
  if (sum.num_classes == 0) {
    sum.num_classes = addend.num_classes;
    sum.confusion.assign(addend.confusion.size(), 0);
  }
  if (sum.num_classes != addend.num_classes) return;  // Checked callers never get here.
  for (size_t i = 0; i < addend.confusion.size(); ++i) sum.confusion[i] += addend.confusion[i];
}

}  // namespace

std::string CellName(const Cell& cell) {
  std::string name = absl::StrCat(cell.language.empty() ? "-" : cell.language, "/", cell.modality);
  if (!cell.client.empty()) absl::StrAppend(&name, "/", cell.client);
  return name;
}

std::optional<double> NumberAfterPrefix(std::string_view view, std::string_view prefix) {
  double number = 0;
  if (!view.starts_with(prefix)) return std::nullopt;
  const std::string_view rest = view.substr(prefix.size());
  if (!absl::SimpleAtod(absl::string_view(rest.data(), rest.size()), &number) ||
      !std::isfinite(number)) {
    return std::nullopt;
  }
  return number;
}

absl::Status AddInto(GroupStatistics& sum, const GroupStatistics& addend) {
  if (absl::Status status = CheckCompatible(sum, addend); !status.ok()) return status;
  AddUnchecked(sum, addend);
  return absl::OkStatus();
}

absl::Status CheckAddable(const StatisticsTable& sum, const StatisticsTable& addend) {
  for (const auto& [cell, groups] : addend) {
    const auto existing_cell = sum.find(cell);
    for (const auto& [group, statistics] : groups) {
      static const GroupStatistics kEmpty;
      const GroupStatistics* existing = &kEmpty;
      if (existing_cell != sum.end()) {
        if (auto found = existing_cell->second.find(group); found != existing_cell->second.end()) {
          existing = &found->second;
        }
      }
      if (absl::Status status = CheckCompatible(*existing, statistics); !status.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("cell (language '", cell.language, "', modality '", cell.modality,
                         "'), group '", group, "': ", status.message()));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status AddInto(StatisticsTable& sum, const StatisticsTable& addend) {
  if (absl::Status status = CheckAddable(sum, addend); !status.ok()) return status;
  for (const auto& [cell, groups] : addend) {
    for (const auto& [group, statistics] : groups) AddUnchecked(sum[cell][group], statistics);
  }
  return absl::OkStatus();
}

StatisticsTable WithoutClients(const StatisticsTable& table) {
  StatisticsTable pooled;
  for (const auto& [cell, groups] : table) {
    GroupsOfCell& target = pooled[Cell{cell.language, cell.modality, ""}];
    for (const auto& [group, statistics] : groups) AddUnchecked(target[group], statistics);
  }
  return pooled;
}

StatisticsTable WithClient(const StatisticsTable& table, const std::string& client) {
  StatisticsTable keyed;
  for (const auto& [cell, groups] : table) {
    keyed.emplace(Cell{cell.language, cell.modality, client}, groups);
  }
  return keyed;
}

StatisticsTable OfViews(const StatisticsTable& table, const std::vector<std::string>& views) {
  StatisticsTable kept;
  for (const auto& [cell, groups] : table) {
    if (std::find(views.begin(), views.end(), cell.modality) != views.end()) {
      kept.emplace(cell, groups);
    }
  }
  return kept;
}

GroupsOfCell PoolModality(const StatisticsTable& table, const std::string& modality) {
  GroupsOfCell pooled;
  for (const auto& [cell, groups] : table) {
    if (cell.modality != modality) continue;
    for (const auto& [group, statistics] : groups) AddUnchecked(pooled[group], statistics);
  }
  return pooled;
}

}  // namespace equifl::fairness
