// The codec over real gRPC on 127.0.0.1 with an ephemeral port.
#include "protocol/model_stream.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>

#include "equifl/v1/aggregator.grpc.pb.h"
#include "test_model.h"

namespace equifl::protocol {
namespace {

using ::testing::HasSubstr;

v1::RoundReference Round(std::string run_id, uint64_t round_id) {
  v1::RoundReference round;
  round.set_run_id(std::move(run_id));
  round.set_round_id(round_id);
  return round;
}

// Serves one model for run "run-a", round 3.
class ModelService final : public v1::Aggregator::Service {
 public:
  explicit ModelService(const TestModel& model) : model_(model) {}

  grpc::Status DownloadModel(grpc::ServerContext*, const v1::DownloadModelRequest* request,
                             grpc::ServerWriter<v1::DownloadModelResponse>* writer) override {
    absl::StatusOr<ChunkEncoder> encoder =
        ChunkEncoder::Create(model_.Views(), {request->encoding(), 4096});
    if (!encoder.ok()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          std::string(encoder.status().message()));
    }
    absl::Status sent = WriteModelStream(Round("run-a", 3), *encoder, *writer);
    return sent.ok() ? grpc::Status::OK
                     : grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(sent.message()));
  }

 private:
  const TestModel& model_;
};

class ModelStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    // Loopback only; plaintext until the privacy issue brings mutual TLS.
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    stub_ = v1::Aggregator::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                        grpc::InsecureChannelCredentials()));
  }

  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now()); }

  absl::StatusOr<v1::TensorManifest> Download(const v1::RoundReference& expected,
                                              v1::Encoding encoding) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::DownloadModelRequest request;
    request.set_encoding(encoding);
    auto reader = stub_->DownloadModel(&context, request);
    received_ = model_.ZeroedCopy();
    absl::StatusOr<v1::TensorManifest> manifest = ReadModelStream(
        expected, *reader, [this](const v1::TensorManifest&) { return received_.MutableViews(); });
    if (!manifest.ok()) context.TryCancel();
    reader->Finish();
    return manifest;
  }

  TestModel model_;
  TestModel received_;
  ModelService service_{model_};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Aggregator::Stub> stub_;
};

TEST_F(ModelStreamTest, ModelArrivesIntactOverLoopback) {
  absl::StatusOr<v1::TensorManifest> manifest = Download(Round("run-a", 3), v1::ENCODING_FLOAT32);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_GT(manifest->chunk_count(), 70u);
  for (size_t t = 0; t < model_.tensors.size(); ++t) {
    EXPECT_EQ(received_.tensors[t].bytes, model_.tensors[t].bytes) << model_.tensors[t].name;
  }
}

TEST_F(ModelStreamTest, RefusesAStreamOfAnotherRound) {
  absl::StatusOr<v1::TensorManifest> manifest = Download(Round("run-a", 4), v1::ENCODING_FLOAT32);
  EXPECT_EQ(manifest.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(manifest.status().message(),
              HasSubstr("run 'run-a' round 3; expected run 'run-a' round 4"));
}

TEST_F(ModelStreamTest, RefusesAStreamOfAnotherRun) {
  absl::StatusOr<v1::TensorManifest> manifest = Download(Round("run-b", 3), v1::ENCODING_FLOAT32);
  EXPECT_EQ(manifest.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ModelStreamTest, SenderErrorEndsTheStreamAsTruncated) {
  // ENCODING_UNSPECIFIED makes the server refuse before sending anything.
  absl::StatusOr<v1::TensorManifest> manifest =
      Download(Round("run-a", 3), v1::ENCODING_UNSPECIFIED);
  EXPECT_EQ(manifest.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(manifest.status().message(), HasSubstr("before its manifest"));
}

}  // namespace
}  // namespace equifl::protocol
