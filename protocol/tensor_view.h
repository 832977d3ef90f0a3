// Non-owning views of named tensors, the codec's input and output.
//
// The codec works on raw bytes so that it needs neither Torch nor a copy: the
// caller keeps the memory alive while an encoder or decoder uses the views.
// torch_tensors.h makes views of at::Tensor.
#ifndef EQUIFL_PROTOCOL_TENSOR_VIEW_H_
#define EQUIFL_PROTOCOL_TENSOR_VIEW_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "equifl/v1/tensor.pb.h"

namespace equifl::protocol {

//! A tensor to be sent: its name, type, shape and contiguous little-endian bytes.
struct TensorView {
  std::string name;                  //!< Unique within the set.
  v1::DataType data_type;            //!< Element type of `bytes`.
  std::vector<int64_t> shape;        //!< Outermost first; empty for a scalar.
  std::span<const std::byte> bytes;  //!< Exactly ElementCount * ElementSize bytes.
};

//! A tensor to be received into: like TensorView, over writable memory.
struct MutableTensorView {
  std::string name;            //!< Unique within the set.
  v1::DataType data_type;      //!< Element type of `bytes`.
  std::vector<int64_t> shape;  //!< Outermost first; empty for a scalar.
  std::span<std::byte> bytes;  //!< Exactly ElementCount * ElementSize bytes.
};

//! Bytes per element of `data_type`; 0 for DATA_TYPE_UNSPECIFIED or unknown values.
size_t ElementSize(v1::DataType data_type);

//! Short name of `data_type`, e.g. "float32", for messages.
std::string DataTypeName(v1::DataType data_type);

//! The number of elements of a tensor of `shape`, or an error naming `tensor_name`
//! when a dimension is negative or the product overflows.
absl::StatusOr<uint64_t> ElementCount(std::span<const int64_t> shape,
                                      absl::string_view tensor_name);

//! "[2, 3]" for messages.
std::string ShapeToString(std::span<const int64_t> shape);

}  // namespace equifl::protocol

#endif  // EQUIFL_PROTOCOL_TENSOR_VIEW_H_
