#!/usr/bin/env python3
"""An independent reference for privacy_accountant_test.cc: prints the values it checks.

Usage: python3 tests/aggregation/privacy/rdp_reference.py   (standard library only; ~1 min)

Written from the papers' formulas, not from equifl's code, and computed differently:
- Poisson-sampled Gaussian (Mironov, Talwar and Zhang 2019): A_alpha = E_{z ~ N(0, s^2)}
  [(1 - q + q exp((2z - 1) / (2 s^2)))^alpha], integrated numerically (trapezoid rule in
  log space), where equifl sums a binomial or an erfc series.
- Sampling without replacement (Wang, Balle and Kasiviswanathan, AISTATS 2019,
  arXiv:1808.00087 Theorem 27, as dp_accounting's _compute_rdp_sample_wor_gaussian
  applies it): A_alpha <= 1 + sum_{j=2..alpha} C(alpha, j) q^j
  min(4 sqrt(chi_{2 floor(j/2)} chi_{2 ceil(j/2)}), 2 E[L^j]) with E[L^i] = exp(i(i-1)/(2 s^2))
  and chi_l = E[(L - 1)^l], the alternating sum taken in 400-digit decimal arithmetic
  (no cancellation to work around); past order 256 only 2 E[L^j] for j >= 3; log A
  interpolated linearly between integer orders.
- (epsilon, delta) by Balle et al. 2020 (arXiv:1905.09982 Theorem 21) with dp_accounting's
  KL refinement: eps = max(0, rdp + log(1 - 1/a) - (log delta + log a) / (a - 1)), or 0 when
  delta^2 > 1 - exp(-rdp); delta = min(exp((a - 1)(rdp - eps + log(1 - 1/a)) - log a),
  sqrt(1 - exp(-rdp))).
"""
import math
from decimal import Decimal, getcontext

getcontext().prec = 400
getcontext().Emax = 10**9

DEFAULT_ORDERS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))


def poisson_log_a(q, sigma, alpha):
    """log A_alpha of the Poisson-sampled Gaussian by numerical integration."""
    if q == 1:
        return alpha * (alpha - 1) / (2 * sigma**2)
    step = sigma / 64
    low, high = -40 * sigma - 1, alpha + 40 * sigma + 1

    def log_integrand(z):
        u = (2 * z - 1) / (2 * sigma**2)
        log_mix = u + math.log(q + (1 - q) * math.exp(-u)) if u > 0 else math.log1p(q * math.expm1(u))
        return -z * z / (2 * sigma**2) - math.log(sigma * math.sqrt(2 * math.pi)) + alpha * log_mix

    points = int((high - low) / step) + 1
    logs = [log_integrand(low + k * step) for k in range(points)]
    peak = max(logs)
    weights = [0.5 if k in (0, points - 1) else 1.0 for k in range(points)]
    return peak + math.log(step * math.fsum(w * math.exp(v - peak) for w, v in zip(weights, logs)))


def poisson_rdp(q, sigma, order):
    return 0.0 if q == 0 else poisson_log_a(q, sigma, order) / (order - 1)


