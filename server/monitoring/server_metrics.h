// The aggregator's Prometheus metrics, as `/metrics` serves them (Prometheus text
// format 0.0.4). The names are a contract with deploy/grafana/: the dashboard there
// uses these names only, and tests/server/monitoring checks both lists agree.
//
// Thread-safe: prometheus-cpp's counters, gauges and histograms are.
#ifndef EQUIFL_SERVER_MONITORING_SERVER_METRICS_H_
#define EQUIFL_SERVER_MONITORING_SERVER_METRICS_H_

#include <array>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace equifl::server::monitoring {

//! Where a selected client of the open (or last) round stands.
enum class ClientState { kSelected, kTraining, kUploaded, kLate, kDropped };

class ServerMetrics {
 public:
  ServerMetrics();
  ~ServerMetrics();
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  //! The open round (the last one while none is open).
  void SetRoundCurrent(uint64_t round_id);
  void RoundClosed(double seconds);
  void SetRoundClients(ClientState state, double clients);
  void UpdateAccepted(uint64_t bytes);
  //! `reason`: why the update was refused (its status code).
  void UpdateRefused(absl::StatusCode reason, uint64_t bytes);
  void SetClients(double joined, double connected);
  //! The last round's MinMaxGAP on validation and the configured bound ε.
  void SetFairness(double minmax_gap, double bound, double lambda);
  void SetAccuracy(double accuracy, double worst_group_accuracy);
  void SetPrivacy(double epsilon_spent, double delta);
  void CallAnswered(absl::string_view method, double seconds);

  //! Every metric in the text format.
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* rounds_completed_;
  prometheus::Histogram* round_duration_;
  prometheus::Gauge* round_current_;
  std::array<prometheus::Gauge*, 5> round_clients_;  //!< By ClientState.
  prometheus::Counter* updates_accepted_;
  prometheus::Family<prometheus::Counter>* updates_refused_;
  prometheus::Counter* received_bytes_;
  prometheus::Gauge* clients_joined_;
  prometheus::Gauge* clients_connected_;
  prometheus::Gauge* minmax_gap_;
  prometheus::Gauge* minmax_gap_bound_;
  prometheus::Gauge* validation_accuracy_;
  prometheus::Gauge* worst_group_accuracy_;
  prometheus::Gauge* fairness_lambda_;
  prometheus::Gauge* privacy_epsilon_spent_;
  prometheus::Gauge* privacy_delta_;
  prometheus::Family<prometheus::Histogram>* rpc_duration_;
  // Each method's histogram, found without building a label set per call.
  absl::Mutex rpc_mutex_;
  std::map<std::string, prometheus::Histogram*, std::less<>> rpc_by_method_
      ABSL_GUARDED_BY(rpc_mutex_);
};

//! The snake-case name of a status code ("invalid_argument"), the `reason` label.
std::string ReasonLabel(absl::StatusCode code);

}  // namespace equifl::server::monitoring

#endif  // EQUIFL_SERVER_MONITORING_SERVER_METRICS_H_
