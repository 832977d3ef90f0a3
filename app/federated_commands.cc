#include "app/federated_commands.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <torch/utils.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "app/aggregator_run.h"
#include "app/command.h"
#include "app/run_model.h"
#include "base/status_macros.h"
#include "client/data/shard.h"
#include "client/data/wire_schema.h"
#include "client/federated_client.h"
#include "client/model/multimodal_model.h"
#include "client/shard_dataset.h"
#include "server/client_identity.h"
#include "server/monitoring/client_metrics.h"

namespace equifl::app {

CLI::App* AddServerSubcommand(CLI::App& app, ServerCommand& command) {
  CLI::App* server = app.add_subcommand(
      "server",
      "Run the aggregator: wait for clients, run the configured rounds (server section), "
      "checkpoint every round into the run folder, then run a final evaluation");
  server->add_option("--schema", command.schema,
                     "a shard folder (or its manifest.json) whose modalities, classes and "
                     "groups size the model of a new run; manifests hold no samples");
  server->add_option("--report", command.report,
                     "write the run's HTML report (accuracy and every cell's gap over rounds, "
                     "per-group accuracy) here at the end");
  server->add_flag("--resume", command.resume,
                   "continue the run in the run folder from its last completed round");
  server->add_flag("--resume-from-last-good", command.resume_from_last_good,
                   "--resume, and when the last round's checkpoint does not match the digest "
                   "the run history recorded (or holds NaN), continue from the newest round "
                   "whose checkpoint verifies and forget the rounds after it");
  server->add_option("--address", command.address, "host:port to listen on (server.address)");
  server->add_option("--run-dir", command.run_dir, "run folder (server.run_dir)");
  AddTlsFlags(*server, command.tls,
              "the aggregator's certificate folder DIR/server (ca.pem, server.pem, "
              "server.key); clients need certificates of the same CA");
  AddHttpFlags(*server, command.http, "--http",
               "host:port of the live dashboard (/), its JSON API (/api/) and Prometheus "
               "metrics (/metrics), e.g. 127.0.0.1:8080, or a port alone for 127.0.0.1 (0 "
               "picks one); off by default");
  return server;
}

CLI::App* AddClientSubcommand(CLI::App& app, ClientCommand& command) {
  CLI::App* client = app.add_subcommand(
      "client",
      "Run a client: join the aggregator, train on the shard's training split each round, "
      "and evaluate the final model on its test split; raw data never leaves");
  client->add_option("--shard", command.shard, "the client's shard folder")
      ->required()
      ->check(CLI::ExistingDirectory);
  client->add_option("--server", command.server, "host:port of the aggregator (server.address)");
  client->add_option("--id", command.client_id,
                     "the client id to ask for (letters, digits, '.', '_', '-'); with --certs "
                     "the id is the certificate's, and --id must match it (a worker "
                     "certificate 'p*' needs --id starting with p)");
  AddTlsFlags(*client, command.tls,
              "this client's certificate folder DIR/clients/ID (ca.pem, client.pem, "
              "client.key); the server gives the client the certificate's id");
  AddHttpFlags(*client, command.metrics, "--metrics",
               "host:port to serve this client's Prometheus metrics (/metrics: training time "
               "per round, samples per second, upload time), e.g. 127.0.0.1:9100, or a port "
               "alone for 127.0.0.1; off by default");
  return client;
}

int RunServerCommand(const Config& given, const ServerCommand& command) {
  Config config = given;
  if (command.address) config.server.address = *command.address;
  if (command.run_dir) config.server.run_dir = *command.run_dir;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentialsFor(command.tls, "equifl server");
  if (!credentials.ok()) {
    spdlog::error("{}", std::string(credentials.status().message()));
    return kExitUsage;
  }
  const bool resume = command.resume || command.resume_from_last_good;
  if (!resume && command.schema.empty()) {
    spdlog::error(
        "equifl server needs --schema SHARD (a shard folder or its manifest.json) to "
        "size the model for a new run");
    return kExitUsage;
  }
  std::optional<client::ShardManifest> schema;
  if (!command.schema.empty()) {
    absl::StatusOr<client::ShardManifest> manifest = ReadManifest(command.schema);
    if (!manifest.ok()) {
      spdlog::error("{}", std::string(manifest.status().message()));
      return kExitUsage;
    }
    schema = *std::move(manifest);
  }
  // Before the run folder is opened: a dashboard that cannot start leaves no run.
  absl::StatusOr<RunDashboard> dashboard = StartRunDashboard(config, command.http, command.tls);
  if (!dashboard.ok()) {
    spdlog::error("{}", std::string(dashboard.status().message()));
    return kExitUsage;
  }
  server::monitoring::RunMonitor* const monitor = dashboard->monitor.get();
  absl::StatusOr<AggregatorRun> run = OpenAggregatorRun(
      config, resume, schema ? &*schema : nullptr, monitor, monitor, command.resume_from_last_good);
  if (!run.ok()) {
    spdlog::error("{}", std::string(run.status().message()));
    return kExitUsage;
  }
  if (monitor != nullptr) monitor->OnRunStarted(run->folder->run_id(), run->completed_rounds);
  int port = 0;
  absl::StatusOr<std::unique_ptr<grpc::Server>> server =
      ServeAggregator(*run->aggregator, config.server.address, *credentials, port);
  if (!server.ok()) {
    spdlog::error("{}", std::string(server.status().message()));
    return kExitUsage;
  }
  const std::string host = config.server.address.substr(0, config.server.address.rfind(':'));
  std::printf("equifl server listening on %s:%d (run '%s', run folder %s)\n", host.c_str(), port,
              run->folder->run_id().c_str(), config.server.run_dir.c_str());
  std::fflush(stdout);
  if (command.tls.insecure) {
    spdlog::warn(
        "--insecure: connections are plaintext and clients are not authenticated; keep the "
        "server on a trusted network");
  } else {
    spdlog::info("mutual TLS: clients need a certificate from the CA in {}/ca.pem",
                 command.tls.certs);
  }
  absl::Status ran;
  {
    StopOnSignal stop(*run->aggregator);
    ran = run->aggregator->Run();
  }
  if (monitor != nullptr) monitor->OnRunEnded(ran.ok() ? "" : std::string(ran.message()));
  // Give clients a moment to learn that the run is over.
  (*server)->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(3));
  return FinishAggregatorRun(config, *run, command.report, ran);
}

