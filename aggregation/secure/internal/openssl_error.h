// OpenSSL failures as absl statuses, for the secure-aggregation primitives.
#ifndef EQUIFL_AGGREGATION_SECURE_INTERNAL_OPENSSL_ERROR_H_
#define EQUIFL_AGGREGATION_SECURE_INTERNAL_OPENSSL_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace equifl::aggregation::internal {

//! An Internal status saying that OpenSSL call `what` failed, with OpenSSL's
//! reason; clears OpenSSL's error queue.
absl::Status OpenSslError(absl::string_view what);

}  // namespace equifl::aggregation::internal

#endif  // EQUIFL_AGGREGATION_SECURE_INTERNAL_OPENSSL_ERROR_H_
