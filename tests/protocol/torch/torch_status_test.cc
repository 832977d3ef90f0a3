#include "protocol/torch/torch_status.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <new>

#include "tests/testing/status_matchers.h"

namespace equifl::protocol {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(TorchStatusTest, PassesResultsThroughWithTheirType) {
  absl::StatusOr<int64_t> size = TorchCall("sizing", [] { return at::ones({3}).numel(); });
  ASSERT_THAT(size, IsOk());
  EXPECT_EQ(*size, 3);

  bool ran = false;
  absl::Status done = TorchCall("running", [&] { ran = true; });
  EXPECT_THAT(done, IsOk());
  EXPECT_TRUE(ran);

  absl::Status refused =
      TorchCall("checking", [] { return absl::InvalidArgumentError("bad input"); });
  EXPECT_EQ(refused, absl::InvalidArgumentError("bad input"));

  absl::StatusOr<int> inner = TorchCall("computing", [] { return absl::StatusOr<int>(7); });
  EXPECT_EQ(*inner, 7);
}

TEST(TorchStatusTest, TurnsLibTorchErrorsIntoStatusesWithoutTheBacktrace) {
  absl::StatusOr<at::Tensor> sum = TorchCall(
      "adding", [] { return at::ones({2}) + at::ones({3}); }, absl::StatusCode::kResourceExhausted);
  ASSERT_FALSE(sum.ok());
  EXPECT_EQ(sum.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(sum.status().message(), HasSubstr("adding: The size of tensor a (2)"));
  EXPECT_THAT(sum.status().message(), Not(HasSubstr("Exception raised from")));

  absl::Status failed = TorchCall("allocating", [] { throw std::bad_alloc(); });
  EXPECT_EQ(failed.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(failed.message(), HasSubstr("allocating: std::bad_alloc"));
}

}  // namespace
}  // namespace equifl::protocol
