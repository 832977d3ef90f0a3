// RunMonitor from hand-fed events: the JSON API's counts, rounds, cells and
// clients, and its metrics, which Python's prometheus_client (an independent
// parser of the text format) must read.
#include "server/monitoring/run_monitor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "fairness/accuracy_gap_interval.h"
#include "fairness/feasibility_floor.h"
#include "server/monitoring/client_metrics.h"
#include "tests/testing/prometheus_text.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::server::monitoring {
namespace {

using Json = nlohmann::json;
using ::testing::Contains;
using ::testing::DoubleEq;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

fairness::GroupStatistics Group(double loss_sum, std::vector<uint64_t> confusion,
                                double loss_square_sum = 0) {
  fairness::GroupStatistics group;
  group.loss_sum = loss_sum;
  group.loss_square_sum = loss_square_sum;
  group.num_classes = 2;
  group.confusion = std::move(confusion);
  for (uint64_t count : group.confusion) group.count += count;
  return group;
}

Json Api(const RunMonitor& monitor, const std::string& path) {
  std::string text;
  EXPECT_TRUE(monitor.Api(path, text)) << path;
  return Json::parse(text);
}

// One round: a, b and c selected; a counted, b refused, c never uploads.
class RunMonitorTest : public ::testing::Test {
 protected:
  static RunDescription Description() {
    RunDescription run;
    run.fairness_method = "minmax_gap";
    run.training_rounds = 3;
    run.gap_bound.epsilon = 0.1;
    run.privacy = true;
    run.privacy_delta = 1e-5;
    return run;
  }

  RunMonitorTest() : monitor_(Description()) {
    monitor_.OnRunStarted("run-x", 0);
    for (const char* client : {"a", "b", "c"}) monitor_.OnClientJoined(client);
    monitor_.OnRoundOpened(1, {"a", "b", "c"}, false);
    for (const char* client : {"a", "b", "c"}) monitor_.OnTaskTaken(client, 1);
    monitor_.OnUpload("a", 1, 1000, absl::OkStatus());
    monitor_.OnUpload("b", 1, 500, absl::InvalidArgumentError("update of client 'b' has weight"));
    // Refused before it could join: counted, never a row of the client table.
    monitor_.OnUpload("intruder", 1, 10, absl::PermissionDeniedError("not yours"));
    monitor_.OnCall("Join", "a", 0.01);
  }

  void CloseRound() {
    RoundSummary summary;
    summary.round_id = 1;
    summary.selected = {"a", "b", "c"};
    summary.contributors = {"a"};
    summary.reached_quorum = false;
    summary.seconds = 2;
    // f: 7 of 10 right, loss 0.6, variance (6 − 3.6)/9; m: 9 of 10 right, loss 0.4,
    // variance (3 − 1.6)/9. The gap 0.2 > ε = 0.1, but its 95% bounds, 0.2 ∓ z·0.20548
    // (z = 1.96 below, 1.645 above), straddle ε.
    fairness::StatisticsTable table;
    table[{"en", "fusion", ""}]["f"] = Group(6, {3, 1, 2, 4}, 6);
    table[{"en", "fusion", ""}]["m"] = Group(4, {5, 0, 1, 4}, 3);
    ASSERT_TRUE(summary.validation.Add(table).ok());
    summary.fairness.lambda = 0.5;
    summary.fairness.validation_gap = 0.2;
    summary.fairness.feasibility = fairness::FeasibilityFloor(0.95).Judge(0.1);
    summary.chosen_round = 3;
    summary.chosen_reason = "round 3's model (…): the latest of …";
    summary.privacy_epsilon = 1.25;
    absl::StatusOr<aggregation::ServerOptimizer> optimizer =
        aggregation::ServerOptimizer::Create({}, 1);
    ASSERT_TRUE(optimizer.ok());
    const float value = 0;
    absl::StatusOr<GlobalModel> model = GlobalModel::FromTensors(
        {{"w", v1::DATA_TYPE_FLOAT32, {1}, std::as_bytes(std::span(&value, 1))}});
    ASSERT_TRUE(model.ok()) << model.status();
    ASSERT_TRUE(monitor_.OnRoundClosed(summary, *model, *optimizer).ok());
  }

