#include "aggregation/privacy/privacy_accountant.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

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

// log C(n, k).
double LogBinomial(double n, double k) {
  return std::lgamma(n + 1) - std::lgamma(k + 1) - std::lgamma(n - k + 1);
}

// Where 2γ(l − 1) is at least this, the last moment of the alternating sum below
// dominates and at most about a digit cancels; below it the series is used.
constexpr double kDirectDifferenceThreshold = 8;

// log E[(L − 1)^l] for l = 0, ..., max_l, with L = N(1, σ²)/N(0, σ²) the likelihood
// ratio at a draw of N(0, σ²): Pearson–Vajda's χ^l divergences, the "forward
// differences" of Wang et al.'s Theorem 27. The moments are E[L^i] = exp(γ i(i − 1)),
// γ = 1/(2σ²), and E[(L − 1)^l] = Σ_i C(l, i) (−1)^(l−i) E[L^i]. That alternating sum
// is accurate where 2γ(l − 1) >= 8; elsewhere it cancels catastrophically (at σ = 10,
// l = 128 its terms are 10^31 times the sum), so there it comes from the expansion
//   E[(L − 1)^l] = l! Σ_n γ^n / n! · S_n(l),
// S_n(l) >= 0 the coefficients of (x(x − 1))^n in the falling factorials
// x(x − 1)···(x − l + 1), S_0 = [l = 0], S_{n+1}(l) = S_n(l − 2) + 2(l − 1) S_n(l − 1)
// + l(l − 1) S_n(l): a sum of positive terms, peaking near n = γ l(l − 1) < 4l.
std::vector<double> LogCentralMoments(double sigma, int64_t max_l) {
  const double gamma = 1 / (2 * sigma * sigma);
  std::vector<double> log_moment(static_cast<size_t>(max_l) + 1, -kInfinity);
  log_moment[0] = 0;
  int64_t series_max_l = 1;  // the largest l the series gives
  for (int64_t l = 2; l <= max_l; ++l) {
    if (2 * gamma * static_cast<double>(l - 1) < kDirectDifferenceThreshold) {
      series_max_l = l;
      continue;
    }
    double log_plus = -kInfinity;   // the terms of sign +
    double log_minus = -kInfinity;  // and of sign −
    for (int64_t i = 0; i <= l; ++i) {
      const double x = static_cast<double>(i);
      const double log_term = LogBinomial(static_cast<double>(l), x) + gamma * x * (x - 1);
      if ((l - i) % 2 == 0) {
        log_plus = LogAdd(log_plus, log_term);
      } else {
        log_minus = LogAdd(log_minus, log_term);
      }
    }
    // Never −∞ where this sum is used, but should rounding make it so, +∞ leaves
    // the bound to its other term instead of understating it.
    const double difference = LogSubtract(log_plus, log_minus);
    log_moment[static_cast<size_t>(l)] = difference == -kInfinity ? kInfinity : difference;
  }
  if (series_max_l < 2) return log_moment;
  const auto width = static_cast<size_t>(series_max_l) + 1;
  std::vector<double> log_s(width, -kInfinity);  // log S_n(l), from n = 0
  log_s[0] = 0;
  std::vector<double> next(width);
  std::vector<double> log_sum(width, -kInfinity);
  std::vector<double> log_factorial(width);
  for (size_t l = 0; l < width; ++l) log_factorial[l] = std::lgamma(static_cast<double>(l) + 1);
  const double log_gamma = std::log(gamma);
  for (int64_t n = 1;; ++n) {
    next[0] = next[1] = -kInfinity;
    for (size_t l = 2; l < width; ++l) {
      const double x = static_cast<double>(l);
      next[l] = LogAdd(log_s[l - 2], LogAdd(std::log(2 * (x - 1)) + log_s[l - 1],
                                            std::log(x * (x - 1)) + log_s[l]));
    }
    std::swap(log_s, next);
    const double log_weight = static_cast<double>(n) * log_gamma - std::lgamma(n + 1.0);
    bool converged = true;
    for (size_t l = 2; l < width; ++l) {
      if (log_s[l] == -kInfinity) {  // S_n(l) = 0 for n < l / 2
        converged = false;
        continue;
      }
      const double log_term = log_factorial[l] + log_weight + log_s[l];
      log_sum[l] = LogAdd(log_sum[l], log_term);
      const double x = static_cast<double>(l);
      // Past the peak and 40 e-folds below the sum.
      if (static_cast<double>(n) <= gamma * x * (x - 1) || log_term > log_sum[l] - 40) {
        converged = false;
      }
    }
    if (converged) break;
  }
  for (size_t l = 2; l < width; ++l) log_moment[l] = log_sum[l];
  return log_moment;
}

// Up to this order the bound takes the smaller of both terms; above it only
// 2·E[L^j] past j = 2 (dp_accounting's max_alpha: the exact terms need O(α²)).
constexpr int64_t kExactBoundMaxOrder = 256;

