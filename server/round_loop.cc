#include "server/round_loop.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "aggregation/secure/neighbour_graph.h"
#include "aggregation/weighted_mean.h"
#include "base/random.h"
#include "base/status_macros.h"
#include "server/plain_accumulator.h"
#include "server/secure_accumulator.h"
#include "server/update_bounds.h"

namespace equifl::server {
namespace {

//! `rounds` with the feature-moments round when the model standardises.
RoundOptions WithFeatureMoments(RoundOptions rounds,
                                const std::vector<protocol::StandardisedModality>& standardised) {
  rounds.feature_moments = !standardised.empty();
  return rounds;
}

//! Copies the standardisation tensors of `from` into `to` (the same layout).
void KeepStandardisation(const GlobalModel& from, GlobalModel& to) {
  const std::vector<protocol::TensorView> source = from.Views();
  const std::vector<protocol::MutableTensorView> destination = to.MutableViewsOver(to.values());
  const std::string prefix = absl::StrCat(protocol::kStandardisationModule, ".");
  for (size_t i = 0; i < source.size(); ++i) {
    if (!absl::StartsWith(source[i].name, prefix)) continue;
    std::copy(source[i].bytes.begin(), source[i].bytes.end(), destination[i].bytes.begin());
  }
}

}  // namespace

RoundLoop::RoundLoop(const AggregatorOptions& options, GlobalModel model,
                     aggregation::ServerOptimizer optimizer, uint64_t completed_rounds,
                     RoundObserver* observer)
    : options_(options),
      observer_(observer),
      standardised_(protocol::StandardisedModalities(model.Views())),
      coordinator_(WithFeatureMoments(options.rounds, standardised_), completed_rounds,
                   /*unpredictable_selection=*/options.privacy.enabled()),
      optimizer_(std::move(optimizer)),
      // After --resume: the rounds done so far, at the configured sampling rate.
      privacy_(options.privacy, std::min<uint64_t>(completed_rounds, options.rounds.rounds),
               options.rounds.client_fraction),
      fairness_(options.fairness),
      model_(std::make_shared<const GlobalModel>(std::move(model))),
      model_version_(completed_rounds) {}

ModelSnapshot RoundLoop::Model() const {
  absl::MutexLock lock(&model_mutex_);
  return {model_, model_version_};
}

absl::Status RoundLoop::Contribute(uint64_t round_id, ClientInput input) {
  const std::string client_id = input.client_id;
  return coordinator_.TryCommit(client_id, round_id, [&]() -> absl::Status {
    std::shared_ptr<RoundAccumulator> accumulator;
    {
      absl::MutexLock lock(&round_mutex_);
      if (round_id == open_round_) accumulator = accumulator_;
    }
    if (accumulator == nullptr) return absl::FailedPreconditionError("the round closed");
    return accumulator->Accumulate(std::move(input));
  });
}

std::shared_ptr<SecureRound> RoundLoop::SecureRoundFor(uint64_t round_id) const {
  absl::MutexLock lock(&round_mutex_);
  return round_id == open_round_ ? secure_ : nullptr;
}

void RoundLoop::NoteTrainingSetSize(uint64_t train_samples) {
  absl::MutexLock lock(&clients_mutex_);
  largest_train_samples_ = std::max(largest_train_samples_, train_samples);
}

aggregation::StatisticsLayout RoundLoop::StatisticsGrid(bool final_evaluation) const {
  aggregation::StatisticsLayout grid = options_.statistics;
  grid.views = fairness_.EvaluatedViews(final_evaluation);
  return grid;
}

std::shared_ptr<SecureRound> RoundLoop::MakeSecureRound(uint64_t round_id,
                                                        const std::vector<std::string>& selected,
                                                        size_t model_size) {
  const SecureAggregationOptions& secure = options_.secure_aggregation;
  const uint32_t clients = static_cast<uint32_t>(selected.size());
  aggregation::SecureRoundOptions protocol;
  protocol.context = {options_.run_id, round_id};
  protocol.selected = selected;
  protocol.neighbours = secure.neighbours;
  protocol.threshold_fraction = secure.threshold;
  protocol.tolerance = secure.tolerance;
  protocol.min_survivors = aggregation::MinSurvivors(clients, secure.threshold);
  protocol.graph_seed = random::MixSeed(random::RoundSeed(options_.rounds.seed, round_id));
  aggregation::SecureInputLayout layout;
  layout.update_size = model_size;
  layout.statistics = StatisticsGrid(coordinator_.IsEvaluationRound(round_id));
  layout.max_clients = std::max<uint32_t>(clients, 1);
  aggregation::ClientNoise noise;
  if (coordinator_.IsFeatureMomentsRound(round_id)) {
    layout.exact_sums = protocol::MomentValues(standardised_);
  } else if (privacy_.enabled()) {
    // Clipped updates and bounded statistics with each client's share of the
    // noise; every weight is 1.
    noise = privacy_.ForClients(protocol.min_survivors,
                                aggregation::BudgetedViews(layout.statistics.views));
    layout.statistics.noised = true;
    layout.update_bound = noise.clip_norm + 6 * noise.noise_stddev;
    layout.weight_bound = 1;
    layout.indicator_bound = 1 + 6 * noise.indicator_noise_stddev;
  } else {
    layout.update_bound = secure.update_bound;
    layout.weight_bound = secure.weight_bound;
    if (layout.weight_bound == 0) {
      absl::MutexLock lock(&clients_mutex_);
      layout.weight_bound = static_cast<double>(std::max<uint64_t>(largest_train_samples_, 1)) *
                            AggregationWeightFactor(options_.fairness);
    }
  }
  protocol.words = layout.Words();
  return std::make_shared<SecureRound>(protocol, layout, noise);
}

std::shared_ptr<RoundAccumulator> RoundLoop::MakeAccumulator(
    uint64_t round_id, const std::vector<std::string>& selected, size_t model_size,
    std::shared_ptr<SecureRound>& secure) {
  // An evaluation round gathers statistics only, the feature-moments round moments.
  const size_t update_size =
      coordinator_.IsEvaluationRound(round_id) || coordinator_.IsFeatureMomentsRound(round_id)
          ? 0
          : model_size;
  if (options_.secure_aggregation.enabled) {
    secure = MakeSecureRound(round_id, selected, update_size);
    return std::make_shared<SecureAccumulator>(
        secure, SecureAccumulatorOptions{options_.secure_aggregation.phase_timeout,
                                         /*sum_updates=*/privacy_.enabled()});
  }
  PlainAccumulatorOptions plain;
  plain.round_id = round_id;
  plain.model_size = update_size;
  // Every scratch buffer can be waiting in a batch, so a full batch always folds.
  plain.fold_batch =
      std::min<size_t>(options_.max_concurrent_uploads, aggregation::WeightedMean::kMaxBatch);
  plain.sum_updates = privacy_.enabled();
  if (privacy_.enabled()) {
    plain.statistics_bound = options_.privacy.Statistics();
    plain.statistics_grid = StatisticsGrid(coordinator_.IsEvaluationRound(round_id));
  }
  plain.keep_client_statistics = fairness_.NeedsClientStatistics();
  plain.per_client_cells = fairness_.options().per_client_cells;
  plain.aggregation = options_.robust_aggregation;
  return std::make_shared<PlainAccumulator>(plain);
}

void RoundLoop::ServeChosenModel() {
  const std::optional<fairness::SelectionJudgement> chosen = fairness_.ChosenModel();
  if (!chosen) return;
  uint64_t version = 0;
  {
    absl::MutexLock lock(&model_mutex_);
    version = model_version_;
  }
  // Only between the last training round and the final evaluation.
  if (chosen->model_round == version || coordinator_.IsEvaluationRound(version) ||
      !coordinator_.IsEvaluationRound(version + 1)) {
    return;
  }
  absl::StatusOr<GlobalModel> model = observer_ != nullptr
                                          ? observer_->ModelAfterRound(chosen->model_round)
                                          : absl::UnimplementedError("no observer keeps models");
  if (!model.ok()) {
    unserved_choice_ = absl::StrCat("round ", version, "'s model, the last; model selection chose ",
                                    fairness_.ChosenReason(),
                                    ", but that model cannot be had: ", model.status().message());
    spdlog::warn("round {}: the final evaluation is of {}", version + 1, unserved_choice_);
    return;
  }
  spdlog::info(
      "round {}: the final evaluation is of round {}'s model, chosen on the selection split, not "
      "of the last round's",
      version + 1, chosen->model_round);
  absl::MutexLock lock(&model_mutex_);
  model_ = std::make_shared<const GlobalModel>(*std::move(model));
  model_version_ = chosen->model_round;
}

std::optional<RoundLoop::OpenedRound> RoundLoop::Open() {
  ServeChosenModel();
  OpenedRound round;
  round.start = Model();
  const std::optional<uint64_t> round_id =
      coordinator_.OpenNextRound([&](uint64_t opened, const std::vector<std::string>& selected) {
        round.selected = selected;
        round.accumulator =
            MakeAccumulator(opened, selected, round.start.model->size(), round.secure);
        {
          absl::MutexLock lock(&round_mutex_);
          open_round_ = opened;
          accumulator_ = round.accumulator;
          secure_ = round.secure;
        }
        if (observer_ != nullptr && !coordinator_.IsFeatureMomentsRound(opened)) {
          observer_->OnRoundOpened(opened, selected, coordinator_.IsEvaluationRound(opened));
        }
      });
  if (!round_id) return std::nullopt;
  round.round_id = *round_id;
  round.final_evaluation = coordinator_.IsEvaluationRound(*round_id);
  round.opened = std::chrono::steady_clock::now();
  spdlog::info("round {}: open{}{}", *round_id,
               round.final_evaluation ? " (final evaluation)"
               : coordinator_.IsFeatureMomentsRound(*round_id)
                   ? " (feature moments for standardisation)"
                   : "",
               round.secure != nullptr ? ", securely aggregated" : "");
  return round;
}

void RoundLoop::CloseRound() {
  absl::MutexLock lock(&round_mutex_);
  open_round_ = 0;
  accumulator_.reset();
  secure_.reset();
}

absl::Status RoundLoop::StopRun(uint64_t round_id, const absl::Status& failure) {
  Stop();
  CloseRound();
  return absl::Status(failure.code(),
                      absl::StrCat("round ", round_id, ": ", failure.message(),
                                   round_id > 0 ? absl::StrCat("; the model is unchanged (--resume "
                                                               "continues after round ",
                                                               round_id - 1, ")")
                                                : std::string("; start the run again")));
}

absl::StatusOr<RoundLoop::CollectedRound> RoundLoop::Abandon(const OpenedRound& round,
                                                             const absl::Status& why,
                                                             std::optional<RoundOutcome> closed) {
  if (!closed) {
    // Still collecting: with every selected client excluded it closes at once.
    coordinator_.ExcludeFromRound(round.round_id, round.selected);
    closed = coordinator_.AwaitClose();
  }
  CloseRound();
  if (closed->stopped) return absl::CancelledError("stopped");
  spdlog::warn("round {}: abandoned, the model is unchanged: {}", round.round_id,
               std::string(why.message()));
  CollectedRound collected;
  collected.outcome = *std::move(closed);
  collected.outcome.contributors.clear();
  collected.abandoned = std::string(why.message());
  collected.released = round.secure != nullptr && round.secure->Unmasked();
  return collected;
}

absl::StatusOr<RoundLoop::CollectedRound> RoundLoop::Collect(const OpenedRound& round) {
  std::optional<RoundOutcome> closed;
  const auto failed = [&](const absl::Status& status) -> absl::StatusOr<CollectedRound> {
    if (absl::IsCancelled(status)) return status;
    // What the clients of a secure round did; the server's own failures stop the run.
    if (round.secure != nullptr && !absl::IsInternal(status)) return Abandon(round, status, closed);
    return StopRun(round.round_id, status);
  };
  absl::StatusOr<std::vector<std::string>> unable = round.accumulator->AwaitSetup();
  if (!unable.ok()) return failed(unable.status());
  if (!unable->empty()) {
    spdlog::warn("round {}: {} selected clients did not share their keys and cannot contribute",
                 round.round_id, unable->size());
    coordinator_.ExcludeFromRound(round.round_id, *unable);
  }
  CollectedRound collected;
  collected.outcome = coordinator_.AwaitClose();
  if (collected.outcome.stopped) {
    // A stop while the round was open: it is not aggregated and not recorded, so
    // --resume runs it again from the model it started from.
    spdlog::info("round {}: stopped while open with {} of {} updates; not aggregated or recorded",
                 round.round_id, collected.outcome.contributors.size(),
                 collected.outcome.selected.size());
    CloseRound();
    return absl::CancelledError("stopped");
  }
  closed = collected.outcome;
  // The coordinator refuses uploads from now on; the secure round stays reachable
  // until its survivors revealed their shares.
  absl::StatusOr<RoundAggregate> aggregate = std::move(*round.accumulator).Report();
  if (!aggregate.ok()) return failed(aggregate.status());
  CloseRound();
  collected.aggregate = *std::move(aggregate);
  if (absl::Status noised = NoiseStatistics(round, collected.aggregate); !noised.ok()) {
    return failed(noised);
  }
  return collected;
}

absl::Status RoundLoop::NoiseStatistics(const OpenedRound& round, RoundAggregate& aggregate) const {
  // Under secure aggregation the clients noised their own (SecureAccumulator);
  // round 0 carries moments.
  if (!privacy_.enabled() || round.secure != nullptr ||
      coordinator_.IsFeatureMomentsRound(round.round_id)) {
    return absl::OkStatus();
  }
  fairness::StatisticsTable train = aggregate.train.table();
  fairness::StatisticsTable validation = aggregate.validation.table();
  if (absl::Status noised =
          privacy_.NoiseStatistics(StatisticsGrid(round.final_evaluation), train, validation);
      !noised.ok()) {
    return absl::InternalError(
        absl::StrCat("adding the privacy noise to the round's statistics: ", noised.message()));
  }
  aggregate.train = {};
  aggregate.validation = {};
  EQUIFL_RETURN_IF_ERROR(aggregate.train.Add(train));
  return aggregate.validation.Add(validation);
}

RoundSummary RoundLoop::Summarize(const OpenedRound& round, CollectedRound& collected) const {
  const RoundOutcome& outcome = collected.outcome;
  RoundAggregate& aggregate = collected.aggregate;
  RoundSummary summary;
  summary.round_id = outcome.round_id;
  summary.selected = outcome.selected;
  summary.contributors = outcome.contributors;
  summary.reached_quorum = outcome.reached_quorum;
  summary.final_evaluation = round.final_evaluation;
  summary.secure = round.secure != nullptr;
  summary.abandoned = collected.abandoned;
  summary.clip_norm = privacy_.enabled() ? privacy_.clip_norm() : 0;
  summary.total_weight = aggregate.total_weight;
  summary.clamped_clients = aggregate.clamped_clients;
  summary.train = std::move(aggregate.train);
  summary.validation = std::move(aggregate.validation);
  summary.validation_by_client = std::move(aggregate.validation_by_client);
  if (!summary.final_evaluation) {
    // The selection split's cells leave the validation statistics here, so no
    // controller reads them.
    fairness::SelectionSplit split = fairness::SplitOffSelection(summary.validation.table());
    summary.selection_statistics = std::move(split.selection);
    fairness::StatisticsSum validation;
    // Removing cells cannot make a valid sum invalid.
    (void)validation.Add(split.validation);
    summary.validation = std::move(validation);
    for (auto& [client, table] : summary.validation_by_client) {
      table = fairness::SplitOffSelection(table).validation;
    }
  }
  if (summary.final_evaluation && options_.fairness.calibration.enabled) {
    // The clients sent the final model's validation statistics in the training
    // statistics' place: fit the temperatures on them, read the test split's
    // calibrated groups from its temperature views, and keep those views out of
    // every other report.
    summary.temperatures =
        fairness::FitTemperatures(summary.train.table(), options_.fairness.calibration.min_samples);
    summary.calibrated =
        fairness::ApplyTemperatures(summary.validation.table(), summary.temperatures);
    const fairness::CalibrationOptions& calibration = options_.fairness.calibration;
    if (calibration.decision_offsets) {
      summary.decision_offsets = fairness::FitDecisionOffsets(
          summary.train.table(), calibration.positive_class,
          {.tolerance = calibration.offset_tolerance_points / 100,
           .max_accuracy_cost = calibration.offset_max_accuracy_cost_points / 100,
           .min_positives = calibration.min_samples,
           .confidence = options_.fairness.bound.confidence,
           .allow_levelling_down = options_.fairness.group_dro.allow_levelling_down});
      summary.calibrated =
          fairness::ApplyDecisionOffsets(summary.calibrated, *summary.decision_offsets);
    }
    fairness::StatisticsSum test;
    // Removing cells cannot make a valid sum invalid.
    (void)test.Add(fairness::WithoutOffsetViews(
        fairness::WithoutTemperatureViews(summary.validation.table())));
    summary.validation = std::move(test);
  }
  // A final evaluation trains nothing: whatever came in the training statistics'
  // place stays out of the history's training columns.
  if (summary.final_evaluation) summary.train = {};
  return summary;
}

absl::Status RoundLoop::Step(const RoundOutcome& outcome, std::vector<float>& update,
                             double clip_indicators, RoundSummary& summary, GlobalModel& model) {
  if (privacy_.enabled()) {
    const double clip_norm = privacy_.clip_norm();
    EQUIFL_ASSIGN_OR_RETURN(
        aggregation::PrivacyGuarantee spent,
        privacy_.FinishRound(update, outcome.selected.size(), outcome.population, clip_indicators,
                             /*noise_added_by_clients=*/summary.secure));
    summary.privacy_epsilon = spent.epsilon;
    spdlog::info(
        "round {}: client-level DP: ({:.4f}, {:g})-DP after {} rounds (RDP order {:g}), "
        "clipping norm {:.4g}{}",
        outcome.round_id, spent.epsilon, spent.delta, privacy_.rounds(), spent.order, clip_norm,
        options_.privacy.adaptive_clipping
            ? absl::StrFormat(" (next round %.4g)", privacy_.clip_norm())
            : "");
  }
  return optimizer_.Step(model.values(), update);
}

void RoundLoop::Log(const RoundSummary& summary) const {
  if (summary.final_evaluation) {
    const std::optional<double> accuracy = summary.validation.accuracy();
    spdlog::info("final evaluation: {} clients, {} test samples, test loss {:.4f}, accuracy {}",
                 summary.contributors.size(), summary.validation.samples(),
                 summary.validation.mean_loss(),
                 accuracy ? absl::StrFormat("%.4f", *accuracy) : std::string("n/a"));
    return;
  }
  spdlog::info("round {}: {} of {} updates{}, train loss {:.4f}, {:.2f} s", summary.round_id,
               summary.contributors.size(), summary.selected.size(),
               summary.reached_quorum ? "" : " (deadline)", summary.train.mean_loss(),
               summary.seconds);
  if (!summary.fairness.alpha_step.empty()) {
    spdlog::info("round {}: group DRO: alpha {:.3f} for the next round ({})", summary.round_id,
                 summary.fairness.lambda, summary.fairness.alpha_step);
  }
  if (const std::optional<fairness::SelectionJudgement>& selection = summary.selection) {
    spdlog::info("round {}: round {}'s model on the selection split: accuracy {}, bound {}",
                 summary.round_id, selection->model_round,
                 selection->accuracy ? absl::StrFormat("%.4f", selection->accuracy->estimate)
                                     : std::string("n/a"),
                 fairness::VerdictName(selection->bound.verdict));
  }
  // A floor measured in this round.
  if (const std::optional<fairness::FloorJudgement>& feasibility = summary.fairness.feasibility;
      feasibility && feasibility->floor && feasibility->floor->round == summary.round_id) {
    spdlog::info("round {}: the gap's floor: {}", summary.round_id, feasibility->text);
  }
}

absl::Status RoundLoop::ApplyFeatureMoments(const OpenedRound& round,
                                            const CollectedRound& collected) {
  const auto stop = [&](const absl::Status& why) {
    Stop();
    return absl::Status(why.code(),
                        absl::StrCat("round 0 (feature moments): ", why.message(),
                                     "; the model's features cannot be standardised, so the run "
                                     "stops before round 1: start it again"));
  };
  if (!collected.abandoned.empty()) return stop(absl::UnavailableError(collected.abandoned));
  if (collected.outcome.contributors.empty()) {
    return stop(absl::UnavailableError(
        absl::StrCat("no client reported its feature moments before the round's deadline (",
                     options_.rounds.round_deadline.count() / 1000, " s)")));
  }
  absl::StatusOr<std::vector<protocol::Standardisation>> standardisation =
      protocol::StandardisationFromMoments(standardised_, collected.aggregate.feature_moments);
  if (!standardisation.ok()) return stop(standardisation.status());
  auto next = std::make_shared<GlobalModel>(*round.start.model);
  if (absl::Status written =
          protocol::WriteStandardisation(*standardisation, next->MutableViewsOver(next->values()));
      !written.ok()) {
    return stop(written);
  }
  for (const protocol::Standardisation& modality : *standardisation) {
    spdlog::info(
        "round 0: '{}' standardised by the moments of {} clients ({} feature vectors, "
        "{} features)",
        modality.modality, collected.outcome.contributors.size(),
        static_cast<uint64_t>(modality.count), modality.mean.size());
  }
  absl::MutexLock lock(&model_mutex_);
  model_ = std::move(next);  // still version 0: round 1 starts from it
  return absl::OkStatus();
}

absl::Status RoundLoop::Apply(const OpenedRound& round, CollectedRound collected) {
  if (coordinator_.IsFeatureMomentsRound(round.round_id)) {
    return ApplyFeatureMoments(round, collected);
  }
  RoundSummary summary = Summarize(round, collected);
  auto next = std::make_shared<GlobalModel>(*round.start.model);
  if (!summary.final_evaluation) {
    if (summary.contributors.empty()) {
      // An abandoned round was logged by Abandon.
      if (summary.abandoned.empty()) {
        spdlog::warn("round {}: closed without any update; the model is unchanged", round.round_id);
      }
      if (collected.released && privacy_.enabled()) {
        EQUIFL_ASSIGN_OR_RETURN(aggregation::PrivacyGuarantee spent,
                                privacy_.AccountRelease(collected.outcome.selected.size(),
                                                        collected.outcome.population));
        spdlog::info(
            "round {}: client-level DP: its noisy sum was seen before it was abandoned, so it "
            "counts: ({:.4f}, {:g})-DP after {} rounds",
            round.round_id, spent.epsilon, spent.delta, privacy_.rounds());
      }
      summary.privacy_epsilon = privacy_.spent().epsilon;
    } else {
      EQUIFL_RETURN_IF_ERROR(Step(collected.outcome, collected.aggregate.update,
                                  collected.aggregate.clip_indicators, summary, *next));
      // Training never moves the standardisation (its coordinates of the update
      // are zero, or DP noise).
      if (!standardised_.empty()) KeepStandardisation(*round.start.model, *next);
    }
    fairness_.OnRoundClosed(summary.round_id, summary.train.table(), summary.validation.table(),
                            summary.validation_by_client, collected.aggregate.train_samples);
    // Selection cells a client sent unasked are dropped with the split, never judged.
    if (options_.fairness.selection_share > 0 && round.start.version > 0 &&
        !summary.selection_statistics.empty()) {
      summary.selection =
          fairness_.OnSelectionStatistics(round.start.version, summary.selection_statistics);
    }
  } else if (privacy_.enabled()) {
    // The evaluation released noised statistics: charged as a mechanism of its own.
    EQUIFL_ASSIGN_OR_RETURN(aggregation::PrivacyGuarantee spent,
                            privacy_.AccountStatisticsRelease(collected.outcome.selected.size(),
                                                              collected.outcome.population));
    summary.privacy_epsilon = spent.epsilon;
    spdlog::info(
        "final evaluation: client-level DP: its noised statistics are charged at z_s / 2 = {:g}: "
        "({:.4f}, {:g})-DP in all",
        options_.privacy.AccountedStatisticsNoiseMultiplier(), spent.epsilon, spent.delta);
  }
  if (!summary.calibrated.empty())
    fairness_.OnFinalEvaluation(summary.round_id, summary.calibrated);
  if (const std::optional<fairness::SelectionJudgement> chosen = fairness_.ChosenModel()) {
    summary.chosen_round = chosen->model_round;
    summary.chosen_reason = fairness_.ChosenReason();
    if (summary.final_evaluation && !unserved_choice_.empty()) {
      summary.chosen_round = round.start.version;
      summary.chosen_reason = unserved_choice_;
    }
  }
  summary.fairness = fairness_.State();
  summary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - round.opened).count();
  if (observer_ != nullptr) {
    EQUIFL_RETURN_IF_ERROR(observer_->OnRoundClosed(summary, *next, optimizer_));
  }
  {
    absl::MutexLock lock(&model_mutex_);
    model_ = std::move(next);
    model_version_ = summary.round_id;
  }
  Log(summary);
  return absl::OkStatus();
}

absl::Status RoundLoop::Run() {
  while (std::optional<OpenedRound> round = Open()) {
    absl::StatusOr<CollectedRound> collected = Collect(*round);
    if (absl::IsCancelled(collected.status())) return absl::OkStatus();  // Stop()
    EQUIFL_RETURN_IF_ERROR(collected.status());
    EQUIFL_RETURN_IF_ERROR(Apply(*round, *std::move(collected)));
  }
  return absl::OkStatus();
}

void RoundLoop::Stop() {
  coordinator_.Stop();
  absl::MutexLock lock(&round_mutex_);
  if (accumulator_ != nullptr) accumulator_->Cancel();
}

}  // namespace equifl::server
