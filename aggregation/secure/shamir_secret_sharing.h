// Shamir secret sharing (Shamir 1979) of 32-byte secrets with threshold t, over
// the prime field GF(2^61 - 1).
//
// Secure aggregation shares two secrets of every client among its neighbours: the
// private key its pairwise masks come from and the seed of its own mask. Any t
// shares rebuild a secret; t - 1 reveal nothing about it. A secret is cut into five
// limbs of at most 56 bits (bytes 0-6, 7-13, ..., 28-31, little-endian), each
// shared with its own random polynomial of degree t - 1, whose coefficients come
// from OpenSSL's CSPRNG. The share of the participant at x (1 <= x < 2^61 - 1) is
// the five polynomials' values at x.
#ifndef EQUIFL_AGGREGATION_SECURE_SHAMIR_SECRET_SHARING_H_
#define EQUIFL_AGGREGATION_SECURE_SHAMIR_SECRET_SHARING_H_

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "aggregation/secure/key_agreement.h"

namespace equifl::aggregation {

//! The field's prime, 2^61 - 1.
inline constexpr uint64_t kShamirPrime = (uint64_t{1} << 61) - 1;
//! Field elements per share of a 32-byte secret.
inline constexpr int kShamirLimbs = 5;

//! One participant's share of one secret.
struct ShamirShare {
  uint64_t x = 0;                               //!< The participant's point, in [1, p).
  std::array<uint64_t, kShamirLimbs> values{};  //!< The polynomials at x, each in [0, p).
};

//! Shares `secret` for the participants at `points` (distinct, in [1, p)) so that
//! any `threshold` of them (1 <= threshold <= points.size()) rebuild it.
absl::StatusOr<std::vector<ShamirShare>> ShareSecret(const Key32& secret, uint32_t threshold,
                                                     std::span<const uint64_t> points);

//! Rebuilds a secret from at least `threshold` shares of distinct points (the first
//! `threshold` are used). Fails with fewer, with repeated points, or when the
//! shares do not come from one 32-byte secret.
absl::StatusOr<Key32> ReconstructSecret(std::span<const ShamirShare> shares, uint32_t threshold);

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_SECURE_SHAMIR_SECRET_SHARING_H_
