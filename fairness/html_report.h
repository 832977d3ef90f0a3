// An offline-viewable HTML report of a federated run, from the run's JSON-lines report
// (report.jsonl, one object per closed round, as written by server::RunFolder::OnRoundClosed;
// each line's "validation" follows the schema at the top of fairness_report.h).
//
// The page is one self-contained file: inline CSS and inline SVG, no scripts, no network. It
// shows a summary table (rounds; the model model selection chose and why; accuracy,
// macro-F1, worst-group accuracy, MinMaxGAP,
// equalized-odds difference and disparate impact of the "final_evaluation" line when there
// is one, else of the last line), line charts over the training rounds of accuracy and
// worst-group accuracy, of every cell's loss gap with MinMaxGAP in bold, and of λ, a bar chart
// of the final model's per-group accuracy, and a table of every cell's groups of the final
// line. Every string taken from the JSON is HTML-escaped.
#ifndef EQUIFL_FAIRNESS_HTML_REPORT_H_
#define EQUIFL_FAIRNESS_HTML_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace equifl::fairness {

//! The page of `json_lines` (one JSON object each; empty lines are skipped), titled `title`.
//! Fails with InvalidArgument naming the 1-based line number when a line is not a JSON object
//! or lacks a numeric "round". No rounds at all gives a page that says so.
absl::StatusOr<std::string> RenderHtmlReport(const std::vector<std::string>& json_lines,
                                             const std::string& title);

//! RenderHtmlReport of the lines of the file at `jsonl_path`; NotFound naming the path when it
//! cannot be opened.
absl::StatusOr<std::string> RenderHtmlReportFile(const std::string& jsonl_path,
                                                 const std::string& title);

//! `text` with &, <, >, " and ' replaced by HTML entities.
std::string HtmlEscape(const std::string& text);

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_HTML_REPORT_H_
