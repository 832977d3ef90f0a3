// The `aggregation` options: their own ranges, and the combinations with
// client-level DP and secure aggregation that are refused, each saying why.
#include "aggregation/aggregation_rule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "tests/testing/status_matchers.h"

namespace equifl::aggregation {
namespace {

using ::equifl::test::IsOk;
using ::equifl::test::StatusIs;

RobustAggregationOptions Rule(AggregationRule rule) {
  RobustAggregationOptions options;
  options.rule = rule;
  return options;
}

TEST(AggregationRuleTest, DefaultsAreTheMeanWithoutABound) {
  const RobustAggregationOptions defaults;
  EXPECT_EQ(defaults.rule, AggregationRule::kMean);
  EXPECT_FALSE(defaults.HoldsUpdates());
  EXPECT_EQ(defaults.norm_bound, 0);
  EXPECT_THAT(defaults.Validate(), IsOk());
  EXPECT_THAT(defaults.CheckCompatibleWith(/*client_level_privacy=*/true,
                                           /*secure_aggregation=*/true),
              IsOk());
  EXPECT_EQ(defaults.MemoryLimitBytes(), uint64_t{4096} << 20);
}

TEST(AggregationRuleTest, ValidateChecksTrimBoundAndMemory) {
  RobustAggregationOptions trimmed = Rule(AggregationRule::kTrimmedMean);
  for (double trim : {0.0, 0.5, 0.7, std::nan("")}) {
    trimmed.trim_fraction = trim;
    EXPECT_THAT(trimmed.Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                             "trimmed_mean needs a share in (0, "
                                             "0.5)"));
  }
  // The median ignores the trim fraction.
  RobustAggregationOptions median = Rule(AggregationRule::kMedian);
  median.trim_fraction = 0.5;
  EXPECT_THAT(median.Validate(), IsOk());
  median.norm_bound = -1;
  EXPECT_THAT(median.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, "norm_bound is -1"));
  median.norm_bound = 2;
  median.memory_limit_mb = 0;
  EXPECT_THAT(median.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument, "memory_limit_mb is 0"));
  EXPECT_THAT(Rule(static_cast<AggregationRule>(9)).Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument, "aggregation rule is 9"));
}

TEST(AggregationRuleTest, RobustRulesNeedUpdatesInTheClearAndNoDp) {
  for (AggregationRule rule : {AggregationRule::kTrimmedMean, AggregationRule::kMedian}) {
    const RobustAggregationOptions options = Rule(rule);
    EXPECT_TRUE(options.HoldsUpdates());
    EXPECT_THAT(options.CheckCompatibleWith(false, false), IsOk());
    EXPECT_THAT(options.CheckCompatibleWith(false, true),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         "under secure aggregation the server learns only their sum"));
    EXPECT_THAT(options.CheckCompatibleWith(true, false),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         "does not go with client-level DP: DP's noise is calibrated"));
  }
}

TEST(AggregationRuleTest, NormBoundGoesWithSecureAggregationButNotWithDp) {
  RobustAggregationOptions bounded;
  bounded.norm_bound = 3;
  EXPECT_THAT(bounded.CheckCompatibleWith(false, true), IsOk());
  EXPECT_THAT(bounded.CheckCompatibleWith(true, true),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "privacy.clip_norm already bounds every update's norm"));
}

}  // namespace
}  // namespace equifl::aggregation
