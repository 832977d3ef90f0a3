// Weights on the probability simplex over (cell, group) pairs, moved by
// exponentiated-gradient (mirror ascent) steps: FedMinMax's μ (baselines.h) and
// group DRO's q (group_dro.h).
//
// A step multiplies each weight by exp(rate·gain) and renormalises; it is done in
// log space with the exponent clipped to ±kLargestExponent, so a step of any size
// stays finite, and no weight falls below kSmallestWeight, so a pair pushed far
// down recovers in one step when its gain turns.
#ifndef EQUIFL_FAIRNESS_SIMPLEX_WEIGHTS_H_
#define EQUIFL_FAIRNESS_SIMPLEX_WEIGHTS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fairness/group_statistics.h"

namespace equifl::fairness {

//! A group in a cell.
using CellGroupPair = std::pair<Cell, std::string>;

class SimplexWeights {
 public:
  static constexpr double kLargestExponent = 700;
  static constexpr double kSmallestWeight = 1e-12;

  //! Pairs not weighted yet join at 1/(pairs after joining); the others shrink
  //! in proportion to make room. The first pairs start uniform.
  void Join(const std::vector<CellGroupPair>& pairs);

  //! w_i ← w_i·exp(rate·gain_i) / Σ_j w_j·exp(rate·gain_j); a pair without a gain
  //! steps by 0 (keeps its weight before renormalising).
  void Step(const std::map<CellGroupPair, double>& gains, double rate);

  //! Sets the weights to `weights` (a run's recorded state): a weight that is not
  //! finite is dropped, one below kSmallestWeight raised to it, then they are
  //! renormalised.
  void Restore(const std::map<CellGroupPair, double>& weights);

  //! By pair, sorted; sums to 1 unless empty.
  const std::map<CellGroupPair, double>& weights() const { return weights_; }

 private:
  void FloorAndNormalise();

  std::map<CellGroupPair, double> weights_;
};

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_SIMPLEX_WEIGHTS_H_
