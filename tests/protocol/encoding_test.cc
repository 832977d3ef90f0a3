#include "protocol/encoding.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace equifl::protocol {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

std::vector<float> Decode(const std::string& data, v1::Encoding encoding, float scale,
                          size_t count) {
  std::vector<float> values(count);
  DecodeFloat32(std::as_bytes(std::span(data)), encoding, scale, values);
  return values;
}

TEST(EncodingTest, ParsesShortAndLongNames) {
  EXPECT_EQ(*ParseEncoding("fp16"), v1::ENCODING_FLOAT16);
  EXPECT_EQ(*ParseEncoding("bfloat16"), v1::ENCODING_BFLOAT16);
  EXPECT_EQ(EncodingName(v1::ENCODING_INT8), "int8");
  absl::StatusOr<v1::Encoding> unknown = ParseEncoding("fp8");
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("fp32, fp16, bf16, int8"));
}

TEST(EncodingTest, Int8HandComputedChunk) {
  // max |x| = 2.54, so s = 0.02 and q = round(x / 0.02).
  const std::vector<float> values = {2.54f, -1.0f, 0.011f, -0.009f, 0.0f};
  std::string data;
  float scale = 0;
  ASSERT_THAT(EncodeFloat32(values, v1::ENCODING_INT8, data, scale), IsOk());
  EXPECT_FLOAT_EQ(scale, 0.02f);
  const auto* q = reinterpret_cast<const int8_t*>(data.data());
  EXPECT_EQ(q[0], 127);
  EXPECT_EQ(q[1], -50);
  EXPECT_EQ(q[2], 1);  // 0.55 rounds up.
  EXPECT_EQ(q[3], 0);  // -0.45 rounds to zero.
  EXPECT_EQ(q[4], 0);
}

TEST(EncodingTest, Int8AllZeroChunkHasZeroScale) {
  std::string data;
  float scale = 1;
  ASSERT_THAT(EncodeFloat32(std::vector<float>(10, 0.0f), v1::ENCODING_INT8, data, scale), IsOk());
  EXPECT_EQ(scale, 0.0f);
  EXPECT_EQ(Decode(data, v1::ENCODING_INT8, scale, 10), std::vector<float>(10, 0.0f));
}

// Each lossy encoding against a float64 reference of its documented bound, over
// values spanning many magnitudes.
TEST(EncodingTest, LossyEncodingsStayWithinTheirDocumentedBounds) {
  std::mt19937 generator(3);
  std::uniform_real_distribution<double> exponent(-30, 15.9);
  std::vector<float> values(50000);
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<float>(std::exp2(exponent(generator)) * (i % 3 ? 1 : -1));
  }
  double max_magnitude = 0;
  for (float value : values) max_magnitude = std::max(max_magnitude, std::fabs(double{value}));

  for (v1::Encoding encoding : {v1::ENCODING_FLOAT16, v1::ENCODING_BFLOAT16, v1::ENCODING_INT8}) {
    std::string data;
    float scale = 0;
    ASSERT_THAT(EncodeFloat32(values, encoding, data, scale), IsOk());
    ASSERT_EQ(data.size(), values.size() * EncodedElementSize(encoding));
    const std::vector<float> decoded = Decode(data, encoding, scale, values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      const double x = values[i];
      const double error = std::fabs(double{decoded[i]} - x);
      double bound = 0;
      if (encoding == v1::ENCODING_FLOAT16) {
        bound = std::fabs(x) >= std::ldexp(1.0, -14) ? std::fabs(x) * std::ldexp(1.0, -11)
                                                     : std::ldexp(1.0, -25);
      } else if (encoding == v1::ENCODING_BFLOAT16) {
        bound = std::fabs(x) * std::ldexp(1.0, -8);
      } else {
        bound = max_magnitude / 127 * (0.5 + std::ldexp(1.0, -14));
      }
      ASSERT_LE(error, bound) << EncodingName(encoding) << " value " << x;
    }
  }
}

TEST(EncodingTest, Float32IsExactForEveryBitPattern) {
  std::mt19937 generator(5);
  std::vector<float> values(4096);
  for (float& value : values) value = std::bit_cast<float>(static_cast<uint32_t>(generator()));
  std::string data;
  float scale = 0;
  ASSERT_THAT(EncodeFloat32(values, v1::ENCODING_FLOAT32, data, scale), IsOk());
  const std::vector<float> decoded = Decode(data, v1::ENCODING_FLOAT32, 0, values.size());
  EXPECT_EQ(std::memcmp(decoded.data(), values.data(), values.size() * 4), 0);
}

TEST(EncodingTest, Float16RefusesFiniteValuesBeyondItsRange) {
  std::string data;
  float scale = 0;
  absl::Status status =
      EncodeFloat32(std::vector<float>{1.0f, 70000.0f}, v1::ENCODING_FLOAT16, data, scale);
  EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(status.message(), HasSubstr("70000"));
  EXPECT_THAT(status.message(), HasSubstr("bf16"));
  // 65504 is the largest half; infinity stays infinity as in float32.
  EXPECT_THAT(
      EncodeFloat32(std::vector<float>{65504.0f, INFINITY}, v1::ENCODING_FLOAT16, data, scale),
      IsOk());
}

TEST(EncodingTest, BFloat16RefusesValuesThatWouldRoundToInfinity) {
  std::string data;
  float scale = 0;
  EXPECT_EQ(EncodeFloat32(std::vector<float>{std::numeric_limits<float>::max()},
                          v1::ENCODING_BFLOAT16, data, scale)
                .code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_THAT(EncodeFloat32(std::vector<float>{3.0e38f}, v1::ENCODING_BFLOAT16, data, scale),
              IsOk());
}

TEST(EncodingTest, Int8RefusesNonFiniteValues) {
  std::string data;
  float scale = 0;
  for (float bad : {INFINITY, -INFINITY, std::nanf("")}) {
    absl::Status status =
        EncodeFloat32(std::vector<float>{1.0f, bad}, v1::ENCODING_INT8, data, scale);
    EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange) << bad;
    EXPECT_THAT(status.message(), HasSubstr("finite"));
  }
}

}  // namespace
}  // namespace equifl::protocol
