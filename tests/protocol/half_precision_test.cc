#include "protocol/half_precision.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace equifl::protocol {
namespace {

// Independent float64 reference of IEEE binary16: sign, 5-bit exponent, 10-bit mantissa.
double HalfValueReference(uint16_t bits) {
  const int sign = (bits >> 15) ? -1 : 1;
  const int exponent = (bits >> 10) & 0x1F;
  const int mantissa = bits & 0x3FF;
  if (exponent == 0x1F) {
    return mantissa ? std::numeric_limits<double>::quiet_NaN()
                    : sign * std::numeric_limits<double>::infinity();
  }
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

// Independent float64 reference of rounding to the nearest half, ties to even.
double RoundToHalfReference(double value) {
  const double magnitude = std::fabs(value);
  if (magnitude >= 65520.0) return std::copysign(INFINITY, value);
  const int exponent = magnitude < std::ldexp(1.0, -14) ? -14 : std::ilogb(magnitude);
  const double step = std::ldexp(1.0, exponent - 10);
  return std::nearbyint(value / step) * step;  // Default rounding: ties to even.
}

TEST(HalfPrecisionTest, EveryHalfDecodesToItsReferenceValue) {
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    const double expected = HalfValueReference(static_cast<uint16_t>(bits));
    const float decoded = HalfToFloat(static_cast<uint16_t>(bits));
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(decoded)) << bits;
    } else {
      EXPECT_EQ(static_cast<double>(decoded), expected) << "bits " << bits;
    }
  }
}

TEST(HalfPrecisionTest, EveryNonNanHalfSurvivesARoundTrip) {
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    if (std::isnan(HalfValueReference(static_cast<uint16_t>(bits)))) continue;
    EXPECT_EQ(FloatToHalf(HalfToFloat(static_cast<uint16_t>(bits))), bits) << bits;
  }
}

TEST(HalfPrecisionTest, HandComputedEncodings) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xC000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7BFF);  // Below the midpoint to 65536.
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);  // The midpoint rounds to even: infinity.
  EXPECT_EQ(FloatToHalf(0.1f), 0x2E66);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);  // Smallest subnormal.
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);  // Tie to even: zero.
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3C00);      // Tie to even.
  EXPECT_EQ(FloatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // Tie to even.
  EXPECT_EQ(FloatToHalf(INFINITY), 0x7C00);
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::quiet_NaN()) & 0x7E00, 0x7E00);
}

TEST(HalfPrecisionTest, RandomFloatsRoundToTheNearestHalf) {
  std::mt19937 generator(7);
  std::uniform_real_distribution<double> exponent(-27, 16.5);
  for (int i = 0; i < 200000; ++i) {
    const float value =
        static_cast<float>(std::ldexp(1.0, 0) * std::exp2(exponent(generator)) * (i % 2 ? -1 : 1));
    EXPECT_EQ(static_cast<double>(HalfToFloat(FloatToHalf(value))), RoundToHalfReference(value))
        << "value " << value;
  }
}

TEST(HalfPrecisionTest, BFloat16HandComputedEncodings) {
  EXPECT_EQ(FloatToBFloat16(1.0f), 0x3F80);
  EXPECT_EQ(FloatToBFloat16(3.14159274f), 0x4049);
  EXPECT_EQ(FloatToBFloat16(std::bit_cast<float>(0x3F808000u)), 0x3F80);  // Tie: even.
  EXPECT_EQ(FloatToBFloat16(std::bit_cast<float>(0x3F818000u)), 0x3F82);  // Tie: even.
  EXPECT_EQ(FloatToBFloat16(std::bit_cast<float>(0x3F808001u)), 0x3F81);
  EXPECT_EQ(FloatToBFloat16(-INFINITY), 0xFF80);
  EXPECT_TRUE(std::isnan(BFloat16ToFloat(FloatToBFloat16(std::nanf("")))));
  EXPECT_EQ(BFloat16ToFloat(0x4049), 3.140625f);
}

// The F16C path and the scalar path must agree bit for bit, NaN payloads included.
TEST(HalfPrecisionTest, ArrayConversionsMatchScalarOnesBitForBit) {
  std::mt19937 generator(11);
  std::vector<float> values(100003);
  for (float& value : values) value = std::bit_cast<float>(static_cast<uint32_t>(generator()));
  std::vector<uint16_t> halves(values.size());
  FloatsToHalves(values, halves.data());
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(halves[i], FloatToHalf(values[i])) << std::bit_cast<uint32_t>(values[i]);
  }
  std::vector<float> decoded(values.size());
  HalvesToFloats(halves.data(), decoded);
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(decoded[i]), std::bit_cast<uint32_t>(HalfToFloat(halves[i])));
  }
}

}  // namespace
}  // namespace equifl::protocol
