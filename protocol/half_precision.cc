#include "protocol/half_precision.h"

#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace equifl::protocol {
namespace {

constexpr uint32_t kFloatSignMask = 0x80000000u;

#if defined(__x86_64__)
bool HasF16c() {
  // F16C is CPUID.1:ECX bit 29 (read directly: clang 14's __builtin_cpu_supports
  // does not know "f16c"); the builtin checks AVX, with the OS saving its state.
  static const bool has_f16c = [] {
    unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __builtin_cpu_supports("avx") && __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 &&
           (ecx & bit_F16C) != 0;
  }();
  return has_f16c;
}

__attribute__((target("avx,f16c"))) size_t FloatsToHalvesF16c(std::span<const float> values,
                                                              uint16_t* out) {
  size_t i = 0;
  for (; i + 8 <= values.size(); i += 8) {
    __m256 v = _mm256_loadu_ps(values.data() + i);
    __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
  return i;
}

__attribute__((target("avx,f16c"))) size_t HalvesToFloatsF16c(const uint16_t* bits,
                                                              std::span<float> values) {
  size_t i = 0;
  for (; i + 8 <= values.size(); i += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bits + i));
    _mm256_storeu_ps(values.data() + i, _mm256_cvtph_ps(h));
  }
  return i;
}
#endif

}  // namespace

// Round-to-nearest-even float -> half after F. Giesen's float_to_half_fast3_rtne.
uint16_t FloatToHalf(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint32_t sign = bits & kFloatSignMask;
  bits ^= sign;
  uint32_t half;
  if (bits >= (127u + 16u) << 23) {
    // Magnitude >= 2^16, infinity or NaN: infinity, or a quiet NaN that keeps the
    // upper payload bits as the hardware conversion does.
    half = bits > 0x7F800000u ? 0x7E00u | ((bits >> 13) & 0x3FFu) : 0x7C00u;
  } else if (bits < 113u << 23) {
    // The result is subnormal or zero: let float addition do the rounding.
    const float denormal_magic = std::bit_cast<float>(((127u - 15u) + (23u - 10u) + 1u) << 23);
    const float sum = std::bit_cast<float>(bits) + denormal_magic;
    half = std::bit_cast<uint32_t>(sum) - std::bit_cast<uint32_t>(denormal_magic);
  } else {
    const uint32_t mantissa_odd = (bits >> 13) & 1u;
    bits += ((15u - 127u) << 23) + 0xFFFu;
    bits += mantissa_odd;
    half = bits >> 13;
  }
  return static_cast<uint16_t>(half | (sign >> 16));
}

float HalfToFloat(uint16_t half) {
  constexpr uint32_t kShiftedExponent = 0x7C00u << 13;
  uint32_t bits = (half & 0x7FFFu) << 13;
  const uint32_t exponent = bits & kShiftedExponent;
  bits += (127u - 15u) << 23;
  if (exponent == kShiftedExponent) {
    bits += (128u - 16u) << 23;  // Infinity or NaN.
  } else if (exponent == 0) {
    bits += 1u << 23;  // Zero or subnormal: renormalise.
    bits = std::bit_cast<uint32_t>(std::bit_cast<float>(bits) - std::bit_cast<float>(113u << 23));
  }
  return std::bit_cast<float>(bits | (static_cast<uint32_t>(half & 0x8000u) << 16));
}

uint16_t FloatToBFloat16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & ~kFloatSignMask) > 0x7F800000u) {
    return static_cast<uint16_t>((bits >> 16) | 0x40u);  // Quiet NaN.
  }
  const uint32_t rounding_bias = 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding_bias) >> 16);
}

float BFloat16ToFloat(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

void FloatsToHalves(std::span<const float> values, uint16_t* out) {
  size_t done = 0;
#if defined(__x86_64__)
  if (HasF16c()) done = FloatsToHalvesF16c(values, out);
#endif
  for (size_t i = done; i < values.size(); ++i) out[i] = FloatToHalf(values[i]);
}

void HalvesToFloats(const uint16_t* bits, std::span<float> values) {
  size_t done = 0;
#if defined(__x86_64__)
  if (HasF16c()) done = HalvesToFloatsF16c(bits, values);
#endif
  for (size_t i = done; i < values.size(); ++i) values[i] = HalfToFloat(bits[i]);
}

void FloatsToBFloat16s(std::span<const float> values, uint16_t* out) {
  for (size_t i = 0; i < values.size(); ++i) out[i] = FloatToBFloat16(values[i]);
}

void BFloat16sToFloats(const uint16_t* bits, std::span<float> values) {
  for (size_t i = 0; i < values.size(); ++i) values[i] = BFloat16ToFloat(bits[i]);
}

}  // namespace equifl::protocol
