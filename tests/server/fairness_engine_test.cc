#include "server/fairness_engine.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace equifl::server
