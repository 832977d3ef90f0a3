// The codec over real gRPC on 127.0.0.1 with an ephemeral port.
#include "protocol/tensor_stream.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>

#include "equifl/v1/aggregator.grpc.pb.h"
#include "tests/protocol/test_model.h"
#include "tests/testing/status_matchers.h"

namespace equifl::protocol {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

v1::RoundReference Round(std::string run_id, uint64_t round_id) {
  v1::RoundReference round;
  round.set_run_id(std::move(run_id));
  round.set_round_id(round_id);
  return round;
}

// Serves one model for run "run-a", round 3, and takes updates for that round.
class ModelService final : public v1::Aggregator::Service {
 public:
  explicit ModelService(const TestModel& model) : model_(model) {}

  grpc::Status UploadUpdate(grpc::ServerContext*,
                            grpc::ServerReader<v1::UploadUpdateRequest>* reader,
                            v1::UploadUpdateResponse* response) override {
    absl::StatusOr<v1::UploadUpdateRequest> opening = ReadUpdateHeader(*reader);
    absl::Status status = opening.status();
    if (status.ok()) status = CheckRound(Round("run-a", 3), opening->round());
    if (status.ok()) {
      header = opening->header();
      update = model_.ZeroedCopy();
      status = ReadUpdateChunks(Round("run-a", 3), header.update(), update.MutableViews(), *reader);
    }
    response->set_accepted(status.ok());
    response->set_message(std::string(status.message()));
    return grpc::Status::OK;
  }

  v1::UpdateHeader header;  //!< Of the last update received.
  TestModel update;         //!< The last update received.

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

class TensorStreamTest : public ::testing::Test {
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

TEST_F(TensorStreamTest, UpdateArrivesIntactWithItsHeader) {
  for (v1::Encoding encoding : {v1::ENCODING_FLOAT32, v1::ENCODING_INT8}) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::UploadUpdateResponse response;
    auto writer = stub_->UploadUpdate(&context, &response);
    v1::UpdateHeader header;
    header.set_client_id("client-7");
    header.set_num_train_samples(420);
    v1::GroupCellStatistics* cell = header.mutable_train_statistics()->add_cells();
    cell->mutable_cell()->set_language("de");
    cell->set_group("female");
    cell->set_loss_sum(12.5);
    cell->set_sample_count(40);
    absl::StatusOr<ChunkEncoder> encoder = ChunkEncoder::Create(model_.Views(), {encoding, 4096});
    ASSERT_THAT(encoder, IsOk());
    ASSERT_THAT(WriteUpdateStream(Round("run-a", 3), header, *encoder, *writer), IsOk());
    ASSERT_TRUE(writer->WritesDone());
    ASSERT_THAT(writer->Finish(), IsOk());
    EXPECT_TRUE(response.accepted()) << response.message();
    EXPECT_EQ(service_.header.client_id(), "client-7");
    EXPECT_EQ(service_.header.num_train_samples(), 420u);
    EXPECT_EQ(service_.header.train_statistics().cells(0).loss_sum(), 12.5);
    EXPECT_EQ(service_.header.update().checksum(), encoder->manifest().checksum());
    // int8 is lossy for float32 tensors; the int64 tensor travels verbatim either way.
    EXPECT_EQ(service_.update.tensors[4].bytes, model_.tensors[4].bytes);
    if (encoding == v1::ENCODING_FLOAT32) {
      EXPECT_EQ(service_.update.tensors[0].bytes, model_.tensors[0].bytes);
    }
  }
}

TEST_F(TensorStreamTest, ServerRefusesAnUpdateForAnotherRound) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::UploadUpdateResponse response;
  auto writer = stub_->UploadUpdate(&context, &response);
  absl::StatusOr<ChunkEncoder> encoder = ChunkEncoder::Create(model_.Views(), {});
  ASSERT_THAT(encoder, IsOk());
  // The server stops reading after the header; the remaining writes may fail.
  (void)WriteUpdateStream(Round("run-a", 2), v1::UpdateHeader(), *encoder, *writer);
  writer->WritesDone();
  ASSERT_THAT(writer->Finish(), IsOk());
  EXPECT_FALSE(response.accepted());
  EXPECT_THAT(response.message(), HasSubstr("round 2; expected run 'run-a' round 3"));
}

TEST_F(TensorStreamTest, ModelArrivesIntactOverLoopback) {
  absl::StatusOr<v1::TensorManifest> manifest = Download(Round("run-a", 3), v1::ENCODING_FLOAT32);
  ASSERT_THAT(manifest, IsOk());
  EXPECT_GT(manifest->chunk_count(), 70u);
  for (size_t t = 0; t < model_.tensors.size(); ++t) {
    EXPECT_EQ(received_.tensors[t].bytes, model_.tensors[t].bytes) << model_.tensors[t].name;
  }
}

TEST_F(TensorStreamTest, RefusesAStreamOfAnotherRound) {
  absl::StatusOr<v1::TensorManifest> manifest = Download(Round("run-a", 4), v1::ENCODING_FLOAT32);
  EXPECT_EQ(manifest.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(manifest.status().message(),
              HasSubstr("run 'run-a' round 3; expected run 'run-a' round 4"));
}

TEST_F(TensorStreamTest, RefusesAStreamOfAnotherRun) {
  absl::StatusOr<v1::TensorManifest> manifest = Download(Round("run-b", 3), v1::ENCODING_FLOAT32);
  EXPECT_EQ(manifest.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(TensorStreamTest, SenderErrorEndsTheStreamAsTruncated) {
  // ENCODING_UNSPECIFIED makes the server refuse before sending anything.
  absl::StatusOr<v1::TensorManifest> manifest =
      Download(Round("run-a", 3), v1::ENCODING_UNSPECIFIED);
  EXPECT_EQ(manifest.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(manifest.status().message(), HasSubstr("before its manifest"));
}

}  // namespace
}  // namespace equifl::protocol
