// The aggregator side of a run, shared by `equifl server` and `equifl sim`:
// opening the run folder, starting a new run or resuming one, serving the
// aggregator over gRPC, stopping on Ctrl-C, and the tables and report at the end.
// Both commands go through these functions, so a simulated run writes the same
// checkpoints, history and reports as a real one.
#ifndef EQUIFL_APP_AGGREGATOR_RUN_H_
#define EQUIFL_APP_AGGREGATOR_RUN_H_

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/support/channel_arguments.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "app/config.h"
#include "client/data/shard.h"
#include "server/aggregator.h"
#include "server/run_folder.h"

namespace equifl::app {

//! Tells several observers about each closed round, in order; the first failure
//! stops the run.
class RoundObservers final : public server::RoundObserver {
 public:
  explicit RoundObservers(std::vector<server::RoundObserver*> observers)
      : observers_(std::move(observers)) {}
  void OnRoundOpened(uint64_t round_id, const std::vector<std::string>& selected,
                     bool final_evaluation) override;
  absl::Status OnRoundClosed(const server::RoundSummary& summary, const server::GlobalModel& model,
                             const aggregation::ServerOptimizer& optimizer) override;
  //! The first observer's answer that is not Unimplemented.
  absl::StatusOr<server::GlobalModel> ModelAfterRound(uint64_t round) const override;

 private:
  std::vector<server::RoundObserver*> observers_;
};

//! An aggregator ready to Run, with the run folder it checkpoints into.
struct AggregatorRun {
  std::unique_ptr<server::RunFolder> folder;
  std::unique_ptr<RoundObservers> observers;
  std::unique_ptr<server::Aggregator> aggregator;
  uint64_t completed_rounds = 0;  //!< Rounds done before this start (--resume).
};

//! Opens config.server.run_dir and starts a new run with a model sized for
//! `schema`, or resumes the folder's run from its last checkpoint (`resume`;
//! `schema` may be null then). `also_tell` (may be null) hears of each round after
//! the run folder has recorded it, `watcher` (may be null) of every call the
//! service answers. With `fall_back_to_last_good`, a resumed run whose latest
//! checkpoint does not verify continues from the newest one that does
//! (RunFolder::LoadLatest). Errors are the user's (exit code 2).
absl::StatusOr<AggregatorRun> OpenAggregatorRun(const Config& config, bool resume,
                                                const client::ShardManifest* schema,
                                                server::RoundObserver* also_tell,
                                                server::ServiceObserver* watcher = nullptr,
                                                bool fall_back_to_last_good = false);

//! Channel arguments that let a model chunk through (clients and virtual clients).
grpc::ChannelArguments ModelChannelArguments();

//! A gRPC server for `aggregator` on `address` ("host:port", port 0 picks one,
//! empty: no port, for in-process channels only) with `credentials` (mutual TLS
//! or plaintext, app/transport_credentials.h; unused without an address);
//! `port` receives the port.
absl::StatusOr<std::unique_ptr<grpc::Server>> ServeAggregator(
    server::Aggregator& aggregator, const std::string& address,
    const std::shared_ptr<grpc::ServerCredentials>& credentials, int& port);

//! While it lives, SIGINT and SIGTERM stop `aggregator` after the open round.
class StopOnSignal {
 public:
  explicit StopOnSignal(server::Aggregator& aggregator);
  ~StopOnSignal();

 private:
  std::atomic<bool> finished_{false};
  std::thread watcher_;
};

//! After Run: prints the table of rounds and the final fairness table, writes the
//! HTML report when `report_path` is set, and returns the exit code for `ran`.
int FinishAggregatorRun(const Config& config, const AggregatorRun& run,
                        const std::string& report_path, const absl::Status& ran);

}  // namespace equifl::app

#endif  // EQUIFL_APP_AGGREGATOR_RUN_H_
