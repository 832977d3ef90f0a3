#include "aggregation/privacy/privacy_accountant.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "absl/strings/str_cat.h"

namespace equifl::aggregation {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

// log(exp(a) + exp(b)) without overflow.
double LogAdd(double a, double b) {
  if (a == -kInfinity) return b;
  if (b == -kInfinity) return a;
  return std::max(a, b) + std::log1p(std::exp(-std::abs(a - b)));
}

// log(exp(a) - exp(b)) for a >= b.
double LogSubtract(double a, double b) {
  if (b == -kInfinity) return a;
  if (a <= b) return -kInfinity;
  return a + std::log1p(-std::exp(b - a));
}

// log(erfc(x)); erfc underflows past x ≈ 26, so large x uses the asymptotic series
// erfc(x) ≈ exp(-x²) / (x √π) · (1 − 1/(2x²) + 3/(4x⁴) − 15/(8x⁶)).
double LogErfc(double x) {
  if (x < 5) return std::log(std::erfc(x));
  const double inverse_square = 1 / (x * x);
  return -x * x - std::log(x) - 0.5 * std::log(std::numbers::pi) +
         std::log1p(inverse_square *
                    (-0.5 + inverse_square * (0.75 - inverse_square * 15.0 / 8.0)));
}

// log(A_α) for integer α: Σ_k C(α, k) (1 − q)^(α−k) q^k exp((k² − k) / (2σ²)).
double LogMomentInteger(double q, double sigma, int64_t alpha) {
  double log_a = -kInfinity;
  const double a = static_cast<double>(alpha);
  for (int64_t k = 0; k <= alpha; ++k) {
    const double i = static_cast<double>(k);
    const double log_binomial = std::lgamma(a + 1) - std::lgamma(i + 1) - std::lgamma(a - i + 1);
    log_a = LogAdd(log_a, log_binomial + i * std::log(q) + (a - i) * std::log1p(-q) +
                              (i * i - i) / (2 * sigma * sigma));
  }
  return log_a;
}

// log(A_α) for fractional α: the two-sided series of Mironov et al. (2019,
// Section 3.3), summed until both terms fall below e^-30.
double LogMomentFractional(double q, double sigma, double alpha) {
  double log_a0 = -kInfinity;
  double log_a1 = -kInfinity;
  const double z0 = sigma * sigma * std::log(1 / q - 1) + 0.5;
  double log_binomial = 0;  // log |C(α, i)|, built up term by term
  bool positive = true;     // the sign of C(α, i)
  for (int64_t step = 0;; ++step) {
    const double i = static_cast<double>(step);
    if (step > 0) {
      const double factor = (alpha - i + 1) / i;
      if (factor < 0) positive = !positive;
      log_binomial += std::log(std::abs(factor));
    }
    const double j = alpha - i;
    const double log_t0 = log_binomial + i * std::log(q) + j * std::log1p(-q);
    const double log_t1 = log_binomial + j * std::log(q) + i * std::log1p(-q);
    const double log_e0 = std::log(0.5) + LogErfc((i - z0) / (std::sqrt(2.0) * sigma));
    const double log_e1 = std::log(0.5) + LogErfc((z0 - j) / (std::sqrt(2.0) * sigma));
    const double log_s0 = log_t0 + (i * i - i) / (2 * sigma * sigma) + log_e0;
    const double log_s1 = log_t1 + (j * j - j) / (2 * sigma * sigma) + log_e1;
    if (positive) {
      log_a0 = LogAdd(log_a0, log_s0);
      log_a1 = LogAdd(log_a1, log_s1);
    } else {
      log_a0 = LogSubtract(log_a0, log_s0);
      log_a1 = LogSubtract(log_a1, log_s1);
    }
    if (std::max(log_s0, log_s1) < -30) break;
  }
  return LogAdd(log_a0, log_a1);
}

absl::Status CheckOrder(double order) {
  if (!(order > 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("RDP order ", order, " is not allowed; orders must be > 1"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<double> SampledGaussianRdp(double sampling_rate, double noise_multiplier,
                                          double order) {
  if (!(sampling_rate >= 0 && sampling_rate <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sampling rate ", sampling_rate, " must be in [0, 1]"));
  }
  if (!(noise_multiplier > 0) || std::isinf(noise_multiplier)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "noise multiplier ", noise_multiplier, " must be positive and finite (0 is no privacy)"));
  }
  if (absl::Status status = CheckOrder(order); !status.ok()) return status;
  if (sampling_rate == 0) return 0.0;
  if (std::isinf(order)) return kInfinity;
  const double sigma = noise_multiplier;
  if (sampling_rate == 1) return order / (2 * sigma * sigma);  // the plain Gaussian mechanism
  const double log_moment =
      order == std::floor(order)
          ? LogMomentInteger(sampling_rate, sigma, static_cast<int64_t>(order))
          : LogMomentFractional(sampling_rate, sigma, order);
  return log_moment / (order - 1);
}

std::vector<double> PrivacyAccountant::DefaultOrders() {
  std::vector<double> orders;
  for (int tenth = 11; tenth < 110; ++tenth) orders.push_back(tenth / 10.0);
  for (int order = 12; order < 64; ++order) orders.push_back(order);
  return orders;
}

PrivacyAccountant::PrivacyAccountant(std::vector<double> orders)
    : orders_(std::move(orders)), rdp_(orders_.size(), 0.0) {}

absl::Status PrivacyAccountant::Compose(double sampling_rate, double noise_multiplier,
                                        int64_t rounds) {
  if (rounds < 0) return absl::InvalidArgumentError("rounds must be >= 0");
  std::vector<double> added(orders_.size());
  for (size_t index = 0; index < orders_.size(); ++index) {
    absl::StatusOr<double> rdp =
        SampledGaussianRdp(sampling_rate, noise_multiplier, orders_[index]);
    if (!rdp.ok()) return rdp.status();
    added[index] = *rdp * static_cast<double>(rounds);
  }
  for (size_t index = 0; index < orders_.size(); ++index) rdp_[index] += added[index];
  rounds_ += rounds;
  return absl::OkStatus();
}

absl::StatusOr<PrivacyGuarantee> PrivacyAccountant::EpsilonFor(double delta) const {
  if (!(delta > 0 && delta < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("delta ", delta, " must be in (0, 1)"));
  }
  if (orders_.empty()) return absl::FailedPreconditionError("the accountant has no RDP orders");
  PrivacyGuarantee best{kInfinity, delta, 0};
  for (size_t index = 0; index < orders_.size(); ++index) {
    if (absl::Status status = CheckOrder(orders_[index]); !status.ok()) return status;
    const double epsilon = rdp_[index] - std::log(delta) / (orders_[index] - 1);
    if (epsilon < best.epsilon) best = {epsilon, delta, orders_[index]};
  }
  return best;
}

absl::StatusOr<PrivacyGuarantee> PrivacyAccountant::DeltaFor(double epsilon) const {
  if (!(epsilon >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("epsilon ", epsilon, " must be >= 0"));
  }
  if (orders_.empty()) return absl::FailedPreconditionError("the accountant has no RDP orders");
  PrivacyGuarantee best{epsilon, 1.0, 0};
  for (size_t index = 0; index < orders_.size(); ++index) {
    if (absl::Status status = CheckOrder(orders_[index]); !status.ok()) return status;
    const double delta = std::exp((rdp_[index] - epsilon) * (orders_[index] - 1));
    if (delta < best.delta) best = {epsilon, delta, orders_[index]};
  }
  best.delta = std::min(best.delta, 1.0);
  return best;
}

}  // namespace equifl::aggregation
