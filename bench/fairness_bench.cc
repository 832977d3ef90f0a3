// Compares the fairness methods on synthetic federated data with planted bias,
// running the real aggregator and the real clients (the code of `equifl server`
// and `equifl client`) in one process: per scenario, method and seed a federated
// run of R rounds over gRPC on 127.0.0.1, then the final model's test statistics
// summed over the clients (the final evaluation round) as a fairness report.
//
//   equifl_fairness_bench [--rounds 12] [--clients 6] [--samples 300] [--seeds 1,2,3]
//                         [--test-samples-per-cell N]
//                         [--scenarios video-gender,language,imbalance,reducible]
//                         [--methods fedavg,minmax_gap,...] [--epsilon E]
//                         [--lambda-learning-rate L] [--signed-weights]
//                         [--aggregation-beta B] [--allow-levelling-down]
//                         [--fixed-weights-power T]
//                         [--calibrate [--calibration-min-samples N]]
//                         [--decision-offsets [--positive-class C]
//                          [--offset-tolerance P] [--offset-max-accuracy-cost P]]
//                         [--labels no,yes]
//                         [--shards-dir SHARDS [--table-name NAME]]
//                         [--standardise-features] [--oracle]
//
// Every method of a scenario and seed sees the same data and the same initial
// model seed, and each run starts from fresh state (a new aggregator, new
// models). Progress goes to stderr, the Markdown table to stdout, with the
// generator's Bayes-optimal gap under each synthetic scenario's rows (the part
// of a gap no method can close; sim/synthetic_data.h). With
// --shards-dir, the methods run on the shards of that folder (e.g. from
// `equifl data import`) instead of the synthetic scenarios, reported under the
// folder's name (or --table-name). With --oracle, every
// method also trains centrally: the clients' data of each split pooled in one client
// (the same rounds, settings and test samples), reported as scenario "NAME (oracle)".
// Runs that measured the loss gap's floor (group DRO's probe, --calibrate) get a
// table of it per seed, beside the generator's Bayes-optimal MinMaxGAP. With
// --decision-offsets (fairness.calibration.decision_offsets) a table gives the
// test true-positive-rate and false-positive-rate gaps of the positive class and the
// accuracy without and with the fitted offsets, and their paired differences with
// 95% t intervals.
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "client/data/shard.h"
#include "client/federated_client.h"
#include "client/model/model_state.h"
#include "client/model/multimodal_model.h"
#include "client/shard_dataset.h"
#include "fairness/accuracy_gap_interval.h"
#include "fairness/fairness_method.h"
#include "fairness/fairness_report.h"
#include "fairness/feasibility_floor.h"
#include "fairness/group_dro.h"
#include "fairness/group_statistics.h"
#include "protocol/torch/torch_tensors.h"
#include "server/aggregator.h"
#include "sim/synthetic_data.h"

namespace {

namespace fs = std::filesystem;
using equifl::fairness::FairnessMethod;

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// ---------------------------------------------------------------------------
// Settings.

struct BenchSettings {
  int rounds = 12;
  int clients = 6;
  int samples = 300;
  // > 0: each client's test split grows (its train and validation splits stay
  // what the generator's fractions make of `samples`) until the pooled test split holds about this
  // many samples of every (language, group) cell. Synthetic test data is free, and a gap measured
  // on 45 samples per group-cell is mostly noise.
  int64_t test_samples_per_cell = 0;
  std::vector<uint64_t> seeds = {1, 2, 3};
  std::vector<std::string> scenarios = {"video-gender", "language", "imbalance"};
  std::vector<FairnessMethod> methods;
  std::optional<double> epsilon;
  std::optional<double> lambda_learning_rate;
  bool signed_weights = false;  // ERM-MinMaxGAP without the up-weight-only clamp.
  std::optional<double> aggregation_beta;
  bool allow_levelling_down = false;  // Group DRO without its no-harm guard.
  bool calibrate = false;             // fairness.calibration on.
  std::optional<uint64_t> calibration_min_samples;
  bool decision_offsets = false;  // fairness.calibration.decision_offsets (and calibration on).
  uint32_t positive_class = 1;
  std::optional<double> offset_tolerance_points;
  std::optional<double> offset_max_accuracy_cost_points;
  std::vector<std::string> labels;  // The synthetic scenarios' classes; empty: the generator's.
  std::optional<double> selection_share;      // fairness.selection_share (default: the library's).
  std::optional<double> fixed_weights_power;  // fairness.fixed_weights_power.
  // Model and training.
  int64_t hidden_size = 32;
  int64_t encoder_depth = 1;
  bool standardise_features = false;  // model.standardise_features: round 0 first.
  //! Also trains every method centrally: all clients' data pooled in one client.
  bool oracle = false;
  int64_t epochs = 1;
  int64_t batch_size = 32;
  double learning_rate = 3e-3;
  int round_deadline_seconds = 120;
};

const std::vector<std::string>& KnownScenarios() {
  static const std::vector<std::string> scenarios = {"video-gender", "language", "imbalance",
                                                     "reducible"};
  return scenarios;
}

// The synthetic data of a scenario.
absl::StatusOr<equifl::sim::SyntheticDataOptions> ScenarioData(const std::string& scenario,
                                                               const BenchSettings& settings,
                                                               uint64_t seed) {
  using equifl::sim::CellBias;
  equifl::sim::SyntheticDataOptions options;
  options.clients = settings.clients;
  options.samples_per_client = settings.samples;
  options.seed = seed;
  if (!settings.labels.empty()) options.labels = settings.labels;
  if (scenario == "video-gender") {
    // Video carries little and partly wrong signal for "female" (the default bias,
    // made stronger so that plain FedAvg shows a clear gap).
    options.biases = {CellBias{"female", "*", "video", 0.3, 0.3}};
  } else if (scenario == "language") {
    // Every modality is weak and noisy for "female" speakers of "ja".
    options.biases = {CellBias{"female", "ja", "*", 0.2, 0.3}};
  } else if (scenario == "imbalance") {
    // Few "female" samples on most clients, and a mild video bias against them.
    static const double kFractions[] = {0.05, 0.1, 0.2, 0.5, 0.5, 0.5};
    options.client_minority_fractions.clear();
    for (int k = 0; k < settings.clients; ++k) {
      options.client_minority_fractions.push_back(kFractions[k % 6]);
    }
    options.biases = {CellBias{"female", "*", "video", 0.5, 0.15}};
  } else if (scenario == "reducible") {
    // "female" is 15% of every client and her video shows the emotions through
    // prototypes of its own: full signal, no label noise, so the Bayes-optimal
    // classifier does as well for her; a model fitted mostly to "male" does not.
    options.minority_fraction = 0.15;
    options.biases = {CellBias{.group = "female", .modality = "video", .own_class_means = true}};
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown scenario '", scenario, "'; known: ", absl::StrJoin(KnownScenarios(), ", ")));
  }
  if (settings.test_samples_per_cell > 0) {
    // Expected test samples of the smallest group in a cell: test x (the minority
    // fractions summed over clients) / languages, languages being uniform.
    double minority_share = 0;
    for (int k = 0; k < options.clients; ++k) {
      minority_share += options.client_minority_fractions.empty()
                            ? options.minority_fraction
                            : options.client_minority_fractions[k];
    }
    const int64_t train = std::llround(settings.samples * options.train_fraction);
    const int64_t validation = std::llround(settings.samples * options.validation_fraction);
    const int64_t test = static_cast<int64_t>(
        std::ceil(static_cast<double>(settings.test_samples_per_cell) *
                  static_cast<double>(options.languages.size()) / minority_share));
    const double total = static_cast<double>(train + validation + test);
    options.samples_per_client = static_cast<int>(train + validation + test);
    options.train_fraction = static_cast<double>(train) / total;
    options.validation_fraction = static_cast<double>(validation) / total;
  }
  if (absl::Status status = options.Validate(); !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("scenario '", scenario, "': ", status.message()));
  }
  return options;
}