// log A_α of Theorem 27 of Wang et al. for integer α >= 2 (the RDP is
// log A_α / (α − 1)), the base mechanism the Gaussian of RDP α / (2σ²):
//   A_α <= 1 + Σ_{j=2..α} C(α, j) q^j min(4 sqrt(χ_{2⌊j/2⌋} χ_{2⌈j/2⌉}), 2 E[L^j]),
// χ_l = E[(L − 1)^l] (`log_central`, up to l = 2⌈min(α, 256)/2⌉).
double LogMomentWithoutReplacement(double q, double sigma, int64_t alpha,
                                   const std::vector<double>& log_central) {
  const double gamma = 1 / (2 * sigma * sigma);
  const double a = static_cast<double>(alpha);
  double log_a = 0;
  for (int64_t j = 2; j <= alpha; ++j) {
    const double x = static_cast<double>(j);
    double log_bound = std::log(2.0) + gamma * x * (x - 1);
    if (alpha <= kExactBoundMaxOrder || j == 2) {
      const auto low = static_cast<size_t>(2 * (j / 2));
      const auto high = static_cast<size_t>(2 * ((j + 1) / 2));
      log_bound = std::min(log_bound, std::log(4.0) + 0.5 * (log_central[low] + log_central[high]));
    }
    log_a = LogAdd(log_a, LogBinomial(a, x) + x * std::log(q) + log_bound);
  }
  return log_a;
}

absl::Status CheckOrder(double order) {
  if (!(order > 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("RDP order ", order, " is not allowed; orders must be > 1"));
  }
  return absl::OkStatus();
}

absl::Status CheckRateAndMultiplier(double sampling_rate, double noise_multiplier) {
  if (!(sampling_rate >= 0 && sampling_rate <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sampling rate ", sampling_rate, " must be in [0, 1]"));
  }
  if (!(noise_multiplier > 0) || std::isinf(noise_multiplier)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "noise multiplier ", noise_multiplier, " must be positive and finite (0 is no privacy)"));
  }
  return absl::OkStatus();
}

absl::Status CheckRdp(std::span<const double> orders, std::span<const double> rdp) {
  if (orders.empty()) return absl::FailedPreconditionError("the accountant has no RDP orders");
  if (orders.size() != rdp.size()) {
    return absl::InvalidArgumentError(absl::StrCat(orders.size(), " RDP orders but ", rdp.size(),
                                                   " RDP values; they must pair up"));
  }
  for (double order : orders) EQUIFL_RETURN_IF_ERROR(CheckOrder(order));
  return absl::OkStatus();
}

// The without-replacement RDP at each of `orders` (checked), sharing the χ moments.
std::vector<double> WithoutReplacementRdp(double q, double sigma, std::span<const double> orders) {
  std::vector<double> rdp(orders.size(), 0.0);
  if (q == 0) return rdp;
  int64_t max_l = 2;  // the χ moments the orders need
  for (size_t index = 0; index < orders.size(); ++index) {
    const double order = orders[index];
    if (std::isinf(order)) {
      rdp[index] = kInfinity;
    } else if (q == 1) {
      rdp[index] = order / (2 * sigma * sigma);  // the plain Gaussian mechanism
    } else {
      const auto exact = static_cast<int64_t>(
          std::min(std::ceil(order), static_cast<double>(kExactBoundMaxOrder)));
      max_l = std::max(max_l, 2 * ((exact + 1) / 2));
    }
  }
  if (q == 1) return rdp;
  // σ below about 1e-125 hides nothing (and γ j(j − 1) would overflow).
  if (!(1 / (2 * sigma * sigma) <= 1e250)) {
    std::fill(rdp.begin(), rdp.end(), kInfinity);
    return rdp;
  }
  const std::vector<double> log_central = LogCentralMoments(sigma, max_l);
  const auto log_moment = [&](double alpha) {
    return alpha == 1
               ? 0.0
               : LogMomentWithoutReplacement(q, sigma, static_cast<int64_t>(alpha), log_central);
  };
  for (size_t index = 0; index < orders.size(); ++index) {
    const double order = orders[index];
    if (std::isinf(order)) continue;
    // Between integer orders log A is interpolated linearly (Wang et al.,
    // Corollary 10: it is convex in α).
    const double below = std::floor(order);
    const double above = std::ceil(order);
    const double fraction = order - below;
    const double log_a = below == above
                             ? log_moment(below)
                             : (1 - fraction) * log_moment(below) + fraction * log_moment(above);
    rdp[index] = log_a / (order - 1);
  }
  return rdp;
}

// ε at one order by Balle et al.'s Theorem 21, 0 once the KL bound gives δ.
double EpsilonAtOrder(double order, double rdp, double delta) {
  if (delta * delta + std::expm1(-rdp) > 0) return 0;
  return std::max(0.0,
                  rdp + std::log1p(-1 / order) - (std::log(delta) + std::log(order)) / (order - 1));
}

// log δ at one order: the smaller of Theorem 21's and the KL bound's.
double LogDeltaAtOrder(double order, double rdp, double epsilon) {
  const double kl_bound = 0.5 * std::log(-std::expm1(-rdp));  // −∞ at RDP 0
  const double rdp_bound = (order - 1) * (rdp - epsilon + std::log1p(-1 / order)) - std::log(order);
  return std::min(kl_bound, rdp_bound);
}

}  // namespace

