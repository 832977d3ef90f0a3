#include "aggregation/server_optimizer.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace equifl::aggregation {
namespace {

constexpr uint32_t kMagnitudeMask = 0x7FFFFFFFu;
constexpr uint32_t kInfinityBits = 0x7F800000u;
// Float32 holds every whole number up to 2^24 exactly.
constexpr float kMaxStateStep = 16777216.0f;

// Index of the first non-finite value, or values.size(). The OR pass vectorises; the
// search runs only when it finds something.
size_t FirstNonFinite(std::span<const float> values) {
  uint32_t non_finite = 0;
  for (float value : values) {
    non_finite |=
        static_cast<uint32_t>((std::bit_cast<uint32_t>(value) & kMagnitudeMask) >= kInfinityBits);
  }
  if (non_finite == 0) return values.size();
  size_t index = 0;
  while (std::isfinite(values[index])) ++index;
  return index;
}

// The element loops below are the whole cost of a step; with -O3 -fno-math-errno
// (CMakeLists.txt) GCC vectorises each of them, sqrt and division included.

void StepFedAvg(float* __restrict x, const float* __restrict delta, float lr, size_t size) {
  for (size_t i = 0; i < size; ++i) x[i] += lr * delta[i];
}

void StepFedAvgM(float* __restrict x, float* __restrict m, const float* __restrict delta, float mu,
                 float lr, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    const float momentum = mu * m[i] + delta[i];
    m[i] = momentum;
    x[i] += lr * momentum;
  }
}

struct AdaptiveConstants {
  float lr, beta1, one_minus_beta1, beta2, one_minus_beta2, tau;
};

void StepFedAdam(float* __restrict x, float* __restrict m, float* __restrict v,
                 const float* __restrict delta, const AdaptiveConstants& c, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    const float d = delta[i];
    const float first = c.beta1 * m[i] + c.one_minus_beta1 * d;
    const float second = c.beta2 * v[i] + c.one_minus_beta2 * (d * d);
    m[i] = first;
    v[i] = second;
    x[i] += c.lr * first / (std::sqrt(second) + c.tau);
  }
}

void StepFedYogi(float* __restrict x, float* __restrict m, float* __restrict v,
                 const float* __restrict delta, const AdaptiveConstants& c, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    const float d = delta[i];
    const float squared = d * d;
    const float previous = v[i];
    const float sign = static_cast<float>(static_cast<int>(previous > squared) -
                                          static_cast<int>(previous < squared));
    const float first = c.beta1 * m[i] + c.one_minus_beta1 * d;
    const float second = previous - c.one_minus_beta2 * squared * sign;
    m[i] = first;
    v[i] = second;
    x[i] += c.lr * first / (std::sqrt(second) + c.tau);
  }
}

bool HasMoment(ServerOptimizerKind kind) { return kind != ServerOptimizerKind::kFedAvg; }

bool HasSecondMoment(ServerOptimizerKind kind) {
  return kind == ServerOptimizerKind::kFedAdam || kind == ServerOptimizerKind::kFedYogi;
}

absl::Status CheckUnitInterval(absl::string_view name, double value) {
  if (value >= 0 && value < 1) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("server optimizer ", name, " is ", value, "; allowed range: [0, 1)"));
}

}  // namespace

double ServerOptimizerOptions::DefaultLearningRate(ServerOptimizerKind kind) {
  return HasSecondMoment(kind) ? 1e-2 : 1.0;
}

double ServerOptimizerOptions::EffectiveLearningRate() const {
  return learning_rate.value_or(DefaultLearningRate(kind));
}

