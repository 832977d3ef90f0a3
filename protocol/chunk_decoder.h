// Rebuilds a set of named tensors from a manifest and its stream of chunks.
//
// The receiver says what it expects (its destinations: names, types, shapes and
// memory) and the decoder refuses anything else with a status that names the
// tensor and what was wrong: unknown or missing tensors, shape or data type
// mismatches, chunks out of order, duplicated, oversized or truncated, and a
// checksum that does not match what was decoded. Chunks are decoded straight into
// the destinations, so memory stays at the model plus one chunk.
#ifndef EQUIFL_PROTOCOL_CHUNK_DECODER_H_
#define EQUIFL_PROTOCOL_CHUNK_DECODER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "equifl/v1/tensor.pb.h"
#include "protocol/internal/payload_hasher.h"
#include "protocol/tensor_view.h"

namespace equifl::protocol {

//! What a receiver accepts from a peer; anything larger is refused as oversize.
struct DecoderLimits {
  //! Largest chunk data a peer may announce or send.
  size_t max_chunk_bytes = size_t{64} << 20;
  //! Largest decoded payload (sum of all tensors' bytes): 64 GiB.
  uint64_t max_payload_bytes = uint64_t{64} << 30;
  //! Most tensors in one set.
  size_t max_tensors = size_t{1} << 20;
  //! Refuse float32 tensors holding an infinity or NaN (checked per chunk while it
  //! is in cache, so it costs no extra pass over memory). The server sets it for
  //! updates, which must be finite to be averaged.
  bool require_finite = false;
};

//! Checks a manifest on its own: known encoding and data types, unique non-empty
//! names, valid shapes, and sizes within `limits`.
absl::Status ValidateManifest(const v1::TensorManifest& manifest, const DecoderLimits& limits);

class ChunkDecoder {
 public:
  //! Validates `manifest` and matches it against `destinations` by name: every
  //! tensor must exist on both sides with the same data type and shape.
  static absl::StatusOr<ChunkDecoder> Create(const v1::TensorManifest& manifest,
                                             std::vector<MutableTensorView> destinations,
                                             const DecoderLimits& limits = {});

  //! Checks `chunk` and decodes it into its destination. After an error every later
  //! call returns that error.
  absl::Status Accept(const v1::TensorChunk& chunk);

  //! Ends the stream: OK only if every announced chunk arrived and the checksum of
  //! the decoded payload matches the manifest's.
  absl::Status Finish() &&;

 private:
  ChunkDecoder() = default;

  absl::Status AcceptChecked(const v1::TensorChunk& chunk);
  //! Moves the expected position past tensors with no elements.
  void SkipEmptyTensors();

  v1::Encoding encoding_ = v1::ENCODING_UNSPECIFIED;  //!< From the manifest.
  uint64_t announced_chunks_ = 0;                     //!< Manifest's chunk_count.
  uint64_t announced_checksum_ = 0;                   //!< Manifest's checksum.
  size_t max_chunk_bytes_ = 0;                        //!< Manifest's, within limits.
  bool require_finite_ = false;                       //!< DecoderLimits::require_finite.
  std::vector<MutableTensorView> destinations_;       //!< In manifest order.
  std::vector<uint64_t> element_counts_;              //!< In manifest order.
  size_t expected_tensor_ = 0;                        //!< Tensor of the next chunk.
  uint64_t expected_element_ = 0;                     //!< Its first element.
  uint64_t received_chunks_ = 0;                      //!< Chunks accepted so far.
  internal::PayloadHasher hasher_;                    //!< Over decoded bytes.
  absl::Status error_;                                //!< First error, sticky.
};

}  // namespace equifl::protocol

#endif  // EQUIFL_PROTOCOL_CHUNK_DECODER_H_
