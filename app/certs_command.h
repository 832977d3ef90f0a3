// `equifl certs`: the certificates of a deployment's mutual TLS, one folder per
// recipient so that each party is given exactly one folder:
//
//   DIR/ca/{ca.pem, ca.key}                      the CA; keep it offline
//   DIR/server/{ca.pem, server.pem, server.key}  for the aggregator
//   DIR/clients/ID/{ca.pem, client.pem, client.key}  for client ID
//
// A client id ending in '*' ("client-*") makes a worker certificate, which may act
// for every client id that starts with the prefix (server/client_identity.h).
// Running it again on DIR reuses the CA and never overwrites a file: folders that
// exist are kept (and checked against the CA), the missing ones are issued, so a
// deployment adds clients later. Each folder appears whole or not at all: it is
// written under a temporary name and renamed into place without replacing
// anything. Private keys are mode 0600, folders 0700.
#ifndef EQUIFL_APP_CERTS_COMMAND_H_
#define EQUIFL_APP_CERTS_COMMAND_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "app/transport_credentials.h"

namespace equifl::app {

//! Command-line choices of `equifl certs`.
struct CertsCommand {
  std::string out;  //!< DIR.
  //! Hosts and addresses clients dial.
  std::vector<std::string> server_names = DefaultServerNames();
  std::vector<std::string> clients;  //!< Client ids and worker patterns.
  int days = 365;                    //!< Validity of the certificates issued now.
  int ca_days = 3650;                //!< Validity of a new CA.
};

//! What one run did to each recipient's folder.
struct CertsFolder {
  std::string path;       //!< e.g. DIR/clients/a
  std::string recipient;  //!< "the aggregator", "client 'a'", "worker 'client-*'"
  bool written = false;   //!< False: it existed and was kept.
};
struct CertsReport {
  bool new_authority = false;        //!< DIR/ca was made now (else reused).
  CertsFolder server;                //!< DIR/server.
  std::vector<CertsFolder> clients;  //!< DIR/clients/ID, in the order given.
};

//! Adds `certs` and its flags, stored in `command`, to `app`.
CLI::App* AddCertsSubcommand(CLI::App& app, CertsCommand& command);

//! Makes or reuses the CA and writes the folders that do not exist yet. Nothing
//! is written when a name, an id or an existing folder is wrong
//! (InvalidArgument, FailedPrecondition, NotFound).
absl::StatusOr<CertsReport> WriteCertificateFolders(const CertsCommand& command);

//! Runs `equifl certs` and prints what was written; returns the exit code.
int RunCertsCommand(const CertsCommand& command);

}  // namespace equifl::app

#endif  // EQUIFL_APP_CERTS_COMMAND_H_
