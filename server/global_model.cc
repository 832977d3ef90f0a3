#include "server/global_model.h"

#include <cassert>
#include <cstring>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace equifl::server {

absl::StatusOr<GlobalModel> GlobalModel::FromTensors(
    const std::vector<protocol::TensorView>& tensors) {
  GlobalModel model;
  std::unordered_set<std::string> names;
  size_t total = 0;
  for (const protocol::TensorView& tensor : tensors) {
    if (tensor.data_type != v1::DATA_TYPE_FLOAT32) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", tensor.name, "' is ", protocol::DataTypeName(tensor.data_type),
                       "; the aggregator averages float32 tensors only"));
    }
    if (!names.insert(tensor.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", tensor.name, "' appears twice"));
    }
    EQUIFL_ASSIGN_OR_RETURN(uint64_t count, protocol::ElementCount(tensor.shape, tensor.name));
    if (tensor.bytes.size() != count * sizeof(float)) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", tensor.name, "' has ",
                                                     tensor.bytes.size(), " bytes for ", count,
                                                     " float32 values"));
    }
    model.layout_.push_back({tensor.name, tensor.shape, total, count});
    total += count;
  }
  model.values_.resize(total);
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].bytes.empty()) continue;  // memcpy must not see a null pointer.
    std::memcpy(model.values_.data() + model.layout_[i].offset, tensors[i].bytes.data(),
                tensors[i].bytes.size());
  }
  return model;
}

std::vector<protocol::TensorView> GlobalModel::Views() const {
  std::vector<protocol::TensorView> views;
  views.reserve(layout_.size());
  for (const Entry& entry : layout_) {
    views.push_back({entry.name, v1::DATA_TYPE_FLOAT32, entry.shape,
                     std::as_bytes(std::span(values_).subspan(entry.offset, entry.count))});
  }
  return views;
}

std::vector<protocol::MutableTensorView> GlobalModel::MutableViewsOver(
    std::span<float> buffer) const {
  assert(buffer.size() == values_.size());
  std::vector<protocol::MutableTensorView> views;
  views.reserve(layout_.size());
  for (const Entry& entry : layout_) {
    views.push_back({entry.name, v1::DATA_TYPE_FLOAT32, entry.shape,
                     std::as_writable_bytes(buffer.subspan(entry.offset, entry.count))});
  }
  return views;
}

}  // namespace equifl::server
