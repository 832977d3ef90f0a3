#include "server/client_identity.h"

#include <grpcpp/security/auth_context.h>

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/quoted_input.h"

namespace equifl::server {
namespace {

constexpr size_t kMaxClientIdLength = 64;
constexpr absl::string_view kClientIdCharacters =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";

// The name under which gRPC's SSL transport records the peer certificate's subject CN.
constexpr const char* kCommonNameProperty = "x509_common_name";

// The common name of the client certificate that authenticated the call;
// nullopt when no certificate did. PermissionDenied when the peer is
// authenticated by something other than a certificate with a common name.
absl::StatusOr<std::optional<std::string>> CallerCertificateName(
    const grpc::ServerContext& context) {
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return std::nullopt;
  const std::vector<grpc::string_ref> names = auth->FindPropertyValues(kCommonNameProperty);
  if (names.empty()) {
    if (!auth->IsPeerAuthenticated()) return std::nullopt;
    return absl::PermissionDeniedError(
        "the client certificate has no common name; issue one with `equifl certs --clients ID`");
  }
  return std::string(names.front().data(), names.front().size());
}

}  // namespace

absl::Status ValidateClientId(absl::string_view client_id) {
  if (client_id.empty() || client_id.size() > kMaxClientIdLength ||
      client_id.find_first_not_of(kClientIdCharacters) != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("the client id ", QuoteInput(client_id),
                                                   " is not 1 to 64 letters, digits, '.', '_' "
                                                   "or '-'"));
  }
  return absl::OkStatus();
}

bool IsWorkerPattern(absl::string_view common_name) { return absl::EndsWith(common_name, "*"); }

absl::Status ValidateCertificateName(absl::string_view common_name) {
  if (!IsWorkerPattern(common_name)) return ValidateClientId(common_name);
  const absl::string_view prefix = common_name.substr(0, common_name.size() - 1);
  if (prefix.empty() || prefix.size() >= kMaxClientIdLength ||
      prefix.find_first_not_of(kClientIdCharacters) != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the worker pattern ", QuoteInput(common_name),
        " is not a prefix of 1 to 63 letters, digits, '.', '_' or '-' followed by '*'"));
  }
  return absl::OkStatus();
}

bool CertificateAllows(absl::string_view common_name, absl::string_view client_id) {
  if (!IsWorkerPattern(common_name)) return common_name == client_id;
  return ValidateClientId(client_id).ok() &&
         absl::StartsWith(client_id, common_name.substr(0, common_name.size() - 1));
}

absl::StatusOr<std::string> ClientIdForJoin(const grpc::ServerContext& context,
                                            const std::string& requested) {
  absl::StatusOr<std::optional<std::string>> certificate = CallerCertificateName(context);
  if (!certificate.ok()) return certificate.status();
  if (!*certificate) {
    if (!requested.empty()) {
      if (absl::Status status = ValidateClientId(requested); !status.ok()) return status;
    }
    return requested;
  }
  const std::string& name = **certificate;
  if (absl::Status status = ValidateCertificateName(name); !status.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the client certificate names no client: ", status.message()));
  }
  if (!IsWorkerPattern(name)) return name;
  if (!CertificateAllows(name, requested)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the worker certificate '", name, "' acts for client ids starting with '",
        name.substr(0, name.size() - 1), "'; it cannot join as ", QuoteInput(requested)));
  }
  return requested;
}

grpc::Status CheckCallerActsAs(const grpc::ServerContext& context, absl::string_view client_id) {
  // No client joins under a malformed id, and no message should echo one whole.
  // An empty id is no claim (a download without one, on an insecure port).
  if (!client_id.empty()) {
    if (absl::Status status = ValidateClientId(client_id); !status.ok()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(status.message()));
    }
  }
  absl::StatusOr<std::optional<std::string>> certificate = CallerCertificateName(context);
  if (!certificate.ok()) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        std::string(certificate.status().message()));
  }
  if (!*certificate || CertificateAllows(**certificate, client_id)) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      absl::StrCat("the client certificate is for ", QuoteInput(**certificate),
                                   "; it cannot act as '", client_id, "'"));
}

}  // namespace equifl::server
