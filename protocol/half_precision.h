// Conversions between float32 and the two 16-bit float formats on the wire.
//
// Both round to nearest, ties to even, as PyTorch's .half() and .bfloat16() do,
// and keep NaN a (quiet) NaN. The array versions use the F16C instructions when
// the processor has them and give bit-identical results to the scalar ones.
#ifndef EQUIFL_PROTOCOL_HALF_PRECISION_H_
#define EQUIFL_PROTOCOL_HALF_PRECISION_H_

#include <cstdint>
#include <span>

namespace equifl::protocol {

//! IEEE 754 binary16 bits of `value`; values of magnitude >= 65520 become infinity.
uint16_t FloatToHalf(float value);
//! The float32 value of IEEE 754 binary16 bits (exact).
float HalfToFloat(uint16_t bits);
//! bfloat16 bits of `value` (the rounded upper half of its float32 bits).
uint16_t FloatToBFloat16(float value);
//! The float32 value of bfloat16 bits (exact).
float BFloat16ToFloat(uint16_t bits);

//! Element-wise FloatToHalf; `out` has values.size() elements.
void FloatsToHalves(std::span<const float> values, uint16_t* out);
//! Element-wise HalfToFloat; `bits` has values.size() elements.
void HalvesToFloats(const uint16_t* bits, std::span<float> values);
//! Element-wise FloatToBFloat16.
void FloatsToBFloat16s(std::span<const float> values, uint16_t* out);
//! Element-wise BFloat16ToFloat.
void BFloat16sToFloats(const uint16_t* bits, std::span<float> values);

}  // namespace equifl::protocol

#endif  // EQUIFL_PROTOCOL_HALF_PRECISION_H_
