// Federated training end to end: `equifl server` and three `equifl client`
// processes on 127.0.0.1 with an ephemeral port and mutual TLS (certificates from
// `equifl certs`), on synthetic data, including a client killed mid-run and a
// server killed and resumed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "client/data/shard.h"
#include "protocol/safetensors.h"
#include "server/run_history.h"
#include "tests/app/federation.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace {

using ::equifl::test::IsOk;
using ::equifl::test::kPortPattern;
using ::equifl::test::Process;
using ::equifl::test::ReadFile;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

std::map<std::string, std::string> CheckpointTensors(const std::filesystem::path& path);

class FederatedRunTest : public equifl::test::FederationTest {
 protected:
  // A complete run: `equifl server` (with `server_arguments`) and three clients,
  // each expected to exit 0. The processes stay for their logs.
  struct CompletedRun {
    std::unique_ptr<Process> server;
    std::vector<std::unique_ptr<Process>> clients;
  };
  CompletedRun RunServerAndThreeClients(const std::string& config,
                                        const std::vector<std::string>& server_arguments = {}) {
    CompletedRun run;
    run.server = StartServer(config, false, "server.log", server_arguments);
    const std::optional<std::string> port = run.server->WaitForLog(kPortPattern, 60s);
    if (!port) {
      ADD_FAILURE() << "the server did not print its port:\n" << run.server->Log();
      return run;
    }
    for (int i = 0; i < 3; ++i) run.clients.push_back(StartClient(config, i, *port));
    for (auto& client : run.clients) EXPECT_EQ(client->Wait(300s), 0) << client->Log();
    EXPECT_EQ(run.server->Wait(60s), 0) << run.server->Log();
    return run;
  }

  // A server and three clients; client 2 is killed as soon as round 2 opens (it
  // holds, or is about to take, a task of it); the others and the server finish.
  void RunWithAClientKilledInRound2(const std::string& config) {
    auto server = StartServer(config, false, "server.log");
    const std::optional<std::string> port = server->WaitForLog(kPortPattern, 60s);
    ASSERT_TRUE(port) << server->Log();
    std::vector<std::unique_ptr<Process>> clients;
    for (int i = 0; i < 3; ++i) clients.push_back(StartClient(config, i, *port));
    ASSERT_TRUE(server->WaitForLog("round 2: open", 120s)) << server->Log();
    clients[2]->Kill();
    EXPECT_EQ(clients[0]->Wait(300s), 0) << clients[0]->Log();
    EXPECT_EQ(clients[1]->Wait(300s), 0) << clients[1]->Log();
    ASSERT_EQ(server->Wait(60s), 0) << server->Log();
  }
};

TEST_F(FederatedRunTest, ThreeClientsTrainWellAboveChance) {
  const std::string config = WriteConfig(4, 120);
  const CompletedRun run = RunServerAndThreeClients(config);
  ASSERT_FALSE(HasFailure());
  const auto& [server, clients] = run;

  // Each client evaluated the final model on its own test split; 5 classes: chance 0.2.
  for (auto& client : clients) {
    const std::optional<std::string> accuracy =
        client->WaitForLog(R"(test split: accuracy ([0-9.]+))", 1s);
    ASSERT_TRUE(accuracy) << client->Log();
    EXPECT_GT(std::stod(*accuracy), 0.45) << client->Log();
  }
  const std::vector<equifl::server::RoundRecord> rounds = History();
  ASSERT_EQ(rounds.size(), 5u);  // Four training rounds and the final evaluation.
  ASSERT_TRUE(rounds.back().validation_accuracy.has_value());
  EXPECT_GT(*rounds.back().validation_accuracy, 0.45);
  EXPECT_THAT(server->Log(), HasSubstr("final evaluation"));

  // Model selection (fairness.selection_share 0.3 by default): rounds 2 to 4 judge
  // the models after rounds 1 to 3 on the selection split, whose cells never reach
  // the validation statistics; the final evaluation is of the chosen model, and
  // its checkpoint is that model.
  for (const equifl::server::RoundRecord& round : rounds) {
    EXPECT_THAT(round.fairness_report, Not(HasSubstr("selection@"))) << round.round_id;
  }
  std::istringstream lines(ReadFile(folder_ / "run" / "report.jsonl"));
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(lines, line);) records.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(records.size(), 5u);
  EXPECT_FALSE(records[0].contains("selection"));  // the initial model is no candidate
  for (size_t round = 2; round <= 4; ++round) {
    const nlohmann::json& record = records[round - 1];
    ASSERT_TRUE(record.contains("selection")) << record.dump();
    EXPECT_EQ(record["selection"]["model_round"], round - 1);
    EXPECT_GT(record["selection"]["samples"].get<uint64_t>(), 0u);
  }
  ASSERT_TRUE(records[4].contains("chosen")) << records[4].dump();
  const uint64_t chosen = records[4]["chosen"]["model_round"].get<uint64_t>();
  EXPECT_GE(chosen, 1u);
  EXPECT_LE(chosen, 3u);
  EXPECT_THAT(server->Log(),
              HasSubstr("The model evaluated: round " + std::to_string(chosen) + "'s model ("));
  const auto checkpoint = [&](uint64_t round) {
    return CheckpointTensors(folder_ / "run" / "checkpoints" /
                             absl::StrFormat("round-%06d.safetensors", round));
  };
  EXPECT_TRUE(checkpoint(5) == checkpoint(chosen));
  EXPECT_FALSE(checkpoint(5) == checkpoint(4));
}

