#include "aggregation/privacy/statistics_privacy.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "fairness/model_selection.h"

namespace equifl::aggregation {
namespace {

uint64_t ScaledDown(uint64_t count, double factor) {
  return static_cast<uint64_t>(std::floor(static_cast<double>(count) * factor));
}

// Keeps a group's confusion counts within its count (scaling them down together),
// so the bound holds whatever a client sent.
void LimitConfusion(fairness::GroupStatistics& group) {
  uint64_t total = 0;
  for (uint64_t count : group.confusion) total += count;
  if (total <= group.count) return;
  const double factor = static_cast<double>(group.count) / static_cast<double>(total);
  for (uint64_t& count : group.confusion) count = ScaledDown(count, factor);
}

// What the noise on the value at `index` of an entry is scaled by: L on the loss
// sum, L² on the sum of squares, 1 on counts.
double ValueScale(size_t index, double loss_clip) {
  return index == 0 ? loss_clip : index == 1 ? loss_clip * loss_clip : 1.0;
}

uint64_t RoundedCount(double noisy) {
  return noisy <= 0.5 ? 0 : static_cast<uint64_t>(std::llround(noisy));
}

// Noised confusion counts as counts: each rounded; a negative one becomes 0 and
// its mass is taken from the same row's positive wrong predictions (largest
// first), then from its right ones, so every row keeps its rounded noisy sum
// (clamping alone would inflate sparse rows and bias accuracies down) and the
// diagonal its noisy value while the row can pay.
std::vector<uint64_t> NonNegativeConfusion(std::span<const double> noised, uint32_t classes) {
  std::vector<uint64_t> confusion(noised.size(), 0);
  for (uint32_t truth = 0; truth < classes; ++truth) {
    std::vector<int64_t> row(classes);
    int64_t debt = 0;
    for (uint32_t predicted = 0; predicted < classes; ++predicted) {
      row[predicted] = std::llround(noised[static_cast<size_t>(truth) * classes + predicted]);
      if (row[predicted] < 0) {
        debt -= row[predicted];
        row[predicted] = 0;
      }
    }
    std::vector<uint32_t> payers;
    for (uint32_t predicted = 0; predicted < classes; ++predicted) {
      if (predicted != truth) payers.push_back(predicted);
    }
    std::sort(payers.begin(), payers.end(),
              [&](uint32_t a, uint32_t b) { return row[a] > row[b]; });
    payers.push_back(truth);
    for (uint32_t payer : payers) {
      const int64_t paid = std::min(debt, row[payer]);
      row[payer] -= paid;
      debt -= paid;
    }
    for (uint32_t predicted = 0; predicted < classes; ++predicted) {
      confusion[static_cast<size_t>(truth) * classes + predicted] =
          static_cast<uint64_t>(row[predicted]);
    }
  }
  return confusion;
}

}  // namespace

size_t BudgetedViews(const std::vector<std::string>& views) {
  return static_cast<size_t>(std::count_if(views.begin(), views.end(), [](const std::string& view) {
    return !fairness::SelectionShareOfView(view);
  }));
}

void BoundContribution(fairness::StatisticsTable& table, const StatisticsPrivacyOptions& options) {
  // The view whose budget of samples a cell's view spends.
  const auto budget = [](const fairness::Cell& cell) {
    return fairness::SelectionShareOfView(cell.modality) ? std::string(fairness::kFusionView)
                                                         : cell.modality;
  };
  std::map<std::string, uint64_t> view_samples;
  for (const auto& [cell, groups] : table) {
    for (const auto& [group, statistics] : groups) view_samples[budget(cell)] += statistics.count;
  }
  const double clip = options.loss_clip;
  for (auto& [cell, groups] : table) {
    const uint64_t samples = view_samples[budget(cell)];
    const double factor =
        samples > options.samples_per_view
            ? static_cast<double>(options.samples_per_view) / static_cast<double>(samples)
            : 1.0;
    for (auto& [group, statistics] : groups) {
      if (factor < 1) {
        statistics.count = ScaledDown(statistics.count, factor);
        for (uint64_t& count : statistics.confusion) count = ScaledDown(count, factor);
        statistics.loss_sum *= factor;
        statistics.loss_square_sum *= factor;
      }
      LimitConfusion(statistics);
      const double count = static_cast<double>(statistics.count);
      statistics.loss_sum = std::clamp(statistics.loss_sum, 0.0, clip * count);
      statistics.loss_square_sum = std::clamp(statistics.loss_square_sum, 0.0, clip * clip * count);
    }
  }
}

double StatisticsSensitivity(const StatisticsPrivacyOptions& options, size_t views) {
  return 2.0 * static_cast<double>(options.samples_per_view) *
         std::sqrt(2.0 * static_cast<double>(views));
}

fairness::SumNoise StatisticsNoiseVariances(const StatisticsPrivacyOptions& options, size_t views) {
  const double deviation = options.noise_multiplier * StatisticsSensitivity(options, views);
  return NoiseVariancesPerKind(deviation * deviation, options.loss_clip);
}

fairness::SumNoise NoiseVariancesPerKind(double count_variance, double loss_clip) {
  const double loss_variance = count_variance * loss_clip * loss_clip;
  return {.count = count_variance,
          .loss_sum = loss_variance,
          .loss_square_sum = loss_variance * loss_clip * loss_clip,
          .confusion = count_variance};
}

absl::Status CheckOnGrid(const fairness::StatisticsTable& table, const StatisticsLayout& grid) {
  const size_t confusion_size = static_cast<size_t>(grid.num_classes) * grid.num_classes;
  for (const auto& [cell, groups] : table) {
    for (const auto& [name, group] : groups) {
      if (!cell.client.empty() || !absl::c_linear_search(grid.languages, cell.language) ||
          !absl::c_linear_search(grid.views, cell.modality) ||
          !absl::c_linear_search(grid.groups, name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("group '", name, "' of cell ", fairness::CellName(cell),
                         " is not on the run's grid of languages, views and groups"));
      }
      if (!group.confusion.empty() && group.confusion.size() != confusion_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("group '", name, "' of cell ", fairness::CellName(cell), " carries ",
                         group.confusion.size(), " confusion counts; the run's ", grid.num_classes,
                         " classes need ", confusion_size));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> GridValues(const fairness::StatisticsTable& table,
                                               const StatisticsLayout& grid) {
  EQUIFL_RETURN_IF_ERROR(CheckOnGrid(table, grid));
  std::vector<double> values(grid.Values(), 0.0);
  size_t offset = 0;
  for (const std::string& language : grid.languages) {
    for (const std::string& view : grid.views) {
      const auto found_cell = table.find(fairness::Cell{language, view, ""});
      for (const std::string& name : grid.groups) {
        double* entry = values.data() + offset;
        offset += grid.EntryValues();
        if (found_cell == table.end()) continue;
        const auto found = found_cell->second.find(name);
        if (found == found_cell->second.end()) continue;
        const fairness::GroupStatistics& group = found->second;
        entry[0] = group.loss_sum;
        entry[1] = group.loss_square_sum;
        entry[2] = static_cast<double>(group.count);
        for (size_t i = 0; i < group.confusion.size(); ++i) {
          entry[StatisticsLayout::kEntryHeaderValues + i] = static_cast<double>(group.confusion[i]);
        }
      }
    }
  }
  return values;
}

void AddGridNoise(std::span<double> values, const StatisticsLayout& grid, double deviation,
                  double loss_clip, random::Engine& engine) {
  const size_t entry_values = grid.EntryValues();
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] += deviation * ValueScale(i % entry_values, loss_clip) * random::Normal(engine);
  }
}

fairness::StatisticsTable TableFromNoisedValues(std::span<const double> values,
                                                const StatisticsLayout& grid, double loss_clip,
                                                const fairness::SumNoise& noise) {
  fairness::StatisticsTable table;
  const size_t confusion_size = static_cast<size_t>(grid.num_classes) * grid.num_classes;
  size_t offset = 0;
  for (const std::string& language : grid.languages) {
    for (const std::string& view : grid.views) {
      for (const std::string& name : grid.groups) {
        const double* entry = values.data() + offset;
        offset += grid.EntryValues();
        const uint64_t count = RoundedCount(entry[2]);
        if (count == 0) continue;
        fairness::GroupStatistics& group = table[fairness::Cell{language, view, ""}][name];
        group.count = count;
        group.loss_sum = std::clamp(entry[0], 0.0, loss_clip * static_cast<double>(count));
        group.loss_square_sum =
            std::clamp(entry[1], 0.0, loss_clip * loss_clip * static_cast<double>(count));
        group.num_classes = grid.num_classes;
        group.confusion = NonNegativeConfusion(
            std::span<const double>(entry + StatisticsLayout::kEntryHeaderValues, confusion_size),
            grid.num_classes);
        group.noise = noise;
      }
    }
  }
  return table;
}

absl::Status CheckNoisedSum(std::span<const double> values, const StatisticsLayout& grid,
                            const StatisticsPrivacyOptions& bound, double contributors,
                            double deviation) {
  constexpr double kDeviations = 10;
  const double most = contributors * static_cast<double>(bound.samples_per_view);
  const size_t entry_values = grid.EntryValues();
  for (size_t i = 0; i < values.size(); ++i) {
    const size_t kind = i % entry_values;
    const double scale = ValueScale(kind, bound.loss_clip);
    const double slack = kDeviations * deviation * scale;
    if (!(values[i] >= -slack && values[i] <= most * scale + slack)) {
      return absl::InvalidArgumentError(
          absl::StrCat("noised ",
                       kind == 0   ? "loss sum"
                       : kind == 1 ? "sum of squared losses"
                       : kind == 2 ? "count"
                                   : "confusion count",
                       " ", values[i], " of entry ", i / entry_values, ", beyond ", kDeviations,
                       " noise deviations of what ", contributors, " clients of at most ",
                       bound.samples_per_view, " samples per view can sum to"));
    }
  }
  return absl::OkStatus();
}

absl::Status AddNoise(fairness::StatisticsTable& table, const StatisticsLayout& grid,
                      const StatisticsPrivacyOptions& options, random::Engine& engine) {
  EQUIFL_ASSIGN_OR_RETURN(std::vector<double> values, GridValues(table, grid));
  const fairness::SumNoise variances = StatisticsNoiseVariances(options, BudgetedViews(grid.views));
  AddGridNoise(values, grid, std::sqrt(variances.count), options.loss_clip, engine);
  table = TableFromNoisedValues(values, grid, options.loss_clip, variances);
  return absl::OkStatus();
}

}  // namespace equifl::aggregation
