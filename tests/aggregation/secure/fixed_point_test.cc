// Fixed point modulo 2^32: sums of up to max_addends values never wrap, each value
// is within max_error of the real one, and clamping is reported.
#include "aggregation/secure/fixed_point.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <random>

namespace equifl::aggregation {
namespace {

TEST(SignedFixedPointTest, SumsOfMaxAddendsAtTheBoundsDoNotWrap) {
  for (uint32_t addends : {1u, 3u, 1000u, 65535u}) {
    const SignedFixedPoint point = *SignedFixedPoint::Create(2.5, addends);
    for (double value : {2.5, -2.5}) {
      bool clamped = false;
      uint32_t sum = 0;
      for (uint32_t i = 0; i < addends; ++i) sum += point.Encode(value, clamped);
      EXPECT_FALSE(clamped);
      EXPECT_NEAR(point.Decode(sum), value * addends, addends * point.max_error())
          << addends << " addends of " << value;
    }
  }
}

TEST(SignedFixedPointTest, ErrorOfASumIsWithinTheDocumentedBound) {
  std::mt19937_64 engine(11);
  std::uniform_real_distribution<double> uniform(-0.7, 0.7);
  const uint32_t addends = 200;
  const SignedFixedPoint point = *SignedFixedPoint::Create(0.7, addends);
  EXPECT_DOUBLE_EQ(point.max_error(), 0.5 * 0.7 / (((int64_t{1} << 31) - 1) / addends));
  for (int trial = 0; trial < 100; ++trial) {
    double exact = 0;  // float64 reference
    uint32_t sum = 0;
    bool clamped = false;
    for (uint32_t i = 0; i < addends; ++i) {
      const double value = uniform(engine);
      exact += value;
      sum += point.Encode(value, clamped);
    }
    EXPECT_LE(std::abs(point.Decode(sum) - exact), addends * point.max_error());
  }
}

TEST(SignedFixedPointTest, ClampsAndReportsOutOfRangeValues) {
  const SignedFixedPoint point = *SignedFixedPoint::Create(1.0, 4);
  bool clamped = false;
  EXPECT_NEAR(point.Decode(point.Encode(0.25, clamped)), 0.25, point.max_error());
  EXPECT_FALSE(clamped);
  EXPECT_NEAR(point.Decode(point.Encode(3.0, clamped)), 1.0, point.max_error());
  EXPECT_TRUE(clamped);
  clamped = false;
  EXPECT_EQ(point.Decode(point.Encode(std::nan(""), clamped)), 0.0);
  EXPECT_TRUE(clamped);
  EXPECT_FALSE(SignedFixedPoint::Create(0, 4).ok());
  EXPECT_FALSE(SignedFixedPoint::Create(1, 0).ok());
}

TEST(LossSumTest, LimbsOfMaxAddendsSumExactly) {
  // 65,535 clients each with a loss sum of 65,535.99...: the limbs' sums stay
  // below 2^32 and decode to the quantised total.
  const double value = 65535.0 + 65535.0 / 65536.0;
  uint32_t low_sum = 0;
  uint32_t high_sum = 0;
  bool clamped = false;
  for (uint32_t i = 0; i < kMaxLossSumAddends; ++i) {
    uint32_t low = 0;
    uint32_t high = 0;
    EncodeLossSum(value, low, high, clamped);
    low_sum += low;
    high_sum += high;
  }
  EXPECT_FALSE(clamped);
  EXPECT_DOUBLE_EQ(DecodeLossSum(low_sum, high_sum), value * kMaxLossSumAddends);
}

TEST(LossSumTest, QuantisesToTwoToTheMinus16AndClampsNegatives) {
  uint32_t low = 0;
  uint32_t high = 0;
  bool clamped = false;
  EncodeLossSum(1.2345678, low, high, clamped);
  EXPECT_LE(std::abs(DecodeLossSum(low, high) - 1.2345678), kLossSumQuantum / 2);
  EXPECT_FALSE(clamped);
  EncodeLossSum(-1, low, high, clamped);
  EXPECT_TRUE(clamped);
  EXPECT_EQ(DecodeLossSum(low, high), 0.0);
}

// The total of exact sums is the sum of the values rounded to 2^-32, exactly:
// values below 2^20 in magnitude rounded to 2^-32 have at most 52 significant
// bits, so each is a double and their total (below 2^31) is exact in the
// reference's long double.
TEST(ExactSumTest, TheTotalIsTheExactSumOfTheRoundedValues) {
  std::mt19937_64 engine(5);
  std::uniform_real_distribution<double> exponent(-20, 20);
  std::uniform_int_distribution<int> sign(0, 1);
  for (int trial = 0; trial < 20; ++trial) {
    std::array<uint32_t, kExactSumLimbs> sums{};
    long double reference = 0;
    for (int client = 0; client < 1000; ++client) {
      const double value = (sign(engine) ? -1 : 1) * std::exp2(exponent(engine));
      std::array<uint32_t, kExactSumLimbs> limbs{};
      bool clamped = false;
      EncodeExactSum(value, limbs, clamped);
      EXPECT_FALSE(clamped);
      for (size_t limb = 0; limb < kExactSumLimbs; ++limb) sums[limb] += limbs[limb];
      reference += std::nearbyint(std::ldexp(static_cast<long double>(value), 32)) / 0x1p32L;
    }
    EXPECT_EQ(DecodeExactSum(sums), static_cast<double>(reference)) << "trial " << trial;
  }
}

TEST(ExactSumTest, TheMostAddendsOfLargeValuesDoNotWrap) {
  for (const double value : {0x1p46, -0x1p46, 0x1p46 + 0x1p-32}) {
    std::array<uint32_t, kExactSumLimbs> sums{};
    for (uint32_t client = 0; client < kMaxExactSumAddends; ++client) {
      std::array<uint32_t, kExactSumLimbs> limbs{};
      bool clamped = false;
      EncodeExactSum(value, limbs, clamped);
      ASSERT_FALSE(clamped);
      for (size_t limb = 0; limb < kExactSumLimbs; ++limb) sums[limb] += limbs[limb];
    }
    const long double expected = static_cast<long double>(value) * kMaxExactSumAddends;
    EXPECT_EQ(DecodeExactSum(sums), static_cast<double>(expected)) << value;
  }
}

TEST(ExactSumTest, ValuesOutOfRangeAreClampedAndReported) {
  std::array<uint32_t, kExactSumLimbs> limbs{};
  for (const double value : {1e30, -0x1p63, static_cast<double>(NAN)}) {
    bool clamped = false;
    EncodeExactSum(value, limbs, clamped);
    EXPECT_TRUE(clamped) << value;
    const double decoded = DecodeExactSum(limbs);
    if (std::isnan(value)) {
      EXPECT_EQ(decoded, 0.0);
    } else {
      EXPECT_EQ(std::abs(decoded), 0x1p62) << value;
      EXPECT_EQ(std::signbit(decoded), std::signbit(value));
    }
  }
}

}  // namespace
}  // namespace equifl::aggregation
