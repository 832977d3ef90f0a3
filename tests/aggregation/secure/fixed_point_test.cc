// Fixed point modulo 2^32: sums of up to max_addends values never wrap, each value
// is within max_error of the real one, and clamping is reported.
#include "aggregation/secure/fixed_point.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace equifl::aggregation
