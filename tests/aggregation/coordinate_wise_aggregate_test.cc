// The weighted trimmed mean and median: hand-computed cases, then random rounds
// (ties, integer and real weights, several blocks of coordinates) against a float64
// reference written here from the header's definitions by sorting each coordinate.
#include "aggregation/coordinate_wise_aggregate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace equifl::aggregation {
namespace {

using ::equifl::test::IsOk;
using ::equifl::test::StatusIs;
using ::testing::ElementsAre;
using ::testing::FloatNear;

struct Update {
  double weight;
  std::vector<float> values;
};

// The aggregate of `updates` by `rule`, reported on `threads` threads.
std::vector<float> Combine(AggregationRule rule, double trim, const std::vector<Update>& updates,
                           unsigned threads = 1) {
  absl::StatusOr<CoordinateWiseAggregate> aggregate =
      CoordinateWiseAggregate::Create(rule, trim, updates.front().values.size());
  EXPECT_THAT(aggregate, IsOk());
  for (const Update& update : updates) {
    EXPECT_THAT(aggregate->Accumulate(update.weight, update.values), IsOk());
  }
  absl::StatusOr<std::vector<float>> reported = std::move(*aggregate).Report(threads);
  EXPECT_THAT(reported, IsOk());
  return reported.value_or(std::vector<float>{});
}

// One update per value: `values[k]` with weight `weights[k]`, a single coordinate.
std::vector<Update> Scalars(const std::vector<float>& values, const std::vector<double>& weights) {
  std::vector<Update> updates;
  for (size_t k = 0; k < values.size(); ++k) updates.push_back({weights[k], {values[k]}});
  return updates;
}

TEST(CoordinateWiseAggregateTest, MedianOfEqualWeightsIsTheMiddleValueOrTheMidpoint) {
  EXPECT_THAT(Combine(AggregationRule::kMedian, 0, Scalars({3, 1, 2}, {5, 5, 5})),
              ElementsAre(2.0f));
  EXPECT_THAT(Combine(AggregationRule::kMedian, 0, Scalars({4, 1, 3, 2}, {1, 1, 1, 1})),
              ElementsAre(2.5f));
  EXPECT_THAT(Combine(AggregationRule::kMedian, 0, Scalars({7}, {1})), ElementsAre(7.0f));
  EXPECT_THAT(Combine(AggregationRule::kMedian, 0, Scalars({2, 2, 1, 2, 9}, {1, 1, 1, 1, 1})),
              ElementsAre(2.0f));
}

TEST(CoordinateWiseAggregateTest, WeightedMedianIsTheValueAtHalfTheWeight) {
  // Weight intervals [0, 1], [1, 2], [2, 5]: 2.5 lies in 10's.
  EXPECT_THAT(Combine(AggregationRule::kMedian, 0, Scalars({1, 2, 10}, {1, 1, 3})),
              ElementsAre(10.0f));
  // [0, 2], [2, 3], [3, 4]: half the weight, 2, is the boundary between 1 and 2.
  EXPECT_THAT(Combine(AggregationRule::kMedian, 0, Scalars({2, 1, 3}, {1, 2, 1})),
              ElementsAre(1.5f));
  // An outlier with a fifth of the weight moves nothing.
  EXPECT_THAT(Combine(AggregationRule::kMedian, 0, Scalars({1e6f, 1, 1.5f}, {1, 2, 2})),
              ElementsAre(1.5f));
}

TEST(CoordinateWiseAggregateTest, TrimmedMeanDropsTheWeightAtEachEnd) {
  // Equal weights, β·K = 1: the usual trimmed mean of 1, 2, 3.
  EXPECT_THAT(
      Combine(AggregationRule::kTrimmedMean, 0.2, Scalars({100, 1, 2, 3, -50}, {1, 1, 1, 1, 1})),
      ElementsAre(2.0f));
  // β·K = 0.5: half of the lowest and of the highest value count.
  // (0·0.5 + 1 + 2 + 10·0.5) / 3 = 8/3.
  EXPECT_THAT(Combine(AggregationRule::kTrimmedMean, 0.125, Scalars({10, 0, 2, 1}, {1, 1, 1, 1})),
              ElementsAre(FloatNear(8.0f / 3, 1e-6f)));
  // Weight intervals [0, 3], [3, 4], [4, 5], kept [1, 4]: (0·2 + 5·1) / 3.
  EXPECT_THAT(Combine(AggregationRule::kTrimmedMean, 0.2, Scalars({5, 0, 10}, {1, 3, 1})),
              ElementsAre(FloatNear(5.0f / 3, 1e-6f)));
  // The kept weight [1, 3] is all one client's.
  EXPECT_THAT(Combine(AggregationRule::kTrimmedMean, 0.25, Scalars({1, 2, 3}, {1, 2, 1})),
              ElementsAre(2.0f));
}

TEST(CoordinateWiseAggregateTest, CombinesEveryCoordinateOnItsOwn) {
  const std::vector<Update> updates = {{1, {1, -4, 0}}, {1, {2, 8, 0}}, {1, {30, 1, 0}}};
  EXPECT_THAT(Combine(AggregationRule::kMedian, 0, updates), ElementsAre(2.0f, 1.0f, 0.0f));
}

// The float64 reference, written from the header's definitions: sort one
// coordinate's (value, weight) pairs and walk the weight intervals.
struct Pair {
  double value;
  double weight;
};

std::vector<Pair> SortedCoordinate(const std::vector<Update>& updates, size_t i) {
  std::vector<Pair> pairs;
  for (const Update& update : updates) pairs.push_back({update.values[i], update.weight});
  std::sort(pairs.begin(), pairs.end(),
            [](const Pair& a, const Pair& b) { return a.value < b.value; });
  return pairs;
}

double ReferenceTrimmedMean(const std::vector<Pair>& pairs, double trim) {
  double total = 0;
  for (const Pair& pair : pairs) total += pair.weight;
  const double low = trim * total;
  const double high = (1 - trim) * total;
  double start = 0;
  double sum = 0;
  for (const Pair& pair : pairs) {
    const double end = start + pair.weight;
    const double inside = std::min(end, high) - std::max(start, low);
    if (inside > 0) sum += pair.value * inside;
    start = end;
  }
  return sum / (high - low);
}

double ReferenceMedian(const std::vector<Pair>& pairs) {
  double total = 0;
  for (const Pair& pair : pairs) total += pair.weight;
  double end = 0;
  for (size_t j = 0; j < pairs.size(); ++j) {
    end += pairs[j].weight;
    if (end < total / 2) continue;
    // W/2 on the boundary between a value and a larger one: their midpoint.
    if (end == total / 2 && pairs[j + 1].value > pairs[j].value) {
      return (pairs[j].value + pairs[j + 1].value) / 2;
    }
    return pairs[j].value;
  }
  return pairs.back().value;
}

// Random rounds: values drawn from `levels` distinct values (0: continuous), so
// ties are common when levels is small; weights whole (sample counts, where W/2
// often falls on a boundary) or real.
std::vector<Update> RandomUpdates(size_t clients, size_t size, int levels, bool whole_weights,
                                  uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::uniform_real_distribution<double> value(-1, 1);
  std::uniform_int_distribution<int> level(0, std::max(levels - 1, 0));
  std::uniform_int_distribution<int> samples(1, 6);
  std::uniform_real_distribution<double> weight(0.1, 1000);
  std::vector<Update> updates(clients);
  for (Update& update : updates) {
    update.weight = whole_weights ? samples(generator) : weight(generator);
    update.values.resize(size);
    for (float& x : update.values) {
      x = levels > 0 ? static_cast<float>(level(generator)) * 0.25f
                     : static_cast<float>(value(generator) * std::pow(10.0, value(generator)));
    }
  }
  return updates;
}

TEST(CoordinateWiseAggregateTest, MatchesTheFloat64ReferenceOnRandomRounds) {
  // 300 coordinates: several blocks once there are more than about 100 clients.
  constexpr size_t kSize = 300;
  uint64_t seed = 1;
  for (size_t clients : {1, 2, 3, 8, 51, 400}) {
    for (int levels : {0, 3, 40}) {
      for (bool whole_weights : {true, false}) {
        const std::vector<Update> updates =
            RandomUpdates(clients, kSize, levels, whole_weights, seed++);
        const std::vector<float> median = Combine(AggregationRule::kMedian, 0, updates);
        for (double trim : {0.05, 0.25, 0.45}) {
          const std::vector<float> trimmed = Combine(AggregationRule::kTrimmedMean, trim, updates);
          ASSERT_EQ(trimmed.size(), kSize);
          for (size_t i = 0; i < kSize; ++i) {
            const std::vector<Pair> pairs = SortedCoordinate(updates, i);
            const double expected = ReferenceTrimmedMean(pairs, trim);
            double largest = 0;
            for (const Pair& pair : pairs) largest = std::max(largest, std::fabs(pair.value));
            // The header's bound, doubled for the reference's own float64 error.
            const double bound =
                std::ldexp(std::fabs(expected), -24) +
                2 * (3.0 * clients + 8) * std::ldexp(largest, -53) / (1 - 2 * trim);
            ASSERT_LE(std::fabs(trimmed[i] - expected), bound)
                << clients << " clients, " << levels << " levels, trim " << trim << ", coordinate "
                << i;
          }
        }
        ASSERT_EQ(median.size(), kSize);
        for (size_t i = 0; i < kSize; ++i) {
          ASSERT_EQ(median[i], static_cast<float>(ReferenceMedian(SortedCoordinate(updates, i))))
              << clients << " clients, " << levels << " levels, coordinate " << i;
        }
      }
    }
  }
}

TEST(CoordinateWiseAggregateTest, SortedAndReversedValuesGiveTheSameResult) {
  // Orders that make a naive quickselect slow; every client has the same weight, so
  // the median of 0 .. 999 is 499.5 in either order.
  std::vector<Update> ascending;
  for (int k = 0; k < 1000; ++k) ascending.push_back({1, {static_cast<float>(k)}});
  std::vector<Update> descending(ascending.rbegin(), ascending.rend());
  EXPECT_THAT(Combine(AggregationRule::kMedian, 0, ascending), ElementsAre(499.5f));
  EXPECT_THAT(Combine(AggregationRule::kMedian, 0, descending), ElementsAre(499.5f));
  EXPECT_THAT(Combine(AggregationRule::kTrimmedMean, 0.1, descending), ElementsAre(499.5f));
}

TEST(CoordinateWiseAggregateTest, ThreadsDoNotChangeTheResult) {
  const std::vector<Update> updates = RandomUpdates(37, 5000, 0, false, 99);
  for (AggregationRule rule : {AggregationRule::kMedian, AggregationRule::kTrimmedMean}) {
    const std::vector<float> one = Combine(rule, 0.2, updates, 1);
    EXPECT_EQ(Combine(rule, 0.2, updates, 3), one);
    EXPECT_EQ(Combine(rule, 0.2, updates, 0), one);
  }
}

TEST(CoordinateWiseAggregateTest, MergeWithEqualsAccumulatingEverythingInOne) {
  const std::vector<Update> updates = RandomUpdates(9, 64, 0, false, 7);
  absl::StatusOr<CoordinateWiseAggregate> first =
      CoordinateWiseAggregate::Create(AggregationRule::kTrimmedMean, 0.3, 64);
  absl::StatusOr<CoordinateWiseAggregate> second =
      CoordinateWiseAggregate::Create(AggregationRule::kTrimmedMean, 0.3, 64);
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  for (size_t k = 0; k < updates.size(); ++k) {
    ASSERT_THAT((k < 4 ? *first : *second).Accumulate(updates[k].weight, updates[k].values),
                IsOk());
  }
  ASSERT_THAT(first->MergeWith(std::move(*second)), IsOk());
  EXPECT_EQ(first->count(), 9u);
  EXPECT_EQ(second->count(), 0u);
  EXPECT_EQ(first->held_bytes(), 9u * 64 * 4);
  absl::StatusOr<std::vector<float>> merged = std::move(*first).Report();
  ASSERT_THAT(merged, IsOk());
  EXPECT_EQ(*merged, Combine(AggregationRule::kTrimmedMean, 0.3, updates));

  absl::StatusOr<CoordinateWiseAggregate> median =
      CoordinateWiseAggregate::Create(AggregationRule::kMedian, 0, 64);
  absl::StatusOr<CoordinateWiseAggregate> other_trim =
      CoordinateWiseAggregate::Create(AggregationRule::kTrimmedMean, 0.1, 64);
  EXPECT_THAT(median->MergeWith(std::move(*other_trim)),
              StatusIs(absl::StatusCode::kInvalidArgument, "cannot merge a trimmed_mean"));
  EXPECT_THAT(median->MergeWith(std::move(*median)),
              StatusIs(absl::StatusCode::kInvalidArgument, "with itself"));
}

TEST(CoordinateWiseAggregateTest, RefusesBadUpdatesAndKeepsNothingOfThem) {
  absl::StatusOr<CoordinateWiseAggregate> aggregate =
      CoordinateWiseAggregate::Create(AggregationRule::kMedian, 0, 3);
  ASSERT_THAT(aggregate, IsOk());
  EXPECT_THAT(aggregate->Accumulate(1, {1, 2}),
              StatusIs(absl::StatusCode::kInvalidArgument, "update has 2 elements"));
  for (double weight : {0.0, -1.0, std::numeric_limits<double>::infinity()}) {
    EXPECT_THAT(aggregate->Accumulate(weight, {1, 2, 3}),
                StatusIs(absl::StatusCode::kInvalidArgument, "finite and > 0"));
  }
  EXPECT_THAT(aggregate->Accumulate(1, {1, std::numeric_limits<float>::quiet_NaN(), 3}),
              StatusIs(absl::StatusCode::kInvalidArgument, "update element 1 is nan"));
  EXPECT_THAT(aggregate->Accumulate(1, {1, 2, -std::numeric_limits<float>::infinity()}),
              StatusIs(absl::StatusCode::kInvalidArgument, "update element 2 is -inf"));
  EXPECT_EQ(aggregate->count(), 0u);
  EXPECT_THAT(std::move(*aggregate).Report(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "no median to report"));
}

TEST(CoordinateWiseAggregateTest, ReportsAnOverflowingTotalWeight) {
  absl::StatusOr<CoordinateWiseAggregate> aggregate =
      CoordinateWiseAggregate::Create(AggregationRule::kMedian, 0, 1);
  ASSERT_THAT(aggregate, IsOk());
  ASSERT_THAT(aggregate->Accumulate(1e308, {1}), IsOk());
  ASSERT_THAT(aggregate->Accumulate(1e308, {2}), IsOk());
  EXPECT_THAT(std::move(*aggregate).Report(),
              StatusIs(absl::StatusCode::kOutOfRange, "overflowed"));
}

TEST(CoordinateWiseAggregateTest, CreateRefusesTheMeanAndTrimsOutsideTheOpenHalf) {
  EXPECT_THAT(CoordinateWiseAggregate::Create(AggregationRule::kMean, 0, 4),
              StatusIs(absl::StatusCode::kInvalidArgument, "not mean"));
  for (double trim : {0.0, 0.5, -0.1, std::nan("")}) {
    EXPECT_THAT(CoordinateWiseAggregate::Create(AggregationRule::kTrimmedMean, trim, 4),
                StatusIs(absl::StatusCode::kInvalidArgument, "allowed: (0, 0.5)"));
  }
}

}  // namespace
}  // namespace equifl::aggregation
