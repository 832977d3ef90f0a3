#include "app/federated_commands.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <torch/utils.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "client/federated_client.h"
#include "client/model_state.h"
#include "client/multimodal_model.h"
#include "client/shard.h"
#include "client/shard_dataset.h"
#include "fairness/html_report.h"
#include "protocol/torch_tensors.h"
#include "server/aggregator.h"
#include "server/run_folder.h"

namespace equifl::app {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

std::atomic<bool> stop_requested{false};

extern "C" void RequestStop(int) { stop_requested = true; }

absl::StatusOr<client::ShardManifest> ReadManifest(const std::string& path) {
  std::filesystem::path file = path;
  if (std::filesystem::is_directory(file)) file /= "manifest.json";
  std::ifstream stream(file);
  if (!stream) {
    return absl::NotFoundError(absl::StrCat("cannot read the data schema '", file.string(),
                                            "': give a shard folder or its manifest.json"));
  }
  std::stringstream text;
  text << stream.rdbuf();
  return client::ShardManifest::FromJson(text.str(), file.string());
}

// The configured architecture, sized for the data the manifest describes.
absl::StatusOr<client::ModelOptions> ModelOptionsFor(const client::ShardManifest& manifest,
                                                     const ModelConfig& model) {
  client::ModelOptions options = model.options;
  options.modalities.clear();
  for (const client::ShardModality& modality : manifest.modalities) {
    options.modalities.push_back({modality.name, modality.kind, modality.dim});
  }
  options.num_classes = static_cast<int64_t>(manifest.labels.size());
  options.num_groups = static_cast<int64_t>(manifest.groups.size());
  if (absl::Status status = options.Validate(); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("model: ", status.message()));
  }
  return options;
}

std::string NewRunId() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &utc);
  return absl::StrCat("run-", stamp, "-", ::getpid());
}

// The model and optimiser to start from: the run folder's last checkpoint with
// --resume, else a fresh model (also saved as round 0).
struct StartingPoint {
  server::GlobalModel model;
  aggregation::ServerOptimizer optimizer;
  uint64_t completed_rounds = 0;
};

absl::StatusOr<StartingPoint> Start(const Config& config, const ServerCommand& command,
                                    server::RunFolder& folder) {
  EQUIFL_ASSIGN_OR_RETURN(std::optional<server::RunFolder::Checkpoint> checkpoint,
                          folder.LoadLatest());
  if (command.resume && !checkpoint) {
    return absl::NotFoundError(absl::StrCat("--resume: the run folder '", config.server.run_dir,
                                            "' holds no checkpoint to resume from"));
  }
  if (!command.resume && checkpoint) {
    return absl::AlreadyExistsError(
        absl::StrCat("the run folder '", config.server.run_dir, "' already holds run '",
                     folder.run_id(), "'; pass --resume to continue it or choose another run_dir"));
  }
  if (checkpoint) {
    EQUIFL_ASSIGN_OR_RETURN(
        aggregation::ServerOptimizer optimizer,
        aggregation::ServerOptimizer::Create(config.server.optimizer, checkpoint->model.size()));
    if (!checkpoint->optimizer_state.empty()) {
      EQUIFL_RETURN_IF_ERROR(optimizer.Restore(checkpoint->optimizer_state));
    }
    spdlog::info("resuming run '{}' after round {}", folder.run_id(), checkpoint->completed_rounds);
    return StartingPoint{std::move(checkpoint->model), std::move(optimizer),
                         checkpoint->completed_rounds};
  }
  EQUIFL_ASSIGN_OR_RETURN(client::ShardManifest manifest, ReadManifest(command.schema));
  EQUIFL_ASSIGN_OR_RETURN(client::MultimodalModel model, BuildModel(manifest, config.model));
  EQUIFL_ASSIGN_OR_RETURN(std::vector<protocol::NamedTensor> state,
                          protocol::ToContiguousCpu(client::ExportState(*model)));
  EQUIFL_ASSIGN_OR_RETURN(std::vector<protocol::TensorView> views, protocol::ViewsOf(state));
  EQUIFL_ASSIGN_OR_RETURN(server::GlobalModel global, server::GlobalModel::FromTensors(views));
  EQUIFL_RETURN_IF_ERROR(folder.SaveInitialModel(global));
  EQUIFL_ASSIGN_OR_RETURN(
      aggregation::ServerOptimizer optimizer,
      aggregation::ServerOptimizer::Create(config.server.optimizer, global.size()));
  spdlog::info("new run '{}': model of {} parameters", folder.run_id(), global.size());
  return StartingPoint{std::move(global), std::move(optimizer), 0};
}