// ---------------------------------------------------------------------------
// Data: shards opened exactly as `equifl client` opens them.

struct ClientData {
  std::unique_ptr<equifl::client::Shard> shard;
  std::optional<equifl::client::Dataset> train;
  std::optional<equifl::client::Dataset> validation;
  std::optional<equifl::client::Dataset> test;
};

absl::StatusOr<std::unique_ptr<ClientData>> OpenClient(const std::string& dir) {
  EQUIFL_ASSIGN_OR_RETURN(equifl::client::Shard shard, equifl::client::Shard::Open(dir));
  auto data = std::make_unique<ClientData>();
  data->shard = std::make_unique<equifl::client::Shard>(std::move(shard));
  using equifl::client::Split;
  EQUIFL_ASSIGN_OR_RETURN(data->train,
                          equifl::client::DatasetFromShard(*data->shard, Split::kTrain));
  EQUIFL_ASSIGN_OR_RETURN(data->validation,
                          equifl::client::DatasetFromShard(*data->shard, Split::kValidation));
  EQUIFL_ASSIGN_OR_RETURN(data->test, equifl::client::DatasetFromShard(*data->shard, Split::kTest));
  if (data->train->size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the shard '", dir, "' has no training samples"));
  }
  return data;
}

absl::StatusOr<std::vector<std::unique_ptr<ClientData>>> OpenClients(
    const std::vector<std::string>& dirs) {
  std::vector<std::unique_ptr<ClientData>> clients;
  for (const std::string& dir : dirs) {
    EQUIFL_ASSIGN_OR_RETURN(std::unique_ptr<ClientData> data, OpenClient(dir));
    clients.push_back(std::move(data));
  }
  return clients;
}

// The samples of `parts` one after the other (parts of one schema).
equifl::client::Dataset Concatenated(const std::vector<const equifl::client::Dataset*>& parts) {
  const auto cat = [&](auto tensor_of) {
    std::vector<at::Tensor> tensors;
    for (const equifl::client::Dataset* part : parts) tensors.push_back(tensor_of(*part));
    return tensors.front().defined() ? torch::cat(tensors) : at::Tensor();
  };
  equifl::client::Dataset pooled;
  for (size_t m = 0; m < parts.front()->modalities.size(); ++m) {
    pooled.modalities.push_back(
        {parts.front()->modalities[m].name,
         cat([m](const equifl::client::Dataset& part) { return part.modalities[m].values; }),
         cat([m](const equifl::client::Dataset& part) { return part.modalities[m].lengths; })});
  }
  pooled.present = cat([](const equifl::client::Dataset& part) { return part.present; });
  pooled.label = cat([](const equifl::client::Dataset& part) { return part.label; });
  pooled.group = cat([](const equifl::client::Dataset& part) { return part.group; });
  pooled.language = cat([](const equifl::client::Dataset& part) { return part.language; });
  return pooled;
}

// One client holding every client's samples, split by split (the oracle: the same
// method trained centrally). The clients' shards must share their labels, groups
// and languages, so that indices mean the same.
absl::StatusOr<std::unique_ptr<ClientData>> PooledClient(
    const std::vector<std::unique_ptr<ClientData>>& clients) {
  const equifl::client::ShardManifest& first = clients.front()->shard->manifest();
  for (const std::unique_ptr<ClientData>& client : clients) {
    const equifl::client::ShardManifest& manifest = client->shard->manifest();
    if (manifest.labels != first.labels || manifest.groups != first.groups ||
        manifest.languages != first.languages) {
      return absl::InvalidArgumentError(
          absl::StrCat("--oracle pools the clients' data, but shard '", client->shard->dir(),
                       "' names its labels, groups or languages otherwise than '",
                       clients.front()->shard->dir(), "'"));
    }
  }
  EQUIFL_ASSIGN_OR_RETURN(std::unique_ptr<ClientData> pooled,
                          OpenClient(clients.front()->shard->dir()));
  const auto split = [&](std::optional<equifl::client::Dataset> ClientData::*member) {
    std::vector<const equifl::client::Dataset*> parts;
    for (const std::unique_ptr<ClientData>& client : clients)
      parts.push_back(&*((*client).*member));
    return Concatenated(parts);
  };
  pooled->train = split(&ClientData::train);
  pooled->validation = split(&ClientData::validation);
  pooled->test = split(&ClientData::test);
  return pooled;
}

// The client shards of `dir` (client::FindShards); a run needs at least two.
absl::StatusOr<std::vector<std::string>> ShardDirsIn(const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> dirs = equifl::client::FindShards(dir);
  if (!dirs.ok()) {
    return absl::Status(dirs.status().code(),
                        absl::StrCat("--shards-dir: ", dirs.status().message()));
  }
  if (dirs->size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("--shards-dir '", dir, "' holds ", dirs->size(),
                     " shard folder(s); a federated run needs at least 2 client shards"));
  }
  return dirs;
}

// ---------------------------------------------------------------------------
// One federated run.

struct RunResult {
  double seconds = 0;
  double accuracy = 0;
  double macro_f1 = 0;
  double worst_group_accuracy = 0;
  double min_max_gap = 0;  // Test MinMaxGAP over (language, fusion) cells.
  //! The same after per-group temperature scaling (= min_max_gap without --calibrate).
  double calibrated_min_max_gap = 0;
  double equalized_odds = 0;
  double disparate_impact = 0;
  double validation_gap = 0;  // Of the last training round.
  double lambda = 0;          // After the last training round.
  //! Test loss gap of every (language, fusion) cell, by language.
  std::map<std::string, double> cell_gaps;
  //! The loss gap's floor the run measured (fairness/feasibility_floor.h) and ε
  //! against it; floor_source empty when no floor was measured.
  uint64_t seed = 0;
  std::string feasibility;
  std::string floor_source;
  std::string floor_cell;
  double floor = 0;
  double floor_lower = 0;
  double floor_upper = 0;
  //! The round whose model model selection chose (nullopt: the last one's).
  std::optional<uint64_t> chosen_round;
  //! With --decision-offsets: the largest test true-positive-rate gap of the
  //! positive class over the (language, fusion) cells, without and with the
  //! offsets, and the accuracy with them.
  double true_positive_rate_gap = 0;
  double offset_true_positive_rate_gap = 0;
  double offset_accuracy = 0;
  //! The same for the false-positive rate of the positive class, which the offsets
  //! raise where they raise a true-positive rate.
  double false_positive_rate_gap = 0;
  double offset_false_positive_rate_gap = 0;
};

// The largest of `cell_gap`'s gaps over the fusion cells of `table` (0 where no cell
// has two groups to compare): CellTruePositiveRateGap or CellFalsePositiveRateGap
// of `positive_class`.
double LargestRateGap(const equifl::fairness::StatisticsTable& table, uint32_t positive_class,
                      std::optional<equifl::fairness::GroupGapInterval> (*cell_gap)(
                          const equifl::fairness::GroupsOfCell&, uint32_t, double)) {
  double largest = 0;
  for (const auto& [cell, groups] : table) {
    if (cell.modality != equifl::fairness::kFusionView) continue;
    if (const auto gap = cell_gap(groups, positive_class, 1.96)) {
      largest = std::max(largest, gap->gap);
    }
  }
  return largest;
}

