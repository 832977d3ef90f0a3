// What the live dashboard and /metrics cost the aggregator, measured directly: the
// monitor's work for one round of N clients (each takes its task, downloads,
// uploads; two calls each) and one poll of the page and a scraper (the four API
// answers and /metrics). bench/dashboard_overhead.sh divides these by the round time
// it measures in the same run.
//
//   equifl_monitoring_bench [CLIENTS] [ROUNDS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/monitoring/run_monitor.h"

namespace {

using Clock = std::chrono::steady_clock;
using equifl::server::GlobalModel;
using equifl::server::RoundSummary;
using equifl::server::monitoring::RunDescription;
using equifl::server::monitoring::RunMonitor;

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// A round's statistics: 2 languages x 3 views x 2 groups, 5 classes.
equifl::fairness::StatisticsTable Table() {
  equifl::fairness::StatisticsTable table;
  for (const char* language : {"en", "de"}) {
    for (const char* view : {"fusion", "video", "audio"}) {
      for (const char* group : {"female", "male"}) {
        equifl::fairness::GroupStatistics& statistics = table[{language, view, ""}][group];
        statistics.count = 500;
        statistics.loss_sum = 400;
        statistics.num_classes = 5;
        statistics.confusion.assign(25, 20);
      }
    }
  }
  return table;
}

}  // namespace

int main(int argc, char** argv) {
  const int clients = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 30;
  RunDescription description;
  description.fairness_method = "minmax_gap";
  description.training_rounds = static_cast<uint32_t>(rounds);
  description.gap_bound.epsilon = 0.05;
  RunMonitor monitor(description);
  monitor.OnRunStarted("bench", 0);
  std::vector<std::string> ids;
  for (int i = 0; i < clients; ++i) ids.push_back(absl::StrCat("client-", 10000 + i));
  for (const std::string& id : ids) monitor.OnClientJoined(id);
  const float value = 0;
  absl::StatusOr<GlobalModel> model = GlobalModel::FromTensors(
      {{"w", equifl::v1::DATA_TYPE_FLOAT32, {1}, std::as_bytes(std::span(&value, 1))}});
  absl::StatusOr<equifl::aggregation::ServerOptimizer> optimizer =
      equifl::aggregation::ServerOptimizer::Create({}, 1);
  if (!model.ok() || !optimizer.ok()) return 1;
  const equifl::fairness::StatisticsTable table = Table();

  std::vector<double> round_seconds;
  for (int round = 1; round <= rounds; ++round) {
    RoundSummary summary;
    summary.round_id = static_cast<uint64_t>(round);
    summary.selected = ids;
    summary.contributors = ids;
    (void)summary.validation.Add(table);
    (void)summary.train.Add(table);
    const Clock::time_point start = Clock::now();
    monitor.OnRoundOpened(summary.round_id, ids, false);
    for (const std::string& id : ids) {
      monitor.OnCall("PollTasks", "", 0.001);
      monitor.OnTaskTaken(id, summary.round_id);
      monitor.OnCall("DownloadModel", id, 0.002);
      monitor.OnUpload(id, summary.round_id, 400000, absl::OkStatus());
      monitor.OnCall("UploadUpdate", id, 0.003);
    }
    (void)monitor.OnRoundClosed(summary, *model, *optimizer);
    round_seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::vector<double> poll_seconds;
  size_t bytes = 0;
  for (int poll = 0; poll < 100; ++poll) {
    const Clock::time_point start = Clock::now();
    for (const char* path : {"/api/run", "/api/rounds", "/api/fairness", "/api/clients"}) {
      std::string json;
      monitor.Api(path, json);
      bytes += json.size();
    }
    bytes += monitor.Metrics().size();
    poll_seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::printf("round_events_seconds %.6f\npoll_seconds %.6f\nclients %d\nrounds %d\n",
              Median(round_seconds), Median(poll_seconds), clients, rounds);
  return bytes > 0 ? 0 : 1;
}
