// `equifl sim`: the aggregator and many virtual clients in one process, or a
// worker process hosting a range of virtual clients for an aggregator elsewhere.
// The rounds, aggregation, fairness method, checkpoints, history and reports are
// the real server's and client's code (app/aggregator_run.h, client/task_runner.h).
#ifndef EQUIFL_APP_SIM_COMMAND_H_
#define EQUIFL_APP_SIM_COMMAND_H_

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "app/config.h"
#include "app/http_endpoint.h"
#include "app/transport_credentials.h"

namespace equifl::app {

//! Command-line choices of `equifl sim`, beside the configuration file.
struct SimCommand {
  std::string config;   //!< The configuration file given as the argument; empty: --config.
  bool resume = false;  //!< Continue the run in run_dir from its last completed round.
  std::string report;   //!< Where to write the HTML report at the end; empty: none.
  std::optional<std::string> transport;  //!< Overrides sim.transport.
  std::optional<std::string> listen;     //!< Overrides sim.listen.
  //! Clients this process hosts: "a..b" (indices, inclusive), "none", or empty for
  //! every client (a worker must say).
  std::string clients;
  bool worker = false;  //!< Host clients for the aggregator at `connect`; no aggregator here.
  std::string connect;  //!< host:port of the aggregator, for --worker.
  std::optional<std::string> run_dir;  //!< Overrides server.run_dir.
  //! --certs (DIR/server for an aggregator, a worker certificate's folder for
  //! --worker) or --insecure; with neither, a one-process run over gRPC makes its
  //! certificates in memory.
  TlsFlags tls;
  HttpFlags http;  //!< The aggregator's live dashboard and /metrics.
};

//! Adds `sim` and its flags, stored in `command`, to `app`.
CLI::App* AddSimSubcommand(CLI::App& app, SimCommand& command);

//! Runs the simulation (or the worker) to the end; returns the process exit code:
//! 0 done, 1 failed at run time, 2 bad usage, configuration or data.
int RunSimCommand(const Config& config, const SimCommand& command);

}  // namespace equifl::app

#endif  // EQUIFL_APP_SIM_COMMAND_H_
