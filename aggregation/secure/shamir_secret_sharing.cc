#include "aggregation/secure/shamir_secret_sharing.h"

#include <openssl/rand.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "aggregation/secure/internal/openssl_error.h"

namespace equifl::aggregation {
namespace {

constexpr uint64_t kPrime = kShamirPrime;
// Bytes of the secret in limb i: 7, 7, 7, 7, 4.
constexpr int kLimbBytes = 7;

uint64_t Reduce(__uint128_t value) {
  // 2^61 = 1 (mod p): fold the high bits onto the low ones twice.
  uint64_t folded = static_cast<uint64_t>(value & kPrime) + static_cast<uint64_t>(value >> 61);
  folded = (folded & kPrime) + (folded >> 61);
  return folded >= kPrime ? folded - kPrime : folded;
}

uint64_t Add(uint64_t a, uint64_t b) {
  const uint64_t sum = a + b;
  return sum >= kPrime ? sum - kPrime : sum;
}

uint64_t Subtract(uint64_t a, uint64_t b) { return a >= b ? a - b : a + kPrime - b; }

uint64_t Multiply(uint64_t a, uint64_t b) { return Reduce(static_cast<__uint128_t>(a) * b); }

uint64_t Power(uint64_t base, uint64_t exponent) {
  uint64_t result = 1;
  while (exponent > 0) {
    if (exponent & 1) result = Multiply(result, base);
    base = Multiply(base, base);
    exponent >>= 1;
  }
  return result;
}

// a^-1 for a != 0 (Fermat).
uint64_t Inverse(uint64_t a) { return Power(a, kPrime - 2); }

// A uniform field element from OpenSSL's CSPRNG (rejection sampling of 61 bits).
absl::StatusOr<uint64_t> RandomElement() {
  while (true) {
    uint64_t value = 0;
    if (RAND_bytes(reinterpret_cast<uint8_t*>(&value), sizeof value) != 1) {
      return internal::OpenSslError("drawing random bytes");
    }
    value &= kPrime;
    if (value < kPrime) return value;
  }
}

std::array<uint64_t, kShamirLimbs> ToLimbs(const Key32& secret) {
  std::array<uint64_t, kShamirLimbs> limbs{};
  for (size_t byte = 0; byte < secret.size(); ++byte) {
    limbs[byte / kLimbBytes] |= static_cast<uint64_t>(secret[byte]) << (8 * (byte % kLimbBytes));
  }
  return limbs;
}

absl::Status CheckPoint(uint64_t x) {
  if (x == 0 || x >= kPrime) {
    return absl::InvalidArgumentError(
        absl::StrCat("a Shamir share's point is ", x, "; allowed: 1 to 2^61 - 2"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<ShamirShare>> ShareSecret(const Key32& secret, uint32_t threshold,
                                                     std::span<const uint64_t> points) {
  if (threshold < 1 || threshold > points.size()) {
    return absl::InvalidArgumentError(absl::StrCat("a threshold of ", threshold, " for ",
                                                   points.size(), " participants; allowed: 1 to ",
                                                   points.size()));
  }
  std::set<uint64_t> distinct;
  for (uint64_t x : points) {
    if (absl::Status status = CheckPoint(x); !status.ok()) return status;
    if (!distinct.insert(x).second) {
      return absl::InvalidArgumentError(absl::StrCat("point ", x, " is given twice"));
    }
  }
  // coefficients[limb][degree]; degree 0 is the secret's limb.
  std::array<std::vector<uint64_t>, kShamirLimbs> coefficients;
  const std::array<uint64_t, kShamirLimbs> limbs = ToLimbs(secret);
  for (int limb = 0; limb < kShamirLimbs; ++limb) {
    coefficients[limb].push_back(limbs[limb]);
    for (uint32_t degree = 1; degree < threshold; ++degree) {
      absl::StatusOr<uint64_t> coefficient = RandomElement();
      if (!coefficient.ok()) return coefficient.status();
      coefficients[limb].push_back(*coefficient);
    }
  }
  std::vector<ShamirShare> shares;
  shares.reserve(points.size());
  for (uint64_t x : points) {
    ShamirShare share;
    share.x = x;
    for (int limb = 0; limb < kShamirLimbs; ++limb) {
      // Horner's rule from the highest degree down.
      uint64_t value = 0;
      for (auto coefficient = coefficients[limb].rbegin(); coefficient != coefficients[limb].rend();
           ++coefficient) {
        value = Add(Multiply(value, x), *coefficient);
      }
      share.values[limb] = value;
    }
    shares.push_back(share);
  }
  return shares;
}

absl::StatusOr<Key32> ReconstructSecret(std::span<const ShamirShare> shares, uint32_t threshold) {
  if (threshold < 1 || shares.size() < threshold) {
    return absl::FailedPreconditionError(absl::StrCat("rebuilding a secret needs ", threshold,
                                                      " shares; ", shares.size(), " were given"));
  }
  const std::span<const ShamirShare> used = shares.first(threshold);
  std::set<uint64_t> distinct;
  for (const ShamirShare& share : used) {
    if (absl::Status status = CheckPoint(share.x); !status.ok()) return status;
    if (!distinct.insert(share.x).second) {
      return absl::InvalidArgumentError(absl::StrCat("two shares of point ", share.x));
    }
    for (uint64_t value : share.values) {
      if (value >= kPrime) return absl::InvalidArgumentError("a share value is not in the field");
    }
  }
  // Lagrange interpolation at 0: secret = Σ_j y_j Π_{m≠j} x_m / (x_m - x_j).
  std::array<uint64_t, kShamirLimbs> limbs{};
  for (size_t j = 0; j < used.size(); ++j) {
    uint64_t numerator = 1;
    uint64_t denominator = 1;
    for (size_t m = 0; m < used.size(); ++m) {
      if (m == j) continue;
      numerator = Multiply(numerator, used[m].x);
      denominator = Multiply(denominator, Subtract(used[m].x, used[j].x));
    }
    const uint64_t basis = Multiply(numerator, Inverse(denominator));
    for (int limb = 0; limb < kShamirLimbs; ++limb) {
      limbs[limb] = Add(limbs[limb], Multiply(used[j].values[limb], basis));
    }
  }
  Key32 secret{};
  for (size_t byte = 0; byte < secret.size(); ++byte) {
    secret[byte] = static_cast<uint8_t>(limbs[byte / kLimbBytes] >> (8 * (byte % kLimbBytes)));
  }
  // Shares of one 32-byte secret give limbs of 56 bits (the last of 32).
  for (int limb = 0; limb < kShamirLimbs; ++limb) {
    const int bits = limb + 1 < kShamirLimbs ? 8 * kLimbBytes : 8 * (32 - 4 * kLimbBytes);
    if (limbs[limb] >> bits != 0) {
      return absl::InvalidArgumentError(
          "the shares do not rebuild a 32-byte secret: they are inconsistent");
    }
  }
  return secret;
}

}  // namespace equifl::aggregation
