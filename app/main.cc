// The equifl command: one binary with a subcommand per role.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "app/certs_command.h"
#include "app/config.h"
#include "app/data_commands.h"
#include "app/eval_command.h"
#include "app/federated_commands.h"
#include "app/self_check.h"
#include "app/sim_command.h"
#include "base/version.h"
#include "protocol/encoding.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// --certs and --insecure of a command that opens or dials a gRPC port.
void AddTlsFlags(CLI::App& command, equifl::app::TlsFlags& flags, const std::string& certs_help) {
  command.add_option("--certs", flags.certs,
                     certs_help + " (made by `equifl certs`); mutual TLS is the default");
  command.add_flag("--insecure", flags.insecure,
                   "plaintext gRPC without client authentication, only for a trusted network");
}

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
  app.set_version_flag("--version", std::string("equifl ") + equifl::kVersion);
  app.require_subcommand(1);
  app.fallthrough();

  std::string config_path;
  std::optional<std::string> log_level;
  app.add_option("-c,--config", config_path,
                 "YAML configuration file; unknown keys and bad values are errors")
      ->check(CLI::ExistingFile);
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error or off (default: log.level, or info)")
      ->check(CLI::IsMember(std::vector<std::string>(std::begin(equifl::app::kLogLevels),
                                                     std::end(equifl::app::kLogLevels))));

  equifl::app::ServerCommand server_command;
  std::optional<std::string> server_address;
  std::optional<std::string> run_dir;
  CLI::App* server = app.add_subcommand(
      "server",
      "Run the aggregator: wait for clients, run the configured rounds (server section), "
      "checkpoint every round into the run folder, then run a final evaluation");
  server->add_option("--schema", server_command.schema,
                     "a shard folder (or its manifest.json) whose modalities, classes and "
                     "groups size the model of a new run; manifests hold no samples");
  server->add_option("--report", server_command.report,
                     "write the run's HTML report (accuracy and every cell's gap over rounds, "
                     "per-group accuracy) here at the end");
  server->add_flag("--resume", server_command.resume,
                   "continue the run in the run folder from its last completed round");
  server->add_option("--address", server_address, "host:port to listen on (server.address)");
  server->add_option("--run-dir", run_dir, "run folder (server.run_dir)");
  AddTlsFlags(*server, server_command.tls,
              "the aggregator's certificate folder DIR/server (ca.pem, server.pem, "
              "server.key); clients need certificates of the same CA");

  equifl::app::ClientCommand client_command;
  CLI::App* client = app.add_subcommand(
      "client",
      "Run a client: join the aggregator, train on the shard's training split each round, "
      "and evaluate the final model on its test split; raw data never leaves");
  client->add_option("--shard", client_command.shard, "the client's shard folder")
      ->required()
      ->check(CLI::ExistingDirectory);
  client->add_option("--server", server_address, "host:port of the aggregator (server.address)");
  client->add_option("--id", client_command.client_id,
                     "the client id to ask for (letters, digits, '.', '_', '-'); with --certs "
                     "the id is the certificate's, and --id must match it (a worker "
                     "certificate 'p*' needs --id starting with p)");
  AddTlsFlags(*client, client_command.tls,
              "this client's certificate folder DIR/clients/ID (ca.pem, client.pem, "
              "client.key); the server gives the client the certificate's id");
  equifl::app::SimCommand sim_command;
  std::string sim_config_path;
  CLI::App* sim = app.add_subcommand(
      "sim",
      "Simulate a federated run in one process: the aggregator and many virtual clients (the "
      "sim section: clients, data, partition, devices), with the real server's and client's "
      "round, aggregation, fairness and checkpoint code; or, with --worker, host a range of "
      "virtual clients for an aggregator elsewhere. Logs at warn unless --log-level says "
      "otherwise; progress goes to stdout");
  sim->add_option("config", sim_config_path,
                  "YAML configuration (as --config), e.g. sim/scenarios/iemocap_like.yaml")
      ->check(CLI::ExistingFile);
  sim->add_option("--transport", sim_command.transport,
                  "inprocess (gRPC's in-process channel) or grpc (TCP on --listen); "
                  "default sim.transport")
      ->check(CLI::IsMember(equifl::AllNames<equifl::sim::Transport>()));
  sim->add_option("--listen", sim_command.listen,
                  "host:port the aggregator listens on with --transport grpc (default "
                  "sim.listen, 127.0.0.1:0 picks a free port)");
  sim->add_option("--clients", sim_command.clients,
                  "clients this process hosts: FIRST..LAST (indices, inclusive) or none "
                  "(default: all; workers host the rest)");
  sim->add_flag("--worker", sim_command.worker,
                "host the --clients range for the aggregator at --connect; no aggregator here");
  sim->add_option("--connect", sim_command.connect, "host:port of the aggregator, for --worker");
  sim->add_flag("--resume", sim_command.resume,
                "continue the run in the run folder from its last completed round");
  sim->add_option("--report", sim_command.report, "write the run's HTML report here at the end");
  sim->add_option("--run-dir", run_dir, "run folder (server.run_dir)");
  AddTlsFlags(*sim, sim_command.tls,
              "with --transport grpc: DIR/server for an aggregator that workers reach, or "
              "with --worker a worker certificate's folder, e.g. 'DIR/clients/client-*'; "
              "one process hosting every client needs neither (it makes its certificates "
              "in memory)");
  equifl::app::CertsCommand certs_command;
  CLI::App* certs = equifl::app::AddCertsSubcommand(app, certs_command);
  equifl::app::DataCommand data_command(app);
  equifl::app::EvalCommand eval_command;
  CLI::App* eval = app.add_subcommand(
      "eval",
      "Compute accuracy, per-group metrics and every fairness metric (MinMaxGAP, statistical "
      "parity, disparate impact, equalized odds, equal opportunity, F1 gap, MSFD, AFI) of a "
      "checkpoint on a shard; the model section of --config must be the run's");
  eval->add_option("--checkpoint", eval_command.checkpoint,
                   "a model checkpoint, e.g. RUN/checkpoints/round-000005.safetensors")
      ->required()
      ->check(CLI::ExistingFile);
  eval->add_option("--shard", eval_command.shard, "the shard folder to evaluate on")
      ->required()
      ->check(CLI::ExistingDirectory);
  eval->add_option("--split", eval_command.split, "train, validation or test")
      ->capture_default_str();
  eval->add_option("--views", eval_command.views,
                   "modality views, e.g. fusion video (default: fusion and each modality)");
  eval->add_option("--json", eval_command.json,
                   "also write the report as JSON here ('-': "
                   "only JSON, to stdout)");
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
  if (!sim_config_path.empty()) config_path = sim_config_path;
  if (!config_path.empty()) {
    auto loaded = equifl::app::LoadConfig(config_path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "equifl: bad configuration: %s\n",
                   std::string(loaded.status().message()).c_str());
      return kExitUsage;
    }
    config = *std::move(loaded);
  }
  // Thousands of virtual clients would flood the log at info; progress goes to stdout.
  const bool quiet_sim = sim->parsed() && !log_level && config.log_level == "info";
  ConfigureLogging(quiet_sim ? "warn" : log_level.value_or(config.log_level));

  if (server_address) config.server.address = *server_address;
  if (run_dir) config.server.run_dir = *run_dir;
  if (selfcheck->parsed()) return RunSelfCheck(config, parameters);
  if (certs->parsed()) return equifl::app::RunCertsCommand(certs_command);
  if (server->parsed()) return equifl::app::RunServerCommand(config, server_command);
  if (client->parsed()) return equifl::app::RunClientCommand(config, client_command);
  if (data_command.parsed()) return data_command.Run();
  if (eval->parsed()) return equifl::app::RunEvalCommand(config, eval_command);
  if (sim->parsed()) return equifl::app::RunSimCommand(config, sim_command);
  for (const CLI::App* command : app.get_subcommands()) {
    spdlog::error("'equifl {}' is not available in equifl {} yet", command->get_name(),
                  equifl::kVersion);
  }
  return kExitUsage;
}
