// A client of a federated run: dials the aggregator, and for each task downloads
// the global model, evaluates it on the validation split, trains on the training
// split and uploads the difference with its statistics; for the final evaluation
// it evaluates the global model on the test split. Raw data never leaves: only the
// update and per-(language, group) sums do.
#ifndef EQUIFL_CLIENT_FEDERATED_CLIENT_H_
#define EQUIFL_CLIENT_FEDERATED_CLIENT_H_

#include <grpcpp/channel.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/model/dataset.h"
#include "client/model/multimodal_model.h"
#include "client/task_runner.h"

namespace equifl::client {

//! What a finished run left on this client.
struct ClientRunSummary {
  std::string client_id;       //!< The id the server gave.
  int rounds_trained = 0;      //!< Training tasks completed.
  double last_train_loss = 0;  //!< Mean loss of the last local training.
  bool evaluated = false;      //!< Whether the final evaluation ran here.
  double test_accuracy = 0;    //!< Of the final model on this client's test split.
  double test_loss = 0;        //!< Likewise.
};

//! Values of the float32 tensors of a model state: the length of its update.
uint64_t ModelSize(const std::vector<protocol::NamedTensor>& state);

//! Joins the run as `requested_client_id` (empty: the server chooses) with
//! `train_samples` training samples, trying again while the aggregator is not up
//! yet or went away, for up to `connect_timeout`; logs once that it waits. After
//! the timeout: Unavailable "no aggregator answered within N s: ..."; any other
//! failure (a refusal) at once.
absl::StatusOr<v1::JoinResponse> JoinRun(v1::Aggregator::StubInterface& stub,
                                         const std::string& requested_client_id,
                                         int64_t train_samples, const v1::DataSchema& data_schema,
                                         std::chrono::seconds connect_timeout);

//! Runs the client until the server says the run is finished. `train`,
//! `validation` and `test` must outlive the call.
absl::StatusOr<ClientRunSummary> RunFederatedClient(const std::shared_ptr<grpc::Channel>& channel,
                                                    MultimodalModel& model, const Dataset& train,
                                                    const Dataset& validation, const Dataset& test,
                                                    const FederatedClientOptions& options);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_FEDERATED_CLIENT_H_
