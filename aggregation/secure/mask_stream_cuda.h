// Secure aggregation's masks expanded by a CUDA kernel, for clients that train on
// a GPU: the same ChaCha20 words as mask_stream.h (the kernel calls
// chacha20_block.h's Block), added to or subtracted from a vector modulo 2^32.
// Each thread makes one 16-word block of every mask and adds their sum, so the
// vector crosses device memory once however many masks there are.
//
// Built only with CUDA (EQUIFL_ENABLE_CUDA), which defines EQUIFL_HAVE_CUDA_MASKS;
// callers check that macro, then DeviceMasksAvailable() at run time.
#ifndef EQUIFL_AGGREGATION_SECURE_MASK_STREAM_CUDA_H_
#define EQUIFL_AGGREGATION_SECURE_MASK_STREAM_CUDA_H_

#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aggregation/secure/mask_stream.h"

namespace equifl::aggregation {

//! Whether a CUDA device can be used.
bool DeviceMasksAvailable();

//! ApplyMasks on the GPU: copies `words` to the device, adds every mask there and
//! copies the result back. The same words as ApplyMasks.
absl::Status ApplyMasksOnDevice(std::span<const MaskStream> streams, std::span<uint32_t> words);

//! GB/s of mask words (4 bytes each, `streams` masks over `words` words) the
//! kernel adds on the device, timed with CUDA events over device-resident data.
absl::StatusOr<double> DeviceMaskRate(size_t words, int streams);

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_SECURE_MASK_STREAM_CUDA_H_
