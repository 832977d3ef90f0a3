// The routes of the aggregator's and the client's HTTP endpoints.
//
// The aggregator (`equifl server --http`, `equifl sim --http`): the live dashboard
// page at `/` (with /app.js and /app.css, all compiled in: no CDN, no fonts), the
// JSON API it reads under `/api/` (run, rounds, fairness, clients; see
// RunMonitor::Api) and Prometheus metrics at `/metrics`. A client
// (`equifl client --metrics`): `/metrics` only. Any other path is 404.
#ifndef EQUIFL_SERVER_MONITORING_DASHBOARD_H_
#define EQUIFL_SERVER_MONITORING_DASHBOARD_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/monitoring/http_server.h"
#include "server/monitoring/run_monitor.h"

namespace equifl::server::monitoring {

//! Serves the dashboard, API and metrics of `monitor` (which must outlive the server).
absl::StatusOr<std::unique_ptr<HttpServer>> ServeDashboard(const HttpServerOptions& options,
                                                           const RunMonitor& monitor);

//! Serves `metrics()` (the text format) at /metrics.
absl::StatusOr<std::unique_ptr<HttpServer>> ServeMetrics(const HttpServerOptions& options,
                                                         std::function<std::string()> metrics);

}  // namespace equifl::server::monitoring

#endif  // EQUIFL_SERVER_MONITORING_DASHBOARD_H_