  RunMonitor monitor_;
};

TEST_F(RunMonitorTest, TheOpenRoundCountsItsClients) {
  const Json run = Api(monitor_, "/api/run");
  EXPECT_EQ(run["run_id"], "run-x");
  EXPECT_EQ(run["state"], "training");
  EXPECT_EQ(run["round"]["id"], 1);
  EXPECT_EQ(run["round"]["selected"], 3);
  EXPECT_EQ(run["round"]["training"], 1);  // c; a counted, b refused.
  EXPECT_EQ(run["round"]["uploaded"], 1);
  EXPECT_EQ(run["round"]["refused"], 1);  // The intruder is not of the round.
  EXPECT_EQ(run["clients"]["joined"], 3);
  EXPECT_EQ(run["throughput"]["updates_accepted"], 1);
  EXPECT_EQ(run["throughput"]["updates_refused"], 2);
  EXPECT_EQ(run["throughput"]["bytes_received"], 1510);
  EXPECT_EQ(Api(monitor_, "/api/fairness"), Json(nullptr));
  EXPECT_EQ(Api(monitor_, "/api/rounds"), Json::array());
}

TEST_F(RunMonitorTest, AClosedRoundGivesItsPointCellsAndDrops) {
  CloseRound();
  monitor_.OnUpload("c", 1, 100, absl::FailedPreconditionError("the round closed"));
  const Json run = Api(monitor_, "/api/run");
  EXPECT_EQ(run["state"], "between rounds");
  EXPECT_EQ(run["completed_rounds"], 1);
  EXPECT_EQ(run["round"]["dropped"], 2);
  EXPECT_EQ(run["round"]["late"], 1);
  EXPECT_EQ(run["round"]["training"], 0);
  EXPECT_EQ(run["controller"]["lambda"], 0.5);
  EXPECT_EQ(run["bound"]["metric"], "loss_gap");
  EXPECT_EQ(run["bound"]["description"], "MinMaxGAP <= 0.1 nats");
  EXPECT_EQ(run["privacy"]["epsilon_spent"], 1.25);
  EXPECT_EQ(run["privacy"]["delta"], 1e-5);

  const Json rounds = Api(monitor_, "/api/rounds");
  ASSERT_EQ(rounds.size(), 1u);
  EXPECT_EQ(rounds[0]["round"], 1);
  EXPECT_EQ(rounds[0]["contributors"], 1);
  EXPECT_DOUBLE_EQ(rounds[0]["accuracy"].get<double>(), 16.0 / 20);
  EXPECT_EQ(rounds[0]["worst_group"], "f");
  EXPECT_DOUBLE_EQ(rounds[0]["worst_group_accuracy"].get<double>(), 0.7);
  EXPECT_DOUBLE_EQ(rounds[0]["minmax_gap"].get<double>(), 0.2);

  const Json fairness = Api(monitor_, "/api/fairness");
  EXPECT_EQ(fairness["split"], "validation");
  EXPECT_EQ(fairness["bound_status"], "undetermined");
  EXPECT_THAT(fairness["bound_verdict"].get<std::string>(),
              HasSubstr("samples per group in cell en/fusion"));
  EXPECT_NEAR(fairness["minmax_gap_bounds"]["upper"].get<double>(), 0.537985, 1e-6);
  EXPECT_EQ(fairness["feasibility"]["feasibility"], "unknown");
  EXPECT_THAT(fairness["feasibility"]["text"].get<std::string>(),
              HasSubstr("no cell's floor is settled"));
  EXPECT_EQ(fairness["chosen"]["model_round"], 3);
  EXPECT_EQ(fairness["chosen"]["reason"], "round 3's model (…): the latest of …");
  ASSERT_EQ(fairness["cells"].size(), 1u);
  const Json& cell = fairness["cells"][0];
  EXPECT_EQ(cell["language"], "en");
  EXPECT_EQ(cell["modality"], "fusion");
  EXPECT_NEAR(cell["loss_gap"].get<double>(), 0.2, 1e-12);
  EXPECT_EQ(cell["bound_status"], "undetermined");
  EXPECT_NEAR(cell["loss_gap_bounds"]["upper"].get<double>(), 0.537985, 1e-6);
  EXPECT_EQ(cell["loss_gap_bounds"]["lower"].get<double>(), 0);
  EXPECT_EQ(cell["groups"]["f"]["count"], 10);
  EXPECT_DOUBLE_EQ(cell["groups"]["f"]["accuracy"]["value"].get<double>(), 0.7);
  // One cell: the plain 95 % Wilson interval of 7/10, by hand 0.3968 to 0.8922.
  EXPECT_NEAR(cell["groups"]["f"]["accuracy"]["lower"].get<double>(), 0.3968, 1e-4);
  EXPECT_NEAR(cell["groups"]["f"]["accuracy"]["upper"].get<double>(), 0.8922, 1e-4);
  EXPECT_EQ(cell["accuracy_gap"]["best_group"], "m");
  EXPECT_EQ(cell["accuracy_gap"]["worst_group"], "f");
  EXPECT_NEAR(cell["accuracy_gap"]["value"].get<double>(), 0.2, 1e-12);
  EXPECT_LT(cell["accuracy_gap"]["lower"].get<double>(), 0);
  EXPECT_GT(cell["accuracy_gap"]["upper"].get<double>(), 0.2);
}

TEST_F(RunMonitorTest, TheClientTableShowsFailuresFirstAndOnlyJoinedClients) {
  CloseRound();
  const Json clients = Api(monitor_, "/api/clients");
  EXPECT_EQ(clients["total"], 3);
  ASSERT_EQ(clients["clients"].size(), 3u);
  EXPECT_EQ(clients["clients"][0]["id"], "b");  // Refused, then dropped.
  EXPECT_EQ(clients["clients"][0]["failures"], 2);
  EXPECT_THAT(clients["clients"][0]["last_failure"].get<std::string>(),
              HasSubstr("not counted at the close"));
  EXPECT_EQ(clients["clients"][1]["id"], "c");
  EXPECT_EQ(clients["clients"][1]["failures"], 1);
  EXPECT_EQ(clients["clients"][2]["id"], "a");
  EXPECT_EQ(clients["clients"][2]["rounds_contributed"], 1);
  EXPECT_EQ(clients["clients"][2]["rounds_selected"], 1);
}

TEST_F(RunMonitorTest, ARefusalsMessageIsCut) {
  monitor_.OnUpload("a", 1, 0, absl::InvalidArgumentError(std::string(5000, 'x')));
  const Json clients = Api(monitor_, "/api/clients");
  for (const Json& row : clients["clients"]) {
    EXPECT_LE(row["last_failure"].get<std::string>().size(), 200u);
  }
}

TEST_F(RunMonitorTest, OtherPathsAreNotTheApis) {
  std::string json;
  EXPECT_FALSE(monitor_.Api("/api/nope", json));
  EXPECT_FALSE(monitor_.Api("/api/run/", json));
}

TEST_F(RunMonitorTest, TheRunEnds) {
  monitor_.OnRunEnded("");
  EXPECT_EQ(Api(monitor_, "/api/run")["state"], "finished");
  monitor_.OnRunEnded("round 2: too few clients");
  const Json run = Api(monitor_, "/api/run");
  EXPECT_EQ(run["state"], "stopped");
  EXPECT_EQ(run["stopped_because"], "round 2: too few clients");
}

TEST_F(RunMonitorTest, MetricsParseAndCount) {
  CloseRound();
  monitor_.OnUpload("c", 1, 100, absl::FailedPreconditionError("the round closed"));
  const std::map<std::string, double> samples =
      test::ParsePrometheusText(EQUIFL_PYTHON, monitor_.Metrics());
  for (const auto& [sample, value] : std::map<std::string, double>{
           {"equifl_rounds_completed_total{}", 1},
           {"equifl_updates_accepted_total{}", 1},
           {"equifl_updates_refused_total{reason=\"invalid_argument\"}", 1},
           {"equifl_updates_refused_total{reason=\"permission_denied\"}", 1},
           {"equifl_updates_refused_total{reason=\"failed_precondition\"}", 1},
           {"equifl_received_bytes_total{}", 1610},
           {"equifl_round_current{}", 1},
           {"equifl_round_clients{state=\"selected\"}", 3},
           {"equifl_round_clients{state=\"uploaded\"}", 1},
           {"equifl_round_clients{state=\"dropped\"}", 2},
           {"equifl_round_clients{state=\"late\"}", 1},
           {"equifl_clients_joined{}", 3},
           {"equifl_minmax_gap{}", 0.2},
           {"equifl_minmax_gap_bound{}", 0.1},
           {"equifl_validation_accuracy{}", 0.8},
           {"equifl_worst_group_accuracy{}", 0.7},
           {"equifl_fairness_lambda{}", 0.5},
           {"equifl_privacy_epsilon_spent{}", 1.25},
           {"equifl_privacy_delta{}", 1e-05},
           {"equifl_round_duration_seconds_count{}", 1},
           {"equifl_rpc_duration_seconds_count{method=\"Join\"}", 1},
       }) {
    EXPECT_THAT(samples, Contains(Pair(sample, DoubleEq(value))));
  }
}

// The metric names `# TYPE` lines declare.
std::set<std::string> DeclaredNames(const std::string& text) {
  std::set<std::string> names;
  const std::regex type_line(R"(# TYPE (\S+) (counter|gauge|histogram))");
  for (std::sregex_iterator it(text.begin(), text.end(), type_line), end; it != end; ++it) {
    names.insert((*it)[1]);
  }
  return names;
}

TEST_F(RunMonitorTest, GrafanasNamesAreTheNamesExported) {
  CloseRound();
  ClientMetrics client;
  client.Trained(1, 100, 0.5);
  client.Evaluated(0.2);
  std::set<std::string> exported = DeclaredNames(monitor_.Metrics());
  const std::set<std::string> client_names = DeclaredNames(client.Serialize());
  exported.insert(client_names.begin(), client_names.end());
  std::set<std::string> listed;
  std::ifstream file(EQUIFL_GRAFANA_METRIC_NAMES);
  ASSERT_TRUE(file) << EQUIFL_GRAFANA_METRIC_NAMES;
  for (std::string line; std::getline(file, line);) {
    line = line.substr(0, line.find('#'));
    line.erase(line.find_last_not_of(" \t") + 1);
    line.erase(0, line.find_first_not_of(" \t"));
    if (!line.empty()) listed.insert(line);
  }
  EXPECT_EQ(exported, listed);
}

TEST(ClientMetricsTest, ParseAndCount) {
  ClientMetrics metrics;
  metrics.Trained(2, 100, 0.5);
  metrics.Trained(4, 100, 1.5);
  metrics.Evaluated(0.25);
  const std::map<std::string, double> samples =
      test::ParsePrometheusText(EQUIFL_PYTHON, metrics.Serialize());
  for (const auto& [sample, value] : std::map<std::string, double>{
           {"equifl_client_rounds_total{kind=\"train\"}", 2},
           {"equifl_client_rounds_total{kind=\"evaluate\"}", 1},
           {"equifl_client_train_seconds_count{}", 2},
           {"equifl_client_train_seconds_sum{}", 6},
           {"equifl_client_samples_per_second{}", 25},
           {"equifl_client_upload_seconds_count{}", 3},
           {"equifl_client_upload_seconds_sum{}", 2.25},
       }) {
    EXPECT_THAT(samples, Contains(Pair(sample, DoubleEq(value))));
  }
}

}  // namespace
}  // namespace equifl::server::monitoring