// ERM-MinMaxGAP through the real binaries: λ rises by dual ascent while the
// validation gap exceeds ε, every round's fairness report (with the video view's
// cells) lands in report.jsonl and the HTML report, `equifl eval` on the final
// evaluation's checkpoint (the model it evaluated, chosen on the selection split) reproduces the
// accuracy a client measured on its own test split, and its predictions file lets an independent
// script reproduce the report's metrics.
TEST_F(FederatedRunTest, MinMaxGapRunReportsFairnessAndEvalReproducesIt) {
  const std::string config = WriteConfig(
      3, 120,
      "fairness:\n  method: minmax_gap\n  bound:\n    epsilon: 0.0\n  views: [fusion, video]\n");
  const std::string report = (folder_ / "report.html").string();
  const CompletedRun run = RunServerAndThreeClients(config, {"--report", report});
  ASSERT_FALSE(HasFailure());
  const auto& [server, clients] = run;

  const std::vector<equifl::server::RoundRecord> rounds = History();
  ASSERT_EQ(rounds.size(), 4u);
  // ε = 0: any gap raises λ (η = 1), so λ > 0 after the first round.
  EXPECT_GT(rounds[0].validation_gap, 0.0);
  EXPECT_NEAR(rounds[0].fairness_lambda, 1.0 * rounds[0].validation_gap, 1e-9);
  EXPECT_THAT(rounds[0].fairness_report, HasSubstr("\"video\""));
  const std::string lines = ReadFile(folder_ / "run" / "report.jsonl");
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 4);
  EXPECT_THAT(lines, HasSubstr("\"final_evaluation\":true"));
  EXPECT_THAT(ReadFile(report), HasSubstr("<svg"));
  EXPECT_THAT(server->Log(), HasSubstr("Fairness of the final model on the test splits"));

  const std::optional<std::string> client_accuracy =
      clients[0]->WaitForLog(R"(test split: accuracy ([0-9.]+))", 1s);
  ASSERT_TRUE(client_accuracy) << clients[0]->Log();
  const std::filesystem::path report_json = folder_ / "eval.json";
  const std::filesystem::path predictions = folder_ / "predictions.csv";
  Process eval({EQUIFL_BINARY, "--config", config, "eval", "--checkpoint",
                (folder_ / "run" / "checkpoints" / "round-000004.safetensors").string(), "--shard",
                (folder_ / "data" / "client-000").string(), "--json", report_json.string(),
                "--predictions", predictions.string()},
               folder_ / "eval.log");
  ASSERT_EQ(eval.Wait(60s), 0) << eval.Log();
  EXPECT_THAT(eval.Log(), HasSubstr("bound MinMaxGAP"));
  const std::string json = ReadFile(report_json);
  std::smatch accuracy;
  ASSERT_TRUE(std::regex_search(json, accuracy, std::regex(R"("accuracy": ([0-9.e-]+))"))) << json;
  EXPECT_NEAR(std::stod(accuracy[1]), std::stod(*client_accuracy), 5e-5) << json;
  EXPECT_THAT(json, HasSubstr("\"min_max_gap\""));

  // An auditor's own script recomputes the report's metrics from the predictions.
  Process recompute(
      {EQUIFL_PYTHON, EQUIFL_RECOMPUTE_SCRIPT, predictions.string(), report_json.string()},
      folder_ / "recompute.log");
  EXPECT_EQ(recompute.Wait(60s), 0) << recompute.Log();
  EXPECT_THAT(recompute.Log(), HasSubstr("all metrics reproduced"));
}

TEST_F(FederatedRunTest, ARoundCompletesWhenAClientIsKilledMidRound) {
  RunWithAClientKilledInRound2(WriteConfig(3, 8));
  ASSERT_FALSE(HasFailure());
  const std::vector<equifl::server::RoundRecord> rounds = History();
  ASSERT_EQ(rounds.size(), 4u);
  EXPECT_EQ(rounds[1].contributors.size(), 2u);
  EXPECT_FALSE(rounds[1].reached_quorum);
}

