// What the live dashboard, its JSON API and the aggregator's Prometheus metrics
// know about a run: the open round's progress (clients selected, training,
// uploaded, late, dropped), every closed round's accuracy, worst-group accuracy
// and MinMaxGAP, the last round's gap per cell with the bound's status, the
// fairness controller's state, (ε, δ) spent, throughput, and a table of clients
// (when last heard from, rounds taken part in, failures; never per-client
// statistics, which secure aggregation keeps from the server by design).
//
// It hears of rounds as a RoundObserver and of calls as a ServiceObserver, keeps
// what it shows in memory (a round's JSON is built once, when it closes) and
// answers the API from a snapshot under its own leaf lock.
#ifndef EQUIFL_SERVER_MONITORING_RUN_MONITOR_H_
#define EQUIFL_SERVER_MONITORING_RUN_MONITOR_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "fairness/stated_bound.h"
#include "server/monitoring/server_metrics.h"
#include "server/round_loop.h"
#include "server/service_observer.h"

namespace equifl::server::monitoring {

//! What the run is, as configured.
struct RunDescription {
  std::string fairness_method;  //!< Its configuration name, e.g. "minmax_gap".
  uint32_t training_rounds = 0;
  bool final_evaluation = true;
  fairness::StatedBound gap_bound;  //!< The bound every round's report judges.
  bool secure_aggregation = false;
  bool privacy = false;        //!< Client-level DP on.
  double privacy_delta = 0;    //!< The δ that ε is stated at.
  std::string privacy_covers;  //!< What ε covers (aggregation::PrivacyCoverage).
};

class RunMonitor final : public RoundObserver, public ServiceObserver {
 public:
  explicit RunMonitor(RunDescription run);

  // RoundObserver.
  void OnRoundOpened(uint64_t round_id, const std::vector<std::string>& selected,
                     bool final_evaluation) override;
  absl::Status OnRoundClosed(const RoundSummary& summary, const GlobalModel& model,
                             const aggregation::ServerOptimizer& optimizer) override;

  // ServiceObserver.
  void OnClientJoined(const std::string& client_id) override;
  void OnTaskTaken(const std::string& client_id, uint64_t round_id) override;
  void OnUpload(const std::string& client_id, uint64_t round_id, uint64_t bytes,
                const absl::Status& outcome) override;
  void OnCall(absl::string_view method, const std::string& client_id, double seconds) override;

  //! The run folder holds run `run_id` after `completed_rounds` rounds (a new run:
  //! 0; --resume: its checkpoint's).
  void OnRunStarted(const std::string& run_id, uint64_t completed_rounds);
  //! The run ended: `failure` empty when it finished, else why it stopped.
  void OnRunEnded(const std::string& failure);

  //! The JSON of an API path ("/api/run", "/api/rounds", "/api/fairness",
  //! "/api/clients"); false for any other path.
  bool Api(const std::string& path, std::string& json) const;
  //! The aggregator's metrics in Prometheus' text format.
  std::string Metrics() const;

  //! At most this many rows in /api/clients (most failures, then most recently heard).
  static constexpr size_t kMaxClientRows = 500;
  //! A client heard from within this long counts as connected.
  static constexpr std::chrono::seconds kConnectedWithin{60};

 private:
  using Clock = std::chrono::system_clock;

  struct ClientRow {
    Clock::time_point joined;
    Clock::time_point last_seen;
    uint64_t rounds_selected = 0;
    uint64_t rounds_contributed = 0;
    uint64_t failures = 0;  //!< Refused uploads and rounds dropped from.
    std::string last_failure;
  };
  struct OpenRound {
    uint64_t round_id = 0;
    bool final_evaluation = false;
    bool open = false;
    std::set<std::string> selected;
    std::set<std::string> tasked;
    std::set<std::string> uploaded;
    std::set<std::string> refused_clients;  //!< Refused in this round while it was open.
    uint64_t training = 0;                  //!< Took the task; neither counted nor refused yet.
    uint64_t late = 0;                      //!< Uploads that came after the round closed.
    uint64_t refused = 0;                   //!< Uploads refused for another reason.
    uint64_t dropped = 0;                   //!< Selected, not counted at the close.
    uint64_t bytes = 0;
    std::chrono::steady_clock::time_point opened;
    double seconds = 0;  //!< Once closed.
  };

  std::string RunJson() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  std::string ClientsJson() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  //! Sets the round's gauges from round_ (at each scrape, not on each event).
  void UpdateRoundGauges() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  size_t ConnectedClients() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Seen(const std::string& client_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const RunDescription run_;
  mutable ServerMetrics metrics_;
  mutable absl::Mutex mutex_;
  OpenRound round_ ABSL_GUARDED_BY(mutex_);
  std::string run_id_ ABSL_GUARDED_BY(mutex_);
  uint64_t completed_rounds_ ABSL_GUARDED_BY(mutex_) = 0;
  bool ended_ ABSL_GUARDED_BY(mutex_) = false;
  std::string stopped_because_ ABSL_GUARDED_BY(mutex_);  //!< Empty when the run finished.
  std::map<std::string, ClientRow> clients_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::string> rounds_json_ ABSL_GUARDED_BY(mutex_);  //!< One object per round.
  std::string fairness_json_ ABSL_GUARDED_BY(mutex_) = "null";
  // The controller and privacy after the last round.
  FairnessState fairness_ ABSL_GUARDED_BY(mutex_);
  double epsilon_spent_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t updates_accepted_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t updates_refused_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t bytes_received_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace equifl::server::monitoring

#endif  // EQUIFL_SERVER_MONITORING_RUN_MONITOR_H_
