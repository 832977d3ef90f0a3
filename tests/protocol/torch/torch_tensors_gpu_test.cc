// GPU tensors through the codec; skipped where no CUDA device is present.
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <gtest/gtest.h>

#include "protocol/chunk_decoder.h"
#include "protocol/chunk_encoder.h"
#include "protocol/torch/torch_tensors.h"
#include "tests/testing/status_matchers.h"

namespace equifl::protocol {
namespace {

using ::equifl::test::IsOk;

TEST(TorchTensorsGpuTest, CudaTensorsRoundTripThroughTheCodec) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  const std::vector<NamedTensor> original = {{"w", at::randn({128, 64}, at::Device(at::kCUDA))}};
  absl::StatusOr<std::vector<NamedTensor>> cpu = ToContiguousCpu(original);
  ASSERT_THAT(cpu, IsOk());
  absl::StatusOr<ChunkEncoder> encoder = ChunkEncoder::Create(*ViewsOf(*cpu), {});
  ASSERT_THAT(encoder, IsOk());
  absl::StatusOr<std::vector<NamedTensor>> received = AllocateFor(encoder->manifest());
  ASSERT_THAT(received, IsOk());
  absl::StatusOr<ChunkDecoder> decoder =
      ChunkDecoder::Create(encoder->manifest(), *MutableViewsOf(*received));
  ASSERT_THAT(decoder, IsOk());
  v1::TensorChunk chunk;
  while (*encoder->Next(chunk)) ASSERT_THAT(decoder->Accept(chunk), IsOk());
  ASSERT_THAT(std::move(*decoder).Finish(), IsOk());
  EXPECT_TRUE(at::equal((*received)[0].tensor.to(at::kCUDA), original[0].tensor));
}

}  // namespace
}  // namespace equifl::protocol
