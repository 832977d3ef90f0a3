// Model selection: the run's chosen model is the most accurate one whose stated
// bound held (as far as accuracy can be told apart), judged on a part of the
// validation split that no controller reads.
//
// Each client keeps a fixed share of every (language, group) of its validation
// split aside, the selection split, and evaluates the fused model of each round's
// start on it as the view SelectionViewName(share); the server takes that view out
// of the validation table before the fairness engine sees it (SplitOffSelection),
// so group DRO, the floor and calibration never touch those samples, and judges
// each model on it. Choosing among many rounds on one split flatters the chosen
// one's selection accuracy, so the final evaluation of the chosen model on the test
// split is what the run reports. The rule, over the trained models judged (the
// initial model is not a candidate):
//   1. the models whose accuracy is within one standard error of the most
//      accurate one's: a model further below is one the bound would buy by making
//      everyone worse, which selection never does;
//   2. of those, the ones whose bound held (upper bound within ε), if any;
//   3. of those, the latest: the most trained, where noise alone separates them
//      (the largest of many noisy accuracies is biased upwards, and on a
//      selection split of a few hundred samples an earlier model would otherwise
//      often win by noise alone).
// An undetermined bound does not beat a violated one: neither is shown to hold.
// Plain data: no LibTorch, no protobuf.
#ifndef EQUIFL_FAIRNESS_MODEL_SELECTION_H_
#define EQUIFL_FAIRNESS_MODEL_SELECTION_H_

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fairness/group_statistics.h"
#include "fairness/loss_gap_bounds.h"
#include "fairness/stated_bound.h"

namespace equifl::fairness {

//! The view a client reports its selection split under: "selection@<share>", the
//! fused model on `share` of each validation group's samples.
std::string SelectionViewName(double share);

//! The share of a view named by SelectionViewName, in (0, 1); nullopt for any
//! other view.
std::optional<double> SelectionShareOfView(const std::string& view);

//! A validation table split into what the controllers read and the selection split.
struct SelectionSplit {
  StatisticsTable validation;  //!< Every cell but the selection view's.
  StatisticsTable selection;   //!< The selection view's cells, keyed as fusion cells.
};
SelectionSplit SplitOffSelection(const StatisticsTable& table);

//! One model judged on the selection split.
struct SelectionJudgement {
  uint64_t model_round = 0;  //!< The model after this many rounds.
  uint64_t samples = 0;      //!< Fusion samples of the selection split.
  //! Accuracy with Wilson's interval at the bound's confidence; absent without
  //! confusion counts (never chosen over a model that has one).
  std::optional<ProportionInterval> accuracy;
  BoundJudgement bound;  //!< The stated bound judged on the selection split.
};

//! Judges the model after `model_round` rounds from its selection statistics.
SelectionJudgement JudgeOnSelection(uint64_t model_round, const StatisticsTable& selection,
                                    const StatedBound& bound);

//! The judgement as JSON: {"model_round", "samples", "accuracy": {"value", "lower",
//! "upper"} or null, "verdict", "estimate", "lower", "upper", "text"}.
nlohmann::json SelectionToJson(const SelectionJudgement& judgement);

//! The model a run chose as the reports give it, {"model_round", "reason"}; null
//! when none was chosen (no model selection, or none judged yet).
nlohmann::json ChosenToJson(const std::optional<uint64_t>& model_round, const std::string& reason);

//! The models judged so far and the one the rule chooses.
class ModelSelection {
 public:
  //! Adds a judgement; the initial model (model_round 0) is not a candidate and is
  //! ignored. A model judged again replaces its earlier judgement.
  void Observe(const SelectionJudgement& judgement);

  //! The chosen model's judgement; nullopt before any candidate.
  std::optional<SelectionJudgement> Chosen() const;

  //! Why the chosen model was chosen, in a sentence ("round 12's model (71.2% [68.0,
  //! 74.1] on 800 samples): the latest of the 2 of 19 models judged that are within
  //! one standard error (1.6 points) of the most accurate, round 10's (…), whose
  //! bound (…) held, on the selection split"); empty before any candidate.
  std::string Reason() const;

  //! Every candidate judged, in round order.
  const std::vector<SelectionJudgement>& judged() const { return judged_; }

 private:
  std::vector<SelectionJudgement> judged_;
};

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_MODEL_SELECTION_H_
