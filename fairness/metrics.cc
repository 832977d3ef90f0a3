#include "fairness/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace equifl::fairness {
namespace {

//! Running max - min of values seen; 0 with fewer than two values.
class Spread {
 public:
  void Add(double value) {
    if (seen_ == 0) {
      min_ = max_ = value;
    } else {
      min_ = std::min(min_, value);
      max_ = std::max(max_, value);
    }
    ++seen_;
  }
  int seen() const { return seen_; }
  double min() const { return min_; }
  double max() const { return max_; }
  double gap() const { return seen_ < 2 ? 0.0 : max_ - min_; }

 private:
  int seen_ = 0;
  double min_ = 0;
  double max_ = 0;
};

double Ratio(uint64_t numerator, uint64_t denominator) {
  return denominator == 0 ? 0.0 : static_cast<double>(numerator) / static_cast<double>(denominator);
}

//! Row sums (true class) and column sums (predicted class) of one confusion matrix.
struct Margins {
  std::vector<uint64_t> row;
  std::vector<uint64_t> col;
  uint64_t total = 0;
  uint64_t trace = 0;
};

Margins MarginsOf(const std::vector<uint64_t>& confusion, uint32_t num_classes) {
  Margins margins;
  margins.row.assign(num_classes, 0);
  margins.col.assign(num_classes, 0);
  for (uint32_t t = 0; t < num_classes; ++t) {
    for (uint32_t p = 0; p < num_classes; ++p) {
      const uint64_t n = confusion[static_cast<size_t>(t) * num_classes + p];
      margins.row[t] += n;
      margins.col[p] += n;
      margins.total += n;
      if (t == p) margins.trace += n;
    }
  }
  return margins;
}

DifferenceOverClasses Summarize(std::vector<double> per_class) {
  DifferenceOverClasses summary;
  if (!per_class.empty()) {
    summary.mean = std::accumulate(per_class.begin(), per_class.end(), 0.0) /
                   static_cast<double>(per_class.size());
    summary.max = *std::max_element(per_class.begin(), per_class.end());
  }
  summary.per_class = std::move(per_class);
  return summary;
}

RatioOverClasses SummarizeRatio(std::vector<double> per_class) {
  RatioOverClasses summary;
  if (!per_class.empty()) {
    summary.mean = std::accumulate(per_class.begin(), per_class.end(), 0.0) /
                   static_cast<double>(per_class.size());
    summary.min = *std::min_element(per_class.begin(), per_class.end());
  }
  summary.per_class = std::move(per_class);
  return summary;
}

//! A group and how error messages name it.
struct NamedGroup {
  std::string label;  //!< e.g. "group 'f'".
  const GroupStatistics* statistics;
};

std::string Describe(const Cell& cell) {
  return absl::StrCat("cell (language '", cell.language, "', modality '", cell.modality,
                      "', client '", cell.client, "')");
}

//! Checks shapes and that every group with confusion counts has the same C; returns that C
//! (0 when no group kept confusion counts). `where` prefixes error messages.
absl::StatusOr<uint32_t> CommonClasses(const std::vector<NamedGroup>& groups,
                                       const std::string& where) {
  std::map<uint32_t, std::vector<std::string>> labels_by_classes;
  for (const NamedGroup& group : groups) {
    const uint64_t classes = group.statistics->num_classes;
    if (group.statistics->confusion.size() != classes * classes) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, group.label, " carries ", group.statistics->confusion.size(),
          " confusion counts for ", classes, " classes; expected ", classes * classes));
    }
    if (classes != 0) labels_by_classes[classes].push_back(group.label);
  }
  if (labels_by_classes.size() > 1) {
    std::vector<std::string> parts;
    for (const auto& [classes, labels] : labels_by_classes) {
      parts.push_back(absl::StrCat(classes, " classes in ", absl::StrJoin(labels, ", ")));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        where, "groups disagree on the number of classes: ", absl::StrJoin(parts, "; ")));
  }
  return labels_by_classes.empty() ? 0u : labels_by_classes.begin()->first;
}

}  // namespace

