// Fixed-point numbers modulo 2^32, the arithmetic secure aggregation sums in.
//
// Masks cancel only in exact modular arithmetic, so every value a client puts in
// its masked vector becomes a 32-bit word, and the server decodes the words of
// the sum. Two encodings:
// - SignedFixedPoint: a value clamped to [-bound, bound] becomes
//   round(value · scale) with scale = floor((2^31 - 1) / max_addends) / bound, so
//   the sum of up to max_addends words never wraps and reads back as a signed
//   32-bit integer. Each value is off by at most 1 / (2 · scale) =
//   max_addends · bound / (2 · floor(2^31 - 1)) roughly; a sum of n values by
//   n times that.
// - Two-limb sums (EncodeLossSum): a non-negative value below 2^32 is quantised
//   to multiples of 2^-16 and split into a low limb (16 bits) and a high limb;
//   the sums of each limb over fewer than 2^16 clients do not wrap as long as the
//   summed value stays below 2^32, and the quantisation error is 2^-17 per value.
// - Exact sums (EncodeExactSum): a value of magnitude up to 2^62 is rounded to a
//   multiple of 2^-32 and written as a 96-bit two's-complement integer in six
//   16-bit limbs, one per word; the limb sums over fewer than 2^16 clients do not
//   wrap, and carrying them gives the sum of the rounded values exactly (as long
//   as it stays below 2^63), so the only error is the 2^-33 rounding per value.
// Counts travel as plain words: their sum must stay below 2^32.
#ifndef EQUIFL_AGGREGATION_SECURE_FIXED_POINT_H_
#define EQUIFL_AGGREGATION_SECURE_FIXED_POINT_H_

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"

namespace equifl::aggregation {

class SignedFixedPoint {
 public:
  //! Values in [-bound, bound] (bound > 0, finite), summed over at most
  //! `max_addends` (>= 1) clients.
  static absl::StatusOr<SignedFixedPoint> Create(double bound, uint32_t max_addends);

  //! The word of `value`; values outside [-bound, bound] (and NaN, as 0) are
  //! clamped and `clamped` is set to true.
  uint32_t Encode(double value, bool& clamped) const;

  //! The value of a sum of at most max_addends words.
  double Decode(uint32_t sum) const { return static_cast<int32_t>(sum) / scale_; }

  double bound() const { return bound_; }
  double scale() const { return scale_; }
  //! Largest error of one encoded value: 1 / (2 · scale).
  double max_error() const { return 0.5 / scale_; }

 private:
  SignedFixedPoint(double bound, double scale, int64_t max_word)
      : bound_(bound), scale_(scale), max_word_(max_word) {}

  double bound_;
  double scale_;
  int64_t max_word_;  //!< floor((2^31 - 1) / max_addends).
};

//! Quantum of the two-limb encoding: 2^-16.
inline constexpr double kLossSumQuantum = 1.0 / 65536.0;
//! Clients whose two-limb words can be summed without wrapping.
inline constexpr uint32_t kMaxLossSumAddends = 65535;

//! The low and high limbs of `value` (clamped to [0, 2^32), setting `clamped`).
void EncodeLossSum(double value, uint32_t& low, uint32_t& high, bool& clamped);

//! The sum the limb sums stand for.
double DecodeLossSum(uint32_t low_sum, uint32_t high_sum);

//! Words of one exact sum.
inline constexpr size_t kExactSumLimbs = 6;
//! Values of the exact-sum encoding are rounded to multiples of this (2^-32).
inline constexpr double kExactSumQuantum = 0x1p-32;
//! Values are clamped to this magnitude (2^62); their sums must stay below 2^63.
inline constexpr double kExactSumBound = 0x1p62;
//! Clients whose exact-sum limbs can be summed without wrapping.
inline constexpr uint32_t kMaxExactSumAddends = 65535;

//! The limbs of `value` (clamped to [-2^62, 2^62], NaN to 0, setting `clamped`).
void EncodeExactSum(double value, std::span<uint32_t, kExactSumLimbs> limbs, bool& clamped);

//! The sum that the limb sums of fewer than 2^16 encoded values stand for,
//! rounded once to the nearest double.
double DecodeExactSum(std::span<const uint32_t, kExactSumLimbs> limb_sums);

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_SECURE_FIXED_POINT_H_
