#include "protocol/chunk_decoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "protocol/encoding.h"
#include "protocol/internal/streaming_copy.h"

namespace equifl::protocol {
namespace {

bool SameShape(const v1::TensorSpec& spec, const std::vector<int64_t>& shape) {
  return std::equal(spec.shape().begin(), spec.shape().end(), shape.begin(), shape.end());
}

// OK when the `count` float32 values at `bytes` are finite; else names the first
// that is not by its element index in tensor `name`.
absl::Status CheckFinite(const std::string& name, uint64_t first_element, const std::byte* bytes,
                         uint64_t count) {
  uint32_t non_finite = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, bytes + i * sizeof(float), sizeof bits);
    non_finite |= static_cast<uint32_t>((bits & 0x7FFFFFFFu) >= 0x7F800000u);
  }
  if (non_finite == 0) return absl::OkStatus();
  for (uint64_t i = 0; i < count; ++i) {
    float value;
    std::memcpy(&value, bytes + i * sizeof(float), sizeof value);
    if (!std::isfinite(value)) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' element ",
                                                     first_element + i, " is ", value,
                                                     "; values must be finite"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateManifest(const v1::TensorManifest& manifest, const DecoderLimits& limits) {
  if (EncodedElementSize(manifest.encoding()) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest has ", EncodingName(manifest.encoding()),
                     "; this receiver knows fp32, fp16, bf16 and int8"));
  }
  if (manifest.max_chunk_bytes() == 0 || manifest.max_chunk_bytes() > limits.max_chunk_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("manifest announces chunks of up to ", manifest.max_chunk_bytes(),
                     " bytes; this receiver accepts 1 to ", limits.max_chunk_bytes));
  }
  if (static_cast<size_t>(manifest.tensors_size()) > limits.max_tensors) {
    return absl::ResourceExhaustedError(absl::StrCat("manifest has ", manifest.tensors_size(),
                                                     " tensors; this receiver accepts at most ",
                                                     limits.max_tensors));
  }
  std::unordered_set<std::string_view> names;
  uint64_t payload_bytes = 0;
  for (const v1::TensorSpec& spec : manifest.tensors()) {
    if (spec.name().empty()) {
      return absl::InvalidArgumentError("manifest has a tensor without a name");
    }
    if (!names.insert(spec.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("manifest names tensor '", spec.name(), "' twice"));
    }
    const size_t element_size = ElementSize(spec.data_type());
    if (element_size == 0) {
      return absl::InvalidArgumentError(absl::StrCat("manifest gives tensor '", spec.name(), "' ",
                                                     DataTypeName(spec.data_type())));
    }
    EQUIFL_ASSIGN_OR_RETURN(
        uint64_t count,
        ElementCount({spec.shape().data(), static_cast<size_t>(spec.shape_size())}, spec.name()));
    if (count > (limits.max_payload_bytes - payload_bytes) / element_size) {
      return absl::ResourceExhaustedError(
          absl::StrCat("manifest describes more than ", limits.max_payload_bytes,
                       " bytes of tensors (the receiver's limit) at tensor '", spec.name(), "'"));
    }
    payload_bytes += count * element_size;
  }
  return absl::OkStatus();
}

absl::StatusOr<ChunkDecoder> ChunkDecoder::Create(const v1::TensorManifest& manifest,
                                                  std::vector<MutableTensorView> destinations,
                                                  const DecoderLimits& limits) {
  EQUIFL_RETURN_IF_ERROR(ValidateManifest(manifest, limits));
  std::unordered_map<std::string_view, size_t> by_name;
  for (size_t index = 0; index < destinations.size(); ++index) {
    by_name.emplace(destinations[index].name, index);
  }
  ChunkDecoder decoder;
  decoder.encoding_ = manifest.encoding();
  decoder.announced_chunks_ = manifest.chunk_count();
  decoder.announced_checksum_ = manifest.checksum();
  decoder.max_chunk_bytes_ = manifest.max_chunk_bytes();
  decoder.require_finite_ = limits.require_finite;
  for (const v1::TensorSpec& spec : manifest.tensors()) {
    auto found = by_name.find(spec.name());
    if (found == by_name.end()) {
      return absl::InvalidArgumentError(absl::StrCat("manifest names tensor '", spec.name(),
                                                     "', which this receiver does not have"));
    }
    MutableTensorView& destination = destinations[found->second];
    if (spec.data_type() != destination.data_type) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", spec.name(), "' arrives as ", DataTypeName(spec.data_type()),
                       " but the receiver holds ", DataTypeName(destination.data_type)));
    }
    if (!SameShape(spec, destination.shape)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", spec.name(), "' arrives with shape ",
                       ShapeToString({spec.shape().data(), static_cast<size_t>(spec.shape_size())}),
                       " but the receiver holds ", ShapeToString(destination.shape)));
    }
    EQUIFL_ASSIGN_OR_RETURN(uint64_t count, ElementCount(destination.shape, destination.name));
    if (destination.bytes.size() != count * ElementSize(destination.data_type)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "receiver's memory for tensor '", spec.name(), "' has ", destination.bytes.size(),
          " bytes, expected ", count * ElementSize(destination.data_type)));
    }
    decoder.element_counts_.push_back(count);
    decoder.destinations_.push_back(std::move(destination));
    by_name.erase(found);
  }
  if (!by_name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("manifest lacks tensor '",
                                                   std::string(by_name.begin()->first),
                                                   "' that the receiver expects"));
  }
  decoder.SkipEmptyTensors();
  return decoder;
}