server::AggregatorOptions AggregatorOptionsFor(const Config& config, const std::string& run_id) {
  server::AggregatorOptions options;
  options.run_id = run_id;
  options.rounds = config.server.rounds;
  options.download = config.codec;
  options.upload_encoding = config.codec.encoding;
  options.optimizer = config.server.optimizer;
  options.max_concurrent_uploads = config.server.max_concurrent_uploads;
  options.fairness = config.fairness;
  const client::TrainerOptions& training = config.training;
  v1::TrainingHyperparameters& task = options.training;
  task.set_local_epochs(static_cast<uint32_t>(training.epochs));
  task.set_local_steps(static_cast<uint32_t>(training.steps));
  task.set_batch_size(static_cast<uint32_t>(training.batch_size));
  task.set_learning_rate(training.learning_rate);
  task.set_optimizer(std::string(client::OptimizerKindName(training.optimizer)));
  task.set_weight_decay(training.weight_decay);
  task.set_proximal_mu(training.proximal_mu);
  task.set_seed(training.seed);
  return options;
}

void PrintRunTable(const server::RunHistory& history, uint64_t training_rounds) {
  absl::StatusOr<std::vector<server::RoundRecord>> rounds = history.Rounds();
  if (!rounds.ok()) return;
  std::printf("\n%6s %8s %8s %11s %10s %10s %10s %8s\n", "round", "clients", "samples",
              "train loss", "val loss", "val acc", "val gap", "lambda");
  for (const server::RoundRecord& round : *rounds) {
    const std::string accuracy =
        round.validation_accuracy ? absl::StrFormat("%.4f", *round.validation_accuracy) : "-";
    if (round.round_id > training_rounds) {
      std::printf("%6s %4zu/%-3zu %8llu %11s %10.4f %10s   (final model on the test splits)\n",
                  "test", round.contributors.size(), round.selected.size(),
                  static_cast<unsigned long long>(round.validation_samples), "-",
                  round.validation_loss, accuracy.c_str());
      continue;
    }
    std::printf("%6llu %4zu/%-3zu %8llu %11.4f %10.4f %10s %10.4f %8.3f\n",
                static_cast<unsigned long long>(round.round_id), round.contributors.size(),
                round.selected.size(), static_cast<unsigned long long>(round.train_samples),
                round.train_loss, round.validation_loss, accuracy.c_str(), round.validation_gap,
                round.fairness_lambda);
  }
  std::fflush(stdout);
}

}  // namespace

absl::StatusOr<client::MultimodalModel> BuildModel(const client::ShardManifest& manifest,
                                                   const ModelConfig& model) {
  EQUIFL_ASSIGN_OR_RETURN(client::ModelOptions options, ModelOptionsFor(manifest, model));
  torch::manual_seed(model.seed);
  return client::CreateMultimodalModel(options);
}

