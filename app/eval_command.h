// `equifl eval`: accuracy and every fairness metric of a model checkpoint on one
// split of a shard, per group, per (language, modality view) cell and per view,
// as a terminal table and as JSON (fairness/fairness_report.h's schema), and on
// request every sample's prediction for an audit (app/predictions_csv.h).
#ifndef EQUIFL_APP_EVAL_COMMAND_H_
#define EQUIFL_APP_EVAL_COMMAND_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "app/config.h"

namespace equifl::app {

//! Command-line choices of `equifl eval`.
struct EvalCommand {
  std::string checkpoint;          //!< A model checkpoint (safetensors) of a run.
  std::string shard;               //!< The shard folder to evaluate on.
  std::string split = "test";      //!< train, validation or test.
  std::vector<std::string> views;  //!< Modality views; empty: fusion and each modality.
  std::string json;                //!< Write the JSON report here ("-": stdout); empty: none.
  std::string predictions;         //!< Write app/predictions_csv.h's file here; empty: none.
  //! Per-group temperatures (fairness/calibration.h) to report calibrated losses
  //! with; empty: the checkpoint's sibling STEM.calibration.json when there is one;
  //! "none": never.
  std::string calibration;
};

//! Adds `eval` and its flags, stored in `command`, to `app`.
CLI::App* AddEvalSubcommand(CLI::App& app, EvalCommand& command);

//! Evaluates and prints the report; returns the exit code (0 done, 1 failed at run
//! time, 2 bad input).
int RunEvalCommand(const Config& config, const EvalCommand& command);

}  // namespace equifl::app

#endif  // EQUIFL_APP_EVAL_COMMAND_H_