// Secure aggregation through the real binaries over mutual TLS, with
// ERM-MinMaxGAP and client-level DP done by the clients (noise far below every
// tolerance: z = 10^-6 puts about 0.003 samples of noise on a count): the server
// sees only sums, yet λ follows the validation gap of the summed statistics exactly
// (λ = η·G after round 1), the clients still learn, and ε is accounted. The final
// evaluation fits per-group temperatures on the summed validation statistics and
// reports the test split calibrated beside the plain one.
TEST_F(FederatedRunTest, SecureAggregationRunLearnsAndSumsTheStatistics) {
  const std::string config =
      WriteConfig(3, 120,
                  "fairness:\n  method: minmax_gap\n  bound:\n    epsilon: 0.0\n"
                  "  views: [fusion, video]\n"
                  "  calibration: {enabled: true, min_samples: 2}\n"
                  "privacy:\n  clip_norm: 10.0\n  noise_multiplier: 1.0e-6\n"
                  "secure_aggregation:\n  enabled: true\n");
  const CompletedRun run = RunServerAndThreeClients(config);
  ASSERT_FALSE(HasFailure());
  const auto& [server, clients] = run;
  EXPECT_THAT(server->Log(), HasSubstr("round 1: open, securely aggregated"));
  // The run's first lines say how rounds are sampled and accounted.
  EXPECT_THAT(server->Log(), HasSubstr("samples its clients without replacement"));
  uint64_t test_samples = 0;
  for (auto& client : clients) {
    const std::optional<std::string> accuracy =
        client->WaitForLog(R"(test split: accuracy ([0-9.]+))", 1s);
    ASSERT_TRUE(accuracy) << client->Log();
    EXPECT_GT(std::stod(*accuracy), 0.4) << client->Log();
    const std::optional<std::string> samples =
        client->WaitForLog(R"(final model on (\d+) test samples)", 1s);
    ASSERT_TRUE(samples) << client->Log();
    test_samples += std::stoull(*samples);
  }
  const std::vector<equifl::server::RoundRecord> rounds = History();
  ASSERT_EQ(rounds.size(), 4u);
  // The final evaluation's test statistics, summed under secure aggregation.
  EXPECT_EQ(rounds.back().validation_samples, test_samples);
  EXPECT_GT(rounds[0].validation_gap, 0.0);
  EXPECT_NEAR(rounds[0].fairness_lambda, 1.0 * rounds[0].validation_gap, 1e-9);
  EXPECT_THAT(rounds[0].fairness_report, HasSubstr("\"video\""));
  EXPECT_EQ(rounds[0].contributors.size(), 3u);
  EXPECT_GT(rounds[2].privacy_epsilon, rounds[0].privacy_epsilon);
  EXPECT_GT(rounds[0].privacy_epsilon, 0.0);
  ASSERT_TRUE(rounds.back().validation_accuracy.has_value());

  // Calibration: the final evaluation trained nothing (its validation statistics
  // fed the fit, not the training columns), no temperature view reached a report,
  // and the fit lies beside the final checkpoint.
  EXPECT_EQ(rounds.back().train_samples, 0u);
  EXPECT_THAT(rounds.back().fairness_report, Not(HasSubstr("fusion@T=")));
  const std::string lines = ReadFile(folder_ / "run" / "report.jsonl");
  const std::string last_line = lines.substr(lines.rfind('\n', lines.size() - 2) + 1);
  const nlohmann::json final_line = nlohmann::json::parse(last_line);
  ASSERT_TRUE(final_line.contains("calibration")) << last_line;
  ASSERT_TRUE(final_line.contains("calibrated")) << last_line;
  EXPECT_THAT(final_line["calibrated"].dump(), Not(HasSubstr("fusion@T=")));
  int fitted = 0;
  for (const nlohmann::json& entry : final_line["calibration"]) {
    fitted += entry["fitted"].get<bool>() ? 1 : 0;
    EXPECT_LE(entry["validation_loss_after"].get<double>(),
              entry["validation_loss_before"].get<double>());
  }
  EXPECT_GT(fitted, 0);
  // Temperatures change losses, not predictions.
  EXPECT_EQ(final_line["calibrated"]["overall"]["accuracy"],
            final_line["validation"]["overall"]["accuracy"]);
  EXPECT_TRUE(std::filesystem::is_regular_file(folder_ / "run" / "checkpoints" /
                                               "round-000004.calibration.json"));
  EXPECT_THAT(server->Log(), HasSubstr("Calibrated: each group's fused logits"));
  // The calibrated test split bounds the loss gap's floor from above: the largest
  // cell's upper bound is that of the calibrated report's cell.
  ASSERT_TRUE(final_line.contains("feasibility")) << last_line;
  EXPECT_EQ(final_line["feasibility"]["feasibility"], "unknown");
  const nlohmann::json& floor = final_line["feasibility"]["upper_estimate"];
  ASSERT_TRUE(floor.is_object()) << last_line;
  EXPECT_EQ(floor["source"], "calibration");
  EXPECT_EQ(floor["round"], 4);
  bool found = false;
  for (const nlohmann::json& cell : final_line["calibrated"]["cells"]) {
    if (cell["modality"] != "fusion" || cell["language"] != floor["language"]) continue;
    found = true;
    EXPECT_NEAR(cell["loss_gap_bounds"]["upper"].get<double>(), floor["upper"].get<double>(), 1e-9);
  }
  EXPECT_TRUE(found) << last_line;
  EXPECT_THAT(server->Log(), HasSubstr("The bound against the gap's floor: "));

  // equifl eval finds the fit beside the checkpoint and reports calibrated losses,
  // with the same predictions; --calibration none leaves them out.
  const std::string checkpoint =
      (folder_ / "run" / "checkpoints" / "round-000004.safetensors").string();
  const std::string shard = (folder_ / "data" / "client-000").string();
  const std::filesystem::path calibrated_json = folder_ / "eval-calibrated.json";
  Process eval({EQUIFL_BINARY, "--config", config, "eval", "--checkpoint", checkpoint, "--shard",
                shard, "--json", calibrated_json.string()},
               folder_ / "eval-calibrated.log");
  ASSERT_EQ(eval.Wait(60s), 0) << eval.Log();
  EXPECT_THAT(eval.Log(), HasSubstr("Calibrated with the per-group temperatures of"));
  const nlohmann::json evaluated = nlohmann::json::parse(ReadFile(calibrated_json));
  ASSERT_TRUE(evaluated.contains("calibrated"));
  EXPECT_EQ(evaluated["calibrated"]["overall"]["accuracy"], evaluated["overall"]["accuracy"]);
  EXPECT_NE(evaluated["calibrated"]["cells"].dump(), evaluated["cells"].dump());
  Process plain_eval({EQUIFL_BINARY, "--config", config, "eval", "--checkpoint", checkpoint,
                      "--shard", shard, "--calibration", "none"},
                     folder_ / "eval-plain.log");
  ASSERT_EQ(plain_eval.Wait(60s), 0) << plain_eval.Log();
  EXPECT_THAT(plain_eval.Log(), Not(HasSubstr("Calibrated")));
}

// A client killed while a securely aggregated round sets up: the key phases time
// out without it, the round completes with the two others' masked inputs, and so
// does the run.
TEST_F(FederatedRunTest, SecureRoundCompletesWhenAClientIsKilled) {
  RunWithAClientKilledInRound2(
      WriteConfig(3, 20, "secure_aggregation:\n  enabled: true\n  phase_timeout_seconds: 4\n"));
  ASSERT_FALSE(HasFailure());
  const std::vector<equifl::server::RoundRecord> rounds = History();
  ASSERT_EQ(rounds.size(), 4u);
  EXPECT_EQ(rounds[1].contributors.size(), 2u);
}

TEST_F(FederatedRunTest, ServerKilledAndResumedContinuesFromItsLastCheckpoint) {
  const std::string config = WriteConfig(4, 120);
  auto server = StartServer(config, false, "server.log");
  std::optional<std::string> port = server->WaitForLog(kPortPattern, 60s);
  ASSERT_TRUE(port) << server->Log();
  std::vector<std::unique_ptr<Process>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(StartClient(config, i, *port));
  ASSERT_TRUE(server->WaitForLog("round 3: open", 180s)) << server->Log();
  server->Kill();
  const size_t recorded = History().size();
  ASSERT_GE(recorded, 2u);

  // The same port, so the clients find the server again.
  FixPort(config, *port);
  auto resumed = StartServer(config, true, "server-resumed.log");
  ASSERT_TRUE(resumed->WaitForLog(kPortPattern, 60s)) << resumed->Log();
  EXPECT_THAT(resumed->Log(), HasSubstr("after round " + std::to_string(recorded)));
  for (auto& client : clients) EXPECT_EQ(client->Wait(300s), 0) << client->Log();
  ASSERT_EQ(resumed->Wait(60s), 0) << resumed->Log();
  const std::vector<equifl::server::RoundRecord> rounds = History();
  ASSERT_EQ(rounds.size(), 5u);
  for (size_t i = 0; i < rounds.size(); ++i) EXPECT_EQ(rounds[i].round_id, i + 1);
}

