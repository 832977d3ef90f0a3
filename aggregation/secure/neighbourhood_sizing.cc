#include "aggregation/secure/neighbourhood_sizing.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "aggregation/secure/neighbour_graph.h"

namespace equifl::aggregation {
namespace {

// P(Binomial(trials, success) < count), summed from the largest term down: below
// the mean the terms shrink geometrically, so the sum stops once they no longer
// change it.
double BinomialBelow(uint32_t trials, double success, uint32_t count) {
  if (count == 0) return 0;
  if (count > trials) return 1;
  if (success >= 1) return 0;  // every trial succeeds: exactly `trials`
  const double log_success = std::log(success);
  const double log_failure = std::log1p(-success);
  uint32_t i = count - 1;
  double term =
      std::exp(std::lgamma(trials + 1.0) - std::lgamma(i + 1.0) - std::lgamma(trials - i + 1.0) +
               i * log_success + (trials - i) * log_failure);
  double sum = term;
  // term(i - 1) = term(i) · i / (trials - i + 1) · (1 - p) / p.
  const double odds = (1 - success) / success;
  while (i > 0) {
    term *= static_cast<double>(i) / (trials - i + 1) * odds;
    --i;
    sum += term;
    if (term <= sum * 1e-17) break;
  }
  return std::min(1.0, sum);
}

}  // namespace

absl::Status DropoutTolerance::Validate(double threshold_fraction) const {
  if (!(expected_dropout >= 0 && expected_dropout < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("secure aggregation's expected_dropout is ",
                                                   expected_dropout, "; allowed: [0, 1)"));
  }
  if (!(target_failure_probability > 0 && target_failure_probability < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("secure aggregation's target_failure_probability is ",
                     target_failure_probability, "; allowed: (0, 1)"));
  }
  if (expected_dropout >= 1 - threshold_fraction) {
    return absl::InvalidArgumentError(absl::StrCat(
        "secure aggregation's expected_dropout ", expected_dropout, " leaves on average ",
        1 - expected_dropout, " of each neighbourhood, no more than the ", threshold_fraction,
        " that threshold ", threshold_fraction,
        " needs to rebuild a secret, so most rounds would be abandoned; lower expected_dropout "
        "or threshold (a lower threshold lets fewer colluding neighbours rebuild a secret)"));
  }
  return absl::OkStatus();
}

uint32_t LogarithmicNeighbourCount(uint32_t clients) {
  if (clients <= 1) return 0;
  const uint32_t log2 = static_cast<uint32_t>(std::ceil(std::log2(static_cast<double>(clients))));
  return std::min(clients - 1, std::max<uint32_t>(4, 2 * log2 + 2));
}

double RoundFailureBound(uint32_t clients, uint32_t neighbours, uint32_t threshold,
                         double dropout) {
  return std::min(1.0, clients * BinomialBelow(neighbours, 1 - dropout, threshold));
}

NeighbourhoodSize ChooseNeighbourhoodSize(uint32_t clients, double threshold_fraction,
                                          const DropoutTolerance& tolerance) {
  const double target = tolerance.target_failure_probability;
  const double survival = 1 - tolerance.expected_dropout;
  const auto meets = [&](uint32_t neighbours, uint32_t threshold) {
    // From the mean up the tail is at least 1/2 (a binomial's median is the floor
    // or the ceiling of its mean), so the bound is n/2 >= 1 > target: skip the sum.
    if (threshold - 1.0 >= std::ceil(neighbours * survival)) return false;
    return RoundFailureBound(clients, neighbours, threshold, tolerance.expected_dropout) <= target;
  };
  // The largest threshold from the floor up that still meets the target.
  const auto raise = [&](uint32_t neighbours) {
    NeighbourhoodSize size{neighbours, ThresholdFor(neighbours + 1, threshold_fraction)};
    while (size.threshold < neighbours && meets(neighbours, size.threshold + 1)) ++size.threshold;
    return size;
  };
  if (clients <= 2)
    return {clients == 0 ? 0 : clients - 1, ThresholdFor(clients, threshold_fraction)};
  for (uint32_t neighbours = LogarithmicNeighbourCount(clients); neighbours < clients - 1;
       neighbours += 2) {
    if (meets(neighbours, ThresholdFor(neighbours + 1, threshold_fraction)))
      return raise(neighbours);
  }
  return raise(clients - 1);
}

}  // namespace equifl::aggregation
