#include "server/monitoring/dashboard.h"

#include <utility>

#include "absl/strings/match.h"
#include "server/monitoring/dashboard_files.h"

namespace equifl::server::monitoring {
namespace {

constexpr char kMetricsType[] = "text/plain; version=0.0.4; charset=utf-8";

HttpResponse NotFound() { return {404, "text/plain; charset=utf-8", "not found\n"}; }

const char* ContentTypeOf(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

// The embedded file a path names ("/" is index.html); nullptr for any other path.
const EmbeddedFile* PageFile(const std::string& path) {
  if (path.empty() || path[0] != '/') return nullptr;
  const std::string name = path == "/" ? "index.html" : path.substr(1);
  for (size_t i = 0; i < kDashboardFilesCount; ++i) {
    if (name == kDashboardFiles[i].name) return &kDashboardFiles[i];
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> ServeDashboard(const HttpServerOptions& options,
                                                           const RunMonitor& monitor) {
  return HttpServer::Start(options, [&monitor](const HttpRequest& request) -> HttpResponse {
    if (request.path == "/metrics") return {200, kMetricsType, monitor.Metrics()};
    if (absl::StartsWith(request.path, "/api/")) {
      std::string json;
      if (!monitor.Api(request.path, json)) return NotFound();
      return {200, "application/json", std::move(json)};
    }
    if (const EmbeddedFile* file = PageFile(request.path)) {
      return {200, ContentTypeOf(file->name), std::string(file->content)};
    }
    return NotFound();
  });
}

absl::StatusOr<std::unique_ptr<HttpServer>> ServeMetrics(const HttpServerOptions& options,
                                                         std::function<std::string()> metrics) {
  return HttpServer::Start(
      options, [metrics = std::move(metrics)](const HttpRequest& request) -> HttpResponse {
        if (request.path == "/metrics") return {200, kMetricsType, metrics()};
        return NotFound();
      });
}

}  // namespace equifl::server::monitoring
