// The equifl command: one binary with a subcommand per role.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <string>

#include "app/config.h"
#include "app/self_check.h"
#include "protocol/encoding.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

void ConfigureLogging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("equifl");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

int RunSelfCheck(const equifl::app::Config& config, uint64_t parameters) {
  equifl::app::SelfCheckOptions options;
  options.parameters = parameters;
  options.max_chunk_bytes = config.codec.max_chunk_bytes;
  spdlog::info("codec self-check: {} float32 parameters ({:.1f} MB), chunks of at most {} bytes",
               parameters, parameters * 4 / 1e6, options.max_chunk_bytes);
  auto checks = equifl::app::RunCodecSelfCheck(options);
  if (!checks.ok()) {
    spdlog::error("codec self-check failed: {}", std::string(checks.status().message()));
    return kExitFailure;
  }
  std::printf("%-8s %8s %10s %14s %12s %12s %12s\n", "encoding", "chunks", "wire MB", "max |error|",
              "error/bound", "encode GB/s", "decode GB/s");
  const double model_gigabytes = parameters * 4 / 1e9;
  for (const auto& check : *checks) {
    std::printf("%-8s %8llu %10.1f %14.3g %12.3f %12.2f %12.2f\n",
                equifl::protocol::EncodingName(check.encoding).c_str(),
                static_cast<unsigned long long>(check.chunks), check.wire_bytes / 1e6,
                check.max_abs_error, check.worst_bound_ratio,
                model_gigabytes / check.encode_seconds, model_gigabytes / check.decode_seconds);
  }
  std::printf(
      "codec self-check passed: every encoding within its documented error bound, "
      "every checksum verified\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "equifl: federated training of multimodal models that stay fair across groups.\n"
      "Raw data never leaves its owner; the aggregator sees model updates and group\n"
      "loss statistics only."};
  app.set_version_flag("--version", std::string("equifl ") + EQUIFL_VERSION);
  app.require_subcommand(1);
  app.fallthrough();

  std::string config_path;
  std::optional<std::string> log_level;
  app.add_option("-c,--config", config_path,
                 "YAML configuration file; unknown keys and bad values are errors")
      ->check(CLI::ExistingFile);
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error or off (default: log.level, or info)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  const char* kPending = "(arrives with a later release; see the README's roadmap)";
  app.add_subcommand("server",
                     std::string("Run the aggregator that coordinates rounds ") + kPending);
  app.add_subcommand("client", std::string("Run a client that trains on local data ") + kPending);
  app.add_subcommand("sim", std::string("Simulate many clients and the aggregator in one "
                                        "process ") +
                                kPending);
  app.add_subcommand("data", std::string("Import, synthesise and inspect data shards ") + kPending);
  app.add_subcommand("eval", std::string("Compute accuracy and fairness metrics of a "
                                         "checkpoint ") +
                                 kPending);
  uint64_t parameters = equifl::app::SelfCheckOptions{}.parameters;
  CLI::App* selfcheck = app.add_subcommand(
      "selfcheck",
      "Send a random model through the codec with every encoding and check the error "
      "bounds and checksums");
  selfcheck->add_option("--parameters", parameters, "float32 parameters in the random model")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{2'000'000'000}));

  CLI11_PARSE(app, argc, argv);

  equifl::app::Config config;
  if (!config_path.empty()) {
    auto loaded = equifl::app::LoadConfig(config_path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "equifl: bad configuration: %s\n",
                   std::string(loaded.status().message()).c_str());
      return kExitUsage;
    }
    config = *std::move(loaded);
  }
  ConfigureLogging(log_level.value_or(config.log_level));

  if (selfcheck->parsed()) return RunSelfCheck(config, parameters);
  for (const CLI::App* command : app.get_subcommands()) {
    spdlog::error("'equifl {}' is not available in equifl {} yet", command->get_name(),
                  EQUIFL_VERSION);
  }
  return kExitUsage;
}
