#include "fairness/simplex_weights.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace equifl::fairness {

void SimplexWeights::Join(const std::vector<CellGroupPair>& pairs) {
  std::vector<CellGroupPair> joining;
  for (const CellGroupPair& pair : pairs) {
    if (!weights_.contains(pair) &&
        std::find(joining.begin(), joining.end(), pair) == joining.end()) {
      joining.push_back(pair);
    }
  }
  if (joining.empty()) return;
  const double newcomer = 1.0 / static_cast<double>(weights_.size() + joining.size());
  double kept = 0;
  for (const auto& [pair, weight] : weights_) kept += weight;
  for (auto& [pair, weight] : weights_) {
    weight *= (1.0 - newcomer * static_cast<double>(joining.size())) / kept;
  }
  for (const CellGroupPair& pair : joining) weights_[pair] = newcomer;
}

void SimplexWeights::Step(const std::map<CellGroupPair, double>& gains, double rate) {
  if (weights_.empty()) return;
  // log w_i + rate·gain_i, shifted by its largest value before exponentiating.
  std::map<CellGroupPair, double> exponents;
  double largest = -std::numeric_limits<double>::infinity();
  for (const auto& [pair, weight] : weights_) {
    const auto gain = gains.find(pair);
    const double step = gain == gains.end() ? 0.0 : rate * gain->second;
    const double exponent =
        std::log(weight) + std::clamp(step, -kLargestExponent, kLargestExponent);
    exponents[pair] = exponent;
    largest = std::max(largest, exponent);
  }
  double sum = 0;
  for (auto& [pair, exponent] : exponents) sum += (exponent = std::exp(exponent - largest));
  for (auto& [pair, weight] : weights_) weight = exponents[pair] / sum;
  FloorAndNormalise();
}

void SimplexWeights::Restore(const std::map<CellGroupPair, double>& weights) {
  weights_.clear();
  // A damaged record must not put a zero or a NaN under the logarithm of a step.
  for (const auto& [pair, weight] : weights) {
    if (std::isfinite(weight)) weights_[pair] = weight;
  }
  FloorAndNormalise();
}

void SimplexWeights::FloorAndNormalise() {
  double sum = 0;
  for (auto& [pair, weight] : weights_) sum += weight = std::max(weight, kSmallestWeight);
  for (auto& [pair, weight] : weights_) weight /= sum;
}

}  // namespace equifl::fairness
