#include "app/aggregator_run.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "aggregation/privacy/client_level_privacy.h"
#include "app/command.h"
#include "app/run_model.h"
#include "base/status_macros.h"
#include "client/data/wire_schema.h"
#include "client/model/model_state.h"
#include "fairness/html_report.h"
#include "protocol/file_io.h"
#include "protocol/torch/torch_tensors.h"

namespace equifl::app {
namespace {

std::atomic<bool> stop_requested{false};

extern "C" void RequestStop(int) { stop_requested = true; }

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

absl::StatusOr<StartingPoint> Start(const Config& config, bool resume, bool fall_back_to_last_good,
                                    const client::ShardManifest* schema,
                                    server::RunFolder& folder) {
  if (resume) {
    EQUIFL_RETURN_IF_ERROR(folder.ReopenForMoreRounds(config.server.rounds.rounds).status());
  }
  EQUIFL_ASSIGN_OR_RETURN(std::optional<server::RunFolder::Checkpoint> checkpoint,
                          folder.LoadLatest(resume && fall_back_to_last_good));
  if (resume && !checkpoint) {
    return absl::NotFoundError(absl::StrCat("--resume: the run folder '", config.server.run_dir,
                                            "' holds no checkpoint to resume from"));
  }
  if (!resume && checkpoint) {
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
  if (schema == nullptr) {
    return absl::InvalidArgumentError("a new run needs the data schema to size the model");
  }
  EQUIFL_ASSIGN_OR_RETURN(client::MultimodalModel model, BuildModel(*schema, config.model));
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

// The run folder keeps the schema of a new run, so --resume needs no --schema.
std::filesystem::path SchemaPath(const Config& config) {
  return std::filesystem::path(config.server.run_dir) / "schema.json";
}

absl::Status SaveSchema(const Config& config, const client::ShardManifest& schema) {
  const std::string json = schema.ToJson();
  const std::span<const std::byte> bytes = std::as_bytes(std::span(json));
  return protocol::WriteFileAtomically(SchemaPath(config).string(), {&bytes, 1});
}

// The schema given, or the one the run folder kept; nullopt when neither exists.
absl::StatusOr<std::optional<client::ShardManifest>> RunSchema(
    const Config& config, const client::ShardManifest* schema) {
  if (schema != nullptr) return *schema;
  const std::filesystem::path path = SchemaPath(config);
  if (!std::filesystem::exists(path)) return std::nullopt;
  EQUIFL_ASSIGN_OR_RETURN(client::ShardManifest kept, ReadManifest(path.string()));
  return kept;
}

server::AggregatorOptions AggregatorOptionsFor(const Config& config, const std::string& run_id,
                                               const client::ShardManifest* schema) {
  server::AggregatorOptions options;
  options.run_id = run_id;
  options.rounds = config.server.rounds;
  options.download = config.codec;
  options.upload_encoding = config.codec.encoding;
  options.optimizer = config.server.optimizer;
  options.max_concurrent_uploads = config.server.max_concurrent_uploads;
  options.upload_idle_timeout = std::chrono::seconds(config.server.upload_idle_timeout_seconds);
  options.fairness = config.fairness;
  options.privacy = config.privacy;
  options.secure_aggregation = config.secure_aggregation;
  options.robust_aggregation = config.robust_aggregation;
  if (schema != nullptr) {
    options.statistics.languages = schema->languages;
    options.statistics.groups = schema->groups;
    options.statistics.num_classes = static_cast<uint32_t>(schema->labels.size());
    options.data_schema = client::ToWireSchema(*schema);
  }
  const client::TrainerOptions& training = config.training;
  v1::TrainingHyperparameters& task = options.training;
  task.set_local_epochs(static_cast<uint32_t>(training.epochs));
  task.set_local_steps(static_cast<uint32_t>(training.steps));
  task.set_batch_size(static_cast<uint32_t>(training.batch_size));
  task.set_learning_rate(training.learning_rate);
  task.set_optimizer(std::string(NameOf(training.optimizer)));
  task.set_weight_decay(training.weight_decay);
  task.set_proximal_mu(training.proximal_mu);
  task.set_modality_dropout(training.modality_dropout);
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

void RoundObservers::OnRoundOpened(uint64_t round_id, const std::vector<std::string>& selected,
                                   bool final_evaluation) {
  for (server::RoundObserver* observer : observers_) {
    if (observer != nullptr) observer->OnRoundOpened(round_id, selected, final_evaluation);
  }
}

absl::Status RoundObservers::OnRoundClosed(const server::RoundSummary& summary,
                                           const server::GlobalModel& model,
                                           const aggregation::ServerOptimizer& optimizer) {
  for (server::RoundObserver* observer : observers_) {
    if (observer != nullptr)
      EQUIFL_RETURN_IF_ERROR(observer->OnRoundClosed(summary, model, optimizer));
  }
  return absl::OkStatus();
}

absl::StatusOr<server::GlobalModel> RoundObservers::ModelAfterRound(uint64_t round) const {
  for (const server::RoundObserver* observer : observers_) {
    if (observer == nullptr) continue;
    absl::StatusOr<server::GlobalModel> model = observer->ModelAfterRound(round);
    if (!absl::IsUnimplemented(model.status())) return model;
  }
  return absl::UnimplementedError("no observer keeps models of earlier rounds");
}

absl::StatusOr<AggregatorRun> OpenAggregatorRun(const Config& config, bool resume,
                                                const client::ShardManifest* schema,
                                                server::RoundObserver* also_tell,
                                                server::ServiceObserver* watcher,
                                                bool fall_back_to_last_good) {
  AggregatorRun run;
  EQUIFL_ASSIGN_OR_RETURN(run.folder,
                          server::RunFolder::Open(config.server.run_dir, resume ? "" : NewRunId()));
  run.folder->set_gap_bound(config.fairness.bound);
  EQUIFL_ASSIGN_OR_RETURN(StartingPoint start,
                          Start(config, resume, fall_back_to_last_good, schema, *run.folder));
  if (config.privacy.enabled()) {
    spdlog::info("{}", aggregation::DescribePrivacy(config.privacy));
  }
  EQUIFL_ASSIGN_OR_RETURN(std::optional<client::ShardManifest> kept, RunSchema(config, schema));
  if (kept) {
    EQUIFL_RETURN_IF_ERROR(SaveSchema(config, *kept));
  } else if (config.secure_aggregation.enabled) {
    return absl::InvalidArgumentError(absl::StrCat(
        "secure aggregation needs the data's schema (languages, groups, classes) and the run "
        "folder '",
        config.server.run_dir, "' keeps none: pass --schema SHARD"));
  }
  run.observers = std::make_unique<RoundObservers>(
      std::vector<server::RoundObserver*>{run.folder.get(), also_tell});
  EQUIFL_ASSIGN_OR_RETURN(
      run.aggregator,
      server::Aggregator::Create(
          AggregatorOptionsFor(config, run.folder->run_id(), kept ? &*kept : nullptr),
          std::move(start.model), std::move(start.optimizer), start.completed_rounds,
          run.observers.get(), watcher));
  run.completed_rounds = start.completed_rounds;
  if (start.completed_rounds > 0) {
    // The controllers continue from the state the last completed round left.
    EQUIFL_ASSIGN_OR_RETURN(std::optional<server::RoundRecord> last,
                            run.folder->history().LastRound());
    if (last) {
      EQUIFL_ASSIGN_OR_RETURN(server::ControllerWeights controller,
                              run.folder->history().ControllerWeightsAfter(last->round_id));
      server::FairnessState state;
      state.lambda = last->fairness_lambda;
      state.validation_gap = last->validation_gap;
      state.minmax_gap_weights = std::move(controller.minmax_gap_weights);
      state.group_weights = std::move(controller.group_weights);
      state.client_weights = std::move(controller.client_weights);
      state.group_dro_weights = std::move(controller.group_dro_weights);
      state.floor_probe = std::move(controller.floor_probe);
      run.aggregator->fairness().Restore(state);
    }
    // Model selection continues from its recorded judgements (the final evaluation
    // reads the chosen model's checkpoint).
    EQUIFL_ASSIGN_OR_RETURN(std::vector<fairness::SelectionJudgement> judged,
                            run.folder->history().SelectionJudgements());
    run.aggregator->fairness().RestoreSelection(judged);
  }
  return run;
}

grpc::ChannelArguments ModelChannelArguments() {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(static_cast<int>(protocol::DecoderLimits{}.max_chunk_bytes) +
                                     (1 << 20));
  return arguments;
}

absl::StatusOr<std::unique_ptr<grpc::Server>> ServeAggregator(
    server::Aggregator& aggregator, const std::string& address,
    const std::shared_ptr<grpc::ServerCredentials>& credentials, int& port) {
  grpc::ServerBuilder builder;
  port = 0;
  if (!address.empty()) builder.AddListeningPort(address, credentials, &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(protocol::DecoderLimits{}.max_chunk_bytes) +
                                   (1 << 20));
  builder.RegisterService(&aggregator);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || (!address.empty() && port == 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot listen on '", address, "': is the address valid and the port free?"));
  }
  return server;
}

StopOnSignal::StopOnSignal(server::Aggregator& aggregator) {
  std::signal(SIGINT, RequestStop);
  std::signal(SIGTERM, RequestStop);
  watcher_ = std::thread([this, &aggregator] {
    while (!finished_) {
      if (stop_requested) {
        spdlog::warn(
            "stopping: the open round is not aggregated or recorded; --resume runs it again");
        aggregator.Stop();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
}

StopOnSignal::~StopOnSignal() {
  finished_ = true;
  watcher_.join();
}

int FinishAggregatorRun(const Config& config, const AggregatorRun& run,
                        const std::string& report_path, const absl::Status& ran) {
  PrintRunTable(run.folder->history(), config.server.rounds.rounds);
  if (!run.folder->last_fairness_table().empty()) {
    std::printf("\nFairness of the %s (method %s):\n%s",
                config.server.rounds.final_evaluation ? "final model on the test splits"
                                                      : "last round's start model on validation",
                std::string(NameOf(config.fairness.method)).c_str(),
                run.folder->last_fairness_table().c_str());
    std::fflush(stdout);
  }
  if (!report_path.empty()) {
    const std::string lines = (std::filesystem::path(config.server.run_dir) / "report.jsonl");
    absl::StatusOr<std::string> html = fairness::RenderHtmlReportFile(
        lines, absl::StrCat("equifl run ", run.folder->run_id(), " (",
                            NameOf(config.fairness.method), ")"));
    std::ofstream file(report_path);
    if (html.ok()) file << *html;
    if (!html.ok() || !file) {
      spdlog::error("cannot write the report '{}': {}", report_path,
                    html.ok() ? "cannot write the file" : std::string(html.status().message()));
      return kExitFailure;
    }
    std::printf("report written to %s\n", report_path.c_str());
  }
  if (!ran.ok()) {
    spdlog::error("the run failed: {}", std::string(ran.message()));
    return kExitFailure;
  }
  return 0;
}

}  // namespace equifl::app
