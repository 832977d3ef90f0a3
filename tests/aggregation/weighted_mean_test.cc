#include "aggregation/weighted_mean.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace equifl::aggregation {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

struct Update {
  double weight;
  std::vector<float> values;
};

// `count` updates of `size` values with unequal weights. Values are zero-mean with
// magnitudes spread over six decades, so the mean cancels heavily: the case where a
// float32 accumulator's error is largest relative to the result.
std::vector<Update> RandomUpdates(size_t count, size_t size, uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::uniform_real_distribution<double> weight(0.5, 2000.0);
  std::uniform_real_distribution<double> exponent(-6, 0);
  std::bernoulli_distribution negative(0.5);
  std::vector<Update> updates(count);
  for (Update& update : updates) {
    update.weight = weight(generator);
    update.values.resize(size);
    for (float& value : update.values) {
      value = static_cast<float>(std::pow(10.0, exponent(generator)) *
                                 (negative(generator) ? -1.0 : 1.0));
    }
  }
  return updates;
}

// The float64 reference: Σ w·x / Σ w and Σ w·|x| / Σ w, summed in the opposite order
// to the aggregate's, element by element.
struct Reference {
  std::vector<double> mean;
  std::vector<double> absolute_mean;
};

Reference ReferenceMean(const std::vector<Update>& updates) {
  const size_t size = updates.front().values.size();
  Reference reference{std::vector<double>(size, 0.0), std::vector<double>(size, 0.0)};
  double total = 0;
  for (auto it = updates.rbegin(); it != updates.rend(); ++it) {
    total += it->weight;
    for (size_t i = 0; i < size; ++i) {
      reference.mean[i] += it->weight * static_cast<double>(it->values[i]);
      reference.absolute_mean[i] += it->weight * std::fabs(static_cast<double>(it->values[i]));
    }
  }
  for (size_t i = 0; i < size; ++i) {
    reference.mean[i] /= total;
    reference.absolute_mean[i] /= total;
  }
  return reference;
}

// Checks `report` against the header's bound, 2^-24·|mean| + (2K + 2)·2^-53·A, widened
// by the reference's own float64 error (as large again).
void ExpectWithinDocumentedBound(const std::vector<float>& report, const Reference& reference,
                                 size_t count) {
  ASSERT_EQ(report.size(), reference.mean.size());
  const double k = static_cast<double>(count);
  size_t failures = 0;
  for (size_t i = 0; i < report.size() && failures < 5; ++i) {
    const double bound = std::ldexp(std::fabs(reference.mean[i]), -24) +
                         (4 * k + 4) * std::ldexp(reference.absolute_mean[i], -53);
    const double error = std::fabs(static_cast<double>(report[i]) - reference.mean[i]);
    if (!(error <= bound)) {
      ADD_FAILURE() << "element " << i << ": report " << report[i] << ", reference "
                    << reference.mean[i] << ", error " << error << " > bound " << bound;
      ++failures;
    }
  }
}

TEST(WeightedMeanTest, HandComputedMean) {
  WeightedMean mean(3);
  ASSERT_THAT(mean.Accumulate(1.0, std::vector<float>{1, 2, 3}), IsOk());
  ASSERT_THAT(mean.Accumulate(3.0, std::vector<float>{3, 6, -9}), IsOk());
  EXPECT_EQ(mean.count(), 2u);
  EXPECT_EQ(mean.total_weight(), 4.0);
  absl::StatusOr<std::vector<float>> report = std::move(mean).Report();
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(*report, (std::vector<float>{2.5f, 5.0f, -6.0f}));
}

// An odd size exercises the vector loops' tails.
TEST(WeightedMeanTest, MatchesFloat64ReferenceWithUnequalWeights) {
  const std::vector<Update> updates = RandomUpdates(40, 10007, 1);
  WeightedMean mean(10007);
  double total = 0;
  for (const Update& update : updates) {
    ASSERT_THAT(mean.Accumulate(update.weight, update.values), IsOk());
    total += update.weight;
  }
  EXPECT_EQ(mean.count(), updates.size());
  EXPECT_NEAR(mean.total_weight(), total, 1e-12 * total);
  absl::StatusOr<std::vector<float>> report = std::move(mean).Report();
  ASSERT_THAT(report, IsOk());
  ExpectWithinDocumentedBound(*report, ReferenceMean(updates), updates.size());
}

// One update: the mean is the update itself, whatever the weight.
TEST(WeightedMeanTest, SingleUpdateIsReturnedExactly) {
  const std::vector<Update> updates = RandomUpdates(1, 1001, 2);
  WeightedMean mean(1001);
  ASSERT_THAT(mean.Accumulate(0.3, updates[0].values), IsOk());
  absl::StatusOr<std::vector<float>> report = std::move(mean).Report();
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(*report, updates[0].values);
}