double Accuracy(const std::vector<uint64_t>& confusion, uint32_t num_classes) {
  const Margins margins = MarginsOf(confusion, num_classes);
  return Ratio(margins.trace, margins.total);
}

double MacroF1(const std::vector<uint64_t>& confusion, uint32_t num_classes) {
  const Margins margins = MarginsOf(confusion, num_classes);
  double sum = 0;
  int classes_counted = 0;
  for (uint32_t c = 0; c < num_classes; ++c) {
    const uint64_t tp = confusion[static_cast<size_t>(c) * num_classes + c];
    // 2 TP + FP + FN = TP + col(c) + TP + row(c) - 2 TP = row(c) + col(c).
    const uint64_t denominator = margins.row[c] + margins.col[c];
    if (denominator == 0) continue;  // Absent from truth and predictions: skipped.
    sum += Ratio(2 * tp, denominator);
    ++classes_counted;
  }
  return classes_counted == 0 ? 0.0 : sum / classes_counted;
}

absl::StatusOr<SliceMetrics> ComputeSliceMetrics(const GroupsOfCell& groups) {
  std::vector<NamedGroup> named;
  for (const auto& [name, statistics] : groups) {
    named.push_back({absl::StrCat("group '", name, "'"), &statistics});
  }
  absl::StatusOr<uint32_t> classes = CommonClasses(named, "");
  if (!classes.ok()) return classes.status();
  const uint32_t num_classes = *classes;

  SliceMetrics metrics;
  metrics.num_classes = num_classes;
  metrics.loss_gap = LossGap(groups);

  // Per-group metrics and the pooled confusion matrix.
  std::vector<uint64_t> pooled(static_cast<size_t>(num_classes) * num_classes, 0);
  std::map<std::string, Margins> margins;  // Non-empty groups only.
  Spread f1_spread;
  std::optional<double> worst;
  for (const auto& [name, statistics] : groups) {
    GroupMetrics& group = metrics.groups[name];
    group.count = statistics.count;
    group.mean_loss = statistics.mean_loss();
    metrics.count += statistics.count;
    if (statistics.num_classes == 0) continue;
    for (size_t i = 0; i < pooled.size(); ++i) pooled[i] += statistics.confusion[i];
    Margins group_margins = MarginsOf(statistics.confusion, num_classes);
    group.confusion_count = group_margins.total;
    if (group_margins.total == 0) continue;
    group.accuracy = Ratio(group_margins.trace, group_margins.total);
    group.macro_f1 = MacroF1(statistics.confusion, num_classes);
    f1_spread.Add(group.macro_f1);
    if (!worst.has_value() || group.accuracy < *worst) {
      worst = group.accuracy;
      metrics.worst_group = name;
    }
    margins.emplace(name, std::move(group_margins));
  }
  metrics.worst_group_accuracy = worst.value_or(0.0);
  metrics.f1_gap = f1_spread.gap();

  const Margins pooled_margins = MarginsOf(pooled, num_classes);
  metrics.confusion_count = pooled_margins.total;
  metrics.accuracy = Ratio(pooled_margins.trace, pooled_margins.total);
  metrics.macro_f1 = MacroF1(pooled, num_classes);

  // Per-class disparities over the non-empty groups.
  std::vector<double> parity(num_classes), impact(num_classes), opportunity(num_classes),
      odds(num_classes);
  for (uint32_t c = 0; c < num_classes; ++c) {
    Spread positive_rate, true_positive_rate, false_positive_rate;
    for (const auto& [name, group_margins] : margins) {
      const uint64_t tp = groups.at(name).confusion[static_cast<size_t>(c) * num_classes + c];
      positive_rate.Add(Ratio(group_margins.col[c], group_margins.total));
      if (group_margins.row[c] > 0) true_positive_rate.Add(Ratio(tp, group_margins.row[c]));
      const uint64_t negatives = group_margins.total - group_margins.row[c];
      if (negatives > 0) false_positive_rate.Add(Ratio(group_margins.col[c] - tp, negatives));
    }
    parity[c] = positive_rate.gap();
    impact[c] = positive_rate.seen() < 2 || positive_rate.max() == 0
                    ? 1.0
                    : positive_rate.min() / positive_rate.max();
    opportunity[c] = true_positive_rate.gap();
    odds[c] = std::max(true_positive_rate.gap(), false_positive_rate.gap());
  }
  metrics.statistical_parity_difference = Summarize(std::move(parity));
  metrics.disparate_impact = SummarizeRatio(std::move(impact));
  metrics.equal_opportunity_difference = Summarize(std::move(opportunity));
  metrics.equalized_odds_difference = Summarize(std::move(odds));
  return metrics;
}

