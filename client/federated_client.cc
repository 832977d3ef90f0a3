#include "client/federated_client.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/version.h"
#include "client/model/model_state.h"
#include "client/secure_round_client.h"

namespace equifl::client {
namespace {

class Session {
 public:
  Session(const std::shared_ptr<grpc::Channel>& channel, const FederatedClientOptions& options,
          int64_t train_samples)
      : stub_(v1::Aggregator::NewStub(channel)), options_(options), train_samples_(train_samples) {}

  absl::Status Join() {
    EQUIFL_ASSIGN_OR_RETURN(v1::JoinResponse response,
                            JoinRun(*stub_, options_.requested_client_id, train_samples_,
                                    options_.data_schema, options_.connect_timeout));
    run_id_ = response.run_id();
    client_id_ = response.client_id();
    poll_timeout_ = std::chrono::milliseconds(response.poll_timeout_ms());
    return absl::OkStatus();
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
  const int64_t train_samples_;
  std::string run_id_;
  std::string client_id_;
  std::chrono::milliseconds poll_timeout_{10000};
  uint64_t last_round_ = 0;
};

// Advertises, shares and receives the round's keys.
absl::StatusOr<SecureRoundClient> SetUpSecureRound(v1::Aggregator::StubInterface& stub,
                                                   const ClientIdentity& identity,
                                                   const v1::Task& task, uint64_t model_size) {
  const uint64_t round = task.round().round_id();
  spdlog::debug("round {}: secure aggregation: advertising keys", round);
  EQUIFL_ASSIGN_OR_RETURN(SecureRoundClient secure,
                          SecureRoundClient::Advertise(stub, identity, task, model_size));
  spdlog::debug("round {}: secure aggregation: sharing keys", round);
  EQUIFL_RETURN_IF_ERROR(secure.ShareKeys(stub));
  EQUIFL_RETURN_IF_ERROR(secure.ReceiveShares(stub));
  return secure;
}

}  // namespace

absl::StatusOr<v1::JoinResponse> JoinRun(v1::Aggregator::StubInterface& stub,
                                         const std::string& requested_client_id,
                                         int64_t train_samples, const v1::DataSchema& data_schema,
                                         std::chrono::seconds connect_timeout) {
  v1::JoinRequest request;
  request.set_requested_client_id(requested_client_id);
  request.set_client_version(kVersion);
  request.mutable_capabilities()->set_num_train_samples(static_cast<uint64_t>(train_samples));
  if (data_schema.modalities_size() > 0) {
    *request.mutable_capabilities()->mutable_data_schema() = data_schema;
  }
  const auto give_up = std::chrono::steady_clock::now() + connect_timeout;
  bool announced_wait = false;
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    context.set_wait_for_ready(true);
    v1::JoinResponse response;
    const grpc::Status status = stub.Join(&context, request, &response);
    if (status.ok()) return response;
    if (!IsLostServer(status) && status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      return FromGrpc(status, requested_client_id.empty()
                                  ? std::string("joining the run")
                                  : absl::StrCat("joining as '", requested_client_id, "'"));
    }
    if (!announced_wait) {
      spdlog::info("waiting for the aggregator (up to {} s): {}", connect_timeout.count(),
                   status.error_message());
      announced_wait = true;
    }
    if (std::chrono::steady_clock::now() > give_up) {
      return absl::UnavailableError(absl::StrCat("no aggregator answered within ",
                                                 connect_timeout.count(),
                                                 " s: ", status.error_message()));
    }
  }
}

uint64_t ModelSize(const std::vector<protocol::NamedTensor>& state) {
  uint64_t size = 0;
  for (const protocol::NamedTensor& tensor : state) {
    if (tensor.tensor.scalar_type() == at::kFloat)
      size += static_cast<uint64_t>(tensor.tensor.numel());
  }
  return size;
}

absl::StatusOr<ClientRunSummary> RunFederatedClient(const std::shared_ptr<grpc::Channel>& channel,
                                                    MultimodalModel& model, const Dataset& train,
                                                    const Dataset& validation, const Dataset& test,
                                                    const FederatedClientOptions& options) {
  Session session(channel, options, train.size());
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
    std::optional<SecureRoundClient> secure;
    if (task->has_secure_aggregation()) {
      absl::StatusOr<SecureRoundClient> set_up =
          SetUpSecureRound(session.stub(), session.identity(), *task, ModelSize(global));
      if (!set_up.ok()) {
        if (!absl::IsUnavailable(set_up.status()) && !absl::IsFailedPrecondition(set_up.status()) &&
            !absl::IsDeadlineExceeded(set_up.status())) {
          return set_up.status();
        }
        spdlog::warn("round {}: not counted: {}; waiting for the next task", round,
                     std::string(set_up.status().message()));
        continue;
      }
      secure = *std::move(set_up);
    }
    EQUIFL_ASSIGN_OR_RETURN(TaskOutcome outcome,
                            RunTask(session.stub(), session.identity(), *task, model, data, options,
                                    global, secure ? &*secure : nullptr));
    if (outcome.counted && secure) {
      // The server unmasks the round's sum only with the survivors' shares.
      spdlog::debug("round {}: secure aggregation: revealing shares", round);
      if (absl::Status status = secure->Unmask(session.stub()); !status.ok()) {
        spdlog::warn("round {}: secure aggregation: {}", round, std::string(status.message()));
      }
    }
    if (!outcome.counted) {
      spdlog::warn("round {}: not counted: {}; waiting for the next task", round,
                   outcome.not_counted);
      continue;
    }
    if (options.on_task) options.on_task(outcome);
    if (outcome.feature_moments) {
      spdlog::info("round {}: feature moments of {} training samples sent (standardisation)", round,
                   data.train.size());
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
