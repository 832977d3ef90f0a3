#include "base/device.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/status_matchers.h"

namespace equifl {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

TEST(DeviceTest, ParsesCpuCudaAndCudaWithAnIndex) {
  const absl::StatusOr<Device> cpu = ParseDevice("device", "cpu");
  ASSERT_THAT(cpu, IsOk());
  EXPECT_FALSE(cpu->is_cuda());
  EXPECT_EQ(cpu->Name(), "cpu");

  const absl::StatusOr<Device> cuda = ParseDevice("device", "cuda");
  ASSERT_THAT(cuda, IsOk());
  EXPECT_TRUE(cuda->is_cuda());
  EXPECT_EQ(cuda->index, -1);
  EXPECT_EQ(cuda->Name(), "cuda");

  const absl::StatusOr<Device> second = ParseDevice("device", "cuda:1");
  ASSERT_THAT(second, IsOk());
  EXPECT_TRUE(second->is_cuda());
  EXPECT_EQ(second->index, 1);
  EXPECT_EQ(second->Name(), "cuda:1");
  EXPECT_EQ(ParseDevice("device", "cuda:10")->index, 10);
}

TEST(DeviceTest, RefusesOtherNamesAndSaysWhatIsAllowed) {
  for (const char* name : {"", "tpu", "CPU", "cuda:", "cuda:-1", "cuda:+1", "cuda:01", "cuda:1:2",
                           "cuda: 1", "cpu:0", "cuda:99999999999", "mps"}) {
    const absl::StatusOr<Device> device = ParseDevice("trainer device", name);
    EXPECT_EQ(device.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(device.status().message(),
                HasSubstr(absl::StrCat("trainer device is '", name,
                                       "'; allowed: cpu, cuda, cuda:<index>")));
  }
}

}  // namespace
}  // namespace equifl