void ChunkDecoder::SkipEmptyTensors() {
  while (expected_tensor_ < destinations_.size() && element_counts_[expected_tensor_] == 0) {
    ++expected_tensor_;
  }
}

absl::Status ChunkDecoder::Accept(const v1::TensorChunk& chunk) {
  if (error_.ok()) error_ = AcceptChecked(chunk);
  return error_;
}

absl::Status ChunkDecoder::AcceptChecked(const v1::TensorChunk& chunk) {
  if (received_chunks_ == announced_chunks_) {
    return absl::InvalidArgumentError(absl::StrCat("received more chunks than the ",
                                                   announced_chunks_, " the manifest announced"));
  }
  const size_t index = chunk.tensor_index();
  if (index >= destinations_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("chunk names tensor #", index,
                                                   " but the manifest has ", destinations_.size()));
  }
  const MutableTensorView& destination = destinations_[index];
  const auto position = std::make_pair(index, chunk.element_offset());
  const auto expected = std::make_pair(expected_tensor_, expected_element_);
  if (position < expected) {
    return absl::InvalidArgumentError(absl::StrCat("duplicated chunk: tensor '", destination.name,
                                                   "' from element ", chunk.element_offset(),
                                                   " was already received"));
  }
  if (position > expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        "chunk out of order or missing: expected tensor '", destinations_[expected_tensor_].name,
        "' from element ", expected_element_, ", got tensor '", destination.name, "' from element ",
        chunk.element_offset()));
  }
  const uint64_t count = chunk.element_count();
  if (count == 0 || count > element_counts_[index] - chunk.element_offset()) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk of tensor '", destination.name, "' claims ", count, " elements from ",
                     chunk.element_offset(), "; the tensor has ", element_counts_[index]));
  }
  if (chunk.data().size() > max_chunk_bytes_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("chunk of tensor '", destination.name, "' has ", chunk.data().size(),
                     " bytes, above the manifest's max_chunk_bytes ", max_chunk_bytes_));
  }
  const bool encoded = destination.data_type == v1::DATA_TYPE_FLOAT32;
  const size_t element_size = ElementSize(destination.data_type);
  const size_t wire_size = encoded ? EncodedElementSize(encoding_) : element_size;
  if (chunk.data().size() != count * wire_size) {
    return absl::InvalidArgumentError(absl::StrCat("chunk of tensor '", destination.name, "' has ",
                                                   chunk.data().size(), " bytes for ", count,
                                                   " elements; expected ", count * wire_size));
  }
  if (encoded && encoding_ == v1::ENCODING_INT8 &&
      !(std::isfinite(chunk.scale()) && chunk.scale() >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("chunk of tensor '", destination.name,
                                                   "' has int8 scale ", chunk.scale(),
                                                   "; a scale must be finite and non-negative"));
  }

  std::span<std::byte> target =
      destination.bytes.subspan(chunk.element_offset() * element_size, count * element_size);
  const auto* data = reinterpret_cast<const std::byte*>(chunk.data().data());
  if (encoded && encoding_ != v1::ENCODING_FLOAT32) {
    DecodeFloat32({data, chunk.data().size()}, encoding_, chunk.scale(),
                  {reinterpret_cast<float*>(target.data()), count});
    hasher_.Update(target);
    if (require_finite_) {
      EQUIFL_RETURN_IF_ERROR(
          CheckFinite(destination.name, chunk.element_offset(), target.data(), count));
    }
  } else {
    // Verbatim bytes: hash (and check) them while the chunk is in cache, then write
    // the cold destination without reading it first.
    hasher_.Update({data, target.size()});
    if (encoded && require_finite_) {
      EQUIFL_RETURN_IF_ERROR(CheckFinite(destination.name, chunk.element_offset(), data, count));
    }
    internal::StreamingCopy(target.data(), data, target.size());
  }

  ++received_chunks_;
  expected_element_ += count;
  if (expected_element_ == element_counts_[index]) {
    ++expected_tensor_;
    expected_element_ = 0;
    SkipEmptyTensors();
  }
  return absl::OkStatus();
}

absl::Status ChunkDecoder::Finish() && {
  EQUIFL_RETURN_IF_ERROR(error_);
  if (expected_tensor_ < destinations_.size()) {
    return absl::DataLossError(
        absl::StrCat("stream truncated after ", received_chunks_, " of ", announced_chunks_,
                     " chunks: tensor '", destinations_[expected_tensor_].name, "' has ",
                     expected_element_, " of ", element_counts_[expected_tensor_], " elements"));
  }
  if (received_chunks_ != announced_chunks_) {
    return absl::DataLossError(absl::StrCat("stream ended after ", received_chunks_,
                                            " chunks; the manifest announced ", announced_chunks_));
  }
  if (const uint64_t checksum = hasher_.Digest(); checksum != announced_checksum_) {
    return absl::DataLossError(absl::StrFormat(
        "checksum mismatch: decoded payload hashes to %016x, the manifest says %016x", checksum,
        announced_checksum_));
  }
  return absl::OkStatus();
}

}  // namespace equifl::protocol
