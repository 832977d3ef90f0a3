// IsOk and StatusIs match what they say and print the status they saw.
#include "tests/testing/status_matchers.h"

#include <gtest/gtest.h>

namespace equifl::test {
namespace {

// What the matcher says about `value` when it does not match.
template <typename Matcher, typename Value>
std::string Explain(const Matcher& matcher, const Value& value) {
  ::testing::StringMatchResultListener listener;
  EXPECT_FALSE(::testing::ExplainMatchResult(matcher, value, &listener));
  return listener.str();
}

TEST(StatusMatchersTest, IsOkMatchesOkStatusesAndValues) {
  EXPECT_THAT(absl::OkStatus(), IsOk());
  EXPECT_THAT(absl::StatusOr<int>(3), IsOk());
  const absl::Status refused = absl::NotFoundError("no shard at /data");
  EXPECT_THAT(Explain(IsOk(), refused), ::testing::HasSubstr("NOT_FOUND: no shard at /data"));
  EXPECT_THAT(Explain(IsOk(), absl::StatusOr<int>(refused)),
              ::testing::HasSubstr("no shard at /data"));
}

TEST(StatusMatchersTest, StatusIsChecksCodeAndMessage) {
  const absl::Status bad = absl::InvalidArgumentError("run.yaml:4: rounds is 0");
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument, "rounds is 0"));
  EXPECT_THAT(Explain(StatusIs(absl::StatusCode::kNotFound, "rounds"), bad),
              ::testing::HasSubstr("INVALID_ARGUMENT: run.yaml:4: rounds is 0"));
  EXPECT_THAT(Explain(StatusIs(absl::StatusCode::kInvalidArgument, "epochs"), bad),
              ::testing::HasSubstr("rounds is 0"));
}

// The shape of grpc::Status, without linking gRPC here.
struct RpcStatus {
  bool ok() const { return code == 0; }
  int error_code() const { return code; }
  std::string error_message() const { return message; }
  int code = 0;
  std::string message;
};

TEST(StatusMatchersTest, IsOkTakesGrpcStatusesToo) {
  EXPECT_THAT(RpcStatus{}, IsOk());
  EXPECT_THAT(Explain(IsOk(), RpcStatus{14, "connection refused"}),
              ::testing::HasSubstr("14: connection refused"));
}

}  // namespace
}  // namespace equifl::test
