#include "client/decision_offset_views.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

namespace equifl::client {
namespace {

// The prediction with offset δ on class c, computed sample by sample in float64
// from the probabilities: the class with the highest log p, c's raised by δ.
int64_t ShiftedArgmax(const at::Tensor& probabilities, int64_t sample, int64_t positive,
                      double offset) {
  int64_t best = 0;
  double best_score = -INFINITY;
  for (int64_t c = 0; c < probabilities.size(1); ++c) {
    const double p = std::max(probabilities[sample][c].item<double>(), 1e-45);
    const double score = std::log(p) + (c == positive ? offset : 0.0);
    if (score > best_score) {
      best_score = score;
      best = c;
    }
  }
  return best;
}

TEST(DecisionOffsetViewsTest, PredictionsAreTheShiftedArgmaxAndLossesStay) {
  torch::manual_seed(5);
  constexpr int64_t kSamples = 60;
  const at::Tensor logits = torch::randn({kSamples, 3}, torch::kDouble) * 2;
  Dataset dataset;
  dataset.label = torch::randint(0, 3, {kSamples}, torch::kLong);
  dataset.language = torch::zeros({kSamples}, torch::kLong);
  dataset.group = torch::arange(kSamples, torch::kLong).remainder(2);
  EvaluationResult fusion;
  fusion.probabilities = torch::softmax(logits, 1).to(torch::kFloat);
  fusion.predictions = logits.argmax(1);
  fusion.losses = torch::rand({kSamples}, torch::kDouble);
  const std::vector<std::string> languages = {"en"};
  const std::vector<std::string> groups = {"f", "m"};

  for (const double offset : {-1.0, 0.0, 0.75, 3.0}) {
    SCOPED_TRACE(offset);
    const at::Tensor predictions = PredictionsWithOffset(fusion.probabilities, 2, offset);
    ASSERT_EQ(predictions.size(0), kSamples);
    int64_t raised = 0;
    for (int64_t i = 0; i < kSamples; ++i) {
      EXPECT_EQ(predictions[i].item<int64_t>(), ShiftedArgmax(fusion.probabilities, i, 2, offset))
          << i;
      raised += predictions[i].item<int64_t>() == 2 ? 1 : 0;
    }
    const fairness::StatisticsTable table = DecisionOffsetViewStatistics(
        fusion, dataset, 2, offset, "fusion@offset[2]=x", languages, groups);
    int64_t counted = 0;
    for (int64_t group = 0; group < 2; ++group) {
      const at::Tensor members = dataset.group.eq(group);
      const fairness::GroupStatistics& sums =
          table.at({"en", "fusion@offset[2]=x", ""}).at(groups[group]);
      EXPECT_EQ(static_cast<int64_t>(sums.count), members.sum().item<int64_t>());
      EXPECT_NEAR(sums.loss_sum, fusion.losses.masked_select(members).sum().item<double>(), 1e-9);
      ASSERT_EQ(sums.num_classes, 3u);
      for (int64_t label = 0; label < 3; ++label) {
        for (int64_t predicted = 0; predicted < 3; ++predicted) {
          const int64_t expected = members.logical_and(dataset.label.eq(label))
                                       .logical_and(predictions.eq(predicted))
                                       .sum()
                                       .item<int64_t>();
          EXPECT_EQ(static_cast<int64_t>(sums.confusion[label * 3 + predicted]), expected);
        }
      }
      counted += static_cast<int64_t>(sums.count);
    }
    EXPECT_EQ(counted, kSamples);
    if (offset == 3.0) {
      EXPECT_GT(raised, kSamples / 2) << "a large offset predicts class 2 often";
    }
  }
  // With no offset the predictions are the model's own.
  EXPECT_TRUE(PredictionsWithOffset(fusion.probabilities, 1, 0).equal(fusion.predictions));
  // A class the model does not have gives no cells.
  EXPECT_TRUE(
      DecisionOffsetViewStatistics(fusion, dataset, 3, 1.0, "v", languages, groups).empty());
}

}  // namespace
}  // namespace equifl::client
