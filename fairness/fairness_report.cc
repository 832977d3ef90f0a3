#include "fairness/fairness_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace equifl::fairness {
namespace {

nlohmann::json CellJson(const Cell& cell) {
  return {{"language", cell.language}, {"modality", cell.modality}, {"client", cell.client}};
}

// A gap between two groups with its interval; null when there is none.
nlohmann::json GapJson(const std::optional<GroupGapInterval>& gap) {
  if (!gap) return nullptr;
  return {{"value", gap->gap},
          {"lower", gap->lower},
          {"upper", gap->upper},
          {"best_group", gap->best_group},
          {"worst_group", gap->worst_group}};
}

nlohmann::json DifferenceJson(const DifferenceOverClasses& difference) {
  return {{"mean", difference.mean}, {"max", difference.max}, {"per_class", difference.per_class}};
}

nlohmann::json RatioJson(const RatioOverClasses& ratio) {
  return {{"mean", ratio.mean}, {"min", ratio.min}, {"per_class", ratio.per_class}};
}

nlohmann::json SliceJson(const SliceMetrics& slice) {
  nlohmann::json groups = nlohmann::json::object();
  for (const auto& [name, group] : slice.groups) {
    groups[name] = {{"count", group.count},
                    {"mean_loss", group.mean_loss},
                    {"confusion_count", group.confusion_count},
                    {"accuracy", group.accuracy},
                    {"macro_f1", group.macro_f1}};
  }
  return {{"num_classes", slice.num_classes},
          {"count", slice.count},
          {"confusion_count", slice.confusion_count},
          {"accuracy", slice.accuracy},
          {"macro_f1", slice.macro_f1},
          {"worst_group", slice.worst_group},
          {"worst_group_accuracy", slice.worst_group_accuracy},
          {"statistical_parity_difference", DifferenceJson(slice.statistical_parity_difference)},
          {"disparate_impact", RatioJson(slice.disparate_impact)},
          {"equal_opportunity_difference", DifferenceJson(slice.equal_opportunity_difference)},
          {"equalized_odds_difference", DifferenceJson(slice.equalized_odds_difference)},
          {"f1_gap", slice.f1_gap},
          {"loss_gap", slice.loss_gap},
          {"groups", std::move(groups)}};
}

//! A number with four decimals.
std::string Fixed(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.4f", value);
  return buffer;
}

//! A share as percentage points with one decimal.
std::string Points(double share) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.1f", 100 * share);
  return buffer;
}

//! Renders rows (the first is the header) as aligned columns: the first `left_columns`
//! columns left-aligned, the others right-aligned, two spaces apart, each line indented.
std::string Columns(const std::vector<std::vector<std::string>>& rows, size_t left_columns,
                    bool last_column_left = false) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string text;
  for (const auto& row : rows) {
    std::string line = "  ";
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      const std::string padding(widths[i] - row[i].size(), ' ');
      const bool left = i < left_columns || (last_column_left && i + 1 == widths.size());
      line += left ? row[i] + padding : padding + row[i];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&text, line, "\n");
  }
  return text;
}

// The smaller sample count of a gap's two groups in its cell.
uint64_t SmallerGroup(const CellLossGap& cell, const GroupGapInterval& gap) {
  const auto count = [&](const std::string& name) {
    const auto found = cell.groups.find(name);
    return found == cell.groups.end() ? uint64_t{0} : found->second.count;
  };
  return std::min(count(gap.best_group), count(gap.worst_group));
}

BoundJudgement Judge(const FairnessReport& report, const StatedBound& bound) {
  std::vector<CellGroupGap> gaps;
  switch (bound.metric) {
    case BoundMetric::kLossGap:
      return JudgeLossGap(report.loss_gap_bounds, bound);
    case BoundMetric::kWorstGroupAccuracy:
      return JudgeWorstGroupAccuracy(report.overall.groups, bound);
    case BoundMetric::kAccuracyGap:
      for (const CellLossGap& cell : report.cells) {
        if (cell.accuracy_gap) {
          gaps.push_back({cell.cell, *cell.accuracy_gap, SmallerGroup(cell, *cell.accuracy_gap)});
        }
      }
      break;
    case BoundMetric::kEqualOpportunityGap:
      for (const CellLossGap& cell : report.cells) {
        if (cell.equal_opportunity_gap) {
          const GroupGapInterval& rates = cell.equal_opportunity_gap->rates;
          gaps.push_back({cell.cell, rates, SmallerGroup(cell, rates)});
        }
      }
      break;
  }
  return JudgeCellGaps(gaps, bound);
}

}  // namespace

