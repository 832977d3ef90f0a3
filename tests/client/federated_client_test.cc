// The federated client against a scripted aggregator on 127.0.0.1: it must
// survive a download cut off by the server (CANCELLED), take the task again and
// finish.
#include "client/federated_client.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>

#include "client/model/model_state.h"
#include "protocol/tensor_stream.h"
#include "protocol/torch/torch_tensors.h"
#include "tests/client/synthetic_data.h"
#include "tests/testing/status_matchers.h"

namespace equifl::client {
namespace {

using ::equifl::test::IsOk;

// One training round; the first download is cut off as a dying server would.
class ScriptedAggregator final : public v1::Aggregator::Service {
 public:
  explicit ScriptedAggregator(std::vector<protocol::NamedTensor> model)
      : model_(std::move(model)) {}

  grpc::Status Join(grpc::ServerContext*, const v1::JoinRequest* request,
                    v1::JoinResponse* response) override {
    ++joins;
    response->set_run_id("run-s");
    response->set_client_id(request->requested_client_id());
    response->set_poll_timeout_ms(1000);
    return grpc::Status::OK;
  }

  grpc::Status PollTask(grpc::ServerContext*, const v1::PollTaskRequest*,
                        v1::PollTaskResponse* response) override {
    if (uploads > 0) {
      response->set_run_finished(true);
      return grpc::Status::OK;
    }
    v1::Task* task = response->mutable_task();
    task->mutable_round()->set_run_id("run-s");
    task->mutable_round()->set_round_id(1);
    task->set_kind(v1::TASK_KIND_TRAIN);
    task->mutable_hyperparameters()->set_local_epochs(1);
    task->set_upload_encoding(v1::ENCODING_FLOAT32);
    return grpc::Status::OK;
  }

  grpc::Status DownloadModel(grpc::ServerContext*, const v1::DownloadModelRequest* request,
                             grpc::ServerWriter<v1::DownloadModelResponse>* writer) override {
    if (downloads++ == 0) return grpc::Status(grpc::StatusCode::CANCELLED, "server going away");
    absl::StatusOr<std::vector<protocol::TensorView>> views = protocol::ViewsOf(model_);
    absl::StatusOr<protocol::ChunkEncoder> encoder = protocol::ChunkEncoder::Create(*views, {});
    EXPECT_THAT(encoder, IsOk());
    EXPECT_THAT(protocol::WriteModelStream(request->round(), *encoder, *writer), IsOk());
    return grpc::Status::OK;
  }

  grpc::Status UploadUpdate(grpc::ServerContext*,
                            grpc::ServerReader<v1::UploadUpdateRequest>* reader,
                            v1::UploadUpdateResponse* response) override {
    v1::UploadUpdateRequest message;
    while (reader->Read(&message)) {
    }
    ++uploads;
    response->set_accepted(true);
    return grpc::Status::OK;
  }

  std::atomic<int> joins{0};
  std::atomic<int> downloads{0};
  std::atomic<int> uploads{0};

 private:
  std::vector<protocol::NamedTensor> model_;
};

TEST(FederatedClientTest, SurvivesADownloadTheServerCutOff) {
  const ModelOptions options = testing::SmallModelOptions();
  torch::manual_seed(1);
  absl::StatusOr<MultimodalModel> server_model = CreateMultimodalModel(options);
  ASSERT_THAT(server_model, IsOk());
  absl::StatusOr<std::vector<protocol::NamedTensor>> state =
      protocol::ToContiguousCpu(ExportState(**server_model));
  ASSERT_THAT(state, IsOk());
  ScriptedAggregator service(*std::move(state));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  torch::manual_seed(2);
  absl::StatusOr<MultimodalModel> model = CreateMultimodalModel(options);
  ASSERT_THAT(model, IsOk());
  const Dataset data = testing::MakeSyntheticDataset({.samples = 64});
  FederatedClientOptions client_options;
  client_options.requested_client_id = "c";
  client_options.trainer.device = "cpu";
  client_options.connect_timeout = std::chrono::seconds(20);
  absl::StatusOr<ClientRunSummary> summary = RunFederatedClient(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()),
      *model, data, data, data, client_options);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  ASSERT_THAT(summary, IsOk());
  EXPECT_EQ(summary->rounds_trained, 1);
  EXPECT_EQ(service.downloads, 2);
  EXPECT_EQ(service.uploads, 1);
}

}  // namespace
}  // namespace equifl::client
