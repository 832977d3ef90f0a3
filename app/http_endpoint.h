// The command line of equifl's HTTP endpoints: `--http ADDR` on `equifl server`
// and `equifl sim` (the live dashboard, its API and /metrics), `--metrics ADDR` on
// `equifl client` (/metrics), and `--http-token-file FILE` on all three. Turns them
// into the HTTP server's options (server/monitoring/http_server.h): loopback needs
// nothing; another address needs the token or, for the aggregator with --certs,
// serves HTTPS that lets in client certificates of the same CA.
#ifndef EQUIFL_APP_HTTP_ENDPOINT_H_
#define EQUIFL_APP_HTTP_ENDPOINT_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "app/config.h"
#include "app/transport_credentials.h"
#include "server/monitoring/http_server.h"
#include "server/monitoring/run_monitor.h"

namespace equifl::app {

struct HttpFlags {
  std::string address;     //!< host:port; empty: no endpoint.
  std::string token_file;  //!< A file holding the access token; empty: none.
};

//! Adds `option` ("--http" or "--metrics", described by `help`) and
//! --http-token-file to `command`.
void AddHttpFlags(CLI::App& command, HttpFlags& flags, const std::string& option,
                  const std::string& help);

//! The endpoint's options: the token read from flags.token_file; for the
//! aggregator (`server_tls` not null) over a non-loopback address with
//! `server_tls->certs`, HTTPS with the folder's server.pem and server.key, letting
//! in client certificates of its ca.pem. A client's certificate is for TLS clients
//! only, so a client's /metrics is plain HTTP and needs the token off loopback.
absl::StatusOr<server::monitoring::HttpServerOptions> HttpServerOptionsFor(
    const HttpFlags& flags, const TlsFlags* server_tls);

//! What the dashboard says about the configured run.
server::monitoring::RunDescription DescribeRun(const Config& config);

//! The live view of an aggregator's run: the monitor that hears of its rounds and
//! calls, and the dashboard serving it. Members are destroyed server first.
struct RunDashboard {
  std::unique_ptr<server::monitoring::RunMonitor> monitor;
  std::unique_ptr<server::monitoring::HttpServer> server;
};

//! With `flags.address` set, a monitor of `config`'s run and its dashboard, started
//! and announced on stdout ("dashboard at URL (access)"); empty without an
//! address. Start it before the run folder is opened, so a dashboard that cannot
//! start leaves no run behind. Errors are the user's (a bad address, token or
//! certificate).
absl::StatusOr<RunDashboard> StartRunDashboard(const Config& config, const HttpFlags& flags,
                                               const TlsFlags& tls);

//! With `flags.address` set, a client's /metrics serving `metrics()`, started and
//! announced on stdout ("metrics at URL (access)"); null without an address.
absl::StatusOr<std::unique_ptr<server::monitoring::HttpServer>> StartMetricsEndpoint(
    const HttpFlags& flags, std::function<std::string()> metrics);

}  // namespace equifl::app

#endif  // EQUIFL_APP_HTTP_ENDPOINT_H_
