// Shamir sharing over GF(2^61 - 1): any t shares rebuild the secret, fewer do not,
// and the arithmetic holds at the edges of the field.
#include "aggregation/secure/shamir_secret_sharing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "tests/testing/status_matchers.h"

namespace equifl::aggregation {
namespace {

using ::equifl::test::IsOk;

Key32 TestSecret(uint8_t seed) {
  Key32 secret;
  for (size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<uint8_t>(seed * 31 + i * 7);
  secret[31] = 0xff;  // the last limb's top byte
  return secret;
}

TEST(ShamirSecretSharingTest, EveryThresholdSubsetRebuildsTheSecret) {
  const Key32 secret = TestSecret(3);
  std::vector<uint64_t> points(9);
  std::iota(points.begin(), points.end(), 1);
  absl::StatusOr<std::vector<ShamirShare>> shares = ShareSecret(secret, 4, points);
  ASSERT_THAT(shares, IsOk());
  std::mt19937_64 engine(5);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<ShamirShare> subset = *shares;
    std::shuffle(subset.begin(), subset.end(), engine);
    subset.resize(4 + trial % 3);
    absl::StatusOr<Key32> rebuilt = ReconstructSecret(subset, 4);
    ASSERT_THAT(rebuilt, IsOk());
    EXPECT_EQ(*rebuilt, secret);
  }
}

TEST(ShamirSecretSharingTest, FewerThanTheThresholdAreRefused) {
  std::vector<uint64_t> points = {1, 2, 3, 4, 5};
  const std::vector<ShamirShare> shares = *ShareSecret(TestSecret(1), 3, points);
  const absl::StatusOr<Key32> rebuilt = ReconstructSecret(std::span(shares).first(2), 3);
  EXPECT_EQ(rebuilt.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ShamirSecretSharingTest, AForgedShareDoesNotRebuildTheSecret) {
  const Key32 secret = TestSecret(2);
  std::vector<uint64_t> points = {1, 2, 3};
  std::vector<ShamirShare> shares = *ShareSecret(secret, 3, points);
  shares[2].values[0] = (shares[2].values[0] + 1) % kShamirPrime;
  const absl::StatusOr<Key32> rebuilt = ReconstructSecret(shares, 3);
  EXPECT_TRUE(!rebuilt.ok() || *rebuilt != secret);
}

TEST(ShamirSecretSharingTest, OneShareBelowTheThresholdIsUniformWhateverTheSecret) {
  // With threshold 2 a single share is secret + a·x with a uniform: uniform over the
  // field for any secret. A chi-square over 16 equal bins of the field, for an
  // all-zero and an all-0xff secret, 4,000 sharings each (15 degrees of freedom:
  // the 1e-5 critical value is 44.3).
  std::vector<uint64_t> points = {1, 2};
  for (uint8_t fill : {uint8_t{0}, uint8_t{0xff}}) {
    Key32 secret;
    secret.fill(fill);
    std::vector<int> bins(16, 0);
    constexpr int kSharings = 4000;
    for (int i = 0; i < kSharings; ++i) {
      const uint64_t value = (*ShareSecret(secret, 2, points))[0].values[0];
      ++bins[static_cast<size_t>(static_cast<__uint128_t>(value) * 16 / kShamirPrime)];
    }
    double chi_square = 0;
    for (int count : bins) {
      const double expected = kSharings / 16.0;
      chi_square += (count - expected) * (count - expected) / expected;
    }
    EXPECT_LT(chi_square, 44.3) << "secret filled with " << int(fill);
  }
}

TEST(ShamirSecretSharingTest, SharesOfOneSecretDifferBetweenSharings) {
  std::vector<uint64_t> points = {1, 2, 3};
  const std::vector<ShamirShare> first = *ShareSecret(TestSecret(4), 2, points);
  const std::vector<ShamirShare> second = *ShareSecret(TestSecret(4), 2, points);
  EXPECT_NE(first[0].values, second[0].values);  // fresh random coefficients
}

TEST(ShamirSecretSharingTest, PointsNearThePrimeWork) {
  const Key32 secret = TestSecret(9);
  std::vector<uint64_t> points = {kShamirPrime - 1, kShamirPrime - 2, 1};
  const std::vector<ShamirShare> shares = *ShareSecret(secret, 3, points);
  EXPECT_EQ(*ReconstructSecret(shares, 3), secret);
}

TEST(ShamirSecretSharingTest, RefusesBadPointsAndThresholds) {
  std::vector<uint64_t> zero = {0, 1};
  EXPECT_FALSE(ShareSecret(TestSecret(1), 2, zero).ok());
  std::vector<uint64_t> twice = {1, 1};
  EXPECT_FALSE(ShareSecret(TestSecret(1), 2, twice).ok());
  std::vector<uint64_t> points = {1, 2};
  EXPECT_FALSE(ShareSecret(TestSecret(1), 3, points).ok());
  EXPECT_FALSE(ShareSecret(TestSecret(1), 0, points).ok());
  std::vector<ShamirShare> shares = *ShareSecret(TestSecret(1), 2, points);
  shares[1].x = shares[0].x;
  EXPECT_FALSE(ReconstructSecret(shares, 2).ok());
}

}  // namespace
}  // namespace equifl::aggregation
