// Sizing SecAgg+'s neighbourhoods for dropouts: the failure bound equals a
// binomial tail computed another way, the chosen k and t meet the target and
// are the smallest k and largest t that do, with the default 30% dropout every
// simulated round of 1,000 clients can be unmasked (SecAgg+'s logarithmic
// default loses almost every one), and the bound holds on the ring lattice
// where failures are frequent enough to count.
#include "aggregation/secure/neighbourhood_sizing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "aggregation/secure/neighbour_graph.h"
#include "tests/testing/status_matchers.h"

namespace equifl::aggregation {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

// P(Binomial(trials, success) < count), the distribution built one trial at a
// time in long double: a different computation from the library's, which sums
// terms from lgamma downward.
double BinomialBelowByConvolution(uint32_t trials, double success, uint32_t count) {
  std::vector<long double> distribution = {1.0L};
  for (uint32_t trial = 0; trial < trials; ++trial) {
    std::vector<long double> next(distribution.size() + 1, 0.0L);
    for (size_t successes = 0; successes < distribution.size(); ++successes) {
      next[successes] += distribution[successes] * (1.0L - success);
      next[successes + 1] += distribution[successes] * success;
    }
    distribution = std::move(next);
  }
  long double below = 0;
  for (uint32_t successes = 0; successes < count && successes <= trials; ++successes) {
    below += distribution[successes];
  }
  return static_cast<double>(below);
}

double IndependentBound(uint32_t clients, NeighbourhoodSize size, double dropout) {
  return clients * BinomialBelowByConvolution(size.neighbours, 1 - dropout, size.threshold);
}

// Rounds out of `trials` on the ring lattice of `size` that the server would
// abandon when every client drops after masking with probability `dropout`: a
// survivor's self-mask seed has its own share and its surviving neighbours', a
// dropped client's masking key its surviving neighbours', and each needs t.
int AbandonedRounds(uint32_t clients, NeighbourhoodSize size, double dropout, int trials,
                    uint64_t seed) {
  const std::vector<std::vector<uint32_t>> graph =
      *BuildNeighbourGraph(clients, size.neighbours, seed);
  std::mt19937_64 engine(seed);
  std::bernoulli_distribution drops(dropout);
  int abandoned = 0;
  std::vector<bool> survived(clients);
  for (int trial = 0; trial < trials; ++trial) {
    for (uint32_t client = 0; client < clients; ++client) survived[client] = !drops(engine);
    for (uint32_t client = 0; client < clients; ++client) {
      uint32_t shares = survived[client] ? 1 : 0;
      for (uint32_t neighbour : graph[client]) shares += survived[neighbour] ? 1 : 0;
      if (shares < size.threshold) {
        ++abandoned;
        break;
      }
    }
  }
  return abandoned;
}

TEST(NeighbourhoodSizingTest, LogarithmicNeighbourCount) {
  EXPECT_EQ(LogarithmicNeighbourCount(3), 2u);
  EXPECT_EQ(LogarithmicNeighbourCount(100), 16u);   // 2 * 7 + 2
  EXPECT_EQ(LogarithmicNeighbourCount(1000), 22u);  // 2 * 10 + 2
}

TEST(NeighbourhoodSizingTest, FailureBoundIsTheUnionOfBinomialTails) {
  for (const auto& [k, t, dropout] : std::vector<std::tuple<uint32_t, uint32_t, double>>{
           {22, 12, 0.3}, {60, 31, 0.3}, {212, 107, 0.3}, {38, 20, 0.1}, {10, 10, 0.0}}) {
    const double expected = std::min(1.0, IndependentBound(1000, {k, t}, dropout));
    EXPECT_NEAR(RoundFailureBound(1000, k, t, dropout), expected, 1e-9 * expected + 1e-300)
        << "k = " << k << ", t = " << t;
  }
}

TEST(NeighbourhoodSizingTest, DefaultsMeetTheTargetWithTheSmallestKAndLargestT) {
  const DropoutTolerance defaults;
  ASSERT_EQ(defaults.expected_dropout, 0.3);
  ASSERT_EQ(defaults.target_failure_probability, 1e-6);
  for (uint32_t clients : {1000u, 5000u}) {
    const NeighbourhoodSize size = ChooseNeighbourhoodSize(clients, 0.5, defaults);
    SCOPED_TRACE(clients);
    EXPECT_EQ(size.neighbours % 2, 0u);
    EXPECT_LT(size.neighbours, clients - 1);
    // Privacy's floors: the logarithmic degree, and half of a neighbourhood.
    EXPECT_GE(size.neighbours, LogarithmicNeighbourCount(clients));
    EXPECT_GE(size.threshold, ThresholdFor(size.neighbours + 1, 0.5));
    EXPECT_LE(IndependentBound(clients, size, 0.3), 1e-6);
    // Two neighbours fewer with their floor threshold miss the target, and so does
    // a threshold one higher.
    const uint32_t fewer = size.neighbours - 2;
    EXPECT_GT(IndependentBound(clients, {fewer, ThresholdFor(fewer + 1, 0.5)}, 0.3), 1e-6);
    EXPECT_GT(IndependentBound(clients, {size.neighbours, size.threshold + 1}, 0.3), 1e-6);
  }
  const NeighbourhoodSize thousand = ChooseNeighbourhoodSize(1000, 0.5, defaults);
  EXPECT_EQ(thousand.neighbours, 212u);
  EXPECT_EQ(thousand.threshold, 107u);
  // SecAgg+'s logarithmic default at 1,000 clients expects 39 clients short of
  // shares per round at 30% dropout.
  EXPECT_GT(IndependentBound(1000, {22, 12}, 0.3), 30);
}

TEST(NeighbourhoodSizingTest, ThirtyPercentDropoutNeverAbandonsADefaultRound) {
  const NeighbourhoodSize chosen = ChooseNeighbourhoodSize(1000, 0.5, DropoutTolerance{});
  EXPECT_EQ(AbandonedRounds(1000, chosen, 0.3, 200, 11), 0);
  // The simulation does see failures: with k = 22, t = 12 nearly every round fails.
  EXPECT_GT(AbandonedRounds(1000, {22, 12}, 0.3, 200, 11), 190);
}

TEST(NeighbourhoodSizingTest, TheBoundHoldsWhereFailuresAreFrequentEnoughToCount) {
  // A target of 5% at 200 clients: the abandoned share of 4,000 rounds stays
  // below it (the union bound is loose, never low).
  const DropoutTolerance tolerance{0.3, 0.05};
  const NeighbourhoodSize size = ChooseNeighbourhoodSize(200, 0.5, tolerance);
  ASSERT_LT(size.neighbours, 199u);
  EXPECT_LE(AbandonedRounds(200, size, 0.3, 4000, 5), 0.05 * 4000);
}

TEST(NeighbourhoodSizingTest, SmallRoundsUseTheCompleteGraphAndLowDropoutTheFloor) {
  const NeighbourhoodSize forty = ChooseNeighbourhoodSize(40, 0.5, DropoutTolerance{});
  EXPECT_EQ(forty.neighbours, 39u);
  EXPECT_EQ(forty.threshold, 20u);
  // 5% expected dropout: SecAgg+'s 2 * 6 + 2 neighbours suffice at 60 clients.
  EXPECT_EQ(ChooseNeighbourhoodSize(60, 0.5, {0.05, 1e-3}).neighbours, 14u);
  // No dropout expected: every neighbour's share is needed.
  const NeighbourhoodSize none = ChooseNeighbourhoodSize(1000, 0.5, {0.0, 1e-6});
  EXPECT_EQ(none.neighbours, 22u);
  EXPECT_EQ(none.threshold, 22u);
  EXPECT_EQ(ChooseNeighbourhoodSize(2, 0.5, DropoutTolerance{}).neighbours, 1u);
}

TEST(NeighbourhoodSizingTest, ValidateRefusesDropoutsTheThresholdCannotSurvive) {
  EXPECT_THAT(DropoutTolerance{}.Validate(0.5), IsOk());
  EXPECT_THAT(DropoutTolerance({0.5, 1e-6}).Validate(0.5).message(),
              HasSubstr("expected_dropout 0.5 leaves on average 0.5 of each neighbourhood, no more "
                        "than the 0.5 that threshold 0.5 needs"));
  EXPECT_THAT(DropoutTolerance({0.35, 1e-6}).Validate(0.7).message(),
              HasSubstr("lower expected_dropout or threshold"));
  EXPECT_THAT(DropoutTolerance({1.0, 1e-6}).Validate(0.5).message(),
              HasSubstr("expected_dropout is 1; allowed: [0, 1)"));
  EXPECT_THAT(DropoutTolerance({0.3, 0.0}).Validate(0.5).message(),
              HasSubstr("target_failure_probability is 0; allowed: (0, 1)"));
}

}  // namespace
}  // namespace equifl::aggregation
