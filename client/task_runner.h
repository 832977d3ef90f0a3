// One task of a federated round on one client: download the global model, evaluate
// it on the validation split, train with the round's fairness directive and upload
// the update with its statistics; or, in the final evaluation round, evaluate on the
// test split and upload the statistics; or, in a new run's round 0, upload the
// training split's feature moments for the model's standardisation.
//
// `equifl client` (one client per process) and `equifl sim` (many virtual clients
// per process, each borrowing a model replica) both run tasks through RunTask, so a
// simulated client does exactly what a real one does.
#ifndef EQUIFL_CLIENT_TASK_RUNNER_H_
#define EQUIFL_CLIENT_TASK_RUNNER_H_

#include <grpcpp/support/status.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/local_trainer.h"
#include "client/model/dataset.h"
#include "client/model/multimodal_model.h"
#include "equifl/v1/aggregator.grpc.pb.h"
#include "protocol/chunk_encoder.h"
#include "protocol/torch/torch_tensors.h"

namespace equifl::client {

//! What one task did.
struct TaskOutcome {
  bool counted = false;          //!< The server accepted the update or evaluation.
  bool evaluated = false;        //!< A final-evaluation task (test split).
  bool feature_moments = false;  //!< A feature-moments task (round 0).
  double accuracy = 0;           //!< Validation accuracy before training, or test accuracy.
  double loss = 0;               //!< Mean loss of local training, or test loss.
  int64_t steps = 0;             //!< Optimiser steps of local training.
  int64_t train_samples = 0;     //!< Samples processed by local training (over every step).
  double train_seconds = 0;      //!< Wall time of local training.
  double upload_seconds = 0;     //!< Wall time of the upload (or masked upload).
  std::string not_counted;       //!< Why the server did not count it, when !counted.
};

//! How a client takes part in a run.
struct FederatedClientOptions {
  std::string requested_client_id;  //!< Empty lets the server choose.
  TrainerOptions trainer;           //!< Local defaults; the task's hyperparameters override.
  protocol::CodecOptions upload;    //!< Chunk size; the task chooses the encoding.
  //! Names of the shard's languages and groups, for the statistics' cells.
  std::vector<std::string> languages;
  std::vector<std::string> groups;
  //! The shard's schema, sent when joining so the server can refuse data that
  //! does not fit the run (client/data/wire_schema.h); empty: not sent.
  v1::DataSchema data_schema;
  //! How long to keep trying to reach the server before giving up.
  std::chrono::seconds connect_timeout{60};
  //! CPU threads that expand secure aggregation's masks; 0: every core.
  int mask_threads = 0;
  //! Told of every task the server counted (metrics); may be empty.
  std::function<void(const TaskOutcome&)> on_task;
};

//! A client's data, split as its shard is. The tensors must outlive the task.
struct ClientDatasets {
  const Dataset& train;
  const Dataset& validation;
  const Dataset& test;
};

//! Who a task is run as: the run and the id the server gave at Join.
struct ClientIdentity {
  std::string run_id;
  std::string client_id;
};

class SecureRoundClient;

//! Runs `task` on `model` with `data`. `global` holds CPU tensors shaped like the
//! model's state (ExportState) and receives the downloaded model. A server that
//! went away or a round that closed before the upload is not an error: the outcome
//! says it was not counted. Errors are a bad model, bad data or a refused task.
//! A securely aggregated task needs `secure`, its round set up (keys shared and
//! received): the update and statistics then travel in its masked vector.
absl::StatusOr<TaskOutcome> RunTask(v1::Aggregator::StubInterface& stub,
                                    const ClientIdentity& identity, const v1::Task& task,
                                    MultimodalModel& model, const ClientDatasets& data,
                                    const FederatedClientOptions& options,
                                    std::vector<protocol::NamedTensor>& global,
                                    SecureRoundClient* secure = nullptr);

//! Sends `header` and `encoder`'s chunks as one UploadUpdate stream for `round`;
//! FailedPrecondition, naming `what`, when the server does not count it.
absl::Status UploadStream(v1::Aggregator::StubInterface& stub, const v1::RoundReference& round,
                          v1::UpdateHeader header, protocol::ChunkEncoder& encoder,
                          absl::string_view what);

//! Whether a call failed because the server went away (a connection that broke
//! mid-call reads as CANCELLED or ABORTED) or restarted without knowing the client.
bool IsLostServer(const grpc::Status& status);

//! The call's status as absl's, prefixed with `what`; a lost server becomes
//! Unavailable, which run loops survive by joining again.
absl::Status FromGrpc(const grpc::Status& status, absl::string_view what);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_TASK_RUNNER_H_
