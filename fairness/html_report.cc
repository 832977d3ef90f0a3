#include "fairness/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace equifl::fairness {
namespace {

using Json = nlohmann::json;

// Chart geometry, in SVG user units.
constexpr double kWidth = 720, kHeight = 300;
constexpr double kLeft = 64, kRight = 190, kTop = 16, kBottom = 48;
constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string Fmt(double value, const char* format = "%.4f") {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), format, value);
  return buffer;
}

//! The value at `path` under `json`, or nullptr when a step is missing or not an object.
const Json* Find(const Json& json, std::initializer_list<const char*> path) {
  const Json* node = &json;
  for (const char* key : path) {
    if (!node->is_object()) return nullptr;
    auto it = node->find(key);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node;
}

std::optional<double> Number(const Json& json, std::initializer_list<const char*> path) {
  const Json* node = Find(json, path);
  if (node == nullptr || !node->is_number()) return std::nullopt;
  return node->get<double>();
}

std::string Text(const Json& json, std::initializer_list<const char*> path) {
  const Json* node = Find(json, path);
  return node != nullptr && node->is_string() ? node->get<std::string>() : "";
}

std::string NumberCell(const Json& json, std::initializer_list<const char*> path) {
  std::optional<double> value = Number(json, path);
  return value ? Fmt(*value) : "&ndash;";
}

//! "language/modality", with "/client" when the cell names one.
std::string CellName(const Json& cell) {
  std::string name = absl::StrCat(Text(cell, {"language"}), "/", Text(cell, {"modality"}));
  if (std::string client = Text(cell, {"client"}); !client.empty())
    absl::StrAppend(&name, "/", client);
  return name;
}

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (round, value)
  std::string color;
  bool bold = false;
};

