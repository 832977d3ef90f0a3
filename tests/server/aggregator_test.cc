// The aggregator over real gRPC on 127.0.0.1, with scripted clients that send
// known updates, checked against a float64 weighted mean.
#include "server/aggregator.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fairness/loss_gap_bounds.h"
#include "protocol/tensor_stream.h"
#include "tests/server/served_aggregator.h"
#include "tests/testing/status_matchers.h"

namespace equifl::server {
namespace {

using ::equifl::test::IsOk;
using ::equifl::test::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

using test_support::InitialModel;
using test_support::RecordingObserver;

class AggregatorTest : public ::testing::Test {
 protected:
  void Start(const AggregatorOptions& options) {
    served_.Start(options, InitialModel(), &observer_);
    channel_ = served_.Channel();
  }

  void TearDown() override { served_.Stop(); }

  // The grid holds the cell Upload reports (client-level DP noises the grid).
  static AggregatorOptions Options(uint32_t rounds, uint32_t clients) {
    AggregatorOptions options = test_support::TestOptions("run-test", rounds, clients, 2s);
    options.statistics = {{"en"}, {}, {"g"}, 2};
    return options;
  }

  std::unique_ptr<v1::Aggregator::Stub> Stub() { return v1::Aggregator::NewStub(channel_); }

  // Joins as `name` and polls until a task arrives; returns it.
  v1::Task JoinAndPoll(v1::Aggregator::Stub& stub, const std::string& name) {
    std::optional<v1::Task> task = test_support::JoinAndPoll(stub, name);
    if (!task) ADD_FAILURE() << name << " got no task";
    return task.value_or(v1::Task{});
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
    EXPECT_THAT(manifest, IsOk());
    EXPECT_THAT(reader->Finish(), IsOk());
    return values;
  }

  // Uploads `update` (8 values) as `name` with `samples` training samples.
  // `edit` may change the header before it is sent.
  v1::UploadUpdateResponse Upload(v1::Aggregator::Stub& stub, const v1::Task& task,
                                  const std::string& name, const std::vector<float>& update,
                                  uint64_t samples,
                                  const std::function<void(v1::UpdateHeader&)>& edit = nullptr) {
    GlobalModel layout = InitialModel();
    std::copy(update.begin(), update.end(), layout.values().begin());
    absl::StatusOr<protocol::ChunkEncoder> encoder =
        protocol::ChunkEncoder::Create(layout.Views(), {});
    EXPECT_THAT(encoder, IsOk());
    grpc::ClientContext context;
    v1::UploadUpdateResponse response;
    auto writer = stub.UploadUpdate(&context, &response);
    v1::UpdateHeader header;
    header.set_client_id(name);
    header.set_num_train_samples(samples);
    v1::GroupCellStatistics* cell = header.mutable_train_statistics()->add_cells();
    cell->mutable_cell()->set_language("en");
    cell->mutable_cell()->set_modality("fusion");
    cell->set_group("g");
    cell->set_loss_sum(static_cast<double>(samples));  // Each sample's loss is 1.
    cell->set_loss_square_sum(static_cast<double>(samples));
    cell->set_sample_count(samples);
    if (edit) edit(header);
    (void)protocol::WriteUpdateStream(task.round(), header, *encoder, *writer);
    writer->WritesDone();
    EXPECT_THAT(writer->Finish(), IsOk());
    return response;
  }

  // Clients "a" and "b" take the next round's task and upload updates of norm 2.83
  // and 0.28: half the updates are within any clipping norm between the two.
  void UploadLongAndShortUpdates() {
    std::vector<std::future<void>> running;
    for (const std::string name : {"a", "b"}) {
      running.push_back(std::async(std::launch::async, [&, name] {
        auto stub = Stub();
        const v1::Task task = JoinAndPoll(*stub, name);
        const float value = name == std::string("a") ? 1.0f : 0.1f;
        EXPECT_TRUE(Upload(*stub, task, name, std::vector<float>(8, value), 5).accepted());
      }));
    }
    for (auto& client : running) client.get();
  }

  // One round in which client k ("c0", "c1", ...) uploads updates[k] with `samples`
  // training samples each.
  void RunRound(const std::vector<std::vector<float>>& updates, uint64_t samples) {
    std::vector<std::future<void>> running;
    for (size_t k = 0; k < updates.size(); ++k) {
      running.push_back(std::async(std::launch::async, [&, k] {
        auto stub = Stub();
        const std::string name = "c" + std::to_string(k);
        const v1::Task task = JoinAndPoll(*stub, name);
        const v1::UploadUpdateResponse response = Upload(*stub, task, name, updates[k], samples);
        EXPECT_TRUE(response.accepted()) << response.message();
      }));
    }
    for (auto& client : running) client.get();
  }

  // Four honest clients near 1 and an outlier at 1e6, all with 10 samples.
  static std::vector<std::vector<float>> HonestAndOutlier() {
    std::vector<std::vector<float>> updates;
    for (float honest : {0.9f, 1.0f, 1.3f, 1.4f}) {
      std::vector<float> update(8);
      for (int i = 0; i < 8; ++i) update[i] = honest + 0.01f * static_cast<float>(i);
      updates.push_back(update);
    }
    updates.push_back(std::vector<float>(8, 1e6f));
    return updates;
  }

  // The model's change in the first round, value by value.
  std::vector<double> FirstRoundChange() {
    EXPECT_EQ(observer_.models.size(), 1u);
    if (observer_.models.empty()) return {};
    return test_support::ModelChanges(InitialModel(), {observer_.models[0]});
  }

