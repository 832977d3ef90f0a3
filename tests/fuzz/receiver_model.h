// The model the decoding fuzz targets receive tensors into, and the seed writer
// encodes (its float32 tensors are upload_fuzzer.cc's global model): a few tensors of every kind
// the codec treats differently (float32, which travels encoded and may span several 1 KiB chunks;
// other types, which travel verbatim; a scalar; an empty tensor the stream skips).
#ifndef EQUIFL_TESTS_FUZZ_RECEIVER_MODEL_H_
#define EQUIFL_TESTS_FUZZ_RECEIVER_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "equifl/v1/tensor.pb.h"
#include "protocol/tensor_view.h"

namespace equifl::fuzz {

//! The receiver's tensors, zero-filled, in memory it owns.
class ReceiverModel {
 public:
  ReceiverModel() {
    for (const Spec& spec : kSpecs) {
      uint64_t count = 1;
      for (int64_t dimension : spec.shape) count *= static_cast<uint64_t>(dimension);
      buffers_.emplace_back(count * protocol::ElementSize(spec.data_type));
    }
  }

  //! Writable views for a decoder.
  std::vector<protocol::MutableTensorView> MutableViews() {
    std::vector<protocol::MutableTensorView> views;
    for (size_t index = 0; index < kSpecs.size(); ++index) {
      views.push_back({kSpecs[index].name, kSpecs[index].data_type, kSpecs[index].shape,
                       std::span(buffers_[index])});
    }
    return views;
  }

  //! Read-only views for an encoder.
  std::vector<protocol::TensorView> Views() const {
    std::vector<protocol::TensorView> views;
    for (size_t index = 0; index < kSpecs.size(); ++index) {
      views.push_back({kSpecs[index].name, kSpecs[index].data_type, kSpecs[index].shape,
                       std::span(buffers_[index])});
    }
    return views;
  }

  //! The float32 tensors only: the server's global model in upload_fuzzer.cc.
  std::vector<protocol::TensorView> Float32Views() const {
    std::vector<protocol::TensorView> views = Views();
    std::erase_if(views, [](const protocol::TensorView& view) {
      return view.data_type != v1::DATA_TYPE_FLOAT32;
    });
    return views;
  }

  //! Fills float32 tensors with small finite values and the others with bytes
  //! valid for their type (booleans 0 or 1), so seeds carry more than zeros.
  void FillPattern() {
    for (size_t index = 0; index < kSpecs.size(); ++index) {
      std::vector<std::byte>& bytes = buffers_[index];
      if (kSpecs[index].data_type == v1::DATA_TYPE_FLOAT32) {
        for (size_t element = 0; element < bytes.size() / sizeof(float); ++element) {
          const float value = static_cast<float>(static_cast<int>(element % 17) - 8) / 16.0f;
          std::memcpy(bytes.data() + element * sizeof(float), &value, sizeof value);
        }
      } else {
        for (size_t byte = 0; byte < bytes.size(); ++byte) bytes[byte] = std::byte(byte % 2);
      }
    }
  }

 private:
  struct Spec {
    std::string name;
    v1::DataType data_type;
    std::vector<int64_t> shape;
  };
  inline static const std::vector<Spec> kSpecs = {
      {"encoder.weight", v1::DATA_TYPE_FLOAT32, {16, 20}},  // 1280 bytes: two fp32 chunks
      {"encoder.bias", v1::DATA_TYPE_FLOAT32, {20}},
      {"head.weight", v1::DATA_TYPE_BFLOAT16, {2, 3}},
      {"steps", v1::DATA_TYPE_INT64, {}},
      {"empty", v1::DATA_TYPE_FLOAT32, {0, 4}},
      {"mask", v1::DATA_TYPE_BOOL, {3}},
  };

  std::vector<std::vector<std::byte>> buffers_;
};

}  // namespace equifl::fuzz

#endif  // EQUIFL_TESTS_FUZZ_RECEIVER_MODEL_H_
