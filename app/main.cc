// The equifl command: one binary with a subcommand per role.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "app/certs_command.h"
#include "app/command.h"
#include "app/config.h"
#include "app/data_commands.h"
#include "app/eval_command.h"
#include "app/federated_commands.h"
#include "app/self_check.h"
#include "app/sim_command.h"
#include "base/version.h"

namespace equifl::app {
namespace {

void ConfigureLogging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("equifl");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

int Main(int argc, char** argv) {
  CLI::App app{
      "equifl: federated training of multimodal models that stay fair across groups.\n"
      "Raw data never leaves its owner; the aggregator sees model updates and group\n"
      "loss statistics only."};
  app.set_version_flag("--version", std::string("equifl ") + kVersion);
  app.require_subcommand(1);
  app.fallthrough();

  std::string config_path;
  std::optional<std::string> log_level;
  app.add_option("-c,--config", config_path,
                 "YAML configuration file; unknown keys and bad values are errors")
      ->check(CLI::ExistingFile);
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error or off (default: log.level, or info)")
      ->check(
          CLI::IsMember(std::vector<std::string>(std::begin(kLogLevels), std::end(kLogLevels))));

  // Every subcommand, in the order --help lists them, and how it runs once chosen.
  Config config;
  ServerCommand server;
  ClientCommand client;
  SimCommand sim;
  CertsCommand certs;
  DataCommand data;
  EvalCommand eval;
  SelfCheckCommand selfcheck;
  const std::pair<CLI::App*, std::function<int()>> subcommands[] = {
      {AddServerSubcommand(app, server), [&] { return RunServerCommand(config, server); }},
      {AddClientSubcommand(app, client), [&] { return RunClientCommand(config, client); }},
      {AddSimSubcommand(app, sim), [&] { return RunSimCommand(config, sim); }},
      {AddCertsSubcommand(app, certs), [&] { return RunCertsCommand(certs); }},
      {AddDataSubcommand(app, data), [&] { return RunDataCommand(data); }},
      {AddEvalSubcommand(app, eval), [&] { return RunEvalCommand(config, eval); }},
      {AddSelfCheckSubcommand(app, selfcheck),
       [&] { return RunSelfCheckCommand(config, selfcheck); }},
  };

  // CLI11_PARSE would exit with CLI11's own codes (105, 106, 109, ...); a usage
  // error exits 2 like every other bad input, --help and --version 0.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : kExitUsage;
  }

  if (!sim.config.empty()) config_path = sim.config;
  if (!config_path.empty()) {
    auto loaded = LoadConfig(config_path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "equifl: bad configuration: %s\n",
                   std::string(loaded.status().message()).c_str());
      return kExitUsage;
    }
    config = *std::move(loaded);
  }
  // Thousands of virtual clients would flood the log at info; progress goes to stdout.
  const bool quiet_sim = app.got_subcommand("sim") && !log_level && config.log_level == "info";
  ConfigureLogging(quiet_sim ? "warn" : log_level.value_or(config.log_level));

  for (const auto& [subcommand, run] : subcommands) {
    if (subcommand->parsed()) return run();
  }
  return kExitUsage;  // Unreachable: the command line requires a subcommand.
}

}  // namespace
}  // namespace equifl::app

int main(int argc, char** argv) { return equifl::app::Main(argc, argv); }
