// Server optimisers: how the global model moves once a round's client updates are
// averaged. Each round the server computes Δ, the weighted mean of the client deltas
// (client model − global model, e.g. with WeightedMean), and calls Step(x, Δ).
//
// The update rules are Algorithm 2 of Reddi et al., "Adaptive Federated
// Optimization" (ICLR 2021), with FedAvgM as in Hsu et al. (2019); no bias
// correction, as in the paper:
//   fedavg    x += η·Δ
//   fedavgm   m = μ·m + Δ;                                   x += η·m
//   fedadam   m = β1·m + (1 − β1)·Δ;  v = β2·v + (1 − β2)·Δ²;  x += η·m / (√v + τ)
//   fedyogi   m as fedadam;  v = v − (1 − β2)·Δ²·sign(v − Δ²); x += η·m / (√v + τ)
// State starts at m = 0 and, for the adaptive rules, v = τ² (the paper's
// "v_{-1} >= τ²"): the first step then divides by about |Δ| rather than by τ alone.
// v stays positive under both rules. m and v are float32, like the model; each
// element is updated in float32 arithmetic (a few float32 roundings per element per
// step, checked against a float64 reference by the tests).
//
// The state (m, v and the step count) can be exported and restored, so the server
// checkpoints it with the model and `--resume` continues exactly where it stopped.
#ifndef EQUIFL_AGGREGATION_SERVER_OPTIMIZER_H_
#define EQUIFL_AGGREGATION_SERVER_OPTIMIZER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/enum_names.h"

namespace equifl::aggregation {

//! Which update rule the server applies.
enum class ServerOptimizerKind { kFedAvg, kFedAvgM, kFedAdam, kFedYogi };

//! "fedavg", "fedavgm", "fedadam" and "fedyogi", in configuration files, checkpoints
//! (the state's names) and messages.
inline std::span<const EnumName<ServerOptimizerKind>> EnumNames(ServerOptimizerKind) {
  static constexpr EnumName<ServerOptimizerKind> kNames[] = {
      {ServerOptimizerKind::kFedAvg, "fedavg"},
      {ServerOptimizerKind::kFedAvgM, "fedavgm"},
      {ServerOptimizerKind::kFedAdam, "fedadam"},
      {ServerOptimizerKind::kFedYogi, "fedyogi"}};
  return kNames;
}

//! The kind called `name`; the error lists the allowed names.
inline absl::StatusOr<ServerOptimizerKind> ParseServerOptimizerKind(absl::string_view name) {
  return ParseEnum<ServerOptimizerKind>("server optimizer", name);
}

//! The name ParseServerOptimizerKind accepts, e.g. "fedadam".
inline std::string ServerOptimizerKindName(ServerOptimizerKind kind) {
  return std::string(NameOf(kind));
}

//! How the server moves the global model; the defaults are Reddi et al.'s.
struct ServerOptimizerOptions {
  //! The update rule.
  ServerOptimizerKind kind = ServerOptimizerKind::kFedAvg;
  //! Server learning rate η. Unset means the kind's default: 1.0 for fedavg and
  //! fedavgm (fedavg then is plain FedAvg: the model becomes the clients' mean),
  //! 1e-2 for fedadam and fedyogi (an adaptive step moves each parameter by up to
  //! about η, so η = 1 would be far too large; Reddi et al. tune η per task on a
  //! grid of powers of ten, and 1e-2 is a moderate start on that grid). If set,
  //! in [1e-30, 1e30].
  std::optional<double> learning_rate;
  //! Momentum μ of fedavgm, in [0, 1).
  double momentum = 0.9;
  //! First-moment decay β1 of fedadam and fedyogi, in [0, 1).
  double beta1 = 0.9;
  //! Second-moment decay β2 of fedadam and fedyogi, in [0, 1).
  double beta2 = 0.99;
  //! Adaptivity τ of fedadam and fedyogi, in [1e-18, 1e18] (τ² must be a normal
  //! float32): the smaller, the more adaptive. 1e-3 is Reddi et al.'s default.
  double tau = 1e-3;

  //! The kind's default learning rate (see learning_rate).
  static double DefaultLearningRate(ServerOptimizerKind kind);
  //! learning_rate if set, else DefaultLearningRate(kind).
  double EffectiveLearningRate() const;

  //! OK, or which option is out of range and what is allowed. Every field is
  //! checked, also those the kind does not use, so a typo never waits to surface.
  absl::Status Validate() const;
};

//! Named float32 tensors of optimiser state, in a fixed order.
using ServerOptimizerState = std::vector<std::pair<std::string, std::vector<float>>>;

class ServerOptimizer {
 public:
  //! Validates `options` and allocates the state for a model of `model_size`
  //! float32 parameters (m for fedavgm; m and v for fedadam and fedyogi).
  static absl::StatusOr<ServerOptimizer> Create(const ServerOptimizerOptions& options,
                                                size_t model_size);

  //! Moves `global_model` by `mean_update` (the weighted mean of client deltas)
  //! and advances the state. InvalidArgument, with model and state unchanged, if a
  //! size differs from model_size() or `mean_update` holds a non-finite value.
  absl::Status Step(std::span<float> global_model, std::span<const float> mean_update);

  //! The state to checkpoint: "<kind>/step" (one value, the number of steps taken),
  //! then "<kind>/m" and "<kind>/v" where the kind has them, each model_size() long.
  ServerOptimizerState State() const;

  //! Replaces the state with one State() returned, e.g. read from a checkpoint.
  //! InvalidArgument, with the state unchanged, unless it holds exactly this kind's
  //! names with the right sizes, a whole step count below 2^24, finite m and
  //! finite v >= 0.
  absl::Status Restore(const ServerOptimizerState& state);

  //! The options it was created with.
  const ServerOptimizerOptions& options() const { return options_; }
  //! Parameters of the model it steps.
  size_t model_size() const { return model_size_; }
  //! Steps taken (including those before a Restore).
  uint64_t steps() const { return steps_; }

 private:
  ServerOptimizer(const ServerOptimizerOptions& options, size_t model_size);

  //! The state's names for this kind, in State() order.
  std::vector<std::string> StateNames() const;

  ServerOptimizerOptions options_;  //!< Validated options.
  size_t model_size_ = 0;           //!< Parameters per model.
  float learning_rate_ = 0;         //!< options_.EffectiveLearningRate().
  std::vector<float> m_;            //!< Momentum / first moment; empty for fedavg.
  std::vector<float> v_;            //!< Second moment; fedadam and fedyogi only.
  uint64_t steps_ = 0;              //!< Steps taken.
};

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_SERVER_OPTIMIZER_H_
