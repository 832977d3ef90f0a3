#include "server/update_bounds.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>

#include "tests/testing/status_matchers.h"

namespace equifl::server {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

FairnessOptions Method(fairness::FairnessMethod method, double beta = 0) {
  FairnessOptions options;
  options.method = method;
  options.minmax_gap.aggregation_beta = beta;
  return options;
}

TEST(AggregationWeightTest, FedAvgAcceptsUpToTheSampleCount) {
  const FairnessOptions fedavg = Method(fairness::FairnessMethod::kFedAvg);
  EXPECT_THAT(CheckAggregationWeight(fedavg, 100, 100), IsOk());
  EXPECT_THAT(CheckAggregationWeight(fedavg, 0.5, 100), IsOk());
  EXPECT_THAT(CheckAggregationWeight(fedavg, 101, 100).message(), HasSubstr("exceeds 100"));
  // A client with no samples may still weigh 1.
  EXPECT_THAT(CheckAggregationWeight(fedavg, 1, 0), IsOk());
}

// The attacker's weight 1.7e308 (finite) and the ones that were silently replaced.
TEST(AggregationWeightTest, HugeNaNNegativeAndZeroWeightsAreRefused) {
  const FairnessOptions fedavg = Method(fairness::FairnessMethod::kFedAvg);
  EXPECT_FALSE(CheckAggregationWeight(fedavg, 1.7e308, 100).ok());
  EXPECT_THAT(CheckAggregationWeight(fedavg, std::nan(""), 100).message(),
              HasSubstr("finite and > 0"));
  EXPECT_FALSE(CheckAggregationWeight(fedavg, -3, 100).ok());
  EXPECT_FALSE(CheckAggregationWeight(fedavg, 0, 100).ok());
  EXPECT_FALSE(CheckAggregationWeight(fedavg, std::numeric_limits<double>::infinity(), 100).ok());
}

// n·exp(β·s) with s in [0, 1]: at most n·e^β (β = 2: 100·7.389 = 738.9).
TEST(AggregationWeightTest, MinMaxGapAllowsTheExponentialFactor) {
  const FairnessOptions minmax = Method(fairness::FairnessMethod::kMinMaxGap, 2);
  EXPECT_THAT(CheckAggregationWeight(minmax, 100 * std::exp(2.0), 100), IsOk());
  EXPECT_FALSE(CheckAggregationWeight(minmax, 740, 100).ok());
}

TEST(AggregationWeightTest, TooManySamplesAreRefused) {
  const FairnessOptions fedavg = Method(fairness::FairnessMethod::kFedAvg);
  EXPECT_THAT(CheckAggregationWeight(fedavg, 1, kMaxSamples), IsOk());
  EXPECT_THAT(CheckAggregationWeight(fedavg, 1, kMaxSamples + 1).message(),
              HasSubstr("training samples"));
}

// One group's statistics; its sum of squared losses is `loss_square_sum`, or by
// default that of `count` equal losses.
fairness::StatisticsTable Table(double loss_sum, uint64_t count, std::vector<uint64_t> confusion,
                                std::optional<double> loss_square_sum = std::nullopt) {
  fairness::GroupStatistics statistics;
  statistics.loss_sum = loss_sum;
  statistics.count = count;
  statistics.loss_square_sum =
      loss_square_sum.value_or(count == 0 ? 0.0 : loss_sum * loss_sum / static_cast<double>(count));
  if (!confusion.empty()) {
    statistics.num_classes = static_cast<uint32_t>(std::lround(std::sqrt(confusion.size())));
    statistics.confusion = std::move(confusion);
  }
  fairness::StatisticsTable table;
  table[fairness::Cell{"en", "all", ""}]["female"] = statistics;
  return table;
}

TEST(ClientStatisticsTest, ConsistentStatisticsPass) {
  EXPECT_THAT(CheckClientStatistics(Table(12.5, 10, {4, 1, 2, 3}), "training"), IsOk());
  EXPECT_THAT(CheckClientStatistics(Table(0, 0, {}), "training"), IsOk());
}

// A client cannot place statistics in another client's cells: the server keys
// cells by sender (fairness.per_client_cells) and clients send none.
TEST(ClientStatisticsTest, ACellNamingAClientIsRefused) {
  fairness::StatisticsTable table = Table(12.5, 10, {4, 1, 2, 3});
  fairness::StatisticsTable named;
  named[fairness::Cell{"en", "all", "client-7"}] = table.begin()->second;
  EXPECT_THAT(CheckClientStatistics(named, "validation").message(),
              HasSubstr("name client 'client-7'"));
}

TEST(ClientStatisticsTest, NonFiniteNegativeAndOversizedLossSumsAreRefused) {
  const absl::Status infinite =
      CheckClientStatistics(Table(std::numeric_limits<double>::infinity(), 10, {}), "validation");
  EXPECT_THAT(infinite.message(), HasSubstr("the validation statistics of cell (language 'en'"));
  EXPECT_THAT(infinite.message(), HasSubstr("group 'female'"));
  EXPECT_FALSE(CheckClientStatistics(Table(std::nan(""), 10, {}), "training").ok());
  EXPECT_FALSE(CheckClientStatistics(Table(-1, 10, {}), "training").ok());
  // Finite, but two of them would overflow a sum: more than 1e9 nats a sample.
  EXPECT_THAT(CheckClientStatistics(Table(1e300, 10, {}), "training").message(),
              HasSubstr("nats per sample"));
  EXPECT_FALSE(CheckClientStatistics(Table(1, 0, {}), "training").ok());
}

TEST(ClientStatisticsTest, SquaredLossesNoSetOfLossesHasAreRefused) {
  // Losses 1, 2, 3, 4: Σℓ = 10, Σℓ² = 30, between 10²/4 = 25 and 10² = 100.
  EXPECT_THAT(CheckClientStatistics(Table(10, 4, {}, 30), "training"), IsOk());
  EXPECT_THAT(CheckClientStatistics(Table(10, 4, {}, 25), "training"), IsOk());
  EXPECT_THAT(CheckClientStatistics(Table(10, 1, {}, 100), "training"), IsOk());
  // None reported, as by a client older than the server.
  EXPECT_THAT(CheckClientStatistics(Table(10, 4, {}, 0), "training").message(),
              HasSubstr("a client older than the server reports none"));
  EXPECT_FALSE(CheckClientStatistics(Table(10, 4, {}, 24.9), "training").ok());
  EXPECT_FALSE(CheckClientStatistics(Table(10, 4, {}, 100.1), "training").ok());
  EXPECT_FALSE(
      CheckClientStatistics(Table(10, 4, {}, std::numeric_limits<double>::infinity()), "training")
          .ok());
  EXPECT_FALSE(CheckClientStatistics(Table(10, 4, {}, std::nan("")), "training").ok());
  // Out of secure aggregation's fixed point only the range counts: its rounding
  // can move a sum of squares past the exact limits.
  EXPECT_THAT(CheckClientStatistics(Table(10, 4, {}, 24.99), "summed", /*quantised=*/true), IsOk());
  EXPECT_FALSE(CheckClientStatistics(Table(10, 4, {}, -1), "summed", /*quantised=*/true).ok());
}

TEST(ClientStatisticsTest, CountsThatContradictEachOtherAreRefused) {
  EXPECT_THAT(CheckClientStatistics(Table(1, 10, {4, 1, 2, 2}), "training").message(),
              HasSubstr("adding up to 9 for 10 samples"));
  EXPECT_FALSE(CheckClientStatistics(Table(1, kMaxSamples + 1, {}), "training").ok());
}

}  // namespace
}  // namespace equifl::server