// With values k/1024 and whole weights every float64 sum is exact, so merging partial
// aggregates must give the same bits as accumulating everything in one.
TEST(WeightedMeanTest, MergeWithEqualsAccumulatingEverythingInOne) {
  constexpr size_t kSize = 4099;
  std::mt19937_64 generator(3);
  std::uniform_int_distribution<int> numerator(-1'000'000, 1'000'000);
  std::uniform_int_distribution<int> weight(1, 500);
  std::vector<Update> updates(12);
  for (Update& update : updates) {
    update.weight = weight(generator);
    update.values.resize(kSize);
    for (float& value : update.values) value = static_cast<float>(numerator(generator)) / 1024;
  }

  WeightedMean whole(kSize);
  for (const Update& update : updates)
    ASSERT_THAT(whole.Accumulate(update.weight, update.values), IsOk());
  std::vector<WeightedMean> parts;
  for (size_t part = 0; part < 3; ++part) {
    parts.emplace_back(kSize);
    for (size_t k = part; k < updates.size(); k += 3) {
      ASSERT_THAT(parts.back().Accumulate(updates[k].weight, updates[k].values), IsOk());
    }
  }
  WeightedMean empty(kSize);
  ASSERT_THAT(parts[0].MergeWith(std::move(empty)), IsOk());
  ASSERT_THAT(parts[2].MergeWith(std::move(parts[1])), IsOk());
  ASSERT_THAT(parts[0].MergeWith(std::move(parts[2])), IsOk());
  EXPECT_EQ(parts[1].count(), 0u);
  EXPECT_EQ(parts[1].size(), 0u);
  EXPECT_EQ(parts[0].count(), whole.count());
  EXPECT_EQ(parts[0].total_weight(), whole.total_weight());

  absl::StatusOr<std::vector<float>> merged = std::move(parts[0]).Report();
  absl::StatusOr<std::vector<float>> expected = std::move(whole).Report();
  ASSERT_THAT(merged, IsOk());
  ASSERT_THAT(expected, IsOk());
  EXPECT_EQ(*merged, *expected);
  ExpectWithinDocumentedBound(*merged, ReferenceMean(updates), updates.size());
}

TEST(WeightedMeanTest, RefusesUpdatesOfTheWrongSize) {
  WeightedMean mean(4);
  absl::Status status = mean.Accumulate(1.0, std::vector<float>{1, 2, 3});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("update has 3 elements"));
  EXPECT_THAT(status.message(), HasSubstr("vectors of 4"));
  EXPECT_EQ(mean.count(), 0u);
}

TEST(WeightedMeanTest, RefusesWeightsThatAreNotFiniteAndPositive) {
  WeightedMean mean(2);
  const std::vector<float> update = {1, 2};
  for (double weight : {0.0, -0.0, -1.0, std::numeric_limits<double>::quiet_NaN(),
                        std::numeric_limits<double>::infinity()}) {
    absl::Status status = mean.Accumulate(weight, update);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << weight;
    EXPECT_THAT(status.message(), HasSubstr("weight must be finite and > 0")) << weight;
  }
  EXPECT_EQ(mean.count(), 0u);
  EXPECT_EQ(mean.total_weight(), 0.0);
}

// A NaN or infinity in an update is refused, and the updates before it are
// reported as if the bad one had never come.
TEST(WeightedMeanTest, RefusesNonFiniteValuesAndKeepsTheOtherUpdates) {
  const std::vector<Update> updates = RandomUpdates(6, 513, 4);
  WeightedMean mean(513);
  for (size_t k = 0; k < 3; ++k)
    ASSERT_THAT(mean.Accumulate(updates[k].weight, updates[k].values), IsOk());
  for (float bad :
       {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
    std::vector<float> poisoned = updates[3].values;
    poisoned[300] = bad;
    absl::Status status = mean.Accumulate(7.0, poisoned);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("element 300"));
    EXPECT_THAT(status.message(), HasSubstr("finite"));
  }
  EXPECT_EQ(mean.count(), 3u);
  for (size_t k = 3; k < 6; ++k)
    ASSERT_THAT(mean.Accumulate(updates[k].weight, updates[k].values), IsOk());
  absl::StatusOr<std::vector<float>> report = std::move(mean).Report();
  ASSERT_THAT(report, IsOk());
  // Each refused update may leave one float64 rounding behind: count it as an update.
  ExpectWithinDocumentedBound(*report, ReferenceMean(updates), updates.size() + 2);
}

