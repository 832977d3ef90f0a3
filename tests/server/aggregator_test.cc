// The aggregator over real gRPC on 127.0.0.1, with scripted clients that send
// known updates, checked against a float64 weighted mean.
#include "server/aggregator.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "protocol/tensor_stream.h"

namespace equifl::server {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

GlobalModel InitialModel() {
  static const std::vector<float> weight = {1, 2, 3, 4, 5, 6};
  static const std::vector<float> bias = {-1, 0.5f};
  absl::StatusOr<GlobalModel> model = GlobalModel::FromTensors(
      {{"weight", v1::DATA_TYPE_FLOAT32, {2, 3}, std::as_bytes(std::span(weight))},
       {"bias", v1::DATA_TYPE_FLOAT32, {2}, std::as_bytes(std::span(bias))}});
  EXPECT_TRUE(model.ok());
  return *std::move(model);
}

// Keeps every model the aggregator reports.
class RecordingObserver : public RoundObserver {
 public:
  absl::Status OnRoundClosed(const RoundSummary& summary, const GlobalModel& model,
                             const aggregation::ServerOptimizer&) override {
    std::lock_guard lock(mutex);
    summaries.push_back(summary);
    models.emplace_back(model.values().begin(), model.values().end());
    return absl::OkStatus();
  }
  std::mutex mutex;
  std::vector<RoundSummary> summaries;
  std::vector<std::vector<float>> models;
};

class AggregatorTest : public ::testing::Test {
 protected:
  void Start(const AggregatorOptions& options) {
    auto optimizer = aggregation::ServerOptimizer::Create(options.optimizer, 8);
    ASSERT_TRUE(optimizer.ok()) << optimizer.status();
    auto aggregator =
        Aggregator::Create(options, InitialModel(), *std::move(optimizer), 0, &observer_);
    ASSERT_TRUE(aggregator.ok()) << aggregator.status();
    aggregator_ = *std::move(aggregator);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(aggregator_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials());
    run_ = std::async(std::launch::async, [this] { return aggregator_->Run(); });
  }

  void TearDown() override {
    if (aggregator_) aggregator_->Stop();
    if (run_.valid()) {
      EXPECT_TRUE(run_.get().ok());
    }
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 1s);
  }

  static AggregatorOptions Options(uint32_t rounds, uint32_t clients) {
    AggregatorOptions options;
    options.run_id = "run-test";
    options.rounds.rounds = rounds;
    options.rounds.min_clients = clients;
    options.rounds.round_deadline = 20s;
    options.rounds.final_evaluation = false;
    options.poll_timeout = 2s;
    return options;
  }

  std::unique_ptr<v1::Aggregator::Stub> Stub() { return v1::Aggregator::NewStub(channel_); }

  // Joins as `name` and polls until a task arrives; returns it.
  v1::Task JoinAndPoll(v1::Aggregator::Stub& stub, const std::string& name) {
    v1::JoinRequest join;
    join.set_requested_client_id(name);
    v1::JoinResponse joined;
    grpc::ClientContext join_context;
    EXPECT_TRUE(stub.Join(&join_context, join, &joined).ok());
    EXPECT_EQ(joined.client_id(), name);
    for (int attempt = 0; attempt < 50; ++attempt) {
      grpc::ClientContext context;
      v1::PollTaskRequest poll;
      poll.set_run_id(joined.run_id());
      poll.set_client_id(name);
      v1::PollTaskResponse response;
      EXPECT_TRUE(stub.PollTask(&context, poll, &response).ok());
      if (response.has_task()) return response.task();
    }
    ADD_FAILURE() << name << " got no task";
    return {};
  }

  // Downloads the task's model version and returns its values.
  std::vector<float> Download(v1::Aggregator::Stub& stub, const v1::Task& task) {
    grpc::ClientContext context;
    v1::DownloadModelRequest request;
    *request.mutable_round() = task.round();
    request.set_model_version(task.model_version());
    auto reader = stub.DownloadModel(&context, request);
    std::vector<float> values(8);
    GlobalModel layout = InitialModel();
    absl::StatusOr<v1::TensorManifest> manifest = protocol::ReadModelStream(
        task.round(), *reader,
        [&](const v1::TensorManifest&) { return layout.MutableViewsOver(values); });
    EXPECT_TRUE(manifest.ok()) << manifest.status();
    EXPECT_TRUE(reader->Finish().ok());
    return values;
  }

