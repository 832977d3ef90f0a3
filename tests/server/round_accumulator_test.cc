// The two accumulators behind RoundAccumulator: the plain one's batched fold, its
// merge and its report checked against float64 sums; a failed fold fails the
// round; each refuses the other kind of input; the secure one cannot be merged.
// The plain one's robust rules (held updates, their memory limit) and norm bound.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "server/plain_accumulator.h"
#include "server/scratch_pool.h"
#include "server/secure_accumulator.h"
#include "tests/testing/status_matchers.h"

namespace equifl::server {
namespace {

using ::equifl::test::IsOk;
using ::equifl::test::StatusIs;

constexpr size_t kModelSize = 3;

PlainAccumulatorOptions Options(size_t fold_batch) {
  PlainAccumulatorOptions options;
  options.round_id = 4;
  options.model_size = kModelSize;
  options.fold_batch = fold_batch;
  return options;
}

fairness::StatisticsTable Losses(const std::string& group, double loss_sum, uint64_t count) {
  fairness::StatisticsTable table;
  table[{"en", fairness::kFusionView, ""}][group] = {loss_sum, count, 0, {}};
  return table;
}

// A plain input of `values` with `weight` and one group's training statistics.
ClientInput Plain(ScratchPool<float>& pool, const std::string& client,
                  const std::vector<float>& values, double weight) {
  PlainInput input;
  input.weight = weight;
  input.update = pool.Take();
  input.update.values() = values;
  input.train = Losses("f", weight, 1);
  input.train_samples = static_cast<uint64_t>(weight);
  return {client, std::move(input)};
}

TEST(PlainAccumulatorTest, ReportsTheWeightedMeanOfBatchedAndLeftOverUpdates) {
  ScratchPool<float> pool(3);
  PlainAccumulator accumulator(Options(/*fold_batch=*/2));
  const std::vector<std::vector<float>> updates = {{1, 2, 3}, {-1, 0.5f, 4}, {0.25f, -2, 8}};
  const std::vector<double> weights = {1, 3, 4};
  for (size_t k = 0; k < updates.size(); ++k) {
    ASSERT_THAT(
        accumulator.Accumulate(Plain(pool, "c" + std::to_string(k), updates[k], weights[k])),
        IsOk());
  }
  absl::StatusOr<RoundAggregate> aggregate = std::move(accumulator).Report();
  ASSERT_THAT(aggregate, IsOk());
  ASSERT_EQ(aggregate->update.size(), kModelSize);
  for (size_t i = 0; i < kModelSize; ++i) {
    double sum = 0;
    for (size_t k = 0; k < updates.size(); ++k) sum += weights[k] * updates[k][i];
    EXPECT_NEAR(aggregate->update[i], sum / 8.0, 1e-6) << i;
  }
  EXPECT_EQ(aggregate->total_weight, 8.0);
  EXPECT_EQ(aggregate->train.samples(), 3u);
  EXPECT_DOUBLE_EQ(aggregate->train.mean_loss(), 8.0 / 3);
  // Every scratch buffer went back to the pool: three more can be taken at once.
  std::vector<ScratchPool<float>::Buffer> taken;
  for (int i = 0; i < 3; ++i) taken.push_back(pool.Take());
}

TEST(PlainAccumulatorTest, AnUploadWhoseStatisticsCannotBeAddedLeavesNothing) {
  ScratchPool<float> pool(2);
  PlainAccumulator accumulator(Options(/*fold_batch=*/1));
  ASSERT_THAT(accumulator.Accumulate(Plain(pool, "good", {1, 2, 3}, 1)), IsOk());
  // Its training statistics fit; its validation statistics carry a negative loss sum.
  ClientInput bad = Plain(pool, "bad", {5, 5, 5}, 3);
  std::get<PlainInput>(bad.content).validation = Losses("m", -1.0, 1);
  EXPECT_THAT(accumulator.Accumulate(std::move(bad)),
              StatusIs(absl::StatusCode::kInvalidArgument, "loss sum of -1"));
  absl::StatusOr<RoundAggregate> aggregate = std::move(accumulator).Report();
  ASSERT_THAT(aggregate, IsOk());
  EXPECT_EQ(aggregate->train.samples(), 1u);  // Not the refused upload's training sample.
  EXPECT_EQ(aggregate->total_weight, 1.0);
  EXPECT_EQ(aggregate->update, (std::vector<float>{1, 2, 3}));
}

TEST(PlainAccumulatorTest, UnderClientLevelPrivacyReportsTheSum) {
  ScratchPool<float> pool(2);
  PlainAccumulatorOptions options = Options(1);
  options.sum_updates = true;
  PlainAccumulator accumulator(options);
  ASSERT_THAT(accumulator.Accumulate(Plain(pool, "a", {1, 2, 3}, 1)), IsOk());
  ASSERT_THAT(accumulator.Accumulate(Plain(pool, "b", {3, 2, 1}, 1)), IsOk());
  absl::StatusOr<RoundAggregate> aggregate = std::move(accumulator).Report();
  ASSERT_THAT(aggregate, IsOk());
  EXPECT_THAT(aggregate->update, ::testing::ElementsAre(4.0f, 4.0f, 4.0f));
}

TEST(PlainAccumulatorTest, AFoldThatFailsFailsTheRound) {
  ScratchPool<float> pool(2);
  PlainAccumulator accumulator(Options(/*fold_batch=*/2));
  ASSERT_THAT(accumulator.Accumulate(Plain(pool, "a", {1, 2, 3}, 1)), IsOk());
  // The service refuses non-finite values while decoding; an update that slipped
  // past it must not leave the mean silently without it.
  ASSERT_THAT(
      accumulator.Accumulate(Plain(pool, "b", {std::numeric_limits<float>::quiet_NaN(), 0, 0}, 1)),
      IsOk());
  EXPECT_THAT(std::move(accumulator).Report(),
              StatusIs(absl::StatusCode::kInternal, "round 4: folding 2 accepted updates"));
}

TEST(PlainAccumulatorTest, RefusesAMaskedInputAndAnUpdateOfAnotherSize) {
  ScratchPool<float> pool(1);
  PlainAccumulator accumulator(Options(1));
  const std::vector<uint32_t> words = {1, 2};
  EXPECT_THAT(accumulator.Accumulate({"a", MaskedInput{words}}),
              StatusIs(absl::StatusCode::kFailedPrecondition, "takes updates in the clear"));
  EXPECT_THAT(accumulator.Accumulate(Plain(pool, "a", {1, 2}, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, "an update of 2 values"));
}

TEST(PlainAccumulatorTest, MergingEqualsAccumulatingEverythingInOne) {
  ScratchPool<float> pool(4);
  PlainAccumulator one(Options(2));
  PlainAccumulator other(Options(2));
  PlainAccumulator both(Options(2));
  ASSERT_THAT(one.Accumulate(Plain(pool, "a", {1, 2, 3}, 2)), IsOk());
  ASSERT_THAT(other.Accumulate(Plain(pool, "b", {5, -2, 1}, 6)), IsOk());
  ASSERT_THAT(both.Accumulate(Plain(pool, "a", {1, 2, 3}, 2)), IsOk());
  ASSERT_THAT(both.Accumulate(Plain(pool, "b", {5, -2, 1}, 6)), IsOk());
  ASSERT_THAT(one.MergeWith(std::move(other)), IsOk());
  absl::StatusOr<RoundAggregate> merged = std::move(one).Report();
  absl::StatusOr<RoundAggregate> single = std::move(both).Report();
  ASSERT_THAT(merged, IsOk());
  ASSERT_THAT(single, IsOk());
  EXPECT_EQ(merged->update, single->update);
  EXPECT_EQ(merged->total_weight, 8.0);
  EXPECT_EQ(merged->train.samples(), 2u);
  PlainAccumulatorOptions other_round = Options(2);
  other_round.round_id = 5;
  PlainAccumulator fifth(other_round);
  PlainAccumulator fourth(Options(2));
  EXPECT_THAT(fourth.MergeWith(std::move(fifth)),
              StatusIs(absl::StatusCode::kInvalidArgument, "of round 4"));
}

TEST(PlainAccumulatorTest, AnEvaluationRoundSumsStatisticsOnly) {
  PlainAccumulatorOptions options = Options(1);
  options.model_size = 0;
  PlainAccumulator accumulator(options);
  PlainInput input;
  input.validation = Losses("m", 3.0, 6);
  ASSERT_THAT(accumulator.Accumulate({"a", std::move(input)}), IsOk());
  absl::StatusOr<RoundAggregate> aggregate = std::move(accumulator).Report();
  ASSERT_THAT(aggregate, IsOk());
  EXPECT_TRUE(aggregate->update.empty());
  EXPECT_EQ(aggregate->validation.samples(), 6u);
}

// fairness.per_client_cells: each sender's cells stay apart, keyed by its id, in
// training and evaluation rounds alike.
TEST(PlainAccumulatorTest, PerClientCellsAreKeyedBySender) {
  ScratchPool<float> pool(2);
  for (size_t model_size : {kModelSize, size_t{0}}) {
    PlainAccumulatorOptions options = Options(1);
    options.model_size = model_size;
    options.per_client_cells = true;
    PlainAccumulator accumulator(options);
    for (const char* client : {"a", "b"}) {
      ClientInput input = Plain(pool, client, {1, 2, 3}, 2.0);
      std::get<PlainInput>(input.content).validation = Losses("m", 3.0, 6);
      ASSERT_THAT(accumulator.Accumulate(std::move(input)), IsOk());
    }
    absl::StatusOr<RoundAggregate> aggregate = std::move(accumulator).Report();
    ASSERT_THAT(aggregate, IsOk());
    const fairness::StatisticsTable& validation = aggregate->validation.table();
    ASSERT_EQ(validation.size(), 2u);
    EXPECT_EQ(validation.begin()->first, (fairness::Cell{"en", fairness::kFusionView, "a"}));
    EXPECT_EQ(validation.rbegin()->first, (fairness::Cell{"en", fairness::kFusionView, "b"}));
    EXPECT_EQ(validation.begin()->second.at("m").count, 6u);
    if (model_size > 0) {
      EXPECT_EQ(aggregate->train.table().size(), 2u);
      EXPECT_EQ(aggregate->train.table().rbegin()->first.client, "b");
    }
  }
}

PlainAccumulatorOptions RobustOptions(aggregation::AggregationRule rule) {
  PlainAccumulatorOptions options = Options(/*fold_batch=*/2);
  options.aggregation.rule = rule;
  options.aggregation.trim_fraction = 0.2;
  options.report_threads = 2;
  return options;
}

// Five clients of equal weight, the last an outlier at 1e6 in every coordinate.
const std::vector<std::vector<float>> kWithOutlier = {
    {1, -2, 0.5f}, {3, -1, 0.25f}, {2, 5, 0}, {4, 0, 1}, {1e6f, 1e6f, 1e6f}};

TEST(PlainAccumulatorTest, MedianAndTrimmedMeanLeaveAnOutlierOut) {
  for (aggregation::AggregationRule rule :
       {aggregation::AggregationRule::kMedian, aggregation::AggregationRule::kTrimmedMean}) {
    ScratchPool<float> pool(2);
    PlainAccumulator accumulator(RobustOptions(rule));
    for (size_t k = 0; k < kWithOutlier.size(); ++k) {
      ASSERT_THAT(accumulator.Accumulate(Plain(pool, "c" + std::to_string(k), kWithOutlier[k], 2)),
                  IsOk());
    }
    absl::StatusOr<RoundAggregate> aggregate = std::move(accumulator).Report();
    ASSERT_THAT(aggregate, IsOk());
    EXPECT_EQ(aggregate->total_weight, 10.0);
    EXPECT_EQ(aggregate->train.samples(), 5u);
    if (rule == aggregation::AggregationRule::kMedian) {
      // The third of each coordinate's sorted values.
      EXPECT_THAT(aggregate->update, ::testing::ElementsAre(3.0f, 0.0f, 0.5f));
    } else {
      // A fifth of the weight dropped at each end: the mean of the middle three.
      EXPECT_THAT(aggregate->update, ::testing::ElementsAre(3.0f, ::testing::FloatEq(4.0f / 3),
                                                            ::testing::FloatEq(1.75f / 3)));
    }
    // The held values left their scratch buffers, which are all back in the pool.
    std::vector<ScratchPool<float>::Buffer> taken;
    for (int i = 0; i < 2; ++i) taken.push_back(pool.Take());
  }
}

TEST(PlainAccumulatorTest, MergingHeldUpdatesEqualsHoldingThemInOne) {
  ScratchPool<float> pool(8);
  const PlainAccumulatorOptions options = RobustOptions(aggregation::AggregationRule::kMedian);
  PlainAccumulator one(options);
  PlainAccumulator other(options);
  PlainAccumulator both(options);
  for (size_t k = 0; k < kWithOutlier.size(); ++k) {
    const std::string client = "c" + std::to_string(k);
    ASSERT_THAT((k < 2 ? one : other).Accumulate(Plain(pool, client, kWithOutlier[k], 1)), IsOk());
    ASSERT_THAT(both.Accumulate(Plain(pool, client, kWithOutlier[k], 1)), IsOk());
  }
  ASSERT_THAT(one.MergeWith(std::move(other)), IsOk());
  absl::StatusOr<RoundAggregate> merged = std::move(one).Report();
  absl::StatusOr<RoundAggregate> single = std::move(both).Report();
  ASSERT_THAT(merged, IsOk());
  ASSERT_THAT(single, IsOk());
  EXPECT_EQ(merged->update, single->update);
  EXPECT_EQ(merged->train.samples(), 5u);
  PlainAccumulator mean(Options(2));
  PlainAccumulator median(options);
  EXPECT_THAT(mean.MergeWith(std::move(median)),
              StatusIs(absl::StatusCode::kInvalidArgument, "with rule mean"));
}

TEST(PlainAccumulatorTest, AnUpdatePastTheMemoryLimitFailsTheRound) {
  PlainAccumulatorOptions options = RobustOptions(aggregation::AggregationRule::kMedian);
  options.model_size = 100'000;  // 400 kB an update: the third passes 1 MiB.
  options.aggregation.memory_limit_mb = 1;
  ScratchPool<float> pool(2);
  PlainAccumulator accumulator(options);
  const std::vector<float> update(options.model_size, 1.0f);
  ASSERT_THAT(accumulator.Accumulate(Plain(pool, "a", update, 1)), IsOk());
  ASSERT_THAT(accumulator.Accumulate(Plain(pool, "b", update, 1)), IsOk());
  EXPECT_THAT(accumulator.Accumulate(Plain(pool, "c", update, 1)),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "aggregation rule median holds every update of a round until it closes, "
                       "and update 3 would take them to 1.14441 MiB, past "
                       "aggregation.memory_limit_mb = 1; raise it, select fewer clients"));
  // Not a median of whichever clients came first: the round fails.
  EXPECT_THAT(std::move(accumulator).Report(),
              StatusIs(absl::StatusCode::kResourceExhausted, "round 4: aggregation rule median"));
}

TEST(PlainAccumulatorTest, NormBoundScalesLongUpdatesDownBeforeWeighting) {
  PlainAccumulatorOptions options = Options(/*fold_batch=*/1);
  options.aggregation.norm_bound = 1.0;
  ScratchPool<float> pool(2);
  PlainAccumulator accumulator(options);
  // Norm 5, scaled to 1; norm 0.5, kept.
  ASSERT_THAT(accumulator.Accumulate(Plain(pool, "long", {3, 0, 4}, 1)), IsOk());
  ASSERT_THAT(accumulator.Accumulate(Plain(pool, "short", {0, 0.5f, 0}, 3)), IsOk());
  absl::StatusOr<RoundAggregate> aggregate = std::move(accumulator).Report();
  ASSERT_THAT(aggregate, IsOk());
  EXPECT_THAT(aggregate->update,
              ::testing::ElementsAre(::testing::FloatEq(0.6f / 4), ::testing::FloatEq(1.5f / 4),
                                     ::testing::FloatEq(0.8f / 4)));

  // The robust rules see bounded updates too: the outlier becomes a short vector.
  PlainAccumulatorOptions robust = RobustOptions(aggregation::AggregationRule::kTrimmedMean);
  robust.aggregation.trim_fraction = 0.1;
  robust.aggregation.norm_bound = 1.0;
  PlainAccumulator trimmed(robust);
  ASSERT_THAT(trimmed.Accumulate(Plain(pool, "outlier", {1e6f, 0, 0}, 1)), IsOk());
  ASSERT_THAT(trimmed.Accumulate(Plain(pool, "honest", {0.5f, 0, 0}, 1)), IsOk());
  aggregate = std::move(trimmed).Report();
  ASSERT_THAT(aggregate, IsOk());
  // Weight intervals [0, 1] for 0.5 and [1, 2] for 1, kept [0.2, 1.8].
  EXPECT_THAT(aggregate->update[0], ::testing::FloatEq((0.5f * 0.8f + 1.0f * 0.8f) / 1.6f));
}

std::shared_ptr<SecureRound> TwoClientSecureRound() {
  aggregation::SecureInputLayout layout;
  layout.update_size = 2;
  layout.statistics = {{"en"}, {fairness::kFusionView}, {"f"}, 2};
  layout.max_clients = 2;
  aggregation::SecureRoundOptions protocol;
  protocol.context = {"run", 1};
  protocol.selected = {"a", "b"};
  protocol.words = layout.Words();
  return std::make_shared<SecureRound>(protocol, layout, aggregation::ClientNoise{});
}

TEST(SecureAccumulatorTest, RefusesUpdatesInTheClearAndMerging) {
  SecureAccumulator accumulator(TwoClientSecureRound(), {});
  EXPECT_THAT(accumulator.Accumulate({"a", PlainInput{}}),
              StatusIs(absl::StatusCode::kFailedPrecondition, "takes masked inputs only"));
  SecureAccumulator other(TwoClientSecureRound(), {});
  EXPECT_THAT(accumulator.MergeWith(std::move(other)),
              StatusIs(absl::StatusCode::kFailedPrecondition, "cannot be merged"));
}

TEST(SecureAccumulatorTest, CancelEndsTheSetupWait) {
  SecureAccumulator accumulator(TwoClientSecureRound(), {std::chrono::minutes(10), false});
  accumulator.Cancel();
  EXPECT_THAT(accumulator.AwaitSetup(), StatusIs(absl::StatusCode::kCancelled, "stopping"));
}

TEST(ScratchPoolTest, ABufferGoesBackWhenItsHandleIsDestroyed) {
  ScratchPool<float> pool(1);
  {
    ScratchPool<float>::Buffer buffer = pool.Take();
    buffer.values().resize(5);
    ScratchPool<float>::Buffer moved = std::move(buffer);
  }
  // The one buffer is back, with its earlier size, so this does not wait.
  ScratchPool<float>::Buffer again = pool.Take();
  EXPECT_EQ(again.values().size(), 5u);
}

}  // namespace
}  // namespace equifl::server
