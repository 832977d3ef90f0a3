#include "server/secure_accumulator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <span>

#include "absl/strings/str_cat.h"
#include "aggregation/privacy/statistics_privacy.h"
#include "base/status_macros.h"
#include "server/update_bounds.h"

namespace equifl::server {

namespace {

// The training and validation tables of a sum of noised statistics: every
// contributor (each of weight 1 under DP) added N(0, deviation²) per count. Fails
// when the sum is impossible for honest clients (CheckNoisedSum).
absl::Status TablesFromNoisedSum(const aggregation::StatisticsLayout& grid,
                                 const aggregation::ClientNoise& noise,
                                 aggregation::SecureSum& sum) {
  const double contributors = std::max(1.0, std::round(sum.weight));
  const double variance =
      contributors * noise.statistics_noise_stddev * noise.statistics_noise_stddev;
  EQUIFL_RETURN_IF_ERROR(aggregation::CheckNoisedSum(sum.noised_statistics, grid, noise.statistics,
                                                     contributors, std::sqrt(variance)));
  const double clip = noise.statistics.loss_clip;
  const fairness::SumNoise variances = aggregation::NoiseVariancesPerKind(variance, clip);
  const std::span<const double> values = sum.noised_statistics;
  const size_t split = grid.Values();
  sum.train = aggregation::TableFromNoisedValues(values.first(split), grid, clip, variances);
  sum.validation =
      aggregation::TableFromNoisedValues(values.subspan(split, split), grid, clip, variances);
  return absl::OkStatus();
}

}  // namespace

SecureAccumulator::SecureAccumulator(std::shared_ptr<SecureRound> round,
                                     const SecureAccumulatorOptions& options)
    : round_(std::move(round)), options_(options) {}

SecureRound::Clock::time_point SecureAccumulator::PhaseEnd() const {
  return SecureRound::Clock::now() + options_.phase_timeout;
}

absl::StatusOr<std::vector<std::string>> SecureAccumulator::AwaitSetup() {
  EQUIFL_RETURN_IF_ERROR(round_->CloseAdvertising(PhaseEnd()));
  spdlog::debug("round {}: secure aggregation: keys advertised, clients share them",
                round_->round_id());
  absl::StatusOr<std::vector<std::string>> unable = round_->CloseSharing(PhaseEnd());
  if (unable.ok()) {
    spdlog::debug("round {}: secure aggregation: keys shared, collecting masked inputs",
                  round_->round_id());
  }
  return unable;
}

absl::Status SecureAccumulator::Accumulate(ClientInput input) {
  const MaskedInput* masked = std::get_if<MaskedInput>(&input.content);
  if (masked == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("round ", round_->round_id(), " takes masked inputs only"));
  }
  return round_->AddMaskedInput(input.client_id, masked->words);
}

absl::Status SecureAccumulator::MergeWith(RoundAccumulator&&) {
  return absl::FailedPreconditionError(
      absl::StrCat("round ", round_->round_id(),
                   " is securely aggregated: its masked sum lives in the secure round's protocol "
                   "state and cannot be merged with another accumulator"));
}

absl::StatusOr<RoundAggregate> SecureAccumulator::Report() && {
  EQUIFL_RETURN_IF_ERROR(round_->CloseCollection());
  spdlog::debug("round {}: secure aggregation: collection closed, survivors reveal shares",
                round_->round_id());
  EQUIFL_ASSIGN_OR_RETURN(aggregation::SecureSum sum, round_->Unmask(PhaseEnd()));
  const aggregation::SecureInputLayout& layout = round_->layout();
  // The server cannot check one masked input, only their sum: a client inside the
  // protocol that sent a bogus vector shows here, and the round is abandoned.
  const auto abandon = [&](absl::string_view why) {
    return absl::AbortedError(
        absl::StrCat("the unmasked sum is impossible for honest clients (", why,
                     "): a client inside secure aggregation sent a bogus masked input"));
  };
  const double most_weight = static_cast<double>(layout.max_clients) * (1 + 1e-6);
  if (!sum.weighted_update.empty() && !(sum.weight > 0 && sum.weight <= most_weight)) {
    return abandon(absl::StrCat("weights summing to ", sum.weight * layout.weight_bound,
                                ", outside (0, ", most_weight * layout.weight_bound, "]"));
  }
  if (layout.statistics.noised) {
    // The clients bounded and noised their own.
    if (absl::Status tables = TablesFromNoisedSum(layout.statistics, round_->client_noise(), sum);
        !tables.ok()) {
      return abandon(tables.message());
    }
  } else {
    for (const auto& [table, split] : {std::pair{&sum.train, "summed training"},
                                       std::pair{&sum.validation, "summed validation"}}) {
      if (absl::Status check = CheckClientStatistics(*table, split, /*quantised=*/true);
          !check.ok()) {
        return abandon(check.message());
      }
    }
  }
  RoundAggregate aggregate;
  EQUIFL_RETURN_IF_ERROR(aggregate.train.Add(sum.train));
  EQUIFL_RETURN_IF_ERROR(aggregate.validation.Add(sum.validation));
  aggregate.clamped_clients = sum.clamped_clients;
  if (sum.clamped_clients > 0) {
    spdlog::warn(
        "round {}: {} clients clamped values to secure aggregation's range (update bound {:g}, "
        "weight bound {:g}); raise secure_aggregation.update_bound or weight_bound",
        round_->round_id(), sum.clamped_clients, layout.update_bound, layout.weight_bound);
  }
  aggregate.total_weight = sum.weight * layout.weight_bound;
  aggregate.clip_indicators = sum.clip_indicator;
  // The mean Σ r·Δ / Σ r; under DP every r is 1 and the caller divides by the
  // number selected instead.
  if (!options_.sum_updates) {
    for (float& value : sum.weighted_update) value = static_cast<float>(value / sum.weight);
  }
  aggregate.update = std::move(sum.weighted_update);
  aggregate.feature_moments = std::move(sum.exact_sums);
  return aggregate;
}

}  // namespace equifl::server
