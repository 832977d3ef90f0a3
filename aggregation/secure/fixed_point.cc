#include "aggregation/secure/fixed_point.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace equifl::aggregation {

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

}  // namespace equifl::aggregation
