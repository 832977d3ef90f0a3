// LibTorch reports errors by throwing c10::Error (and, rarely, a standard
// exception such as std::bad_alloc); our libraries return statuses. TorchCall is
// the one place where the two meet: every call into LibTorch that can fail runs
// inside it, and what it throws comes back as a status.
#ifndef EQUIFL_PROTOCOL_TORCH_TORCH_STATUS_H_
#define EQUIFL_PROTOCOL_TORCH_TORCH_STATUS_H_

#include <c10/util/Exception.h>

#include <exception>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace equifl::protocol {
namespace internal {

// What TorchCall returns for a callable returning T.
template <typename T>
struct TorchCallResult {
  using type = absl::StatusOr<T>;
};
template <>
struct TorchCallResult<void> {
  using type = absl::Status;
};
template <>
struct TorchCallResult<absl::Status> {
  using type = absl::Status;
};
template <typename T>
struct TorchCallResult<absl::StatusOr<T>> {
  using type = absl::StatusOr<T>;
};

}  // namespace internal

//! Runs `call` and returns its result as a status: absl::Status where it returns
//! void or absl::Status, absl::StatusOr<T> where it returns T or absl::StatusOr<T>.
//! An exception becomes a status with `code` and the message "<what>: <the
//! exception's message>", without LibTorch's C++ backtrace.
template <typename F>
auto TorchCall(absl::string_view what, F&& call,
               absl::StatusCode code = absl::StatusCode::kInternal) ->
    typename internal::TorchCallResult<std::invoke_result_t<F>>::type {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
      std::forward<F>(call)();
      return absl::OkStatus();
    } else {
      return std::forward<F>(call)();
    }
  } catch (const c10::Error& error) {
    return absl::Status(code, absl::StrCat(what, ": ", error.what_without_backtrace()));
  } catch (const std::exception& error) {
    return absl::Status(code, absl::StrCat(what, ": ", error.what()));
  }
}

}  // namespace equifl::protocol

#endif  // EQUIFL_PROTOCOL_TORCH_TORCH_STATUS_H_
