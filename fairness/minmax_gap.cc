#include "fairness/minmax_gap.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "fairness/metrics.h"

namespace equifl::fairness {
namespace {

absl::Status OutOfRange(absl::string_view knob, double value, absl::string_view allowed) {
  return absl::InvalidArgumentError(
      absl::StrCat("fairness.", knob, " is ", value, "; it must be ", allowed));
}

// The non-empty groups with the highest and the lowest mean loss; nullptr when
// the cell has fewer than two.
struct Extremes {
  const std::string* worst = nullptr;
  const std::string* best = nullptr;
  double gap = 0;
};

Extremes FindExtremes(const GroupsOfCell& groups) {
  Extremes extremes;
  double highest = -std::numeric_limits<double>::infinity();
  double lowest = std::numeric_limits<double>::infinity();
  int non_empty = 0;
  for (const auto& [group, statistics] : groups) {
    if (statistics.count == 0) continue;
    ++non_empty;
    const double loss = statistics.mean_loss();
    if (loss > highest) {
      highest = loss;
      extremes.worst = &group;
    }
    if (loss < lowest) {
      lowest = loss;
      extremes.best = &group;
    }
  }
  if (non_empty < 2 || extremes.worst == extremes.best) return {};
  extremes.gap = highest - lowest;
  return extremes;
}

// A directive's order: by (cell, group).
void SortByCellAndGroup(std::vector<CellGroupWeight>& weights) {
  std::sort(weights.begin(), weights.end(), [](const CellGroupWeight& a, const CellGroupWeight& b) {
    return std::tie(a.cell, a.group) < std::tie(b.cell, b.group);
  });
}

}  // namespace

absl::Status MinMaxGapOptions::Validate() const {
  if (!(epsilon >= 0) || !std::isfinite(epsilon)) return OutOfRange("epsilon", epsilon, ">= 0");
  if (!(gap_exponent >= 1) || !std::isfinite(gap_exponent)) {
    return OutOfRange("gap_exponent", gap_exponent, ">= 1");
  }
  if (!(lambda_max >= 0) || !std::isfinite(lambda_max)) {
    return OutOfRange("lambda_max", lambda_max, ">= 0");
  }
  if (!(lambda_learning_rate >= 0) || !std::isfinite(lambda_learning_rate)) {
    return OutOfRange("lambda_learning_rate", lambda_learning_rate, ">= 0");
  }
  if (!(initial_lambda >= 0) || initial_lambda > lambda_max) {
    return OutOfRange("initial_lambda", initial_lambda, "in [0, lambda_max]");
  }
  if (!(temperature > 0) || !std::isfinite(temperature)) {
    return OutOfRange("temperature", temperature, "> 0");
  }
  if (!(aggregation_beta >= 0) || aggregation_beta > 100) {
    return OutOfRange("aggregation_beta", aggregation_beta, "in [0, 100]");
  }
  return absl::OkStatus();
}

double SoftMaxGap(const StatisticsTable& table, double temperature) {
  const StatisticsTable pooled = WithoutClients(table);
  if (pooled.empty()) return 0;
  double largest = 0;
  std::vector<double> gaps;
  for (const auto& [cell, groups] : pooled) {
    gaps.push_back(LossGap(groups));
    largest = std::max(largest, gaps.back());
  }
  double sum = 0;
  for (double gap : gaps) sum += std::exp((gap - largest) / temperature);
  return largest + temperature * std::log(sum);
}

StatisticsTable ObjectiveCells(const StatisticsTable& table, const MinMaxGapOptions& options) {
  return options.per_client_cells ? table : WithoutClients(table);
}

FairnessDirective ComputeDirective(const StatisticsTable& table, double lambda,
                                   const MinMaxGapOptions& options) {
  FairnessDirective directive;
  directive.lambda = lambda;
  directive.epsilon = options.epsilon;
  directive.aggregation_beta = options.aggregation_beta;
  directive.up_weight_only = options.up_weight_only;
  const StatisticsTable cells = ObjectiveCells(table, options);
  if (lambda == 0 || cells.empty()) return directive;

  std::map<std::string, uint64_t> view_samples;  // N_m.
  double largest = 0;
  for (const auto& [cell, groups] : cells) {
    for (const auto& [group, statistics] : groups) view_samples[cell.modality] += statistics.count;
    largest = std::max(largest, LossGap(groups));
  }
  if (largest == 0) return directive;
  double normaliser = 0;  // Σ_c exp((gap(c) − max)/τ).
  for (const auto& [cell, groups] : cells) {
    normaliser += std::exp((LossGap(groups) - largest) / options.temperature);
  }
  const double soft_gap = largest + options.temperature * std::log(normaliser);
  const double scale = lambda * options.gap_exponent * std::pow(soft_gap, options.gap_exponent - 1);

  for (const auto& [cell, groups] : cells) {
    const Extremes extremes = FindExtremes(groups);
    if (extremes.worst == nullptr) continue;
    const double share = std::exp((extremes.gap - largest) / options.temperature) / normaliser;
    const double samples = static_cast<double>(view_samples[cell.modality]);
    const double worst_weight =
        scale * share * samples / static_cast<double>(groups.at(*extremes.worst).count);
    const double best_weight =
        -scale * share * samples / static_cast<double>(groups.at(*extremes.best).count);
    for (const auto& [group, weight] :
         {std::pair{extremes.best, best_weight}, std::pair{extremes.worst, worst_weight}}) {
      const double kept = options.up_weight_only ? std::max(0.0, weight) : weight;
      if (kept != 0) directive.weights.push_back({cell, *group, kept});
    }
  }
  SortByCellAndGroup(directive.weights);
  return directive;
}

double DirectiveWeight(const FairnessDirective& directive, const Cell& cell,
                       const std::string& group) {
  for (const CellGroupWeight& entry : directive.weights) {
    if (entry.cell == cell && entry.group == group) return entry.weight;
  }
  return 0;
}

double CoverageScore(const FairnessDirective& directive,
                     const std::vector<double>& sample_weights) {
  double largest = 0;
  bool any_positive = false;
  for (const CellGroupWeight& entry : directive.weights) {
    largest = std::max(largest, std::abs(entry.weight));
    any_positive = any_positive || entry.weight > 0;
  }
  if (!any_positive || sample_weights.empty()) return 0;
  double sum = 0;
  for (double weight : sample_weights) sum += std::max(0.0, weight) / largest;
  return std::min(1.0, sum / static_cast<double>(sample_weights.size()));
}

MinMaxGapController::MinMaxGapController(const MinMaxGapOptions& options)
    : options_(options), lambda_(options.initial_lambda) {
  directive_ = ComputeDirective({}, lambda_, options_);
}

void MinMaxGapController::Update(const StatisticsTable& validation) {
  const StatisticsTable cells = ObjectiveCells(validation, options_);
  if (cells.empty()) return;
  last_gap_ = 0;
  for (const auto& [cell, groups] : cells) last_gap_ = std::max(last_gap_, LossGap(groups));
  lambda_ = std::clamp(lambda_ + options_.lambda_learning_rate * (last_gap_ - options_.epsilon),
                       0.0, options_.lambda_max);
  directive_ = ComputeDirective(cells, lambda_, options_);
}

void MinMaxGapController::Restore(double lambda, const std::vector<CellGroupWeight>& weights) {
  lambda_ = std::clamp(lambda, 0.0, options_.lambda_max);
  directive_ = ComputeDirective({}, lambda_, options_);
  directive_.weights = weights;
  SortByCellAndGroup(directive_.weights);
}

}  // namespace equifl::fairness
