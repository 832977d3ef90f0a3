// Mutual TLS for gRPC: the credentials of the aggregator's port and of the
// channels clients dial, from the PEM files `equifl certs` writes.
//
// It lives in protocol/ because both ends of every connection build their
// credentials here (the server and client commands, `equifl sim` and its workers,
// the tests of the aggregator), and it needs nothing but gRPC, which the wire
// code already links. Making and checking certificates is OpenSSL's work and
// lives with the certificate authority (server/certificate_authority.h).
//
// The server requires and verifies a client certificate signed by the CA
// (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY); the client
// verifies the server's certificate against the same CA and the host it dials.
// gRPC 1.51's public API cannot set the TLS versions: it allows TLS 1.2 and 1.3,
// and two equifl peers (OpenSSL 3 on both sides) negotiate TLS 1.3.
#ifndef EQUIFL_PROTOCOL_TRANSPORT_SECURITY_H_
#define EQUIFL_PROTOCOL_TRANSPORT_SECURITY_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace equifl::protocol {

//! Which side of a connection a folder of certificates is for.
enum class TlsRole {
  kServer,  //!< ca.pem, server.pem, server.key
  kClient,  //!< ca.pem, client.pem, client.key
};

//! One party's PEM material: the CA it trusts, its certificate and its key.
struct TlsMaterial {
  std::string ca_certificate;  //!< The CA both sides trust (ca.pem).
  std::string certificate;     //!< This party's certificate (server.pem or client.pem).
  std::string private_key;     //!< This party's private key (server.key or client.key).
};

//! Reads a folder written by `equifl certs` for `role`. NotFound or
//! PermissionDenied name the file that cannot be read; InvalidArgument names one
//! that holds no PEM certificate or key.
absl::StatusOr<TlsMaterial> LoadTlsMaterial(const std::string& folder, TlsRole role);

//! Server credentials that require a client certificate signed by the CA.
std::shared_ptr<grpc::ServerCredentials> MutualTlsServerCredentials(const TlsMaterial& material);

//! Channel credentials that present the client's certificate and trust only the CA.
std::shared_ptr<grpc::ChannelCredentials> MutualTlsChannelCredentials(const TlsMaterial& material);

}  // namespace equifl::protocol

#endif  // EQUIFL_PROTOCOL_TRANSPORT_SECURITY_H_