// The fairness controllers' state a run folder's history records after `round`:
// λ, ERM-MinMaxGAP's directive weights, FedMinMax's μ and FairFed's ω, as one list
// of numbers in a fixed order.
std::vector<double> RecordedControllerState(const std::filesystem::path& run, uint64_t round) {
  std::vector<double> values;
  auto history = equifl::server::RunHistory::Open((run / "history.db").string(), "");
  EXPECT_THAT(history, IsOk());
  if (!history.ok()) return values;
  auto rounds = history->Rounds();
  auto controller = history->ControllerWeightsAfter(round);
  EXPECT_THAT(rounds, IsOk());
  EXPECT_THAT(controller, IsOk());
  if (!rounds.ok() || !controller.ok()) return values;
  for (const equifl::server::RoundRecord& record : *rounds) {
    if (record.round_id == round) values.push_back(record.fairness_lambda);
  }
  for (const auto& weight : controller->minmax_gap_weights) values.push_back(weight.weight);
  for (const auto& weight : controller->group_weights) values.push_back(weight.weight);
  for (const auto& weight : controller->client_weights) values.push_back(weight.weight);
  for (const auto& weight : controller->group_dro_weights) {
    values.insert(values.end(), {weight.weight, weight.share, weight.reference.value_or(-1)});
  }
  return values;
}

// A simulation killed after round 2 and resumed continues each controller from
// the state round 2 left: the rounds after it record the weights an uninterrupted
// run records. (Without the restore, λ restarts at 0, μ uniform, ω at n_k/n, group
// DRO's α at 0 with q uniform and no FedAvg levels.) Group DRO runs without its
// probe: a probe in progress is not resumed (docs/ARCHITECTURE.md, "Feasibility").
TEST_F(FederatedRunTest, ResumedRunContinuesTheControllersWeights) {
  ASSERT_EQ(::setenv("OPENBLAS_NUM_THREADS", "1", 1), 0);
  for (const char* method : {"minmax_gap", "fedminmax", "fairfed", "group_dro"}) {
    SCOPED_TRACE(method);
    std::filesystem::remove_all(folder_ / "run");
    std::filesystem::remove_all(folder_ / "uninterrupted");
    const std::string config =
        WriteConfig(4, 120,
                    std::string("fairness:\n  method: ") + method +
                        "\n  bound: {metric: loss_gap, epsilon: 0.01}\n"
                        "  group_dro: {reference_rounds: 1, probe_rounds: 0}\n"
                        "sim:\n  data:\n    source: shards\n    path: " +
                        (folder_ / "data").string() + "\n");
    // Longer rounds, so the kill lands between round 2's record and round 4's.
    const std::string text = ReadFile(config);
    std::ofstream(config) << std::regex_replace(text, std::regex("epochs: 2"), "epochs: 10");

    const std::string log = std::string("sim-") + method;
    Process uninterrupted({EQUIFL_BINARY, "sim", config}, folder_ / (log + ".log"));
    ASSERT_EQ(uninterrupted.Wait(300s), 0) << uninterrupted.Log();
    std::filesystem::rename(folder_ / "run", folder_ / "uninterrupted");

    Process killed({EQUIFL_BINARY, "sim", config}, folder_ / (log + "-killed.log"));
    ASSERT_TRUE(killed.WaitForLog("round 2/4", 120s)) << killed.Log();
    killed.Kill();
    const size_t recorded = History().size();
    ASSERT_GE(recorded, 2u);
    ASSERT_LE(recorded, 3u) << "the run finished its training before the kill";
    Process resumed({EQUIFL_BINARY, "sim", config, "--resume"}, folder_ / (log + "-resumed.log"));
    ASSERT_EQ(resumed.Wait(300s), 0) << resumed.Log();

    for (uint64_t round = recorded + 1; round <= 4; ++round) {
      const std::vector<double> expected =
          RecordedControllerState(folder_ / "uninterrupted", round);
      const std::vector<double> actual = RecordedControllerState(folder_ / "run", round);
      EXPECT_GT(expected.size(), 1u) << "round " << round << " recorded no weights";
      ASSERT_EQ(actual.size(), expected.size()) << "round " << round;
      for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_NEAR(actual[i], expected[i], 1e-9) << "round " << round << ", weight " << i;
      }
    }
    // Model selection continues too: the resumed run chooses the model the
    // uninterrupted one chose, for the same reason (which counts the models judged
    // before and after the kill), and its final evaluation's checkpoint is that
    // model, reloaded from its checkpoint.
    const auto chosen = [](const std::filesystem::path& run) {
      std::istringstream lines(ReadFile(run / "report.jsonl"));
      std::string last;
      for (std::string line; std::getline(lines, line);) last = line;
      const nlohmann::json final_line = nlohmann::json::parse(last);
      EXPECT_TRUE(final_line.contains("chosen")) << last;
      return final_line.value("chosen", nlohmann::json::object());
    };
    const nlohmann::json expected_choice = chosen(folder_ / "uninterrupted");
    EXPECT_EQ(chosen(folder_ / "run"), expected_choice);
    const auto checkpoint = [&](uint64_t round) {
      return CheckpointTensors(folder_ / "run" / "checkpoints" /
                               absl::StrFormat("round-%06d.safetensors", round));
    };
    EXPECT_TRUE(checkpoint(5) == checkpoint(expected_choice.value("model_round", 0u)));
  }
}

// A finished run resumed with more rounds trains on: its final evaluation is
// forgotten and runs again at the new end, so the history holds every training
// round and one evaluation, last. Resumed with the same rounds it stays finished.
TEST_F(FederatedRunTest, AFinishedRunResumedWithMoreRoundsTrainsOn) {
  const std::string sim =
      "sim:\n  data:\n    source: shards\n    path: " + (folder_ / "data").string() + "\n";
  std::string config = WriteConfig(2, 120, sim);
  Process first({EQUIFL_BINARY, "sim", config}, folder_ / "sim-2.log");
  ASSERT_EQ(first.Wait(300s), 0) << first.Log();
  ASSERT_EQ(History().size(), 3u);
  EXPECT_EQ(History()[2].train_samples, 0u);

  config = WriteConfig(4, 120, sim);
  Process extended({EQUIFL_BINARY, "sim", config, "--resume"}, folder_ / "sim-4.log");
  ASSERT_EQ(extended.Wait(300s), 0) << extended.Log();
  EXPECT_THAT(extended.Log(), HasSubstr("finished 2 training rounds and its final evaluation; "
                                        "training on to round 4"));
  std::vector<equifl::server::RoundRecord> rounds = History();
  ASSERT_EQ(rounds.size(), 5u);
  for (size_t i = 0; i < 4; ++i) EXPECT_GT(rounds[i].train_samples, 0u) << "round " << i + 1;
  EXPECT_EQ(rounds[4].train_samples, 0u);

  Process again({EQUIFL_BINARY, "sim", config, "--resume"}, folder_ / "sim-4-again.log");
  ASSERT_EQ(again.Wait(300s), 0) << again.Log();
  EXPECT_THAT(again.Log(), Not(HasSubstr("training on to round")));
  EXPECT_EQ(History().size(), 5u);
}

