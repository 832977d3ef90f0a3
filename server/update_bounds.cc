#include "server/update_bounds.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace equifl::server {
namespace {

// The relative rounding a client's sums of losses and of squared losses may carry.
constexpr double kSquareSumTolerance = 1e-6;

}  // namespace

double AggregationWeightFactor(const FairnessOptions& options) {
  switch (options.method) {
    case fairness::FairnessMethod::kMinMaxGap:
      return std::exp(std::max(0.0, options.minmax_gap.aggregation_beta));
    case fairness::FairnessMethod::kGroupDro:
    case fairness::FairnessMethod::kFixedWeights:
      return options.group_dro.weight_cap;
    default:
      return 1;
  }
}

double MaxAggregationWeight(const FairnessOptions& options, uint64_t train_samples) {
  if (options.method == fairness::FairnessMethod::kQFedAvg) return kMaxQFedAvgWeight;
  return static_cast<double>(std::max<uint64_t>(train_samples, 1)) *
         AggregationWeightFactor(options);
}

absl::Status CheckAggregationWeight(const FairnessOptions& options, double weight,
                                    uint64_t train_samples) {
  if (train_samples > kMaxSamples) {
    return absl::InvalidArgumentError(absl::StrCat("the update announces ", train_samples,
                                                   " training samples; at most ", kMaxSamples,
                                                   " are accepted"));
  }
  if (!std::isfinite(weight) || !(weight > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the update's aggregation weight is ", weight,
                     "; it must be finite and > 0 (send num_train_samples > 0, or a positive "
                     "aggregation_weight)"));
  }
  const double bound = MaxAggregationWeight(options, train_samples);
  // A relative allowance for the client's own rounding of its sum.
  if (weight > bound * (1 + 1e-9)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the update's aggregation weight ", weight, " exceeds ", bound,
                     ", the most a client announcing ", train_samples,
                     " training samples may send under this fairness method"));
  }
  return absl::OkStatus();
}

absl::Status CheckClientStatistics(const fairness::StatisticsTable& statistics, const char* split,
                                   bool quantised) {
  for (const auto& cell_groups : statistics) {
    // Named references, not structured bindings, which the lambda could not capture.
    const fairness::Cell& cell = cell_groups.first;
    if (!cell.client.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the ", split, " statistics name client '", cell.client, "' in cell (language '",
          cell.language, "', modality '", cell.modality,
          "'); a client sends its cells without a client id (the server keys them by sender)"));
    }
    for (const auto& group_entry : cell_groups.second) {
      const std::string& group = group_entry.first;
      const fairness::GroupStatistics& entry = group_entry.second;
      const auto refuse = [&](const std::string& what) {
        return absl::InvalidArgumentError(
            absl::StrCat("the ", split, " statistics of cell (language '", cell.language,
                         "', modality '", cell.modality, "'), group '", group, "' ", what));
      };
      if (entry.count > kMaxSamples) {
        return refuse(absl::StrCat("count ", entry.count, " samples; at most ", kMaxSamples));
      }
      if (!std::isfinite(entry.loss_sum) || !(entry.loss_sum >= 0)) {
        return refuse(absl::StrCat("carry a loss sum of ", entry.loss_sum,
                                   "; a sum of losses is finite and not negative"));
      }
      if (entry.loss_sum > kMaxMeanLoss * static_cast<double>(entry.count)) {
        return refuse(absl::StrCat("carry a loss sum of ", entry.loss_sum, " over ", entry.count,
                                   " samples; at most ", kMaxMeanLoss, " nats per sample"));
      }
      // Σℓ²·n >= (Σℓ)² >= Σℓ² for n losses ℓ >= 0, up to the client's rounding.
      const double squares = entry.loss_square_sum;
      const double square_of_sum = entry.loss_sum * entry.loss_sum;
      const bool possible = quantised || (squares * static_cast<double>(entry.count) >=
                                              square_of_sum * (1 - kSquareSumTolerance) &&
                                          squares <= square_of_sum * (1 + kSquareSumTolerance));
      if (!std::isfinite(squares) || !(squares >= 0) || !possible) {
        return refuse(absl::StrCat("carry a sum of squared losses of ", squares,
                                   " beside a loss sum of ", entry.loss_sum, " over ", entry.count,
                                   " samples, which no set of losses has (a client older than the "
                                   "server reports none: update it)"));
      }
      if (entry.num_classes == 0) continue;
      uint64_t confusion_total = 0;
      for (uint64_t count : entry.confusion) {
        if (count > kMaxSamples) {
          return refuse(absl::StrCat("hold a confusion count of ", count));
        }
        confusion_total += count;
      }
      if (confusion_total != entry.count) {
        return refuse(absl::StrCat("hold confusion counts adding up to ", confusion_total, " for ",
                                   entry.count, " samples"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace equifl::server