// Keeps what the bench reports from the rounds. The aggregator tells it on the
// thread that runs the aggregator, which reads it once Run returned.
class Recorder final : public equifl::server::RoundObserver {
 public:
  absl::Status OnRoundClosed(const equifl::server::RoundSummary& summary,
                             const equifl::server::GlobalModel& model,
                             const equifl::aggregation::ServerOptimizer& optimizer) override {
    if (summary.final_evaluation) {
      test_ = summary.validation.table();
      calibrated_ = summary.calibrated;
      final_fairness_ = summary.fairness;
      chosen_round_ = summary.chosen_round;
      test_contributors_ = summary.contributors.size();
    } else {
      last_fairness_ = summary.fairness;
      ++training_rounds_;
      models_.insert_or_assign(summary.round_id, model);
    }
    return absl::OkStatus();
  }

  //! Every training round's model is kept (the bench's models are small), so the
  //! final evaluation can be of the one model selection chose.
  absl::StatusOr<equifl::server::GlobalModel> ModelAfterRound(uint64_t round) const override {
    const auto found = models_.find(round);
    if (found == models_.end()) {
      return absl::NotFoundError(absl::StrCat("the bench kept no model of round ", round));
    }
    return found->second;
  }

  const std::optional<equifl::fairness::StatisticsTable>& test() const { return test_; }
  //! Empty without calibration.
  const equifl::fairness::StatisticsTable& calibrated() const { return calibrated_; }
  size_t test_contributors() const { return test_contributors_; }
  const equifl::server::FairnessState& last_fairness() const { return last_fairness_; }
  //! After the final evaluation (its floor includes calibration's measurement).
  const equifl::server::FairnessState& final_fairness() const { return final_fairness_; }
  int training_rounds() const { return training_rounds_; }
  //! The model the final evaluation evaluated when model selection chose one.
  const std::optional<uint64_t>& chosen_round() const { return chosen_round_; }

 private:
  std::optional<uint64_t> chosen_round_;
  std::map<uint64_t, equifl::server::GlobalModel> models_;
  std::optional<equifl::fairness::StatisticsTable> test_;
  equifl::fairness::StatisticsTable calibrated_;
  size_t test_contributors_ = 0;
  equifl::server::FairnessState last_fairness_;
  equifl::server::FairnessState final_fairness_;
  int training_rounds_ = 0;
};

absl::StatusOr<equifl::client::ModelOptions> ModelOptionsFor(
    const equifl::client::ShardManifest& manifest, const BenchSettings& settings, bool adversary) {
  equifl::client::ModelOptions options;
  for (const equifl::client::ShardModality& modality : manifest.modalities) {
    options.modalities.push_back({modality.name, modality.kind, modality.dim});
  }
  options.num_classes = static_cast<int64_t>(manifest.labels.size());
  options.num_groups = static_cast<int64_t>(manifest.groups.size());
  options.hidden_size = settings.hidden_size;
  options.encoder_depth = settings.encoder_depth;
  options.standardise_features = settings.standardise_features;
  options.dropout = 0.0;
  options.adversary = adversary;
  if (absl::Status status = options.Validate(); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("model: ", status.message()));
  }
  return options;
}

equifl::client::TrainerOptions TrainerOptionsFor(const BenchSettings& settings, uint64_t seed) {
  equifl::client::TrainerOptions training;
  training.epochs = settings.epochs;
  training.batch_size = settings.batch_size;
  training.optimizer = equifl::client::OptimizerKind::kAdamW;
  training.learning_rate = settings.learning_rate;
  training.seed = seed;
  training.device = "cpu";
  return training;
}

equifl::server::FairnessOptions FairnessOptionsFor(const BenchSettings& settings,
                                                   FairnessMethod method) {
  equifl::server::FairnessOptions fairness;
  fairness.method = method;
  if (settings.epsilon) fairness.bound.epsilon = *settings.epsilon;
  if (settings.lambda_learning_rate) {
    fairness.minmax_gap.lambda_learning_rate = *settings.lambda_learning_rate;
  }
  if (settings.signed_weights) fairness.minmax_gap.up_weight_only = false;
  if (settings.aggregation_beta) fairness.minmax_gap.aggregation_beta = *settings.aggregation_beta;
  fairness.group_dro.allow_levelling_down = settings.allow_levelling_down;
  fairness.calibration.enabled = settings.calibrate || settings.decision_offsets;
  fairness.calibration.decision_offsets = settings.decision_offsets;
  fairness.calibration.positive_class = settings.positive_class;
  if (settings.offset_tolerance_points) {
    fairness.calibration.offset_tolerance_points = *settings.offset_tolerance_points;
  }
  if (settings.offset_max_accuracy_cost_points) {
    fairness.calibration.offset_max_accuracy_cost_points =
        *settings.offset_max_accuracy_cost_points;
  }
  if (settings.selection_share) fairness.selection_share = *settings.selection_share;
  if (settings.fixed_weights_power) fairness.fixed_weights_power = *settings.fixed_weights_power;
  if (settings.calibration_min_samples) {
    fairness.calibration.min_samples = *settings.calibration_min_samples;
  }
  return fairness;
}