absl::StatusOr<FairnessReport> BuildFairnessReport(const StatisticsTable& table,
                                                   const std::string& main_view,
                                                   const std::map<std::string, double>& afi_weights,
                                                   const StatedBound& bound) {
  EQUIFL_RETURN_IF_ERROR(bound.Validate());
  FairnessReport report;
  report.main_view = main_view;
  std::set<std::string> views;
  for (const auto& [cell, groups] : table) views.insert(cell.modality);
  report.main_view_found = views.contains(main_view);
  EQUIFL_RETURN_IF_ERROR(ValidateTable(table, !report.main_view_found));

  GroupsOfCell overall;
  if (report.main_view_found) {
    overall = PoolModality(table, main_view);
  } else {
    for (const auto& [cell, groups] : WithoutClients(table)) {
      for (const auto& [name, statistics] : groups) {
        // Cannot fail: ValidateTable checked the whole table.
        EQUIFL_RETURN_IF_ERROR(AddInto(overall[name], statistics));
      }
    }
  }
  EQUIFL_ASSIGN_OR_RETURN(report.overall, ComputeSliceMetrics(overall));

  for (const std::string& view : views) {
    EQUIFL_ASSIGN_OR_RETURN(report.views[view], ComputeSliceMetrics(PoolModality(table, view)));
  }

  report.loss_gap_bounds =
      BoundLossGaps(table, {.epsilon = bound.metric == BoundMetric::kLossGap ? bound.epsilon : 0,
                            .confidence = bound.confidence});
  auto bounded = report.loss_gap_bounds.cells.begin();
  // Each kind of gap holds together over the cells that have one (Bonferroni).
  size_t accuracy_gaps = 0;
  size_t opportunity_gaps = 0;
  for (const auto& [cell, groups] : table) {
    accuracy_gaps += CellAccuracyGap(groups, 1).has_value();
    opportunity_gaps += CellEqualOpportunityGap(groups, 1).has_value();
  }
  const double z = SimultaneousZ(bound.confidence, accuracy_gaps);
  const double opportunity_z = SimultaneousZ(bound.confidence, opportunity_gaps);
  for (const auto& [cell, groups] : table) {
    CellLossGap& gap = report.cells.emplace_back();
    gap.cell = cell;
    gap.loss_gap = LossGap(groups);
    // The bounded cells are a subsequence of the table's, in its order.
    if (bounded != report.loss_gap_bounds.cells.end() && bounded->cell == cell) {
      gap.bounds = *bounded++;
    }
    gap.accuracy_gap = CellAccuracyGap(groups, z);
    gap.macro_f1_gap = CellMacroF1Gap(groups, z);
    gap.equal_opportunity_gap = CellEqualOpportunityGap(groups, opportunity_z);
    for (const auto& [name, statistics] : groups) {
      gap.groups[name] =
          GroupLoss{statistics.count, statistics.mean_loss(),
                    EstimateGroupLoss(statistics).standard_error, GroupAccuracy(statistics, z)};
    }
  }
  report.min_max_gap = MinMaxGap(table);
  report.bound = Judge(report, bound);

  EQUIFL_ASSIGN_OR_RETURN(report.msfd, ModalityDisparities(table));
  EQUIFL_ASSIGN_OR_RETURN(report.afi, AggregateFairnessIndex(report.msfd, afi_weights));
  return report;
}

