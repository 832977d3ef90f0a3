// Fuzzes the chunk decoder (protocol/chunk_decoder.h): a manifest and a stream of
// chunks from a peer, decoded into a receiver's tensors.
//
// Input: an options byte, a TensorManifest, then TensorChunks until the input ends
// (tests/fuzz/fuzz_input.h). Options: bit 0 refuses non-finite float32 values (as
// the server does for updates); bit 1 decodes into tensors allocated for the
// manifest (as a client does for a model it has not seen), else into the fixed
// ReceiverModel; bits 2-3 pick the receiver's largest chunk (64 MiB, 16 B, 1 KiB,
// 4 KiB).
//
// Checked beyond "no crash, leak or undefined behaviour": the decoder's error is
// sticky (every call after a refused chunk returns the same error), and a stream
// it accepts delivered every announced element exactly once.
#include <cstdint>
#include <span>
#include <vector>

#include "protocol/chunk_decoder.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/receiver_model.h"
#include "tests/fuzz/require.h"

namespace {

using equifl::fuzz::FuzzInput;
using equifl::fuzz::Require;
using equifl::protocol::ChunkDecoder;
using equifl::protocol::DecoderLimits;
using equifl::protocol::MutableTensorView;

// Memory for the tensors `manifest` announces (ValidateManifest bounds the total
// by limits.max_payload_bytes).
std::vector<MutableTensorView> AllocateFor(const equifl::v1::TensorManifest& manifest,
                                           std::vector<std::vector<std::byte>>& memory) {
  std::vector<MutableTensorView> views;
  memory.reserve(manifest.tensors_size());
  for (const equifl::v1::TensorSpec& spec : manifest.tensors()) {
    const std::vector<int64_t> shape(spec.shape().begin(), spec.shape().end());
    const uint64_t count = *equifl::protocol::ElementCount(shape, spec.name());
    memory.emplace_back(count * equifl::protocol::ElementSize(spec.data_type()));
    views.push_back({spec.name(), spec.data_type(), shape, std::span(memory.back())});
  }
  return views;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput input(data, size);
  const uint8_t options = input.TakeByte();
  DecoderLimits limits;
  limits.require_finite = (options & 1) != 0;
  limits.max_payload_bytes = uint64_t{1} << 20;
  constexpr size_t kChunkLimits[] = {size_t{64} << 20, 16, 1024, 4096};
  limits.max_chunk_bytes = kChunkLimits[(options >> 2) & 3];

  equifl::v1::TensorManifest manifest;
  if (!input.TakeMessage(manifest)) return 0;
  equifl::fuzz::ReceiverModel model;
  std::vector<std::vector<std::byte>> allocated;
  std::vector<MutableTensorView> destinations;
  if ((options & 2) != 0) {
    if (!equifl::protocol::ValidateManifest(manifest, limits).ok()) return 0;
    destinations = AllocateFor(manifest, allocated);
  } else {
    destinations = model.MutableViews();
  }
  absl::StatusOr<ChunkDecoder> decoder =
      ChunkDecoder::Create(manifest, std::move(destinations), limits);
  if (!decoder.ok()) return 0;
  absl::Status first_error;
  uint64_t accepted_elements = 0;
  while (!input.empty()) {
    equifl::v1::TensorChunk chunk;
    if (!input.TakeMessage(chunk)) continue;
    const absl::Status status = decoder->Accept(chunk);
    Require(first_error.ok() || status == first_error, "an error did not stick");
    if (status.ok()) accepted_elements += chunk.element_count();
    if (first_error.ok()) first_error = status;
  }
  const absl::Status finished = std::move(*decoder).Finish();
  Require(first_error.ok() || finished == first_error, "Finish forgot an error");
  if (finished.ok()) {
    uint64_t announced = 0;
    for (const equifl::v1::TensorSpec& spec : manifest.tensors()) {
      const std::vector<int64_t> shape(spec.shape().begin(), spec.shape().end());
      announced += *equifl::protocol::ElementCount(shape, spec.name());
    }
    Require(accepted_elements == announced,
            "an accepted stream did not deliver every element once");
  }
  return 0;
}
