#include "app/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::app {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

TEST(ConfigTest, EmptyFileKeepsDefaults) {
  absl::StatusOr<Config> config = ParseConfig("", "empty.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->log_level, "info");
  EXPECT_EQ(config->codec.encoding, v1::ENCODING_FLOAT32);
  EXPECT_EQ(config->codec.max_chunk_bytes, size_t{1} << 20);
}

TEST(ConfigTest, ReadsEveryKey) {
  absl::StatusOr<Config> config = ParseConfig(
      "log:\n  level: debug\ntransport:\n  encoding: int8\n  chunk_bytes: 65536\n", "run.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->codec.encoding, v1::ENCODING_INT8);
  EXPECT_EQ(config->codec.max_chunk_bytes, 65536u);
}

// Modality dropout goes with every training task, so every view learns to predict.
TEST(ConfigTest, ReadsModalityDropout) {
  absl::StatusOr<Config> config = ParseConfig("training:\n  modality_dropout: 0.4\n", "run.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->training.modality_dropout, 0.4);
  EXPECT_EQ(Config().training.modality_dropout, 0.0);
  config = ParseConfig("training:\n  modality_dropout: 1\n", "run.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("training.modality_dropout is '1'"));
}

TEST(ConfigTest, BadValueNamesFileLineKeyAndAllowedValues) {
  absl::StatusOr<Config> config =
      ParseConfig("log:\n  level: info\ntransport:\n  encoding: fp8\n", "run.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            "run.yaml:4: transport.encoding is 'fp8'; allowed values: fp32, fp16, bf16, int8");
}

TEST(ConfigTest, UnknownKeyIsAnErrorThatListsTheAllowedKeys) {
  absl::StatusOr<Config> config = ParseConfig("transport:\n  chunk_size: 10\n", "run.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            "run.yaml:2: unknown key transport.chunk_size; allowed keys in transport: "
            "chunk_bytes, encoding");
  config = ParseConfig("logging: {}\n", "run.yaml");
  EXPECT_THAT(config.status().message(),
              HasSubstr("unknown key logging; allowed keys: aggregation, fairness, log, model"));
}

TEST(ConfigTest, AKeyOrSectionGivenTwiceIsAnErrorNamingBothLines) {
  EXPECT_EQ(ParseConfig("transport:\n  encoding: fp16\n  encoding: int8\n", "run.yaml")
                .status()
                .message(),
            "run.yaml:3: transport.encoding is given twice, on lines 2 and 3; keep one");
  EXPECT_EQ(
      ParseConfig("log:\n  level: debug\nserver:\n  rounds: 3\nlog:\n  level: warn\n", "run.yaml")
          .status()
          .message(),
      "run.yaml:5: log is given twice, on lines 1 and 5; keep one");
  EXPECT_THAT(ParseConfig("sim:\n  data:\n    samples: 5\n    samples: 6\n", "run.yaml").status(),
              ::testing::Not(IsOk()));
}

TEST(ConfigTest, TextThatIsNotUtf8IsAnErrorNamingLineAndColumn) {
  EXPECT_EQ(ParseConfig("log:\n  level: d\xE9"
                        "bug\n",
                        "run.yaml")
                .status()
                .message(),
            "run.yaml:2: the byte at column 11 ('\\xe9') is not UTF-8; save the file as UTF-8");
  EXPECT_THAT(ParseConfig("log:\n  level: d\xC3\xA9"
                          "bug\n",
                          "run.yaml")
                  .status()
                  .message(),
              HasSubstr("log.level is 'd\xC3\xA9"
                        "bug'"));
}

TEST(ConfigTest, MessagesQuoteABoundedPrefixOfALongValue) {
  for (const char* key : {"log:\n  level: ", "transport:\n  chunk_bytes: ",
                          "transport:\n  encoding: ", "model:\n  adversary: "}) {
    const std::string value(100'000, '9');
    const absl::Status status = ParseConfig(key + value + "\n", "run.yaml").status();
    EXPECT_THAT(status.message(), HasSubstr("... (100000 bytes)")) << key;
    EXPECT_LT(status.message().size(), 400u) << key;
  }
  const absl::Status unknown =
      ParseConfig("transport:\n  " + std::string(1000, 'k') + ": 1\n", "run.yaml").status();
  EXPECT_THAT(unknown.message(), HasSubstr("unknown key transport.kkkk"));
  EXPECT_LT(unknown.message().size(), 400u);
}

TEST(ConfigTest, LoadReadsOnlyRegularFilesOfBoundedSize) {
  for (const char* path : {"/dev/zero", "/dev/null"}) {
    const absl::Status status = LoadConfig(path).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_THAT(status.message(), HasSubstr("is a character device; give a regular file"));
  }
  const test::TemporaryFolder folder("config_files");
  EXPECT_THAT(LoadConfig(folder.path().string()).status().message(), HasSubstr("is a folder"));
  const std::string large = folder / "large.yaml";
  std::ofstream(large) << "# " << std::string(2 << 20, 'x') << "\n";
  EXPECT_THAT(LoadConfig(large).status().message(),
              HasSubstr("has 2097155 bytes; at most 1048576 are read from it"));
  const std::string small = folder / "small.yaml";
  std::ofstream(small) << "log:\n  level: warn\n";
  ASSERT_THAT(LoadConfig(small), IsOk());
  EXPECT_EQ(LoadConfig(small)->log_level, "warn");
}

TEST(ConfigTest, NumbersOutOfRangeOrMalformed) {
  for (const char* value : {"10", "-5", "1.5", "lots", "99999999999999999999999"}) {
    absl::StatusOr<Config> config =
        ParseConfig(std::string("transport:\n  chunk_bytes: ") + value, "run.yaml");
    ASSERT_FALSE(config.ok()) << value;
    EXPECT_THAT(config.status().message(),
                HasSubstr("transport.chunk_bytes is '" + std::string(value) +
                          "'; allowed values: whole numbers from 1024 to 67108864"));
  }
}

TEST(ConfigTest, WrongShapes) {
  EXPECT_THAT(ParseConfig("- a\n- b\n", "run.yaml").status().message(),
              HasSubstr("the configuration must be a mapping"));
  EXPECT_THAT(ParseConfig("log: debug\n", "run.yaml").status().message(),
              HasSubstr("'log' must be a mapping"));
  EXPECT_THAT(ParseConfig("log:\n  level: [a, b]\n", "run.yaml").status().message(),
              HasSubstr("log.level must be a single value"));
}

TEST(ConfigTest, InvalidYamlReportsTheLine) {
  absl::StatusOr<Config> config = ParseConfig("log:\n  level: [debug\n", "run.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("run.yaml:"));
  EXPECT_THAT(config.status().message(), HasSubstr("not valid YAML"));
}

TEST(ConfigTest, DocumentedExampleParsesToTheDefaults) {
  absl::StatusOr<Config> config = LoadConfig(EQUIFL_EXAMPLE_CONFIG);
  ASSERT_THAT(config, IsOk());
  const Config defaults;
  EXPECT_EQ(config->log_level, defaults.log_level);
  EXPECT_EQ(config->codec.encoding, defaults.codec.encoding);
  EXPECT_EQ(config->codec.max_chunk_bytes, defaults.codec.max_chunk_bytes);
  EXPECT_EQ(config->server.address, defaults.server.address);
  EXPECT_EQ(config->server.run_dir, defaults.server.run_dir);
  EXPECT_EQ(config->server.rounds.rounds, defaults.server.rounds.rounds);
  EXPECT_EQ(config->server.rounds.min_clients, defaults.server.rounds.min_clients);
  EXPECT_EQ(config->server.rounds.round_deadline, defaults.server.rounds.round_deadline);
  EXPECT_EQ(config->server.rounds.final_evaluation, defaults.server.rounds.final_evaluation);
  EXPECT_EQ(config->server.optimizer.kind, defaults.server.optimizer.kind);
  EXPECT_EQ(config->server.max_concurrent_uploads, defaults.server.max_concurrent_uploads);
  EXPECT_EQ(config->training.epochs, defaults.training.epochs);
  EXPECT_EQ(config->training.batch_size, defaults.training.batch_size);
  EXPECT_EQ(config->training.learning_rate, defaults.training.learning_rate);
  EXPECT_EQ(config->training.optimizer, defaults.training.optimizer);
  EXPECT_EQ(config->model.options.hidden_size, defaults.model.options.hidden_size);
  EXPECT_EQ(config->model.options.encoder, defaults.model.options.encoder);
  EXPECT_EQ(config->model.options.fusion, defaults.model.options.fusion);
  EXPECT_EQ(config->model.options.dropout, defaults.model.options.dropout);
  EXPECT_EQ(config->model.options.adversary_lambda, defaults.model.options.adversary_lambda);
  const server::FairnessOptions& fairness = config->fairness;
  EXPECT_EQ(fairness.method, defaults.fairness.method);
  EXPECT_EQ(fairness.minmax_gap.epsilon, defaults.fairness.minmax_gap.epsilon);
  EXPECT_EQ(fairness.minmax_gap.gap_exponent, defaults.fairness.minmax_gap.gap_exponent);
  EXPECT_EQ(fairness.minmax_gap.lambda_max, defaults.fairness.minmax_gap.lambda_max);
  EXPECT_EQ(fairness.minmax_gap.lambda_learning_rate,
            defaults.fairness.minmax_gap.lambda_learning_rate);
  EXPECT_EQ(fairness.minmax_gap.initial_lambda, defaults.fairness.minmax_gap.initial_lambda);
  EXPECT_EQ(fairness.minmax_gap.temperature, defaults.fairness.minmax_gap.temperature);
  EXPECT_EQ(fairness.minmax_gap.up_weight_only, defaults.fairness.minmax_gap.up_weight_only);
  EXPECT_EQ(fairness.minmax_gap.aggregation_beta, defaults.fairness.minmax_gap.aggregation_beta);
  EXPECT_EQ(fairness.q, defaults.fairness.q);
  EXPECT_EQ(fairness.group_learning_rate, defaults.fairness.group_learning_rate);
  EXPECT_EQ(fairness.per_client_cells, defaults.fairness.per_client_cells);
  EXPECT_EQ(fairness.fairfed_beta, defaults.fairness.fairfed_beta);
  EXPECT_EQ(fairness.fixed_weights_power, defaults.fairness.fixed_weights_power);
  EXPECT_EQ(fairness.calibration.decision_offsets, defaults.fairness.calibration.decision_offsets);
  EXPECT_EQ(fairness.calibration.positive_class, defaults.fairness.calibration.positive_class);
  EXPECT_EQ(fairness.calibration.offset_tolerance_points,
            defaults.fairness.calibration.offset_tolerance_points);
  EXPECT_EQ(fairness.calibration.offset_max_accuracy_cost_points,
            defaults.fairness.calibration.offset_max_accuracy_cost_points);
  EXPECT_EQ(fairness.views, defaults.fairness.views);
  EXPECT_EQ(config->model.options.architecture, defaults.model.options.architecture);
  const sim::SimulationOptions& simulation = config->simulation;
  EXPECT_EQ(simulation.clients, defaults.simulation.clients);
  EXPECT_EQ(simulation.source, defaults.simulation.source);
  EXPECT_EQ(simulation.synthetic.samples_per_client,
            defaults.simulation.synthetic.samples_per_client);
  EXPECT_EQ(simulation.synthetic.seed, defaults.simulation.synthetic.seed);
  EXPECT_EQ(simulation.synthetic.labels, defaults.simulation.synthetic.labels);
  EXPECT_EQ(simulation.synthetic.modalities, defaults.simulation.synthetic.modalities);
  EXPECT_EQ(simulation.synthetic.video_level, defaults.simulation.synthetic.video_level);
  EXPECT_EQ(simulation.synthetic.frames, defaults.simulation.synthetic.frames);
  EXPECT_EQ(simulation.synthetic.minority_fraction,
            defaults.simulation.synthetic.minority_fraction);
  EXPECT_EQ(simulation.synthetic.missing_rate, defaults.simulation.synthetic.missing_rate);
  EXPECT_EQ(simulation.synthetic.train_fraction, defaults.simulation.synthetic.train_fraction);
  EXPECT_EQ(simulation.synthetic.biases.size(), defaults.simulation.synthetic.biases.size());
  EXPECT_EQ(simulation.partition_column, defaults.simulation.partition_column);
  EXPECT_EQ(simulation.partition.dirichlet_alpha, defaults.simulation.partition.dirichlet_alpha);
  EXPECT_EQ(simulation.partition.quantity_alpha, defaults.simulation.partition.quantity_alpha);
  EXPECT_EQ(simulation.partition.min_rows, defaults.simulation.partition.min_rows);
  EXPECT_EQ(simulation.devices, defaults.simulation.devices);
  EXPECT_EQ(simulation.concurrency, defaults.simulation.concurrency);
  EXPECT_EQ(simulation.transport, defaults.simulation.transport);
  EXPECT_EQ(simulation.listen, defaults.simulation.listen);
  EXPECT_EQ(config->privacy.clip_norm, defaults.privacy.clip_norm);
  EXPECT_EQ(config->privacy.noise_multiplier, defaults.privacy.noise_multiplier);
  EXPECT_EQ(config->privacy.delta, defaults.privacy.delta);
  EXPECT_EQ(config->privacy.adaptive_clipping, defaults.privacy.adaptive_clipping);
  EXPECT_EQ(config->privacy.target_quantile, defaults.privacy.target_quantile);
  EXPECT_EQ(config->privacy.clip_learning_rate, defaults.privacy.clip_learning_rate);
  EXPECT_EQ(config->privacy.clip_count_stddev, defaults.privacy.clip_count_stddev);
  const server::SecureAggregationOptions& secure = config->secure_aggregation;
  EXPECT_EQ(secure.enabled, defaults.secure_aggregation.enabled);
  EXPECT_EQ(secure.neighbours, defaults.secure_aggregation.neighbours);
  EXPECT_EQ(secure.threshold, defaults.secure_aggregation.threshold);
  EXPECT_EQ(secure.tolerance.expected_dropout,
            defaults.secure_aggregation.tolerance.expected_dropout);
  EXPECT_EQ(secure.tolerance.target_failure_probability,
            defaults.secure_aggregation.tolerance.target_failure_probability);
  EXPECT_EQ(secure.update_bound, defaults.secure_aggregation.update_bound);
  EXPECT_EQ(secure.weight_bound, defaults.secure_aggregation.weight_bound);
  EXPECT_EQ(secure.phase_timeout, defaults.secure_aggregation.phase_timeout);
  const aggregation::RobustAggregationOptions& robust = config->robust_aggregation;
  EXPECT_EQ(robust.rule, defaults.robust_aggregation.rule);
  EXPECT_EQ(robust.trim_fraction, defaults.robust_aggregation.trim_fraction);
  EXPECT_EQ(robust.norm_bound, defaults.robust_aggregation.norm_bound);
  EXPECT_EQ(robust.memory_limit_mb, defaults.robust_aggregation.memory_limit_mb);
}

TEST(ConfigTest, ReadsTheAggregationSection) {
  absl::StatusOr<Config> config = ParseConfig(
      "aggregation:\n  rule: trimmed_mean\n  trim_fraction: 0.2\n  norm_bound: 3.5\n"
      "  memory_limit_mb: 512\n",
      "robust.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->robust_aggregation.rule, aggregation::AggregationRule::kTrimmedMean);
  EXPECT_EQ(config->robust_aggregation.trim_fraction, 0.2);
  EXPECT_EQ(config->robust_aggregation.norm_bound, 3.5);
  EXPECT_EQ(config->robust_aggregation.memory_limit_mb, 512u);
  EXPECT_EQ(ParseConfig("aggregation:\n  rule: median\n", "robust.yaml")->robust_aggregation.rule,
            aggregation::AggregationRule::kMedian);
  EXPECT_EQ(ParseConfig("aggregation:\n  rule: krum\n", "robust.yaml").status().message(),
            "robust.yaml:2: aggregation.rule is 'krum'; allowed values: mean, trimmed_mean, "
            "median");
  EXPECT_THAT(ParseConfig("aggregation:\n  norm_bound: -2\n", "robust.yaml").status().message(),
              HasSubstr("robust.yaml:2: aggregation.norm_bound is '-2'"));
  EXPECT_THAT(ParseConfig("aggregation:\n  memory_limit_mb: 0\n", "robust.yaml").status().message(),
              HasSubstr("robust.yaml:2: aggregation.memory_limit_mb is '0'"));
  EXPECT_THAT(
      ParseConfig("aggregation:\n  rule: trimmed_mean\n  trim_fraction: 0.5\n", "robust.yaml")
          .status()
          .message(),
      HasSubstr("robust.yaml: aggregation: aggregation trim_fraction is 0.5; trimmed_mean "
                "needs a share in (0, 0.5)"));
}

TEST(ConfigTest, RefusesRobustRulesWithSecureAggregationOrPrivacy) {
  EXPECT_THAT(ParseConfig("aggregation:\n  rule: median\nsecure_aggregation:\n  enabled: true\n",
                          "robust.yaml")
                  .status()
                  .message(),
              HasSubstr("robust.yaml: aggregation: aggregation rule median needs every client's "
                        "update, but under secure aggregation the server learns only their sum"));
  EXPECT_THAT(
      ParseConfig("aggregation:\n  rule: trimmed_mean\nprivacy:\n  clip_norm: 1\n", "robust.yaml")
          .status()
          .message(),
      HasSubstr("aggregation rule trimmed_mean does not go with client-level DP"));
  EXPECT_THAT(
      ParseConfig("aggregation:\n  norm_bound: 2\nprivacy:\n  clip_norm: 1\n", "robust.yaml")
          .status()
          .message(),
      HasSubstr("privacy.clip_norm already bounds every update's norm"));
  // The norm bound alone goes with secure aggregation: the clients apply it.
  EXPECT_THAT(ParseConfig("aggregation:\n  norm_bound: 2\nsecure_aggregation:\n  enabled: true\n",
                          "robust.yaml"),
              IsOk());
}

TEST(ConfigTest, ReadsTheSecureAggregationSection) {
  absl::StatusOr<Config> config = ParseConfig(
      "secure_aggregation:\n  enabled: true\n  neighbours: 8\n  threshold: 0.6\n"
      "  update_bound: 0.25\n  weight_bound: 500\n  phase_timeout_seconds: 9\n",
      "secure.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_TRUE(config->secure_aggregation.enabled);
  EXPECT_EQ(config->secure_aggregation.neighbours, 8u);
  EXPECT_EQ(config->secure_aggregation.threshold, 0.6);
  EXPECT_EQ(config->secure_aggregation.update_bound, 0.25);
  EXPECT_EQ(config->secure_aggregation.weight_bound, 500);
  EXPECT_EQ(config->secure_aggregation.phase_timeout, std::chrono::seconds(9));
  // Neighbourhoods sized for a dropout rate, with its documented defaults.
  EXPECT_EQ(config->secure_aggregation.tolerance.expected_dropout, 0.3);
  EXPECT_EQ(config->secure_aggregation.tolerance.target_failure_probability, 1e-6);
  config = ParseConfig(
      "secure_aggregation:\n  enabled: true\n  expected_dropout: 0.1\n"
      "  target_failure_probability: 1e-9\n",
      "secure.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->secure_aggregation.tolerance.expected_dropout, 0.1);
  EXPECT_EQ(config->secure_aggregation.tolerance.target_failure_probability, 1e-9);
  EXPECT_THAT(
      ParseConfig("secure_aggregation:\n  enabled: true\n  expected_dropout: 0.6\n", "secure.yaml")
          .status()
          .message(),
      HasSubstr("secure.yaml: secure_aggregation: secure aggregation's expected_dropout "
                "0.6 leaves on average 0.4 of each neighbourhood"));
  EXPECT_THAT(ParseConfig("secure_aggregation:\n  target_failure_probability: 0.9\n", "secure.yaml")
                  .status()
                  .message(),
              HasSubstr("target_failure_probability is '0.9'"));
  EXPECT_THAT(
      ParseConfig("secure_aggregation:\n  threshold: 0\n", "secure.yaml").status().message(),
      HasSubstr("secure.yaml:2: secure_aggregation.threshold is '0'"));
  EXPECT_THAT(ParseConfig("secure_aggregation:\n  masks: aes\n", "secure.yaml").status().message(),
              HasSubstr("unknown key secure_aggregation.masks"));
}

TEST(ConfigTest, AdaptiveClippingNeedsEnoughCountNoise) {
  absl::StatusOr<Config> config = ParseConfig(
      "privacy:\n  clip_norm: 1\n  noise_multiplier: 1\n  adaptive_clipping: true\n"
      "  clip_count_stddev: 0.4\n",
      "dp.yaml");
  EXPECT_THAT(config.status().message(),
              HasSubstr("clip_count_stddev is 0.4; adaptive clipping needs more than "
                        "noise_multiplier / 2 = 0.5"));
  config = ParseConfig(
      "privacy:\n  clip_norm: 1\n  noise_multiplier: 1\n  adaptive_clipping: true\n"
      "  clip_count_stddev: 2\n  target_quantile: 0.7\n  clip_learning_rate: 0.1\n",
      "dp.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_TRUE(config->privacy.adaptive_clipping);
  EXPECT_EQ(config->privacy.target_quantile, 0.7);
  EXPECT_EQ(config->privacy.clip_learning_rate, 0.1);
  // σ_Δ = (z^-2 - (2 σ_b)^-2 - z_s^-2)^-1/2 = (1 - 1/16 - 1/4)^-1/2 (z_s = 2z).
  EXPECT_DOUBLE_EQ(config->privacy.UpdateNoiseMultiplier(), 1 / std::sqrt(1 - 1.0 / 16 - 1.0 / 4));
}

TEST(ConfigTest, ReadsThePrivacySection) {
  absl::StatusOr<Config> config = ParseConfig(
      "privacy:\n  clip_norm: 0.5\n  noise_multiplier: 1.1\n  delta: 1.0e-6\n", "dp.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->privacy.clip_norm, 0.5);
  EXPECT_EQ(config->privacy.noise_multiplier, 1.1);
  EXPECT_EQ(config->privacy.delta, 1e-6);
  EXPECT_THAT(ParseConfig("privacy:\n  clip_norm: -1\n", "dp.yaml").status().message(),
              HasSubstr("dp.yaml:2: privacy.clip_norm is '-1'"));
  // The statistics' share: defaults, then as given.
  EXPECT_EQ(config->privacy.StatisticsNoiseMultiplier(), 2.2);
  EXPECT_EQ(config->privacy.statistics_samples_per_view, 100u);
  EXPECT_EQ(config->privacy.statistics_loss_clip, 4.0);
  config = ParseConfig(
      "privacy:\n  clip_norm: 0.5\n  statistics_noise_multiplier: 3\n"
      "  statistics_samples_per_view: 40\n  statistics_loss_clip: 2.5\n",
      "dp.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->privacy.StatisticsNoiseMultiplier(), 3.0);
  EXPECT_EQ(config->privacy.statistics_samples_per_view, 40u);
  EXPECT_EQ(config->privacy.statistics_loss_clip, 2.5);
  EXPECT_THAT(
      ParseConfig("privacy:\n  clip_norm: 0.5\n  statistics_noise_multiplier: 1\n", "dp.yaml")
          .status()
          .message(),
      HasSubstr("privacy: privacy statistics_noise_multiplier 1 leaves the updates no "
                "share"));
}

TEST(ConfigTest, PrivacyRefusesStatisticsKeptPerClient) {
  for (const char* fairness : {"  per_client_cells: true\n", "  method: fairfed\n"}) {
    const absl::StatusOr<Config> config =
        ParseConfig(absl::StrCat("privacy:\n  clip_norm: 1\nfairness:\n", fairness), "dp.yaml");
    EXPECT_THAT(config.status().message(),
                HasSubstr("needs each client's group statistics apart, but privacy (clip_norm > "
                          "0) lets the server see only their noised sum"))
        << fairness;
  }
}

TEST(ConfigTest, EveryScenarioParses) {
  int scenarios = 0;
  for (const auto& entry : std::filesystem::directory_iterator(EQUIFL_SCENARIOS_DIR)) {
    if (entry.path().extension() != ".yaml") continue;
    ++scenarios;
    absl::StatusOr<Config> config = LoadConfig(entry.path().string());
    EXPECT_THAT(config, IsOk());
  }
  EXPECT_GE(scenarios, 4);
}

TEST(ConfigTest, ReadsTheSimSection) {
  absl::StatusOr<Config> config = ParseConfig(
      "model:\n  architecture: linear\n"
      "sim:\n  clients: 1000\n  devices: cpu\n  concurrency: 3\n  transport: grpc\n"
      "  listen: 0.0.0.0:7000\n"
      "  data:\n    samples: 60000\n    labels: [a, b, c]\n    groups: [all]\n"
      "    languages: [und]\n    modalities: [video]\n    video_level: true\n"
      "    video_dim: 784\n    biases: []\n"
      "  partition:\n    over: group\n    dirichlet_alpha: 0.3\n    min_samples: 5\n"
      "    seed: 9\n",
      "sim.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->model.options.architecture, client::Architecture::kLinear);
  const sim::SimulationOptions& simulation = config->simulation;
  EXPECT_EQ(simulation.clients, 1000);
  EXPECT_EQ(simulation.concurrency, 3);
  EXPECT_EQ(simulation.transport, sim::Transport::kGrpc);
  EXPECT_EQ(simulation.listen, "0.0.0.0:7000");
  EXPECT_EQ(simulation.synthetic.samples_per_client, 60000);
  EXPECT_EQ(simulation.synthetic.labels, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(simulation.synthetic.modalities, std::vector<std::string>{"video"});
  EXPECT_TRUE(simulation.synthetic.video_level);
  EXPECT_EQ(simulation.synthetic.video_dim, 784);
  EXPECT_TRUE(simulation.synthetic.biases.empty());
  EXPECT_EQ(simulation.partition_column, sim::PartitionColumn::kGroup);
  EXPECT_EQ(simulation.partition.dirichlet_alpha, 0.3);
  EXPECT_EQ(simulation.partition.min_rows, 5u);
  EXPECT_EQ(simulation.partition_seed, 9u);

  const auto error = [](const std::string& text) {
    return std::string(ParseConfig(text, "sim.yaml").status().message());
  };
  EXPECT_EQ(error("sim:\n  transport: udp\n"),
            "sim.yaml:2: sim.transport is 'udp'; allowed values: inprocess, grpc");
  EXPECT_THAT(error("sim:\n  partition:\n    over: age\n"),
              HasSubstr("sim.partition.over is 'age'; allowed values: label, group, language"));
  EXPECT_THAT(error("sim:\n  data:\n    biases: [\"group=nobody,signal=1\"]\n"),
              HasSubstr("names group 'nobody'"));
  EXPECT_THAT(error("sim:\n  data:\n    source: shards\n"), HasSubstr("sim.data.path is empty"));
  EXPECT_THAT(error("sim:\n  data:\n    modalities: []\n"),
              HasSubstr("sim.data.modalities must be a non-empty list"));
}

TEST(ConfigTest, ReadsTheFairnessSection) {
  absl::StatusOr<Config> config = ParseConfig(
      "fairness:\n  method: minmax_gap\n  bound:\n    metric: loss_gap\n    epsilon: 0.05\n"
      "  up_weight_only: true\n  views: [fusion, video]\n  temperature: 0.1\n",
      "run.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->fairness.method, fairness::FairnessMethod::kMinMaxGap);
  EXPECT_EQ(config->fairness.bound.metric, fairness::BoundMetric::kLossGap);
  EXPECT_EQ(config->fairness.bound.epsilon, 0.05);
  EXPECT_TRUE(config->fairness.minmax_gap.up_weight_only);
  EXPECT_EQ(config->fairness.minmax_gap.temperature, 0.1);
  EXPECT_THAT(config->fairness.views, testing::ElementsAre("fusion", "video"));
  EXPECT_FALSE(config->model.options.adversary);

  absl::StatusOr<Config> adversarial = ParseConfig("fairness:\n  method: adversarial\n", "a.yaml");
  ASSERT_THAT(adversarial, IsOk());
  EXPECT_TRUE(adversarial->model.options.adversary);

  EXPECT_THAT(ParseConfig("fairness:\n  method: fair\n", "run.yaml").status().message(),
              HasSubstr("fairness.method is 'fair'; allowed values: fedavg, minmax_gap, qfedavg"));
  EXPECT_THAT(ParseConfig("fairness:\n  method: qfedavg\n", "run.yaml").status().message(),
              HasSubstr("method qfedavg assumes local SGD (its step uses L = 1/learning_rate), "
                        "but training.optimizer is 'adamw'; set training.optimizer: sgd"));
  EXPECT_THAT(
      ParseConfig("fairness:\n  method: qfedavg\ntraining:\n  optimizer: sgd\n", "run.yaml"),
      IsOk());
  EXPECT_THAT(ParseConfig("fairness:\n  views: []\n", "run.yaml").status().message(),
              HasSubstr("fairness.views must be a non-empty list"));
  EXPECT_THAT(ParseConfig("fairness:\n  initial_lambda: 20\n", "run.yaml").status().message(),
              HasSubstr("initial_lambda"));
}

TEST(ConfigTest, PerClientCellsCannotHaveSecureAggregation) {
  absl::StatusOr<Config> config = ParseConfig("fairness:\n  per_client_cells: true\n", "run.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_TRUE(config->fairness.per_client_cells);
  EXPECT_FALSE(ParseConfig("", "run.yaml")->fairness.per_client_cells);
  EXPECT_THAT(ParseConfig("fairness:\n  per_client_cells: true\n"
                          "secure_aggregation:\n  enabled: true\n",
                          "run.yaml")
                  .status()
                  .message(),
              HasSubstr("per_client_cells keeps each client's group statistics apart, but "
                        "secure_aggregation.enabled"));
}

TEST(ConfigTest, TheSelectionShareIsReadAndChecked) {
  EXPECT_EQ(ParseConfig("", "run.yaml")->fairness.selection_share, 0.3);
  absl::StatusOr<Config> config = ParseConfig("fairness:\n  selection_share: 0\n", "run.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->fairness.selection_share, 0);
  EXPECT_THAT(ParseConfig("fairness:\n  selection_share: 0.95\n", "run.yaml").status().message(),
              HasSubstr("selection_share"));
}

TEST(ConfigTest, GroupDroKnobsAreReadAndChecked) {
  absl::StatusOr<Config> config = ParseConfig(
      "fairness:\n  method: group_dro\n  allow_levelling_down: true\n"
      "  group_dro:\n    learning_rate: 2\n    alpha_step: 0.5\n    weight_cap: 3\n"
      "    harm_margin: 0.1\n    reference_rounds: 4\n    probe_rounds: 2\n",
      "run.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->fairness.method, fairness::FairnessMethod::kGroupDro);
  const fairness::GroupDroOptions& group_dro = config->fairness.group_dro;
  EXPECT_EQ(group_dro.learning_rate, 2);
  EXPECT_EQ(group_dro.alpha_step, 0.5);
  EXPECT_EQ(group_dro.weight_cap, 3);
  EXPECT_EQ(group_dro.harm_margin, 0.1);
  EXPECT_EQ(group_dro.reference_rounds, 4u);
  EXPECT_EQ(group_dro.probe_rounds, 2u);
  EXPECT_TRUE(group_dro.allow_levelling_down);
  EXPECT_THAT(
      ParseConfig("fairness:\n  group_dro:\n    weight_cap: 0.5\n", "run.yaml").status().message(),
      HasSubstr("weight_cap"));
  EXPECT_THAT(ParseConfig("fairness:\n  group_dro:\n    reference_rounds: 0\n", "run.yaml")
                  .status()
                  .message(),
              HasSubstr("reference_rounds"));
}

TEST(ConfigTest, FixedWeightsPowerIsReadAndChecked) {
  EXPECT_EQ(ParseConfig("", "run.yaml")->fairness.fixed_weights_power, 1);
  absl::StatusOr<Config> config =
      ParseConfig("fairness:\n  method: fixed_weights\n  fixed_weights_power: 2\n", "run.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->fairness.method, fairness::FairnessMethod::kFixedWeights);
  EXPECT_EQ(config->fairness.fixed_weights_power, 2);
  EXPECT_THAT(ParseConfig("fairness:\n  fixed_weights_power: -1\n", "run.yaml").status().message(),
              HasSubstr("fixed_weights_power"));
}

TEST(ConfigTest, DecisionOffsetsAreReadAndChecked) {
  absl::StatusOr<Config> config = ParseConfig(
      "fairness:\n  calibration:\n    enabled: true\n    decision_offsets: true\n"
      "    positive_class: 0\n    offset_tolerance_points: 5\n"
      "    offset_max_accuracy_cost_points: 3\n",
      "run.yaml");
  ASSERT_THAT(config, IsOk());
  const fairness::CalibrationOptions& calibration = config->fairness.calibration;
  EXPECT_TRUE(calibration.decision_offsets);
  EXPECT_EQ(calibration.positive_class, 0u);
  EXPECT_EQ(calibration.offset_tolerance_points, 5);
  EXPECT_EQ(calibration.offset_max_accuracy_cost_points, 3);
  EXPECT_THAT(ParseConfig("fairness:\n  calibration: {decision_offsets: true}\n", "run.yaml")
                  .status()
                  .message(),
              HasSubstr("decision_offsets needs calibration.enabled"));
  EXPECT_THAT(ParseConfig("fairness:\n  calibration: {offset_tolerance_points: -1}\n", "run.yaml")
                  .status()
                  .message(),
              HasSubstr("offset_tolerance_points"));
}

TEST(ConfigTest, TheBoundNamesItsMetric) {
  absl::StatusOr<Config> config =
      ParseConfig("fairness:\n  bound:\n    metric: accuracy_gap\n    epsilon: 12.5\n", "run.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->fairness.bound.metric, fairness::BoundMetric::kAccuracyGap);
  EXPECT_EQ(config->fairness.bound.epsilon, 12.5);
  // The default: a loss-gap bound a few hundred samples per group can show held.
  config = ParseConfig("", "run.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->fairness.bound.metric, fairness::BoundMetric::kLossGap);
  EXPECT_EQ(config->fairness.bound.epsilon, 0.4);

  const auto error = [](const std::string& text) {
    return std::string(ParseConfig(text, "run.yaml").status().message());
  };
  EXPECT_THAT(error("fairness:\n  epsilon: 0.02\n"),
              HasSubstr("fairness.epsilon is now fairness.bound.epsilon"));
  EXPECT_THAT(error("fairness:\n  bound:\n    metric: f1\n"),
              HasSubstr("fairness.bound.metric is 'f1'; allowed values: loss_gap, accuracy_gap"));
  EXPECT_THAT(error("fairness:\n  bound:\n    metric: accuracy_gap\n    epsilon: 120\n"),
              HasSubstr("0 to 100 points"));
  EXPECT_THAT(error("fairness:\n  method: minmax_gap\n  bound:\n    metric: accuracy_gap\n"),
              HasSubstr("minmax_gap drives the loss gap"));
}

TEST(ConfigTest, ReadsServerTrainingAndModelSections) {
  absl::StatusOr<Config> config = ParseConfig(
      "server:\n  rounds: 7\n  quorum: 0.5\n  optimizer: fedadam\n"
      "  server_learning_rate: 0.05\n  final_evaluation: false\n  round_deadline_seconds: 30\n"
      "training:\n  optimizer: sgd\n  learning_rate: 0.01\n  epochs: 0\n  steps: 12\n"
      "model:\n  encoder: transformer\n  fusion: concat\n  hidden_size: 48\n",
      "run.yaml");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->server.rounds.rounds, 7u);
  EXPECT_EQ(config->server.rounds.quorum, 0.5);
  EXPECT_FALSE(config->server.rounds.final_evaluation);
  EXPECT_EQ(config->server.rounds.round_deadline, std::chrono::seconds(30));
  EXPECT_EQ(config->server.optimizer.kind, aggregation::ServerOptimizerKind::kFedAdam);
  EXPECT_EQ(config->server.optimizer.learning_rate, 0.05);
  EXPECT_EQ(config->training.optimizer, client::OptimizerKind::kSgd);
  EXPECT_EQ(config->training.steps, 12);
  EXPECT_EQ(config->model.options.encoder, client::EncoderKind::kTransformer);
  EXPECT_EQ(config->model.options.fusion, client::FusionKind::kConcat);
  EXPECT_EQ(config->model.options.hidden_size, 48);
}

TEST(ConfigTest, SectionValuesAreCheckedWithTheirKey) {
  EXPECT_THAT(ParseConfig("server:\n  quorum: 1.5\n", "run.yaml").status().message(),
              HasSubstr("run.yaml:2: server.quorum is '1.5'; allowed values: numbers from"));
  EXPECT_THAT(ParseConfig("server:\n  optimizer: sgd\n", "run.yaml").status().message(),
              HasSubstr("server.optimizer is 'sgd'; allowed values: fedavg, fedavgm, fedadam, "
                        "fedyogi"));
  EXPECT_THAT(ParseConfig("model:\n  adversary: maybe\n", "run.yaml").status().message(),
              HasSubstr("model.adversary is 'maybe'; allowed values: true, false"));
  EXPECT_THAT(ParseConfig("training:\n  epochs: 0\n", "run.yaml").status().message(),
              HasSubstr("run.yaml: training:"));
}

TEST(ConfigTest, MissingFile) {
  absl::StatusOr<Config> config = LoadConfig("/nonexistent/equifl.yaml");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr("/nonexistent/equifl.yaml"));
}

}  // namespace
}  // namespace equifl::app
