#include "client/trainer_options.h"

#include <cmath>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "base/device.h"
#include "base/status_macros.h"

namespace equifl::client {
namespace {

template <typename T>
absl::Status BadOption(absl::string_view field, T value, absl::string_view allowed) {
  return absl::InvalidArgumentError(
      absl::StrCat("trainer ", field, " is ", value, "; allowed: ", allowed));
}

}  // namespace

absl::Status TrainerOptions::Validate() const {
  if (epochs < 0 || epochs > kMaxEpochs) {
    return BadOption("epochs", epochs, absl::StrCat("0 to ", kMaxEpochs));
  }
  if (steps < 0 || (epochs == 0 && steps < 1)) {
    return BadOption("steps", steps, "at least 1 when epochs is 0, else at least 0");
  }
  if (batch_size < 1 || batch_size > kMaxBatchSize) {
    return BadOption("batch_size", batch_size, absl::StrCat("1 to ", kMaxBatchSize));
  }
  EQUIFL_RETURN_IF_ERROR(CheckNamed("trainer optimizer", optimizer));
  if (!std::isfinite(learning_rate) || learning_rate <= 0) {
    return BadOption("learning_rate", learning_rate, "a finite value > 0");
  }
  if (!std::isfinite(weight_decay) || weight_decay < 0) {
    return BadOption("weight_decay", weight_decay, "a finite value >= 0");
  }
  if (!(momentum >= 0 && momentum < 1)) {
    return BadOption("momentum", momentum, "0 <= momentum < 1");
  }
  EQUIFL_RETURN_IF_ERROR(CheckNamed("trainer lr_schedule", lr_schedule));
  if (!(min_learning_rate >= 0 && min_learning_rate <= learning_rate)) {
    return BadOption("min_learning_rate", min_learning_rate, "0 to learning_rate");
  }
  if (lr_step_size < 1) return BadOption("lr_step_size", lr_step_size, "at least 1");
  if (!(lr_gamma > 0 && lr_gamma <= 1)) return BadOption("lr_gamma", lr_gamma, "0 < lr_gamma <= 1");
  if (!std::isfinite(proximal_mu) || proximal_mu < 0) {
    return BadOption("proximal_mu", proximal_mu, "a finite value >= 0");
  }
  if (!std::isfinite(max_grad_norm) || max_grad_norm < 0) {
    return BadOption("max_grad_norm", max_grad_norm, "a finite value >= 0 (0 is off)");
  }
  if (!(modality_dropout >= 0 && modality_dropout < 1)) {
    return BadOption("modality_dropout", modality_dropout, "0 <= modality_dropout < 1");
  }
  return ParseDevice("trainer device", device).status();
}

double LearningRateAt(const TrainerOptions& options, int64_t step, int64_t total_steps) {
  switch (options.lr_schedule) {
    case LrSchedule::kConstant:
      break;
    case LrSchedule::kCosine: {
      const double progress =
          total_steps > 0 ? static_cast<double>(step) / static_cast<double>(total_steps) : 0.0;
      return options.min_learning_rate + (options.learning_rate - options.min_learning_rate) * 0.5 *
                                             (1.0 + std::cos(std::numbers::pi * progress));
    }
    case LrSchedule::kStep:
      return options.learning_rate *
             std::pow(options.lr_gamma, static_cast<double>(step / options.lr_step_size));
  }
  return options.learning_rate;
}

}  // namespace equifl::client
