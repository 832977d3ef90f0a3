#include "fairness/model_selection.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fairness/accuracy_gap_interval.h"
#include "fairness/fairness_report.h"

namespace equifl::fairness {
namespace {

constexpr char kSelectionPrefix[] = "selection@";

// Accuracy for ranking: a model without one ranks below any with one.
double RankingAccuracy(const SelectionJudgement& judgement) {
  return judgement.accuracy ? judgement.accuracy->estimate : -1;
}

std::string AccuracyText(const SelectionJudgement& judgement) {
  if (!judgement.accuracy) return "accuracy unknown";
  const ProportionInterval& accuracy = *judgement.accuracy;
  return absl::StrFormat("%.1f%% [%.1f, %.1f]", 100 * accuracy.estimate, 100 * accuracy.lower,
                         100 * accuracy.upper);
}

}  // namespace

std::string SelectionViewName(double share) {
  return absl::StrCat(kSelectionPrefix, absl::StrFormat("%g", share));
}

std::optional<double> SelectionShareOfView(const std::string& view) {
  const std::optional<double> share = NumberAfterPrefix(view, kSelectionPrefix);
  if (!share || !(*share > 0) || !(*share < 1)) return std::nullopt;
  return share;
}

SelectionSplit SplitOffSelection(const StatisticsTable& table) {
  SelectionSplit split;
  for (const auto& [cell, groups] : table) {
    if (SelectionShareOfView(cell.modality)) {
      split.selection[{cell.language, kFusionView, cell.client}] = groups;
    } else {
      split.validation[cell] = groups;
    }
  }
  return split;
}

SelectionJudgement JudgeOnSelection(uint64_t model_round, const StatisticsTable& selection,
                                    const StatedBound& bound) {
  SelectionJudgement judgement;
  judgement.model_round = model_round;
  judgement.bound.bound = bound;
  judgement.bound.text = "undetermined: the selection split has no statistics";
  absl::StatusOr<FairnessReport> report = BuildFairnessReport(selection, kFusionView, {}, bound);
  if (!report.ok()) {
    judgement.bound.text = absl::StrCat("undetermined: ", report.status().message());
    return judgement;
  }
  judgement.samples = report->overall.count;
  judgement.bound = report->bound;
  const SliceMetrics& overall = report->overall;
  if (overall.confusion_count > 0) {
    const auto right =
        static_cast<uint64_t>(std::llround(overall.accuracy * overall.confusion_count));
    judgement.accuracy =
        WilsonInterval(right, overall.confusion_count, SimultaneousZ(bound.confidence, 1));
  }
  return judgement;
}

nlohmann::json SelectionToJson(const SelectionJudgement& judgement) {
  nlohmann::json accuracy = nullptr;
  if (judgement.accuracy) {
    accuracy = {{"value", judgement.accuracy->estimate},
                {"lower", judgement.accuracy->lower},
                {"upper", judgement.accuracy->upper}};
  }
  return {{"model_round", judgement.model_round},
          {"samples", judgement.samples},
          {"accuracy", accuracy},
          {"verdict", VerdictName(judgement.bound.verdict)},
          {"estimate", judgement.bound.estimate},
          {"lower", judgement.bound.lower},
          {"upper", judgement.bound.upper},
          {"text", judgement.bound.text}};
}

nlohmann::json ChosenToJson(const std::optional<uint64_t>& model_round, const std::string& reason) {
  if (!model_round) return nullptr;
  return {{"model_round", *model_round}, {"reason", reason}};
}

void ModelSelection::Observe(const SelectionJudgement& judgement) {
  if (judgement.model_round == 0) return;
  const auto at = std::lower_bound(
      judged_.begin(), judged_.end(), judgement.model_round,
      [](const SelectionJudgement& entry, uint64_t round) { return entry.model_round < round; });
  if (at != judged_.end() && at->model_round == judgement.model_round) {
    *at = judgement;
  } else {
    judged_.insert(at, judgement);
  }
}

namespace {

// The most accurate of `judged` (the later on ties); null when it is empty.
const SelectionJudgement* MostAccurate(const std::vector<SelectionJudgement>& judged) {
  const SelectionJudgement* best = nullptr;
  for (const SelectionJudgement& candidate : judged) {
    if (best == nullptr || RankingAccuracy(candidate) >= RankingAccuracy(*best)) best = &candidate;
  }
  return best;
}

// One standard error of `judgement`'s accuracy, sqrt(p(1 − p)/n); 0 without one.
double StandardError(const SelectionJudgement& judgement) {
  if (!judgement.accuracy || judgement.samples == 0) return 0;
  const double p = judgement.accuracy->estimate;
  return std::sqrt(p * (1 - p) / static_cast<double>(judgement.samples));
}

// What the rule saw: the most accurate model, the models within one standard error
// of it (in round order), those of them whose bound held, and the one chosen.
struct Choice {
  const SelectionJudgement* best = nullptr;
  std::vector<const SelectionJudgement*> near;
  std::vector<const SelectionJudgement*> held;
  const SelectionJudgement* chosen = nullptr;
};

Choice Choose(const std::vector<SelectionJudgement>& judged) {
  Choice choice;
  choice.best = MostAccurate(judged);
  if (choice.best == nullptr) return choice;
  const double threshold = RankingAccuracy(*choice.best) - StandardError(*choice.best);
  for (const SelectionJudgement& candidate : judged) {
    if (RankingAccuracy(candidate) < threshold) continue;
    choice.near.push_back(&candidate);
    if (candidate.bound.verdict == BoundVerdict::kHeld) choice.held.push_back(&candidate);
  }
  // judged is in round order, so the last of a list is its latest model.
  choice.chosen = choice.held.empty() ? choice.near.back() : choice.held.back();
  return choice;
}

}  // namespace

std::optional<SelectionJudgement> ModelSelection::Chosen() const {
  const Choice choice = Choose(judged_);
  if (choice.chosen == nullptr) return std::nullopt;
  return *choice.chosen;
}

std::string ModelSelection::Reason() const {
  const Choice choice = Choose(judged_);
  if (choice.chosen == nullptr) return "";
  const SelectionJudgement& chosen = *choice.chosen;
  const std::string bound = chosen.bound.bound.Describe();
  std::string verdict;
  if (!choice.held.empty()) {
    verdict = absl::StrCat(", whose bound (", bound, ") held");
  } else {
    const auto violated = std::count_if(
        choice.near.begin(), choice.near.end(),
        [](const SelectionJudgement* j) { return j->bound.verdict == BoundVerdict::kViolated; });
    verdict = absl::StrCat("; the bound (", bound, ") held for none of them (",
                           static_cast<int64_t>(choice.near.size()) - violated, " undetermined, ",
                           violated, " violated)");
  }
  return absl::StrCat("round ", chosen.model_round, "'s model (", AccuracyText(chosen), " on ",
                      chosen.samples, " samples): the latest of the ",
                      choice.held.empty() ? choice.near.size() : choice.held.size(), " of ",
                      judged_.size(), " models judged that are within one standard error (",
                      absl::StrFormat("%.1f", 100 * StandardError(*choice.best)),
                      " points) of the most accurate, round ", choice.best->model_round, "'s (",
                      AccuracyText(*choice.best), ")", verdict, ", on the selection split");
}

}  // namespace equifl::fairness
