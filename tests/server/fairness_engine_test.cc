#include "server/fairness_engine.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>

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
  engine.OnRoundClosed({}, validation, {}, {});
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
  engine.OnRoundClosed({}, validation, {}, {});
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
  pooled.OnRoundClosed({}, validation, {}, {});
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
  options.group_dro.weight_cap = 4;
  ASSERT_TRUE(options.Validate().ok());
  FairnessEngine engine(options);
  fairness::StatisticsTable validation;
  // A gap of 1 nat with no spread: far above the default bound, violated.
  validation[fairness::Cell{"en", fairness::kFusionView, ""}] = {{"f", Losses(10, 15)},
                                                                 {"m", Losses(30, 15)}};
  engine.OnRoundClosed({}, validation, {}, {});
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
    FairnessEngine uninterrupted(options);
    FairnessEngine restarted(options);
    for (double shift : {1.0, 3.0}) {
      const RoundStatistics round = MakeRound(shift);
      uninterrupted.OnRoundClosed(round.train, round.validation, round.validation_by_client,
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
      engine->OnRoundClosed(next.train, next.validation, next.validation_by_client,
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

}  // namespace
}  // namespace equifl::server
