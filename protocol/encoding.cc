#include "protocol/encoding.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "protocol/half_precision.h"

namespace equifl::protocol {
namespace {

// Smallest magnitudes that round to infinity in each 16-bit format.
constexpr float kHalfOverflow = 65520.0f;
constexpr float kBFloat16Overflow = 3.3961775e38f;  // bits 0x7F7F8000

// The magnitude bits of a float: for non-negative floats the order of these bits as
// unsigned integers is the order of the values, with infinity and NaN above every
// finite value. Integer loops over them vectorise without -ffast-math.
uint32_t MagnitudeBits(float value) { return std::bit_cast<uint32_t>(value) & 0x7FFFFFFFu; }

constexpr uint32_t kInfinityBits = 0x7F800000u;

// Index of the first finite value whose magnitude is >= `limit`, or -1.
ptrdiff_t FirstFiniteAtOrBeyond(std::span<const float> values, float limit) {
  const uint32_t limit_bits = std::bit_cast<uint32_t>(limit);
  uint32_t any = 0;
  for (float value : values) {
    const uint32_t bits = MagnitudeBits(value);
    any |= static_cast<uint32_t>(bits >= limit_bits) & static_cast<uint32_t>(bits < kInfinityBits);
  }
  if (!any) return -1;
  for (size_t i = 0; i < values.size(); ++i) {
    const uint32_t bits = MagnitudeBits(values[i]);
    if (bits >= limit_bits && bits < kInfinityBits) return static_cast<ptrdiff_t>(i);
  }
  return -1;
}

absl::Status OutOfRange(absl::string_view encoding, float value, absl::string_view hint) {
  return absl::OutOfRangeError(
      absl::StrCat("value ", value, " cannot be encoded as ", encoding, ": ", hint));
}

absl::Status EncodeInt8(std::span<const float> values, std::string& out, float& scale) {
  uint32_t max_bits = 0;
  for (float value : values) max_bits = std::max(max_bits, MagnitudeBits(value));
  if (max_bits >= kInfinityBits) {
    for (float value : values) {
      if (!std::isfinite(value)) {
        return OutOfRange("int8", value, "int8 needs finite values; use fp32 or fp16");
      }
    }
  }
  const float max_magnitude = std::bit_cast<float>(max_bits);
  scale = max_magnitude / 127.0f;
  auto* quantised = reinterpret_cast<int8_t*>(out.data());
  if (max_magnitude == 0.0f) {
    std::memset(quantised, 0, values.size());
    return absl::OkStatus();
  }
  const float inverse_scale = 127.0f / max_magnitude;
  for (size_t i = 0; i < values.size(); ++i) {
    const float scaled = std::clamp(values[i] * inverse_scale, -127.0f, 127.0f);
    // Round half away from zero: add a signed half, then truncate toward zero.
    quantised[i] = static_cast<int8_t>(static_cast<int32_t>(scaled + std::copysign(0.5f, scaled)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::Encoding> ParseEncoding(absl::string_view name) {
  // The long names, accepted beside the short ones that messages list.
  static constexpr EnumName<v1::Encoding> kLongNames[] = {{v1::ENCODING_FLOAT32, "float32"},
                                                          {v1::ENCODING_FLOAT16, "float16"},
                                                          {v1::ENCODING_BFLOAT16, "bfloat16"}};
  for (const EnumName<v1::Encoding>& entry : kLongNames) {
    if (entry.name == name) return entry.value;
  }
  return ParseEnum<v1::Encoding>("encoding", name);
}

std::string EncodingName(v1::Encoding encoding) {
  if (!IsNamed(encoding)) return absl::StrCat("unknown encoding ", static_cast<int>(encoding));
  return std::string(NameOf(encoding));
}

size_t EncodedElementSize(v1::Encoding encoding) {
  switch (encoding) {
    case v1::ENCODING_FLOAT32:
      return 4;
    case v1::ENCODING_FLOAT16:
    case v1::ENCODING_BFLOAT16:
      return 2;
    case v1::ENCODING_INT8:
      return 1;
    default:
      return 0;
  }
}

absl::Status EncodeFloat32(std::span<const float> values, v1::Encoding encoding, std::string& out,
                           float& scale) {
  scale = 0.0f;
  out.resize(values.size() * EncodedElementSize(encoding));
  switch (encoding) {
    case v1::ENCODING_FLOAT32:
      std::memcpy(out.data(), values.data(), values.size_bytes());
      return absl::OkStatus();
    case v1::ENCODING_FLOAT16:
      if (ptrdiff_t i = FirstFiniteAtOrBeyond(values, kHalfOverflow); i >= 0) {
        return OutOfRange("fp16", values[i], "fp16 holds magnitudes up to 65504; use bf16");
      }
      FloatsToHalves(values, reinterpret_cast<uint16_t*>(out.data()));
      return absl::OkStatus();
    case v1::ENCODING_BFLOAT16:
      if (ptrdiff_t i = FirstFiniteAtOrBeyond(values, kBFloat16Overflow); i >= 0) {
        return OutOfRange("bf16", values[i], "bf16 holds magnitudes up to 3.39e38; use fp32");
      }
      FloatsToBFloat16s(values, reinterpret_cast<uint16_t*>(out.data()));
      return absl::OkStatus();
    case v1::ENCODING_INT8:
      return EncodeInt8(values, out, scale);
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("cannot encode with ", EncodingName(encoding)));
  }
}

void DecodeFloat32(std::span<const std::byte> data, v1::Encoding encoding, float scale,
                   std::span<float> values) {
  switch (encoding) {
    case v1::ENCODING_FLOAT32:
      std::memcpy(values.data(), data.data(), values.size_bytes());
      break;
    case v1::ENCODING_FLOAT16:
      HalvesToFloats(reinterpret_cast<const uint16_t*>(data.data()), values);
      break;
    case v1::ENCODING_BFLOAT16:
      BFloat16sToFloats(reinterpret_cast<const uint16_t*>(data.data()), values);
      break;
    case v1::ENCODING_INT8: {
      const auto* quantised = reinterpret_cast<const int8_t*>(data.data());
      for (size_t i = 0; i < values.size(); ++i) {
        values[i] = static_cast<float>(quantised[i]) * scale;
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace equifl::protocol