nlohmann::json ToJson(const FairnessReport& report) {
  nlohmann::json views = nlohmann::json::object();
  for (const auto& [view, slice] : report.views) views[view] = SliceJson(slice);
  nlohmann::json cells = nlohmann::json::array();
  for (const CellLossGap& gap : report.cells) {
    nlohmann::json groups = nlohmann::json::object();
    for (const auto& [name, group] : gap.groups) {
      groups[name] = {{"count", group.count},
                      {"mean_loss", group.mean_loss},
                      {"standard_error", group.standard_error},
                      {"accuracy", nullptr}};
      if (group.accuracy) {
        groups[name]["accuracy"] = {{"value", group.accuracy->estimate},
                                    {"lower", group.accuracy->lower},
                                    {"upper", group.accuracy->upper}};
      }
    }
    nlohmann::json cell = CellJson(gap.cell);
    cell["loss_gap"] = gap.loss_gap;
    cell["loss_gap_bounds"] = nullptr;
    if (gap.bounds) {
      cell["loss_gap_bounds"] = {{"bias_corrected", gap.bounds->bias_corrected},
                                 {"lower", gap.bounds->lower},
                                 {"upper", gap.bounds->upper},
                                 {"worst_group", gap.bounds->worst_group},
                                 {"best_group", gap.bounds->best_group}};
    }
    cell["accuracy_gap"] = GapJson(gap.accuracy_gap);
    cell["macro_f1_gap"] = GapJson(gap.macro_f1_gap);
    cell["equal_opportunity_gap"] = nullptr;
    if (gap.equal_opportunity_gap) {
      cell["equal_opportunity_gap"] = GapJson(gap.equal_opportunity_gap->rates);
      cell["equal_opportunity_gap"]["label"] = gap.equal_opportunity_gap->label;
    }
    cell["groups"] = std::move(groups);
    cells.push_back(std::move(cell));
  }
  nlohmann::json msfd = nlohmann::json::object();
  for (const auto& [view, disparity] : report.msfd) msfd[view] = disparity;
  const LossGapBounds& bounds = report.loss_gap_bounds;
  const BoundJudgement& judgement = report.bound;
  return {{"main_view", report.main_view},
          {"main_view_found", report.main_view_found},
          {"overall", SliceJson(report.overall)},
          {"views", std::move(views)},
          {"cells", std::move(cells)},
          {"min_max_gap",
           {{"value", report.min_max_gap.value},
            {"cell", CellJson(report.min_max_gap.cell)},
            {"bias_corrected", bounds.bias_corrected},
            {"lower", bounds.lower},
            {"upper", bounds.upper},
            {"confidence", bounds.confidence},
            {"groups_without_spread", bounds.groups_without_spread}}},
          {"bound",
           {{"metric", NameOf(judgement.bound.metric)},
            {"epsilon", judgement.bound.epsilon},
            {"unit", judgement.bound.metric == BoundMetric::kLossGap ? "nats" : "points"},
            {"description", judgement.bound.Describe()},
            {"confidence", judgement.bound.confidence},
            {"estimate", judgement.estimate},
            {"lower", judgement.lower},
            {"upper", judgement.upper},
            {"verdict", VerdictName(judgement.verdict)},
            {"verdict_text", judgement.text},
            {"deciding", judgement.deciding},
            {"samples_needed", judgement.samples_needed}}},
          {"msfd", std::move(msfd)},
          {"afi", report.afi}};
}

std::string ToJsonText(const FairnessReport& report, int indent) {
  return ToJson(report).dump(indent);
}