  // Uploads `update` (8 values) as `name` with `samples` training samples.
  v1::UploadUpdateResponse Upload(v1::Aggregator::Stub& stub, const v1::Task& task,
                                  const std::string& name, const std::vector<float>& update,
                                  uint64_t samples) {
    GlobalModel layout = InitialModel();
    std::copy(update.begin(), update.end(), layout.values().begin());
    absl::StatusOr<protocol::ChunkEncoder> encoder =
        protocol::ChunkEncoder::Create(layout.Views(), {});
    EXPECT_TRUE(encoder.ok());
    grpc::ClientContext context;
    v1::UploadUpdateResponse response;
    auto writer = stub.UploadUpdate(&context, &response);
    v1::UpdateHeader header;
    header.set_client_id(name);
    header.set_num_train_samples(samples);
    v1::GroupCellStatistics* cell = header.mutable_train_statistics()->add_cells();
    cell->set_group("g");
    cell->set_loss_sum(static_cast<double>(samples));
    cell->set_sample_count(samples);
    (void)protocol::WriteUpdateStream(task.round(), header, *encoder, *writer);
    writer->WritesDone();
    EXPECT_TRUE(writer->Finish().ok());
    return response;
  }

  RecordingObserver observer_;
  std::unique_ptr<Aggregator> aggregator_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::future<absl::Status> run_;
};

TEST_F(AggregatorTest, FedAvgRoundAppliesTheWeightedMeanOfUpdates) {
  Start(Options(1, 3));
  const std::vector<std::pair<std::string, uint64_t>> clients = {{"a", 10}, {"b", 30}, {"c", 60}};
  std::vector<std::future<void>> running;
  for (size_t k = 0; k < clients.size(); ++k) {
    running.push_back(std::async(std::launch::async, [&, k] {
      auto stub = Stub();
      const v1::Task task = JoinAndPoll(*stub, clients[k].first);
      EXPECT_EQ(task.round().round_id(), 1u);
      EXPECT_EQ(task.model_version(), 0u);
      const std::vector<float> model = Download(*stub, task);
      EXPECT_EQ(model[0], 1.0f);
      std::vector<float> update(8);
      for (int i = 0; i < 8; ++i) update[i] = static_cast<float>((k + 1) * 0.5 + i * 0.125);
      const v1::UploadUpdateResponse response =
          Upload(*stub, task, clients[k].first, update, clients[k].second);
      EXPECT_TRUE(response.accepted()) << response.message();
    }));
  }
  for (auto& client : running) client.get();
  ASSERT_TRUE(run_.get().ok());
  ASSERT_EQ(observer_.models.size(), 1u);
  const GlobalModel initial = InitialModel();
  for (int i = 0; i < 8; ++i) {
    double mean = 0;
    for (size_t k = 0; k < clients.size(); ++k) {
      mean += clients[k].second * ((k + 1) * 0.5 + i * 0.125);
    }
    mean /= 100.0;
    EXPECT_NEAR(observer_.models[0][i], initial.values()[i] + mean, 1e-6) << i;
  }
  EXPECT_EQ(observer_.summaries[0].contributors.size(), 3u);
  EXPECT_EQ(observer_.summaries[0].train.samples(), 100u);
  EXPECT_DOUBLE_EQ(observer_.summaries[0].total_weight, 100.0);
}

TEST_F(AggregatorTest, DeadlineClosesTheRoundWithoutAClientThatVanished) {
  AggregatorOptions options = Options(1, 2);
  options.rounds.round_deadline = 1500ms;
  Start(options);
  auto stub_a = Stub();
  auto stub_b = Stub();
  std::future<v1::Task> task_b =
      std::async(std::launch::async, [&] { return JoinAndPoll(*stub_b, "b"); });
  const v1::Task task_a = JoinAndPoll(*stub_a, "a");
  task_b.get();  // "b" takes its task and never uploads.
  EXPECT_TRUE(Upload(*stub_a, task_a, "a", std::vector<float>(8, 1.0f), 5).accepted());
  ASSERT_TRUE(run_.get().ok());
  ASSERT_EQ(observer_.summaries.size(), 1u);
  EXPECT_FALSE(observer_.summaries[0].reached_quorum);
  EXPECT_THAT(observer_.summaries[0].contributors, ::testing::ElementsAre("a"));
  EXPECT_FLOAT_EQ(observer_.models[0][0], 2.0f);
}

