// The RDP accountant against published values and an independent reference.
// Sources:
//  [Opacus]  pytorch/opacus, opacus/tests/accountants_test.py, test_rdp_accountant:
//            RDPAccountant, σ = 1.5, q = 0.04, int(90 / 0.04) = 2,250 steps,
//            δ = 1e-5: ε = 7.32911117143 (Balle et al.'s conversion; the classic
//            RDP − log δ / (α − 1) gives 8.0738).
//  [DPA]     google/differential-privacy, python/dp_accounting/dp_accounting/rdp/
//            rdp_privacy_accountant_test.py: test_compute_epsilon_delta_pure_dp and
//            test_compute_epsilon_delta_gaussian.
//  [TF-RDP]  tensorflow/models, research/differential_privacy/privacy_accountant/
//            python/rdp_accountant_test.py: test_compute_rdp (the RDP of the
//            Poisson-sampled Gaussian; its ε values use the classic conversion).
//  [TFP-WOR] tensorflow/privacy, tensorflow_privacy/privacy/analysis/
//            rdp_accountant_test.py (2022, commit 38fe4aa),
//            test_compute_rdp_sequence_without_replacement.
//  [REF]     tests/aggregation/privacy/rdp_reference.py: the Poisson RDP by numerical
//            integration, Wang et al.'s bound in 400-digit arithmetic, the conversion
//            written from the papers (run it to see every value used here).
#include "aggregation/privacy/privacy_accountant.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <tuple>

#include "tests/testing/status_matchers.h"

