// Rényi differential privacy (RDP) accounting for the sampled Gaussian mechanism:
// each round a random sample of the clients takes part and the sum of their
// clipped updates gets Gaussian noise of standard deviation σ times the sum's L2
// sensitivity (σ the noise multiplier). The accountant adds up the RDP of every
// round at a set of orders α and converts the total to an (ε, δ) guarantee.
//
// Two samplings, each with its own neighbouring relation and bound:
//  - Poisson: every client takes part independently with probability q;
//    neighbours differ by one client added or removed. The RDP is exact:
//    log(A_α)/(α − 1), A_α the α-th moment of the mixture's privacy loss (Mironov,
//    Talwar and Zhang, "Rényi Differential Privacy of the Sampled Gaussian
//    Mechanism", 2019): a binomial sum for integer α, an erfc series otherwise.
//  - Without replacement: a uniformly random m of the n clients, q = m / n;
//    neighbours differ by one client's data REPLACED by another's (n is public).
//    The RDP is the upper bound of Wang, Balle and Kasiviswanathan ("Subsampled
//    Rényi Differential Privacy and Analytical Moments Accountant", AISTATS 2019,
//    arXiv:1808.00087 Theorem 27), as TF Privacy and dp_accounting compute it
//    (dp_accounting/rdp/rdp_privacy_accountant.py, _compute_rdp_sample_wor_gaussian):
//    exact terms up to order 256, the cruder 2·E[L^j] terms above, and log A
//    interpolated linearly between integer orders. Under replacement the L2
//    sensitivity of a sum of updates clipped to C is 2C, so σ is relative to that.
//
// The conversion to (ε, δ) is Balle et al., "Hypothesis Testing Interpretations
// and Rényi Differential Privacy" (AISTATS 2020, arXiv:1905.09982 Theorem 21), as
// Opacus (opacus/accountants/analysis/rdp.py, get_privacy_spent) and dp_accounting
// (compute_epsilon, compute_delta) use it: ε = RDP(α) + log((α − 1)/α) −
// (log δ + log α)/(α − 1), minimised over the orders; with dp_accounting's two
// refinements, ε = 0 once δ ≥ sqrt(1 − exp(−RDP)) (the KL divergence bounds the
// total variation) and ε never below 0. Plain C++ with no dependency but Abseil.
#ifndef EQUIFL_AGGREGATION_PRIVACY_PRIVACY_ACCOUNTANT_H_
#define EQUIFL_AGGREGATION_PRIVACY_PRIVACY_ACCOUNTANT_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace equifl::aggregation {

//! How each round's participants are drawn (see the file comment).
enum class Sampling {
  kPoisson,             //!< Each independently with probability q; add/remove one.
  kWithoutReplacement,  //!< A uniform sample of m of n, q = m / n; replace one.
};

//! A short name for logs: "Poisson" or "without replacement".
std::string_view SamplingName(Sampling sampling);

//! The RDP at order `order` (> 1, may be fractional or infinite) of one round of
//! the Gaussian mechanism with noise multiplier `noise_multiplier` (> 0) applied
//! to a Poisson sample of rate `sampling_rate` (in [0, 1]); exact.
absl::StatusOr<double> PoissonSampledGaussianRdp(double sampling_rate, double noise_multiplier,
                                                 double order);

//! The same for a sample of m of n clients drawn without replacement,
//! `sampling_rate` = m / n, under the replace-one relation, `noise_multiplier`
//! relative to the sensitivity under replacement; an upper bound that is never
//! below the Poisson RDP at the same rate and multiplier.
absl::StatusOr<double> WithoutReplacementSampledGaussianRdp(double sampling_rate,
                                                            double noise_multiplier, double order);

//! The RDP of one round sampled by `sampling`.
absl::StatusOr<double> SampledGaussianRdp(Sampling sampling, double sampling_rate,
                                          double noise_multiplier, double order);

//! An (ε, δ) guarantee and the RDP order that gave it.
struct PrivacyGuarantee {
  double epsilon = 0;
  double delta = 0;
  double order = 0;
};

//! The smallest ε over `orders` (each > 1) with RDP `rdp` for `delta` in (0, 1),
//! by Balle et al.'s conversion (see the file comment).
absl::StatusOr<PrivacyGuarantee> EpsilonFromRdp(std::span<const double> orders,
                                                std::span<const double> rdp, double delta);

//! The smallest δ (at most 1) for `epsilon` >= 0, by the same conversion and the
//! KL bound δ <= sqrt(1 − exp(−RDP)).
absl::StatusOr<PrivacyGuarantee> DeltaFromRdp(std::span<const double> orders,
                                              std::span<const double> rdp, double epsilon);

class PrivacyAccountant {
 public:
  //! Orders 1.1, 1.2, ..., 10.9 and 12, 13, ..., 63: Opacus's and TF Privacy's set.
  static std::vector<double> DefaultOrders();

  //! Tracks the RDP of rounds sampled by `sampling` at `orders` (each > 1).
  explicit PrivacyAccountant(Sampling sampling, std::vector<double> orders = DefaultOrders());

  //! Adds `rounds` rounds at sampling rate q and noise multiplier σ.
  absl::Status Compose(double sampling_rate, double noise_multiplier, int64_t rounds = 1);

  //! The smallest ε over the orders for `delta` in (0, 1).
  absl::StatusOr<PrivacyGuarantee> EpsilonFor(double delta) const;

  //! The smallest δ over the orders for `epsilon` >= 0.
  absl::StatusOr<PrivacyGuarantee> DeltaFor(double epsilon) const;

  Sampling sampling() const { return sampling_; }
  //! Rounds composed so far.
  int64_t rounds() const { return rounds_; }
  //! The accumulated RDP at each order, in the order given.
  const std::vector<double>& rdp() const { return rdp_; }
  const std::vector<double>& orders() const { return orders_; }

 private:
  //! One round's RDP at every order; rounds of a run share q and σ, and the
  //! without-replacement bound costs milliseconds, so the last one is kept.
  struct RoundRdp {
    double sampling_rate = 0;
    double noise_multiplier = 0;
    std::vector<double> rdp;
  };

  Sampling sampling_;
  std::vector<double> orders_;
  std::vector<double> rdp_;
  int64_t rounds_ = 0;
  std::optional<RoundRdp> last_round_;
};

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_PRIVACY_PRIVACY_ACCOUNTANT_H_