//! A line chart of `series` against rounds, with axes, tick labels and a legend.
std::string LineChart(const std::vector<Series>& series, const std::string& x_label,
                      const std::string& y_label) {
  double x_min = INFINITY, x_max = -INFINITY, y_min = INFINITY, y_max = -INFINITY;
  for (const Series& s : series) {
    for (const auto& [x, y] : s.points) {
      x_min = std::min(x_min, x), x_max = std::max(x_max, x);
      y_min = std::min(y_min, y), y_max = std::max(y_max, y);
    }
  }
  if (x_min > x_max) return "<p class=\"empty\">No training rounds to plot.</p>\n";
  if (x_min == x_max) x_min -= 1, x_max += 1;
  if (y_min == y_max) {
    const double pad = y_min == 0 ? 1 : std::abs(y_min) * 0.1;
    y_min -= pad, y_max += pad;
  } else {
    const double pad = (y_max - y_min) * 0.05;
    y_min = y_min >= 0 ? std::max(0.0, y_min - pad) : y_min - pad;  // no negative ticks
    y_max += pad;
  }
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  // Taller than kHeight only when the legend needs it.
  const double height = std::max(kHeight, kTop + 16 * static_cast<double>(series.size()) + 10);
  auto px = [&](double x) { return kLeft + (x - x_min) / (x_max - x_min) * plot_w; };
  auto py = [&](double y) { return kTop + (y_max - y) / (y_max - y_min) * plot_h; };

  std::string svg =
      absl::StrCat("<svg class=\"chart\" viewBox=\"0 0 ", kWidth, " ", height, "\" width=\"",
                   kWidth, "\" height=\"", height, "\" xmlns=\"http://www.w3.org/2000/svg\">\n");
  // Axes and ticks.
  absl::StrAppend(&svg, "<rect x=\"", kLeft, "\" y=\"", kTop, "\" width=\"", plot_w, "\" height=\"",
                  plot_h, "\" fill=\"none\" stroke=\"#444\"/>\n");
  for (int i = 0; i <= 4; ++i) {
    const double y = y_min + (y_max - y_min) * i / 4;
    absl::StrAppend(&svg, "<line x1=\"", kLeft, "\" x2=\"", kLeft + plot_w, "\" y1=\"",
                    Fmt(py(y), "%.1f"), "\" y2=\"", Fmt(py(y), "%.1f"),
                    "\" stroke=\"#ddd\"/><text x=\"", kLeft - 6, "\" y=\"", Fmt(py(y) + 4, "%.1f"),
                    "\" text-anchor=\"end\">", Fmt(y, "%.3g"), "</text>\n");
  }
  const double step = std::max(1.0, std::ceil((x_max - x_min) / 8));
  for (double x = std::ceil(x_min); x <= x_max; x += step) {
    absl::StrAppend(&svg, "<line x1=\"", Fmt(px(x), "%.1f"), "\" x2=\"", Fmt(px(x), "%.1f"),
                    "\" y1=\"", kTop + plot_h, "\" y2=\"", kTop + plot_h + 4,
                    "\" stroke=\"#444\"/><text x=\"", Fmt(px(x), "%.1f"), "\" y=\"",
                    kTop + plot_h + 16, "\" text-anchor=\"middle\">", Fmt(x, "%.0f"), "</text>\n");
  }
  absl::StrAppend(&svg, "<text x=\"", kLeft + plot_w / 2, "\" y=\"", kHeight - 8,
                  "\" text-anchor=\"middle\">", HtmlEscape(x_label), "</text>\n<text x=\"14\" y=\"",
                  kTop + plot_h / 2, "\" text-anchor=\"middle\" transform=\"rotate(-90 14 ",
                  kTop + plot_h / 2, ")\">", HtmlEscape(y_label), "</text>\n");
  // Lines, markers and the legend.
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    const std::string width = s.bold ? "3" : "1.5";
    std::string points;
    for (const auto& [x, y] : s.points) {
      absl::StrAppend(&points, Fmt(px(x), "%.1f"), ",", Fmt(py(y), "%.1f"), " ");
    }
    absl::StrAppend(&svg, "<polyline fill=\"none\" stroke=\"", s.color, "\" stroke-width=\"", width,
                    "\" points=\"", points, "\"/>\n");
    for (const auto& [x, y] : s.points) {
      absl::StrAppend(&svg, "<circle cx=\"", Fmt(px(x), "%.1f"), "\" cy=\"", Fmt(py(y), "%.1f"),
                      "\" r=\"2.5\" fill=\"", s.color, "\"/>");
    }
    const double ly = kTop + 10 + 16 * static_cast<double>(i);
    const double lx = kLeft + plot_w + 12;
    absl::StrAppend(&svg, "\n<line x1=\"", lx, "\" x2=\"", lx + 18, "\" y1=\"", ly - 4, "\" y2=\"",
                    ly - 4, "\" stroke=\"", s.color, "\" stroke-width=\"", width, "\"/><text x=\"",
                    lx + 24, "\" y=\"", ly, "\"", s.bold ? " font-weight=\"bold\"" : "", ">",
                    HtmlEscape(s.name), "</text>\n");
  }
  return svg + "</svg>\n";
}

//! A horizontal bar chart of values in [0, 1], one labelled bar per entry.
std::string BarChart(const std::vector<std::pair<std::string, double>>& bars) {
  if (bars.empty()) return "<p class=\"empty\">No groups in the final line.</p>\n";
  constexpr double kLabel = 160, kBarW = 420, kRow = 24;
  const double height = kTop + kRow * static_cast<double>(bars.size()) + 8;
  std::string svg =
      absl::StrCat("<svg class=\"chart\" viewBox=\"0 0 ", kWidth, " ", height, "\" width=\"",
                   kWidth, "\" height=\"", height, "\" xmlns=\"http://www.w3.org/2000/svg\">\n");
  for (size_t i = 0; i < bars.size(); ++i) {
    const double y = kTop + kRow * static_cast<double>(i);
    const double w = kBarW * std::clamp(bars[i].second, 0.0, 1.0);
    absl::StrAppend(&svg, "<text x=\"", kLabel - 8, "\" y=\"", y + 15, "\" text-anchor=\"end\">",
                    HtmlEscape(bars[i].first), "</text><rect x=\"", kLabel, "\" y=\"", y + 3,
                    "\" width=\"", Fmt(w, "%.1f"), "\" height=\"", kRow - 6, "\" fill=\"",
                    kPalette[i % std::size(kPalette)], "\"/><text x=\"",
                    Fmt(kLabel + w + 6, "%.1f"), "\" y=\"", y + 15, "\">", Fmt(bars[i].second),
                    "</text>\n");
  }
  absl::StrAppend(&svg, "<line x1=\"", kLabel, "\" x2=\"", kLabel, "\" y1=\"", kTop, "\" y2=\"",
                  height - 8, "\" stroke=\"#444\"/>\n</svg>\n");
  return svg;
}

