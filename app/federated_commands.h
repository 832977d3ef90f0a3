// `equifl server` and `equifl client`: the two sides of a federated run, each a
// process of its own, talking gRPC. Both build the model from the configuration's
// `model` section and the data schema of a shard (app/run_model.h).
#ifndef EQUIFL_APP_FEDERATED_COMMANDS_H_
#define EQUIFL_APP_FEDERATED_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "app/config.h"
#include "app/http_endpoint.h"
#include "app/transport_credentials.h"

namespace equifl::app {

//! Command-line choices of `equifl server`, beside the configuration file.
struct ServerCommand {
  std::string schema;   //!< A shard folder (or its manifest.json) giving the data schema.
  bool resume = false;  //!< Continue the run in run_dir from its last completed round.
  //! With resume: fall back to the newest checkpoint that verifies.
  bool resume_from_last_good = false;
  std::string report;  //!< Where to write the run's HTML report at the end; empty: none.
  std::optional<std::string> address;  //!< Overrides server.address.
  std::optional<std::string> run_dir;  //!< Overrides server.run_dir.
  TlsFlags tls;                        //!< --certs DIR/server or --insecure.
  HttpFlags http;                      //!< The live dashboard and /metrics.
};

//! Command-line choices of `equifl client`.
struct ClientCommand {
  std::string shard;  //!< The client's shard folder.
  //! Requested id; empty lets the server choose (or, with --certs, the certificate).
  std::string client_id;
  std::optional<std::string> server;  //!< The aggregator's host:port; overrides server.address.
  TlsFlags tls;                       //!< --certs DIR/clients/ID or --insecure.
  HttpFlags metrics;                  //!< The client's /metrics.
};

//! Adds `server` and its flags, stored in `command`, to `app`.
CLI::App* AddServerSubcommand(CLI::App& app, ServerCommand& command);

//! Adds `client` and its flags, stored in `command`, to `app`.
CLI::App* AddClientSubcommand(CLI::App& app, ClientCommand& command);

//! Runs the aggregator until every round is done (or SIGINT/SIGTERM); returns the
//! process exit code: 0 done, 1 failed at run time, 2 bad input.
int RunServerCommand(const Config& config, const ServerCommand& command);

//! Runs one client until the server finishes the run; returns the exit code.
int RunClientCommand(const Config& config, const ClientCommand& command);

}  // namespace equifl::app

#endif  // EQUIFL_APP_FEDERATED_COMMANDS_H_
