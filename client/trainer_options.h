// How the local trainer runs: epochs or steps, optimiser, learning-rate
// schedule, FedProx, device and precision.
//
// Plain data with no LibTorch in the header, so configuration code can fill and
// check it cheaply; Validate() names the bad field and what is allowed.
#ifndef EQUIFL_CLIENT_TRAINER_OPTIONS_H_
#define EQUIFL_CLIENT_TRAINER_OPTIONS_H_

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/enum_names.h"

namespace equifl::client {

//! The local optimiser.
enum class OptimizerKind {
  kAdam,   //!< Adam; weight_decay is an L2 term added to the gradient.
  kAdamW,  //!< Adam with decoupled weight decay.
  kSgd,    //!< SGD with (heavy-ball) momentum.
};

//! How the learning rate moves over the local steps.
enum class LrSchedule {
  kConstant,  //!< learning_rate throughout.
  kCosine,    //!< From learning_rate down to min_learning_rate along a half cosine.
  kStep,      //!< Multiplied by lr_gamma every lr_step_size steps.
};

//! "adam" / "adamw" / "sgd" in configuration files, tasks and messages.
inline std::span<const EnumName<OptimizerKind>> EnumNames(OptimizerKind) {
  static constexpr EnumName<OptimizerKind> kNames[] = {{OptimizerKind::kAdam, "adam"},
                                                       {OptimizerKind::kAdamW, "adamw"},
                                                       {OptimizerKind::kSgd, "sgd"}};
  return kNames;
}
//! "constant" / "cosine" / "step".
inline std::span<const EnumName<LrSchedule>> EnumNames(LrSchedule) {
  static constexpr EnumName<LrSchedule> kNames[] = {{LrSchedule::kConstant, "constant"},
                                                    {LrSchedule::kCosine, "cosine"},
                                                    {LrSchedule::kStep, "step"}};
  return kNames;
}

//! The optimiser called `name`; the error lists the allowed names.
inline absl::StatusOr<OptimizerKind> ParseOptimizerKind(absl::string_view name) {
  return ParseEnum<OptimizerKind>("optimizer", name);
}
//! The schedule's name, and back.
inline absl::string_view LrScheduleName(LrSchedule schedule) { return equifl::NameOf(schedule); }
inline absl::StatusOr<LrSchedule> ParseLrSchedule(absl::string_view name) {
  return ParseEnum<LrSchedule>("lr_schedule", name);
}

//! "cuda" when LibTorch sees a CUDA device, else "cpu". Defined with the other
//! questions to LibTorch about devices (client/model/torch_device.cc), so the
//! options themselves need no Torch (the configuration loader's fuzz target
//! builds them with clang).
std::string DefaultDevice();

//! How Train runs.
struct TrainerOptions {
  int64_t epochs = 1;       //!< Passes over the data; 0 means run `steps` steps instead.
  int64_t steps = 0;        //!< Optimiser steps when epochs is 0 (reshuffling after each pass).
  int64_t batch_size = 32;  //!< Samples per step (the last batch of a pass may be smaller).
  OptimizerKind optimizer = OptimizerKind::kAdamW;  //!< The local optimiser.
  double learning_rate = 1e-3;                      //!< Peak learning rate.
  double weight_decay = 0.0;                        //!< L2 (adam, sgd) or decoupled (adamw).
  double momentum = 0.9;                            //!< SGD momentum.
  LrSchedule lr_schedule = LrSchedule::kConstant;   //!< Learning-rate schedule.
  double min_learning_rate = 0.0;                   //!< Cosine: the rate it decays towards.
  int64_t lr_step_size = 100;                       //!< Step: steps between decays.
  double lr_gamma = 0.1;                            //!< Step: factor per decay.
  //! FedProx: adds mu/2 * ||w - w_global||^2, w_global being the model Train got.
  double proximal_mu = 0.0;
  double max_grad_norm = 0.0;  //!< Clips the global gradient norm to this; 0 is off.
  //! Probability of hiding each present modality of a training sample (keeping at
  //! least one), so the fused model also learns every modality subset.
  double modality_dropout = 0.0;
  uint64_t seed = 0;                     //!< Seeds shuffling, modality and ordinary dropout.
  std::string device = DefaultDevice();  //!< "cpu", "cuda" or "cuda:<index>" (base/device.h).
  //! bfloat16 autocast for the forward pass on CUDA; ignored on the CPU.
  bool mixed_precision = false;

  static constexpr int64_t kMaxEpochs = 1'000'000;
  static constexpr int64_t kMaxBatchSize = int64_t{1} << 20;

  //! OK, or which field is out of range and what is allowed.
  absl::Status Validate() const;
};

//! The learning rate of step `step` (0-based) of `total_steps` under `options`.
double LearningRateAt(const TrainerOptions& options, int64_t step, int64_t total_steps);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_TRAINER_OPTIONS_H_
