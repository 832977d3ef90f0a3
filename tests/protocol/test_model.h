// A small model of mixed tensors for codec tests: several chunks per tensor,
// a scalar, an empty tensor and non-float32 tensors that travel verbatim.
#ifndef EQUIFL_TESTS_PROTOCOL_TEST_MODEL_H_
#define EQUIFL_TESTS_PROTOCOL_TEST_MODEL_H_

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "protocol/tensor_view.h"

namespace equifl::protocol {

struct TestTensor {
  std::string name;
  v1::DataType data_type;
  std::vector<int64_t> shape;
  std::vector<std::byte> bytes;
};

class TestModel {
 public:
  explicit TestModel(uint64_t seed = 1) {
    std::mt19937_64 generator(seed);
    std::normal_distribution<float> normal(0.0f, 0.1f);
    AddFloats("encoder.weight", {300, 257}, generator, normal);
    AddFloats("encoder.bias", {257}, generator, normal);
    AddFloats("head.temperature", {}, generator, normal);
    AddFloats("empty", {0, 4}, generator, normal);
    std::vector<int64_t> steps = {7, -3, int64_t{1} << 40};
    Add("optimizer.steps", v1::DATA_TYPE_INT64, {3}, steps.data(), steps.size() * 8);
    std::vector<double> variance = {1e-300, 0.5, 1e300, -2.0, 3.25};
    Add("norm.running_var", v1::DATA_TYPE_FLOAT64, {5}, variance.data(), variance.size() * 8);
  }

  //! A copy of the same tensors with every byte zero, to decode into.
  TestModel ZeroedCopy() const {
    TestModel copy = *this;
    for (TestTensor& tensor : copy.tensors)
      std::fill(tensor.bytes.begin(), tensor.bytes.end(), std::byte{0});
    return copy;
  }

  std::vector<TensorView> Views() const {
    std::vector<TensorView> views;
    for (const TestTensor& tensor : tensors) {
      views.push_back({tensor.name, tensor.data_type, tensor.shape, tensor.bytes});
    }
    return views;
  }

  std::vector<MutableTensorView> MutableViews() {
    std::vector<MutableTensorView> views;
    for (TestTensor& tensor : tensors) {
      views.push_back({tensor.name, tensor.data_type, tensor.shape, tensor.bytes});
    }
    return views;
  }

  const float* Floats(size_t index) const {
    return reinterpret_cast<const float*>(tensors[index].bytes.data());
  }

  std::vector<TestTensor> tensors;

 private:
  void Add(std::string name, v1::DataType data_type, std::vector<int64_t> shape, const void* data,
           size_t size) {
    TestTensor tensor{std::move(name), data_type, std::move(shape), std::vector<std::byte>(size)};
    if (size > 0) std::memcpy(tensor.bytes.data(), data, size);
    tensors.push_back(std::move(tensor));
  }

  void AddFloats(std::string name, std::vector<int64_t> shape, std::mt19937_64& generator,
                 std::normal_distribution<float>& normal) {
    int64_t count = 1;
    for (int64_t dimension : shape) count *= dimension;
    std::vector<float> values(count);
    for (float& value : values) value = normal(generator);
    if (count > 10) values[count / 2] = 40.0f;  // An outlier that sets one int8 scale.
    Add(std::move(name), v1::DATA_TYPE_FLOAT32, std::move(shape), values.data(), count * 4);
  }
};

}  // namespace equifl::protocol

#endif  // EQUIFL_TESTS_PROTOCOL_TEST_MODEL_H_
