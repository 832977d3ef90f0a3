// GoogleMock matchers for absl::Status and absl::StatusOr<T> (IsOk also for
// grpc::Status) that print the status when they fail, where ASSERT_TRUE(x.ok())
// prints only "false":
//
//   ASSERT_THAT(Load(path), IsOk());
//   EXPECT_THAT(Parse(text), StatusIs(absl::StatusCode::kInvalidArgument, "line 3"));
#ifndef EQUIFL_TESTS_TESTING_STATUS_MATCHERS_H_
#define EQUIFL_TESTS_TESTING_STATUS_MATCHERS_H_

#include <gmock/gmock.h>

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"

namespace equifl::test {
namespace internal {

inline const absl::Status& StatusOf(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace internal

//! Matches an OK absl::Status, an absl::StatusOr<T> that holds a value, or an OK
//! grpc::Status.
MATCHER(IsOk, negation ? "is not OK" : "is OK") {
  if constexpr (requires { arg.error_message(); }) {  // grpc::Status
    if (!arg.ok()) {
      *result_listener << "whose status is " << static_cast<int>(arg.error_code()) << ": "
                       << arg.error_message();
    }
    return arg.ok();
  } else {
    const absl::Status& status = internal::StatusOf(arg);
    if (!status.ok()) *result_listener << "whose status is " << status;
    return status.ok();
  }
}

//! Matches a status (or a StatusOr's status) with `code` whose message contains
//! `substring`.
MATCHER_P2(StatusIs, code, substring,
           std::string(negation ? "is not " : "is ") + absl::StatusCodeToString(code) +
               " with a message containing \"" + std::string(substring) + "\"") {
  const absl::Status& status = internal::StatusOf(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code && absl::StrContains(status.message(), substring);
}

}  // namespace equifl::test

#endif  // EQUIFL_TESTS_TESTING_STATUS_MATCHERS_H_
