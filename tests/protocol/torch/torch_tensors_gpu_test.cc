// GPU tensors through the codec; skipped where no CUDA device is present.
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <gtest/gtest.h>

#include "protocol/chunk_decoder.h"
#include "protocol/chunk_encoder.h"
#include "protocol/torch/torch_tensors.h"

namespace equifl::protocol {
namespace {

TEST(TorchTensorsGpuTest, CudaTensorsRoundTripThroughTheCodec) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  const std::vector<NamedTensor> original = {{"w", at::randn({128, 64}, at::Device(at::kCUDA))}};
  absl::StatusOr<std::vector<NamedTensor>> cpu = ToContiguousCpu(original);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  absl::StatusOr<ChunkEncoder> encoder = ChunkEncoder::Create(*ViewsOf(*cpu), {});
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  absl::StatusOr<std::vector<NamedTensor>> received = AllocateFor(encoder->manifest());
  ASSERT_TRUE(received.ok()) << received.status();
  absl::StatusOr<ChunkDecoder> decoder =
      ChunkDecoder::Create(encoder->manifest(), *MutableViewsOf(*received));
  ASSERT_TRUE(decoder.ok()) << decoder.status();
  v1::TensorChunk chunk;
  while (*encoder->Next(chunk)) ASSERT_TRUE(decoder->Accept(chunk).ok());
  ASSERT_TRUE(std::move(*decoder).Finish().ok());
  EXPECT_TRUE(at::equal((*received)[0].tensor.to(at::kCUDA), original[0].tensor));
}

}  // namespace
}  // namespace equifl::protocol
