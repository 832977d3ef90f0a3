#include "client/federated_client.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "client/model_state.h"

namespace equifl::client {
namespace {

class Session {
 public:
  Session(const std::shared_ptr<grpc::Channel>& channel, const FederatedClientOptions& options)
      : stub_(v1::Aggregator::NewStub(channel)), options_(options) {}

  absl::Status Join() {
    const auto give_up = std::chrono::steady_clock::now() + options_.connect_timeout;
    bool announced_wait = false;
    while (true) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      context.set_wait_for_ready(true);
      v1::JoinRequest request;
      request.set_requested_client_id(options_.requested_client_id);
      request.set_client_version(EQUIFL_CLIENT_VERSION);
      v1::JoinResponse response;
      const grpc::Status status = stub_->Join(&context, request, &response);
      if (status.ok()) {
        run_id_ = response.run_id();
        client_id_ = response.client_id();
        poll_timeout_ = std::chrono::milliseconds(response.poll_timeout_ms());
        return absl::OkStatus();
      }
      if (!IsLostServer(status) && status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
        return FromGrpc(status, "joining the run");
      }
      if (!announced_wait) {
        spdlog::info("waiting for the aggregator (up to {} s): {}",
                     options_.connect_timeout.count(), status.error_message());
        announced_wait = true;
      }
      if (std::chrono::steady_clock::now() > give_up) {
        return absl::UnavailableError(absl::StrCat("no aggregator answered within ",
                                                   options_.connect_timeout.count(),
                                                   " s: ", status.error_message()));
      }
    }
  }

  // The next task; nullopt once the run is finished.
  absl::StatusOr<std::optional<v1::Task>> Poll() {
    while (true) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + poll_timeout_ +
                           std::chrono::seconds(30));
      v1::PollTaskRequest request;
      request.set_run_id(run_id_);
      request.set_client_id(client_id_);
      request.set_last_round_id(last_round_);
      v1::PollTaskResponse response;
      const grpc::Status status = stub_->PollTask(&context, request, &response);
      if (IsLostServer(status)) {
        // The server restarted or forgot us: join again, then keep polling.
        spdlog::warn("lost the aggregator ({}); joining again", status.error_message());
        EQUIFL_RETURN_IF_ERROR(Join());
        continue;
      }
      EQUIFL_RETURN_IF_ERROR(FromGrpc(status, "polling"));
      if (response.has_task()) {
        last_round_ = response.task().round().round_id();
        return response.task();
      }
      if (response.run_finished()) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(response.retry_after_ms()));
    }
  }

  ClientIdentity identity() const { return {run_id_, client_id_}; }
  v1::Aggregator::Stub& stub() { return *stub_; }

 private:
  std::unique_ptr<v1::Aggregator::Stub> stub_;
  const FederatedClientOptions& options_;
  std::string run_id_;
  std::string client_id_;
  std::chrono::milliseconds poll_timeout_{10000};
  uint64_t last_round_ = 0;
};

}  // namespace

absl::StatusOr<ClientRunSummary> RunFederatedClient(const std::shared_ptr<grpc::Channel>& channel,
                                                    MultimodalModel& model, const Dataset& train,
                                                    const Dataset& validation, const Dataset& test,
                                                    const FederatedClientOptions& options) {
  Session session(channel, options);
  EQUIFL_RETURN_IF_ERROR(session.Join());
  ClientRunSummary summary;
  summary.client_id = session.identity().client_id;
  spdlog::info("joined as '{}'", summary.client_id);
  EQUIFL_ASSIGN_OR_RETURN(std::vector<protocol::NamedTensor> global,
                          protocol::ToContiguousCpu(ExportState(*model)));
  const ClientDatasets data{train, validation, test};
  while (true) {
    EQUIFL_ASSIGN_OR_RETURN(std::optional<v1::Task> task, session.Poll());
    if (!task) break;
    const uint64_t round = task->round().round_id();
    EQUIFL_ASSIGN_OR_RETURN(TaskOutcome outcome, RunTask(session.stub(), session.identity(), *task,
                                                         model, data, options, global));
    if (!outcome.counted) {
      spdlog::warn("round {}: not counted: {}; waiting for the next task", round,
                   outcome.not_counted);
      continue;
    }
    if (outcome.evaluated) {
      summary.evaluated = true;
      summary.test_accuracy = outcome.accuracy;
      summary.test_loss = outcome.loss;
      spdlog::info("round {}: final model on {} test samples: accuracy {:.4f}, loss {:.4f}", round,
                   test.size(), outcome.accuracy, outcome.loss);
      continue;
    }
    ++summary.rounds_trained;
    summary.last_train_loss = outcome.loss;
    spdlog::info(
        "round {}: validation accuracy {:.4f} before training; trained {} steps, "
        "loss {:.4f}; update sent",
        round, outcome.accuracy, outcome.steps, outcome.loss);
  }
  return summary;
}

}  // namespace equifl::client
