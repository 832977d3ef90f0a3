// Local training and evaluation of the multimodal model on a client's data.
//
// One round of federated training on a client is Train(): a few epochs (or a
// fixed number of steps) of minibatch SGD/Adam from the global model, optionally
// with FedProx's proximal term pulling towards that global model and with
// per-sample weights (how the server's fairness directive reaches the loss).
// Train and Evaluate both keep every per-sample loss and sum them per (language,
// group) in float64: these sums and counts are what the server's MinMaxGAP
// controller aggregates. On the CPU a run is a function of the model's initial
// state, the data and the seed.
#ifndef EQUIFL_CLIENT_LOCAL_TRAINER_H_
#define EQUIFL_CLIENT_LOCAL_TRAINER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "client/group_statistics.h"
#include "client/model/dataset.h"
#include "client/model/modality_view.h"
#include "client/trainer_options.h"

namespace equifl::client {

class MultimodalModel;  // client/multimodal_model.h

//! What Train reports.
struct TrainResult {
  int64_t samples = 0;       //!< Samples in the training set (n_k of FedAvg).
  int64_t steps = 0;         //!< Optimiser steps taken.
  int64_t samples_seen = 0;  //!< Samples processed over all steps.
  double mean_loss = 0;      //!< Mean unweighted task loss over the samples processed.
  //! Per (language, group), from the per-sample task losses (unweighted, at the
  //! parameters of the step that processed them) and training-mode predictions;
  //! a sample counts once per time it is processed.
  GroupSums groups;
};

//! Adds every sample of `samples` to `accumulator`, with its loss from `losses`
//! (float64 [N] on the CPU) and its prediction from `predictions` (int64 [N] on the
//! CPU): how Train, Evaluate and the derived views of an evaluation (temperature and
//! offset views) sum their per-sample results by (language, group).
void AddSamples(const at::Tensor& losses, const at::Tensor& predictions, const Dataset& samples,
                GroupStatisticsAccumulator& accumulator);

//! What Evaluate reports, sample by sample and per (language, group).
struct EvaluationResult {
  at::Tensor losses;       //!< float64 [N] on the CPU, per-sample cross-entropy.
  at::Tensor predictions;  //!< int64 [N] on the CPU, argmax class.
  //! float32 [N, C] on the CPU, the softmax of the logits (what `losses` scores).
  at::Tensor probabilities;
  double mean_loss = 0;  //!< Mean of `losses` (0 for no samples).
  double accuracy = 0;   //!< Fraction of correct predictions (0 for no samples).
  GroupSums groups;      //!< Per (language, group), sorted.
};

//! Extra loss terms on single-modality views: for each, a forward pass that sees
//! only `view` and mean_i(weights_i · CE_i) added to the loss. The fairness
//! directive's weights of (language, view, group) cells arrive this way, so cells
//! of every modality view shape training, not only the fused model's.
struct ViewLossWeights {
  ModalityView view;   //!< The modalities the extra forward pass sees.
  at::Tensor weights;  //!< Floating point [N], per training sample; may be negative.
};

//! Trains `model` in place on `dataset` and leaves it on options.device. Each step
//! minimises mean_i(w_i * CE_i) (w_i = 1 without `sample_weights`, float [N],
//! which may be negative), plus the `view_weights` terms, plus the adversary's
//! cross-entropy when the model has one, plus the FedProx term. An epoch visits
//! every sample once in a random order, or, with `draw_weights` (float [N], >= 0,
//! not all 0), N samples drawn with replacement with probabilities ∝ draw_weights.
//! Seeds LibTorch's global generator with options.seed (dropout draws from it).
//! Errors name the bad option, data or weights; a non-finite loss stops training
//! with an error naming the step.
absl::StatusOr<TrainResult> Train(MultimodalModel& model, const Dataset& dataset,
                                  const TrainerOptions& options,
                                  const at::Tensor& sample_weights = {},
                                  const std::vector<ViewLossWeights>& view_weights = {},
                                  const at::Tensor& draw_weights = {});

//! Evaluates `model` on `dataset` (on the model's device) in eval mode without
//! gradients, seeing only the modalities of `view`, `batch_size` samples at a
//! time. Restores the model's training mode afterwards. `on_batch`, when given, is
//! told the samples evaluated so far after each batch (a progress line's hook).
absl::StatusOr<EvaluationResult> Evaluate(
    MultimodalModel& model, const Dataset& dataset, const ModalityView& view = {},
    int64_t batch_size = 256, const std::function<void(int64_t samples)>& on_batch = nullptr);

//! The loss Train minimises for the task: mean_i(w_i · CE(logits_i, label_i)), or
//! the plain mean cross-entropy when `weights` is undefined. `logits` [B, C],
//! `labels` int64 [B], `weights` [B] on the logits' device. With the weights of a
//! fairness directive (1 + weight(cell, group)) its gradient is that of the
//! federated MinMaxGAP objective (fairness/minmax_gap.h).
at::Tensor WeightedTaskLoss(const at::Tensor& logits, const at::Tensor& labels,
                            const at::Tensor& weights);

//! FedProx's proximal term mu/2 * sum_i ||parameters[i] - anchors[i]||^2, a scalar
//! with a gradient mu * (w - w_global) for each parameter. Shapes must pair up.
at::Tensor ProximalTerm(const std::vector<at::Tensor>& parameters,
                        const std::vector<at::Tensor>& anchors, double mu);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_LOCAL_TRAINER_H_
