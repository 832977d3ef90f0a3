// The wire encodings of float32 elements: names, sizes, encode and decode.
//
// Error bounds, documented in tensor.proto and checked by the tests: FLOAT32 is
// exact; FLOAT16 has relative error <= 2^-11 for normal halves; BFLOAT16 has
// relative error <= 2^-8; INT8 has absolute error <= scale * (1/2 + 2^-14) with one
// scale per chunk. Values an encoding cannot represent are refused, never silently clipped.
#ifndef EQUIFL_PROTOCOL_ENCODING_H_
#define EQUIFL_PROTOCOL_ENCODING_H_

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/enum_names.h"
#include "equifl/v1/tensor.pb.h"

namespace equifl::v1 {

//! "fp32", "fp16", "bf16" and "int8": the encodings' names in configuration files
//! and messages (ENCODING_UNSPECIFIED has none).
inline std::span<const EnumName<Encoding>> EnumNames(Encoding) {
  static constexpr EnumName<Encoding> kNames[] = {{ENCODING_FLOAT32, "fp32"},
                                                  {ENCODING_FLOAT16, "fp16"},
                                                  {ENCODING_BFLOAT16, "bf16"},
                                                  {ENCODING_INT8, "int8"}};
  return kNames;
}

}  // namespace equifl::v1

namespace equifl::protocol {

//! Parses "fp32", "fp16", "bf16" or "int8" (also "float32", "float16",
//! "bfloat16"); the error lists the short names.
absl::StatusOr<v1::Encoding> ParseEncoding(absl::string_view name);

//! The short name ParseEncoding accepts, e.g. "fp16"; "unknown encoding <number>"
//! for a value without one.
std::string EncodingName(v1::Encoding encoding);

//! Bytes per encoded float32 element; 0 for an unknown encoding.
size_t EncodedElementSize(v1::Encoding encoding);

//! Encodes `values` into `out` (resized to values.size() * EncodedElementSize).
//! For INT8, `scale` receives the chunk's scale; otherwise it is set to 0.
//! Fails when a value cannot be represented: a finite value beyond the 16-bit
//! formats' range, or a non-finite value in INT8.
absl::Status EncodeFloat32(std::span<const float> values, v1::Encoding encoding, std::string& out,
                           float& scale);

//! Decodes values.size() elements from `data` (exactly values.size() *
//! EncodedElementSize bytes, checked by the caller).
void DecodeFloat32(std::span<const std::byte> data, v1::Encoding encoding, float scale,
                   std::span<float> values);

}  // namespace equifl::protocol

#endif  // EQUIFL_PROTOCOL_ENCODING_H_
