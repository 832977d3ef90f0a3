#include "server/plain_accumulator.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace equifl::server {

PlainAccumulator::PlainAccumulator(const PlainAccumulatorOptions& options)
    : options_(options), mean_(options.model_size) {}

absl::Status PlainAccumulator::Accumulate(ClientInput input) {
  PlainInput* plain = std::get_if<PlainInput>(&input.content);
  if (plain == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("round ", options_.round_id, " takes updates in the clear only"));
  }
  absl::MutexLock lock(&mutex_);
  if (options_.model_size == 0) {
    // An evaluation result carries statistics only.
    return aggregate_.validation.Add(plain->validation);
  }
  if (plain->update.values().size() != options_.model_size) {
    return absl::InvalidArgumentError(absl::StrCat("an update of ", plain->update.values().size(),
                                                   " values for a model of ", options_.model_size));
  }
  // Statistics first, all or nothing: bad statistics must not leave half an update.
  EQUIFL_RETURN_IF_ERROR(CheckStatisticsLocked(plain->train, plain->validation));
  EQUIFL_RETURN_IF_ERROR(AddStatisticsLocked(plain->train, plain->validation));
  if (plain->within_clip_norm) aggregate_.clip_indicators += 1;
  if (options_.keep_client_statistics) {
    aggregate_.validation_by_client[input.client_id] = std::move(plain->validation);
    aggregate_.train_samples[input.client_id] = plain->train_samples;
  }
  pending_.push_back({plain->weight, std::move(plain->update)});
  if (pending_.size() >= options_.fold_batch) FoldPendingLocked();
  return absl::OkStatus();
}

absl::Status PlainAccumulator::CheckStatisticsLocked(
    const fairness::StatisticsTable& train, const fairness::StatisticsTable& validation) const {
  EQUIFL_RETURN_IF_ERROR(aggregate_.train.CheckAdd(train));
  return aggregate_.validation.CheckAdd(validation);
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
  if (absl::Status status = mean_.AccumulateBatch(weights, updates);
      !status.ok() && fold_failure_.ok()) {
    fold_failure_ =
        absl::InternalError(absl::StrCat("round ", options_.round_id, ": folding ", updates.size(),
                                         " accepted updates failed (", status.message(), ")"));
  }
  pending_.clear();
}

absl::Status PlainAccumulator::MergeWith(RoundAccumulator&& other) {
  auto* plain = dynamic_cast<PlainAccumulator*>(&other);
  if (plain == nullptr || plain == this || plain->options_.round_id != options_.round_id) {
    return absl::InvalidArgumentError(absl::StrCat("only another plain accumulator of round ",
                                                   options_.round_id,
                                                   " can be merged into this one"));
  }
  absl::MutexLock other_lock(&plain->mutex_);
  absl::MutexLock lock(&mutex_);
  plain->FoldPendingLocked();
  FoldPendingLocked();
  EQUIFL_RETURN_IF_ERROR(plain->fold_failure_);
  const fairness::StatisticsTable& train = plain->aggregate_.train.table();
  const fairness::StatisticsTable& validation = plain->aggregate_.validation.table();
  EQUIFL_RETURN_IF_ERROR(CheckStatisticsLocked(train, validation));
  if (options_.model_size != 0) EQUIFL_RETURN_IF_ERROR(mean_.MergeWith(std::move(plain->mean_)));
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
  aggregate.total_weight = mean_.total_weight();
  if (options_.model_size == 0 || mean_.count() == 0) return aggregate;
  const double contributors = static_cast<double>(mean_.count());
  EQUIFL_ASSIGN_OR_RETURN(aggregate.update, std::move(mean_).Report());
  if (options_.sum_updates) {
    // Clipped updates of weight 1: the mean times the contributors is their sum.
    for (float& value : aggregate.update) value = static_cast<float>(value * contributors);
  }
  return aggregate;
}

}  // namespace equifl::server