double LossGap(const GroupsOfCell& groups) {
  Spread spread;
  for (const auto& [name, statistics] : groups) {
    if (statistics.count > 0) spread.Add(statistics.mean_loss());
  }
  return spread.gap();
}

MinMaxGapResult MinMaxGap(const StatisticsTable& table) {
  MinMaxGapResult result;
  bool first = true;
  for (const auto& [cell, groups] : table) {
    const double gap = LossGap(groups);
    if (first || gap > result.value) {
      result.value = gap;
      result.cell = cell;
      first = false;
    }
  }
  return result;
}

absl::Status ValidateTable(const StatisticsTable& table, bool across_views) {
  // The groups of each scope that must agree on C: a view, or the whole table.
  std::map<std::string, std::vector<NamedGroup>> scopes;
  for (const auto& [cell, groups] : table) {
    std::vector<NamedGroup>& scope = scopes[across_views ? std::string() : cell.modality];
    for (const auto& [name, statistics] : groups) {
      scope.push_back({absl::StrCat("group '", name, "' of ", Describe(cell)), &statistics});
    }
  }
  for (const auto& [view, named] : scopes) {
    const std::string where =
        across_views ? std::string() : absl::StrCat("modality view '", view, "': ");
    if (absl::StatusOr<uint32_t> classes = CommonClasses(named, where); !classes.ok()) {
      return classes.status();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, double>> ModalityDisparities(const StatisticsTable& table) {
  if (absl::Status status = ValidateTable(table); !status.ok()) return status;
  std::map<std::string, double> msfd;
  for (const auto& [cell, groups] : table) {
    if (msfd.contains(cell.modality)) continue;
    Spread accuracy;
    for (const auto& [name, statistics] : PoolModality(table, cell.modality)) {
      if (statistics.num_classes == 0) continue;
      const Margins margins = MarginsOf(statistics.confusion, statistics.num_classes);
      if (margins.total > 0) accuracy.Add(Ratio(margins.trace, margins.total));
    }
    msfd[cell.modality] = accuracy.gap();
  }
  return msfd;
}

absl::StatusOr<double> AggregateFairnessIndex(const std::map<std::string, double>& msfd,
                                              const std::map<std::string, double>& weights) {
  for (const auto& [view, weight] : weights) {
    if (!std::isfinite(weight) || weight < 0) {
      return absl::InvalidArgumentError(absl::StrCat("AFI weight of view '", view, "' is ", weight,
                                                     "; weights must be finite and non-negative"));
    }
  }
  // Weights are scaled by the largest so that their sum cannot overflow.
  double largest_weight = 0;
  for (const auto& [view, weight] : weights) largest_weight = std::max(largest_weight, weight);
  double weighted_sum = 0;
  double weight_sum = 0;
  for (const auto& [view, disparity] : msfd) {
    if (!std::isfinite(disparity)) {
      return absl::InvalidArgumentError(
          absl::StrCat("MSFD of view '", view, "' is ", disparity, "; it must be finite"));
    }
    double weight = 1.0;
    if (!weights.empty()) {
      const auto found = weights.find(view);
      weight = found == weights.end() || largest_weight == 0 ? 0.0 : found->second / largest_weight;
    }
    weighted_sum += weight * disparity;
    weight_sum += weight;
  }
  return weight_sum > 0 ? weighted_sum / weight_sum : 0.0;
}

}  // namespace equifl::fairness