// fairness.per_client_cells: the reports' cells and ERM-MinMaxGAP's weights are
// per (language, view, client), each client's cells keyed by its id.
TEST_F(FederatedRunTest, PerClientCellsReachTheReportAndTheController) {
  const std::string config =
      WriteConfig(2, 120,
                  "fairness:\n  method: minmax_gap\n  per_client_cells: true\n"
                  "  bound: {metric: loss_gap, epsilon: 0.0}\n"
                  "  calibration: {enabled: true, min_samples: 2}\n"
                  "sim:\n  data:\n    source: shards\n    path: " +
                      (folder_ / "data").string() + "\n");
  Process simulation({EQUIFL_BINARY, "sim", config}, folder_ / "sim.log");
  ASSERT_EQ(simulation.Wait(300s), 0) << simulation.Log();
  const std::vector<equifl::server::RoundRecord> rounds = History();
  ASSERT_EQ(rounds.size(), 3u);
  for (const char* client : {"client-000", "client-001", "client-002"}) {
    EXPECT_THAT(rounds[0].fairness_report, HasSubstr(std::string("\"client\":\"") + client + "\""));
  }
  EXPECT_THAT(rounds[0].fairness_report, Not(HasSubstr("\"client\":\"\"")));
  auto history = equifl::server::RunHistory::Open((folder_ / "run" / "history.db").string(), "");
  ASSERT_THAT(history, IsOk());
  auto controller = history->ControllerWeightsAfter(1);
  ASSERT_THAT(controller, IsOk());
  ASSERT_FALSE(controller->minmax_gap_weights.empty());
  for (const auto& weight : controller->minmax_gap_weights) {
    EXPECT_THAT(weight.cell.client, testing::StartsWith("client-"));
  }
  // Calibration over the plain upload: a temperature per (language, client, group).
  EXPECT_EQ(rounds.back().train_samples, 0u);
  const std::string calibration =
      ReadFile(folder_ / "run" / "checkpoints" / "round-000003.calibration.json");
  EXPECT_THAT(calibration, HasSubstr("\"fitted\": true"));
  EXPECT_THAT(calibration, HasSubstr("\"client\": \"client-001\""));
}

// Decision offsets for equal opportunity on a two-class task: the final evaluation
// fits an offset per (language, group) on the summed validation statistics
// (where a lagging rate is evident; the spread of the groups' true-positive rates
// only narrows), saves them beside the checkpoint with the temperatures and
// reports the test split with them, keeping the offset views out of every report. equifl eval
// applies the saved file: its calibrated accuracy is the one an auditor recomputes from the
// predictions file's probabilities, each sample's prediction taken again with its group's offset.
TEST_F(FederatedRunTest, DecisionOffsetsAreFittedSavedAndAppliedByEval) {
  // Every modality of female speakers of ja carries little and partly wrong signal,
  // so their true-positive rate lags by some 30 points, far beyond the noise.
  Process synth(
      {EQUIFL_BINARY, "data", "synth", "--out", (folder_ / "binary").string(), "--clients", "3",
       "--samples-per-client", "1500", "--seed", "7", "--labels", "no,yes", "--bias",
       "group=female,language=ja,signal=0.2,label_noise=0.3", "--bayes-samples", "0"},
      folder_ / "synth-binary.log");
  ASSERT_EQ(synth.Wait(60s), 0) << synth.Log();
  const std::string config = WriteConfig(
      2, 120,
      "fairness:\n  calibration: {enabled: true, min_samples: 20, decision_offsets: true, "
      "offset_max_accuracy_cost_points: 10}\nsim:\n  data:\n    source: shards\n    path: " +
          (folder_ / "binary").string() + "\n");
  Process simulation({EQUIFL_BINARY, "sim", config}, folder_ / "sim.log");
  ASSERT_EQ(simulation.Wait(300s), 0) << simulation.Log();
  EXPECT_THAT(simulation.Log(), HasSubstr("Decision offsets for equal opportunity"));
  const std::string lines = ReadFile(folder_ / "run" / "report.jsonl");
  const nlohmann::json final_line =
      nlohmann::json::parse(lines.substr(lines.rfind('\n', lines.size() - 2) + 1));
  ASSERT_TRUE(final_line.contains("decision_offsets")) << final_line.dump();
  ASSERT_TRUE(final_line.contains("decision_offset_effects")) << final_line.dump();
  EXPECT_THAT(final_line["validation"].dump(), Not(HasSubstr("fusion@offset")));
  EXPECT_THAT(final_line["calibrated"].dump(), Not(HasSubstr("fusion@offset")));
  const nlohmann::json& offsets = final_line["decision_offsets"];
  EXPECT_EQ(offsets["positive_class"], 1);
  // Per language, the fitted groups' validation true-positive rates before and after.
  std::map<std::string, std::vector<double>> before;
  std::map<std::string, std::vector<double>> after;
  std::map<std::pair<std::string, std::string>, double> offset_of;
  int moved = 0;
  for (const nlohmann::json& entry : offsets["offsets"]) {
    offset_of[{entry["language"], entry["group"]}] = entry["offset"].get<double>();
    if (!entry["fitted"].get<bool>()) continue;
    before[entry["language"]].push_back(entry["validation_true_positive_rate_before"]);
    after[entry["language"]].push_back(entry["validation_true_positive_rate_after"]);
    moved += entry["offset"].get<double>() != 0 ? 1 : 0;
  }
  ASSERT_FALSE(before.empty()) << offsets.dump();
  EXPECT_GT(moved, 0) << offsets.dump();
  const auto spread = [](const std::vector<double>& rates) {
    return *std::max_element(rates.begin(), rates.end()) -
           *std::min_element(rates.begin(), rates.end());
  };
  for (const auto& [language, rates] : before) {
    EXPECT_LE(spread(after[language]), spread(rates) + 1e-12) << language;
  }
  const nlohmann::json file = nlohmann::json::parse(
      ReadFile(folder_ / "run" / "checkpoints" / "round-000003.calibration.json"));
  EXPECT_EQ(file["decision_offsets"], offsets);

  const std::filesystem::path report_json = folder_ / "eval.json";
  const std::filesystem::path predictions = folder_ / "predictions.csv";
  Process eval({EQUIFL_BINARY, "--config", config, "eval", "--checkpoint",
                (folder_ / "run" / "checkpoints" / "round-000003.safetensors").string(), "--shard",
                (folder_ / "binary" / "client-000").string(), "--views", "fusion", "--json",
                report_json.string(), "--predictions", predictions.string()},
               folder_ / "eval.log");
  ASSERT_EQ(eval.Wait(60s), 0) << eval.Log();
  EXPECT_THAT(eval.Log(), HasSubstr("Decision offsets for equal opportunity"));
  EXPECT_THAT(eval.Log(), HasSubstr("test true-positive-rate gap of 'yes'"));
  const nlohmann::json evaluated = nlohmann::json::parse(ReadFile(report_json));
  ASSERT_TRUE(evaluated.contains("calibrated") && evaluated.contains("decision_offsets"));
  // Columns: sample, client, split, language, group, view, label, prediction, loss,
  // probability:no, probability:yes.
  std::istringstream rows(ReadFile(predictions));
  std::string row;
  std::getline(rows, row);
  EXPECT_THAT(row, HasSubstr("probability:no,probability:yes"));
  uint64_t samples = 0;
  uint64_t right = 0;
  while (std::getline(rows, row)) {
    std::vector<std::string> fields;
    std::istringstream cells(row);
    for (std::string field; std::getline(cells, field, ',');) fields.push_back(field);
    ASSERT_EQ(fields.size(), 11u) << row;
    const double offset = offset_of.at({fields[3], fields[4]});
    const double no = std::max(std::stod(fields[9]), 1e-45);
    const double yes = std::max(std::stod(fields[10]), 1e-45);
    const std::string prediction = std::log(yes) + offset > std::log(no) ? "yes" : "no";
    ++samples;
    right += prediction == fields[6] ? 1 : 0;
  }
  ASSERT_GT(samples, 0u);
  EXPECT_NEAR(evaluated["calibrated"]["overall"]["accuracy"].get<double>(),
              static_cast<double>(right) / static_cast<double>(samples), 1e-12);
}

