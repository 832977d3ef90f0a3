#include "protocol/torch/torch_tensors.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "protocol/chunk_decoder.h"
#include "protocol/chunk_encoder.h"
#include "tests/testing/status_matchers.h"

namespace equifl::protocol {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

std::vector<NamedTensor> StateDict() {
  at::manual_seed(3);
  return {{"fc.weight", at::randn({64, 33})},
          {"fc.bias", at::randn({33})},
          {"norm.num_batches_tracked", at::full({}, 12, at::kLong)},
          {"embedding.half", at::randn({7, 5}).to(at::kHalf)},
          {"mask", at::rand({9}) > 0.5}};
}

// Sends `tensors` with `encoding` and decodes into freshly allocated tensors.
absl::StatusOr<std::vector<NamedTensor>> RoundTrip(const std::vector<NamedTensor>& tensors,
                                                   v1::Encoding encoding) {
  absl::StatusOr<std::vector<NamedTensor>> cpu = ToContiguousCpu(tensors);
  if (!cpu.ok()) return cpu.status();
  absl::StatusOr<std::vector<TensorView>> views = ViewsOf(*cpu);
  if (!views.ok()) return views.status();
  absl::StatusOr<ChunkEncoder> encoder = ChunkEncoder::Create(*views, {encoding, 1024});
  if (!encoder.ok()) return encoder.status();
  absl::StatusOr<std::vector<NamedTensor>> received = AllocateFor(encoder->manifest());
  if (!received.ok()) return received.status();
  absl::StatusOr<std::vector<MutableTensorView>> destinations = MutableViewsOf(*received);
  if (!destinations.ok()) return destinations.status();
  absl::StatusOr<ChunkDecoder> decoder = ChunkDecoder::Create(encoder->manifest(), *destinations);
  if (!decoder.ok()) return decoder.status();
  v1::TensorChunk chunk;
  while (*encoder->Next(chunk)) {
    if (absl::Status status = decoder->Accept(chunk); !status.ok()) return status;
  }
  if (absl::Status status = std::move(*decoder).Finish(); !status.ok()) return status;
  return received;
}

TEST(TorchTensorsTest, StateDictRoundTripsExactlyInFloat32) {
  const std::vector<NamedTensor> original = StateDict();
  absl::StatusOr<std::vector<NamedTensor>> received = RoundTrip(original, v1::ENCODING_FLOAT32);
  ASSERT_THAT(received, IsOk());
  ASSERT_EQ(received->size(), original.size());
  for (size_t i = 0; i < original.size(); ++i) {
    EXPECT_EQ((*received)[i].name, original[i].name);
    EXPECT_EQ((*received)[i].tensor.scalar_type(), original[i].tensor.scalar_type());
    EXPECT_TRUE(at::equal((*received)[i].tensor, original[i].tensor)) << original[i].name;
  }
}

TEST(TorchTensorsTest, Float16EncodingMatchesTorchsOwnHalfRounding) {
  const std::vector<NamedTensor> original = StateDict();
  absl::StatusOr<std::vector<NamedTensor>> received = RoundTrip(original, v1::ENCODING_FLOAT16);
  ASSERT_THAT(received, IsOk());
  // PyTorch's float -> half -> float is an independent implementation of the same rounding.
  EXPECT_TRUE(at::equal((*received)[0].tensor, original[0].tensor.to(at::kHalf).to(at::kFloat)));
  EXPECT_TRUE(at::equal((*received)[3].tensor, original[3].tensor));  // Half travels verbatim.
}

TEST(TorchTensorsTest, BFloat16EncodingMatchesTorchsOwnRounding) {
  const std::vector<NamedTensor> original = StateDict();
  absl::StatusOr<std::vector<NamedTensor>> received = RoundTrip(original, v1::ENCODING_BFLOAT16);
  ASSERT_THAT(received, IsOk());
  EXPECT_TRUE(
      at::equal((*received)[1].tensor, original[1].tensor.to(at::kBFloat16).to(at::kFloat)));
}

TEST(TorchTensorsTest, NonContiguousTensorsAreCopiedFirst) {
  std::vector<NamedTensor> tensors = {{"transposed", at::randn({4, 6}).t()}};
  EXPECT_THAT(ViewsOf(tensors).status().message(), HasSubstr("not a contiguous CPU tensor"));
  absl::StatusOr<std::vector<NamedTensor>> received = RoundTrip(tensors, v1::ENCODING_FLOAT32);
  ASSERT_THAT(received, IsOk());
  EXPECT_TRUE(at::equal((*received)[0].tensor, tensors[0].tensor));
}

TEST(TorchTensorsTest, RefusesTypesTheWireDoesNotCarry) {
  std::vector<NamedTensor> tensors = {{"phase", at::randn({3}, at::kComplexFloat)}};
  EXPECT_THAT(ToContiguousCpu(tensors).status().message(),
              HasSubstr("'phase' has type ComplexFloat"));
  EXPECT_THAT(ToContiguousCpu({{"nothing", at::Tensor()}}).status().message(),
              HasSubstr("undefined"));
}

TEST(TorchTensorsTest, AllocateForRefusesOversizeManifests) {
  v1::TensorManifest manifest;
  manifest.set_encoding(v1::ENCODING_FLOAT32);
  manifest.set_max_chunk_bytes(1024);
  v1::TensorSpec* spec = manifest.add_tensors();
  spec->set_name("huge");
  spec->set_data_type(v1::DATA_TYPE_FLOAT32);
  spec->add_shape(int64_t{1} << 40);
  absl::StatusOr<std::vector<NamedTensor>> allocated = AllocateFor(manifest);
  EXPECT_EQ(allocated.status().code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace equifl::protocol
