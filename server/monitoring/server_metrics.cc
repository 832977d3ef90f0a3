#include "server/monitoring/server_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <string>

#include "absl/strings/ascii.h"

namespace equifl::server::monitoring {
namespace {

// Seconds, from a fast call to a long round.
const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  static const auto* const buckets = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
  return *buckets;
}

const char* StateLabel(ClientState state) {
  switch (state) {
    case ClientState::kSelected:
      return "selected";
    case ClientState::kTraining:
      return "training";
    case ClientState::kUploaded:
      return "uploaded";
    case ClientState::kLate:
      return "late";
    case ClientState::kDropped:
      return "dropped";
  }
  return "selected";
}

}  // namespace

std::string ReasonLabel(absl::StatusCode code) {
  // "INVALID_ARGUMENT" -> "invalid_argument".
  return absl::AsciiStrToLower(absl::StatusCodeToString(code));
}

ServerMetrics::ServerMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::Registry& registry = *registry_;
  rounds_completed_ = &prometheus::BuildCounter()
                           .Name("equifl_rounds_completed_total")
                           .Help("Rounds closed and applied since the server started")
                           .Register(registry)
                           .Add({});
  round_duration_ = &prometheus::BuildHistogram()
                         .Name("equifl_round_duration_seconds")
                         .Help("Seconds from a round's opening to its new model")
                         .Register(registry)
                         .Add({}, DurationBuckets());
  round_current_ = &prometheus::BuildGauge()
                        .Name("equifl_round_current")
                        .Help("The open round (the last one while none is open)")
                        .Register(registry)
                        .Add({});
  auto& round_clients =
      prometheus::BuildGauge()
          .Name("equifl_round_clients")
          .Help(
              "Clients of the open (or last) round by state: selected, training "
              "(took the task), uploaded (counted), late (upload after the close), "
              "dropped (selected, not counted at the close)")
          .Register(registry);
  for (ClientState state : {ClientState::kSelected, ClientState::kTraining, ClientState::kUploaded,
                            ClientState::kLate, ClientState::kDropped}) {
    round_clients_[static_cast<size_t>(state)] = &round_clients.Add({{"state", StateLabel(state)}});
  }
  updates_accepted_ = &prometheus::BuildCounter()
                           .Name("equifl_updates_accepted_total")
                           .Help("Uploads a round counted")
                           .Register(registry)
                           .Add({});
  updates_refused_ = &prometheus::BuildCounter()
                          .Name("equifl_updates_refused_total")
                          .Help("Uploads refused, by reason (the status code sent to the client)")
                          .Register(registry);
  received_bytes_ = &prometheus::BuildCounter()
                         .Name("equifl_received_bytes_total")
                         .Help("Bytes of upload messages received")
                         .Register(registry)
                         .Add({});
  clients_joined_ = &prometheus::BuildGauge()
                         .Name("equifl_clients_joined")
                         .Help("Clients that joined the run")
                         .Register(registry)
                         .Add({});
  clients_connected_ = &prometheus::BuildGauge()
                            .Name("equifl_clients_connected")
                            .Help("Joined clients heard from in the last 60 seconds")
                            .Register(registry)
                            .Add({});
  minmax_gap_ = &prometheus::BuildGauge()
                     .Name("equifl_minmax_gap")
                     .Help("MinMaxGAP (nats) of the last round's validation statistics")
                     .Register(registry)
                     .Add({});
  minmax_gap_bound_ = &prometheus::BuildGauge()
                           .Name("equifl_minmax_gap_bound")
                           .Help(
                               "The stated bound epsilon on the MinMaxGAP (nats); 0 when "
                               "fairness.bound is on another metric")
                           .Register(registry)
                           .Add({});
  validation_accuracy_ = &prometheus::BuildGauge()
                              .Name("equifl_validation_accuracy")
                              .Help(
                                  "Accuracy of the last round's validation statistics (fusion "
                                  "view; the test split after the final evaluation)")
                              .Register(registry)
                              .Add({});
  worst_group_accuracy_ = &prometheus::BuildGauge()
                               .Name("equifl_worst_group_accuracy")
                               .Help("Accuracy of the worst group in the same statistics")
                               .Register(registry)
                               .Add({});
  fairness_lambda_ = &prometheus::BuildGauge()
                          .Name("equifl_fairness_lambda")
                          .Help("The fairness controller's multiplier for the next round")
                          .Register(registry)
                          .Add({});
  privacy_epsilon_spent_ = &prometheus::BuildGauge()
                                .Name("equifl_privacy_epsilon_spent")
                                .Help("Client-level DP: epsilon spent so far (0: DP off)")
                                .Register(registry)
                                .Add({});
  privacy_delta_ = &prometheus::BuildGauge()
                        .Name("equifl_privacy_delta")
                        .Help("Client-level DP: the delta epsilon is stated at (0: DP off)")
                        .Register(registry)
                        .Add({});
  rpc_duration_ = &prometheus::BuildHistogram()
                       .Name("equifl_rpc_duration_seconds")
                       .Help(
                           "Seconds the aggregator took to answer a call, by method (long "
                           "polls wait up to the poll timeout)")
                       .Register(registry);
}

ServerMetrics::~ServerMetrics() = default;

void ServerMetrics::SetRoundCurrent(uint64_t round_id) {
  round_current_->Set(static_cast<double>(round_id));
}

void ServerMetrics::RoundClosed(double seconds) {
  rounds_completed_->Increment();
  round_duration_->Observe(seconds);
}

void ServerMetrics::SetRoundClients(ClientState state, double clients) {
  round_clients_[static_cast<size_t>(state)]->Set(clients);
}

void ServerMetrics::UpdateAccepted(uint64_t bytes) {
  updates_accepted_->Increment();
  received_bytes_->Increment(static_cast<double>(bytes));
}

void ServerMetrics::UpdateRefused(absl::StatusCode reason, uint64_t bytes) {
  updates_refused_->Add({{"reason", ReasonLabel(reason)}}).Increment();
  received_bytes_->Increment(static_cast<double>(bytes));
}

void ServerMetrics::SetClients(double joined, double connected) {
  clients_joined_->Set(joined);
  clients_connected_->Set(connected);
}

void ServerMetrics::SetFairness(double minmax_gap, double bound, double lambda) {
  minmax_gap_->Set(minmax_gap);
  minmax_gap_bound_->Set(bound);
  fairness_lambda_->Set(lambda);
}

void ServerMetrics::SetAccuracy(double accuracy, double worst_group_accuracy) {
  validation_accuracy_->Set(accuracy);
  worst_group_accuracy_->Set(worst_group_accuracy);
}

void ServerMetrics::SetPrivacy(double epsilon_spent, double delta) {
  privacy_epsilon_spent_->Set(epsilon_spent);
  privacy_delta_->Set(delta);
}

void ServerMetrics::CallAnswered(absl::string_view method, double seconds) {
  prometheus::Histogram* histogram;
  {
    absl::MutexLock lock(&rpc_mutex_);
    const auto found = rpc_by_method_.find(method);
    if (found != rpc_by_method_.end()) {
      histogram = found->second;
    } else {
      histogram = &rpc_duration_->Add({{"method", std::string(method)}}, DurationBuckets());
      rpc_by_method_.emplace(std::string(method), histogram);
    }
  }
  histogram->Observe(seconds);
}

std::string ServerMetrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace equifl::server::monitoring