// The model tensors of a checkpoint, by name.
std::map<std::string, std::string> CheckpointTensors(const std::filesystem::path& path) {
  std::map<std::string, std::string> tensors;
  auto file = equifl::protocol::SafetensorsFile::Open(path.string());
  EXPECT_THAT(file, IsOk()) << path << ": " << file.status();
  if (!file.ok()) return tensors;
  for (const equifl::protocol::TensorView& tensor : file->tensors()) {
    tensors[tensor.name] =
        std::string(reinterpret_cast<const char*>(tensor.bytes.data()), tensor.bytes.size());
  }
  return tensors;
}

// Fixed group weights reach the clients' training: with the same data and seed, a
// simulation under fixed_weights (t = 2) trains round 1 as FedAvg does (no statistics
// yet, so no weights: the models are equal bit for bit), then the weights from round
// 1's validation statistics make round 2's model another one. A client that ignored
// the method would train FedAvg's model again.
TEST_F(FederatedRunTest, FixedWeightsChangeWhatTheClientsTrain) {
  ASSERT_EQ(::setenv("OPENBLAS_NUM_THREADS", "1", 1), 0);
  std::map<std::string, std::vector<std::map<std::string, std::string>>> models;
  for (const char* method : {"fedavg", "fixed_weights"}) {
    SCOPED_TRACE(method);
    std::filesystem::remove_all(folder_ / "run");
    const std::string config = WriteConfig(
        2, 120,
        std::string("fairness:\n  method: ") + method +
            "\n  fixed_weights_power: 2\nsim:\n  data:\n    source: shards\n    path: " +
            (folder_ / "data").string() + "\n");
    Process simulation({EQUIFL_BINARY, "sim", config}, folder_ / (std::string(method) + ".log"));
    ASSERT_EQ(simulation.Wait(300s), 0) << simulation.Log();
    const std::vector<equifl::server::RoundRecord> rounds = History();
    ASSERT_EQ(rounds.size(), 3u);
    EXPECT_EQ(rounds[0].fairness_lambda, method == std::string("fedavg") ? 0 : 1);
    for (size_t round = 0; round < 2; ++round) {
      models[method].push_back(CheckpointTensors(folder_ / "run" / rounds[round].checkpoint));
      ASSERT_FALSE(models[method].back().empty());
    }
  }
  EXPECT_TRUE(models["fedavg"][0] == models["fixed_weights"][0]);
  EXPECT_FALSE(models["fedavg"][1] == models["fixed_weights"][1]);
}

// `equifl sim` runs the real server's and client's code: with the same data, seed
// and configuration, the global model after two rounds is bit for bit the one the
// server and three client processes produced, in process, over gRPC with mutual
// TLS in one process (certificates made in memory), and with two worker processes
// holding a worker certificate. Bitwise holds because each client trains on the CPU from the
// same state with the same seed (dropout 0: LibTorch's dropout draws from one
// generator per process, which concurrent virtual clients would share), and the
// server sums updates in float64 before rounding the mean to float32: the order in
// which updates arrive changes only the last float64 bits, which the rounding
// removes unless a value lies within about 2^-29 of a float32 rounding boundary.
// OpenBLAS's products depend on its thread count, and the simulation gives each of
// its two concurrent trainings one BLAS thread, so the real clients get one too.
// A table imported on two sites with the categories in another order: the same
// width, other features. The client of the other import is refused when it joins,
// naming the feature; a client of the run's own import joins.
TEST_F(FederatedRunTest, AClientWhoseTableHasOtherCategoriesIsRefusedAtJoin) {
  {
    std::ofstream csv(folder_ / "jobs.csv");
    csv << "y,sex,age,job\n";
    for (int row = 0; row < 40; ++row) {
      csv << row % 2 << "," << (row % 3 == 0 ? "F" : "M") << "," << 20 + row << ","
          << (row % 4 == 0 ? "field" : "office") << "\n";
    }
  }
  auto import = [&](const std::string& out, const std::string& categories) {
    Process process({EQUIFL_BINARY, "data", "import", (folder_ / "jobs.csv").string(), "--out",
                     (folder_ / out).string(), "--label", "y", "--group", "sex", "--clients", "2",
                     "--categorical", categories},
                    folder_ / (out + ".log"));
    ASSERT_EQ(process.Wait(60s), 0) << process.Log();
  };
  import("ours", "job=office|field");
  import("theirs", "job=field|office");
  const std::string config = WriteConfig(1, 10);
  Process server({EQUIFL_BINARY, "--config", config, "server", "--certs", Certificates("server"),
                  "--schema", (folder_ / "ours" / "client-000").string()},
                 folder_ / "server.log");
  const std::optional<std::string> port = server.WaitForLog(kPortPattern, 60s);
  ASSERT_TRUE(port) << server.Log();
  auto client = [&](const std::string& shard, int index) {
    return std::make_unique<Process>(
        std::vector<std::string>{EQUIFL_BINARY, "--config", config, "client", "--shard",
                                 (folder_ / shard).string(), "--server", "127.0.0.1:" + *port,
                                 "--id", "client-" + std::to_string(index), "--certs",
                                 Certificates("clients/client-" + std::to_string(index))},
        folder_ / ("client-" + std::to_string(index) + ".log"));
  };
  auto refused = client("theirs/client-000", 0);
  EXPECT_NE(refused->Wait(60s), 0) << refused->Log();
  EXPECT_THAT(refused->Log(), HasSubstr("this run cannot use your data: its shard's modality "
                                        "'tabular' feature 2: 'job=field'; the run's: "
                                        "'job=office'"));
  auto joined = client("ours/client-001", 1);
  EXPECT_TRUE(server.WaitForLog("client 'client-1' joined", 60s)) << server.Log();
  joined->Kill();
  server.Kill();
}