namespace equifl::aggregation {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

constexpr double kInfinity = std::numeric_limits<double>::infinity();

double Rdp(Sampling sampling, double q, double sigma, double order, double steps) {
  absl::StatusOr<double> rdp = SampledGaussianRdp(sampling, q, sigma, order);
  EXPECT_THAT(rdp, IsOk());
  return rdp.ok() ? *rdp * steps : NAN;
}

double PoissonRdp(double q, double sigma, double order, double steps = 1) {
  return Rdp(Sampling::kPoisson, q, sigma, order, steps);
}

double WithoutReplacementRdp(double q, double sigma, double order, double steps = 1) {
  return Rdp(Sampling::kWithoutReplacement, q, sigma, order, steps);
}

PrivacyGuarantee Epsilon(const PrivacyAccountant& accountant, double delta) {
  absl::StatusOr<PrivacyGuarantee> spent = accountant.EpsilonFor(delta);
  EXPECT_THAT(spent, IsOk());
  return spent.ok() ? *spent : PrivacyGuarantee{NAN, NAN, NAN};
}

PrivacyGuarantee Delta(const PrivacyAccountant& accountant, double epsilon) {
  absl::StatusOr<PrivacyGuarantee> spent = accountant.DeltaFor(epsilon);
  EXPECT_THAT(spent, IsOk());
  return spent.ok() ? *spent : PrivacyGuarantee{NAN, NAN, NAN};
}

TEST(PrivacyAccountantTest, EpsilonMatchesOpacus) {
  PrivacyAccountant accountant(Sampling::kPoisson);
  ASSERT_THAT(accountant.Compose(0.04, 1.5, 2250), IsOk());
  const PrivacyGuarantee spent = Epsilon(accountant, 1e-5);
  EXPECT_NEAR(spent.epsilon, 7.3291, 5e-5);         // [Opacus] to four decimals
  EXPECT_NEAR(spent.epsilon, 7.32911117143, 1e-8);  // and to its assertAlmostEqual
  EXPECT_EQ(spent.order, 3.9);                      // [REF]
  // And back: that ε costs δ = 1e-5 at the same order.
  const PrivacyGuarantee delta = Delta(accountant, 7.32911117143);
  EXPECT_NEAR(delta.delta, 1e-5, 1e-14);
  EXPECT_EQ(delta.order, 3.9);
}

TEST(PrivacyAccountantTest, ConversionMatchesDpAccounting) {
  // [DPA] test_compute_epsilon_delta_pure_dp: RDP 1.1 at orders 2..32, δ = 1e-5.
  std::vector<double> orders;
  for (int order = 2; order <= 32; ++order) orders.push_back(order);
  const std::vector<double> rdp(orders.size(), 1.1);
  absl::StatusOr<PrivacyGuarantee> spent = EpsilonFromRdp(orders, rdp, 1e-5);
  ASSERT_THAT(spent, IsOk());
  EXPECT_NEAR(spent->epsilon, 1.32783806176, 1e-10);
  EXPECT_EQ(spent->order, 32);
  absl::StatusOr<PrivacyGuarantee> delta = DeltaFromRdp(orders, rdp, 1.32783806176);
  ASSERT_THAT(delta, IsOk());
  EXPECT_NEAR(delta->delta, 1e-5, 1e-14);
  EXPECT_EQ(delta->order, 32);
}

TEST(PrivacyAccountantTest, GaussianMechanismMatchesDpAccounting) {
  // [DPA] test_compute_epsilon_delta_gaussian: orders 1.001, 1.002, ..., 99.999,
  // σ = 4.530877117 chosen to give exactly (1, 1e-6)-DP.
  std::vector<double> orders;
  for (int thousandth = 1001; thousandth < 100000; ++thousandth) {
    orders.push_back(thousandth / 1000.0);
  }
  PrivacyAccountant accountant(Sampling::kPoisson, orders);
  ASSERT_THAT(accountant.Compose(1.0, 4.530877117), IsOk());
  EXPECT_NEAR(Epsilon(accountant, 1e-6).epsilon, 1, 1e-7);
  EXPECT_NEAR(Delta(accountant, 1).delta, 1e-6, 1e-13);
}

TEST(PrivacyAccountantTest, PoissonRdpMatchesTheTensorFlowReference) {
  // [TF-RDP] test_compute_rdp: compute_rdp(0.1, 2, 10, 5) = 0.07737.
  EXPECT_NEAR(PoissonRdp(0.1, 2, 5, 10), 0.07737, 5e-6);
  // compute_rdp(0.01, 2.5, 50, [1.5, 2.5, 5, 50, 100, inf]): fractional orders go
  // through the erfc series, integer ones through the binomial sum.
  const double orders[] = {1.5, 2.5, 5, 50, 100};
  const double expected[] = {0.00065, 0.001085, 0.00218075, 0.023846, 167.416307};
  for (int index = 0; index < 5; ++index) {
    EXPECT_NEAR(PoissonRdp(0.01, 2.5, orders[index], 50), expected[index], 5e-6)
        << "order " << orders[index];
  }
  EXPECT_EQ(PoissonRdp(0.01, 2.5, kInfinity, 50), kInfinity);
}

TEST(PrivacyAccountantTest, EpsilonOfAbadiEtAlMatchesTheReference) {
  // q 0.01, σ 4, 10,000 steps, orders 2..32, δ 1e-5 ([TF-RDP] test_get_privacy_spent,
  // whose classic conversion gives 1.258575 at order 20): [REF] 1.0354900660 at 17.
  std::vector<double> orders;
  for (int order = 2; order <= 32; ++order) orders.push_back(order);
  PrivacyAccountant accountant(Sampling::kPoisson, orders);
  ASSERT_THAT(accountant.Compose(0.01, 4, 10000), IsOk());
  const PrivacyGuarantee spent = Epsilon(accountant, 1e-5);
  EXPECT_NEAR(spent.epsilon, 1.0354900660, 1e-8);
  EXPECT_EQ(spent.order, 17);
}

TEST(PrivacyAccountantTest, ComposingTwoMechanismsMatchesTheReference) {
  // (q 0.01, σ 4, 10,000 steps) then (q 0.1, σ 2, 100 steps), δ 1e-5 ([TF-RDP]
  // test_compute_privacy_loss, classically 3.276237 at order 8): [REF] 2.8245997681
  // at order 7.
  PrivacyAccountant accountant(Sampling::kPoisson,
                               {1.25, 1.5, 1.75, 2.,  2.5, 3.,  4.,  5.,  6.,  7.,  8.,
                                10.,  12., 14.,  16., 20., 24., 28., 32., 64., 256.});
  ASSERT_THAT(accountant.Compose(0.01, 4, 10000), IsOk());
  ASSERT_THAT(accountant.Compose(0.1, 2, 100), IsOk());
  EXPECT_EQ(accountant.rounds(), 10100);
  const PrivacyGuarantee spent = Epsilon(accountant, 1e-5);
  EXPECT_NEAR(spent.epsilon, 2.8245997681, 1e-8);
  EXPECT_EQ(spent.order, 7);
}

TEST(PrivacyAccountantTest, WithoutReplacementMatchesTensorFlowPrivacy) {
  // [TFP-WOR] compute_rdp_sample_without_replacement(0.01, 2.5, 50, orders), rtol
  // 1e-4 there; [REF] gives the same to ten digits.
  const double orders[] = {1.001, 1.5, 2.5, 5, 50, 100, 256, 512, 1024};
  const double published[] = {3.4701e-3, 3.4701e-3, 4.6386e-3, 8.7634e-3, 9.8474e-2,
                              1.6776e2,  7.9297e2,  1.8174e3,  3.8656e3};
  const double reference[] = {0.003470097001, 0.003470097001, 0.004638608217,
                              0.008763360519, 0.0984741503,   167.7663886,
                              792.9744274,    1817.35871,     3865.550287};
  for (int index = 0; index < 9; ++index) {
    const double rdp = WithoutReplacementRdp(0.01, 2.5, orders[index], 50);
    EXPECT_NEAR(rdp / published[index], 1, 1e-4) << "order " << orders[index];
    EXPECT_NEAR(rdp / reference[index], 1, 2e-9) << "order " << orders[index];
  }
  EXPECT_EQ(WithoutReplacementRdp(0.01, 2.5, kInfinity), kInfinity);
}

TEST(PrivacyAccountantTest, WithoutReplacementMatchesTheExactReference) {
  // [REF] one round at q 0.04 and 0.3: σ 0.5 and 0.75 take the alternating sums,
  // σ 10 the series (there the sums cancel 28 digits at order 63), σ 2 both.
  const std::tuple<double, double, double, double> cases[] = {
      {0.04, 0.5, 1.5, 1.610247819051e-01},  {0.04, 0.5, 3, 1.553564268386e+00},
      {0.04, 0.5, 7.5, 1.146947361499e+01},  {0.04, 0.5, 63, 1.227403866164e+02},
      {0.3, 0.5, 16, 3.076197215409e+01},    {0.04, 0.75, 2, 1.875641303831e-02},
      {0.04, 0.75, 7.5, 3.093782460919e+00}, {0.04, 0.75, 16, 1.083496448780e+01},
      {0.3, 0.75, 3, 1.366530275231e+00},    {0.3, 0.75, 63, 5.478778807271e+01},
      {0.04, 2, 3, 2.776716229781e-03},      {0.04, 2, 16, 1.761086536062e-02},
      {0.04, 2, 63, 4.615391329827e+00},     {0.3, 2, 7.5, 3.251160722159e-01},
      {0.3, 2, 63, 6.662788701152e+00},      {0.04, 10, 1.5, 6.431900082739e-05},
      {0.04, 10, 7.5, 2.454782598868e-04},   {0.04, 10, 16, 5.299863629907e-04},
      {0.04, 10, 63, 2.198416248399e-03},    {0.3, 10, 3, 5.493551595360e-03},
      {0.3, 10, 16, 2.986554484194e-02},     {0.3, 10, 63, 5.882188164589e-02},
  };
  for (const auto& [q, sigma, order, expected] : cases) {
    EXPECT_NEAR(WithoutReplacementRdp(q, sigma, order) / expected, 1, 1e-10)
        << "q " << q << " sigma " << sigma << " order " << order;
  }
}

TEST(PrivacyAccountantTest, WithoutReplacementIsNeverBelowPoisson) {
  // Theory: with χ_j = E[(L − 1)^j], the Poisson moment is Σ_j C(α, j) q^j χ_j and
  // Wang et al.'s bound replaces each χ_j (j >= 2) by min(4 sqrt(χ_{j−1} χ_{j+1}), 2
  // E[L^j]) (even j: 4 χ_j), which is >= χ_j by Cauchy–Schwarz and |L − 1|^j <= L^j
  // + 1; between integer orders the bound interpolates log A linearly while the
  // Poisson log A is convex. So at every q, σ and order the bound is >= Poisson.
  for (double q : {0.001, 0.04, 0.3, 0.9}) {
    for (double sigma : {0.4, 0.75, 1.5, 4.0, 12.0}) {
      for (double order : {1.5, 2.0, 2.5, 3.0, 4.7, 8.0, 16.0, 32.0, 63.0}) {
        const double poisson = PoissonRdp(q, sigma, order);
        EXPECT_GE(WithoutReplacementRdp(q, sigma, order), poisson * (1 - 1e-12))
            << "q " << q << " sigma " << sigma << " order " << order;
      }
    }
  }
  // Everybody sampled: both are the Gaussian mechanism's α / (2σ²).
  EXPECT_EQ(WithoutReplacementRdp(1, 2, 3), PoissonRdp(1, 2, 3));
}

TEST(PrivacyAccountantTest, RoundsWithoutReplacementComposeAtTheirOwnRates) {
  // Rounds at one rate add up; a new rate is not served the last rate's RDP.
  PrivacyAccountant accountant(Sampling::kWithoutReplacement, {2, 7.5, 63});
  EXPECT_EQ(accountant.sampling(), Sampling::kWithoutReplacement);
  ASSERT_THAT(accountant.Compose(0.04, 0.75), IsOk());
  ASSERT_THAT(accountant.Compose(0.04, 0.75, 2), IsOk());
  ASSERT_THAT(accountant.Compose(0.3, 0.75), IsOk());
  ASSERT_THAT(accountant.Compose(0.3, 2), IsOk());
  EXPECT_EQ(accountant.rounds(), 5);
  const double expected[] = {3 * 1.875641303831e-02 + 7.251325732962e-01 + 9.735277411258e-02,
                             3 * 3.093782460919e+00 + 5.418343305334e+00 + 3.251160722159e-01,
                             3 * 5.274038661635e+01 + 5.478778807271e+01 + 6.662788701152e+00};
  for (int index = 0; index < 3; ++index) {
    EXPECT_NEAR(accountant.rdp()[index] / expected[index], 1, 1e-10) << index;
  }
}

TEST(PrivacyAccountantTest, AccountedDpFedAvgMatchesTheReference) {
  // [REF] what equifl reports for z = 1.5, charged 0.75 against replacement, q =
  // 0.04 without replacement, 2,250 rounds, δ = 1e-5 (Poisson at 1.5: 7.3291).
  PrivacyAccountant accountant(Sampling::kWithoutReplacement);
  ASSERT_THAT(accountant.Compose(0.04, 0.75, 2250), IsOk());
  const PrivacyGuarantee spent = Epsilon(accountant, 1e-5);
  EXPECT_NEAR(spent.epsilon, 52.328560440043, 1e-8);
  EXPECT_EQ(spent.order, 2);
}

TEST(PrivacyAccountantTest, TinyLossesAreBoundedThroughTheKlDivergence) {
  // σ = 1000, q = 1: RDP α / 2e6. δ = 0.01 exceeds sqrt(1 − exp(−RDP(2))) ≈ 1e-3,
  // so ε = 0, where Balle et al.'s bound alone stays above 0.03 for orders <= 20;
  // and δ at ε = 0 is that 1e-3, not the 0.019 of their bound.
  std::vector<double> orders;
  for (int order = 2; order <= 20; ++order) orders.push_back(order);
  PrivacyAccountant accountant(Sampling::kPoisson, orders);
  ASSERT_THAT(accountant.Compose(1.0, 1000), IsOk());
  EXPECT_EQ(Epsilon(accountant, 0.01).epsilon, 0);
  const PrivacyGuarantee delta = Delta(accountant, 0);
  EXPECT_NEAR(delta.delta, std::sqrt(-std::expm1(-1e-6)), 1e-15);
  EXPECT_EQ(delta.order, 2);
}

TEST(PrivacyAccountantTest, EdgeCasesAndErrors) {
  for (Sampling sampling : {Sampling::kPoisson, Sampling::kWithoutReplacement}) {
    EXPECT_EQ(Rdp(sampling, 0, 1, 2, 1), 0.0);                     // nobody sampled: no loss
    EXPECT_NEAR(Rdp(sampling, 1, 2, 3, 1), 3.0 / (2 * 4), 1e-15);  // the plain Gaussian
    // More noise, less loss.
    EXPECT_LT(Rdp(sampling, 0.1, 4, 8, 1), Rdp(sampling, 0.1, 2, 8, 1));
    EXPECT_THAT(SampledGaussianRdp(sampling, 1.5, 1, 2).status().message(),
                HasSubstr("sampling rate 1.5"));
    EXPECT_THAT(SampledGaussianRdp(sampling, 0.1, 0, 2).status().message(),
                HasSubstr("noise multiplier 0 must be positive"));
    EXPECT_THAT(SampledGaussianRdp(sampling, 0.1, 1, 1).status().message(),
                HasSubstr("orders must be > 1"));
  }
  EXPECT_EQ(WithoutReplacementRdp(0.5, 1e-200, 2), kInfinity);  // no noise to speak of
  EXPECT_EQ(SamplingName(Sampling::kWithoutReplacement), "without replacement");
  PrivacyAccountant accountant(Sampling::kWithoutReplacement);
  EXPECT_THAT(accountant.EpsilonFor(0).status().message(), HasSubstr("delta 0 must be in (0, 1)"));
  EXPECT_THAT(accountant.DeltaFor(-1).status().message(), HasSubstr("epsilon -1 must be >= 0"));
  EXPECT_THAT(accountant.Compose(0.1, -1).message(), HasSubstr("noise multiplier -1"));
  EXPECT_EQ(accountant.rounds(), 0);  // a refused composition adds nothing
  const std::vector<double> orders = {2, 3};
  const std::vector<double> rdp = {1};
  EXPECT_THAT(EpsilonFromRdp(orders, rdp, 1e-5).status().message(),
              HasSubstr("2 RDP orders but 1 RDP values"));
}

}  // namespace
}  // namespace equifl::aggregation
