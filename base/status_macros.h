// Early-return helpers for absl::Status and absl::StatusOr<T>.
//
// Every function a user's input can reach returns absl::Status or
// absl::StatusOr<T>; these two macros keep the happy path readable. Abseil's own
// versions are newer than the libabsl (20220623) that Debian's gRPC brings.
#ifndef EQUIFL_BASE_STATUS_MACROS_H_
#define EQUIFL_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

//! Returns from the calling function if `expression` (an absl::Status) is not OK.
#define EQUIFL_RETURN_IF_ERROR(expression)                                  \
  do {                                                                      \
    if (::absl::Status equifl_status = (expression); !equifl_status.ok()) { \
      return equifl_status;                                                 \
    }                                                                       \
  } while (false)

#define EQUIFL_STATUS_MACROS_CONCAT_INNER(a, b) a##b
#define EQUIFL_STATUS_MACROS_CONCAT(a, b) EQUIFL_STATUS_MACROS_CONCAT_INNER(a, b)

//! Evaluates `expression` (an absl::StatusOr<T>); on error returns its status,
//! otherwise moves the value into `declaration` (e.g. `auto x` or an lvalue).
#define EQUIFL_ASSIGN_OR_RETURN(declaration, expression)                                 \
  EQUIFL_ASSIGN_OR_RETURN_IMPL(EQUIFL_STATUS_MACROS_CONCAT(equifl_status_or_, __LINE__), \
                               declaration, expression)

#define EQUIFL_ASSIGN_OR_RETURN_IMPL(status_or, declaration, expression) \
  auto status_or = (expression);                                         \
  if (!status_or.ok()) {                                                 \
    return std::move(status_or).status();                                \
  }                                                                      \
  declaration = std::move(status_or).value()

#endif  // EQUIFL_BASE_STATUS_MACROS_H_
