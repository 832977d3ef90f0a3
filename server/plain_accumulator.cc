#include "server/plain_accumulator.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "aggregation/privacy/client_level_privacy.h"
#include "base/status_macros.h"

namespace equifl::server {
namespace {

using aggregation::CoordinateWiseAggregate;
using aggregation::WeightedMean;

double Mebibytes(uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

}  // namespace

PlainAccumulator::PlainAccumulator(const PlainAccumulatorOptions& options)
    : options_(options),
      updates_(std::in_place_type<WeightedMean>,
               options.aggregation.HoldsUpdates() ? 0 : options.model_size) {
  if (!options.aggregation.HoldsUpdates()) return;
  absl::StatusOr<CoordinateWiseAggregate> held = CoordinateWiseAggregate::Create(
      options.aggregation.rule, options.aggregation.trim_fraction, options.model_size);
  absl::MutexLock lock(&mutex_);
  if (held.ok()) {
    updates_ = *std::move(held);
  } else {
    fold_failure_ = held.status();
  }
}

absl::Status PlainAccumulator::Accumulate(ClientInput input) {
  PlainInput* plain = std::get_if<PlainInput>(&input.content);
  if (plain == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("round ", options_.round_id, " takes updates in the clear only"));
  }
  if (options_.model_size != 0) {
    if (plain->update.values().size() != options_.model_size) {
      return absl::InvalidArgumentError(absl::StrCat("an update of ", plain->update.values().size(),
                                                     " values for a model of ",
                                                     options_.model_size));
    }
    // The update is this input's own: it is bounded before the lock is taken.
    if (options_.aggregation.norm_bound > 0) {
      aggregation::ClipToNorm(plain->update.values(), options_.aggregation.norm_bound);
    }
  }
  if (options_.statistics_bound) {
    EQUIFL_RETURN_IF_ERROR(aggregation::CheckOnGrid(plain->train, options_.statistics_grid));
    EQUIFL_RETURN_IF_ERROR(aggregation::CheckOnGrid(plain->validation, options_.statistics_grid));
    aggregation::BoundContribution(plain->train, *options_.statistics_bound);
    aggregation::BoundContribution(plain->validation, *options_.statistics_bound);
  }
  if (options_.per_client_cells) {
    plain->train = fairness::WithClient(plain->train, input.client_id);
    plain->validation = fairness::WithClient(plain->validation, input.client_id);
  }
  absl::MutexLock lock(&mutex_);
  if (options_.model_size == 0) {
    // An evaluation result carries statistics only: the split evaluated, and for
    // calibration the validation split's in the training statistics' place.
    EQUIFL_RETURN_IF_ERROR(CheckStatisticsLocked(plain->train, plain->validation));
    EQUIFL_RETURN_IF_ERROR(AddMomentsLocked(plain->feature_moments));
    return AddStatisticsLocked(plain->train, plain->validation);
  }
  // Statistics checked first, then the update held, then the statistics added:
  // bad statistics must not leave half an upload behind, nor a refused update.
  EQUIFL_RETURN_IF_ERROR(CheckStatisticsLocked(plain->train, plain->validation));
  if (options_.aggregation.HoldsUpdates()) {
    EQUIFL_RETURN_IF_ERROR(HoldLocked(plain->weight, plain->update.values()));
  }
  EQUIFL_RETURN_IF_ERROR(AddStatisticsLocked(plain->train, plain->validation));
  if (plain->within_clip_norm) aggregate_.clip_indicators += 1;
  if (options_.keep_client_statistics) {
    aggregate_.validation_by_client[input.client_id] = std::move(plain->validation);
    aggregate_.train_samples[input.client_id] = plain->train_samples;
  }
  if (options_.aggregation.HoldsUpdates()) return absl::OkStatus();
  pending_.push_back({plain->weight, std::move(plain->update)});
  if (pending_.size() >= options_.fold_batch) FoldPendingLocked();
  return absl::OkStatus();
}

absl::Status PlainAccumulator::HoldLocked(double weight, std::vector<float>& update) {
  EQUIFL_RETURN_IF_ERROR(fold_failure_);
  auto& held = std::get<CoordinateWiseAggregate>(updates_);
  const uint64_t bytes = held.held_bytes() + update.size() * sizeof(float);
  if (bytes > options_.aggregation.MemoryLimitBytes()) {
    fold_failure_ = absl::ResourceExhaustedError(absl::StrCat(
        "round ", options_.round_id, ": aggregation rule ", NameOf(options_.aggregation.rule),
        " holds every update of a round until it closes, and update ", held.count() + 1,
        " would take them to ", Mebibytes(bytes),
        " MiB, past aggregation.memory_limit_mb = ", options_.aggregation.memory_limit_mb,
        "; raise it, select fewer clients per round (server.client_fraction) or use rule mean"));
    return fold_failure_;
  }
  // The values move out of the scratch buffer, which goes back to its pool empty.
  return held.Accumulate(weight, std::move(update));
}

absl::Status PlainAccumulator::CheckStatisticsLocked(
    const fairness::StatisticsTable& train, const fairness::StatisticsTable& validation) const {
  EQUIFL_RETURN_IF_ERROR(aggregate_.train.CheckAdd(train));
  return aggregate_.validation.CheckAdd(validation);
}

absl::Status PlainAccumulator::AddMomentsLocked(std::span<const double> moments) {
  std::vector<double>& sum = aggregate_.feature_moments;
  if (moments.empty()) return absl::OkStatus();
  if (sum.empty()) sum.assign(moments.size(), 0.0);
  if (sum.size() != moments.size()) {
    return absl::InvalidArgumentError(absl::StrCat("feature moments of ", moments.size(),
                                                   " values; the round's have ", sum.size()));
  }
  for (size_t i = 0; i < sum.size(); ++i) sum[i] += moments[i];
  return absl::OkStatus();
}

absl::Status PlainAccumulator::AddStatisticsLocked(const fairness::StatisticsTable& train,
                                                   const fairness::StatisticsTable& validation) {
  // CheckStatisticsLocked accepted both under the same lock: neither Add fails.
  EQUIFL_RETURN_IF_ERROR(aggregate_.train.Add(train));
  return aggregate_.validation.Add(validation);
}

void PlainAccumulator::FoldPendingLocked() {
  if (pending_.empty()) return;
  std::vector<double> weights;
  std::vector<std::span<const float>> updates;
  for (const PendingUpdate& update : pending_) {
    weights.push_back(update.weight);
    updates.push_back(update.values.values());
  }
  if (absl::Status status = std::get<WeightedMean>(updates_).AccumulateBatch(weights, updates);
      !status.ok() && fold_failure_.ok()) {
    fold_failure_ =
        absl::InternalError(absl::StrCat("round ", options_.round_id, ": folding ", updates.size(),
                                         " accepted updates failed (", status.message(), ")"));
  }
  pending_.clear();
}

absl::Status PlainAccumulator::MergeWith(RoundAccumulator&& other) {
  auto* plain = dynamic_cast<PlainAccumulator*>(&other);
  if (plain == nullptr || plain == this || plain->options_.round_id != options_.round_id ||
      plain->options_.aggregation.rule != options_.aggregation.rule) {
    return absl::InvalidArgumentError(
        absl::StrCat("only another plain accumulator of round ", options_.round_id, " with rule ",
                     NameOf(options_.aggregation.rule), " can be merged into this one"));
  }
  absl::MutexLock other_lock(&plain->mutex_);
  absl::MutexLock lock(&mutex_);
  plain->FoldPendingLocked();
  FoldPendingLocked();
  EQUIFL_RETURN_IF_ERROR(plain->fold_failure_);
  const fairness::StatisticsTable& train = plain->aggregate_.train.table();
  const fairness::StatisticsTable& validation = plain->aggregate_.validation.table();
  EQUIFL_RETURN_IF_ERROR(CheckStatisticsLocked(train, validation));
  if (options_.model_size != 0 && options_.aggregation.HoldsUpdates()) {
    EQUIFL_RETURN_IF_ERROR(fold_failure_);
    auto& held = std::get<CoordinateWiseAggregate>(updates_);
    auto& other_held = std::get<CoordinateWiseAggregate>(plain->updates_);
    const uint64_t bytes = held.held_bytes() + other_held.held_bytes();
    if (bytes > options_.aggregation.MemoryLimitBytes()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "round ", options_.round_id, ": the merged updates would take ", Mebibytes(bytes),
          " MiB, past aggregation.memory_limit_mb = ", options_.aggregation.memory_limit_mb));
    }
    EQUIFL_RETURN_IF_ERROR(held.MergeWith(std::move(other_held)));
  } else if (options_.model_size != 0) {
    EQUIFL_RETURN_IF_ERROR(std::get<WeightedMean>(updates_).MergeWith(
        std::move(std::get<WeightedMean>(plain->updates_))));
  }
  EQUIFL_RETURN_IF_ERROR(AddMomentsLocked(plain->aggregate_.feature_moments));
  EQUIFL_RETURN_IF_ERROR(AddStatisticsLocked(train, validation));
  aggregate_.clip_indicators += plain->aggregate_.clip_indicators;
  aggregate_.validation_by_client.merge(plain->aggregate_.validation_by_client);
  aggregate_.train_samples.merge(plain->aggregate_.train_samples);
  plain->aggregate_ = {};
  return absl::OkStatus();
}

absl::StatusOr<RoundAggregate> PlainAccumulator::Report() && {
  absl::MutexLock lock(&mutex_);
  FoldPendingLocked();
  EQUIFL_RETURN_IF_ERROR(fold_failure_);
  RoundAggregate aggregate = std::move(aggregate_);
  if (auto* held = std::get_if<CoordinateWiseAggregate>(&updates_)) {
    aggregate.total_weight = held->total_weight();
    if (options_.model_size == 0 || held->count() == 0) return aggregate;
    EQUIFL_ASSIGN_OR_RETURN(aggregate.update, std::move(*held).Report(options_.report_threads));
    return aggregate;
  }
  WeightedMean& mean = std::get<WeightedMean>(updates_);
  aggregate.total_weight = mean.total_weight();
  if (options_.model_size == 0 || mean.count() == 0) return aggregate;
  const double contributors = static_cast<double>(mean.count());
  EQUIFL_ASSIGN_OR_RETURN(aggregate.update, std::move(mean).Report());
  if (options_.sum_updates) {
    // Clipped updates of weight 1: the mean times the contributors is their sum.
    for (float& value : aggregate.update) value = static_cast<float>(value * contributors);
  }
  return aggregate;
}

}  // namespace equifl::server
