// Federated standardisation's arithmetic: the moments' layout, their checks, and
// the standardisation of the summed moments of several clients against a
// two-pass float64 standardisation of the pooled data, written separately here.
#include "protocol/feature_moments.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace equifl::protocol {
namespace {

using ::equifl::test::IsOk;
using ::equifl::test::StatusIs;

TensorView Float32Tensor(const std::string& name, std::vector<int64_t> shape,
                         const std::vector<float>& values) {
  return {name, v1::DATA_TYPE_FLOAT32, std::move(shape), std::as_bytes(std::span(values))};
}

TEST(FeatureMomentsTest, StandardisedModalitiesAreTheShiftTensorsInModelOrder) {
  const std::vector<float> two(2), three(3), six(6);
  const std::vector<TensorView> model = {
      Float32Tensor("encoders.video.weight", {2, 3}, six),
      Float32Tensor("standardisation.video.shift", {3}, three),
      Float32Tensor("standardisation.video.scale", {3}, three),
      Float32Tensor("standardisation.tabular.shift", {2}, two),
      Float32Tensor("standardisation.tabular.scale", {2}, two),
      Float32Tensor("standardisation.wrong.shift", {2, 3}, six),  // not a vector
  };
  const std::vector<StandardisedModality> modalities = StandardisedModalities(model);
  ASSERT_EQ(modalities.size(), 2u);
  EXPECT_EQ(modalities[0].name, "video");
  EXPECT_EQ(modalities[0].features, 3u);
  EXPECT_EQ(modalities[1].name, "tabular");
  EXPECT_EQ(modalities[1].features, 2u);
  EXPECT_EQ(MomentValues(modalities), 7u + 5u);
}

TEST(FeatureMomentsTest, ImpossibleMomentsAreRefusedNamingTheModality) {
  const std::vector<StandardisedModality> modalities = {{"tabular", 1}};
  EXPECT_THAT(CheckMoments(modalities, std::vector<double>{4, 2, 2}), IsOk());
  EXPECT_THAT(CheckMoments(modalities, std::vector<double>{4, 2}),
              StatusIs(absl::StatusCode::kInvalidArgument, "need 3"));
  EXPECT_THAT(CheckMoments(modalities, std::vector<double>{2.5, 2, 2}),
              StatusIs(absl::StatusCode::kInvalidArgument, "'tabular' count 2.5"));
  EXPECT_THAT(CheckMoments(modalities, std::vector<double>{-1, 0, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, "whole number"));
  EXPECT_THAT(CheckMoments(modalities, std::vector<double>{4, NAN, 2}),
              StatusIs(absl::StatusCode::kInvalidArgument, "not finite"));
  EXPECT_THAT(CheckMoments(modalities, std::vector<double>{4, 2, -1}),
              StatusIs(absl::StatusCode::kInvalidArgument, "not finite"));
  // Four values summing to 8 have a sum of squares of at least 16.
  EXPECT_THAT(CheckMoments(modalities, std::vector<double>{4, 8, 15}),
              StatusIs(absl::StatusCode::kInvalidArgument, "impossible"));
  EXPECT_THAT(StandardisationFromMoments(modalities, std::vector<double>{4, 8, 15}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "impossible"));
}

TEST(FeatureMomentsTest, HandComputedStandardisation) {
  // Values 1, 2, 3, 6: mean 3, population variance (4 + 1 + 0 + 9) / 4 = 3.5.
  // Second feature constant 5: deviation 0, scale 1. A modality without vectors
  // keeps the identity.
  const std::vector<StandardisedModality> modalities = {{"a", 2}, {"empty", 1}};
  const std::vector<double> moments = {4, 12, 20, 1 + 4 + 9 + 36, 100, 0, 0, 0};
  absl::StatusOr<std::vector<Standardisation>> result =
      StandardisationFromMoments(modalities, moments);
  ASSERT_THAT(result, IsOk());
  ASSERT_EQ(result->size(), 2u);
  const Standardisation& a = (*result)[0];
  EXPECT_EQ(a.count, 4);
  EXPECT_DOUBLE_EQ(a.mean[0], 3);
  EXPECT_DOUBLE_EQ(a.deviation[0], std::sqrt(3.5));
  EXPECT_DOUBLE_EQ(a.mean[1], 5);
  EXPECT_EQ(a.deviation[1], 0);
  EXPECT_DOUBLE_EQ(a.Scale()[0], 1 / std::sqrt(3.5));
  EXPECT_EQ(a.Scale()[1], 1);
  const Standardisation& empty = (*result)[1];
  EXPECT_EQ(empty.mean[0], 0);
  EXPECT_EQ(empty.Scale()[0], 1);
}

// Three clients' moments, summed as the server sums them, give the pooled data's
// standardisation: the mean and deviation of a separate two-pass float64
// computation over all rows. The one-pass formula loses about
// sqrt(n)·ε64·(μ/σ)² of σ² to cancellation; with μ/σ up to 50 and n = 3,000 that
// is below 1e-10, far under float32's own resolution of the features (ε32·μ/σ).
TEST(FeatureMomentsTest, SummedClientMomentsEqualThePooledStandardisation) {
  const std::vector<double> means = {0.5, -300, 5e4};
  const std::vector<double> deviations = {2, 40, 1e3};
  const size_t features = means.size();
  std::mt19937_64 generator(11);
  std::vector<std::vector<float>> clients(3);
  const std::vector<size_t> rows = {100, 1700, 1200};
  for (size_t client = 0; client < clients.size(); ++client) {
    // Each client's data are shifted, as real clients' are.
    for (size_t row = 0; row < rows[client]; ++row) {
      for (size_t d = 0; d < features; ++d) {
        std::normal_distribution<double> draw(means[d] + deviations[d] * (client - 1.0),
                                              deviations[d]);
        clients[client].push_back(static_cast<float>(draw(generator)));
      }
    }
  }
  const std::vector<StandardisedModality> modalities = {{"tabular", features}};
  std::vector<double> summed(MomentValues(modalities), 0.0);
  for (const std::vector<float>& data : clients) {
    const size_t count = data.size() / features;
    summed[0] += static_cast<double>(count);
    for (size_t row = 0; row < count; ++row) {
      for (size_t d = 0; d < features; ++d) {
        const double x = data[row * features + d];
        summed[1 + d] += x;
        summed[1 + features + d] += x * x;
      }
    }
  }
  absl::StatusOr<std::vector<Standardisation>> result =
      StandardisationFromMoments(modalities, summed);
  ASSERT_THAT(result, IsOk());

  // The pooled reference: every row in one list, mean first, then the squared
  // deviations from it.
  std::vector<double> pooled_mean(features, 0.0), pooled_variance(features, 0.0);
  double n = 0;
  for (const std::vector<float>& data : clients) {
    for (size_t i = 0; i < data.size(); ++i) pooled_mean[i % features] += data[i];
    n += static_cast<double>(data.size() / features);
  }
  for (double& mean : pooled_mean) mean /= n;
  for (const std::vector<float>& data : clients) {
    for (size_t i = 0; i < data.size(); ++i) {
      const double centred = data[i] - pooled_mean[i % features];
      pooled_variance[i % features] += centred * centred;
    }
  }
  const Standardisation& standardisation = (*result)[0];
  EXPECT_EQ(standardisation.count, n);
  for (size_t d = 0; d < features; ++d) {
    const double deviation = std::sqrt(pooled_variance[d] / n);
    EXPECT_NEAR(standardisation.mean[d], pooled_mean[d], 1e-12 * deviation) << "feature " << d;
    EXPECT_NEAR(standardisation.deviation[d], deviation, 1e-10 * deviation) << "feature " << d;
  }
}

TEST(FeatureMomentsTest, WritesShiftAndScaleIntoTheModelOrChangesNothing) {
  std::vector<float> weight(4, 7.0f), shift(2, 0.0f), scale(2, 1.0f);
  std::vector<MutableTensorView> model = {
      {"encoders.tabular.weight",
       v1::DATA_TYPE_FLOAT32,
       {4},
       std::as_writable_bytes(std::span(weight))},
      {"standardisation.tabular.shift",
       v1::DATA_TYPE_FLOAT32,
       {2},
       std::as_writable_bytes(std::span(shift))},
      {"standardisation.tabular.scale",
       v1::DATA_TYPE_FLOAT32,
       {2},
       std::as_writable_bytes(std::span(scale))},
  };
  Standardisation tabular{"tabular", 10, {3, -1}, {2, 0}};
  ASSERT_THAT(WriteStandardisation(std::vector<Standardisation>{tabular}, model), IsOk());
  EXPECT_EQ(shift, (std::vector<float>{3, -1}));
  EXPECT_EQ(scale, (std::vector<float>{0.5f, 1}));
  EXPECT_EQ(weight, std::vector<float>(4, 7.0f));

  Standardisation other{"audio", 10, {9, 9}, {3, 3}};
  EXPECT_THAT(WriteStandardisation(std::vector<Standardisation>{tabular, other}, model),
              StatusIs(absl::StatusCode::kInvalidArgument, "standardisation.audio.shift"));
  tabular.mean = {100, 100};
  Standardisation wider{"tabular", 10, {1, 2, 3}, {1, 1, 1}};
  EXPECT_THAT(WriteStandardisation(std::vector<Standardisation>{tabular, wider}, model),
              StatusIs(absl::StatusCode::kInvalidArgument, "of 3 values"));
  EXPECT_EQ(shift, (std::vector<float>{3, -1})) << "a refused write changed the model";
}

}  // namespace
}  // namespace equifl::protocol