std::string SummaryTable(const std::vector<const Json*>& training, const Json& final_line,
                         bool final_evaluation) {
  auto row = [](const std::string& name, const std::string& value) {
    return absl::StrCat("<tr><th>", name, "</th><td>", value, "</td></tr>\n");
  };
  std::string html = "<table class=\"summary\">\n";
  absl::StrAppend(&html, row("Training rounds", absl::StrCat(training.size())));
  absl::StrAppend(
      &html,
      row("Final line", final_evaluation ? "final evaluation (test splits)"
                                         : absl::StrCat("round ", NumberCell(final_line, {"round"}),
                                                        " (validation; no final evaluation)")));
  if (const Json* reason = Find(final_line, {"chosen", "reason"}); reason && reason->is_string()) {
    absl::StrAppend(&html, row("Model", absl::StrCat("chosen on the selection split: ",
                                                     HtmlEscape(reason->get<std::string>()))));
  }
  if (const Json* error = Find(final_line, {"validation_error"}); error && error->is_string()) {
    absl::StrAppend(&html, row("Validation error", HtmlEscape(error->get<std::string>())));
  }
  const Json empty = Json::object();
  const Json* v = Find(final_line, {"validation"});
  const Json& val = v != nullptr ? *v : empty;
  absl::StrAppend(&html, row("Accuracy", NumberCell(val, {"overall", "accuracy"})));
  absl::StrAppend(&html, row("Macro-F1", NumberCell(val, {"overall", "macro_f1"})));
  absl::StrAppend(&html,
                  row("Worst-group accuracy",
                      absl::StrCat(NumberCell(val, {"overall", "worst_group_accuracy"}), " (",
                                   HtmlEscape(Text(val, {"overall", "worst_group"})), ")")));
  std::string gap_cell;
  if (const Json* cell = Find(val, {"min_max_gap", "cell"}); cell != nullptr) {
    gap_cell = absl::StrCat(" (", HtmlEscape(CellName(*cell)), ")");
  }
  absl::StrAppend(&html, row("MinMaxGAP", NumberCell(val, {"min_max_gap", "value"}) + gap_cell));
  if (Find(val, {"min_max_gap", "upper"}) != nullptr) {
    const std::optional<double> confidence = Number(val, {"min_max_gap", "confidence"});
    absl::StrAppend(
        &html, row("MinMaxGAP bias-corrected", NumberCell(val, {"min_max_gap", "bias_corrected"})));
    absl::StrAppend(&html,
                    row(absl::StrCat("MinMaxGAP ", confidence ? Fmt(100 * *confidence, "%.0f") : "",
                                     "% bounds"),
                        absl::StrCat("[", NumberCell(val, {"min_max_gap", "lower"}), ", ",
                                     NumberCell(val, {"min_max_gap", "upper"}), "]")));
    // Lines written before the bound named its metric judged the loss gap there.
    if (Find(val, {"bound"}) == nullptr && Find(val, {"min_max_gap", "verdict_text"}) != nullptr) {
      absl::StrAppend(&html, row(absl::StrCat("Bound MinMaxGAP &le; ",
                                              NumberCell(val, {"min_max_gap", "epsilon"})),
                                 HtmlEscape(Text(val, {"min_max_gap", "verdict_text"}))));
    }
  }
  if (Find(val, {"bound", "verdict_text"}) != nullptr) {
    absl::StrAppend(&html,
                    row(absl::StrCat("Bound ", HtmlEscape(Text(val, {"bound", "description"}))),
                        HtmlEscape(Text(val, {"bound", "verdict_text"}))));
  }
  absl::StrAppend(
      &html,
      row("Equalized odds difference (mean / max)",
          absl::StrCat(NumberCell(val, {"overall", "equalized_odds_difference", "mean"}), " / ",
                       NumberCell(val, {"overall", "equalized_odds_difference", "max"}))));
  absl::StrAppend(&html,
                  row("Disparate impact (mean / min)",
                      absl::StrCat(NumberCell(val, {"overall", "disparate_impact", "mean"}), " / ",
                                   NumberCell(val, {"overall", "disparate_impact", "min"}))));
  absl::StrAppend(&html, row("AFI", NumberCell(val, {"afi"})));
  return html + "</table>\n";
}

