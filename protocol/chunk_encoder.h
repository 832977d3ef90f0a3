// Cuts a set of named tensors into a manifest and a stream of bounded chunks.
//
// Create() checks every tensor, plans the chunks and computes the checksum of the
// payload as the receiver will decode it (one pass over the data), so a value the
// encoding cannot represent is reported before anything is sent. Next() then
// fills one chunk at a time, reusing the caller's message, so memory stays at one
// chunk whatever the model's size. The tensors must outlive the encoder.
#ifndef EQUIFL_PROTOCOL_CHUNK_ENCODER_H_
#define EQUIFL_PROTOCOL_CHUNK_ENCODER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "equifl/v1/tensor.pb.h"
#include "protocol/tensor_view.h"

namespace equifl::protocol {

//! How a sender encodes tensors.
struct CodecOptions {
  //! Wire encoding of float32 tensors; other data types travel verbatim.
  v1::Encoding encoding = v1::ENCODING_FLOAT32;
  //! Upper bound on a chunk's data bytes: 1 MiB keeps a chunk in the processor's
  //! cache between encoding and sending, far below gRPC's 4 MiB message limit.
  size_t max_chunk_bytes = size_t{1} << 20;

  static constexpr size_t kMinChunkBytes = size_t{1} << 10;
  static constexpr size_t kMaxChunkBytes = size_t{64} << 20;

  //! OK, or which option is out of range and what is allowed.
  absl::Status Validate() const;
};

class ChunkEncoder {
 public:
  //! Checks names (unique, non-empty), data types, shapes and byte sizes, and that
  //! every value is representable in the encoding; computes the manifest.
  static absl::StatusOr<ChunkEncoder> Create(std::vector<TensorView> tensors,
                                             const CodecOptions& options);

  //! The manifest to send before the chunks (with chunk count and checksum).
  const v1::TensorManifest& manifest() const { return manifest_; }

  //! Fills `chunk` with the next chunk and returns true, or returns false once
  //! every chunk has been produced.
  absl::StatusOr<bool> Next(v1::TensorChunk& chunk);

 private:
  ChunkEncoder(std::vector<TensorView> tensors, const CodecOptions& options);

  //! Bytes per element of tensor `index` on the wire.
  size_t WireElementSize(size_t index) const;
  //! Skips empty tensors from next_tensor_ on.
  void SkipEmptyTensors();

  std::vector<TensorView> tensors_;       //!< The caller's tensors, in send order.
  std::vector<uint64_t> element_counts_;  //!< Elements of each tensor.
  CodecOptions options_;                  //!< Validated options.
  v1::TensorManifest manifest_;           //!< Computed by Create().
  size_t next_tensor_ = 0;                //!< Tensor of the next chunk.
  uint64_t next_element_ = 0;             //!< First element of the next chunk.
};

}  // namespace equifl::protocol

#endif  // EQUIFL_PROTOCOL_CHUNK_ENCODER_H_