std::string FormatTable(const FairnessReport& report) {
  const SliceMetrics& overall = report.overall;
  std::string text =
      absl::StrCat("Fairness report: ",
                   report.main_view_found
                       ? absl::StrCat("view '", report.main_view, "'")
                       : absl::StrCat("all views (no cells of view '", report.main_view, "')"),
                   ", ", overall.count, " samples, ", overall.num_classes, " classes\n");

  const LossGapBounds& bounds = report.loss_gap_bounds;
  const auto percent = std::lround(bounds.confidence * 100);
  auto mean_and = [](const char* extreme_name, double mean, double extreme) {
    return absl::StrCat("mean ", Fixed(mean), "  ", extreme_name, " ", Fixed(extreme));
  };
  const std::string worst =
      overall.worst_group.empty()
          ? Fixed(overall.worst_group_accuracy)
          : absl::StrCat(Fixed(overall.worst_group_accuracy), " (", overall.worst_group, ")");
  absl::StrAppend(
      &text,
      Columns({{"accuracy", Fixed(overall.accuracy)},
               {"macro-F1", Fixed(overall.macro_f1)},
               {"worst-group accuracy", worst},
               {"statistical parity difference",
                mean_and("max", overall.statistical_parity_difference.mean,
                         overall.statistical_parity_difference.max)},
               {"disparate impact",
                mean_and("min", overall.disparate_impact.mean, overall.disparate_impact.min)},
               {"equal opportunity difference",
                mean_and("max", overall.equal_opportunity_difference.mean,
                         overall.equal_opportunity_difference.max)},
               {"equalized odds difference", mean_and("max", overall.equalized_odds_difference.mean,
                                                      overall.equalized_odds_difference.max)},
               {"F1 gap", Fixed(overall.f1_gap)},
               {"loss gap", Fixed(overall.loss_gap)},
               {"MinMaxGAP", absl::StrCat(Fixed(report.min_max_gap.value), " at ",
                                          CellName(report.min_max_gap.cell))},
               {"MinMaxGAP bias-corrected", Fixed(bounds.bias_corrected)},
               {absl::StrCat("MinMaxGAP ", percent, "% bounds"),
                absl::StrCat("[", Fixed(bounds.lower), ", ", Fixed(bounds.upper), "]")},
               {absl::StrCat("bound ", report.bound.bound.Describe()), report.bound.text},
               {"AFI (weighted mean MSFD)", Fixed(report.afi)}},
              2));

  absl::StrAppend(&text, "\nGroups\n");
  std::vector<std::vector<std::string>> group_rows = {
      {"group", "samples", "mean loss", "accuracy", "macro-F1"}};
  for (const auto& [name, group] : overall.groups) {
    group_rows.push_back({name, absl::StrCat(group.count), Fixed(group.mean_loss),
                          Fixed(group.accuracy), Fixed(group.macro_f1)});
  }
  absl::StrAppend(&text, Columns(group_rows, 1));

  absl::StrAppend(&text, "\nViews (pooled over languages)\n");
  std::vector<std::vector<std::string>> view_rows = {{"view", "samples", "accuracy", "macro-F1",
                                                      "MSFD", "SPD max", "DI min", "EOpp max",
                                                      "EOdds max", "F1 gap", "loss gap"}};
  for (const auto& [view, slice] : report.views) {
    const auto msfd = report.msfd.find(view);
    view_rows.push_back(
        {view, absl::StrCat(slice.count), Fixed(slice.accuracy), Fixed(slice.macro_f1),
         Fixed(msfd == report.msfd.end() ? 0.0 : msfd->second),
         Fixed(slice.statistical_parity_difference.max), Fixed(slice.disparate_impact.min),
         Fixed(slice.equal_opportunity_difference.max), Fixed(slice.equalized_odds_difference.max),
         Fixed(slice.f1_gap), Fixed(slice.loss_gap)});
  }
  absl::StrAppend(&text, Columns(view_rows, 1));

  absl::StrAppend(&text, "\nCells (loss gap = max - min group mean loss; bias-corrected; ", percent,
                  "% bounds, the lower ones holding together; gaps in points with ", percent,
                  "% intervals, each kind held together over the cells: accuracy and equal "
                  "opportunity (true-positive rate of the class named) Newcombe's, macro-F1 "
                  "from the posterior of the confusion counts)\n");
  std::vector<std::vector<std::string>> cell_rows = {{"cell", "group", "samples", "mean loss",
                                                      "s.e.", "loss gap", "corrected", "bounds",
                                                      "gaps, points"}};
  // The cells with the largest loss gaps, in table order.
  std::vector<const CellLossGap*> listed;
  for (const CellLossGap& gap : report.cells) listed.push_back(&gap);
  if (listed.size() > kMaxTableCells) {
    std::stable_sort(listed.begin(), listed.end(), [](const CellLossGap* a, const CellLossGap* b) {
      return a->loss_gap > b->loss_gap;
    });
    listed.resize(kMaxTableCells);
    std::sort(listed.begin(), listed.end());
  }
  for (const CellLossGap* listed_gap : listed) {
    const CellLossGap& gap = *listed_gap;
    std::vector<std::string> gap_columns = {Fixed(gap.loss_gap), "-", "-"};
    if (gap.bounds) {
      gap_columns = {
          Fixed(gap.loss_gap), Fixed(gap.bounds->bias_corrected),
          absl::StrCat("[", Fixed(gap.bounds->lower), ", ", Fixed(gap.bounds->upper), "]")};
    }
    // One line per gap in points, beside the groups' rows.
    std::vector<std::string> point_gaps;
    const auto describe = [](const char* what, const GroupGapInterval& interval) {
      return absl::StrCat(what, " ", Points(interval.gap), " [", Points(interval.lower), ", ",
                          Points(interval.upper), "] ", interval.best_group, " vs ",
                          interval.worst_group);
    };
    if (gap.accuracy_gap) point_gaps.push_back(describe("accuracy", *gap.accuracy_gap));
    if (gap.macro_f1_gap) point_gaps.push_back(describe("macro-F1", *gap.macro_f1_gap));
    if (gap.equal_opportunity_gap) {
      point_gaps.push_back(describe(
          absl::StrCat("equal opportunity (class ", gap.equal_opportunity_gap->label, ")").c_str(),
          gap.equal_opportunity_gap->rates));
    }
    std::vector<std::pair<std::string, const GroupLoss*>> groups;
    for (const auto& [name, group] : gap.groups) groups.emplace_back(name, &group);
    const size_t lines = std::max({groups.size(), point_gaps.size(), size_t{1}});
    for (size_t line = 0; line < lines; ++line) {
      std::vector<std::string> row = {line == 0 ? CellName(gap.cell) : ""};
      if (line < groups.size()) {
        const GroupLoss& group = *groups[line].second;
        row.insert(row.end(), {groups[line].first, absl::StrCat(group.count),
                               Fixed(group.mean_loss), Fixed(group.standard_error)});
      } else {
        row.insert(row.end(), {"", "", "", ""});
      }
      for (const std::string& column : gap_columns) row.push_back(line == 0 ? column : "");
      row.push_back(line < point_gaps.size() ? point_gaps[line] : "");
      cell_rows.push_back(std::move(row));
    }
  }
  absl::StrAppend(&text, Columns(cell_rows, 2, /*last_column_left=*/true));
  if (listed.size() < report.cells.size()) {
    absl::StrAppend(&text, "  ... and ", report.cells.size() - listed.size(),
                    " more cells, each with a smaller loss gap (the JSON report lists every "
                    "cell)\n");
  }
  return text;
}

}  // namespace equifl::fairness