//! Every cell's groups (mean loss, count), loss gap with its bounds and the accuracy,
//! macro-F1 and equal-opportunity gaps with their intervals; the MinMaxGAP cell is
//! highlighted.
std::string CellTable(const Json& validation) {
  const Json* cells = Find(validation, {"cells"});
  if (cells == nullptr || !cells->is_array() || cells->empty()) {
    return "<p class=\"empty\">No cells in the final line.</p>\n";
  }
  std::string worst;
  if (const Json* cell = Find(validation, {"min_max_gap", "cell"})) worst = CellName(*cell);
  std::string html =
      "<table class=\"cells\">\n<tr><th>Cell</th><th>Group</th><th>Mean loss</th>"
      "<th>Count</th><th>Loss gap [bounds]</th><th>Gaps, points [interval]</th></tr>\n";
  for (const Json& cell : *cells) {
    const std::string name = CellName(cell);
    const Json* groups = Find(cell, {"groups"});
    const size_t rows =
        groups != nullptr && groups->is_object() ? std::max<size_t>(groups->size(), 1) : 1;
    const std::string head = absl::StrCat("<td rowspan=\"", rows, "\">", HtmlEscape(name), "</td>");
    std::string interval;
    if (Find(cell, {"loss_gap_bounds", "upper"}) != nullptr) {
      interval = absl::StrCat(" [", NumberCell(cell, {"loss_gap_bounds", "lower"}), ", ",
                              NumberCell(cell, {"loss_gap_bounds", "upper"}), "]");
    }
    // The gaps in points, one line each: accuracy, macro-F1, equal opportunity.
    std::vector<std::string> point_gaps;
    for (const char* key : {"accuracy_gap", "macro_f1_gap", "equal_opportunity_gap"}) {
      if (!Number(cell, {key, "value"})) continue;
      const auto points = [&](const char* part) {
        const std::optional<double> share = Number(cell, {key, part});
        return share ? Fmt(100 * *share, "%.1f") : "&ndash;";
      };
      std::string what = key == std::string("accuracy_gap")   ? "accuracy"
                         : key == std::string("macro_f1_gap") ? "macro-F1"
                                                              : "equal opportunity";
      if (const std::optional<double> label = Number(cell, {key, "label"})) {
        absl::StrAppend(&what, " (class ", Fmt(*label, "%.0f"), ")");
      }
      point_gaps.push_back(absl::StrCat(what, " ", points("value"), " [", points("lower"), ", ",
                                        points("upper"), "] ",
                                        HtmlEscape(Text(cell, {key, "best_group"})), " vs ",
                                        HtmlEscape(Text(cell, {key, "worst_group"}))));
    }
    const std::string accuracy = point_gaps.empty() ? "&ndash;" : absl::StrJoin(point_gaps, "<br>");
    const std::string gap =
        absl::StrCat("<td rowspan=\"", rows, "\">", NumberCell(cell, {"loss_gap"}), interval,
                     "</td><td rowspan=\"", rows, "\">", accuracy, "</td>");
    const std::string tr = name == worst ? "<tr class=\"worst\">" : "<tr>";
    if (rows == 1 && (groups == nullptr || !groups->is_object() || groups->empty())) {
      absl::StrAppend(&html, tr, head, "<td colspan=\"3\">no groups</td>", gap, "</tr>\n");
      continue;
    }
    bool first = true;
    for (const auto& [group, stats] : groups->items()) {
      absl::StrAppend(&html, tr, first ? head : "", "<td>", HtmlEscape(group), "</td><td>",
                      NumberCell(stats, {"mean_loss"}), "</td><td>",
                      Number(stats, {"count"}) ? Fmt(*Number(stats, {"count"}), "%.0f") : "&ndash;",
                      "</td>", first ? gap : "", "</tr>\n");
      first = false;
    }
  }
  return html + "</table>\n";
}

constexpr const char* kStyle =
    "body{font-family:sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}"
    "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}"
    "tr.worst td{background:#fde0dc}svg.chart{font-size:11px;display:block}"
    "p.empty,p.note{color:#777}";

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

