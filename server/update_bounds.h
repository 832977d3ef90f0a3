// The bounds a client's numbers must keep before a round counts them. An upload
// carries numbers the server adds up: an aggregation weight, a training-set size
// and per-group loss sums, sample counts and confusion counts. Each is checked
// against a documented bound so that no accepted upload can make a round's sums
// overflow, turn non-finite or contradict themselves; what breaks a bound is
// refused with a status naming the number, and costs at most that one update.
//
// The bounds (docs/ARCHITECTURE.md, "What a client may send"):
//   samples       at most kMaxSamples (2^40) per client and group-cell;
//   weight        finite and > 0; at most max(n, 1)·AggregationWeightFactor, n the
//                 announced training-set size: e^β for ERM-MinMaxGAP (its n·exp(β·s)
//                 with s in [0, 1]), the weight cap C for group DRO (a sum of n
//                 weights each at most C), 1 otherwise (the weight is n); q-FedAvg's
//                 h_k does not scale with n and is bounded by kMaxQFedAvgWeight;
//   statistics    loss sums finite, >= 0 and at most kMaxMeanLoss per sample;
//                 sums of squared losses between (loss sum)²/count and (loss
//                 sum)², as for any non-negative losses (so a client that does
//                 not report them is refused rather than read as a group without
//                 spread); confusion counts, when present, add up to the sample
//                 count.
#ifndef EQUIFL_SERVER_UPDATE_BOUNDS_H_
#define EQUIFL_SERVER_UPDATE_BOUNDS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "fairness/group_statistics.h"
#include "server/fairness_engine.h"

namespace equifl::server {

//! The most samples a client may announce, and count in one group-cell.
inline constexpr uint64_t kMaxSamples = uint64_t{1} << 40;
//! The largest mean loss per sample, in nats (float32 cross-entropy stays below 104
//! unless training diverged).
inline constexpr double kMaxMeanLoss = 1e9;
//! The largest q-FedAvg weight h_k = q·F^(q−1)·‖Δ‖²·L + F^q·L.
inline constexpr double kMaxQFedAvgWeight = 1e30;

//! How many times its training-set size a client's aggregation weight may be under
//! `options` (q-FedAvg aside: see MaxAggregationWeight).
double AggregationWeightFactor(const FairnessOptions& options);

//! The largest aggregation weight a client announcing `train_samples` may send
//! under `options`.
double MaxAggregationWeight(const FairnessOptions& options, uint64_t train_samples);

//! OK when `weight` (what the client sent, or its sample count when it sent none)
//! is finite, > 0 and within MaxAggregationWeight.
absl::Status CheckAggregationWeight(const FairnessOptions& options, double weight,
                                    uint64_t train_samples);

//! OK when every group of `statistics` keeps the bounds above and no cell names a
//! client (the server keys cells by their sender); `split` names them
//! in the message ("training", "validation"). `quantised`: sums out of secure
//! aggregation's fixed point, whose rounding can put a sum of squares just outside
//! what exact losses allow, so only its range (finite, >= 0) is checked.
absl::Status CheckClientStatistics(const fairness::StatisticsTable& statistics, const char* split,
                                   bool quantised = false);

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_UPDATE_BOUNDS_H_