int RunServerCommand(const Config& config, const ServerCommand& command) {
  if (!command.resume && command.schema.empty()) {
    spdlog::error(
        "equifl server needs --schema SHARD (a shard folder or its manifest.json) to "
        "size the model for a new run");
    return kExitUsage;
  }
  absl::StatusOr<std::unique_ptr<server::RunFolder>> folder =
      server::RunFolder::Open(config.server.run_dir, command.resume ? "" : NewRunId());
  if (!folder.ok()) {
    spdlog::error("{}", std::string(folder.status().message()));
    return kExitUsage;
  }
  absl::StatusOr<StartingPoint> start = Start(config, command, **folder);
  if (!start.ok()) {
    spdlog::error("{}", std::string(start.status().message()));
    return kExitUsage;
  }
  absl::StatusOr<std::unique_ptr<server::Aggregator>> aggregator = server::Aggregator::Create(
      AggregatorOptionsFor(config, (*folder)->run_id()), std::move(start->model),
      std::move(start->optimizer), start->completed_rounds, folder->get());
  if (!aggregator.ok()) {
    spdlog::error("{}", std::string(aggregator.status().message()));
    return kExitUsage;
  }
  if (start->completed_rounds > 0) {
    // The controller continues from the λ the last completed round left.
    absl::StatusOr<std::optional<server::RoundRecord>> last = (*folder)->history().LastRound();
    if (last.ok() && *last) (*aggregator)->fairness().RestoreLambda((*last)->fairness_lambda);
  }

  grpc::ServerBuilder builder;
  int port = 0;
  // Plaintext until the privacy issue brings mutual TLS.
  builder.AddListeningPort(config.server.address, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(protocol::DecoderLimits{}.max_chunk_bytes) +
                                   (1 << 20));
  builder.RegisterService(aggregator->get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    spdlog::error("cannot listen on '{}': is the address valid and the port free?",
                  config.server.address);
    return kExitUsage;
  }
  const std::string host = config.server.address.substr(0, config.server.address.rfind(':'));
  std::printf("equifl server listening on %s:%d (run '%s', run folder %s)\n", host.c_str(), port,
              (*folder)->run_id().c_str(), config.server.run_dir.c_str());
  std::fflush(stdout);
  spdlog::warn("connections are plaintext (no TLS yet): keep the server on a trusted network");

  std::signal(SIGINT, RequestStop);
  std::signal(SIGTERM, RequestStop);
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    while (!finished) {
      if (stop_requested) {
        spdlog::warn("stopping: the open round ends without aggregation; resume with --resume");
        (*aggregator)->Stop();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  const absl::Status ran = (*aggregator)->Run();
  finished = true;
  watcher.join();
  // Give clients a moment to learn that the run is over.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(3));
  PrintRunTable((*folder)->history(), config.server.rounds.rounds);
  if (!(*folder)->last_fairness_table().empty()) {
    std::printf("\nFairness of the %s (method %s):\n%s",
                config.server.rounds.final_evaluation ? "final model on the test splits"
                                                      : "last round's start model on validation",
                std::string(fairness::FairnessMethodName(config.fairness.method)).c_str(),
                (*folder)->last_fairness_table().c_str());
    std::fflush(stdout);
  }
  if (!command.report.empty()) {
    const std::string lines = (std::filesystem::path(config.server.run_dir) / "report.jsonl");
    absl::StatusOr<std::string> html = fairness::RenderHtmlReportFile(
        lines, absl::StrCat("equifl run ", (*folder)->run_id(), " (",
                            fairness::FairnessMethodName(config.fairness.method), ")"));
    std::ofstream file(command.report);
    if (html.ok()) file << *html;
    if (!html.ok() || !file) {
      spdlog::error("cannot write the report '{}': {}", command.report,
                    html.ok() ? "cannot write the file" : std::string(html.status().message()));
      return kExitFailure;
    }
    std::printf("report written to %s\n", command.report.c_str());
  }
  if (!ran.ok()) {
    spdlog::error("the run failed: {}", std::string(ran.message()));
    return kExitFailure;
  }
  return 0;
}

int RunClientCommand(const Config& config, const ClientCommand& command) {
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
  client::FederatedClientOptions options;
  options.requested_client_id = command.client_id;
  options.trainer = config.training;
  options.upload = config.codec;
  options.languages = shard->manifest().languages;
  options.groups = shard->manifest().groups;
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(static_cast<int>(protocol::DecoderLimits{}.max_chunk_bytes) +
                                     (1 << 20));
  auto channel = grpc::CreateCustomChannel(config.server.address,
                                           grpc::InsecureChannelCredentials(), arguments);
  spdlog::info("client with {} training, {} validation and {} test samples dialling {}",
               train->size(), validation->size(), test->size(), config.server.address);
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
