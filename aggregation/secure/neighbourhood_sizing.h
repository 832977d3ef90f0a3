// How many neighbours (k) and what threshold (t) a secure round needs so that
// the dropouts it expects do not abandon it (Bell, Bonawitz, Gascón, Lepoint and
// Raykova, CCS 2020, who size SecAgg+'s graph the same way).
//
// A client's secret can be rebuilt when t of the members holding its shares
// reveal them; those are its neighbours that stay to the end (a survivor also
// holds one share of its own seed, which the bound below leaves out). With each
// client dropping independently with probability δ, a client's surviving
// neighbours are Binomial(k, 1 − δ) (exactly δn dropping gives a hypergeometric
// count, whose tails are thinner), so by the union bound over the n clients
//
//   P(the round is abandoned) <= n · P(Binomial(k, 1 − δ) < t).
//
// Privacy sets the floors: t is at least ⌈threshold · (k + 1)⌉ (with the default
// threshold 0.5, half of a neighbourhood must collude with the server to rebuild
// a secret), and k is at least 2·⌈log2 n⌉ + 2, the logarithmic degree SecAgg+'s
// privacy argument rests on. ChooseNeighbourhoodSize returns the
// smallest even k (the ring lattice's degrees are even) whose floor threshold
// meets the target, and then the largest t that still meets it; every client
// neighbours every other (Bonawitz's complete graph) when no smaller k does.
#ifndef EQUIFL_AGGREGATION_SECURE_NEIGHBOURHOOD_SIZING_H_
#define EQUIFL_AGGREGATION_SECURE_NEIGHBOURHOOD_SIZING_H_

#include <cstdint>

#include "absl/status/status.h"

namespace equifl::aggregation {

//! The dropouts a secure round is sized for.
struct DropoutTolerance {
  //! δ: the share of a round's clients expected to leave after advertising keys.
  double expected_dropout = 0.3;
  //! Bound on the probability that dropouts at that rate abandon a round.
  double target_failure_probability = 1e-6;

  //! Checks both ranges and that δ leaves more survivors than the threshold
  //! fraction (of a neighbourhood) needs.
  absl::Status Validate(double threshold_fraction) const;
};

//! A round's neighbours per client and threshold.
struct NeighbourhoodSize {
  uint32_t neighbours = 0;  //!< k; clients - 1 is the complete graph.
  uint32_t threshold = 0;   //!< t, of the k + 1 members of a neighbourhood.
};

//! SecAgg+'s logarithmic degree, the fewest neighbours a round of `clients` gets:
//! 2·ceil(log2 n) + 2 (at least 4), or n - 1 when that is smaller.
uint32_t LogarithmicNeighbourCount(uint32_t clients);

//! n · P(Binomial(k, 1 − dropout) < t): the bound above on the probability that a
//! round of `clients` with `neighbours` each and `threshold` is abandoned.
double RoundFailureBound(uint32_t clients, uint32_t neighbours, uint32_t threshold, double dropout);

//! k and t for a round of `clients` (>= 2), with t at least
//! ThresholdFor(k + 1, threshold_fraction); see the file comment.
NeighbourhoodSize ChooseNeighbourhoodSize(uint32_t clients, double threshold_fraction,
                                          const DropoutTolerance& tolerance);

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_SECURE_NEIGHBOURHOOD_SIZING_H_
