// Client ids and the client certificates that vouch for them (mutual TLS).
//
// A client id is 1-64 letters, digits, '.', '_' or '-'. A client certificate's
// common name is either a client id (the certificate is that client) or a worker
// pattern: a prefix of 1-63 such characters followed by '*', which may act for
// every client id that starts with the prefix (a simulation worker hosts
// thousands of virtual clients, client-000000 ..., behind one certificate).
// The aggregator calls CheckCallerActsAs in every handler; a call that no
// certificate authenticated (an --insecure port, `equifl sim`'s in-process
// channel) may act as anyone, since a TLS port refuses handshakes without a
// client certificate from its CA. Messages quote a requested id at most 80
// bytes long (base/quoted_input.h): a 10 KB id echoed whole would exceed gRPC's
// metadata limit and reach the caller as RESOURCE_EXHAUSTED.
#ifndef EQUIFL_SERVER_CLIENT_IDENTITY_H_
#define EQUIFL_SERVER_CLIENT_IDENTITY_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace equifl::server {

//! OK when `client_id` is 1-64 letters, digits, '.', '_' or '-'.
absl::Status ValidateClientId(absl::string_view client_id);

//! OK when `common_name` is a client id or a worker pattern ("client-*").
absl::Status ValidateCertificateName(absl::string_view common_name);

//! Whether `common_name` ends in '*' (a worker certificate).
bool IsWorkerPattern(absl::string_view common_name);

//! Whether a certificate with `common_name` may act as `client_id`: the same id,
//! or an id that starts with the worker pattern's prefix.
bool CertificateAllows(absl::string_view common_name, absl::string_view client_id);

//! The id a Join is given. Without a certificate: `requested` (checked with
//! ValidateClientId; empty stays empty for the aggregator to choose). With a
//! client certificate: its common name, whatever was requested. With a worker
//! certificate: `requested`, which it must allow.
absl::StatusOr<std::string> ClientIdForJoin(const grpc::ServerContext& context,
                                            const std::string& requested);

//! OK when the caller may act as `client_id`; INVALID_ARGUMENT when `client_id`
//! is neither empty nor a client id (ValidateClientId), so that no handler echoes it;
//! PERMISSION_DENIED naming both ids when the certificate does not allow it.
grpc::Status CheckCallerActsAs(const grpc::ServerContext& context, absl::string_view client_id);

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_CLIENT_IDENTITY_H_
