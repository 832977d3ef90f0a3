// What the aggregator's gRPC tests share: an eight-value model, an observer that
// keeps every closed round, and an Aggregator served on 127.0.0.1 (an ephemeral
// port) whose Run() runs in the background until the test stops it.
#ifndef EQUIFL_TESTS_SERVER_SERVED_AGGREGATOR_H_
#define EQUIFL_TESTS_SERVER_SERVED_AGGREGATOR_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/aggregator.h"
#include "tests/testing/status_matchers.h"

namespace equifl::server::test_support {

using ::equifl::test::IsOk;

//! "weight" [2, 3] = 1 ... 6 and "bias" [2] = -1, 0.5.
inline GlobalModel InitialModel() {
  static const std::vector<float> weight = {1, 2, 3, 4, 5, 6};
  static const std::vector<float> bias = {-1, 0.5f};
  absl::StatusOr<GlobalModel> model = GlobalModel::FromTensors(
      {{"weight", v1::DATA_TYPE_FLOAT32, {2, 3}, std::as_bytes(std::span(weight))},
       {"bias", v1::DATA_TYPE_FLOAT32, {2}, std::as_bytes(std::span(bias))}});
  EXPECT_THAT(model, IsOk());
  return *std::move(model);
}

//! A run of `rounds` training rounds that waits for `min_clients`, closes a round
//! after 20 s, has no final evaluation and answers long polls within `poll_timeout`.
inline AggregatorOptions TestOptions(const std::string& run_id, uint32_t rounds,
                                     uint32_t min_clients, std::chrono::milliseconds poll_timeout) {
  AggregatorOptions options;
  options.run_id = run_id;
  options.rounds.rounds = rounds;
  options.rounds.min_clients = min_clients;
  options.rounds.round_deadline = std::chrono::seconds(20);
  options.rounds.final_evaluation = false;
  options.poll_timeout = poll_timeout;
  return options;
}

//! Joins as `name` (announcing `train_samples`) and polls until a task arrives;
//! nullopt when the run ends first or 100 polls bring none.
inline std::optional<v1::Task> JoinAndPoll(v1::Aggregator::Stub& stub, const std::string& name,
                                           uint64_t train_samples = 0) {
  v1::JoinRequest join;
  join.set_requested_client_id(name);
  join.mutable_capabilities()->set_num_train_samples(train_samples);
  v1::JoinResponse joined;
  grpc::ClientContext join_context;
  EXPECT_THAT(stub.Join(&join_context, join, &joined), IsOk());
  EXPECT_EQ(joined.client_id(), name);
  for (int attempt = 0; attempt < 100; ++attempt) {
    grpc::ClientContext context;
    v1::PollTaskRequest poll;
    poll.set_run_id(joined.run_id());
    poll.set_client_id(name);
    v1::PollTaskResponse response;
    EXPECT_THAT(stub.PollTask(&context, poll, &response), IsOk());
    if (response.has_task()) return response.task();
    if (response.run_finished()) return std::nullopt;
  }
  return std::nullopt;
}

//! Every value's change from each model to the next, starting from `initial`.
inline std::vector<double> ModelChanges(const GlobalModel& initial,
                                        const std::vector<std::vector<float>>& models) {
  std::vector<double> changes;
  std::vector<float> previous(initial.values().begin(), initial.values().end());
  for (const std::vector<float>& model : models) {
    for (size_t i = 0; i < model.size(); ++i) {
      changes.push_back(static_cast<double>(model[i]) - previous[i]);
    }
    previous = model;
  }
  return changes;
}

//! ε at `delta` of `rounds` rounds of the Gaussian mechanism with noise multiplier
//! `sigma`, every client selected (q = 1), as the server accounts it: against
//! replacing a client, so at σ / 2 (the sum's sensitivity is 2C), the RDP of T
//! rounds is T·α / (2(σ/2)²), and Balle et al.'s conversion gives ε = min over the
//! accountant's orders of RDP + log((α − 1)/α) − (log δ + log α) / (α − 1).
inline double GaussianMechanismEpsilon(int rounds, double sigma, double delta) {
  double epsilon = INFINITY;
  for (double order : aggregation::PrivacyAccountant::DefaultOrders()) {
    const double rdp = rounds * order / (2 * (sigma / 2) * (sigma / 2));
    epsilon = std::min(epsilon, rdp + std::log((order - 1) / order) -
                                    (std::log(delta) + std::log(order)) / (order - 1));
  }
  return epsilon;
}

//! Keeps every round's summary and model.
class RecordingObserver : public RoundObserver {
 public:
  absl::Status OnRoundClosed(const RoundSummary& summary, const GlobalModel& model,
                             const aggregation::ServerOptimizer&) override {
    std::lock_guard lock(mutex);
    summaries.push_back(summary);
    models.emplace_back(model.values().begin(), model.values().end());
    kept.insert_or_assign(summary.round_id, model);
    return absl::OkStatus();
  }
  absl::StatusOr<GlobalModel> ModelAfterRound(uint64_t round) const override {
    const auto found = kept.find(round);
    if (found == kept.end()) return absl::NotFoundError("no such round");
    return found->second;
  }
  std::mutex mutex;
  std::vector<RoundSummary> summaries;
  std::vector<std::vector<float>> models;
  std::map<uint64_t, GlobalModel> kept;  //!< By round, for ModelAfterRound.
};

//! An Aggregator listening on 127.0.0.1 with `credentials`, running its rounds.
struct ServedAggregator {
  //! Creates the aggregator for `options` and `model` and starts it; failures are
  //! test failures (callers check HasFatalFailure or the pointers).
  void Start(const AggregatorOptions& options, GlobalModel model, RoundObserver* observer,
             const std::shared_ptr<grpc::ServerCredentials>& credentials =
                 grpc::InsecureServerCredentials()) {
    auto optimizer = aggregation::ServerOptimizer::Create(options.optimizer, model.size());
    ASSERT_THAT(optimizer, IsOk());
    auto created =
        Aggregator::Create(options, std::move(model), *std::move(optimizer), 0, observer);
    ASSERT_THAT(created, IsOk());
    aggregator = *std::move(created);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", credentials, &port);
    builder.RegisterService(aggregator.get());
    server = builder.BuildAndStart();
    ASSERT_NE(server, nullptr);
    run = std::async(std::launch::async, [this] { return aggregator->Run(); });
  }

  //! A plaintext channel to it.
  std::shared_ptr<grpc::Channel> Channel() const {
    return grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                               grpc::InsecureChannelCredentials());
  }

  //! Stops the run and the server. Unless the test took the run's result itself,
  //! the run must have ended OK when `expect_ok`.
  void Stop(bool expect_ok = true) {
    if (aggregator) aggregator->Stop();
    if (run.valid()) {
      const absl::Status ran = run.get();
      if (expect_ok) {
        EXPECT_THAT(ran, IsOk());
      }
    }
    if (server) server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  std::unique_ptr<Aggregator> aggregator;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::future<absl::Status> run;
};

}  // namespace equifl::server::test_support

#endif  // EQUIFL_TESTS_SERVER_SERVED_AGGREGATOR_H_