TEST_F(AggregatorTest, RefusesUnexpectedUploads) {
  Start(Options(1, 1));
  auto stub = Stub();
  const v1::Task task = JoinAndPoll(*stub, "a");
  v1::Task other_run = task;
  other_run.mutable_round()->set_run_id("run-other");
  EXPECT_THAT(Upload(*stub, other_run, "a", std::vector<float>(8), 1).message(),
              HasSubstr("update for run 'run-other'"));
  EXPECT_THAT(Upload(*stub, task, "mallory", std::vector<float>(8), 1).message(),
              HasSubstr("'mallory' was not given a task"));
  EXPECT_THAT(Upload(*stub, task, "a", std::vector<float>(8), 0).message(),
              HasSubstr("has weight 0"));
  EXPECT_TRUE(Upload(*stub, task, "a", std::vector<float>(8), 1).accepted());
  ASSERT_TRUE(run_.get().ok());
}

TEST_F(AggregatorTest, FinalEvaluationCollectsTestStatisticsWithoutChangingTheModel) {
  AggregatorOptions options = Options(1, 1);
  options.rounds.final_evaluation = true;
  Start(options);
  auto stub = Stub();
  const v1::Task train = JoinAndPoll(*stub, "a");
  EXPECT_EQ(train.kind(), v1::TASK_KIND_TRAIN);
  ASSERT_TRUE(Upload(*stub, train, "a", std::vector<float>(8, 1.0f), 4).accepted());
  const v1::Task evaluate = JoinAndPoll(*stub, "a");
  EXPECT_EQ(evaluate.kind(), v1::TASK_KIND_EVALUATE);
  EXPECT_EQ(evaluate.round().round_id(), 2u);
  EXPECT_EQ(evaluate.model_version(), 1u);
  EXPECT_FLOAT_EQ(Download(*stub, evaluate)[0], 2.0f);
  // Statistics only: an empty tensor set.
  absl::StatusOr<protocol::ChunkEncoder> nothing = protocol::ChunkEncoder::Create({}, {});
  ASSERT_TRUE(nothing.ok());
  v1::UpdateHeader header;
  header.set_client_id("a");
  v1::GroupCellStatistics* cell = header.mutable_validation_statistics()->add_cells();
  cell->set_group("g");
  cell->set_sample_count(4);
  cell->set_loss_sum(2.0);
  cell->set_num_classes(2);
  for (uint64_t count : {2, 1, 0, 1}) cell->add_confusion(count);
  grpc::ClientContext context;
  v1::UploadUpdateResponse response;
  auto writer = stub->UploadUpdate(&context, &response);
  ASSERT_TRUE(protocol::WriteUpdateStream(evaluate.round(), header, *nothing, *writer).ok());
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_TRUE(response.accepted()) << response.message();
  ASSERT_TRUE(run_.get().ok());
  ASSERT_EQ(observer_.summaries.size(), 2u);
  EXPECT_EQ(observer_.models[1], observer_.models[0]);
  ASSERT_TRUE(observer_.summaries[1].validation.accuracy().has_value());
  EXPECT_DOUBLE_EQ(*observer_.summaries[1].validation.accuracy(), 0.75);
}

TEST_F(AggregatorTest, PollOfAClientThatNeverJoinedAsksItToJoin) {
  Start(Options(1, 1));
  auto stub = Stub();
  grpc::ClientContext context;
  v1::PollTaskRequest poll;
  poll.set_run_id("run-test");
  poll.set_client_id("stranger");
  v1::PollTaskResponse response;
  const grpc::Status status = stub->PollTask(&context, poll, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("join again"));
  v1::JoinRequest join;
  join.set_requested_client_id("bad id with spaces");
  v1::JoinResponse joined;
  grpc::ClientContext join_context;
  EXPECT_EQ(stub->Join(&join_context, join, &joined).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AggregatorTest, DownloadOfAnUnknownVersionIsRefused) {
  Start(Options(1, 1));
  auto stub = Stub();
  v1::Task task = JoinAndPoll(*stub, "a");
  task.set_model_version(7);
  grpc::ClientContext context;
  v1::DownloadModelRequest request;
  *request.mutable_round() = task.round();
  request.set_model_version(7);
  auto reader = stub->DownloadModel(&context, request);
  v1::DownloadModelResponse message;
  EXPECT_FALSE(reader->Read(&message));
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("is at version 0"));
}

}  // namespace
}  // namespace equifl::server
