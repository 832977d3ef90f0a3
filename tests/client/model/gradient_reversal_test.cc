// The gradient-reversal layer: identity forward, gradient times -lambda backward.
#include "client/model/gradient_reversal.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace equifl::client {
namespace {

// d/dx of sum(f(x) * w) for f the identity, or the reversal with `lambda`.
at::Tensor GradientThrough(const at::Tensor& x, const at::Tensor& w, bool reverse, double lambda) {
  const at::Tensor input = x.clone().requires_grad_(true);
  const at::Tensor output = reverse ? ReverseGradient(input, lambda) : input;
  // A non-linear loss, so the upstream gradient differs per element.
  (output.square() * w).sum().backward();
  return input.grad();
}

TEST(GradientReversalTest, ForwardIsTheIdentity) {
  const at::Tensor x = torch::randn({3, 4});
  EXPECT_TRUE(torch::equal(ReverseGradient(x, 0.7), x));
}

TEST(GradientReversalTest, BackwardFlipsAndScalesTheGradient) {
  torch::manual_seed(11);
  const at::Tensor x = torch::randn({5, 3}, torch::kDouble);
  const at::Tensor w = torch::randn({5, 3}, torch::kDouble);
  const at::Tensor identity = GradientThrough(x, w, /*reverse=*/false, 0.0);
  for (double lambda : {0.0, 0.1, 1.0, 2.5}) {
    const at::Tensor reversed = GradientThrough(x, w, /*reverse=*/true, lambda);
    EXPECT_TRUE(torch::allclose(reversed, -lambda * identity, 1e-12, 1e-12)) << lambda;
  }
  // Not the identity's gradient, so the comparison above can fail.
  EXPECT_FALSE(torch::allclose(GradientThrough(x, w, true, 1.0), identity));
}

TEST(GradientReversalTest, OnlyTheBranchBehindItIsReversed) {
  // y = x + R(x): the direct path contributes +1, the reversed one -lambda.
  const at::Tensor x = torch::randn({4}, torch::kDouble).requires_grad_(true);
  (x + ReverseGradient(x, 0.25)).sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad(), torch::full({4}, 0.75, torch::kDouble)));
}

}  // namespace
}  // namespace equifl::client