TEST_F(FederatedRunTest, SimulationReproducesTheRealRunBitForBit) {
  ASSERT_EQ(::setenv("OPENBLAS_NUM_THREADS", "1", 1), 0);
  const std::string config =
      WriteConfig(2, 120,
                  "fairness:\n  method: minmax_gap\n  views: [fusion, video]\n"
                  "sim:\n  data:\n    source: shards\n    path: " +
                      (folder_ / "data").string() + "\n  concurrency: 2\n");
  RunServerAndThreeClients(config);
  ASSERT_FALSE(HasFailure());
  const auto checkpoint = std::filesystem::path("checkpoints") / "round-000002.safetensors";
  const std::map<std::string, std::string> real = CheckpointTensors(folder_ / "run" / checkpoint);
  ASSERT_FALSE(real.empty());

  std::filesystem::rename(folder_ / "run", folder_ / "real-run");
  Process simulation({EQUIFL_BINARY, "sim", config}, folder_ / "sim.log");
  ASSERT_EQ(simulation.Wait(300s), 0) << simulation.Log();
  EXPECT_THAT(simulation.Log(), HasSubstr("3 virtual clients, shards data"));
  EXPECT_THAT(simulation.Log(), HasSubstr("one client per shard"));
  EXPECT_TRUE(CheckpointTensors(folder_ / "run" / checkpoint) == real)
      << "the in-process simulation's model differs from the real run's";

  std::filesystem::rename(folder_ / "run", folder_ / "sim-run");
  Process loopback({EQUIFL_BINARY, "sim", config, "--transport", "grpc"}, folder_ / "sim-tls.log");
  ASSERT_EQ(loopback.Wait(300s), 0) << loopback.Log();
  EXPECT_THAT(loopback.Log(), HasSubstr("mutual TLS with certificates made in memory"));
  EXPECT_TRUE(CheckpointTensors(folder_ / "run" / checkpoint) == real)
      << "the model of the simulation over gRPC with TLS in one process differs from the real "
         "run's";

  std::filesystem::rename(folder_ / "run", folder_ / "sim-tls-run");
  Process aggregator({EQUIFL_BINARY, "sim", config, "--transport", "grpc", "--clients", "none",
                      "--certs", Certificates("server")},
                     folder_ / "sim-aggregator.log");
  const std::optional<std::string> sim_port = aggregator.WaitForLog(kPortPattern, 60s);
  ASSERT_TRUE(sim_port) << aggregator.Log();
  const std::string address = "127.0.0.1:" + *sim_port;
  Process first({EQUIFL_BINARY, "sim", config, "--worker", "--connect", address, "--clients",
                 "0..1", "--certs", Certificates("clients/client-*")},
                folder_ / "worker-0.log");
  Process second({EQUIFL_BINARY, "sim", config, "--worker", "--connect", address, "--clients",
                  "2..2", "--certs", Certificates("clients/client-*")},
                 folder_ / "worker-1.log");
  EXPECT_EQ(first.Wait(300s), 0) << first.Log();
  EXPECT_EQ(second.Wait(300s), 0) << second.Log();
  ASSERT_EQ(aggregator.Wait(60s), 0) << aggregator.Log();
  EXPECT_TRUE(CheckpointTensors(folder_ / "run" / checkpoint) == real)
      << "the model of the simulation with two gRPC workers differs from the real run's";
}

// Over the network a simulation needs certificates or --insecure: an aggregator
// that workers reach needs DIR/server, a worker a certificate that may act for
// every client it hosts. Each is refused before anything listens or dials.
TEST_F(FederatedRunTest, SimulationOverTheNetworkNeedsCertificates) {
  const std::string config = WriteConfig(
      1, 60, "sim:\n  data:\n    source: shards\n    path: " + (folder_ / "data").string() + "\n");
  for (const char* clients : {"none", "0..1"}) {
    Process aggregator({EQUIFL_BINARY, "sim", config, "--transport", "grpc", "--clients", clients},
                       folder_ / ("aggregator-" + std::string(clients) + ".log"));
    EXPECT_EQ(aggregator.Wait(60s), 2) << aggregator.Log();
    EXPECT_THAT(aggregator.Log(), HasSubstr("pass --certs DIR/server, or pass --insecure"));
  }
  Process worker({EQUIFL_BINARY, "sim", config, "--worker", "--connect", "127.0.0.1:1", "--clients",
                  "0..1", "--certs", Certificates("clients/client-0")},
                 folder_ / "worker.log");
  EXPECT_EQ(worker.Wait(60s), 2) << worker.Log();
  EXPECT_THAT(worker.Log(), HasSubstr("is for 'client-0'; it cannot act as 'client-000'"));
  EXPECT_THAT(worker.Log(), HasSubstr("--clients 'client-*'"));
  EXPECT_FALSE(std::filesystem::exists(folder_ / "run"));
}

