#include "protocol/tensor_view.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace equifl::protocol {

size_t ElementSize(v1::DataType data_type) {
  switch (data_type) {
    case v1::DATA_TYPE_FLOAT64:
    case v1::DATA_TYPE_INT64:
      return 8;
    case v1::DATA_TYPE_FLOAT32:
    case v1::DATA_TYPE_INT32:
      return 4;
    case v1::DATA_TYPE_FLOAT16:
    case v1::DATA_TYPE_BFLOAT16:
      return 2;
    case v1::DATA_TYPE_UINT8:
    case v1::DATA_TYPE_BOOL:
      return 1;
    default:
      return 0;
  }
}

std::string DataTypeName(v1::DataType data_type) {
  switch (data_type) {
    case v1::DATA_TYPE_FLOAT32:
      return "float32";
    case v1::DATA_TYPE_FLOAT64:
      return "float64";
    case v1::DATA_TYPE_FLOAT16:
      return "float16";
    case v1::DATA_TYPE_BFLOAT16:
      return "bfloat16";
    case v1::DATA_TYPE_INT64:
      return "int64";
    case v1::DATA_TYPE_INT32:
      return "int32";
    case v1::DATA_TYPE_UINT8:
      return "uint8";
    case v1::DATA_TYPE_BOOL:
      return "bool";
    default:
      return absl::StrCat("unknown data type ", static_cast<int>(data_type));
  }
}

absl::StatusOr<uint64_t> ElementCount(std::span<const int64_t> shape,
                                      absl::string_view tensor_name) {
  uint64_t count = 1;
  for (int64_t dimension : shape) {
    if (dimension < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", tensor_name, "' has a negative dimension in shape ", ShapeToString(shape)));
    }
    if (dimension != 0 && count > UINT64_MAX / static_cast<uint64_t>(dimension)) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", tensor_name, "' has shape ",
                                                     ShapeToString(shape),
                                                     " whose element count overflows 64 bits"));
    }
    count *= static_cast<uint64_t>(dimension);
  }
  return count;
}

std::string ShapeToString(std::span<const int64_t> shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

}  // namespace equifl::protocol