absl::Status ServerOptimizerOptions::Validate() const {
  if (!IsNamed(kind)) {
    return absl::InvalidArgumentError(
        absl::StrCat("server optimizer kind ", static_cast<int>(kind),
                     " is unknown; allowed values: ", AllowedNames<ServerOptimizerKind>()));
  }
  // η is applied in float32: it must be a normal float32, with room to spare.
  if (learning_rate.has_value() && !(*learning_rate >= 1e-30 && *learning_rate <= 1e30)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "server optimizer learning_rate is ", *learning_rate, "; allowed range: [1e-30, 1e30]"));
  }
  EQUIFL_RETURN_IF_ERROR(CheckUnitInterval("momentum", momentum));
  EQUIFL_RETURN_IF_ERROR(CheckUnitInterval("beta1", beta1));
  EQUIFL_RETURN_IF_ERROR(CheckUnitInterval("beta2", beta2));
  // τ² is v's starting value, so it must be a normal float32 too.
  if (!(tau >= 1e-18 && tau <= 1e18)) {
    return absl::InvalidArgumentError(
        absl::StrCat("server optimizer tau is ", tau, "; allowed range: [1e-18, 1e18]"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ServerOptimizer> ServerOptimizer::Create(const ServerOptimizerOptions& options,
                                                        size_t model_size) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  return ServerOptimizer(options, model_size);
}

ServerOptimizer::ServerOptimizer(const ServerOptimizerOptions& options, size_t model_size)
    : options_(options),
      model_size_(model_size),
      learning_rate_(static_cast<float>(options.EffectiveLearningRate())) {
  if (HasMoment(options_.kind)) m_.assign(model_size_, 0.0f);
  if (HasSecondMoment(options_.kind)) {
    v_.assign(model_size_, static_cast<float>(options_.tau * options_.tau));
  }
}

absl::Status ServerOptimizer::Step(std::span<float> global_model,
                                   std::span<const float> mean_update) {
  if (global_model.size() != model_size_ || mean_update.size() != model_size_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "server optimizer step got a model of ", global_model.size(), " and an update of ",
        mean_update.size(), " parameters; it was created for ", model_size_));
  }
  if (const size_t bad = FirstNonFinite(mean_update); bad < mean_update.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mean update element ", bad, " is ", mean_update[bad], "; the model was not changed"));
  }
  float* x = global_model.data();
  const float* delta = mean_update.data();
  const AdaptiveConstants constants{learning_rate_,
                                    static_cast<float>(options_.beta1),
                                    static_cast<float>(1.0 - options_.beta1),
                                    static_cast<float>(options_.beta2),
                                    static_cast<float>(1.0 - options_.beta2),
                                    static_cast<float>(options_.tau)};
  switch (options_.kind) {
    case ServerOptimizerKind::kFedAvg:
      StepFedAvg(x, delta, learning_rate_, model_size_);
      break;
    case ServerOptimizerKind::kFedAvgM:
      StepFedAvgM(x, m_.data(), delta, static_cast<float>(options_.momentum), learning_rate_,
                  model_size_);
      break;
    case ServerOptimizerKind::kFedAdam:
      StepFedAdam(x, m_.data(), v_.data(), delta, constants, model_size_);
      break;
    case ServerOptimizerKind::kFedYogi:
      StepFedYogi(x, m_.data(), v_.data(), delta, constants, model_size_);
      break;
  }
  ++steps_;
  return absl::OkStatus();
}

std::vector<std::string> ServerOptimizer::StateNames() const {
  const std::string prefix = ServerOptimizerKindName(options_.kind) + "/";
  std::vector<std::string> names = {prefix + "step"};
  if (HasMoment(options_.kind)) names.push_back(prefix + "m");
  if (HasSecondMoment(options_.kind)) names.push_back(prefix + "v");
  return names;
}

ServerOptimizerState ServerOptimizer::State() const {
  const std::vector<std::string> names = StateNames();
  ServerOptimizerState state;
  state.emplace_back(names[0], std::vector<float>{static_cast<float>(steps_)});
  if (HasMoment(options_.kind)) state.emplace_back(names[1], m_);
  if (HasSecondMoment(options_.kind)) state.emplace_back(names[2], v_);
  return state;
}

absl::Status ServerOptimizer::Restore(const ServerOptimizerState& state) {
  const std::vector<std::string> names = StateNames();
  const std::string expected = absl::StrJoin(names, ", ");
  // found[i]: the entry of `state` that holds names[i].
  std::vector<const std::vector<float>*> found(names.size(), nullptr);
  for (const auto& [name, values] : state) {
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "optimizer state holds '", name, "', which a ", ServerOptimizerKindName(options_.kind),
          " server optimizer does not have; expected ", expected));
    }
    const size_t index = static_cast<size_t>(it - names.begin());
    if (found[index] != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("optimizer state holds '", name, "' more than once"));
    }
    const size_t expected_size = index == 0 ? 1 : model_size_;
    if (values.size() != expected_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("optimizer state '", name, "' has ", values.size(), " values; expected ",
                       expected_size, index == 0 ? "" : " (the model size)"));
    }
    found[index] = &values;
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (found[i] == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("optimizer state has no '", names[i], "'; expected ", expected));
    }
  }
  const float step = (*found[0])[0];
  if (!(step >= 0 && step <= kMaxStateStep && step == std::floor(step))) {
    return absl::InvalidArgumentError(absl::StrCat("optimizer state '", names[0], "' is ", step,
                                                   "; expected a whole number in [0, 2^24]"));
  }
  for (size_t i = 1; i < names.size(); ++i) {
    const std::vector<float>& values = *found[i];
    if (const size_t bad = FirstNonFinite(values); bad < values.size()) {
      return absl::InvalidArgumentError(absl::StrCat("optimizer state '", names[i], "' element ",
                                                     bad, " is ", values[bad],
                                                     "; state must be finite"));
    }
  }
  if (HasSecondMoment(options_.kind)) {
    const std::vector<float>& v = *found[2];
    if (const auto it = std::find_if(v.begin(), v.end(), [](float value) { return value < 0; });
        it != v.end()) {
      return absl::InvalidArgumentError(absl::StrCat("optimizer state '", names[2], "' element ",
                                                     it - v.begin(), " is ", *it,
                                                     "; a second moment must be >= 0"));
    }
  }
  steps_ = static_cast<uint64_t>(step);
  if (HasMoment(options_.kind)) m_ = *found[1];
  if (HasSecondMoment(options_.kind)) v_ = *found[2];
  return absl::OkStatus();
}

}  // namespace equifl::aggregation