std::string_view SamplingName(Sampling sampling) {
  return sampling == Sampling::kPoisson ? "Poisson" : "without replacement";
}

absl::StatusOr<double> PoissonSampledGaussianRdp(double sampling_rate, double noise_multiplier,
                                                 double order) {
  EQUIFL_RETURN_IF_ERROR(CheckRateAndMultiplier(sampling_rate, noise_multiplier));
  EQUIFL_RETURN_IF_ERROR(CheckOrder(order));
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

absl::StatusOr<double> WithoutReplacementSampledGaussianRdp(double sampling_rate,
                                                            double noise_multiplier, double order) {
  EQUIFL_RETURN_IF_ERROR(CheckRateAndMultiplier(sampling_rate, noise_multiplier));
  EQUIFL_RETURN_IF_ERROR(CheckOrder(order));
  return WithoutReplacementRdp(sampling_rate, noise_multiplier, {&order, 1})[0];
}

absl::StatusOr<double> SampledGaussianRdp(Sampling sampling, double sampling_rate,
                                          double noise_multiplier, double order) {
  return sampling == Sampling::kPoisson
             ? PoissonSampledGaussianRdp(sampling_rate, noise_multiplier, order)
             : WithoutReplacementSampledGaussianRdp(sampling_rate, noise_multiplier, order);
}

absl::StatusOr<PrivacyGuarantee> EpsilonFromRdp(std::span<const double> orders,
                                                std::span<const double> rdp, double delta) {
  if (!(delta > 0 && delta < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("delta ", delta, " must be in (0, 1)"));
  }
  EQUIFL_RETURN_IF_ERROR(CheckRdp(orders, rdp));
  PrivacyGuarantee best{kInfinity, delta, 0};
  for (size_t index = 0; index < orders.size(); ++index) {
    const double epsilon = EpsilonAtOrder(orders[index], rdp[index], delta);
    if (epsilon < best.epsilon) best = {epsilon, delta, orders[index]};
  }
  return best;
}

absl::StatusOr<PrivacyGuarantee> DeltaFromRdp(std::span<const double> orders,
                                              std::span<const double> rdp, double epsilon) {
  if (!(epsilon >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("epsilon ", epsilon, " must be >= 0"));
  }
  EQUIFL_RETURN_IF_ERROR(CheckRdp(orders, rdp));
  double best_log_delta = kInfinity;
  PrivacyGuarantee best{epsilon, 1.0, 0};
  for (size_t index = 0; index < orders.size(); ++index) {
    const double log_delta = LogDeltaAtOrder(orders[index], rdp[index], epsilon);
    if (log_delta < best_log_delta) {
      best_log_delta = log_delta;
      best = {epsilon, std::min(std::exp(log_delta), 1.0), orders[index]};
    }
  }
  return best;
}

std::vector<double> PrivacyAccountant::DefaultOrders() {
  std::vector<double> orders;
  for (int tenth = 11; tenth < 110; ++tenth) orders.push_back(tenth / 10.0);
  for (int order = 12; order < 64; ++order) orders.push_back(order);
  return orders;
}

PrivacyAccountant::PrivacyAccountant(Sampling sampling, std::vector<double> orders)
    : sampling_(sampling), orders_(std::move(orders)), rdp_(orders_.size(), 0.0) {}

absl::Status PrivacyAccountant::Compose(double sampling_rate, double noise_multiplier,
                                        int64_t rounds) {
  if (rounds < 0) return absl::InvalidArgumentError("rounds must be >= 0");
  if (!last_round_ || last_round_->sampling_rate != sampling_rate ||
      last_round_->noise_multiplier != noise_multiplier) {
    EQUIFL_RETURN_IF_ERROR(CheckRateAndMultiplier(sampling_rate, noise_multiplier));
    for (double order : orders_) EQUIFL_RETURN_IF_ERROR(CheckOrder(order));
    RoundRdp round{sampling_rate, noise_multiplier, {}};
    if (sampling_ == Sampling::kPoisson) {
      for (double order : orders_) {
        EQUIFL_ASSIGN_OR_RETURN(double rdp,
                                PoissonSampledGaussianRdp(sampling_rate, noise_multiplier, order));
        round.rdp.push_back(rdp);
      }
    } else {
      round.rdp = WithoutReplacementRdp(sampling_rate, noise_multiplier, orders_);
    }
    last_round_ = std::move(round);
  }
  for (size_t index = 0; index < orders_.size(); ++index) {
    rdp_[index] += last_round_->rdp[index] * static_cast<double>(rounds);
  }
  rounds_ += rounds;
  return absl::OkStatus();
}

absl::StatusOr<PrivacyGuarantee> PrivacyAccountant::EpsilonFor(double delta) const {
  return EpsilonFromRdp(orders_, rdp_, delta);
}

absl::StatusOr<PrivacyGuarantee> PrivacyAccountant::DeltaFor(double epsilon) const {
  return DeltaFromRdp(orders_, rdp_, epsilon);
}

}  // namespace equifl::aggregation
