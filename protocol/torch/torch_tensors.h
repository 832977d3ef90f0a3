// The bridge between at::Tensor and the codec's views.
//
// A model state or update held as named at::Tensors is viewed for ChunkEncoder,
// and the tensors a manifest describes are allocated (or matched to existing ones)
// for ChunkDecoder. LibTorch's exceptions stop here and become statuses.
#ifndef EQUIFL_PROTOCOL_TORCH_TORCH_TENSORS_H_
#define EQUIFL_PROTOCOL_TORCH_TORCH_TENSORS_H_

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "equifl/v1/tensor.pb.h"
#include "protocol/chunk_decoder.h"
#include "protocol/tensor_view.h"

namespace equifl::protocol {

//! One tensor of a model state or update.
struct NamedTensor {
  std::string name;   //!< E.g. "encoder.video.weight".
  at::Tensor tensor;  //!< Any device and layout; see the functions below.
};

//! CPU, contiguous copies of `tensors` (no copy where a tensor already is), ready
//! for ViewsOf. Fails for data types the wire does not carry.
absl::StatusOr<std::vector<NamedTensor>> ToContiguousCpu(const std::vector<NamedTensor>& tensors);

//! Views over CPU, contiguous tensors (see ToContiguousCpu). The tensors must
//! outlive the views.
absl::StatusOr<std::vector<TensorView>> ViewsOf(const std::vector<NamedTensor>& tensors);

//! Writable views over CPU, contiguous tensors, for ChunkDecoder.
absl::StatusOr<std::vector<MutableTensorView>> MutableViewsOf(std::vector<NamedTensor>& tensors);

//! Allocates uninitialised CPU tensors for everything `manifest` describes, after
//! ValidateManifest against `limits` so a peer cannot make us allocate without bound.
absl::StatusOr<std::vector<NamedTensor>> AllocateFor(const v1::TensorManifest& manifest,
                                                     const DecoderLimits& limits = {});

}  // namespace equifl::protocol

#endif  // EQUIFL_PROTOCOL_TORCH_TORCH_TENSORS_H_
