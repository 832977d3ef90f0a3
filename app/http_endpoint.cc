#include "app/http_endpoint.h"

#include <cstdio>
#include <filesystem>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "aggregation/privacy/client_level_privacy.h"
#include "base/enum_names.h"
#include "protocol/file_io.h"
#include "server/monitoring/dashboard.h"

namespace equifl::app {
namespace {

// A token shorter than this is refused: it could be guessed.
constexpr size_t kMinTokenLength = 16;
constexpr uint64_t kMaxTokenFileBytes = 4096;

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  absl::StatusOr<std::string> text = protocol::ReadRegularFile(path, kMaxTokenFileBytes);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("--http-token-file: ", text.status().message(),
                                     " (it should hold one token)"));
  }
  std::string token(absl::StripAsciiWhitespace(*text));
  if (token.size() < kMinTokenLength) {
    return absl::InvalidArgumentError(absl::StrCat("the token in '", path, "' has ", token.size(),
                                                   " characters; use at least ", kMinTokenLength,
                                                   " (e.g. `openssl rand -hex 32 > ", path, "`)"));
  }
  for (char c : token) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the token in '", path, "' holds a space or control character; use letters and digits"));
    }
  }
  return token;
}

}  // namespace

void AddHttpFlags(CLI::App& command, HttpFlags& flags, const std::string& option,
                  const std::string& help) {
  command.add_option(option, flags.address, help);
  command.add_option("--http-token-file", flags.token_file,
                     "a file holding the access token (at least 16 characters, e.g. `openssl rand "
                     "-hex 32`) that requests must carry as 'Authorization: Bearer TOKEN' (or "
                     "?token=TOKEN in the browser); needed on any address but 127.0.0.1, ::1 and "
                     "localhost (the aggregator's --certs also let in client certificates of "
                     "the run's CA, over HTTPS)");
}

absl::StatusOr<server::monitoring::HttpServerOptions> HttpServerOptionsFor(
    const HttpFlags& flags, const TlsFlags* server_tls) {
  server::monitoring::HttpServerOptions options;
  // A port alone binds loopback.
  options.address = !flags.address.empty() && absl::c_all_of(flags.address, absl::ascii_isdigit)
                        ? absl::StrCat("127.0.0.1:", flags.address)
                        : flags.address;
  if (!flags.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadToken(flags.token_file);
    if (!token.ok()) return token.status();
    options.token = *std::move(token);
  }
  const std::string host = options.address.substr(0, options.address.rfind(':'));
  if (server_tls != nullptr && !server_tls->certs.empty() &&
      !server::monitoring::IsLoopbackHost(host)) {
    const std::filesystem::path folder(server_tls->certs);
    options.certificate_file = (folder / "server.pem").string();
    options.private_key_file = (folder / "server.key").string();
    options.client_ca_file = (folder / "ca.pem").string();
  }
  return options;
}

server::monitoring::RunDescription DescribeRun(const Config& config) {
  server::monitoring::RunDescription run;
  run.fairness_method = std::string(NameOf(config.fairness.method));
  run.training_rounds = config.server.rounds.rounds;
  run.final_evaluation = config.server.rounds.final_evaluation;
  run.gap_bound = config.fairness.bound;
  run.secure_aggregation = config.secure_aggregation.enabled;
  run.privacy = config.privacy.enabled();
  run.privacy_delta = config.privacy.delta;
  run.privacy_covers = aggregation::PrivacyCoverage(config.privacy);
  return run;
}

absl::StatusOr<RunDashboard> StartRunDashboard(const Config& config, const HttpFlags& flags,
                                               const TlsFlags& tls) {
  RunDashboard dashboard;
  if (flags.address.empty()) return dashboard;
  absl::StatusOr<server::monitoring::HttpServerOptions> options = HttpServerOptionsFor(flags, &tls);
  if (!options.ok()) return options.status();
  dashboard.monitor = std::make_unique<server::monitoring::RunMonitor>(DescribeRun(config));
  absl::StatusOr<std::unique_ptr<server::monitoring::HttpServer>> http =
      server::monitoring::ServeDashboard(*options, *dashboard.monitor);
  if (!http.ok()) return http.status();
  dashboard.server = *std::move(http);
  std::printf("dashboard at %s (%s); metrics at %smetrics\n", dashboard.server->url().c_str(),
              dashboard.server->access().c_str(), dashboard.server->url().c_str());
  std::fflush(stdout);
  return dashboard;
}

absl::StatusOr<std::unique_ptr<server::monitoring::HttpServer>> StartMetricsEndpoint(
    const HttpFlags& flags, std::function<std::string()> metrics) {
  if (flags.address.empty()) return nullptr;
  absl::StatusOr<server::monitoring::HttpServerOptions> options =
      HttpServerOptionsFor(flags, nullptr);
  if (!options.ok()) return options.status();
  absl::StatusOr<std::unique_ptr<server::monitoring::HttpServer>> http =
      server::monitoring::ServeMetrics(*options, std::move(metrics));
  if (!http.ok()) return http.status();
  std::printf("metrics at %smetrics (%s)\n", (*http)->url().c_str(), (*http)->access().c_str());
  std::fflush(stdout);
  return http;
}

}  // namespace equifl::app
