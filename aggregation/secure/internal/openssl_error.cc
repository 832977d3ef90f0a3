#include "aggregation/secure/internal/openssl_error.h"

#include <openssl/err.h>

#include "absl/strings/str_cat.h"

namespace equifl::aggregation::internal {

absl::Status OpenSslError(absl::string_view what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  char reason[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, reason, sizeof reason);
  return absl::InternalError(absl::StrCat(what, " failed in OpenSSL: ", reason));
}

}  // namespace equifl::aggregation::internal
