// How a client's training samples are weighted under the run's fairness method.
//
// The server's directive lists a weight per (cell, group); a sample of language l
// and group g in modality view v weighs 1 + weight((l, v), g) in the local loss
// (fairness/minmax_gap.h explains why that follows the gradient of the federated
// MinMaxGAP objective). Local group-balanced reweighting needs no directive.
#ifndef EQUIFL_CLIENT_FAIRNESS_WEIGHTS_H_
#define EQUIFL_CLIENT_FAIRNESS_WEIGHTS_H_

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "client/model/dataset.h"
#include "fairness/minmax_gap.h"

namespace equifl::client {

//! weight(cell(i), group(i)) of every sample of `dataset` in modality view `view`
//! (without the ERM 1), float64 [N] on the CPU. Languages and groups are named by
//! `languages` and `groups` (an index past either list is named by its number, as
//! the client's statistics name it).
at::Tensor DirectiveSampleWeights(const fairness::FairnessDirective& directive,
                                  const Dataset& dataset, const std::vector<std::string>& languages,
                                  const std::vector<std::string>& groups, const std::string& view);

//! Local group-balanced weights n / (G·n_g) for a sample of group g, where G counts
//! the groups present in `dataset`: every group then carries the same total weight
//! and the weights average 1. float32 [N] on the CPU.
at::Tensor BalancedSampleWeights(const Dataset& dataset);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_FAIRNESS_WEIGHTS_H_