absl::StatusOr<RunResult> RunFederated(const std::vector<std::unique_ptr<ClientData>>& clients,
                                       const BenchSettings& settings, FairnessMethod method,
                                       uint64_t seed, const std::string& run_id) {
  const auto started = std::chrono::steady_clock::now();
  const bool adversary = method == FairnessMethod::kAdversarial;
  const equifl::client::ShardManifest& manifest = clients.front()->shard->manifest();
  EQUIFL_ASSIGN_OR_RETURN(equifl::client::ModelOptions model_options,
                          ModelOptionsFor(manifest, settings, adversary));

  // The initial global model, as `equifl server` builds it.
  torch::manual_seed(seed);
  EQUIFL_ASSIGN_OR_RETURN(equifl::client::MultimodalModel initial,
                          equifl::client::CreateMultimodalModel(model_options));
  EQUIFL_ASSIGN_OR_RETURN(std::vector<equifl::protocol::NamedTensor> state,
                          equifl::protocol::ToContiguousCpu(equifl::client::ExportState(*initial)));
  EQUIFL_ASSIGN_OR_RETURN(std::vector<equifl::protocol::TensorView> views,
                          equifl::protocol::ViewsOf(state));
  EQUIFL_ASSIGN_OR_RETURN(equifl::server::GlobalModel global,
                          equifl::server::GlobalModel::FromTensors(views));
  equifl::aggregation::ServerOptimizerOptions optimizer_options;
  EQUIFL_ASSIGN_OR_RETURN(
      equifl::aggregation::ServerOptimizer optimizer,
      equifl::aggregation::ServerOptimizer::Create(optimizer_options, global.size()));

  // The client models, built here (one thread) as each `equifl client` would.
  std::vector<equifl::client::MultimodalModel> models;
  for (size_t k = 0; k < clients.size(); ++k) {
    torch::manual_seed(seed);
    EQUIFL_ASSIGN_OR_RETURN(equifl::client::MultimodalModel model,
                            equifl::client::CreateMultimodalModel(model_options));
    models.push_back(std::move(model));
  }

  const equifl::client::TrainerOptions training = TrainerOptionsFor(settings, seed);
  equifl::server::AggregatorOptions options;
  options.run_id = run_id;
  options.rounds.rounds = static_cast<uint32_t>(settings.rounds);
  options.rounds.final_evaluation = true;
  options.rounds.min_clients = static_cast<uint32_t>(clients.size());
  options.rounds.client_fraction = 1.0;
  options.rounds.quorum = 1.0;
  options.rounds.round_deadline = std::chrono::seconds(settings.round_deadline_seconds);
  options.rounds.seed = seed;
  options.optimizer = optimizer_options;
  options.fairness = FairnessOptionsFor(settings, method);
  equifl::v1::TrainingHyperparameters& task = options.training;
  task.set_local_epochs(static_cast<uint32_t>(training.epochs));
  task.set_local_steps(static_cast<uint32_t>(training.steps));
  task.set_batch_size(static_cast<uint32_t>(training.batch_size));
  task.set_learning_rate(training.learning_rate);
  task.set_optimizer(std::string(equifl::NameOf(training.optimizer)));
  task.set_weight_decay(training.weight_decay);
  task.set_proximal_mu(training.proximal_mu);
  task.set_modality_dropout(training.modality_dropout);
  task.set_seed(training.seed);

  Recorder recorder;
  EQUIFL_ASSIGN_OR_RETURN(std::unique_ptr<equifl::server::Aggregator> aggregator,
                          equifl::server::Aggregator::Create(options, std::move(global),
                                                             std::move(optimizer), 0, &recorder));

  const int max_message =
      static_cast<int>(equifl::protocol::DecoderLimits{}.max_chunk_bytes) + (1 << 20);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(max_message);
  builder.RegisterService(aggregator.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError("cannot listen on 127.0.0.1 (an ephemeral port)");
  }
  const std::string address = absl::StrCat("127.0.0.1:", port);

  // Clients, each on its own thread and channel, as separate processes would be.
  std::mutex mutex;
  std::condition_variable client_done;
  int clients_done = 0;
  std::vector<absl::Status> client_status(clients.size());
  std::vector<std::thread> threads;
  for (size_t k = 0; k < clients.size(); ++k) {
    threads.emplace_back([&, k] {
      equifl::client::FederatedClientOptions client_options;
      client_options.requested_client_id = absl::StrFormat("client-%03d", k);
      client_options.trainer = training;
      client_options.languages = clients[k]->shard->manifest().languages;
      client_options.groups = clients[k]->shard->manifest().groups;
      client_options.connect_timeout = std::chrono::seconds(15);
      grpc::ChannelArguments arguments;
      arguments.SetMaxReceiveMessageSize(max_message);
      auto channel =
          grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments);
      absl::StatusOr<equifl::client::ClientRunSummary> summary = equifl::client::RunFederatedClient(
          channel, models[k], *clients[k]->train, *clients[k]->validation, *clients[k]->test,
          client_options);
      std::lock_guard<std::mutex> lock(mutex);
      client_status[k] = summary.status();
      if (!summary.ok()) aggregator->Stop();  // No use waiting for the deadline's rounds.
      ++clients_done;
      client_done.notify_all();
    });
  }

  const absl::Status ran = aggregator->Run();
  {
    // Let clients learn that the run is over before the server goes away.
    std::unique_lock<std::mutex> lock(mutex);
    client_done.wait_for(lock, std::chrono::seconds(20),
                         [&] { return clients_done == static_cast<int>(clients.size()); });
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  for (std::thread& thread : threads) thread.join();
  server->Wait();

  if (!ran.ok()) {
    return absl::Status(ran.code(), absl::StrCat("the aggregator failed: ", ran.message()));
  }
  for (size_t k = 0; k < clients.size(); ++k) {
    if (!client_status[k].ok()) {
      return absl::Status(client_status[k].code(),
                          absl::StrCat("client ", k, " failed: ", client_status[k].message()));
    }
  }
  if (recorder.training_rounds() != settings.rounds) {
    return absl::InternalError(absl::StrCat("the run closed ", recorder.training_rounds(),
                                            " training rounds of ", settings.rounds));
  }
  std::optional<equifl::fairness::StatisticsTable> test = recorder.test();
  if (!test || test->empty()) {
    return absl::InternalError("the final evaluation round delivered no test statistics");
  }
  if (recorder.test_contributors() != clients.size()) {
    return absl::InternalError(absl::StrCat("the final evaluation counted ",
                                            recorder.test_contributors(), " clients of ",
                                            clients.size()));
  }
  const equifl::fairness::StatisticsTable fusion = equifl::fairness::OfViews(
      equifl::fairness::WithoutClients(*test), {equifl::fairness::kFusionView});
  if (fusion.empty()) return absl::InternalError("the test statistics have no fusion cells");
  EQUIFL_ASSIGN_OR_RETURN(equifl::fairness::FairnessReport report,
                          equifl::fairness::BuildFairnessReport(fusion));

  RunResult result;
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  result.accuracy = report.overall.accuracy;
  result.macro_f1 = report.overall.macro_f1;
  result.worst_group_accuracy = report.overall.worst_group_accuracy;
  result.min_max_gap = report.min_max_gap.value;
  result.calibrated_min_max_gap = result.min_max_gap;
  if (!recorder.calibrated().empty()) {
    EQUIFL_ASSIGN_OR_RETURN(const equifl::fairness::FairnessReport calibrated,
                            equifl::fairness::BuildFairnessReport(equifl::fairness::OfViews(
                                equifl::fairness::WithoutClients(recorder.calibrated()),
                                {equifl::fairness::kFusionView})));
    result.calibrated_min_max_gap = calibrated.min_max_gap.value;
    if (settings.decision_offsets) {
      const equifl::fairness::StatisticsTable with_offsets =
          equifl::fairness::WithoutClients(recorder.calibrated());
      const uint32_t positive = settings.positive_class;
      result.true_positive_rate_gap =
          LargestRateGap(fusion, positive, equifl::fairness::CellTruePositiveRateGap);
      result.offset_true_positive_rate_gap =
          LargestRateGap(with_offsets, positive, equifl::fairness::CellTruePositiveRateGap);
      result.offset_accuracy = calibrated.overall.accuracy;
      result.false_positive_rate_gap =
          LargestRateGap(fusion, positive, equifl::fairness::CellFalsePositiveRateGap);
      result.offset_false_positive_rate_gap =
          LargestRateGap(with_offsets, positive, equifl::fairness::CellFalsePositiveRateGap);
    }
  }
  result.equalized_odds = report.overall.equalized_odds_difference.mean;
  result.disparate_impact = report.overall.disparate_impact.mean;
  const equifl::server::FairnessState fairness = recorder.last_fairness();
  result.validation_gap = fairness.validation_gap;
  result.lambda = fairness.lambda;
  result.seed = seed;
  result.chosen_round = recorder.chosen_round();
  if (const auto& feasibility = recorder.final_fairness().feasibility) {
    result.feasibility = equifl::fairness::FeasibilityName(feasibility->feasibility);
    // The settled floor, else what bounds it from above.
    if (const auto& floor = feasibility->floor ? feasibility->floor : feasibility->upper_estimate) {
      const equifl::fairness::CellLossGapBounds& gap = floor->gap;
      result.floor_source = absl::StrCat(equifl::fairness::FloorSourceName(floor->source),
                                         floor->settled ? "" : " (at most)");
      result.floor_cell = equifl::fairness::CellName(gap.cell);
      result.floor = gap.bias_corrected;
      result.floor_lower = gap.lower;
      result.floor_upper = gap.upper;
    }
  }
  for (const equifl::fairness::CellLossGap& cell : report.cells) {
    result.cell_gaps[cell.cell.language.empty() ? "-" : cell.cell.language] = cell.loss_gap;
  }
  return result;
}

