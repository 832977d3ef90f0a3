// A client's input as words and the server's reading of their sum: the weighted
// update, weights and statistics come back within the fixed point's bounds
// (checked against float64 sums), clamping is counted, unknown cells are refused.
#include "aggregation/secure/secure_input.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace equifl::aggregation {
namespace {

using ::equifl::test::IsOk;
using ::equifl::test::StatusIs;

SecureInputLayout TestLayout(uint64_t update_size, uint32_t clients) {
  SecureInputLayout layout;
  layout.update_size = update_size;
  layout.statistics = {{"en", "ja"}, {"fusion", "text"}, {"female", "male"}, 3};
  layout.max_clients = clients;
  layout.update_bound = 0.5;
  layout.weight_bound = 100;
  return layout;
}

TEST(SecureInputTest, TheSumOfEncodedInputsDecodesToTheSums) {
  constexpr uint32_t kClients = 7;
  constexpr size_t kValues = 1000;
  const SecureInputLayout layout = TestLayout(kValues, kClients);
  std::mt19937_64 engine(3);
  std::uniform_real_distribution<float> uniform(-0.4f, 0.4f);
  std::vector<uint32_t> sum(layout.Words(), 0);
  std::vector<double> weighted(kValues, 0);  // float64 references
  double weight = 0;
  double loss = 0;
  double squares = 0;
  uint64_t samples = 0;
  for (uint32_t client = 0; client < kClients; ++client) {
    std::vector<float> update(kValues);
    for (float& value : update) value = uniform(engine);
    SecureInput input;
    input.update = update;
    input.weight = 10.0 + client * 12;  // below weight_bound
    input.train_samples = 10 + client;
    const double loss_sum = 1.25 * (client + 1);
    input.train[{"ja", "fusion", ""}]["male"] = {
        loss_sum, 3, 3, {1, 0, 0, 0, 1, 0, 0, 0, 1}, loss_sum * loss_sum / 2};
    input.validation[{"en", "text", ""}]["female"] = {0.5, 1, 3, {0, 1, 0, 0, 0, 0, 0, 0, 0}};
    std::vector<uint32_t> words;
    absl::StatusOr<bool> clamped = EncodeSecureInput(layout, input, words);
    ASSERT_THAT(clamped, IsOk());
    EXPECT_FALSE(*clamped);
    for (size_t i = 0; i < words.size(); ++i) sum[i] += words[i];
    const double share = input.weight / layout.weight_bound;
    for (size_t i = 0; i < kValues; ++i) weighted[i] += share * update[i];
    weight += share;
    loss += loss_sum;
    squares += loss_sum * loss_sum / 2;
    samples += input.train_samples;
  }
  absl::StatusOr<SecureSum> decoded = DecodeSecureSum(layout, sum);
  ASSERT_THAT(decoded, IsOk());
  const SignedFixedPoint update_point = *SignedFixedPoint::Create(0.5, kClients);
  for (size_t i = 0; i < kValues; ++i) {
    // The fixed point's error, plus float32's rounding of the decoded sum.
    EXPECT_NEAR(decoded->weighted_update[i], weighted[i],
                kClients * update_point.max_error() + 1e-7 * std::abs(weighted[i]));
  }
  EXPECT_NEAR(decoded->weight, weight,
              kClients * SignedFixedPoint::Create(1, kClients)->max_error());
  EXPECT_EQ(decoded->train_samples, samples);
  EXPECT_EQ(decoded->clamped_clients, 0u);
  ASSERT_EQ(decoded->train.size(), 1u);
  const auto& [train_cell, train_groups] = *decoded->train.begin();
  ASSERT_EQ(train_groups.size(), 1u);
  const auto& [train_group, train] = *train_groups.begin();
  EXPECT_EQ(train_cell.language, "ja");
  EXPECT_EQ(train_group, "male");
  EXPECT_EQ(train.count, 3u * kClients);
  EXPECT_NEAR(train.loss_sum, loss, kClients * kLossSumQuantum / 2);
  EXPECT_NEAR(train.loss_square_sum, squares, kClients * kLossSumQuantum / 2);
  EXPECT_EQ(train.confusion, (std::vector<uint64_t>{7, 0, 0, 0, 7, 0, 0, 0, 7}));
  ASSERT_EQ(decoded->validation.size(), 1u);
  const auto& [validation_cell, validation_groups] = *decoded->validation.begin();
  EXPECT_EQ(validation_cell.modality, "text");
  EXPECT_EQ(validation_groups.at("female").confusion[1], kClients);
}

// Encodes `input`, expects nothing clamped, and adds its words into `sum`.
void AddEncoded(const SecureInputLayout& layout, const SecureInput& input,
                std::vector<uint32_t>& sum) {
  std::vector<uint32_t> words;
  absl::StatusOr<bool> clamped = EncodeSecureInput(layout, input, words);
  ASSERT_THAT(clamped, IsOk());
  EXPECT_FALSE(*clamped);
  for (size_t i = 0; i < words.size(); ++i) sum[i] += words[i];
}

TEST(SecureInputTest, ExactSumsRideAfterTheStatisticsAndSumToTheRoundedValues) {
  SecureInputLayout layout = TestLayout(0, 3);
  layout.exact_sums = 3;
  EXPECT_EQ(layout.Words(), TestLayout(0, 3).Words() + 3 * kExactSumLimbs);
  const std::vector<std::vector<double>> clients = {
      {120, 5e4 + 0.25, 3.5e9}, {80, -2e4 - 0.125, 1.25e9}, {1, 0.5, 0.25}};
  std::vector<uint32_t> sum(layout.Words(), 0);
  for (const std::vector<double>& moments : clients) {
    SecureInput input;
    input.exact_sums = moments;
    AddEncoded(layout, input, sum);
  }
  absl::StatusOr<SecureSum> decoded = DecodeSecureSum(layout, sum);
  ASSERT_THAT(decoded, IsOk());
  // Every value is a multiple of 2^-32: the sums are exact.
  EXPECT_EQ(decoded->exact_sums, (std::vector<double>{201, 3e4 + 0.625, 4.75e9 + 0.25}));

  SecureInput wrong;
  const std::vector<double> two = {1, 2};
  wrong.exact_sums = two;
  std::vector<uint32_t> words;
  EXPECT_THAT(EncodeSecureInput(layout, wrong, words).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "2 exact sums for a layout of 3"));
}

