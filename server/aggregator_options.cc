#include "server/aggregator_options.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace equifl::server {

absl::Status SecureAggregationOptions::Validate() const {
  if (!enabled) return absl::OkStatus();
  if (!(threshold > 0 && threshold <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("secure_aggregation threshold is ", threshold, "; allowed: (0, 1]"));
  }
  if (neighbours == 0) {
    if (absl::Status status = tolerance.Validate(threshold); !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(status.message(),
                       "; or set secure_aggregation.neighbours to size neighbourhoods "
                       "yourself"));
    }
  }
  if (!(update_bound > 0) || std::isinf(update_bound)) {
    return absl::InvalidArgumentError(absl::StrCat("secure_aggregation update_bound is ",
                                                   update_bound, "; allowed: a positive number"));
  }
  if (!(weight_bound >= 0) || std::isinf(weight_bound)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "secure_aggregation weight_bound is ", weight_bound, "; allowed: 0 (automatic) or more"));
  }
  if (phase_timeout <= std::chrono::milliseconds(0)) {
    return absl::InvalidArgumentError("secure_aggregation phase_timeout must be positive");
  }
  return absl::OkStatus();
}

absl::Status AggregatorOptions::Validate() const {
  if (run_id.empty()) return absl::InvalidArgumentError("run_id is empty");
  EQUIFL_RETURN_IF_ERROR(rounds.Validate());
  EQUIFL_RETURN_IF_ERROR(download.Validate());
  EQUIFL_RETURN_IF_ERROR(optimizer.Validate());
  EQUIFL_RETURN_IF_ERROR(fairness.Validate());
  EQUIFL_RETURN_IF_ERROR(privacy.Validate());
  EQUIFL_RETURN_IF_ERROR(secure_aggregation.Validate());
  EQUIFL_RETURN_IF_ERROR(robust_aggregation.Validate());
  EQUIFL_RETURN_IF_ERROR(
      robust_aggregation.CheckCompatibleWith(privacy.enabled(), secure_aggregation.enabled));
  const fairness::CalibrationOptions& calibration = fairness.calibration;
  if (calibration.decision_offsets && statistics.num_classes > 0 &&
      calibration.positive_class >= statistics.num_classes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fairness.calibration.positive_class is ", calibration.positive_class,
        ", but the data has ", statistics.num_classes, " classes (0 to ",
        statistics.num_classes - 1, "); name the favourable label's index in the data's labels"));
  }
  if (privacy.enabled()) {
    aggregation::StatisticsLayout layout = statistics;
    layout.views = fairness.views;
    if (absl::Status status = layout.Validate(); !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("client-level DP needs the data's schema to noise every group's "
                       "statistics: ",
                       status.message()));
    }
  }
  if (secure_aggregation.enabled) {
    aggregation::StatisticsLayout layout = statistics;
    layout.views = fairness.views;
    if (absl::Status status = layout.Validate(); !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("secure aggregation needs the data's schema: ", status.message()));
    }
    if (fairness.method == fairness::FairnessMethod::kFairFed) {
      return absl::InvalidArgumentError(
          "fairness method fairfed weighs clients by their own statistics, which secure "
          "aggregation hides from the server; choose another method or turn "
          "secure_aggregation off");
    }
    if (fairness.method == fairness::FairnessMethod::kQFedAvg &&
        secure_aggregation.weight_bound == 0) {
      return absl::InvalidArgumentError(
          "q-FedAvg's aggregation weights have no automatic bound: set "
          "secure_aggregation.weight_bound");
    }
    if (rounds.min_clients < 2) {
      return absl::InvalidArgumentError(
          "secure aggregation needs min_clients >= 2: the sum of one client is its input");
    }
  }
  if (protocol::CodecOptions{upload_encoding, download.max_chunk_bytes}.Validate() !=
      absl::OkStatus()) {
    return absl::InvalidArgumentError("upload_encoding must be fp32, fp16, bf16 or int8");
  }
  if (max_concurrent_uploads == 0) {
    return absl::InvalidArgumentError("max_concurrent_uploads is 0; allowed: 1 or more");
  }
  if (upload_idle_timeout <= std::chrono::milliseconds(0)) {
    return absl::InvalidArgumentError("upload_idle_timeout must be positive");
  }
  if (poll_timeout <= std::chrono::milliseconds(0)) {
    return absl::InvalidArgumentError("poll_timeout must be positive");
  }
  return absl::OkStatus();
}

}  // namespace equifl::server