// ---------------------------------------------------------------------------
// Reporting.

struct MeanStd {
  double mean = 0;
  double std = 0;
};

MeanStd Summarize(const std::vector<RunResult>& runs, double RunResult::*field) {
  MeanStd out;
  if (runs.empty()) return out;
  for (const RunResult& run : runs) out.mean += run.*field;
  out.mean /= static_cast<double>(runs.size());
  if (runs.size() > 1) {
    double squares = 0;
    for (const RunResult& run : runs) squares += (run.*field - out.mean) * (run.*field - out.mean);
    out.std = std::sqrt(squares / static_cast<double>(runs.size() - 1));
  }
  return out;
}

std::string Cell(const std::vector<RunResult>& runs, double RunResult::*field, int digits = 3) {
  const MeanStd value = Summarize(runs, field);
  return absl::StrFormat("%.*f ± %.*f", digits, value.mean, digits, value.std);
}

// Results of one scenario: method -> one result per seed.
using ScenarioResults = std::map<FairnessMethod, std::vector<RunResult>>;

// Per scenario, one run-like result per seed holding the generator's Bayes-optimal
// fusion loss gap of each language (cell_gaps), its MinMaxGAP (the largest) and
// its worst group's accuracy: the floor under every method's row.
using BayesResults = std::map<std::string, std::vector<RunResult>>;

constexpr int64_t kBayesSamplesPerCell = 20000;

absl::StatusOr<RunResult> BayesOptimalResult(const equifl::sim::SyntheticDataOptions& options,
                                             uint64_t seed) {
  absl::StatusOr<std::vector<equifl::sim::BayesOptimalCell>> cells =
      equifl::sim::EstimateBayesOptimal(options, "fusion", kBayesSamplesPerCell, seed);
  if (!cells.ok()) return cells.status();
  RunResult result;
  result.worst_group_accuracy = 1;
  for (const equifl::sim::BayesOptimalCell& cell : *cells) {
    result.worst_group_accuracy = std::min(result.worst_group_accuracy, cell.accuracy);
  }
  result.cell_gaps = equifl::sim::BayesOptimalLossGaps(*cells);
  for (const auto& [language, gap] : result.cell_gaps) {
    result.min_max_gap = std::max(result.min_max_gap, gap);
  }
  return result;
}

// The two-sided 95% quantile of Student's t with `freedom` degrees of freedom.
double StudentT95(size_t freedom) {
  static const double kQuantiles[] = {12.706, 4.303, 2.776, 2.571, 2.447, 2.365, 2.306,
                                      2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
                                      2.120,  2.110, 2.101, 2.093, 2.086, 2.080};
  if (freedom == 0) return NAN;
  return freedom <= std::size(kQuantiles) ? kQuantiles[freedom - 1] : 1.96;
}

// The mean of after − before over the runs (paired by seed) with its 95% t interval.
std::string PairedDifference(const std::vector<RunResult>& runs, double RunResult::*before,
                             double RunResult::*after, double scale) {
  std::vector<double> differences;
  for (const RunResult& run : runs) differences.push_back(scale * (run.*after - run.*before));
  double mean = 0;
  for (const double difference : differences) mean += difference;
  mean /= static_cast<double>(std::max<size_t>(differences.size(), 1));
  double squares = 0;
  for (const double difference : differences) squares += (difference - mean) * (difference - mean);
  if (differences.size() < 2) return absl::StrFormat("%+.2f", mean);
  const double half = StudentT95(differences.size() - 1) *
                      std::sqrt(squares / static_cast<double>(differences.size() - 1) /
                                static_cast<double>(differences.size()));
  return absl::StrFormat("%+.2f [%+.2f, %+.2f]", mean, mean - half, mean + half);
}

void PrintDecisionOffsets(const std::vector<std::pair<std::string, ScenarioResults>>& results,
                          const BenchSettings& settings) {
  std::printf(
      "\nDecision offsets for equal opportunity of class %u: the largest test "
      "true-positive-rate gap over the cells, the largest false-positive-rate gap of the class, "
      "and the accuracy, in points, without and with the offsets; differences paired by seed, "
      "with 95%% t intervals:\n\n"
      "| scenario | method | TPR gap | with offsets | difference | FPR gap | with offsets | "
      "difference | accuracy | with offsets | difference |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n",
      settings.positive_class);
  for (const auto& [scenario, by_method] : results) {
    for (const auto& [method, runs] : by_method) {
      const MeanStd gap = Summarize(runs, &RunResult::true_positive_rate_gap);
      const MeanStd gap_after = Summarize(runs, &RunResult::offset_true_positive_rate_gap);
      const MeanStd false_gap = Summarize(runs, &RunResult::false_positive_rate_gap);
      const MeanStd false_gap_after = Summarize(runs, &RunResult::offset_false_positive_rate_gap);
      const MeanStd accuracy = Summarize(runs, &RunResult::accuracy);
      const MeanStd accuracy_after = Summarize(runs, &RunResult::offset_accuracy);
      std::printf(
          "| %s | %s | %.1f ± %.1f | %.1f ± %.1f | %s | %.1f ± %.1f | %.1f ± %.1f | %s | %.1f ± "
          "%.1f | %.1f ± %.1f | %s |\n",
          scenario.c_str(), std::string(equifl::NameOf(method)).c_str(), 100 * gap.mean,
          100 * gap.std, 100 * gap_after.mean, 100 * gap_after.std,
          PairedDifference(runs, &RunResult::true_positive_rate_gap,
                           &RunResult::offset_true_positive_rate_gap, 100)
              .c_str(),
          100 * false_gap.mean, 100 * false_gap.std, 100 * false_gap_after.mean,
          100 * false_gap_after.std,
          PairedDifference(runs, &RunResult::false_positive_rate_gap,
                           &RunResult::offset_false_positive_rate_gap, 100)
              .c_str(),
          100 * accuracy.mean, 100 * accuracy.std, 100 * accuracy_after.mean,
          100 * accuracy_after.std,
          PairedDifference(runs, &RunResult::accuracy, &RunResult::offset_accuracy, 100).c_str());
    }
  }
}

