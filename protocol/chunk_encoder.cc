#include "protocol/chunk_encoder.h"

#include <algorithm>
#include <bit>
#include <string>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "protocol/encoding.h"
#include "protocol/internal/payload_hasher.h"

namespace equifl::protocol {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the wire format is little-endian; big-endian hosts need byte swaps");

std::span<const float> FloatElements(const TensorView& tensor, uint64_t offset, uint64_t count) {
  return {reinterpret_cast<const float*>(tensor.bytes.data()) + offset, count};
}

}  // namespace

absl::Status CodecOptions::Validate() const {
  if (EncodedElementSize(encoding) == 0) {
    return absl::InvalidArgumentError(absl::StrCat("codec encoding is ", EncodingName(encoding),
                                                   "; allowed: fp32, fp16, bf16, int8"));
  }
  if (max_chunk_bytes < kMinChunkBytes || max_chunk_bytes > kMaxChunkBytes) {
    return absl::InvalidArgumentError(absl::StrCat("codec max_chunk_bytes is ", max_chunk_bytes,
                                                   "; allowed: ", kMinChunkBytes, " to ",
                                                   kMaxChunkBytes));
  }
  return absl::OkStatus();
}

ChunkEncoder::ChunkEncoder(std::vector<TensorView> tensors, const CodecOptions& options)
    : tensors_(std::move(tensors)), options_(options) {}

size_t ChunkEncoder::WireElementSize(size_t index) const {
  return tensors_[index].data_type == v1::DATA_TYPE_FLOAT32
             ? EncodedElementSize(options_.encoding)
             : ElementSize(tensors_[index].data_type);
}

void ChunkEncoder::SkipEmptyTensors() {
  while (next_tensor_ < tensors_.size() && element_counts_[next_tensor_] == 0) {
    ++next_tensor_;
  }
}

absl::StatusOr<ChunkEncoder> ChunkEncoder::Create(std::vector<TensorView> tensors,
                                                  const CodecOptions& options) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  ChunkEncoder encoder(std::move(tensors), options);
  v1::TensorManifest& manifest = encoder.manifest_;
  manifest.set_encoding(options.encoding);
  manifest.set_max_chunk_bytes(static_cast<uint32_t>(options.max_chunk_bytes));

  std::unordered_set<std::string_view> names;
  uint64_t chunk_count = 0;
  for (size_t index = 0; index < encoder.tensors_.size(); ++index) {
    const TensorView& tensor = encoder.tensors_[index];
    if (tensor.name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor #", index, " has no name"));
    }
    if (!names.insert(tensor.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor name '", tensor.name, "' appears twice"));
    }
    const size_t element_size = ElementSize(tensor.data_type);
    if (element_size == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", tensor.name, "' has ", DataTypeName(tensor.data_type)));
    }
    EQUIFL_ASSIGN_OR_RETURN(uint64_t count, ElementCount(tensor.shape, tensor.name));
    if (tensor.bytes.size() / element_size != count || tensor.bytes.size() % element_size != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", tensor.name, "' of shape ", ShapeToString(tensor.shape), " and ",
                       DataTypeName(tensor.data_type), " needs ", count * element_size,
                       " bytes but its view has ", tensor.bytes.size()));
    }
    encoder.element_counts_.push_back(count);
    const uint64_t per_chunk = options.max_chunk_bytes / encoder.WireElementSize(index);
    chunk_count += (count + per_chunk - 1) / per_chunk;

    v1::TensorSpec* spec = manifest.add_tensors();
    spec->set_name(tensor.name);
    spec->set_data_type(tensor.data_type);
    spec->mutable_shape()->Add(tensor.shape.begin(), tensor.shape.end());
  }
  manifest.set_chunk_count(chunk_count);

  // The checksum covers what the receiver decodes, so lossy encodings are encoded
  // and decoded here exactly as the receiver will; this also finds values the
  // encoding cannot represent before anything is sent.
  internal::PayloadHasher hasher;
  const bool lossy = options.encoding != v1::ENCODING_FLOAT32;
  std::string encoded;
  std::vector<float> decoded;
  for (size_t index = 0; index < encoder.tensors_.size(); ++index) {
    const TensorView& tensor = encoder.tensors_[index];
    if (!lossy || tensor.data_type != v1::DATA_TYPE_FLOAT32) {
      hasher.Update(tensor.bytes);
      continue;
    }
    const uint64_t per_chunk = options.max_chunk_bytes / encoder.WireElementSize(index);
    for (uint64_t offset = 0; offset < encoder.element_counts_[index]; offset += per_chunk) {
      const uint64_t count = std::min(per_chunk, encoder.element_counts_[index] - offset);
      float scale = 0;
      if (absl::Status status =
              EncodeFloat32(FloatElements(tensor, offset, count), options.encoding, encoded, scale);
          !status.ok()) {
        return absl::Status(status.code(),
                            absl::StrCat("tensor '", tensor.name, "': ", status.message()));
      }
      decoded.resize(count);
      DecodeFloat32(std::as_bytes(std::span(encoded)), options.encoding, scale, decoded);
      hasher.Update(std::as_bytes(std::span(decoded)));
    }
  }
  manifest.set_checksum(hasher.Digest());
  encoder.SkipEmptyTensors();
  return encoder;
}

absl::StatusOr<bool> ChunkEncoder::Next(v1::TensorChunk& chunk) {
  if (next_tensor_ >= tensors_.size()) return false;
  const TensorView& tensor = tensors_[next_tensor_];
  const size_t wire_size = WireElementSize(next_tensor_);
  const uint64_t per_chunk = options_.max_chunk_bytes / wire_size;
  const uint64_t count = std::min(per_chunk, element_counts_[next_tensor_] - next_element_);

  chunk.set_tensor_index(static_cast<uint32_t>(next_tensor_));
  chunk.set_element_offset(next_element_);
  chunk.set_element_count(count);
  if (tensor.data_type == v1::DATA_TYPE_FLOAT32) {
    float scale = 0;
    EQUIFL_RETURN_IF_ERROR(EncodeFloat32(FloatElements(tensor, next_element_, count),
                                         options_.encoding, *chunk.mutable_data(), scale));
    chunk.set_scale(scale);
  } else {
    const size_t element_size = ElementSize(tensor.data_type);
    chunk.mutable_data()->assign(
        reinterpret_cast<const char*>(tensor.bytes.data()) + next_element_ * element_size,
        count * element_size);
    chunk.set_scale(0);
  }

  next_element_ += count;
  if (next_element_ == element_counts_[next_tensor_]) {
    ++next_tensor_;
    next_element_ = 0;
    SkipEmptyTensors();
  }
  return true;
}

}  // namespace equifl::protocol
