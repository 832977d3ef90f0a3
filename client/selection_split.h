// The selection split: a fixed share of each (language, group) of a client's
// validation split, which the client evaluates apart so that the server can choose
// the run's model on samples no fairness controller reads (fairness/model_selection.h).
//
// Each (language, group) of n samples keeps floor(n·share) of them there, drawn at
// random (not every k-th: a file's order may have a period) from a fixed stream, so
// the same samples every round.
#ifndef EQUIFL_CLIENT_SELECTION_SPLIT_H_
#define EQUIFL_CLIENT_SELECTION_SPLIT_H_

#include <ATen/core/Tensor.h>

#include "client/model/dataset.h"

namespace equifl::client {

//! Sample indices (int64, CPU, ascending) of the two parts of a validation split.
struct SelectionIndices {
  at::Tensor validation;  //!< What the controllers' statistics come from.
  at::Tensor selection;   //!< The selection split.
};

//! Splits `dataset` for model selection with `share` in (0, 1).
SelectionIndices SplitForSelection(const Dataset& dataset, double share);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_SELECTION_SPLIT_H_