void PrintTable(const std::vector<std::pair<std::string, ScenarioResults>>& results,
                const BayesResults& bayes, const BenchSettings& settings, double epsilon) {
  std::printf(
      "\n| scenario | method | accuracy | macro-F1 | worst-group acc | MinMaxGAP (test) | "
      "EO diff | DI | val gap (last round) | λ (last round) | s/run | MinMaxGAP (test, "
      "calibrated) |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& [scenario, by_method] : results) {
    for (FairnessMethod method : settings.methods) {
      auto found = by_method.find(method);
      if (found == by_method.end()) continue;
      const std::vector<RunResult>& runs = found->second;
      std::printf(
          "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f | %s |\n", scenario.c_str(),
          std::string(equifl::NameOf(method)).c_str(), Cell(runs, &RunResult::accuracy).c_str(),
          Cell(runs, &RunResult::macro_f1).c_str(),
          Cell(runs, &RunResult::worst_group_accuracy).c_str(),
          Cell(runs, &RunResult::min_max_gap).c_str(),
          Cell(runs, &RunResult::equalized_odds).c_str(),
          Cell(runs, &RunResult::disparate_impact).c_str(),
          Cell(runs, &RunResult::validation_gap).c_str(), Cell(runs, &RunResult::lambda, 2).c_str(),
          Summarize(runs, &RunResult::seconds).mean,
          settings.calibrate || settings.decision_offsets
              ? Cell(runs, &RunResult::calibrated_min_max_gap).c_str()
              : "-");
    }
  }
  if (settings.decision_offsets) PrintDecisionOffsets(results, settings);
  // The floors the runs measured, per seed, beside the generator's own.
  bool any_floor = false;
  for (const auto& [scenario, by_method] : results) {
    for (const auto& [method, runs] : by_method) {
      for (const RunResult& run : runs) any_floor = any_floor || !run.floor_source.empty();
    }
  }
  if (any_floor) {
    std::printf(
        "\nThe loss gap's floor each run measured (estimate [interval] in its deciding cell), "
        "epsilon %g against it, and the generator's Bayes-optimal MinMaxGAP of the seed:\n\n"
        "| scenario | method | seed | floor | interval | cell | measured by | epsilon is | "
        "Bayes MinMaxGAP | in the interval |\n|---|---|---|---|---|---|---|---|---|---|\n",
        epsilon);
    for (const auto& [scenario, by_method] : results) {
      const auto found = bayes.find(scenario);
      for (const auto& [method, runs] : by_method) {
        for (size_t i = 0; i < runs.size(); ++i) {
          const RunResult& run = runs[i];
          if (run.floor_source.empty()) continue;
          std::string bayes_gap = "-";
          std::string inside = "-";
          if (found != bayes.end() && i < found->second.size()) {
            const double gap = found->second[i].min_max_gap;
            bayes_gap = absl::StrFormat("%.3f", gap);
            inside = gap >= run.floor_lower && gap <= run.floor_upper ? "yes" : "no";
          }
          std::printf("| %s | %s | %llu | %.3f | [%.3f, %.3f] | %s | %s | %s | %s | %s |\n",
                      scenario.c_str(), std::string(equifl::NameOf(method)).c_str(),
                      static_cast<unsigned long long>(run.seed), run.floor, run.floor_lower,
                      run.floor_upper, run.floor_cell.c_str(), run.floor_source.c_str(),
                      run.feasibility.c_str(), bayes_gap.c_str(), inside.c_str());
        }
      }
    }
  }
  // Every cell's gap: the loss gap between groups of each (language, fusion) cell.
  for (const auto& [scenario, by_method] : results) {
    std::set<std::string> languages;
    for (const auto& [method, runs] : by_method) {
      for (const RunResult& run : runs) {
        for (const auto& [language, gap] : run.cell_gaps) languages.insert(language);
      }
    }
    std::printf("\nTest loss gap per cell (%s; mean ± std over seeds):\n\n| method |",
                scenario.c_str());
    for (const std::string& language : languages) std::printf(" %s |", language.c_str());
    std::printf("\n|---|");
    for (size_t i = 0; i < languages.size(); ++i) std::printf("---|");
    std::printf("\n");
    auto print_row = [&](const std::string& name, const std::vector<RunResult>& runs) {
      std::printf("| %s |", name.c_str());
      for (const std::string& language : languages) {
        std::vector<RunResult> per_cell;
        for (const RunResult& run : runs) {
          const auto found = run.cell_gaps.find(language);
          if (found == run.cell_gaps.end()) continue;
          per_cell.push_back(run);
          per_cell.back().min_max_gap = found->second;
        }
        std::printf(" %s |", Cell(per_cell, &RunResult::min_max_gap).c_str());
      }
      std::printf("\n");
    };
    for (const auto& [method, runs] : by_method) {
      print_row(std::string(equifl::NameOf(method)), runs);
    }
    if (const auto found = bayes.find(scenario); found != bayes.end()) {
      // The generator's own floor: its Bayes-optimal classifier's gap.
      print_row("Bayes-optimal", found->second);
      std::printf(
          "\nBayes-optimal (%s, Monte Carlo, %lld samples per cell): MinMaxGAP %s, worst-group "
          "accuracy %s; a method's gap above this is what reweighting can close.\n",
          scenario.c_str(), static_cast<long long>(kBayesSamplesPerCell),
          Cell(found->second, &RunResult::min_max_gap).c_str(),
          Cell(found->second, &RunResult::worst_group_accuracy).c_str());
    }
  }
  std::printf("\n");
  for (const auto& [scenario, by_method] : results) {
    auto fedavg = by_method.find(FairnessMethod::kFedAvg);
    auto minmax = by_method.find(FairnessMethod::kMinMaxGap);
    if (fedavg == by_method.end() || minmax == by_method.end()) {
      std::printf("%s: ERM-MinMaxGAP vs FedAvg: not compared (needs both fedavg and minmax_gap)\n",
                  scenario.c_str());
      continue;
    }
    const double gap_fedavg = Summarize(fedavg->second, &RunResult::min_max_gap).mean;
    const double gap_minmax = Summarize(minmax->second, &RunResult::min_max_gap).mean;
    const double accuracy_delta = 100.0 * (Summarize(minmax->second, &RunResult::accuracy).mean -
                                           Summarize(fedavg->second, &RunResult::accuracy).mean);
    int held = 0;
    int validation_held = 0;
    for (const RunResult& run : minmax->second) {
      held += run.min_max_gap <= epsilon ? 1 : 0;
      validation_held += run.validation_gap <= epsilon ? 1 : 0;
    }
    const bool all_held = held == static_cast<int>(minmax->second.size());
    const std::string ratio =
        gap_fedavg > 0 ? absl::StrFormat("%.2f", gap_minmax / gap_fedavg) : std::string("n/a");
    std::printf(
        "%s: ERM-MinMaxGAP vs FedAvg: MinMaxGAP x%s, accuracy %+.1f points, bound eps %s "
        "(eps %.3g; test MinMaxGAP %.3f vs FedAvg %.3f; test gap within eps in %d/%zu seeds, "
        "last validation gap in %d/%zu)\n",
        scenario.c_str(), ratio.c_str(), accuracy_delta, all_held ? "held" : "not held", epsilon,
        gap_minmax, gap_fedavg, held, minmax->second.size(), validation_held,
        minmax->second.size());
  }
  std::fflush(stdout);
}

// ---------------------------------------------------------------------------
// Driver.

// Removes the scratch folder however the bench ends.
class ScratchDir {
 public:
  static absl::StatusOr<ScratchDir> Create() {
    std::string pattern = (fs::temp_directory_path() / "equifl-fairness-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("cannot create a scratch folder from '", pattern,
                                              "': ", std::strerror(errno)));
    }
    return ScratchDir(pattern);
  }
  ScratchDir(ScratchDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  ~ScratchDir() {
    if (path_.empty()) return;
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

absl::StatusOr<std::vector<uint64_t>> ParseSeeds(const std::string& text) {
  std::vector<uint64_t> seeds;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    uint64_t seed = 0;
    if (!absl::SimpleAtoi(part, &seed)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--seeds: '", part, "' is not a non-negative integer"));
    }
    seeds.push_back(seed);
  }
  if (seeds.empty()) return absl::InvalidArgumentError("--seeds: give at least one seed");
  return seeds;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "equifl_fairness_bench: %s\n", std::string(status.message()).c_str());
  return kExitFailure;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "equifl_fairness_bench: %s\n", message.c_str());
  return kExitUsage;
}

