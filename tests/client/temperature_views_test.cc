#include "client/temperature_views.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

namespace equifl::client {
namespace {

// The losses at temperature T from the probabilities equal the cross-entropy of
// the logits divided by T, computed independently from the logits in float64.
TEST(TemperatureViewsTest, LossesAreTheCrossEntropyOfTheScaledLogits) {
  torch::manual_seed(11);
  constexpr int64_t kSamples = 40;
  const at::Tensor logits = torch::randn({kSamples, 4}, torch::kDouble) * 3;
  Dataset dataset;
  dataset.label = torch::randint(0, 4, {kSamples}, torch::kLong);
  dataset.language = torch::arange(kSamples, torch::kLong).remainder(2);
  dataset.group = torch::arange(kSamples, torch::kLong).floor_divide(2).remainder(2);
  EvaluationResult fusion;
  fusion.probabilities = torch::softmax(logits, 1).to(torch::kFloat);
  fusion.predictions = logits.argmax(1);
  const std::vector<std::string> languages = {"en", "de"};
  const std::vector<std::string> groups = {"f", "m"};

  for (const double temperature : {0.5, 1.0, 2.5}) {
    SCOPED_TRACE(temperature);
    const fairness::StatisticsTable table =
        TemperatureViewStatistics(fusion, dataset, temperature, "fusion@T=x", languages, groups);
    const at::Tensor expected = torch::nn::functional::cross_entropy(
        logits / temperature, dataset.label,
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    int64_t counted = 0;
    for (int64_t language = 0; language < 2; ++language) {
      for (int64_t group = 0; group < 2; ++group) {
        const at::Tensor members =
            dataset.language.eq(language).logical_and(dataset.group.eq(group));
        const fairness::GroupStatistics& sums =
            table.at({languages[language], "fusion@T=x", ""}).at(groups[group]);
        EXPECT_EQ(static_cast<int64_t>(sums.count), members.sum().item<int64_t>());
        EXPECT_NEAR(sums.loss_sum, expected.masked_select(members).sum().item<double>(), 1e-4);
        EXPECT_NEAR(sums.loss_square_sum,
                    expected.masked_select(members).square().sum().item<double>(), 1e-3);
        // Predictions, so confusion counts, are the fusion view's.
        uint64_t right = 0;
        for (uint32_t c = 0; c < sums.num_classes; ++c) right += sums.confusion[c * 4 + c];
        EXPECT_EQ(static_cast<int64_t>(right),
                  fusion.predictions.eq(dataset.label).logical_and(members).sum().item<int64_t>());
        counted += static_cast<int64_t>(sums.count);
      }
    }
    EXPECT_EQ(counted, kSamples);
  }

  // A label whose probability underflowed to 0 gets a large but finite loss.
  fusion.probabilities = torch::tensor({{1.0f, 0.0f}});
  fusion.predictions = torch::tensor({0}, torch::kLong);
  dataset.label = torch::tensor({1}, torch::kLong);
  dataset.language = torch::tensor({0}, torch::kLong);
  dataset.group = torch::tensor({0}, torch::kLong);
  const fairness::StatisticsTable underflow =
      TemperatureViewStatistics(fusion, dataset, 2.0, "fusion@T=2", languages, groups);
  const double loss = underflow.at({"en", "fusion@T=2", ""}).at("f").loss_sum;
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_NEAR(loss, -std::log(1e-45) / 2, 1e-3);
}

}  // namespace
}  // namespace equifl::client
