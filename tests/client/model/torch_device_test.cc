#include "client/model/torch_device.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "tests/testing/status_matchers.h"

namespace equifl::client {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

TEST(TorchDeviceTest, TheCpuIsAlwaysThere) {
  const absl::StatusOr<at::Device> device = ToTorchDevice("trainer device", Device{});
  ASSERT_THAT(device, IsOk());
  EXPECT_TRUE(device->is_cpu());
}

TEST(TorchDeviceTest, ACudaDeviceLibTorchDoesNotSeeIsAFailedPrecondition) {
  const int64_t gpus =
      torch::cuda::is_available() ? static_cast<int64_t>(torch::cuda::device_count()) : 0;
  const Device beyond{.kind = DeviceKind::kCuda, .index = static_cast<int>(gpus)};
  const absl::StatusOr<at::Device> device = ToTorchDevice("trainer device", beyond);
  EXPECT_EQ(device.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(device.status().message(),
              HasSubstr(absl::StrCat("trainer device is 'cuda:", gpus, "', but LibTorch sees ",
                                     gpus, " CUDA devices")));
  if (gpus > 0) {
    const absl::StatusOr<at::Device> first =
        ToTorchDevice("trainer device", {.kind = DeviceKind::kCuda, .index = 0});
    ASSERT_THAT(first, IsOk());
    EXPECT_EQ(*first, at::Device(at::kCUDA, 0));
  }
}

}  // namespace
}  // namespace equifl::client