// Under client-level DP the statistics ride as the clients' noised dense values,
// fractional and negative, each an exact sum: 2 splits × 8 entries × (3 + 3²)
// values, summed to the 2^-32 quantum.
TEST(SecureInputTest, NoisedStatisticsRideAsExactSums) {
  SecureInputLayout layout = TestLayout(2, 3);
  layout.statistics.noised = true;
  EXPECT_EQ(layout.statistics.Values(), 2u * 2 * 2 * 12);
  EXPECT_EQ(layout.Words(), 2 + 4 + 2 * layout.statistics.Values() * kExactSumLimbs);
  std::vector<double> expected(2 * layout.statistics.Values(), 0.0);
  std::vector<uint32_t> sum(layout.Words(), 0);
  std::mt19937_64 generator(5);
  std::normal_distribution<double> noise(0, 300);
  for (int client = 0; client < 3; ++client) {
    std::vector<double> values(expected.size());
    for (size_t i = 0; i < values.size(); ++i) {
      // Multiples of 2^-32, so the sum is exact.
      values[i] = std::ldexp(std::round(std::ldexp(noise(generator), 32)), -32);
      expected[i] += values[i];
    }
    const std::vector<float> update = {0.25f, -0.25f};
    SecureInput input;
    input.update = update;
    input.noised_statistics = values;
    AddEncoded(layout, input, sum);
  }
  absl::StatusOr<SecureSum> decoded = DecodeSecureSum(layout, sum);
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->noised_statistics, expected);
  EXPECT_TRUE(decoded->train.empty());
  EXPECT_NEAR(decoded->weighted_update[0], 3 * 0.25 / 100, 1e-6);

  SecureInput missing;
  std::vector<uint32_t> words;
  const std::vector<float> update = {0, 0};
  missing.update = update;
  EXPECT_THAT(
      EncodeSecureInput(layout, missing, words).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, "0 noised statistics for a layout of 192"));
}

TEST(SecureInputTest, ClampingIsCountedOncePerClient) {
  const SecureInputLayout layout = TestLayout(3, 2);
  const std::vector<float> large = {2.0f, -3.0f, 0.1f};
  std::vector<uint32_t> sum(layout.Words(), 0);
  for (double weight : {50.0, 500.0}) {  // the second is above weight_bound
    SecureInput input;
    input.update = large;
    input.weight = weight;
    std::vector<uint32_t> words;
    EXPECT_TRUE(*EncodeSecureInput(layout, input, words));
    for (size_t i = 0; i < words.size(); ++i) sum[i] += words[i];
  }
  const SecureSum decoded = *DecodeSecureSum(layout, sum);
  EXPECT_EQ(decoded.clamped_clients, 2u);
  EXPECT_NEAR(decoded.weight, 1.5, 1e-6);  // 0.5 + min(5, 1)
  EXPECT_NEAR(decoded.weighted_update[0], 0.5 + 0.5, 1e-6);
  EXPECT_NEAR(decoded.weighted_update[2], 0.5 * 0.1 + 0.1, 1e-6);
}

TEST(SecureInputTest, RefusesCellsOutsideTheLayoutAndBadInputs) {
  const SecureInputLayout layout = TestLayout(2, 2);
  const std::vector<float> update = {0, 0};
  SecureInput input;
  input.update = update;
  input.train[{"de", "fusion", ""}]["male"] = {1, 1, 0, {}};
  std::vector<uint32_t> words;
  const absl::StatusOr<bool> unknown = EncodeSecureInput(layout, input, words);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("language 'de'"), std::string::npos);
  input.train = {{{"en", "fusion", ""}, {{"male", {1, 1, 0, {1, 2}}}}}};
  EXPECT_FALSE(EncodeSecureInput(layout, input, words).ok());
  input.train.clear();
  input.weight = 0;
  EXPECT_FALSE(EncodeSecureInput(layout, input, words).ok());
  SecureInputLayout too_many = layout;
  too_many.max_clients = 70000;
  EXPECT_FALSE(too_many.Validate().ok());
}

}  // namespace
}  // namespace equifl::aggregation