TEST(WeightedMeanTest, BatchIsBitIdenticalToOneByOne) {
  const std::vector<Update> updates = RandomUpdates(13, 1031, 5);
  WeightedMean one_by_one(1031);
  for (const Update& update : updates)
    ASSERT_THAT(one_by_one.Accumulate(update.weight, update.values), IsOk());
  // Batches of every size 1..8 in one aggregate: 1 + 4 + 8 = 13 updates.
  WeightedMean batched(1031);
  size_t next = 0;
  for (size_t batch : {1u, 4u, 8u}) {
    std::vector<double> weights;
    std::vector<std::span<const float>> views;
    for (size_t k = 0; k < batch; ++k, ++next) {
      weights.push_back(updates[next].weight);
      views.push_back(updates[next].values);
    }
    ASSERT_THAT(batched.AccumulateBatch(weights, views), IsOk());
  }
  EXPECT_EQ(batched.count(), 13u);
  EXPECT_EQ(batched.total_weight(), one_by_one.total_weight());
  const std::vector<float> expected = *std::move(one_by_one).Report();
  const std::vector<float> actual = *std::move(batched).Report();
  EXPECT_EQ(actual, expected);
  ExpectWithinDocumentedBound(actual, ReferenceMean(updates), updates.size());
}

TEST(WeightedMeanTest, BatchRefusesItsNonFiniteUpdatesAndFoldsTheRest) {
  const std::vector<Update> updates = RandomUpdates(3, 257, 6);
  std::vector<float> poisoned = updates[1].values;
  poisoned[100] = std::numeric_limits<float>::quiet_NaN();
  WeightedMean mean(257);
  const std::vector<double> weights = {updates[0].weight, 7.0, updates[2].weight};
  const std::vector<std::span<const float>> views = {updates[0].values, poisoned,
                                                     updates[2].values};
  const absl::Status status = mean.AccumulateBatch(weights, views);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("update 1: update element 100"));
  EXPECT_EQ(mean.count(), 2u);
  const std::vector<Update> kept = {updates[0], updates[2]};
  ExpectWithinDocumentedBound(*std::move(mean).Report(), ReferenceMean(kept), kept.size() + 3);
}

TEST(WeightedMeanTest, BatchRefusesBadShapesAndWeightsWithoutFolding) {
  const std::vector<Update> updates = RandomUpdates(2, 64, 7);
  WeightedMean mean(64);
  const std::vector<std::span<const float>> views = {updates[0].values, updates[1].values};
  EXPECT_FALSE(mean.AccumulateBatch(std::vector<double>{1.0}, views).ok());
  EXPECT_THAT(mean.AccumulateBatch(std::vector<double>{1.0, -1.0}, views).message(),
              HasSubstr("update 1 of the batch has weight -1"));
  const std::vector<float> short_update(63, 1.0f);
  EXPECT_FALSE(
      mean.AccumulateBatch(std::vector<double>{1.0, 1.0},
                           std::vector<std::span<const float>>{updates[0].values, short_update})
          .ok());
  EXPECT_FALSE(mean.AccumulateBatch({}, {}).ok());
  std::vector<std::span<const float>> nine(9, updates[0].values);
  EXPECT_FALSE(mean.AccumulateBatch(std::vector<double>(9, 1.0), nine).ok());
  EXPECT_EQ(mean.count(), 0u);
}

TEST(WeightedMeanTest, ReportOfNothingFails) {
  absl::StatusOr<std::vector<float>> report = WeightedMean(5).Report();
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(report.status().message(), HasSubstr("no update was accumulated"));
}

TEST(WeightedMeanTest, ReportFailsWhenTheWeightedSumOverflows) {
  WeightedMean mean(2);
  ASSERT_THAT(mean.Accumulate(1e300, std::vector<float>{1e30f, 1.0f}), IsOk());
  absl::StatusOr<std::vector<float>> report = std::move(mean).Report();
  EXPECT_EQ(report.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(report.status().message(), HasSubstr("overflowed"));
}

TEST(WeightedMeanTest, MergeRefusesOtherSizesAndItself) {
  WeightedMean mean(3);
  ASSERT_THAT(mean.Accumulate(1.0, std::vector<float>{1, 2, 3}), IsOk());
  WeightedMean other(4);
  ASSERT_THAT(other.Accumulate(1.0, std::vector<float>{1, 2, 3, 4}), IsOk());
  absl::Status status = mean.MergeWith(std::move(other));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("of 4 elements into one of 3"));
  EXPECT_EQ(other.count(), 1u);  // Refused: left as it was.
  status = mean.MergeWith(std::move(mean));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("itself"));
  EXPECT_EQ(mean.count(), 1u);
}

TEST(WeightedMeanTest, MovedFromAggregateIsEmpty) {
  WeightedMean mean(3);
  ASSERT_THAT(mean.Accumulate(2.0, std::vector<float>{1, 2, 3}), IsOk());
  WeightedMean moved = std::move(mean);
  EXPECT_EQ(moved.count(), 1u);
  EXPECT_EQ(moved.total_weight(), 2.0);
  EXPECT_EQ(moved.size(), 3u);
  EXPECT_EQ(mean.count(), 0u);  // NOLINT(bugprone-use-after-move): documented state.
  EXPECT_EQ(mean.size(), 0u);   // NOLINT(bugprone-use-after-move)
}

}  // namespace
}  // namespace equifl::aggregation
