// The global model as the aggregator holds it: named float32 tensors laid out
// back to back in one flat buffer.
//
// The server never needs to know the model's architecture: it only averages
// updates, element by element, and the flat layout lets aggregation and the
// server optimisers work on one contiguous span. Updates from clients are decoded
// straight into buffers of the same layout (MutableViewsOver).
#ifndef EQUIFL_SERVER_GLOBAL_MODEL_H_
#define EQUIFL_SERVER_GLOBAL_MODEL_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "protocol/tensor_view.h"

namespace equifl::server {

class GlobalModel {
 public:
  //! Copies `tensors` (float32 only; names unique) into a flat buffer.
  static absl::StatusOr<GlobalModel> FromTensors(const std::vector<protocol::TensorView>& tensors);

  //! Views over this model's values, in layout order, for the encoder or a file.
  std::vector<protocol::TensorView> Views() const;

  //! Writable views with this model's layout over `buffer` (of size()) elements.
  std::vector<protocol::MutableTensorView> MutableViewsOver(std::span<float> buffer) const;

  //! All values, in layout order.
  std::span<float> values() { return values_; }
  std::span<const float> values() const { return values_; }

  //! Number of float32 values.
  size_t size() const { return values_.size(); }

 private:
  struct Entry {
    std::string name;            //!< Tensor name.
    std::vector<int64_t> shape;  //!< Tensor shape.
    size_t offset = 0;           //!< First value in values_.
    size_t count = 0;            //!< Number of values.
  };

  std::vector<Entry> layout_;  //!< In the order the tensors were given.
  std::vector<float> values_;  //!< Every tensor's values, back to back.
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_GLOBAL_MODEL_H_
