// Seeded random draws that give the same numbers with every standard library.
//
// std::mt19937_64 is specified bit for bit, but std::normal_distribution,
// std::uniform_real_distribution and friends are implementation-defined: the same
// seed gives other data under libc++ or MSVC. Data sets, partitions and splits are
// part of an experiment's identity, so they draw through these functions instead.
// (They call std::log, std::cos and std::pow, which glibc rounds correctly in
// practice; another libm could differ in the last bit.)
#ifndef EQUIFL_BASE_RANDOM_H_
#define EQUIFL_BASE_RANDOM_H_

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <utility>
#include <vector>

namespace equifl::random {

using Engine = std::mt19937_64;

//! SplitMix64 of `x`: derives independent seeds (e.g. one per client) from one seed.
inline uint64_t MixSeed(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

//! The seed of round `round` of a run seeded with `seed`: distinct for every round
//! and the same in every run with that seed (local training's seed, the selection
//! of clients, secure aggregation's neighbour graph).
inline uint64_t RoundSeed(uint64_t seed, uint64_t round) { return seed * 1000003 + round; }

//! An engine for stream `stream` of `seed`; distinct streams are independent.
inline Engine MakeEngine(uint64_t seed, uint64_t stream) {
  return Engine(MixSeed(MixSeed(seed) ^ MixSeed(stream + 0x632be59bd9b4e019ULL)));
}

//! Uniform in [0, 1), 53 random bits.
inline double Uniform(Engine& engine) { return static_cast<double>(engine() >> 11) * 0x1.0p-53; }

//! Uniform integer in [0, bound), bound > 0, without modulo bias (Lemire's method).
inline uint64_t UniformIndex(Engine& engine, uint64_t bound) {
  __uint128_t product = static_cast<__uint128_t>(engine()) * bound;
  uint64_t low = static_cast<uint64_t>(product);
  if (low < bound) {
    const uint64_t threshold = -bound % bound;
    while (low < threshold) {
      product = static_cast<__uint128_t>(engine()) * bound;
      low = static_cast<uint64_t>(product);
    }
  }
  return static_cast<uint64_t>(product >> 64);
}

//! True with probability `p`.
inline bool Bernoulli(Engine& engine, double p) { return Uniform(engine) < p; }

//! Standard normal (Box-Muller; one draw per call, simple over fast).
inline double Normal(Engine& engine) {
  const double u1 = 1.0 - Uniform(engine);  // (0, 1]
  const double u2 = Uniform(engine);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

//! Gamma(shape, 1), shape > 0 (Marsaglia and Tsang; shape < 1 by boosting).
inline double Gamma(Engine& engine, double shape) {
  if (shape < 1.0) {
    const double boost = std::pow(1.0 - Uniform(engine), 1.0 / shape);
    return Gamma(engine, shape + 1.0) * boost;
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    double x = 0;
    double v = 0;
    do {
      x = Normal(engine);
      v = 1.0 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = 1.0 - Uniform(engine);
    if (u < 1.0 - 0.0331 * x * x * x * x ||
        std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) {
      return d * v;
    }
  }
}

//! A draw from the symmetric Dirichlet(alpha) over `size` outcomes.
inline std::vector<double> Dirichlet(Engine& engine, double alpha, size_t size) {
  std::vector<double> weights(size);
  double total = 0;
  for (double& weight : weights) total += weight = Gamma(engine, alpha);
  if (total <= 0) {  // every Gamma underflowed (tiny alpha): all mass on one outcome
    weights.assign(size, 0.0);
    weights[UniformIndex(engine, size)] = 1.0;
    return weights;
  }
  for (double& weight : weights) weight /= total;
  return weights;
}

//! Fisher-Yates shuffle of `values`.
template <typename T>
void Shuffle(Engine& engine, std::vector<T>& values) {
  for (size_t index = values.size(); index > 1; --index) {
    std::swap(values[index - 1], values[UniformIndex(engine, index)]);
  }
}

}  // namespace equifl::random

#endif  // EQUIFL_BASE_RANDOM_H_
