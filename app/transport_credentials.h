// What `--certs DIR` and `--insecure` turn into for the commands that open or
// dial a gRPC port (`equifl server`, `equifl client`, `equifl sim`): mutual-TLS
// credentials from a folder `equifl certs` wrote, checked before anything dials
// or listens, or plaintext when the user asked for it. TLS is the default: with
// neither flag these functions refuse with a message that says what to run.
// `equifl sim` in one process instead makes its certificates in memory
// (MakeEphemeralTls), so a loopback simulation needs no files.
#ifndef EQUIFL_APP_TRANSPORT_CREDENTIALS_H_
#define EQUIFL_APP_TRANSPORT_CREDENTIALS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "protocol/transport_security.h"

namespace equifl::app {

//! The --certs and --insecure flags of one command.
struct TlsFlags {
  std::string certs;      //!< A folder `equifl certs` wrote for this party; empty: none.
  bool insecure = false;  //!< Plaintext without client authentication.
};

//! Adds --certs (described by `certs_help`) and --insecure, stored in `flags`, to
//! `command`, a subcommand that opens or dials a gRPC port.
void AddTlsFlags(CLI::App& command, TlsFlags& flags, const std::string& certs_help);

//! Server names every certificate `equifl certs` makes covers by default.
std::vector<std::string> DefaultServerNames();

//! The aggregator port's credentials: mutual TLS from the server folder
//! `flags.certs` (ca.pem, server.pem, server.key; the certificate must verify
//! against ca.pem and the key be its key), or plaintext with --insecure.
//! `command` ("equifl server") names the command in the usage error.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const TlsFlags& flags, const std::string& command);

//! A client's channel credentials and the identity they carry.
struct ClientCredentials {
  std::shared_ptr<grpc::ChannelCredentials> channel;
  //! The common name of client.pem (a client id or a worker pattern "client-*");
  //! empty with --insecure.
  std::string certificate_name;
};

//! Mutual TLS from the client folder `flags.certs` (ca.pem, client.pem,
//! client.key), or plaintext with --insecure. `command` and `folder_hint` (e.g.
//! "DIR/clients/ID") word the usage error.
absl::StatusOr<ClientCredentials> ClientCredentialsFor(const TlsFlags& flags,
                                                       const std::string& command,
                                                       const std::string& folder_hint);

//! Certificates for one process that is both ends of its connections: a new CA
//! that exists only in memory, a server certificate for `server_names` and a
//! client certificate named `client_name` (a worker pattern for many clients).
struct EphemeralTls {
  protocol::TlsMaterial server;
  protocol::TlsMaterial client;
};
absl::StatusOr<EphemeralTls> MakeEphemeralTls(const std::vector<std::string>& server_names,
                                              const std::string& client_name);

}  // namespace equifl::app

#endif  // EQUIFL_APP_TRANSPORT_CREDENTIALS_H_
