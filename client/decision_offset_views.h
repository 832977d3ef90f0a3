// The statistics of the fusion view with a decision offset, which the server fits
// group-specific offsets for equal opportunity from (fairness/decision_offsets.h).
// They come from one evaluation: the fused model's probabilities p give its logits
// up to a per-sample constant, log p, so the prediction with offset δ on class c is
// argmax(log p + δ·[class = c]), without another forward pass. Losses do not change
// with δ; only predictions, and so confusion counts, do.
#ifndef EQUIFL_CLIENT_DECISION_OFFSET_VIEWS_H_
#define EQUIFL_CLIENT_DECISION_OFFSET_VIEWS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "client/local_trainer.h"
#include "client/model/dataset.h"
#include "fairness/group_statistics.h"

namespace equifl::client {

//! Each sample's prediction when `offset` is added to the log-probability of
//! `positive_class` in `probabilities` (float [N, C]); int64 [N] on the CPU. A
//! probability that underflowed to 0 is read as 1e-45, float's smallest.
at::Tensor PredictionsWithOffset(const at::Tensor& probabilities, uint32_t positive_class,
                                 double offset);

//! The cells of view `view` (an offset view, OffsetViewName) for the samples of
//! `dataset` that `fusion` evaluated, with `offset` on `positive_class`. Languages
//! and groups are named as the client's other statistics name them. A class the
//! model does not have gives no cells.
fairness::StatisticsTable DecisionOffsetViewStatistics(const EvaluationResult& fusion,
                                                       const Dataset& dataset,
                                                       uint32_t positive_class, double offset,
                                                       const std::string& view,
                                                       const std::vector<std::string>& languages,
                                                       const std::vector<std::string>& groups);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_DECISION_OFFSET_VIEWS_H_