int RunBench(int argc, char** argv) {
  BenchSettings settings;
  std::string seeds_text = "1,2,3";
  std::string scenarios_text = absl::StrJoin(settings.scenarios, ",");
  std::string methods_text =
      "fedavg,group_dro,minmax_gap,qfedavg,fedminmax,fairfed,adversarial,balanced";
  std::string shards_dir;
  std::string table_name;

  CLI::App app{
      "Compares fairness methods on synthetic federated data with planted bias, running the\n"
      "real aggregator and clients in one process (gRPC on 127.0.0.1). Prints progress to\n"
      "stderr and a Markdown table (mean ± std over seeds) to stdout."};
  app.add_option("--rounds", settings.rounds, "training rounds per run")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--clients", settings.clients, "clients (synthetic shards) per run")
      ->check(CLI::Range(2, 64))
      ->capture_default_str();
  app.add_option("--samples", settings.samples, "samples per synthetic client, all splits")
      ->check(CLI::Range(20, 1000000))
      ->capture_default_str();
  app.add_option("--test-samples-per-cell", settings.test_samples_per_cell,
                 "grow each synthetic client's test split (train and validation stay as "
                 "--samples makes them) until the pooled test split holds about this many "
                 "samples of every (language, group) cell; 0: the usual 15% test split")
      ->check(CLI::Range(int64_t{0}, int64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--seeds", seeds_text, "comma-separated seeds (data, initial model, training)")
      ->capture_default_str();
  app.add_option("--scenarios", scenarios_text,
                 "comma-separated scenarios: video-gender, language, imbalance (their gaps are "
                 "mostly irreducible), reducible (the minority's video has class means of its own)")
      ->capture_default_str();
  app.add_option("--methods", methods_text,
                 absl::StrCat("comma-separated methods: ", equifl::AllowedNames<FairnessMethod>()))
      ->capture_default_str();
  app.add_option("--epsilon", settings.epsilon,
                 "the stated bound's eps on the MinMaxGAP, in nats (fairness.bound.epsilon; "
                 "default 0.4): what group DRO judges and ERM-MinMaxGAP drives towards")
      ->check(CLI::Range(0.0, 1e9));
  app.add_option("--lambda-learning-rate", settings.lambda_learning_rate,
                 "ERM-MinMaxGAP's dual step eta_lambda (default: the library's)")
      ->check(CLI::Range(0.0, 1e9));
  app.add_flag("--signed-weights", settings.signed_weights,
               "ERM-MinMaxGAP: signed directive weights (the library's default clamps them at 0, "
               "up-weight only)");
  app.add_option("--aggregation-beta", settings.aggregation_beta,
                 "ERM-MinMaxGAP's beta of the aggregation weight n_k*exp(beta*s_k) (default: "
                 "the library's)")
      ->check(CLI::Range(0.0, 1e9));
  app.add_flag("--allow-levelling-down", settings.allow_levelling_down,
               "group DRO without its no-harm guard (fairness.allow_levelling_down)");
  app.add_flag("--calibrate", settings.calibrate,
               "fit per-group temperatures on the final model's validation split "
               "(fairness.calibration) and report the calibrated test MinMaxGAP too");
  app.add_option("--calibration-min-samples", settings.calibration_min_samples,
                 "fairness.calibration.min_samples (default: the library's)")
      ->check(CLI::Range(uint64_t{2}, uint64_t{1} << 40));
  app.add_flag("--decision-offsets", settings.decision_offsets,
               "also fit group-specific decision offsets for equal opportunity "
               "(fairness.calibration.decision_offsets; turns calibration on) and report the test "
               "true-positive-rate gap of --positive-class and the accuracy with them");
  app.add_option("--positive-class", settings.positive_class,
                 "the favourable class's index (fairness.calibration.positive_class)")
      ->capture_default_str();
  app.add_option("--offset-tolerance", settings.offset_tolerance_points,
                 "fairness.calibration.offset_tolerance_points (default: the library's)")
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--offset-max-accuracy-cost", settings.offset_max_accuracy_cost_points,
                 "fairness.calibration.offset_max_accuracy_cost_points (default: the library's)")
      ->check(CLI::Range(0.0, 100.0));
  std::string labels_text;
  app.add_option("--labels", labels_text,
                 "comma-separated class names of the synthetic scenarios, e.g. no,yes for a "
                 "two-class task (default: the generator's five emotions)");
  app.add_option("--selection-share", settings.selection_share,
                 "share of each validation group kept aside to choose the run's model on "
                 "(fairness.selection_share; 0: evaluate the last round's model)");
  app.add_option("--fixed-weights-power", settings.fixed_weights_power,
                 "fixed_weights' t: a (language, group) pair's samples weigh in proportion to "
                 "its share^(-t) (fairness.fixed_weights_power; default: the library's, 1)")
      ->check(CLI::Range(0.0, equifl::fairness::GroupDroOptions::kLargestFixedPower));
  app.add_option("--shards-dir,--slid-dir,--slid", shards_dir,
                 "run on the client shards in this folder (e.g. from `equifl data import`) "
                 "instead of the synthetic scenarios");
  app.add_option("--table-name", table_name,
                 "the scenario name of --shards-dir's runs (default: the folder's name)");
  app.add_option("--hidden-size", settings.hidden_size, "model hidden size")
      ->check(CLI::Range(4, 4096))
      ->capture_default_str();
  app.add_flag("--oracle", settings.oracle,
               "also train every method centrally, as the oracle: all clients' data pooled in "
               "one client, the same rounds and settings (scenario 'NAME (oracle)')");
  app.add_flag("--standardise-features", settings.standardise_features,
               "standardise float features by the pooled training data's mean and deviation, "
               "measured federatedly in a round 0 (model.standardise_features)");
  app.add_option("--learning-rate", settings.learning_rate, "local AdamW learning rate")
      ->check(CLI::Range(1e-8, 10.0))
      ->capture_default_str();
  app.add_option("--epochs", settings.epochs, "local epochs per round")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--round-deadline", settings.round_deadline_seconds,
                 "seconds after which a round closes without its stragglers")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : kExitUsage;
  }

  absl::StatusOr<std::vector<uint64_t>> seeds = ParseSeeds(seeds_text);
  if (!seeds.ok()) return Usage(std::string(seeds.status().message()));
  settings.seeds = *seeds;
  settings.scenarios.clear();
  for (absl::string_view part : absl::StrSplit(scenarios_text, ',', absl::SkipWhitespace())) {
    const std::string name(part);
    if (std::find(KnownScenarios().begin(), KnownScenarios().end(), name) ==
        KnownScenarios().end()) {
      return Usage(absl::StrCat("--scenarios: unknown scenario '", name,
                                "'; known: ", absl::StrJoin(KnownScenarios(), ", ")));
    }
    settings.scenarios.push_back(name);
  }
  for (absl::string_view part : absl::StrSplit(methods_text, ',', absl::SkipWhitespace())) {
    absl::StatusOr<FairnessMethod> method = equifl::ParseEnum<FairnessMethod>("--methods", part);
    if (!method.ok()) return Usage(std::string(method.status().message()));
    settings.methods.push_back(*method);
  }
  if (settings.methods.empty()) return Usage("--methods: give at least one method");
  for (absl::string_view part : absl::StrSplit(labels_text, ',', absl::SkipWhitespace())) {
    settings.labels.emplace_back(part);
  }
  if (!labels_text.empty() && settings.labels.size() < 2) {
    return Usage("--labels: name at least two classes, e.g. no,yes");
  }
  if (settings.decision_offsets && !settings.labels.empty() &&
      settings.positive_class >= settings.labels.size()) {
    return Usage(absl::StrCat("--positive-class ", settings.positive_class, " is not one of the ",
                              settings.labels.size(), " classes of --labels"));
  }
  if (settings.scenarios.empty() && shards_dir.empty()) {
    return Usage("--scenarios: give at least one scenario");
  }
  if (absl::Status status = FairnessOptionsFor(settings, FairnessMethod::kMinMaxGap).Validate();
      !status.ok()) {
    return Usage(std::string(status.message()));
  }
  const double epsilon = FairnessOptionsFor(settings, FairnessMethod::kMinMaxGap).bound.epsilon;

  torch::set_num_threads(1);
  spdlog::set_level(spdlog::level::warn);

  const std::string data_text =
      shards_dir.empty()
          ? absl::StrCat(
                absl::StrFormat("%d clients x %d samples", settings.clients, settings.samples),
                settings.test_samples_per_cell > 0
                    ? absl::StrFormat(" (train, validation) + a test split of about "
                                      "%lld samples per group-cell",
                                      static_cast<long long>(settings.test_samples_per_cell))
                    : "")
          : absl::StrCat("the client shards of ", shards_dir);
  std::printf(
      "equifl_fairness_bench: %d rounds (+ final test evaluation), %s, seeds %s, hidden %lld, "
      "conv depth %lld, %lld epoch(s)/round, batch %lld, adamw lr %g, eps %g%s\n",
      settings.rounds, data_text.c_str(), seeds_text.c_str(),
      static_cast<long long>(settings.hidden_size), static_cast<long long>(settings.encoder_depth),
      static_cast<long long>(settings.epochs), static_cast<long long>(settings.batch_size),
      settings.learning_rate, epsilon,
      settings.standardise_features ? ", features standardised (round 0)" : "");
  std::fflush(stdout);

  const auto started = std::chrono::steady_clock::now();
  std::vector<std::pair<std::string, ScenarioResults>> results;
  BayesResults bayes;

  // One scenario: the given shards (or freshly generated ones) under every method.
  auto run_methods = [&](const std::string& scenario, uint64_t seed,
                         const std::vector<std::unique_ptr<ClientData>>& clients,
                         ScenarioResults& by_method) -> absl::Status {
    for (FairnessMethod method : settings.methods) {
      const std::string name(equifl::NameOf(method));
      absl::StatusOr<RunResult> run = RunFederated(
          clients, settings, method, seed, absl::StrCat("bench-", scenario, "-", name, "-", seed));
      if (!run.ok()) {
        return absl::Status(run.status().code(),
                            absl::StrCat("scenario ", scenario, ", method ", name, ", seed ", seed,
                                         ": ", run.status().message()));
      }
      std::fprintf(
          stderr,
          "[%s] %-11s seed %llu: %5.1f s, accuracy %.3f, worst group %.3f, "
          "MinMaxGAP %.3f, val gap %.3f, lambda %.2f, model of round %s%s%s%s\n",
          scenario.c_str(), name.c_str(), static_cast<unsigned long long>(seed), run->seconds,
          run->accuracy, run->worst_group_accuracy, run->min_max_gap, run->validation_gap,
          run->lambda,
          run->chosen_round ? absl::StrCat(*run->chosen_round, " (chosen)").c_str()
                            : absl::StrCat(settings.rounds, " (the last)").c_str(),
          run->floor_source.empty()
              ? ""
              : absl::StrFormat(", floor %.3f [%.3f, %.3f] in %s (%s): %s", run->floor,
                                run->floor_lower, run->floor_upper, run->floor_cell,
                                run->floor_source, run->feasibility)
                    .c_str(),
          settings.calibrate || settings.decision_offsets
              ? absl::StrFormat(", calibrated MinMaxGAP %.3f", run->calibrated_min_max_gap).c_str()
              : "",
          settings.decision_offsets
              ? absl::StrFormat(
                    ", TPR gap %.3f -> %.3f with offsets, FPR gap %.3f -> %.3f, accuracy %.3f",
                    run->true_positive_rate_gap, run->offset_true_positive_rate_gap,
                    run->false_positive_rate_gap, run->offset_false_positive_rate_gap,
                    run->offset_accuracy)
                    .c_str()
              : "");
      by_method[method].push_back(*run);
    }
    return absl::OkStatus();
  };

  // With --oracle, the same methods on every client's data pooled in one client.
  auto run_oracle = [&](const std::string& scenario, uint64_t seed,
                        const std::vector<std::unique_ptr<ClientData>>& clients,
                        ScenarioResults& by_method) -> absl::Status {
    if (!settings.oracle) return absl::OkStatus();
    EQUIFL_ASSIGN_OR_RETURN(std::unique_ptr<ClientData> pooled, PooledClient(clients));
    std::vector<std::unique_ptr<ClientData>> one;
    one.push_back(std::move(pooled));
    return run_methods(absl::StrCat(scenario, "-oracle"), seed, one, by_method);
  };

  if (!shards_dir.empty()) {
    if (table_name.empty()) {
      table_name = fs::path(shards_dir).lexically_normal().filename().string();
      if (table_name.empty()) table_name = fs::path(shards_dir).parent_path().filename().string();
    }
    absl::StatusOr<std::vector<std::string>> dirs = ShardDirsIn(shards_dir);
    if (!dirs.ok()) return Usage(std::string(dirs.status().message()));
    absl::StatusOr<std::vector<std::unique_ptr<ClientData>>> clients = OpenClients(*dirs);
    if (!clients.ok()) return Fail(clients.status());
    ScenarioResults by_method;
    ScenarioResults by_method_pooled;
    for (uint64_t seed : settings.seeds) {
      if (absl::Status status = run_methods(table_name, seed, *clients, by_method); !status.ok()) {
        return Fail(status);
      }
      if (absl::Status status = run_oracle(table_name, seed, *clients, by_method_pooled);
          !status.ok()) {
        return Fail(status);
      }
    }
    results.emplace_back(table_name, std::move(by_method));
    if (settings.oracle) {
      results.emplace_back(absl::StrCat(table_name, " (oracle)"), std::move(by_method_pooled));
    }
  } else {
    absl::StatusOr<ScratchDir> scratch = ScratchDir::Create();
    if (!scratch.ok()) return Fail(scratch.status());
    for (const std::string& scenario : settings.scenarios) {
      ScenarioResults by_method;
      ScenarioResults by_method_pooled;
      for (uint64_t seed : settings.seeds) {
        absl::StatusOr<equifl::sim::SyntheticDataOptions> data =
            ScenarioData(scenario, settings, seed);
        if (!data.ok()) return Usage(std::string(data.status().message()));
        const std::string out =
            (fs::path(scratch->path()) / absl::StrCat(scenario, "-", seed)).string();
        absl::StatusOr<std::vector<std::string>> dirs =
            equifl::sim::WriteSyntheticShards(*data, out);
        if (!dirs.ok()) return Fail(dirs.status());
        absl::StatusOr<RunResult> floor = BayesOptimalResult(*data, seed);
        if (!floor.ok()) return Fail(floor.status());
        bayes[scenario].push_back(*floor);
        absl::StatusOr<std::vector<std::unique_ptr<ClientData>>> clients = OpenClients(*dirs);
        if (!clients.ok()) return Fail(clients.status());
        if (absl::Status status = run_methods(scenario, seed, *clients, by_method); !status.ok()) {
          return Fail(status);
        }
        if (absl::Status status = run_oracle(scenario, seed, *clients, by_method_pooled);
            !status.ok()) {
          return Fail(status);
        }
      }
      results.emplace_back(scenario, std::move(by_method));
      if (settings.oracle) {
        results.emplace_back(absl::StrCat(scenario, " (oracle)"), std::move(by_method_pooled));
      }
    }
  }

  PrintTable(results, bayes, settings, epsilon);
  const double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("\ntotal %.0f s\n", total);
  std::fprintf(stderr, "total %.0f s\n", total);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return RunBench(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "equifl_fairness_bench: %s\n", error.what());
    return kExitFailure;
  }
}
