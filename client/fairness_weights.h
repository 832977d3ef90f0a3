// How a client's training samples are weighted under the run's fairness method.
//
// The server's directive lists a weight per (cell, group); a sample of language l
// and group g in modality view v weighs 1 + weight((l, v), g) in the local loss
// (fairness/minmax_gap.h explains why that follows the gradient of the federated
// MinMaxGAP objective). Group DRO caps and renormalises those weights on each
// client (CapAndRenormalise). Local group-balanced reweighting needs no directive.
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

//! Group DRO's weights of one client's training samples.
struct CappedSampleWeights {
  //! float32 [N]: the loss weights, mean 1 over the samples as drawn.
  at::Tensor loss_weights;
  //! float32 [N], or undefined: how often each sample is drawn, where the cap binds.
  at::Tensor draw_weights;
  double total = 0;  //!< Σ_i min(s_i, cap): the client's aggregation weight.
};

//! From the weights s_i (float64 [N], 1 + the directive's weight; negatives read
//! as 0): c_i = min(s_i, cap) (no cap when cap <= 0), total = Σ c_i, and
//! v_i = c_i·N/total, mean 1. Where the renormalisation lifts some v_i above the
//! cap, the samples are drawn with probability ∝ d_i = max(1, v_i/cap) and weigh
//! u_i = (v_i/d_i)·Σ_j d_j/N, so each step's expected loss is still
//! (1/N)·Σ_i v_i·ℓ_i while no loss weight exceeds cap·Σ_j d_j/N: the heavy groups
//! fill more of each minibatch instead of a few samples carrying huge weights.
//! When every c_i is 0 the samples weigh 1 (total N).
CappedSampleWeights CapAndRenormalise(const at::Tensor& weights, double cap);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_FAIRNESS_WEIGHTS_H_