// The mean and population deviation of every float modality's features over the
// training splits of the three shards pooled (present samples, valid frames), in
// two float64 passes: the reference for federated standardisation.
struct PooledFeatures {
  std::vector<double> mean;
  std::vector<double> deviation;
};
std::map<std::string, PooledFeatures> PooledTrainingFeatures(const std::filesystem::path& data) {
  std::vector<equifl::client::Shard> shards;
  for (int client = 0; client < 3; ++client) {
    auto shard =
        equifl::client::Shard::Open((data / equifl::client::ClientShardName(client)).string());
    EXPECT_THAT(shard, IsOk());
    if (!shard.ok()) return {};
    shards.push_back(*std::move(shard));
  }
  std::map<std::string, PooledFeatures> pooled;
  const size_t modalities = shards[0].manifest().modalities.size();
  for (size_t m = 0; m < modalities; ++m) {
    const equifl::client::ShardModality& modality = shards[0].manifest().modalities[m];
    if (modality.kind != equifl::client::ModalityKind::kSequence &&
        modality.kind != equifl::client::ModalityKind::kVector) {
      continue;
    }
    const auto dim = static_cast<size_t>(modality.dim);
    // Calls `visit` with every training feature vector of modality m.
    const auto for_each_vector = [&](const std::function<void(const float*)>& visit) {
      for (const equifl::client::Shard& shard : shards) {
        const equifl::client::ShardColumns& columns = shard.columns();
        const auto per_sample = static_cast<size_t>(modality.ValuesPerSample());
        for (int64_t n = 0; n < shard.manifest().num_samples; ++n) {
          if (columns.split[n] != static_cast<uint8_t>(equifl::client::Split::kTrain) ||
              columns.present[n * modalities + m] == 0) {
            continue;
          }
          const float* sample = columns.features[m].data() + n * per_sample;
          const int64_t frames =
              modality.kind == equifl::client::ModalityKind::kSequence ? columns.lengths[m][n] : 1;
          for (int64_t t = 0; t < frames; ++t) visit(sample + t * dim);
        }
      }
    };
    PooledFeatures& features = pooled[modality.name];
    features.mean.assign(dim, 0.0);
    features.deviation.assign(dim, 0.0);
    double count = 0;
    for_each_vector([&](const float* x) {
      count += 1;
      for (size_t d = 0; d < dim; ++d) features.mean[d] += x[d];
    });
    for (double& mean : features.mean) mean /= count;
    for_each_vector([&](const float* x) {
      for (size_t d = 0; d < dim; ++d) {
        features.deviation[d] += (x[d] - features.mean[d]) * (x[d] - features.mean[d]);
      }
    });
    for (double& deviation : features.deviation) deviation = std::sqrt(deviation / count);
  }
  return pooled;
}

// Federated standardisation (model.standardise_features): round 0 sums the
// clients' training moments, in the clear, under secure aggregation and in
// `equifl sim`, and the model's standardisation in the checkpoints of rounds 1
// and 2 is the pooled training data's mean and 1 / deviation (to float32, since
// the model stores float32; the float64 arithmetic is checked in
// tests/protocol/feature_moments_test.cc). Training does not move it.
TEST_F(FederatedRunTest, StandardisationIsThatOfThePooledTrainingData) {
  const std::map<std::string, PooledFeatures> pooled = PooledTrainingFeatures(folder_ / "data");
  ASSERT_FALSE(pooled.empty());
  const std::string sim =
      "sim:\n  data:\n    source: shards\n    path: " + (folder_ / "data").string() + "\n";
  for (const std::string variant : {"plain", "secure", "sim"}) {
    SCOPED_TRACE(variant);
    std::filesystem::remove_all(folder_ / "run");
    const std::string config = WriteConfig(
        2, 120,
        "  standardise_features: true\n" +
            (variant == "secure" ? std::string("secure_aggregation:\n  enabled: true\n") : sim));
    if (variant == "sim") {
      Process simulation({EQUIFL_BINARY, "sim", config}, folder_ / "sim.log");
      ASSERT_EQ(simulation.Wait(300s), 0) << simulation.Log();
      EXPECT_THAT(simulation.Log(), HasSubstr("features standardised by the pooled training"));
    } else {
      {
        const CompletedRun run = RunServerAndThreeClients(config);
        ASSERT_FALSE(HasFailure());
        EXPECT_THAT(run.server->Log(), HasSubstr("round 0: open (feature moments"));
        EXPECT_THAT(run.clients[0]->Log(), HasSubstr("feature moments of"));
      }
      // The next variant's processes log afresh (the server's port is read from its log).
      for (const std::string log : {"server", "client-0", "client-1", "client-2"}) {
        std::filesystem::rename(folder_ / (log + ".log"), folder_ / (log + "-" + variant + ".log"));
      }
    }
    const std::vector<equifl::server::RoundRecord> rounds = History();
    ASSERT_EQ(rounds.size(), 3u);  // round 0 is not recorded
    EXPECT_EQ(rounds[0].round_id, 1u);
    const auto checkpoint = [&](int round) {
      return CheckpointTensors(folder_ / "run" / "checkpoints" /
                               ("round-00000" + std::to_string(round) + ".safetensors"));
    };
    const std::map<std::string, std::string> first = checkpoint(1);
    const std::map<std::string, std::string> second = checkpoint(2);
    for (const auto& [modality, features] : pooled) {
      const std::string prefix = "standardisation." + modality;
      ASSERT_TRUE(first.contains(prefix + ".shift")) << prefix;
      const std::string& shift_bytes = first.at(prefix + ".shift");
      const std::string& scale_bytes = first.at(prefix + ".scale");
      ASSERT_EQ(shift_bytes.size(), features.mean.size() * sizeof(float));
      std::vector<float> shift(features.mean.size()), scale(features.mean.size());
      std::memcpy(shift.data(), shift_bytes.data(), shift_bytes.size());
      std::memcpy(scale.data(), scale_bytes.data(), scale_bytes.size());
      for (size_t d = 0; d < shift.size(); ++d) {
        // float32 keeps about 7 digits; a mean over another split would be off
        // by about deviation / sqrt(n), 10^3 times more.
        EXPECT_NEAR(shift[d], features.mean[d], 1e-5 * features.deviation[d]) << prefix << d;
        EXPECT_NEAR(scale[d] * features.deviation[d], 1.0, 1e-6) << prefix << d;
      }
      EXPECT_EQ(second.at(prefix + ".shift"), shift_bytes) << "training moved " << prefix;
      EXPECT_EQ(second.at(prefix + ".scale"), scale_bytes) << "training moved " << prefix;
    }
  }
}

}  // namespace
