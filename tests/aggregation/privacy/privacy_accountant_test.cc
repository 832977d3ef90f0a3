// The RDP accountant against published reference values. Sources:
//  [TF-RDP] tensorflow/models, research/differential_privacy/privacy_accountant/
//           python/rdp_accountant_test.py (the RDP accountant of Mironov, Talwar and
//           Zhang 2019): test_compute_rdp, test_get_privacy_spent (the example of
//           Abadi et al., CCS 2016: q = 0.01, σ = 4, 10,000 steps, δ = 1e-5) and
//           test_compute_privacy_loss.
//  [TFP-README] tensorflow/privacy, tutorials/README.md, "Select Parameters": DP-SGD
//           on MNIST, 60,000 examples, batches of 256, δ = 1e-5. (Its third row,
//           σ = 0.6 for 30 epochs, reads 9.74; this accountant and the orders it
//           names give 9.753, so that row is not used.)
#include "aggregation/privacy/privacy_accountant.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/testing/status_matchers.h"

namespace equifl::aggregation {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

constexpr double kInfinity = std::numeric_limits<double>::infinity();

double Rdp(double q, double sigma, double order, double steps) {
  absl::StatusOr<double> rdp = SampledGaussianRdp(q, sigma, order);
  EXPECT_THAT(rdp, IsOk());
  return rdp.ok() ? *rdp * steps : NAN;
}

TEST(PrivacyAccountantTest, RdpMatchesTheTensorFlowReference) {
  // [TF-RDP] test_compute_rdp: compute_rdp(0.1, 2, 10, 5) = 0.07737.
  EXPECT_NEAR(Rdp(0.1, 2, 5, 10), 0.07737, 5e-6);
  // compute_rdp(0.01, 2.5, 50, [1.5, 2.5, 5, 50, 100, inf]): fractional orders go
  // through the erfc series, integer ones through the binomial sum.
  const double orders[] = {1.5, 2.5, 5, 50, 100};
  const double expected[] = {0.00065, 0.001085, 0.00218075, 0.023846, 167.416307};
  for (int index = 0; index < 5; ++index) {
    EXPECT_NEAR(Rdp(0.01, 2.5, orders[index], 50), expected[index], 5e-6)
        << "order " << orders[index];
  }
  EXPECT_EQ(Rdp(0.01, 2.5, kInfinity, 50), kInfinity);
}

TEST(PrivacyAccountantTest, EpsilonOfAbadiEtAlMatchesTheReference) {
  // [TF-RDP] test_get_privacy_spent: orders 2..32, q 0.01, σ 4, 10,000 steps.
  std::vector<double> orders;
  for (int order = 2; order <= 32; ++order) orders.push_back(order);
  PrivacyAccountant accountant(orders);
  ASSERT_THAT(accountant.Compose(0.01, 4, 10000), IsOk());
  absl::StatusOr<PrivacyGuarantee> spent = accountant.EpsilonFor(1e-5);
  ASSERT_THAT(spent, IsOk());
  EXPECT_NEAR(spent->epsilon, 1.258575, 5e-6);
  EXPECT_EQ(spent->order, 20);
  // And back: ε = 1.258575 costs δ = 1e-5.
  absl::StatusOr<PrivacyGuarantee> delta = accountant.DeltaFor(1.258575);
  ASSERT_THAT(delta, IsOk());
  EXPECT_NEAR(delta->delta, 1e-5, 5e-8);
}

TEST(PrivacyAccountantTest, ComposingTwoMechanismsMatchesTheReference) {
  // [TF-RDP] test_compute_privacy_loss: (q 0.01, σ 4, 10,000 steps) then
  // (q 0.1, σ 2, 100 steps), δ 1e-5: ε = 3.276237 at order 8.
  PrivacyAccountant accountant({1.25, 1.5, 1.75, 2.,  2.5, 3.,  4.,  5.,  6.,  7.,  8.,
                                10.,  12., 14.,  16., 20., 24., 28., 32., 64., 256.});
  ASSERT_THAT(accountant.Compose(0.01, 4, 10000), IsOk());
  ASSERT_THAT(accountant.Compose(0.1, 2, 100), IsOk());
  EXPECT_EQ(accountant.rounds(), 10100);
  absl::StatusOr<PrivacyGuarantee> spent = accountant.EpsilonFor(1e-5);
  ASSERT_THAT(spent, IsOk());
  EXPECT_NEAR(spent->epsilon, 3.276237, 5e-6);
  EXPECT_EQ(spent->order, 8);
}

TEST(PrivacyAccountantTest, DpSgdOnMnistMatchesThePublishedTable) {
  // [TFP-README] with the default orders: σ 1.12 for 60 epochs gives 2.92, σ 1.2
  // for 10 epochs 1.20 (steps = epochs · 60000 / 256, rounded down).
  const double q = 256.0 / 60000;
  for (const auto& [sigma, epochs, published] :
       {std::tuple{1.12, 60, 2.92}, std::tuple{1.2, 10, 1.20}}) {
    PrivacyAccountant accountant;
    ASSERT_THAT(accountant.Compose(q, sigma, epochs * 60000 / 256), IsOk());
    absl::StatusOr<PrivacyGuarantee> spent = accountant.EpsilonFor(1e-5);
    ASSERT_THAT(spent, IsOk());
    EXPECT_NEAR(spent->epsilon, published, 0.005) << "sigma " << sigma;
  }
}

TEST(PrivacyAccountantTest, EdgeCasesAndErrors) {
  EXPECT_EQ(Rdp(0, 1, 2, 1), 0.0);                     // nobody sampled: no loss
  EXPECT_NEAR(Rdp(1, 2, 3, 1), 3.0 / (2 * 4), 1e-15);  // the plain Gaussian: α / 2σ²
  // More noise, less loss; more rounds, more loss.
  EXPECT_LT(Rdp(0.1, 4, 8, 1), Rdp(0.1, 2, 8, 1));
  EXPECT_THAT(SampledGaussianRdp(1.5, 1, 2).status().message(), HasSubstr("sampling rate 1.5"));
  EXPECT_THAT(SampledGaussianRdp(0.1, 0, 2).status().message(),
              HasSubstr("noise multiplier 0 must be positive"));
  EXPECT_THAT(SampledGaussianRdp(0.1, 1, 1).status().message(), HasSubstr("orders must be > 1"));
  PrivacyAccountant accountant;
  EXPECT_THAT(accountant.EpsilonFor(0).status().message(), HasSubstr("delta 0 must be in (0, 1)"));
  EXPECT_THAT(accountant.Compose(0.1, -1).message(), HasSubstr("noise multiplier -1"));
  EXPECT_EQ(accountant.rounds(), 0);  // a refused composition adds nothing
}

}  // namespace
}  // namespace equifl::aggregation