  RecordingObserver observer_;
  test_support::ServedAggregator served_;
  std::shared_ptr<grpc::Channel> channel_;
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
  ASSERT_THAT(served_.run.get(), IsOk());
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

TEST_F(AggregatorTest, AnOutlierDragsTheMeanAway) {
  Start(Options(1, 5));
  RunRound(HonestAndOutlier(), 10);
  ASSERT_THAT(served_.run.get(), IsOk());
  const std::vector<double> change = FirstRoundChange();
  ASSERT_EQ(change.size(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_GT(change[i], 1e5) << i;  // (4.6 + 1e6) / 5
}

TEST_F(AggregatorTest, MedianStaysWithTheHonestClients) {
  AggregatorOptions options = Options(1, 5);
  options.robust_aggregation.rule = aggregation::AggregationRule::kMedian;
  Start(options);
  RunRound(HonestAndOutlier(), 10);
  ASSERT_THAT(served_.run.get(), IsOk());
  const std::vector<double> change = FirstRoundChange();
  ASSERT_EQ(change.size(), 8u);
  // The third of 0.9, 1.0, 1.3, 1.4 and 1e6 (plus 0.01·i); the honest mean is 1.15.
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(change[i], 1.3 + 0.01 * i, 1e-5) << i;
}

TEST_F(AggregatorTest, TrimmedMeanStaysWithTheHonestClients) {
  AggregatorOptions options = Options(1, 5);
  options.robust_aggregation.rule = aggregation::AggregationRule::kTrimmedMean;
  options.robust_aggregation.trim_fraction = 0.2;
  Start(options);
  RunRound(HonestAndOutlier(), 10);
  ASSERT_THAT(served_.run.get(), IsOk());
  const std::vector<double> change = FirstRoundChange();
  ASSERT_EQ(change.size(), 8u);
  // The outlier's and the lowest client's fifths of the weight dropped, the middle
  // three averaged.
  for (int i = 0; i < 8; ++i) {
    EXPECT_NEAR(change[i], (1.0 + 1.3 + 1.4) / 3 + 0.01 * i, 1e-5) << i;
  }
}

TEST_F(AggregatorTest, NormBoundLimitsWhatAnOutlierAddsToTheMean) {
  AggregatorOptions options = Options(1, 5);
  options.robust_aggregation.norm_bound = 5;  // The honest updates' norms are 2.6 to 4.2.
  Start(options);
  const std::vector<std::vector<float>> updates = HonestAndOutlier();
  RunRound(updates, 10);
  ASSERT_THAT(served_.run.get(), IsOk());
  const std::vector<double> change = FirstRoundChange();
  ASSERT_EQ(change.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    double sum = 5 / std::sqrt(8.0);  // The outlier, scaled to norm 5.
    for (size_t k = 0; k < 4; ++k) sum += updates[k][i];
    EXPECT_NEAR(change[i], sum / 5, 1e-5) << i;
  }
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
  ASSERT_THAT(served_.run.get(), IsOk());
  ASSERT_EQ(observer_.summaries.size(), 1u);
  EXPECT_FALSE(observer_.summaries[0].reached_quorum);
  EXPECT_THAT(observer_.summaries[0].contributors, ::testing::ElementsAre("a"));
  EXPECT_FLOAT_EQ(observer_.models[0][0], 2.0f);
}

TEST_F(AggregatorTest, RefusesUnexpectedUploads) {
  Start(Options(2, 1));
  auto stub = Stub();
  const v1::Task task = JoinAndPoll(*stub, "a");
  v1::Task other_run = task;
  other_run.mutable_round()->set_run_id("run-other");
  EXPECT_THAT(Upload(*stub, other_run, "a", std::vector<float>(8), 1).message(),
              HasSubstr("update for run 'run-other'"));
  EXPECT_THAT(Upload(*stub, task, "mallory", std::vector<float>(8), 1).message(),
              HasSubstr("'mallory' was not given a task"));
  EXPECT_THAT(Upload(*stub, task, "a", std::vector<float>(8), 0).message(),
              HasSubstr("aggregation weight is 0"));
  EXPECT_TRUE(Upload(*stub, task, "a", std::vector<float>(8), 1).accepted());
  // Round 1's reference while round 2 is open: a late or replayed update.
  const v1::Task second = JoinAndPoll(*stub, "a");
  ASSERT_EQ(second.round().round_id(), 2u);
  EXPECT_THAT(Upload(*stub, task, "a", std::vector<float>(8), 1).message(),
              HasSubstr("round 1 is not collecting updates; round 2 is"));
  EXPECT_TRUE(Upload(*stub, second, "a", std::vector<float>(8), 1).accepted());
  ASSERT_THAT(served_.run.get(), IsOk());
  EXPECT_EQ(observer_.summaries.size(), 2u);
}

// Numbers an attacker sent (the hardening issue's W1, U19 and X1): each upload is
// refused with a message naming the number, and the round still completes with
// the client's valid update, its model finite.
TEST_F(AggregatorTest, HostileNumbersCostOnlyTheirOwnUpdate) {
  Start(Options(1, 1));
  auto stub = Stub();
  const v1::Task task = JoinAndPoll(*stub, "a");
  const std::vector<float> update(8, 1.0f);
  const auto refused = [&](const std::function<void(v1::UpdateHeader&)>& edit) {
    const v1::UploadUpdateResponse response = Upload(*stub, task, "a", update, 5, edit);
    EXPECT_FALSE(response.accepted());
    return response.message();
  };
  EXPECT_THAT(refused([](v1::UpdateHeader& header) { header.set_aggregation_weight(1.7e308); }),
              HasSubstr("exceeds 5"));
  EXPECT_THAT(
      refused([](v1::UpdateHeader& header) { header.set_aggregation_weight(std::nan("")); }),
      HasSubstr("finite and > 0"));
  EXPECT_THAT(refused([](v1::UpdateHeader& header) { header.set_aggregation_weight(-2); }),
              HasSubstr("finite and > 0"));
  EXPECT_THAT(refused([](v1::UpdateHeader& header) {
                header.mutable_train_statistics()->mutable_cells(0)->set_loss_sum(INFINITY);
              }),
              HasSubstr("loss sum of inf"));
  EXPECT_THAT(refused([](v1::UpdateHeader& header) {
                v1::GroupCellStatistics& cell =
                    *header.mutable_validation_statistics()->add_cells();
                cell.set_group("g");
                cell.set_sample_count(3);
                cell.set_num_classes(2);
                for (int count : {1, 0, 0, 1}) cell.add_confusion(count);
              }),
              HasSubstr("adding up to 2 for 3 samples"));
  EXPECT_THAT(
      refused([](v1::UpdateHeader& header) { header.set_num_train_samples(uint64_t{1} << 41); }),
      HasSubstr("training samples"));
  const v1::UploadUpdateResponse valid = Upload(*stub, task, "a", update, 5);
  EXPECT_TRUE(valid.accepted()) << valid.message();
  ASSERT_THAT(served_.run.get(), IsOk());
  ASSERT_EQ(observer_.models.size(), 1u);
  EXPECT_FLOAT_EQ(observer_.models[0][0], 2.0f);
  EXPECT_DOUBLE_EQ(observer_.summaries[0].total_weight, 5.0);
}

// A client that opens two uploads, sends a header and goes silent (the hardening
// issue's S1): its second upload is refused at once, its first is cancelled after
// the idle timeout, and the one buffer it held goes to an honest client's upload.
TEST_F(AggregatorTest, ASilentUploadLosesItsSlotAndAClientHoldsOneAtATime) {
  AggregatorOptions options = Options(1, 2);
  options.max_concurrent_uploads = 1;
  options.upload_idle_timeout = 500ms;
  options.rounds.round_deadline = 5s;
  Start(options);
  auto stub_m = Stub();
  auto stub_h = Stub();
  std::future<v1::Task> task_h =
      std::async(std::launch::async, [&] { return JoinAndPoll(*stub_h, "h"); });
  const v1::Task task_m = JoinAndPoll(*stub_m, "m");
  const v1::Task honest = task_h.get();

  GlobalModel layout = InitialModel();
  absl::StatusOr<protocol::ChunkEncoder> encoder =
      protocol::ChunkEncoder::Create(layout.Views(), {});
  ASSERT_THAT(encoder, IsOk());
  v1::UploadUpdateRequest opening;
  *opening.mutable_round() = task_m.round();
  opening.mutable_header()->set_client_id("m");
  opening.mutable_header()->set_num_train_samples(5);
  *opening.mutable_header()->mutable_update() = encoder->manifest();
  const auto open_silent_upload = [&](grpc::ClientContext& context,
                                      v1::UploadUpdateResponse& response) {
    context.set_deadline(std::chrono::system_clock::now() + 20s);
    auto writer = stub_m->UploadUpdate(&context, &response);
    EXPECT_TRUE(writer->Write(opening));
    return writer;
  };
  grpc::ClientContext first_context;
  v1::UploadUpdateResponse first_response;
  auto first = open_silent_upload(first_context, first_response);
  grpc::ClientContext second_context;
  v1::UploadUpdateResponse second_response;
  auto second = open_silent_upload(second_context, second_response);

  // Waits for the one buffer until the silent upload is cancelled.
  const auto started = std::chrono::steady_clock::now();
  const v1::UploadUpdateResponse response =
      Upload(*stub_h, honest, "h", std::vector<float>(8, 1.0f), 5);
  EXPECT_TRUE(response.accepted()) << response.message();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
  // Whichever of the two came second was refused; the other was cancelled.
  const grpc::Status first_status = first->Finish();
  const grpc::Status second_status = second->Finish();
  const bool first_refused = first_status.ok();
  const grpc::Status& cancelled = first_refused ? second_status : first_status;
  const v1::UploadUpdateResponse& refused = first_refused ? first_response : second_response;
  EXPECT_FALSE(refused.accepted());
  EXPECT_THAT(refused.message(), HasSubstr("'m' is already uploading"));
  EXPECT_EQ(cancelled.error_code(), grpc::StatusCode::CANCELLED) << cancelled.error_message();
  ASSERT_THAT(served_.run.get(), IsOk());
  EXPECT_THAT(observer_.summaries.at(0).contributors, ::testing::ElementsAre("h"));
}

// A stop while a round is open (the hardening issue's K1): the round is neither
// aggregated nor recorded, though one of its two updates arrived.
TEST_F(AggregatorTest, AStopWhileARoundIsOpenRecordsNothingOfIt) {
  Start(Options(2, 2));
  auto stub_a = Stub();
  auto stub_b = Stub();
  std::future<v1::Task> task_b =
      std::async(std::launch::async, [&] { return JoinAndPoll(*stub_b, "b"); });
  const v1::Task task_a = JoinAndPoll(*stub_a, "a");
  task_b.get();
  EXPECT_TRUE(Upload(*stub_a, task_a, "a", std::vector<float>(8, 1.0f), 5).accepted());
  served_.aggregator->Stop();
  ASSERT_THAT(served_.run.get(), IsOk());
  EXPECT_TRUE(observer_.summaries.empty());
  // The run is not over: a client polling the stopping server is told to wait for
  // it (UNAVAILABLE, on which clients join again), not that the run finished.
  grpc::ClientContext context;
  v1::PollTaskRequest poll;
  poll.set_run_id(task_a.round().run_id());
  poll.set_client_id("a");
  v1::PollTaskResponse response;
  const grpc::Status polled = stub_a->PollTask(&context, poll, &response);
  EXPECT_EQ(polled.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(polled.error_message(), HasSubstr("stopping"));
  EXPECT_FALSE(response.run_finished());
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
  ASSERT_THAT(nothing, IsOk());
  v1::UpdateHeader header;
  header.set_client_id("a");
  v1::GroupCellStatistics* cell = header.mutable_validation_statistics()->add_cells();
  cell->set_group("g");
  cell->set_sample_count(4);
  cell->set_loss_sum(2.0);
  cell->set_loss_square_sum(1.5);
  cell->set_num_classes(2);
  for (uint64_t count : {2, 1, 0, 1}) cell->add_confusion(count);
  grpc::ClientContext context;
  v1::UploadUpdateResponse response;
  auto writer = stub->UploadUpdate(&context, &response);
  ASSERT_THAT(protocol::WriteUpdateStream(evaluate.round(), header, *nothing, *writer), IsOk());
  writer->WritesDone();
  ASSERT_THAT(writer->Finish(), IsOk());
  EXPECT_TRUE(response.accepted()) << response.message();
  ASSERT_THAT(served_.run.get(), IsOk());
  ASSERT_EQ(observer_.summaries.size(), 2u);
  EXPECT_EQ(observer_.models[1], observer_.models[0]);
  ASSERT_TRUE(observer_.summaries[1].validation.accuracy().has_value());
  EXPECT_DOUBLE_EQ(*observer_.summaries[1].validation.accuracy(), 0.75);
}

// Adds to `header`'s validation statistics one group of 100 samples in `view`,
// `right` of them right.
void AddValidationCell(v1::UpdateHeader& header, const std::string& view, uint64_t right) {
  v1::GroupCellStatistics* cell = header.mutable_validation_statistics()->add_cells();
  cell->mutable_cell()->set_language("en");
  cell->mutable_cell()->set_modality(view);
  cell->set_group("g");
  cell->set_sample_count(100);
  cell->set_loss_sum(50);
  cell->set_loss_square_sum(50);
  cell->set_num_classes(2);
  for (uint64_t count : {right / 2, 50 - right / 2, 50 - (right - right / 2), right - right / 2}) {
    cell->add_confusion(count);
  }
}

// Model selection through the service: training tasks ask for the selection view,
// whose cells never reach the validation statistics; round r judges the model
// after round r − 1, and the final evaluation is of the chosen one (90% right, not
// the 50% of the model after round 2), served under its own version.
TEST_F(AggregatorTest, TheFinalEvaluationIsOfTheModelChosenOnTheSelectionSplit) {
  AggregatorOptions options = Options(3, 1);
  options.rounds.final_evaluation = true;
  Start(options);
  auto stub = Stub();
  for (uint64_t round = 1; round <= 3; ++round) {
    const v1::Task task = JoinAndPoll(*stub, "a");
    ASSERT_EQ(task.kind(), v1::TASK_KIND_TRAIN);
    EXPECT_THAT(task.fairness().views(), testing::Contains("selection@0.3"));
    const uint64_t right = round == 2 ? 90 : 50;  // the model after round 1 is best
    ASSERT_TRUE(Upload(*stub, task, "a", std::vector<float>(8, static_cast<float>(round)), 4,
                       [&](v1::UpdateHeader& header) {
                         AddValidationCell(header, "fusion", 70);
                         AddValidationCell(header, "selection@0.3", right);
                       })
                    .accepted());
  }
  const v1::Task evaluate = JoinAndPoll(*stub, "a");
  ASSERT_EQ(evaluate.kind(), v1::TASK_KIND_EVALUATE);
  EXPECT_THAT(evaluate.fairness().views(), Not(testing::Contains("selection@0.3")));
  EXPECT_EQ(evaluate.model_version(), 1u);
  const std::vector<float> served = Download(*stub, evaluate);
  served_.Stop();  // while the final evaluation is open: nothing more is recorded
  ASSERT_EQ(observer_.summaries.size(), 3u);
  EXPECT_EQ(served, observer_.models[0]);  // the model after round 1
  EXPECT_NE(served, observer_.models[2]);
  EXPECT_FALSE(observer_.summaries[0].selection);  // the initial model is no candidate
  for (size_t i = 0; i < 3; ++i) {
    const RoundSummary& summary = observer_.summaries[i];
    for (const auto& [cell, groups] : summary.validation.table()) {
      EXPECT_EQ(cell.modality, "fusion") << "round " << summary.round_id;
    }
    if (i == 0) continue;
    ASSERT_TRUE(summary.selection) << "round " << summary.round_id;
    EXPECT_EQ(summary.selection->model_round, i);
    EXPECT_EQ(summary.selection->samples, 100u);
  }
  EXPECT_EQ(observer_.summaries[2].chosen_round, 1u);
  EXPECT_THAT(observer_.summaries[2].chosen_reason, HasSubstr("round 1's model (90.0%"));
}

// With selection off, selection cells a client sends unasked are dropped: never
// judged, never in the validation statistics, and the last model is evaluated.
TEST_F(AggregatorTest, SelectionCellsSentUnaskedAreDropped) {
  AggregatorOptions options = Options(2, 1);
  options.rounds.final_evaluation = true;
  options.fairness.selection_share = 0;
  Start(options);
  auto stub = Stub();
  for (uint64_t round = 1; round <= 2; ++round) {
    const v1::Task task = JoinAndPoll(*stub, "a");
    ASSERT_EQ(task.kind(), v1::TASK_KIND_TRAIN);
    EXPECT_THAT(task.fairness().views(), Not(testing::Contains("selection@0.3")));
    ASSERT_TRUE(
        Upload(*stub, task, "a", std::vector<float>(8, 1), 4, [&](v1::UpdateHeader& header) {
          AddValidationCell(header, "fusion", 70);
          AddValidationCell(header, "selection@0.3", 90);
        }).accepted());
  }
  const v1::Task evaluate = JoinAndPoll(*stub, "a");
  ASSERT_EQ(evaluate.kind(), v1::TASK_KIND_EVALUATE);
  EXPECT_EQ(evaluate.model_version(), 2u);
  served_.Stop();
  ASSERT_EQ(observer_.summaries.size(), 2u);
  for (const RoundSummary& summary : observer_.summaries) {
    EXPECT_FALSE(summary.selection) << "round " << summary.round_id;
    EXPECT_FALSE(summary.chosen_round) << "round " << summary.round_id;
    for (const auto& [cell, groups] : summary.validation.table()) {
      EXPECT_EQ(cell.modality, "fusion") << "round " << summary.round_id;
    }
  }
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

// A client whose shard does not fit the run's schema (here: another category
// order) is refused at the door, with the difference named; one that fits, or
// sends no schema, joins.
TEST_F(AggregatorTest, AClientWhoseSchemaDiffersIsRefusedAtJoin) {
  AggregatorOptions options = Options(1, 1);
  v1::DataSchema run;
  v1::DataSchema::Modality* tabular = run.add_modalities();
  tabular->set_name("tabular");
  tabular->set_kind("vector");
  tabular->set_dim(2);
  tabular->add_feature_names("job=office");
  tabular->add_feature_names("job=(other)");
  options.data_schema = run;
  Start(options);
  auto stub = Stub();
  auto join = [&](const std::string& name, const std::optional<v1::DataSchema>& schema) {
    v1::JoinRequest request;
    request.set_requested_client_id(name);
    if (schema) *request.mutable_capabilities()->mutable_data_schema() = *schema;
    v1::JoinResponse joined;
    grpc::ClientContext context;
    return stub->Join(&context, request, &joined);
  };
  v1::DataSchema other = run;
  other.mutable_modalities(0)->set_feature_names(0, "job=field");
  const grpc::Status refused = join("a", other);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(),
              HasSubstr("this run cannot use your data: its shard's modality 'tabular' feature 1: "
                        "'job=field'; the run's: 'job=office'"));
  EXPECT_TRUE(join("b", run).ok());
  EXPECT_TRUE(join("c", std::nullopt).ok());
}

TEST_F(AggregatorTest, AHugeClientIdIsRefusedWithABoundedMessage) {
  Start(Options(1, 1));
  auto stub = Stub();
  const std::string huge(10'000, 'x');
  v1::JoinRequest join;
  join.set_requested_client_id(huge);
  v1::JoinResponse joined;
  grpc::ClientContext join_context;
  const grpc::Status refused = stub->Join(&join_context, join, &joined);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(), HasSubstr("'... (10000 bytes) is not 1 to 64 letters"));
  EXPECT_LT(refused.error_message().size(), 300u);
  // Handlers that take the id of a joined client refuse it the same way.
  grpc::ClientContext poll_context;
  v1::PollTaskRequest poll;
  poll.set_run_id("run-test");
  poll.set_client_id(huge);
  v1::PollTaskResponse response;
  const grpc::Status poll_refused = stub->PollTask(&poll_context, poll, &response);
  EXPECT_EQ(poll_refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LT(poll_refused.error_message().size(), 300u);
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

// Every call that names a run is checked the same way, with the same message.
TEST_F(AggregatorTest, CallsForAnotherRunAreToldToJoinAgain) {
  Start(Options(1, 1));
  auto stub = Stub();
  v1::Task task = JoinAndPoll(*stub, "a");
  grpc::ClientContext poll_context;
  v1::PollTaskRequest poll;
  poll.set_run_id("run-old");
  poll.set_client_id("a");
  v1::PollTaskResponse polled;
  const grpc::Status poll_status = stub->PollTask(&poll_context, poll, &polled);
  EXPECT_EQ(poll_status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(poll_status.error_message(),
              HasSubstr("poll for run 'run-old': this server runs 'run-test'; join again"));
  grpc::ClientContext download_context;
  v1::DownloadModelRequest download;
  *download.mutable_round() = task.round();
  download.mutable_round()->set_run_id("run-old");
  auto reader = stub->DownloadModel(&download_context, download);
  v1::DownloadModelResponse message;
  EXPECT_FALSE(reader->Read(&message));
  EXPECT_THAT(reader->Finish().error_message(),
              HasSubstr("download for run 'run-old': this server runs 'run-test'"));
}

// Client-level DP: updates are clipped to the norm and count once each (not by
// their sample counts); a sample count of 60 does not make an update weigh more.
TEST_F(AggregatorTest, PrivacyClipsEveryUpdateAndWeighsClientsEqually) {
  AggregatorOptions options = Options(1, 3);
  options.privacy.clip_norm = 1.0;
  options.privacy.noise_multiplier = 1e-6;  // noise far below the tolerance
  Start(options);
  const std::vector<std::pair<std::string, uint64_t>> clients = {{"a", 10}, {"b", 30}, {"c", 60}};
  std::vector<std::vector<float>> updates(3, std::vector<float>(8));
  for (size_t k = 0; k < 3; ++k) {
    for (int i = 0; i < 8; ++i) updates[k][i] = static_cast<float>((k + 1) * (i % 3 - 1) + 0.1 * k);
  }
  std::vector<std::future<void>> running;
  for (size_t k = 0; k < 3; ++k) {
    running.push_back(std::async(std::launch::async, [&, k] {
      auto stub = Stub();
      const v1::Task task = JoinAndPoll(*stub, clients[k].first);
      EXPECT_TRUE(Upload(*stub, task, clients[k].first, updates[k], clients[k].second).accepted());
    }));
  }
  for (auto& client : running) client.get();
  ASSERT_THAT(served_.run.get(), IsOk());
  ASSERT_EQ(observer_.models.size(), 1u);
  // The reference, in float64: each update scaled to norm <= 1, then averaged.
  std::vector<double> expected(8, 0.0);
  for (const std::vector<float>& update : updates) {
    double norm = 0;
    for (float value : update) norm += static_cast<double>(value) * value;
    norm = std::sqrt(norm);
    for (int i = 0; i < 8; ++i) expected[i] += update[i] * std::min(1.0, 1.0 / norm) / 3;
  }
  const GlobalModel initial = InitialModel();
  for (int i = 0; i < 8; ++i) {
    EXPECT_NEAR(observer_.models[0][i], initial.values()[i] + expected[i], 1e-5) << i;
  }
  EXPECT_GT(observer_.summaries[0].privacy_epsilon, 0);
}

// The noise has the documented deviation σ_Δ·C / selected, and the reported ε is
// the Gaussian mechanism's: every client is selected (q = 1), so against replacing
// a client the RDP of T rounds is T·α / (2(σ/2)²) (GaussianMechanismEpsilon).
TEST_F(AggregatorTest, PrivacyNoiseHasTheDocumentedDeviationAndEpsilonIsAccounted) {
  constexpr int kRounds = 40;
  AggregatorOptions options = Options(kRounds, 1);
  options.privacy.clip_norm = 0.5;
  options.privacy.noise_multiplier = 2.0;
  Start(options);
  auto stub = Stub();
  for (int round = 1; round <= kRounds; ++round) {
    const v1::Task task = JoinAndPoll(*stub, "solo");
    ASSERT_EQ(task.round().round_id(), static_cast<uint64_t>(round));
    ASSERT_TRUE(Upload(*stub, task, "solo", std::vector<float>(8, 0.0f), 5).accepted());
  }
  ASSERT_THAT(served_.run.get(), IsOk());
  ASSERT_EQ(observer_.models.size(), static_cast<size_t>(kRounds));
  // Zero updates: every change of the model is noise, N(0, (2 · 0.5 / 1)²).
  double sum = 0;
  double squares = 0;
  const std::vector<double> changes = test_support::ModelChanges(InitialModel(), observer_.models);
  for (double change : changes) {
    sum += change;
    squares += change * change;
  }
  const double samples = static_cast<double>(changes.size());
  const double deviation = std::sqrt(squares / samples - (sum / samples) * (sum / samples));
  // σ_Δ·C: the update's share of z = 2 beside the statistics' z_s = 4 is
  // (1/4 − 1/16)^-1/2, so about 1.155 · 0.5 / 1.
  EXPECT_NEAR(deviation / (0.5 / std::sqrt(0.25 - 1.0 / 16)), 1.0, 0.15);
  EXPECT_NEAR(sum / samples, 0.0, 4 / std::sqrt(samples));
  EXPECT_NEAR(observer_.summaries.back().privacy_epsilon,
              test_support::GaussianMechanismEpsilon(kRounds, 2.0, 1e-5), 1e-9);
  EXPECT_LT(observer_.summaries.front().privacy_epsilon,
            observer_.summaries.back().privacy_epsilon);
}

// Client-level DP covers the statistics too: the server bounds each client's
// table (here within the bound: 300 samples of the fusion view, B = 1,000) and
// noises every entry of the grid with deviation σ = z_s·S on counts and confusion
// counts and σ·L on loss sums, S = 2B·√(2V) (aggregation/privacy/statistics_privacy.h);
// z_s = 0.01, V = 1: σ = 28.3 and 113. Over 40 rounds of two groups and two
// splits (160 draws per kind) each deviation's estimate is within 25% (4 of its
// standard errors), and the groups' standard errors include the noise. The update
// takes the rest of z: σ_Δ = (z^-2 − z_s^-2)^-1/2.
TEST_F(AggregatorTest, PrivacyNoisesTheStatisticsTheServerReceives) {
  constexpr int kRounds = 40;
  AggregatorOptions options = Options(kRounds, 1);
  options.privacy.clip_norm = 1.0;
  options.privacy.noise_multiplier = 0.005;
  options.privacy.statistics_noise_multiplier = 0.01;
  options.privacy.statistics_samples_per_view = 1000;
  options.privacy.statistics_loss_clip = 4;
  options.statistics.languages = {"en"};
  options.statistics.groups = {"f", "m"};
  options.statistics.num_classes = 2;
  Start(options);
  const auto add_groups = [](v1::GroupStatistics& split) {
    for (const char* group : {"f", "m"}) {
      v1::GroupCellStatistics& cell = *split.add_cells();
      cell.mutable_cell()->set_language("en");
      cell.mutable_cell()->set_modality("fusion");
      cell.set_group(group);
      cell.set_sample_count(150);
      cell.set_loss_sum(300);         // losses of 2 nats
      cell.set_loss_square_sum(900);  // and their spread
      cell.set_num_classes(2);
      for (uint64_t count : {50, 25, 25, 50}) cell.add_confusion(count);
    }
  };
  auto stub = Stub();
  for (int round = 1; round <= kRounds; ++round) {
    const v1::Task task = JoinAndPoll(*stub, "solo");
    ASSERT_TRUE(
        Upload(*stub, task, "solo", std::vector<float>(8, 0.0f), 5, [&](v1::UpdateHeader& header) {
          header.clear_train_statistics();
          add_groups(*header.mutable_train_statistics());
          add_groups(*header.mutable_validation_statistics());
        }).accepted());
  }
  ASSERT_THAT(served_.run.get(), IsOk());
  ASSERT_EQ(observer_.summaries.size(), static_cast<size_t>(kRounds));
  const double sigma = 0.01 * 2 * 1000 * std::sqrt(2.0);
  std::vector<double> count_errors;
  std::vector<double> loss_errors;
  std::vector<double> confusion_errors;
  for (const RoundSummary& summary : observer_.summaries) {
    for (const fairness::StatisticsSum* split : {&summary.train, &summary.validation}) {
      const fairness::GroupsOfCell& groups = split->table().at(fairness::Cell{"en", "fusion", ""});
      for (const char* name : {"f", "m"}) {
        const fairness::GroupStatistics& group = groups.at(name);
        count_errors.push_back(static_cast<double>(group.count) - 150);
        loss_errors.push_back(group.loss_sum - 300);
        confusion_errors.push_back(static_cast<double>(group.confusion[0]) - 50);
        EXPECT_DOUBLE_EQ(group.noise.count, sigma * sigma);
        EXPECT_DOUBLE_EQ(group.noise.loss_sum, sigma * sigma * 16);
        // The mean's standard error includes the noise's (e_S − m·e_n) / n: 0.85 at
        // the true sums, 0.12 without the noise. Noised sums move it (0.499 once, with
        // a bound of 0.5), but it stays above 0.3 unless the count is about 8
        // deviations high.
        EXPECT_GT(fairness::EstimateGroupLoss(group).standard_error, 0.3);
      }
    }
  }
  for (const auto& [errors, deviation] :
       {std::pair{&count_errors, sigma}, {&loss_errors, sigma * 4}, {&confusion_errors, sigma}}) {
    double squares = 0;
    for (double error : *errors) squares += error * error;
    EXPECT_NEAR(std::sqrt(squares / static_cast<double>(errors->size())) / deviation, 1.0, 0.25);
  }
  // The update's noise: zero updates, so every change is N(0, (σ_Δ·C)²).
  const double update_sigma = 1 / std::sqrt(1 / (0.005 * 0.005) - 1 / (0.01 * 0.01));
  const std::vector<double> changes = test_support::ModelChanges(InitialModel(), observer_.models);
  double squares = 0;
  for (double change : changes) squares += change * change;
  EXPECT_NEAR(std::sqrt(squares / static_cast<double>(changes.size())) / update_sigma, 1.0, 0.15);
}

// Adaptive clipping with a trusted aggregator: the server counts the updates
// within the norm, and the next round's norm follows (Andrew et al. 2021).
TEST_F(AggregatorTest, AdaptiveClippingKeepsANormAtTheQuantile) {
  AggregatorOptions options = Options(3, 2);
  options.privacy.clip_norm = 1.0;
  options.privacy.noise_multiplier = 1e-6;
  options.privacy.adaptive_clipping = true;
  options.privacy.clip_count_stddev = 1e-5;
  Start(options);
  for (int round = 1; round <= 3; ++round) {
    UploadLongAndShortUpdates();
  }
  ASSERT_THAT(served_.run.get(), IsOk());
  ASSERT_EQ(observer_.summaries.size(), 3u);
  // Round 1 at C = 1: b = 1/2 = γ, so C stays; likewise afterwards.
  EXPECT_NEAR(observer_.summaries[0].clip_norm, 1.0, 1e-9);
  EXPECT_NEAR(observer_.summaries[1].clip_norm, 1.0, 1e-3);
  EXPECT_NEAR(observer_.summaries[2].clip_norm, 1.0, 1e-3);
}

TEST_F(AggregatorTest, AdaptiveClippingGrowsTheNormWhenTooManyAreClipped) {
  AggregatorOptions options = Options(2, 2);
  options.privacy.clip_norm = 1.0;
  options.privacy.noise_multiplier = 1e-6;
  options.privacy.adaptive_clipping = true;
  options.privacy.target_quantile = 0.9;
  options.privacy.clip_count_stddev = 1e-5;
  Start(options);
  for (int round = 1; round <= 2; ++round) {
    UploadLongAndShortUpdates();
  }
  ASSERT_THAT(served_.run.get(), IsOk());
  ASSERT_EQ(observer_.summaries.size(), 2u);
  // b = 1/2 against γ = 0.9: C grows by exp(0.2 · 0.4).
  EXPECT_NEAR(observer_.summaries[1].clip_norm, std::exp(0.08), 1e-3);
}

// A model with standardisation tensors: "weight" [2, 3] = 1 ... 6, "bias" [2] and
// the identity standardisation of a two-feature modality "tabular".
GlobalModel StandardisedModel() {
  static const std::vector<float> weight = {1, 2, 3, 4, 5, 6};
  static const std::vector<float> bias = {-1, 0.5f};
  static const std::vector<float> shift = {0, 0};
  static const std::vector<float> scale = {1, 1};
  absl::StatusOr<GlobalModel> model = GlobalModel::FromTensors(
      {{"weight", v1::DATA_TYPE_FLOAT32, {2, 3}, std::as_bytes(std::span(weight))},
       {"bias", v1::DATA_TYPE_FLOAT32, {2}, std::as_bytes(std::span(bias))},
       {"standardisation.tabular.shift",
        v1::DATA_TYPE_FLOAT32,
        {2},
        std::as_bytes(std::span(shift))},
       {"standardisation.tabular.scale",
        v1::DATA_TYPE_FLOAT32,
        {2},
        std::as_bytes(std::span(scale))}});
  EXPECT_THAT(model, IsOk());
  return *std::move(model);
}

// Uploads `values` (the model's 12) for `task` with the header `edit` fills in.
v1::UploadUpdateResponse UploadTo(v1::Aggregator::Stub& stub, const v1::Task& task,
                                  const std::string& name, const std::vector<float>& values,
                                  const std::function<void(v1::UpdateHeader&)>& edit) {
  GlobalModel layout = StandardisedModel();
  std::vector<protocol::TensorView> views;
  if (!values.empty()) {
    std::copy(values.begin(), values.end(), layout.values().begin());
    views = layout.Views();
  }
  absl::StatusOr<protocol::ChunkEncoder> encoder = protocol::ChunkEncoder::Create(views, {});
  EXPECT_THAT(encoder, IsOk());
  v1::UpdateHeader header;
  header.set_client_id(name);
  edit(header);
  grpc::ClientContext context;
  v1::UploadUpdateResponse response;
  auto writer = stub.UploadUpdate(&context, &response);
  (void)protocol::WriteUpdateStream(task.round(), header, *encoder, *writer);
  writer->WritesDone();
  EXPECT_THAT(writer->Finish(), IsOk());
  return response;
}

// Round 0 of a model with standardisation tensors: every client reports its
// moments, impossible moments are refused, and the pooled mean and 1 / deviation
// become the tensors round 1 downloads. Round 1's updates (here +1 on every value,
// with client-level DP noise on top) move the weights but never the
// standardisation.
TEST_F(AggregatorTest, FeatureMomentsRoundSetsTheStandardisationThatTrainingKeeps) {
  AggregatorOptions options = Options(1, 3);
  options.privacy.clip_norm = 100.0;
  options.privacy.noise_multiplier = 0.001;  // a deviation of 0.033 on every value
  served_.Start(options, StandardisedModel(), &observer_);
  channel_ = served_.Channel();
  // Feature 1 takes 1, 3 at a and 5, 7 at b: mean 4, variance 5. Feature 2 takes
  // 10, 20 and 30, 40: mean 25, variance 125. Client c has no such vectors.
  const std::map<std::string, std::vector<double>> moments = {
      {"a", {2, 4, 30, 10, 500}}, {"b", {2, 12, 70, 74, 2500}}, {"c", {0, 0, 0, 0, 0}}};
  std::vector<std::future<void>> running;
  for (const auto& [name, sums] : moments) {
    running.push_back(std::async(std::launch::async, [&, name = name, sums = sums] {
      auto stub = Stub();
      const v1::Task task = JoinAndPoll(*stub, name);
      EXPECT_EQ(task.kind(), v1::TASK_KIND_FEATURE_MOMENTS);
      EXPECT_EQ(task.round().round_id(), 0u);
      EXPECT_EQ(task.model_version(), 0u);
      const auto with = [](std::vector<double> values) {
        return [values](v1::UpdateHeader& header) {
          header.mutable_feature_moments()->Assign(values.begin(), values.end());
        };
      };
      if (name == "c") {
        EXPECT_THAT(UploadTo(*stub, task, name, {}, with({0, 0})).message(),
                    HasSubstr("the model's 1 standardised modalities need 5"));
        EXPECT_THAT(UploadTo(*stub, task, name, {}, with({2, 4, 0, 7, 0})).message(),
                    HasSubstr("'tabular' feature 0 are impossible"));
      }
      const v1::UploadUpdateResponse response = UploadTo(*stub, task, name, {}, with(sums));
      EXPECT_TRUE(response.accepted()) << name << ": " << response.message();
    }));
  }
  for (auto& client : running) client.get();

  running.clear();
  for (const auto& [name, sums] : moments) {
    running.push_back(std::async(std::launch::async, [&, name = name] {
      auto stub = Stub();
      const v1::Task task = JoinAndPoll(*stub, name);
      EXPECT_EQ(task.kind(), v1::TASK_KIND_TRAIN);
      EXPECT_EQ(task.round().round_id(), 1u);
      EXPECT_EQ(task.model_version(), 0u);
      const v1::UploadUpdateResponse response =
          UploadTo(*stub, task, name, std::vector<float>(12, 1.0f),
                   [](v1::UpdateHeader& header) { header.set_num_train_samples(4); });
      EXPECT_TRUE(response.accepted()) << name << ": " << response.message();
    }));
  }
  for (auto& client : running) client.get();
  ASSERT_THAT(served_.run.get(), IsOk());
  ASSERT_EQ(observer_.models.size(), 1u);  // round 0 is not recorded
  const std::vector<float>& model = observer_.models[0];
  const std::vector<float> standardisation = {4, 25, static_cast<float>(1 / std::sqrt(5.0)),
                                              static_cast<float>(1 / std::sqrt(125.0))};
  EXPECT_EQ(std::vector<float>(model.begin() + 8, model.end()), standardisation);
  EXPECT_NEAR(model[0], 2.0, 0.2);  // weight 1, moved by the mean update 1 plus noise
}

// A round 0 that no client reports to stops the run before round 1 with the reason,
// rather than training on features it could not standardise.
TEST_F(AggregatorTest, ARoundZeroWithoutMomentsStopsTheRunBeforeRoundOne) {
  AggregatorOptions options = Options(1, 1);
  options.rounds.round_deadline = 1s;
  served_.Start(options, StandardisedModel(), &observer_);
  channel_ = served_.Channel();
  auto stub = Stub();
  const v1::Task task = JoinAndPoll(*stub, "a");  // taken, never answered
  EXPECT_EQ(task.kind(), v1::TASK_KIND_FEATURE_MOMENTS);
  const absl::Status run = served_.run.get();
  EXPECT_THAT(run, StatusIs(absl::StatusCode::kUnavailable,
                            "round 0 (feature moments): no client reported its feature moments "
                            "before the round's deadline (1 s)"));
  EXPECT_THAT(std::string(run.message()), HasSubstr("the run stops before round 1"));
  EXPECT_TRUE(observer_.summaries.empty());
}

TEST(AggregatorOptionsTest, RefusesRobustRulesTheRunCannotApply) {
  AggregatorOptions options = test_support::TestOptions("run", 1, 2, 1s);
  options.robust_aggregation.rule = aggregation::AggregationRule::kMedian;
  EXPECT_THAT(options.Validate(), IsOk());
  options.privacy.clip_norm = 1;
  EXPECT_THAT(options.Validate().message(),
              HasSubstr("aggregation rule median does not go with client-level DP"));
  options.robust_aggregation.rule = aggregation::AggregationRule::kMean;
  EXPECT_THAT(options.Validate().message(),
              HasSubstr("client-level DP needs the data's schema to noise every group's "
                        "statistics"));
  options.privacy.clip_norm = 0;
  options.robust_aggregation.rule = aggregation::AggregationRule::kTrimmedMean;
  options.robust_aggregation.trim_fraction = 0.6;
  EXPECT_THAT(options.Validate().message(), HasSubstr("trim_fraction is 0.6"));
}

}  // namespace
}  // namespace equifl::server
