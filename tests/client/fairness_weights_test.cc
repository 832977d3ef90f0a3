#include "client/fairness_weights.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "client/local_trainer.h"
#include "fairness/minmax_gap.h"

namespace equifl::client {
namespace {

Dataset WithGroups(std::vector<int64_t> languages, std::vector<int64_t> groups) {
  Dataset dataset;
  dataset.language = torch::tensor(languages, torch::kLong);
  dataset.group = torch::tensor(groups, torch::kLong);
  dataset.label = torch::zeros({static_cast<int64_t>(groups.size())}, torch::kLong);
  return dataset;
}

TEST(FairnessWeightsTest, DirectiveWeightsFollowLanguageAndGroup) {
  fairness::FairnessDirective directive;
  directive.weights = {{{"en", "fusion", ""}, "f", 2.5},
                       {{"de", "fusion", ""}, "m", -1.0},
                       {{"en", "video", ""}, "f", 9.0}};
  const Dataset dataset = WithGroups({0, 0, 1, 1, 2}, {0, 1, 0, 1, 0});
  const at::Tensor weights =
      DirectiveSampleWeights(directive, dataset, {"en", "de"}, {"f", "m"}, "fusion");
  // Language 2 has no name and is named "2", which the directive does not list.
  EXPECT_TRUE(torch::equal(weights, torch::tensor({2.5, 0.0, 0.0, -1.0, 0.0}, torch::kDouble)));
  const at::Tensor video =
      DirectiveSampleWeights(directive, dataset, {"en", "de"}, {"f", "m"}, "video");
  EXPECT_TRUE(torch::equal(video, torch::tensor({9.0, 0.0, 0.0, 0.0, 0.0}, torch::kDouble)));
  EXPECT_EQ(DirectiveSampleWeights({}, dataset, {}, {}, "fusion").count_nonzero().item<int64_t>(),
            0);
}

TEST(FairnessWeightsTest, BalancedWeightsByHand) {
  // N = 4, groups 0,0,0,2 (group 1 absent, so G = 2): 4/(2·3) and 4/(2·1).
  const at::Tensor weights = BalancedSampleWeights(WithGroups({0, 0, 0, 0}, {0, 0, 0, 2}));
  EXPECT_TRUE(torch::allclose(weights, torch::tensor({2.0f / 3, 2.0f / 3, 2.0f / 3, 2.0f})));
  EXPECT_NEAR(weights.mean().item<double>(), 1.0, 1e-6);
  EXPECT_EQ(BalancedSampleWeights(WithGroups({}, {})).numel(), 0);
}

TEST(FairnessWeightsTest, GroupDroWeightsAreCappedAndRenormalisedByHand) {
  // s = (0.5, 1, 1, 7.5), cap 5: c = (0.5, 1, 1, 5), total 7.5, v = c·4/7.5.
  CappedSampleWeights capped =
      CapAndRenormalise(torch::tensor({0.5, 1.0, 1.0, 7.5}, torch::kDouble), 5.0);
  EXPECT_DOUBLE_EQ(capped.total, 7.5);
  EXPECT_TRUE(torch::allclose(capped.loss_weights,
                              torch::tensor({0.5f, 1.0f, 1.0f, 5.0f}) * (4.0f / 7.5f)));
  EXPECT_FALSE(capped.draw_weights.defined());

  // s = (0.1, 0.1, 0.1, 4), cap 2: c = (0.1, 0.1, 0.1, 2), total 2.3, v = c·4/2.3,
  // whose last entry 3.478 > 2: drawn ∝ d = (1, 1, 1, 1.739) and weighted
  // u = v/d·mean(d), so that Σ_i d_i/Σd · u_i = mean(v) = 1.
  capped = CapAndRenormalise(torch::tensor({0.1, 0.1, 0.1, 4.0}, torch::kDouble), 2.0);
  EXPECT_DOUBLE_EQ(capped.total, 2.3);
  const double v_small = 0.1 * 4 / 2.3;
  const double v_large = 2.0 * 4 / 2.3;
  const double d_large = v_large / 2.0;
  const double mean_draw = (3 + d_large) / 4;
  ASSERT_TRUE(capped.draw_weights.defined());
  EXPECT_TRUE(
      torch::allclose(capped.draw_weights, torch::tensor({1.0, 1.0, 1.0, d_large}, torch::kFloat)));
  EXPECT_TRUE(
      torch::allclose(capped.loss_weights, torch::tensor({v_small * mean_draw, v_small * mean_draw,
                                                          v_small * mean_draw, 2.0 * mean_draw},
                                                         torch::kFloat)));
  const at::Tensor draw_probability = capped.draw_weights / capped.draw_weights.sum();
  EXPECT_NEAR((draw_probability * capped.loss_weights).sum().item<double>(), 1.0, 1e-6);

  // Negative weights read as 0; all-zero weights train as plain ERM.
  capped = CapAndRenormalise(torch::tensor({-1.0, 3.0}, torch::kDouble), 5.0);
  EXPECT_TRUE(torch::allclose(capped.loss_weights, torch::tensor({0.0f, 2.0f})));
  capped = CapAndRenormalise(torch::zeros({3}, torch::kDouble), 5.0);
  EXPECT_TRUE(torch::equal(capped.loss_weights, torch::ones({3})));
  EXPECT_DOUBLE_EQ(capped.total, 3.0);
}

// The acceptance check of the fairness engine: on one batch, the gradient of the
// client's weighted loss mean_i (1 + weight(c_i, g_i))·ℓ_i, with the directive's
// weights computed from the batch's own group losses (held fixed), equals the
// gradient of L_ERM + λ·G_τ^p written out directly and differentiated by autograd.
TEST(FairnessWeightsTest, WeightedLossGradientIsTheObjectiveGradient) {
  torch::manual_seed(7);
  constexpr int64_t kSamples = 48;
  const at::Tensor features = torch::randn({kSamples, 5}, torch::kDouble);
  const at::Tensor labels = torch::randint(0, 3, {kSamples}, torch::kLong);
  const std::vector<std::string> languages = {"en", "de"};
  const std::vector<std::string> groups = {"f", "m", "x"};
  Dataset dataset = WithGroups({}, {});
  dataset.language = torch::arange(kSamples, torch::kLong).remainder(2);
  dataset.group = torch::arange(kSamples, torch::kLong).floor_divide(2).remainder(3);
  dataset.label = labels;
  torch::nn::Linear model(5, 3);
  model->to(torch::kDouble);

  constexpr double kLambda = 3.0;
  fairness::MinMaxGapOptions options;
  options.gap_exponent = 2.0;
  options.temperature = 0.05;
  options.up_weight_only = false;  // The objective's own gradient is signed.

  // Direct objective: group means, per-cell gap as max − min, soft maximum.
  const at::Tensor losses = torch::nn::functional::cross_entropy(
      model(features), labels,
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  std::vector<at::Tensor> gaps;
  fairness::StatisticsTable table;
  for (int64_t language = 0; language < 2; ++language) {
    std::vector<at::Tensor> means;
    for (int64_t group = 0; group < 3; ++group) {
      const at::Tensor in_cell = dataset.language.eq(language).logical_and(dataset.group.eq(group));
      const at::Tensor cell_losses = losses.masked_select(in_cell);
      means.push_back(cell_losses.mean());
      fairness::GroupStatistics& statistics =
          table[fairness::Cell{languages[language], "fusion", ""}][groups[group]];
      statistics.loss_sum = cell_losses.sum().item<double>();
      statistics.count = static_cast<uint64_t>(cell_losses.numel());
    }
    const at::Tensor stacked = torch::stack(means);
    gaps.push_back(stacked.max() - stacked.min());
  }
  const at::Tensor soft_gap =
      options.temperature * torch::logsumexp(torch::stack(gaps) / options.temperature, 0);
  const at::Tensor objective = losses.mean() + kLambda * soft_gap.pow(options.gap_exponent);
  model->zero_grad();
  objective.backward();
  const at::Tensor expected_weight = model->weight.grad().clone();
  const at::Tensor expected_bias = model->bias.grad().clone();
  EXPECT_NEAR(fairness::SoftMaxGap(table, options.temperature), soft_gap.item<double>(), 1e-12);

  // The client's side: the directive's weights and the ordinary weighted loss.
  const fairness::FairnessDirective directive = fairness::ComputeDirective(table, kLambda, options);
  ASSERT_EQ(directive.weights.size(), 4u);  // Worst and best group of both cells.
  const at::Tensor weights =
      DirectiveSampleWeights(directive, dataset, languages, groups, "fusion") + 1;
  model->zero_grad();
  WeightedTaskLoss(model(features), labels, weights).backward();
  EXPECT_TRUE(torch::allclose(model->weight.grad(), expected_weight, 1e-10, 1e-12))
      << model->weight.grad() << "\nexpected\n"
      << expected_weight;
  EXPECT_TRUE(torch::allclose(model->bias.grad(), expected_bias, 1e-10, 1e-12));

  // Plain ERM's gradient differs, so the comparison above can fail.
  model->zero_grad();
  WeightedTaskLoss(model(features), labels, at::Tensor()).backward();
  EXPECT_FALSE(torch::allclose(model->weight.grad(), expected_weight, 1e-6, 1e-8));
}

}  // namespace
}  // namespace equifl::client
