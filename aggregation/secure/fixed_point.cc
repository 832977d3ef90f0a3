#include "aggregation/secure/fixed_point.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace equifl::aggregation {
namespace {

// GCC's 128-bit integers: not ISO C++, which __extension__ says on purpose.
__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 Uint128;

}  // namespace

absl::StatusOr<SignedFixedPoint> SignedFixedPoint::Create(double bound, uint32_t max_addends) {
  if (!(bound > 0) || !std::isfinite(bound)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a fixed-point bound of ", bound, "; allowed: a positive number"));
  }
  if (max_addends == 0) return absl::InvalidArgumentError("a fixed-point sum of 0 addends");
  const int64_t max_word = ((int64_t{1} << 31) - 1) / max_addends;
  return SignedFixedPoint(bound, static_cast<double>(max_word) / bound, max_word);
}

uint32_t SignedFixedPoint::Encode(double value, bool& clamped) const {
  if (std::isnan(value)) {
    clamped = true;
    return 0;
  }
  int64_t word = std::llround(std::clamp(value, -bound_, bound_) * scale_);
  if (value < -bound_ || value > bound_) clamped = true;
  // Rounding at the bound cannot pass max_word_, but keep the guarantee explicit.
  word = std::clamp(word, -max_word_, max_word_);
  return static_cast<uint32_t>(static_cast<int32_t>(word));
}

void EncodeLossSum(double value, uint32_t& low, uint32_t& high, bool& clamped) {
  constexpr double kLimit = 4294967296.0;  // 2^32
  if (!(value >= 0) || value >= kLimit) {
    clamped = true;
    value = value >= kLimit ? kLimit - kLossSumQuantum : 0.0;
  }
  const uint64_t quanta = static_cast<uint64_t>(std::llround(value * 65536.0));
  low = static_cast<uint32_t>(quanta & 0xFFFF);
  high = static_cast<uint32_t>(quanta >> 16);
}

double DecodeLossSum(uint32_t low_sum, uint32_t high_sum) {
  return static_cast<double>(high_sum) + static_cast<double>(low_sum) * kLossSumQuantum;
}

void EncodeExactSum(double value, std::span<uint32_t, kExactSumLimbs> limbs, bool& clamped) {
  if (std::isnan(value) || value > kExactSumBound || value < -kExactSumBound) {
    clamped = true;
    value = std::isnan(value) ? 0.0 : std::clamp(value, -kExactSumBound, kExactSumBound);
  }
  // value · 2^32 is exact; its integer part fits 94 bits. Two's complement
  // modulo 2^128, of which the limbs keep the low 96 bits.
  const auto quanta = static_cast<Int128>(std::nearbyint(std::ldexp(value, 32)));
  const auto bits = static_cast<Uint128>(quanta);
  for (size_t limb = 0; limb < kExactSumLimbs; ++limb) {
    limbs[limb] = static_cast<uint32_t>((bits >> (16 * limb)) & 0xFFFF);
  }
}

double DecodeExactSum(std::span<const uint32_t, kExactSumLimbs> limb_sums) {
  Uint128 total = 0;
  for (size_t limb = 0; limb < kExactSumLimbs; ++limb) {
    total += static_cast<Uint128>(limb_sums[limb]) << (16 * limb);
  }
  constexpr Uint128 kModulus = static_cast<Uint128>(1) << 96;
  total &= kModulus - 1;
  const Int128 quanta = total >= kModulus / 2
                            ? static_cast<Int128>(total) - static_cast<Int128>(kModulus)
                            : static_cast<Int128>(total);
  return std::ldexp(static_cast<double>(quanta), -32);
}

}  // namespace equifl::aggregation
