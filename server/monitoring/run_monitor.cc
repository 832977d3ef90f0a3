#include "server/monitoring/run_monitor.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "fairness/accuracy_gap_interval.h"
#include "fairness/fairness_report.h"
#include "fairness/feasibility_floor.h"
#include "fairness/model_selection.h"

namespace equifl::server::monitoring {
namespace {

using Json = nlohmann::json;

// Text a client can influence (a refusal's message) is cut to this length.
constexpr size_t kMaxMessage = 200;

int64_t UnixMilliseconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

// A double for JSON: NaN and infinities become null.
Json Number(double value) { return std::isfinite(value) ? Json(value) : Json(nullptr); }

// FedMinMax's μ by pair name ("en/fusion: f").
Json GroupWeightsJson(const std::vector<fairness::GroupWeight>& weights) {
  Json json = Json::object();
  for (const fairness::GroupWeight& weight : weights) {
    json[fairness::GroupWeightName(weight)] = Number(weight.weight);
  }
  return json;
}

// FairFed's ω by client.
Json ClientWeightsJson(const std::vector<fairness::ClientWeight>& weights) {
  Json json = Json::object();
  for (const fairness::ClientWeight& weight : weights) json[weight.client] = Number(weight.weight);
  return json;
}

// ε of a bound on the loss gap, for the MinMaxGAP gauge; 0 for a bound on another metric.
double LossBound(const fairness::StatedBound& bound) {
  return bound.metric == fairness::BoundMetric::kLossGap ? bound.epsilon : 0;
}

// A cell's own verdict on a bound on gaps: its upper bound at most ε, or its lower
// bound (held together with every cell's) above it; undetermined without an
// interval, and for worst-group accuracy (a bound on groups, not cells).
const char* CellStatus(const fairness::CellLossGap& cell, const fairness::StatedBound& bound) {
  std::optional<std::pair<double, double>> interval;  // (lower, upper) in the bound's unit.
  switch (bound.metric) {
    case fairness::BoundMetric::kLossGap:
      if (cell.bounds) interval = {cell.bounds->lower, cell.bounds->upper};
      break;
    case fairness::BoundMetric::kAccuracyGap:
      if (cell.accuracy_gap) {
        interval = {100 * cell.accuracy_gap->lower, 100 * cell.accuracy_gap->upper};
      }
      break;
    case fairness::BoundMetric::kEqualOpportunityGap:
      if (cell.equal_opportunity_gap) {
        interval = {100 * cell.equal_opportunity_gap->rates.lower,
                    100 * cell.equal_opportunity_gap->rates.upper};
      }
      break;
    case fairness::BoundMetric::kWorstGroupAccuracy:
      break;
  }
  fairness::BoundVerdict verdict = fairness::BoundVerdict::kUndetermined;
  if (interval && interval->second <= bound.epsilon) {
    verdict = fairness::BoundVerdict::kHeld;
  } else if (interval && interval->first > bound.epsilon) {
    verdict = fairness::BoundVerdict::kViolated;
  }
  return fairness::VerdictName(verdict);
}

// Every cell of the round's statistics: group losses and accuracies, the loss gap
// against the bound, and the accuracy gap with its interval.
Json FairnessJson(const RoundSummary& summary, const fairness::FairnessReport& report) {
  const fairness::StatedBound& bound = report.bound.bound;
  Json cells = Json::array();
  for (const fairness::CellLossGap& cell : report.cells) {
    Json loss_gap_bounds = nullptr;
    if (cell.bounds) {
      loss_gap_bounds = {{"bias_corrected", Number(cell.bounds->bias_corrected)},
                         {"lower", Number(cell.bounds->lower)},
                         {"upper", Number(cell.bounds->upper)}};
    }
    Json row = {{"language", cell.cell.language},
                {"modality", cell.cell.modality},
                {"client", cell.cell.client},
                {"loss_gap", Number(cell.loss_gap)},
                {"loss_gap_bounds", std::move(loss_gap_bounds)},
                {"bound_status", CellStatus(cell, bound)}};
    Json groups = Json::object();
    for (const auto& [name, loss] : cell.groups) {
      Json group = {{"count", loss.count}, {"mean_loss", Number(loss.mean_loss)}};
      if (loss.accuracy) {
        group["accuracy"] = {{"value", Number(loss.accuracy->estimate)},
                             {"lower", Number(loss.accuracy->lower)},
                             {"upper", Number(loss.accuracy->upper)}};
      }
      groups[name] = std::move(group);
    }
    row["groups"] = std::move(groups);
    row["accuracy_gap"] = nullptr;
    if (const std::optional<fairness::GroupGapInterval>& gap = cell.accuracy_gap) {
      row["accuracy_gap"] = {{"value", Number(gap->gap)},
                             {"lower", Number(gap->lower)},
                             {"upper", Number(gap->upper)},
                             {"best_group", gap->best_group},
                             {"worst_group", gap->worst_group}};
    }
    cells.push_back(std::move(row));
  }
  const fairness::LossGapBounds& gap_bounds = report.loss_gap_bounds;
  return {{"round", summary.round_id},
          {"split", summary.final_evaluation ? "test" : "validation"},
          {"bound",
           {{"metric", NameOf(bound.metric)},
            {"epsilon", Number(bound.epsilon)},
            {"description", bound.Describe()}}},
          {"minmax_gap", Number(report.min_max_gap.value)},
          {"minmax_gap_cell",
           {{"language", report.min_max_gap.cell.language},
            {"modality", report.min_max_gap.cell.modality},
            {"client", report.min_max_gap.cell.client}}},
          {"minmax_gap_bounds",
           {{"bias_corrected", Number(gap_bounds.bias_corrected)},
            {"lower", Number(gap_bounds.lower)},
            {"upper", Number(gap_bounds.upper)}}},
          {"bound_status", fairness::VerdictName(report.bound.verdict)},
          {"bound_verdict", report.bound.text},
          {"feasibility", summary.fairness.feasibility
                              ? fairness::FloorToJson(*summary.fairness.feasibility)
                              : Json(nullptr)},
          {"chosen", fairness::ChosenToJson(summary.chosen_round, summary.chosen_reason)},
          {"confidence", gap_bounds.confidence},
          {"interval_note",
           "Accuracy intervals: Wilson per group and Newcombe for the gap between the most "
           "and least accurate groups, held together over the cells (Bonferroni). Loss gaps: "
           "each cell's upper bound at the stated confidence, lower bounds held together over "
           "every pair of groups of every cell. A bound on a gap is held when every cell's "
           "upper bound is at most epsilon, violated when a lower bound exceeds it; "
           "bound_status per cell is that cell's own verdict."},
          {"cells", std::move(cells)}};
}

}  // namespace

RunMonitor::RunMonitor(RunDescription run) : run_(std::move(run)) {
  metrics_.SetFairness(0, LossBound(run_.gap_bound), 0);
  metrics_.SetPrivacy(0, run_.privacy ? run_.privacy_delta : 0);
}

void RunMonitor::OnRunStarted(const std::string& run_id, uint64_t completed_rounds) {
  absl::MutexLock lock(&mutex_);
  run_id_ = run_id;
  completed_rounds_ = completed_rounds;
}

void RunMonitor::Seen(const std::string& client_id) {
  const auto found = clients_.find(client_id);
  if (found != clients_.end()) found->second.last_seen = Clock::now();
}

void RunMonitor::OnRoundOpened(uint64_t round_id, const std::vector<std::string>& selected,
                               bool final_evaluation) {
  absl::MutexLock lock(&mutex_);
  round_ = OpenRound{};
  round_.round_id = round_id;
  round_.final_evaluation = final_evaluation;
  round_.open = true;
  round_.selected.insert(selected.begin(), selected.end());
  round_.opened = std::chrono::steady_clock::now();
  for (const std::string& client : selected) {
    const auto found = clients_.find(client);
    if (found != clients_.end()) ++found->second.rounds_selected;
  }
}

absl::Status RunMonitor::OnRoundClosed(const RoundSummary& summary, const GlobalModel&,
                                       const aggregation::ServerOptimizer&) {
  absl::StatusOr<fairness::FairnessReport> report = fairness::BuildFairnessReport(
      summary.validation.table(), fairness::kFusionView, {}, run_.gap_bound);
  Json round = {{"round", summary.round_id},
                {"final_evaluation", summary.final_evaluation},
                {"selected", summary.selected.size()},
                {"contributors", summary.contributors.size()},
                {"reached_quorum", summary.reached_quorum},
                {"seconds", Number(summary.seconds)},
                {"train_loss", Number(summary.train.mean_loss())},
                {"validation_loss", Number(summary.validation.mean_loss())},
                {"minmax_gap", Number(summary.fairness.validation_gap)},
                {"lambda", Number(summary.fairness.lambda)},
                {"epsilon_spent", Number(summary.privacy_epsilon)},
                {"accuracy", nullptr},
                {"worst_group", nullptr},
                {"worst_group_accuracy", nullptr}};
  const std::optional<double> accuracy = summary.validation.accuracy();
  if (accuracy) round["accuracy"] = Number(*accuracy);
  std::string fairness_json;
  if (report.ok()) {
    if (accuracy && !report->overall.worst_group.empty()) {
      round["worst_group"] = report->overall.worst_group;
      round["worst_group_accuracy"] = Number(report->overall.worst_group_accuracy);
    }
    fairness_json = FairnessJson(summary, *report).dump();
    if (summary.final_evaluation) round["minmax_gap"] = Number(report->min_max_gap.value);
  }
  const std::set<std::string> contributors(summary.contributors.begin(),
                                           summary.contributors.end());
  absl::MutexLock lock(&mutex_);
  rounds_json_.push_back(round.dump());
  if (!fairness_json.empty()) fairness_json_ = std::move(fairness_json);
  completed_rounds_ = std::max(completed_rounds_, summary.round_id);
  if (!summary.final_evaluation) {
    fairness_ = summary.fairness;
    epsilon_spent_ = summary.privacy_epsilon;
  }
  if (round_.round_id == summary.round_id) {
    round_.open = false;
    round_.seconds = summary.seconds;
    round_.dropped = 0;
    for (const std::string& client : summary.selected) {
      if (contributors.count(client) > 0) continue;
      ++round_.dropped;
      const auto found = clients_.find(client);
      if (found != clients_.end()) {
        ++found->second.failures;
        found->second.last_failure =
            absl::StrCat("round ", summary.round_id, ": selected, not counted at the close");
      }
    }
  }
  for (const std::string& client : summary.contributors) {
    const auto found = clients_.find(client);
    if (found != clients_.end()) ++found->second.rounds_contributed;
  }
  metrics_.RoundClosed(summary.seconds);
  if (!summary.final_evaluation) {
    metrics_.SetFairness(summary.fairness.validation_gap, LossBound(run_.gap_bound),
                         summary.fairness.lambda);
    metrics_.SetPrivacy(epsilon_spent_, run_.privacy ? run_.privacy_delta : 0);
  }
  if (accuracy && report.ok())
    metrics_.SetAccuracy(*accuracy, report->overall.worst_group_accuracy);
  return absl::OkStatus();
}

void RunMonitor::OnClientJoined(const std::string& client_id) {
  absl::MutexLock lock(&mutex_);
  ClientRow& row = clients_[client_id];
  const Clock::time_point now = Clock::now();
  if (row.joined == Clock::time_point()) row.joined = now;
  row.last_seen = now;
}

void RunMonitor::OnTaskTaken(const std::string& client_id, uint64_t round_id) {
  absl::MutexLock lock(&mutex_);
  Seen(client_id);
  if (round_id != round_.round_id || !round_.open) return;
  if (round_.tasked.insert(client_id).second) ++round_.training;
}

void RunMonitor::OnUpload(const std::string& client_id, uint64_t round_id, uint64_t bytes,
                          const absl::Status& outcome) {
  absl::MutexLock lock(&mutex_);
  bytes_received_ += bytes;
  if (outcome.ok()) {
    ++updates_accepted_;
    metrics_.UpdateAccepted(bytes);
  } else {
    ++updates_refused_;
    metrics_.UpdateRefused(outcome.code(), bytes);
  }
  // Only clients that joined are kept; anything else could grow the table.
  const auto client = clients_.find(client_id);
  if (client != clients_.end()) {
    client->second.last_seen = Clock::now();
    if (!outcome.ok()) {
      ++client->second.failures;
      client->second.last_failure = std::string(outcome.message().substr(0, kMaxMessage));
    }
  }
  if (round_id != round_.round_id || client == clients_.end()) return;
  round_.bytes += bytes;
  const bool was_training = round_.tasked.count(client_id) > 0 &&
                            round_.uploaded.count(client_id) == 0 &&
                            round_.refused_clients.count(client_id) == 0;
  if (outcome.ok()) {
    round_.uploaded.insert(client_id);
  } else if (!round_.open) {
    ++round_.late;
  } else {
    ++round_.refused;
    round_.refused_clients.insert(client_id);
  }
  if (was_training && (outcome.ok() || round_.open)) --round_.training;
}

void RunMonitor::OnCall(absl::string_view method, const std::string& client_id, double seconds) {
  metrics_.CallAnswered(method, seconds);
  if (client_id.empty()) return;
  absl::MutexLock lock(&mutex_);
  Seen(client_id);
}

void RunMonitor::OnRunEnded(const std::string& failure) {
  absl::MutexLock lock(&mutex_);
  ended_ = true;
  stopped_because_ = failure;
}

void RunMonitor::UpdateRoundGauges() const {
  metrics_.SetRoundCurrent(round_.round_id != 0 ? round_.round_id : completed_rounds_);
  metrics_.SetRoundClients(ClientState::kSelected, static_cast<double>(round_.selected.size()));
  metrics_.SetRoundClients(ClientState::kTraining,
                           round_.open ? static_cast<double>(round_.training) : 0);
  metrics_.SetRoundClients(ClientState::kUploaded, static_cast<double>(round_.uploaded.size()));
  metrics_.SetRoundClients(ClientState::kLate, static_cast<double>(round_.late));
  metrics_.SetRoundClients(ClientState::kDropped, static_cast<double>(round_.dropped));
}

size_t RunMonitor::ConnectedClients() const {
  const Clock::time_point since = Clock::now() - kConnectedWithin;
  return static_cast<size_t>(std::count_if(clients_.begin(), clients_.end(), [&](const auto& row) {
    return row.second.last_seen >= since;
  }));
}

std::string RunMonitor::RunJson() const {
  const double elapsed =
      round_.round_id == 0
          ? 0
          : (round_.open
                 ? std::chrono::duration<double>(std::chrono::steady_clock::now() - round_.opened)
                       .count()
                 : round_.seconds);
  std::string state;
  if (ended_) {
    state = stopped_because_.empty() ? "finished" : "stopped";
  } else if (round_.round_id == 0 || !round_.open) {
    state = completed_rounds_ == 0 ? "waiting for clients" : "between rounds";
  } else {
    state = round_.final_evaluation ? "final evaluation" : "training";
  }
  Json run = {
      {"run_id", run_id_},
      {"fairness_method", run_.fairness_method},
      {"training_rounds", run_.training_rounds},
      {"final_evaluation", run_.final_evaluation},
      {"completed_rounds", completed_rounds_},
      {"state", state},
      {"stopped_because", stopped_because_.empty() ? Json(nullptr) : Json(stopped_because_)},
      {"secure_aggregation", run_.secure_aggregation},
      {"privacy",
       {{"enabled", run_.privacy},
        {"epsilon_spent", Number(epsilon_spent_)},
        {"delta", Number(run_.privacy ? run_.privacy_delta : 0)},
        {"covers", run_.privacy_covers}}},
      {"bound",
       {{"metric", NameOf(run_.gap_bound.metric)},
        {"epsilon", Number(run_.gap_bound.epsilon)},
        {"description", run_.gap_bound.Describe()}}},
      {"controller",
       {{"lambda", Number(fairness_.lambda)},
        {"validation_gap", Number(fairness_.validation_gap)},
        {"group_weights", GroupWeightsJson(fairness_.group_weights)},
        {"client_weights", ClientWeightsJson(fairness_.client_weights)}}},
      {"clients", {{"joined", clients_.size()}, {"connected", ConnectedClients()}}},
      {"throughput",
       {{"updates_accepted", updates_accepted_},
        {"updates_refused", updates_refused_},
        {"bytes_received", bytes_received_},
        {"round_updates_per_second",
         Number(elapsed > 0 ? static_cast<double>(round_.uploaded.size()) / elapsed : 0)},
        {"round_bytes_per_second",
         Number(elapsed > 0 ? static_cast<double>(round_.bytes) / elapsed : 0)}}},
      {"round",
       {{"id", round_.round_id},
        {"final_evaluation", round_.final_evaluation},
        {"open", round_.open},
        {"seconds", Number(elapsed)},
        {"selected", round_.selected.size()},
        {"training", round_.open ? round_.training : 0},
        {"uploaded", round_.uploaded.size()},
        {"late", round_.late},
        {"refused", round_.refused},
        {"dropped", round_.dropped}}}};
  return run.dump();
}

std::string RunMonitor::ClientsJson() const {
  std::vector<const std::pair<const std::string, ClientRow>*> rows;
  rows.reserve(clients_.size());
  for (const auto& row : clients_) rows.push_back(&row);
  const size_t shown = std::min(rows.size(), kMaxClientRows);
  std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(shown), rows.end(),
                    [](const auto* a, const auto* b) {
                      if (a->second.failures != b->second.failures) {
                        return a->second.failures > b->second.failures;
                      }
                      if (a->second.last_seen != b->second.last_seen) {
                        return a->second.last_seen > b->second.last_seen;
                      }
                      return a->first < b->first;
                    });
  Json list = Json::array();
  for (size_t i = 0; i < shown; ++i) {
    const auto& [id, row] = *rows[i];
    list.push_back({{"id", id},
                    {"joined_unix_ms", UnixMilliseconds(row.joined)},
                    {"last_seen_unix_ms", UnixMilliseconds(row.last_seen)},
                    {"rounds_selected", row.rounds_selected},
                    {"rounds_contributed", row.rounds_contributed},
                    {"failures", row.failures},
                    {"last_failure", row.last_failure}});
  }
  return Json{{"total", clients_.size()},
              {"shown", shown},
              {"now_unix_ms", UnixMilliseconds(Clock::now())},
              {"clients", std::move(list)}}
      .dump();
}

bool RunMonitor::Api(const std::string& path, std::string& json) const {
  absl::MutexLock lock(&mutex_);
  if (path == "/api/run") {
    json = RunJson();
  } else if (path == "/api/rounds") {
    json = "[";
    for (size_t i = 0; i < rounds_json_.size(); ++i) {
      if (i > 0) json += ",";
      json += rounds_json_[i];
    }
    json += "]";
  } else if (path == "/api/fairness") {
    json = fairness_json_;
  } else if (path == "/api/clients") {
    json = ClientsJson();
  } else {
    return false;
  }
  return true;
}

std::string RunMonitor::Metrics() const {
  {
    absl::MutexLock lock(&mutex_);
    metrics_.SetClients(static_cast<double>(clients_.size()),
                        static_cast<double>(ConnectedClients()));
    UpdateRoundGauges();
  }
  return metrics_.Serialize();
}

}  // namespace equifl::server::monitoring
