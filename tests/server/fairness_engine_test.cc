#include "server/fairness_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "aggregation/secure/secure_input.h"

namespace equifl::server {
namespace {

fairness::GroupStatistics Losses(uint64_t count, double loss_sum) {
  fairness::GroupStatistics group;
  group.count = count;
  group.loss_sum = loss_sum;
  return group;
}

// ERM-MinMaxGAP's dual ascent aims at the stated bound's ε: after a round whose
// validation gap is 0.5, λ = η · (0.5 − ε) with ε = fairness.bound.epsilon.
TEST(FairnessEngineTest, MinMaxGapDrivesTheLossGapTowardsTheStatedBound) {
  FairnessOptions options;
  options.method = fairness::FairnessMethod::kMinMaxGap;
  options.bound.epsilon = 0.1;
  options.minmax_gap.epsilon = 0.02;  // Overridden by the bound.
  ASSERT_TRUE(options.Validate().ok());
  FairnessEngine engine(options);
  fairness::StatisticsTable validation;
  validation[fairness::Cell{"en", fairness::kFusionView, ""}] = {{"f", Losses(10, 10)},
                                                                 {"m", Losses(10, 5)}};
  engine.OnRoundClosed(1, {}, validation, {}, {});
  EXPECT_NEAR(engine.State().validation_gap, 0.5, 1e-12);
  EXPECT_NEAR(engine.State().lambda, options.minmax_gap.lambda_learning_rate * (0.5 - 0.1), 1e-12);
}

TEST(FairnessEngineTest, MinMaxGapNeedsABoundOnTheLossGap) {
  FairnessOptions options;
  options.method = fairness::FairnessMethod::kMinMaxGap;
  options.bound.metric = fairness::BoundMetric::kAccuracyGap;
  EXPECT_FALSE(options.Validate().ok());
  options.method = fairness::FairnessMethod::kFedAvg;
  EXPECT_TRUE(options.Validate().ok());
}

// With per-client cells, ERM-MinMaxGAP sees each client's gap: here the two
// clients' gaps point opposite ways and cancel when pooled. Each client is sent
// the weights of its own cells only, named as it names them (without a client).
TEST(FairnessEngineTest, PerClientCellsWeighEachClientsOwnGap) {
  fairness::StatisticsTable validation;
  validation[fairness::Cell{"en", fairness::kFusionView, "a"}] = {{"f", Losses(10, 10)},
                                                                  {"m", Losses(10, 5)}};
  validation[fairness::Cell{"en", fairness::kFusionView, "b"}] = {{"f", Losses(10, 5)},
                                                                  {"m", Losses(10, 10)}};
  FairnessOptions options;
  options.method = fairness::FairnessMethod::kMinMaxGap;
  options.bound.epsilon = 0.1;
  options.per_client_cells = true;
  FairnessEngine engine(options);
  engine.OnRoundClosed(1, {}, validation, {}, {});
  EXPECT_NEAR(engine.State().lambda, options.minmax_gap.lambda_learning_rate * (0.5 - 0.1), 1e-12);
  for (const auto& [client, worse_off] : {std::pair{"a", "f"}, std::pair{"b", "m"}}) {
    const v1::FairnessDirective directive = engine.Directive(client);
    ASSERT_EQ(directive.weights_size(), 1) << client;
    EXPECT_EQ(directive.weights(0).group(), worse_off);
    EXPECT_EQ(directive.weights(0).cell().client_id(), "");
    EXPECT_GT(directive.weights(0).weight(), 0);
  }
  EXPECT_EQ(engine.Directive("c").weights_size(), 0);

  // Pooled, the two cells are one whose groups are equal: nothing to weigh.
  options.per_client_cells = false;
  FairnessEngine pooled(options);
  pooled.OnRoundClosed(1, {}, validation, {}, {});
  EXPECT_EQ(pooled.State().lambda, 0);
  EXPECT_EQ(pooled.Directive("a").weights_size(), 0);
}

// Statistics of one round for every controller: training and validation tables
// with two languages, and per-client validation tables for FairFed.
struct RoundStatistics {
  fairness::StatisticsTable train;
  fairness::StatisticsTable validation;
  std::map<std::string, fairness::StatisticsTable> validation_by_client;
  std::map<std::string, uint64_t> train_samples;
};

RoundStatistics MakeRound(double shift) {
  RoundStatistics round;
  const fairness::Cell en{"en", fairness::kFusionView, ""};
  const fairness::Cell de{"de", fairness::kFusionView, ""};
  round.train[en] = {{"f", Losses(10, 9 + shift)}, {"m", Losses(30, 12)}};
  round.train[de] = {{"f", Losses(5, 2)}, {"m", Losses(5, 4 + shift)}};
  round.validation_by_client["a"][en] = {{"f", Losses(4, 4 + shift)}, {"m", Losses(6, 3)}};
  round.validation_by_client["b"][de] = {{"f", Losses(3, 1)}, {"m", Losses(2, 2 * shift)}};
  for (const auto& [client, table] : round.validation_by_client) {
    EXPECT_TRUE(fairness::AddInto(round.validation, table).ok());
  }
  round.train_samples = {{"a", 40}, {"b", 10 + static_cast<uint64_t>(shift)}};
  return round;
}

// Group DRO: once the bound is violated, α mixes q into the directive, which
// carries the cap; a client's aggregation weight (its sum of capped weights) may
// be up to cap·n, not more.
TEST(FairnessEngineTest, GroupDroSendsItsCapAndBoundsTheWeightByIt) {
  FairnessOptions options;
  options.method = fairness::FairnessMethod::kGroupDro;
  options.group_dro.reference_rounds = 1;
  options.group_dro.probe_rounds = 0;
  options.group_dro.weight_cap = 4;
  ASSERT_TRUE(options.Validate().ok());
  FairnessEngine engine(options);
  fairness::StatisticsTable validation;
  // A gap of 1 nat with no spread: far above the default bound, violated.
  validation[fairness::Cell{"en", fairness::kFusionView, ""}] = {{"f", Losses(10, 15)},
                                                                 {"m", Losses(30, 15)}};
  engine.OnRoundClosed(1, {}, validation, {}, {});
  EXPECT_DOUBLE_EQ(engine.State().lambda, 0.25);
  EXPECT_EQ(engine.State().alpha_step, "raised");
  const v1::FairnessDirective directive = engine.Directive("a");
  EXPECT_EQ(directive.method(), v1::FAIRNESS_METHOD_GROUP_DRO);
  EXPECT_DOUBLE_EQ(directive.sample_weight_cap(), 4);
  ASSERT_EQ(directive.weights_size(), 2);
  EXPECT_GT(directive.weights(0).weight(), 0);  // f, the worse-off group, up.
  EXPECT_LT(directive.weights(1).weight(), 0);

  v1::UpdateHeader header;
  header.set_num_train_samples(10);
  header.set_aggregation_weight(40);
  EXPECT_EQ(*engine.AggregationWeight("a", header), 40);
  header.set_aggregation_weight(41);
  EXPECT_FALSE(engine.AggregationWeight("a", header).ok());
}

// Fixed weights: from the first validation statistics on (10 f, 30 m: ρ = 0.25,
// 0.75) the directive carries the group-balanced weights at t = 1 (s = 2 and 2/3)
// under its own wire method, with group DRO's cap bounding the aggregation weight;
// α reads 1.
TEST(FairnessEngineTest, FixedWeightsSendTheTiltedSharesFromTheFirstStatistics) {
  FairnessOptions options;
  options.method = fairness::FairnessMethod::kFixedWeights;
  options.group_dro.weight_cap = 3;
  ASSERT_TRUE(options.Validate().ok());
  FairnessEngine engine(options);
  EXPECT_EQ(engine.Directive("a").weights_size(), 0);  // Nothing known yet: ERM.
  fairness::StatisticsTable validation;
  validation[fairness::Cell{"en", fairness::kFusionView, ""}] = {{"f", Losses(10, 5)},
                                                                 {"m", Losses(30, 15)}};
  engine.OnRoundClosed(1, {}, validation, {}, {});
  EXPECT_EQ(engine.State().lambda, 1);
  EXPECT_EQ(engine.State().alpha_step, "fixed weights");
  const v1::FairnessDirective directive = engine.Directive("a");
  EXPECT_EQ(directive.method(), v1::FAIRNESS_METHOD_FIXED_WEIGHTS);
  EXPECT_DOUBLE_EQ(directive.sample_weight_cap(), 3);
  ASSERT_EQ(directive.weights_size(), 2);
  EXPECT_NEAR(1 + directive.weights(0).weight(), 2.0, 1e-12);
  EXPECT_NEAR(1 + directive.weights(1).weight(), 2.0 / 3, 1e-12);

  v1::UpdateHeader header;
  header.set_num_train_samples(10);
  header.set_aggregation_weight(30);
  EXPECT_EQ(*engine.AggregationWeight("a", header), 30);
  header.set_aggregation_weight(31);
  EXPECT_FALSE(engine.AggregationWeight("a", header).ok());

  options.fixed_weights_power = 9;
  EXPECT_THAT(std::string(options.Validate().message()), testing::HasSubstr("fixed_weights_power"));
}

// A group of `count` losses with mean `mean` and sample deviation 0.5.
fairness::GroupStatistics Spread(uint64_t count, double mean) {
  fairness::GroupStatistics group = Losses(count, static_cast<double>(count) * mean);
  group.loss_square_sum =
      static_cast<double>(count - 1) * 0.25 + static_cast<double>(count) * mean * mean;
  return group;
}

// Group DRO probes the floor at full weight. An irreducible gap of 0.4 nats (the
// same statistics every round, 400 samples a group) against ε = 0.05: one
// reference round, then the probe sets α = 1 for rounds 2 to 4 (and the violated
// bound keeps it there); rounds 3, 4 and 5 measure models trained at α = 1, the
// last two find the worse group's loss no lower (two stalls), so the floor is 0.4
// and ε is infeasible. Judged at the floor, the gap is undetermined, so α is kept
// instead of raised; with levelling down allowed the bound stays at ε and α is
// raised.
TEST(FairnessEngineTest, GroupDroJudgesAnInfeasibleBoundAtTheFloorItProbed) {
  fairness::StatisticsTable validation;
  validation[fairness::Cell{"en", fairness::kFusionView, ""}] = {{"f", Spread(400, 1.2)},
                                                                 {"m", Spread(400, 0.8)}};
  for (const bool levelling_down : {false, true}) {
    SCOPED_TRACE(levelling_down ? "levelling down allowed" : "no levelling down");
    FairnessOptions options;
    options.method = fairness::FairnessMethod::kGroupDro;
    options.group_dro.reference_rounds = 1;
    options.group_dro.allow_levelling_down = levelling_down;
    options.bound.epsilon = 0.05;
    ASSERT_TRUE(options.Validate().ok());
    FairnessEngine engine(options);
    for (uint64_t round = 1; round <= 4; ++round) {
      engine.OnRoundClosed(round, {}, validation, {}, {});
      const FairnessState state = engine.State();
      ASSERT_TRUE(state.feasibility);
      EXPECT_EQ(state.feasibility->feasibility, fairness::Feasibility::kUnknown) << round;
      EXPECT_EQ(state.lambda, 1.0);
      EXPECT_EQ(state.alpha_step, round <= 3 ? "probing the floor at full weight" : "raised");
    }
    engine.OnRoundClosed(5, {}, validation, {}, {});
    const FairnessState state = engine.State();
    ASSERT_TRUE(state.feasibility && state.feasibility->floor);
    EXPECT_EQ(state.feasibility->feasibility, fairness::Feasibility::kInfeasible);
    EXPECT_EQ(state.feasibility->floor->round, 5u);
    EXPECT_NEAR(state.feasibility->floor->gap.gap, 0.4, 1e-9);
    EXPECT_NEAR(state.feasibility->effective_epsilon, 0.4, 0.01);
    EXPECT_EQ(state.alpha_step, levelling_down ? "raised" : "kept");
  }
}

// The probe survives a restart: an engine restored from the state after round 4
// (two full-weight measurements, one stall) settles the floor in round 5 as the
// uninterrupted engine does; restored without the probe's cells it would not.
TEST(FairnessEngineTest, ARestoredEngineContinuesTheProbe) {
  fairness::StatisticsTable validation;
  validation[fairness::Cell{"en", fairness::kFusionView, ""}] = {{"f", Spread(400, 1.2)},
                                                                 {"m", Spread(400, 0.8)}};
  FairnessOptions options;
  options.method = fairness::FairnessMethod::kGroupDro;
  options.group_dro.reference_rounds = 1;
  options.bound.epsilon = 0.05;
  FairnessEngine uninterrupted(options);
  for (uint64_t round = 1; round <= 4; ++round) {
    uninterrupted.OnRoundClosed(round, {}, validation, {}, {});
  }
  const FairnessState after_four = uninterrupted.State();
  ASSERT_FALSE(after_four.floor_probe.empty());
  FairnessEngine restored(options);
  restored.Restore(after_four);
  FairnessState without_probe = after_four;
  without_probe.floor_probe.clear();
  FairnessEngine forgetful(options);
  forgetful.Restore(without_probe);
  for (FairnessEngine* engine : {&uninterrupted, &restored, &forgetful}) {
    engine->OnRoundClosed(5, {}, validation, {}, {});
  }
  EXPECT_EQ(uninterrupted.State().feasibility->feasibility, fairness::Feasibility::kInfeasible);
  EXPECT_EQ(restored.State().feasibility->text, uninterrupted.State().feasibility->text);
  EXPECT_EQ(restored.State().alpha_step, uninterrupted.State().alpha_step);
  EXPECT_EQ(forgetful.State().feasibility->feasibility, fairness::Feasibility::kUnknown);
}

// Calibration's measurement comes with the final evaluation, for any method; it
// bounds the floor from above only.
TEST(FairnessEngineTest, TheCalibratedFinalEvaluationMeasuresTheFloor) {
  FairnessOptions options;
  options.bound.epsilon = 0.5;
  FairnessEngine engine(options);
  fairness::StatisticsTable calibrated;
  calibrated[fairness::Cell{"en", fairness::kFusionView, ""}] = {{"f", Spread(400, 1.0)},
                                                                 {"m", Spread(400, 0.8)}};
  engine.OnFinalEvaluation(4, calibrated);
  const FairnessState state = engine.State();
  ASSERT_TRUE(state.feasibility && state.feasibility->upper_estimate);
  EXPECT_EQ(state.feasibility->upper_estimate->source, fairness::FloorSource::kCalibration);
  EXPECT_EQ(state.feasibility->upper_estimate->round, 4u);
  // The gap reached, 0.2, is within ε = 0.5: feasible. Above ε it would say nothing.
  EXPECT_EQ(state.feasibility->feasibility, fairness::Feasibility::kFeasible);
  options.bound.epsilon = 0.1;
  FairnessEngine strict(options);
  strict.OnFinalEvaluation(4, calibrated);
  EXPECT_EQ(strict.State().feasibility->feasibility, fairness::Feasibility::kUnknown);
  // Another metric has no loss-gap floor to judge.
  options.bound.metric = fairness::BoundMetric::kAccuracyGap;
  options.bound.epsilon = 10;
  EXPECT_FALSE(FairnessEngine(options).State().feasibility);
}

// One client's statistics of a round: two languages, groups f and m with spread
// and confusion counts, losses shifted per client and split.
fairness::StatisticsTable ClientTable(int client, double shift) {
  fairness::StatisticsTable table;
  for (const char* language : {"en", "ja"}) {
    const double base = language[0] == 'e' ? 0.6 : 1.1;
    for (const char* group : {"f", "m"}) {
      const uint64_t count = 40 + 10 * client + (group[0] == 'f' ? 0 : 25);
      const double mean = base + shift + (group[0] == 'f' ? 0.35 : 0.0) + 0.05 * client;
      fairness::GroupStatistics sums;
      sums.count = count;
      sums.loss_sum = mean * count;
      sums.loss_square_sum = (mean * mean + 0.8) * count;
      sums.num_classes = 2;
      sums.confusion = {count / 2, count / 4, count / 8, count - count / 2 - count / 4 - count / 8};
      table[{language, fairness::kFusionView, ""}][group] = sums;
    }
  }
  return table;
}

// Everything the server uses is a sum of client statistics, so a controller fed
// the sums secure aggregation decodes (fixed point, summed modulo 2^32) moves as
// one fed the exact plain sums.
TEST(FairnessEngineTest, SecureAndPlainSumsGiveTheSameControllerState) {
  aggregation::SecureInputLayout layout;
  layout.statistics = {{"en", "ja"}, {fairness::kFusionView}, {"f", "m"}, 2};
  layout.max_clients = 3;
  layout.weight_bound = 1000;
  for (const fairness::FairnessMethod method :
       {fairness::FairnessMethod::kMinMaxGap, fairness::FairnessMethod::kGroupDro,
        fairness::FairnessMethod::kFedMinMax}) {
    SCOPED_TRACE(NameOf(method));
    FairnessOptions options;
    options.method = method;
    options.bound.epsilon = 0.1;
    options.group_dro.reference_rounds = 1;
    FairnessEngine plain(options);
    FairnessEngine secure(options);
    for (const double shift : {0.0, -0.1, 0.2}) {
      fairness::StatisticsTable train;
      fairness::StatisticsTable validation;
      std::vector<uint32_t> sum(layout.Words(), 0);
      for (int client = 0; client < 3; ++client) {
        aggregation::SecureInput input;
        input.weight = 10;
        input.train = ClientTable(client, shift + 0.3);
        input.validation = ClientTable(client, shift);
        ASSERT_TRUE(fairness::AddInto(train, input.train).ok());
        ASSERT_TRUE(fairness::AddInto(validation, input.validation).ok());
        std::vector<uint32_t> words;
        ASSERT_TRUE(aggregation::EncodeSecureInput(layout, input, words).ok());
        for (size_t i = 0; i < words.size(); ++i) sum[i] += words[i];
      }
      const absl::StatusOr<aggregation::SecureSum> decoded =
          aggregation::DecodeSecureSum(layout, sum);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      plain.OnRoundClosed(1, train, validation, {}, {});
      secure.OnRoundClosed(1, decoded->train, decoded->validation, {}, {});
    }
    const FairnessState a = plain.State();
    const FairnessState b = secure.State();
    EXPECT_NEAR(a.lambda, b.lambda, 1e-6);
    EXPECT_EQ(a.alpha_step, b.alpha_step);
    ASSERT_EQ(a.group_dro_weights.size(), b.group_dro_weights.size());
    for (size_t i = 0; i < a.group_dro_weights.size(); ++i) {
      EXPECT_NEAR(a.group_dro_weights[i].weight, b.group_dro_weights[i].weight, 1e-6);
    }
    ASSERT_EQ(a.group_weights.size(), b.group_weights.size());
    for (size_t i = 0; i < a.group_weights.size(); ++i) {
      EXPECT_NEAR(a.group_weights[i].weight, b.group_weights[i].weight, 1e-6);
    }
    const v1::FairnessDirective plain_directive = plain.Directive("a");
    const v1::FairnessDirective secure_directive = secure.Directive("a");
    ASSERT_EQ(plain_directive.weights_size(), secure_directive.weights_size());
    for (int i = 0; i < plain_directive.weights_size(); ++i) {
      EXPECT_NEAR(plain_directive.weights(i).weight(), secure_directive.weights(i).weight(), 1e-5);
    }
    // Something moved, so the comparison could fail.
    if (method == fairness::FairnessMethod::kFedMinMax) {
      EXPECT_EQ(a.group_weights.size(), 4u);
    } else {
      EXPECT_GT(a.lambda, 0);
    }
  }
}

// What --resume relies on: an engine restored from another's state after a round
// sends the same directive, weighs updates the same, and moves the same way.
TEST(FairnessEngineTest, ARestoredEngineContinuesEveryController) {
  for (const fairness::FairnessMethod method :
       {fairness::FairnessMethod::kMinMaxGap, fairness::FairnessMethod::kFedMinMax,
        fairness::FairnessMethod::kFairFed, fairness::FairnessMethod::kGroupDro}) {
    SCOPED_TRACE(NameOf(method));
    FairnessOptions options;
    options.method = method;
    options.bound.epsilon = 0.05;
    options.group_dro.probe_rounds = 0;  // A probe in progress is not restored.
    FairnessEngine uninterrupted(options);
    FairnessEngine restarted(options);
    for (double shift : {1.0, 3.0}) {
      const RoundStatistics round = MakeRound(shift);
      uninterrupted.OnRoundClosed(1, round.train, round.validation, round.validation_by_client,
                                  round.train_samples);
    }
    restarted.Restore(uninterrupted.State());
    EXPECT_EQ(restarted.Directive("b").SerializeAsString(),
              uninterrupted.Directive("b").SerializeAsString());
    v1::UpdateHeader header;
    header.set_num_train_samples(12);
    EXPECT_EQ(*restarted.AggregationWeight("b", header),
              *uninterrupted.AggregationWeight("b", header));

    const RoundStatistics next = MakeRound(0.5);
    for (FairnessEngine* engine : {&uninterrupted, &restarted}) {
      engine->OnRoundClosed(3, next.train, next.validation, next.validation_by_client,
                            next.train_samples);
    }
    EXPECT_EQ(restarted.Directive("b").SerializeAsString(),
              uninterrupted.Directive("b").SerializeAsString());
    const FairnessState a = uninterrupted.State();
    const FairnessState b = restarted.State();
    EXPECT_EQ(a.lambda, b.lambda);
    ASSERT_EQ(a.group_weights.size(), b.group_weights.size());
    for (size_t i = 0; i < a.group_weights.size(); ++i) {
      EXPECT_EQ(a.group_weights[i].weight, b.group_weights[i].weight);
    }
    ASSERT_EQ(a.client_weights.size(), b.client_weights.size());
    for (size_t i = 0; i < a.client_weights.size(); ++i) {
      EXPECT_EQ(a.client_weights[i].weight, b.client_weights[i].weight);
    }
    ASSERT_EQ(a.group_dro_weights.size(), b.group_dro_weights.size());
    for (size_t i = 0; i < a.group_dro_weights.size(); ++i) {
      EXPECT_DOUBLE_EQ(a.group_dro_weights[i].weight, b.group_dro_weights[i].weight);
      EXPECT_EQ(a.group_dro_weights[i].reference, b.group_dro_weights[i].reference);
    }
    // Something moved, so the comparison could fail.
    EXPECT_TRUE(a.lambda > 0 || a.group_weights.size() == 4 || a.client_weights.size() == 2 ||
                a.group_dro_weights.size() == 4);
  }
}

// Model selection: training rounds ask for the selection view, the final
// evaluation does not; the engine chooses among the models it judged, and a
// restored engine chooses as the one it continues (the bound comes from the
// options, not from the history).
TEST(FairnessEngineTest, ModelSelectionJudgesTrainingRoundsAndSurvivesARestore) {
  FairnessOptions options;
  options.selection_share = 0.25;
  ASSERT_TRUE(options.Validate().ok());
  FairnessEngine engine(options);
  EXPECT_EQ(engine.EvaluatedViews(false),
            (std::vector<std::string>{fairness::kFusionView, "selection@0.25"}));
  EXPECT_EQ(engine.EvaluatedViews(true), std::vector<std::string>{fairness::kFusionView});
  EXPECT_EQ(engine.ChosenModel(), std::nullopt);

  // Two classes; model 1 has 60 of 100 right, model 2 has 80.
  const auto selection = [](uint64_t right) {
    fairness::GroupStatistics group = Losses(100, 50);
    group.num_classes = 2;
    group.confusion = {right / 2, 50 - right / 2, 50 - right / 2, right / 2};
    fairness::StatisticsTable table;
    table[fairness::Cell{"en", fairness::kFusionView, ""}]["f"] = group;
    return table;
  };
  EXPECT_NEAR(engine.OnSelectionStatistics(1, selection(60)).accuracy->estimate, 0.6, 1e-12);
  engine.OnSelectionStatistics(2, selection(80));
  ASSERT_TRUE(engine.ChosenModel());
  EXPECT_EQ(engine.ChosenModel()->model_round, 2u);
  EXPECT_THAT(engine.ChosenReason(), testing::HasSubstr("round 2's model"));

  FairnessEngine restored(options);
  std::vector<fairness::SelectionJudgement> judged = {
      fairness::JudgeOnSelection(1, selection(60), {}),
      fairness::JudgeOnSelection(2, selection(80), {})};
  restored.RestoreSelection(judged);
  EXPECT_EQ(restored.ChosenModel()->model_round, 2u);
  EXPECT_EQ(restored.ChosenReason(), engine.ChosenReason());

  options.selection_share = 0.95;
  EXPECT_FALSE(options.Validate().ok());
  options.selection_share = 0;
  EXPECT_EQ(FairnessEngine(options).EvaluatedViews(false),
            std::vector<std::string>{fairness::kFusionView});
}

}  // namespace
}  // namespace equifl::server
