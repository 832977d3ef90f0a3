#include "protocol/torch/torch_tensors.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "protocol/torch/torch_status.h"

namespace equifl::protocol {
namespace {

// The element types the wire carries, as LibTorch and as equifl.v1 name them.
struct TypePair {
  at::ScalarType torch;
  v1::DataType wire;
};
constexpr TypePair kWireTypes[] = {
    {at::kFloat, v1::DATA_TYPE_FLOAT32}, {at::kDouble, v1::DATA_TYPE_FLOAT64},
    {at::kHalf, v1::DATA_TYPE_FLOAT16},  {at::kBFloat16, v1::DATA_TYPE_BFLOAT16},
    {at::kLong, v1::DATA_TYPE_INT64},    {at::kInt, v1::DATA_TYPE_INT32},
    {at::kByte, v1::DATA_TYPE_UINT8},    {at::kBool, v1::DATA_TYPE_BOOL}};

absl::StatusOr<v1::DataType> WireDataType(const NamedTensor& named) {
  for (const TypePair& pair : kWireTypes) {
    if (pair.torch == named.tensor.scalar_type()) return pair.wire;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "tensor '", named.name, "' has type ", std::string(c10::toString(named.tensor.scalar_type())),
      ", which the wire does not carry"));
}

absl::StatusOr<at::ScalarType> TorchScalarType(const v1::TensorSpec& spec) {
  for (const TypePair& pair : kWireTypes) {
    if (pair.wire == spec.data_type()) return pair.torch;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("tensor '", spec.name(), "' has ", DataTypeName(spec.data_type())));
}

absl::Status RequireContiguousCpu(const NamedTensor& named) {
  if (!named.tensor.defined()) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", named.name, "' is undefined"));
  }
  if (!named.tensor.device().is_cpu() || !named.tensor.is_contiguous()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", named.name, "' is not a contiguous CPU tensor; call ToContiguousCpu"));
  }
  return absl::OkStatus();
}

std::vector<int64_t> ShapeOf(const at::Tensor& tensor) {
  return {tensor.sizes().begin(), tensor.sizes().end()};
}

}  // namespace

absl::StatusOr<std::vector<NamedTensor>> ToContiguousCpu(const std::vector<NamedTensor>& tensors) {
  std::vector<NamedTensor> result;
  result.reserve(tensors.size());
  for (const NamedTensor& named : tensors) {
    if (!named.tensor.defined()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", named.name, "' is undefined"));
    }
    EQUIFL_RETURN_IF_ERROR(WireDataType(named).status());
    EQUIFL_ASSIGN_OR_RETURN(
        at::Tensor copy,
        TorchCall(absl::StrCat("copying tensor '", named.name, "' to the CPU failed"),
                  [&] { return named.tensor.detach().to(at::kCPU).contiguous(); }));
    result.push_back({named.name, std::move(copy)});
  }
  return result;
}

absl::StatusOr<std::vector<TensorView>> ViewsOf(const std::vector<NamedTensor>& tensors) {
  std::vector<TensorView> views;
  views.reserve(tensors.size());
  for (const NamedTensor& named : tensors) {
    EQUIFL_RETURN_IF_ERROR(RequireContiguousCpu(named));
    EQUIFL_ASSIGN_OR_RETURN(v1::DataType data_type, WireDataType(named));
    views.push_back(
        {named.name,
         data_type,
         ShapeOf(named.tensor),
         {static_cast<const std::byte*>(named.tensor.data_ptr()), named.tensor.nbytes()}});
  }
  return views;
}

absl::StatusOr<std::vector<MutableTensorView>> MutableViewsOf(std::vector<NamedTensor>& tensors) {
  std::vector<MutableTensorView> views;
  views.reserve(tensors.size());
  for (NamedTensor& named : tensors) {
    EQUIFL_RETURN_IF_ERROR(RequireContiguousCpu(named));
    EQUIFL_ASSIGN_OR_RETURN(v1::DataType data_type, WireDataType(named));
    views.push_back({named.name,
                     data_type,
                     ShapeOf(named.tensor),
                     {static_cast<std::byte*>(named.tensor.data_ptr()), named.tensor.nbytes()}});
  }
  return views;
}

absl::StatusOr<std::vector<NamedTensor>> AllocateFor(const v1::TensorManifest& manifest,
                                                     const DecoderLimits& limits) {
  EQUIFL_RETURN_IF_ERROR(ValidateManifest(manifest, limits));
  std::vector<NamedTensor> tensors;
  tensors.reserve(manifest.tensors_size());
  for (const v1::TensorSpec& spec : manifest.tensors()) {
    EQUIFL_ASSIGN_OR_RETURN(at::ScalarType scalar_type, TorchScalarType(spec));
    const at::IntArrayRef shape(spec.shape().data(), spec.shape_size());
    EQUIFL_ASSIGN_OR_RETURN(
        at::Tensor tensor,
        TorchCall(
            absl::StrCat("allocating tensor '", spec.name(), "' failed"),
            [&] { return at::empty(shape, at::TensorOptions().dtype(scalar_type)); },
            absl::StatusCode::kResourceExhausted));
    tensors.push_back({spec.name(), std::move(tensor)});
  }
  return tensors;
}

}  // namespace equifl::protocol