def wor_log_a_integer(q, sigma, alpha):
    """log A_alpha of Theorem 27 for integer alpha, in exact decimal arithmetic."""
    if alpha == 1:
        return 0.0
    q, gamma = Decimal(repr(q)), 1 / (2 * Decimal(repr(sigma)) ** 2)
    moments = [(gamma * i * (i - 1)).exp() for i in range(alpha + 2)]

    def chi(l):
        return sum((-1) ** (l - i) * math.comb(l, i) * moments[i] for i in range(l + 1))

    total = Decimal(1)
    for j in range(2, alpha + 1):
        term = 2 * moments[j]
        if alpha <= 256 or j == 2:
            term = min(term, 4 * (chi(2 * (j // 2)) * chi(2 * ((j + 1) // 2))).sqrt())
        total += q**j * math.comb(alpha, j) * term
    return float(total.ln())


def wor_rdp(q, sigma, order):
    if q == 0:
        return 0.0
    if q == 1:
        return order / (2 * sigma**2)
    below, above = math.floor(order), math.ceil(order)
    if below == above:
        return wor_log_a_integer(q, sigma, below) / (order - 1)
    t = order - below
    return ((1 - t) * wor_log_a_integer(q, sigma, below) +
            t * wor_log_a_integer(q, sigma, above)) / (order - 1)


def epsilon(orders, rdp, delta):
    def at(a, r):
        if delta**2 + math.expm1(-r) > 0:
            return 0.0
        return max(0.0, r + math.log1p(-1 / a) - (math.log(delta) + math.log(a)) / (a - 1))
    return min((at(a, r), a) for a, r in zip(orders, rdp))


def delta_for(orders, rdp, eps):
    def at(a, r):
        kl = -math.inf if r == 0 else 0.5 * math.log1p(-math.exp(-r))
        return min(kl, (a - 1) * (r - eps + math.log1p(-1 / a)) - math.log(a))
    log_delta, order = min((at(a, r), a) for a, r in zip(orders, rdp))
    return min(1.0, math.exp(log_delta)), order


def main():
    print("Opacus (accountants_test.py, test_rdp_accountant): Poisson q 0.04, sigma 1.5, "
          "2250 rounds, delta 1e-5, default orders")
    rdp = [2250 * poisson_rdp(0.04, 1.5, a) for a in DEFAULT_ORDERS]
    eps, order = epsilon(DEFAULT_ORDERS, rdp, 1e-5)
    classic = min(r - math.log(1e-5) / (a - 1) for a, r in zip(DEFAULT_ORDERS, rdp))
    print(f"  epsilon {eps:.10f} at order {order} (classic conversion {classic:.6f})")
    print(f"  delta for epsilon {eps:.10f}: {delta_for(DEFAULT_ORDERS, rdp, eps)}")

    print("Without replacement, TF Privacy's case: q 0.01, sigma 2.5, 50 rounds")
    for a in [1.001, 1.5, 2.5, 5, 50, 100, 256, 512, 1024]:
        print(f"  order {a}: {50 * wor_rdp(0.01, 2.5, a):.10g}")

    print("Without replacement, one round (q, sigma, order: RDP)")
    for sigma in [0.5, 0.75, 2, 10]:
        for q in [0.04, 0.3]:
            for a in [1.5, 2, 3, 7.5, 16, 63]:
                print(f"  {q} {sigma} {a}: {wor_rdp(q, sigma, a):.12e}")

    print("Abadi et al.: Poisson q 0.01, sigma 4, 10000 rounds, orders 2..32, delta 1e-5")
    orders = list(range(2, 33))
    rdp = [10000 * poisson_rdp(0.01, 4, a) for a in orders]
    print(f"  epsilon, order: {epsilon(orders, rdp, 1e-5)}")

    print("Two mechanisms: (0.01, 4, 10000) then (0.1, 2, 100), delta 1e-5")
    orders = [1.25, 1.5, 1.75, 2., 2.5, 3., 4., 5., 6., 7., 8., 10., 12., 14., 16., 20., 24.,
              28., 32., 64., 256.]
    rdp = [10000 * poisson_rdp(0.01, 4, a) + 100 * poisson_rdp(0.1, 2, a) for a in orders]
    print(f"  epsilon, order: {epsilon(orders, rdp, 1e-5)}")

    print("equifl's DP-FedAvg as accounted: without replacement, z 1.5 charged as 0.75, "
          "q 0.04, 2250 rounds, delta 1e-5, default orders")
    rdp = [2250 * wor_rdp(0.04, 0.75, a) for a in DEFAULT_ORDERS]
    print(f"  epsilon, order: {epsilon(DEFAULT_ORDERS, rdp, 1e-5)}")


if __name__ == "__main__":
    main()