int RunClientCommand(const Config& given, const ClientCommand& command) {
  Config config = given;
  if (command.server) config.server.address = *command.server;
  absl::StatusOr<ClientCredentials> credentials =
      ClientCredentialsFor(command.tls, "equifl client", "DIR/clients/ID");
  if (!credentials.ok()) {
    spdlog::error("{}", std::string(credentials.status().message()));
    return kExitUsage;
  }
  // With a certificate the server gives the client the certificate's id; a worker
  // certificate ('p*') acts for any id starting with p, so --id must say which.
  std::string client_id = command.client_id;
  const std::string& certificate = credentials->certificate_name;
  if (!certificate.empty()) {
    if (!client_id.empty() && !server::CertificateAllows(certificate, client_id)) {
      spdlog::error("--id '{}': the client certificate in {} is for '{}'; it cannot act as '{}'",
                    client_id, command.tls.certs, certificate, client_id);
      return kExitUsage;
    }
    if (client_id.empty() && server::IsWorkerPattern(certificate)) {
      spdlog::error("the certificate in {} is a worker certificate ('{}'): pass --id",
                    command.tls.certs, certificate);
      return kExitUsage;
    }
    if (client_id.empty()) client_id = certificate;
  }
  absl::StatusOr<client::Shard> shard = client::Shard::Open(command.shard);
  if (!shard.ok()) {
    spdlog::error("{}", std::string(shard.status().message()));
    return kExitUsage;
  }
  absl::StatusOr<client::Dataset> train = client::DatasetFromShard(*shard, client::Split::kTrain);
  absl::StatusOr<client::Dataset> validation =
      client::DatasetFromShard(*shard, client::Split::kValidation);
  absl::StatusOr<client::Dataset> test = client::DatasetFromShard(*shard, client::Split::kTest);
  for (const absl::Status& status : {train.status(), validation.status(), test.status()}) {
    if (!status.ok()) {
      spdlog::error("{}", std::string(status.message()));
      return kExitUsage;
    }
  }
  if (train->size() == 0) {
    spdlog::error("the shard '{}' has no training samples; a client needs some to take part",
                  command.shard);
    return kExitUsage;
  }
  absl::StatusOr<client::MultimodalModel> model = BuildModel(shard->manifest(), config.model);
  if (!model.ok()) {
    spdlog::error("{}", std::string(model.status().message()));
    return kExitUsage;
  }
  server::monitoring::ClientMetrics metrics;
  absl::StatusOr<std::unique_ptr<server::monitoring::HttpServer>> metrics_endpoint =
      StartMetricsEndpoint(command.metrics, [&metrics] { return metrics.Serialize(); });
  if (!metrics_endpoint.ok()) {
    spdlog::error("{}", std::string(metrics_endpoint.status().message()));
    return kExitUsage;
  }
  client::FederatedClientOptions options;
  options.on_task = [&metrics](const client::TaskOutcome& outcome) {
    if (outcome.feature_moments) return;  // no training, no evaluation
    if (outcome.evaluated) {
      metrics.Evaluated(outcome.upload_seconds);
    } else {
      metrics.Trained(outcome.train_seconds, static_cast<double>(outcome.train_samples),
                      outcome.upload_seconds);
    }
  };
  options.requested_client_id = client_id;
  options.trainer = config.training;
  options.upload = config.codec;
  options.languages = shard->manifest().languages;
  options.groups = shard->manifest().groups;
  options.data_schema = client::ToWireSchema(shard->manifest());
  auto channel = grpc::CreateCustomChannel(config.server.address, credentials->channel,
                                           ModelChannelArguments());
  spdlog::info("client with {} training, {} validation and {} test samples dialling {} ({})",
               train->size(), validation->size(), test->size(), config.server.address,
               certificate.empty() ? std::string("plaintext, --insecure")
                                   : absl::StrCat("mutual TLS as '", client_id, "'"));
  absl::StatusOr<client::ClientRunSummary> summary =
      client::RunFederatedClient(channel, *model, *train, *validation, *test, options);
  if (!summary.ok()) {
    spdlog::error("{}", std::string(summary.status().message()));
    return kExitFailure;
  }
  if (!summary->evaluated || test->size() == 0) {
    std::printf("client %s: %d rounds trained; no final evaluation here (%lld test samples)\n",
                summary->client_id.c_str(), summary->rounds_trained,
                static_cast<long long>(test->size()));
    return 0;
  }
  std::printf(
      "client %s: %d rounds trained; final model on the local test split: accuracy %.4f, "
      "loss %.4f\n",
      summary->client_id.c_str(), summary->rounds_trained, summary->test_accuracy,
      summary->test_loss);
  return 0;
}

}  // namespace equifl::app