absl::StatusOr<std::string> RenderHtmlReport(const std::vector<std::string>& json_lines,
                                             const std::string& title) {
  std::vector<Json> lines;
  for (size_t i = 0; i < json_lines.size(); ++i) {
    if (json_lines[i].find_first_not_of(" \t\r\n") == std::string::npos) continue;
    Json line = Json::parse(json_lines[i], nullptr, /*allow_exceptions=*/false);
    if (line.is_discarded() || !line.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("report line ", i + 1, " is not a JSON object"));
    }
    if (!Number(line, {"round"})) {
      return absl::InvalidArgumentError(
          absl::StrCat("report line ", i + 1, " has no numeric \"round\""));
    }
    lines.push_back(std::move(line));
  }
  std::string html =
      absl::StrCat("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
                   HtmlEscape(title), "</title>\n<style>", kStyle,
                   "</style>\n</head>\n<body>\n<h1>", HtmlEscape(title), "</h1>\n");
  if (lines.empty()) return html + "<p class=\"empty\">No rounds recorded.</p>\n</body>\n</html>\n";

  std::vector<const Json*> training;
  const Json* final_line = &lines.back();
  bool final_evaluation = false;
  for (const Json& line : lines) {
    const Json* flag = Find(line, {"final_evaluation"});
    if (flag != nullptr && flag->is_boolean() && flag->get<bool>()) {
      final_line = &line, final_evaluation = true;
    } else {
      training.push_back(&line);
    }
  }
  absl::StrAppend(&html, "<h2>Summary</h2>\n",
                  SummaryTable(training, *final_line, final_evaluation));

  // Series over the training rounds.
  Series accuracy{"accuracy", {}, kPalette[0]}, worst{"worst-group accuracy", {}, kPalette[3]};
  Series minmax{"MinMaxGAP", {}, "#000", true}, lambda{"λ", {}, kPalette[2]};
  std::map<std::string, Series> cell_series;
  for (const Json* line : training) {
    const double round = *Number(*line, {"round"});
    auto add = [&](Series& s, std::optional<double> y) {
      if (y) s.points.emplace_back(round, *y);
    };
    add(accuracy, Number(*line, {"validation", "overall", "accuracy"}));
    add(worst, Number(*line, {"validation", "overall", "worst_group_accuracy"}));
    add(minmax, Number(*line, {"validation", "min_max_gap", "value"}));
    add(lambda, Number(*line, {"lambda"}));
    const Json* cells = Find(*line, {"validation", "cells"});
    if (cells == nullptr || !cells->is_array()) continue;
    for (const Json& cell : *cells) add(cell_series[CellName(cell)], Number(cell, {"loss_gap"}));
  }
  std::vector<Series> gaps;
  for (auto& [name, s] : cell_series) {
    s.name = name;
    s.color = kPalette[gaps.size() % std::size(kPalette)];
    gaps.push_back(std::move(s));
  }
  gaps.push_back(minmax);
  absl::StrAppend(
      &html,
      "<p class=\"note\">Each training round's validation statistics describe the model the "
      "round started from.</p>\n<h2>Accuracy</h2>\n",
      LineChart({accuracy, worst}, "round", "validation accuracy"), "<h2>Loss gap per cell</h2>\n",
      LineChart(gaps, "round", "loss gap"), "<h2>Fairness λ</h2>\n",
      LineChart({lambda}, "round", "λ"));

  // The final model.
  const Json empty = Json::object();
  const Json* validation = Find(*final_line, {"validation"});
  std::vector<std::pair<std::string, double>> bars;
  if (const Json* groups = validation ? Find(*validation, {"overall", "groups"}) : nullptr;
      groups != nullptr && groups->is_object()) {
    for (const auto& [group, stats] : groups->items()) {
      if (std::optional<double> a = Number(stats, {"accuracy"})) bars.emplace_back(group, *a);
    }
  }
  absl::StrAppend(&html, "<h2>Per-group accuracy of the final model</h2>\n", BarChart(bars),
                  "<h2>Cells of the final line</h2>\n", CellTable(validation ? *validation : empty),
                  "</body>\n</html>\n");
  return html;
}

absl::StatusOr<std::string> RenderHtmlReportFile(const std::string& jsonl_path,
                                                 const std::string& title) {
  std::ifstream file(jsonl_path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open report '", jsonl_path, "'"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(file, line);) lines.push_back(std::move(line));
  return RenderHtmlReport(lines, title);
}

}  // namespace equifl::fairness
