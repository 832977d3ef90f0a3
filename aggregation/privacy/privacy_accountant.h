// Rényi differential privacy (RDP) accounting for the sampled Gaussian mechanism:
// each round, every client takes part with probability q and the sum of clipped
// updates gets Gaussian noise of standard deviation σ·C (σ the noise multiplier,
// C the clipping norm). The accountant adds up the RDP of every round at a set of
// orders α and converts the total to an (ε, δ) guarantee.
//
// The RDP of one round is log(A_α)/(α − 1) with A_α the α-th moment of the
// mixture's privacy loss (Mironov, Talwar and Zhang, "Rényi Differential Privacy
// of the Sampled Gaussian Mechanism", 2019): a finite binomial sum for integer α,
// an erfc series for fractional α, both summed in log space. The conversion is
// ε = min_α (RDP(α) − log δ / (α − 1)) (Mironov 2017, Proposition 3), the one TF
// Privacy's published values use. Plain C++ with no dependency but Abseil.
#ifndef EQUIFL_AGGREGATION_PRIVACY_PRIVACY_ACCOUNTANT_H_
#define EQUIFL_AGGREGATION_PRIVACY_PRIVACY_ACCOUNTANT_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace equifl::aggregation {

//! The RDP at order `order` (> 1, may be fractional or infinite) of one round of
//! the Gaussian mechanism with noise multiplier `noise_multiplier` (> 0) applied
//! to a Poisson sample of rate `sampling_rate` (in [0, 1]).
absl::StatusOr<double> SampledGaussianRdp(double sampling_rate, double noise_multiplier,
                                          double order);

//! An (ε, δ) guarantee and the RDP order that gave it.
struct PrivacyGuarantee {
  double epsilon = 0;
  double delta = 0;
  double order = 0;
};

class PrivacyAccountant {
 public:
  //! Orders 1.1, 1.2, ..., 10.9 and 12, 13, ..., 63: TF Privacy's tutorial set.
  static std::vector<double> DefaultOrders();

  //! Tracks the RDP at `orders` (each > 1).
  explicit PrivacyAccountant(std::vector<double> orders = DefaultOrders());

  //! Adds `rounds` rounds at sampling rate q and noise multiplier σ.
  absl::Status Compose(double sampling_rate, double noise_multiplier, int64_t rounds = 1);

  //! The smallest ε over the orders for `delta` in (0, 1).
  absl::StatusOr<PrivacyGuarantee> EpsilonFor(double delta) const;

  //! The smallest δ over the orders for `epsilon` >= 0.
  absl::StatusOr<PrivacyGuarantee> DeltaFor(double epsilon) const;

  //! Rounds composed so far.
  int64_t rounds() const { return rounds_; }
  //! The accumulated RDP at each order, in the order given.
  const std::vector<double>& rdp() const { return rdp_; }
  const std::vector<double>& orders() const { return orders_; }

 private:
  std::vector<double> orders_;
  std::vector<double> rdp_;
  int64_t rounds_ = 0;
};

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_PRIVACY_PRIVACY_ACCOUNTANT_H_
