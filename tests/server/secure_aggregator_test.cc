// The aggregator with secure aggregation over real gRPC on 127.0.0.1. Clients run
// the real client side (client::SecureRoundClient) with known inputs: the model
// moves by the weighted mean of their updates (float64 reference, within the
// fixed point's error) and the statistics add up, with no, one and n - t clients
// dropping after masking; with fewer survivors the run stops and nothing is
// revealed; and client-level DP splits its noise over the clients.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <future>
#include <string>
#include <vector>

#include "client/secure_round_client.h"
#include "protocol/tensor_stream.h"
#include "server/aggregator.h"
#include "tests/server/served_aggregator.h"
#include "tests/testing/status_matchers.h"

namespace equifl::server {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr size_t kModelSize = 8;

using test_support::InitialModel;
using test_support::JoinAndPoll;
using test_support::RecordingObserver;

// Where a scripted client stops taking part.
enum class Leaves { kNever, kAfterMasking, kBeforeUnmasking };

// What one scripted client did in a round.
struct ClientRun {
  absl::Status set_up;
  absl::Status uploaded;
  absl::Status unmasked;
};

class SecureAggregatorTest : public ::testing::Test {
 protected:
  static AggregatorOptions Options(uint32_t rounds, uint32_t clients) {
    AggregatorOptions options = test_support::TestOptions("run-secure", rounds, clients, 1s);
    options.secure_aggregation.enabled = true;
    options.secure_aggregation.phase_timeout = 3s;
    options.statistics = {{"en"}, {}, {"female", "male"}, 2};
    return options;
  }

  void Start(const AggregatorOptions& options) {
    served_.Start(options, InitialModel(), &observer_);
    channel_ = served_.Channel();
  }

  // Some runs are meant to fail; each test checks its run's result itself.
  void TearDown() override { served_.Stop(/*expect_ok=*/false); }

  // One client's round: `update` with weight `samples`, one training cell.
  ClientRun RunClient(const std::string& name, const v1::Task& task,
                      const std::vector<float>& update, uint64_t samples, Leaves leaves) {
    auto stub = v1::Aggregator::NewStub(channel_);
    ClientRun run;
    const client::ClientIdentity identity{"run-secure", name};
    absl::StatusOr<client::SecureRoundClient> secure =
        client::SecureRoundClient::Advertise(*stub, identity, task, kModelSize);
    run.set_up = secure.status();
    if (secure.ok()) run.set_up = secure->ShareKeys(*stub);
    if (run.set_up.ok()) run.set_up = secure->ReceiveShares(*stub);
    if (!run.set_up.ok() || leaves == Leaves::kAfterMasking) return run;
    aggregation::SecureInput input;
    std::vector<float> values = update;
    if (task.privacy().clip_norm() > 0) {
      absl::StatusOr<double> indicator = client::ApplyClientPrivacy(task.privacy(), values);
      EXPECT_THAT(indicator, IsOk());
      input.clip_indicator = *indicator;
      input.weight = 1;
    } else {
      input.weight = static_cast<double>(samples);
    }
    input.update = values;
    input.train_samples = samples;
    // Every sample's loss is 0.5.
    input.train[{"en", "fusion", ""}][samples % 20 == 0 ? "female" : "male"] = {
        0.5 * static_cast<double>(samples),
        samples,
        2,
        {samples, 0, 0, 0},
        0.25 * static_cast<double>(samples)};
    std::vector<double> noised;
    if (secure->layout().statistics.noised) {
      // Client-level DP: the statistics bounded and noised as the task says.
      absl::StatusOr<std::vector<double>> values = aggregation::NoiseClientStatistics(
          client::ClientNoiseOf(task.privacy()), secure->layout().statistics, input.train, {});
      EXPECT_THAT(values, IsOk());
      noised = *std::move(values);
      // A loss sum far beyond what any client's bounded, noised statistics reach.
      if (name == bogus_client_) noised[0] += 1e12;
      input.noised_statistics = noised;
    } else if (name == bogus_client_) {
      // Counts no honest client produces: more samples than confusion counts.
      input.train.begin()->second.begin()->second.count += 1000;
    }
    run.uploaded = secure->UploadMaskedInput(*stub, input, 1 << 20, 1);
    if (!run.uploaded.ok() || leaves == Leaves::kBeforeUnmasking) return run;
    run.unmasked = secure->Unmask(*stub);
    return run;
  }

  // Runs one round with clients named c0, c1, ...; client k sends updates[k] with
  // weight samples[k] and leaves as leaves[k] says.
  std::vector<ClientRun> RunRound(const std::vector<std::vector<float>>& updates,
                                  const std::vector<uint64_t>& samples,
                                  const std::vector<Leaves>& leaves) {
    std::vector<std::future<ClientRun>> running;
    for (size_t k = 0; k < updates.size(); ++k) {
      running.push_back(std::async(std::launch::async, [&, k] {
        auto stub = v1::Aggregator::NewStub(channel_);
        const std::string name = "c" + std::to_string(k);
        std::optional<v1::Task> task = JoinAndPoll(*stub, name, samples[k]);
        if (!task) return ClientRun{absl::InternalError("no task"), {}, {}};
        EXPECT_TRUE(task->has_secure_aggregation());
        return RunClient(name, *task, updates[k], samples[k], leaves[k]);
      }));
    }
    std::vector<ClientRun> runs;
    for (auto& client : running) runs.push_back(client.get());
    return runs;
  }

  static std::vector<std::vector<float>> TestUpdates(size_t clients) {
    std::vector<std::vector<float>> updates(clients, std::vector<float>(kModelSize));
    for (size_t k = 0; k < clients; ++k) {
      for (size_t i = 0; i < kModelSize; ++i) {
        updates[k][i] = static_cast<float>(0.01 * (k + 1) * (static_cast<int>(i % 3) - 1) +
                                           0.003 * static_cast<double>(i));
      }
    }
    return updates;
  }

  // The float64 weighted mean of the clients whose index is in `counted`.
  static std::vector<double> WeightedMean(const std::vector<std::vector<float>>& updates,
                                          const std::vector<uint64_t>& samples,
                                          const std::vector<size_t>& counted) {
    std::vector<double> mean(kModelSize, 0.0);
    double total = 0;
    for (size_t k : counted) total += static_cast<double>(samples[k]);
    for (size_t k : counted) {
      for (size_t i = 0; i < kModelSize; ++i) mean[i] += samples[k] * updates[k][i] / total;
    }
    return mean;
  }

  // The last round's model is the initial one moved by `mean`.
  void ExpectModelMovedBy(const std::vector<double>& mean) {
    ASSERT_FALSE(observer_.models.empty());
    const GlobalModel initial = InitialModel();
    for (size_t i = 0; i < kModelSize; ++i) {
      // The fixed point's error (update bound 1, 4 clients: about 1e-9) and float32.
      EXPECT_NEAR(observer_.models.back()[i], initial.values()[i] + mean[i], 2e-6) << i;
    }
  }

  RecordingObserver observer_;
  std::string bogus_client_;  //!< The client that sends impossible statistics, if any.
  test_support::ServedAggregator served_;
  std::shared_ptr<grpc::Channel> channel_;
};

const std::vector<uint64_t> kSamples = {10, 20, 30, 40};

TEST_F(SecureAggregatorTest, AppliesTheWeightedMeanAndSumsTheStatistics) {
  Start(Options(1, 4));
  const auto updates = TestUpdates(4);
  const std::vector<ClientRun> runs = RunRound(updates, kSamples, std::vector(4, Leaves::kNever));
  for (const ClientRun& run : runs) {
    EXPECT_THAT(run.set_up, IsOk());
    EXPECT_THAT(run.uploaded, IsOk());
    EXPECT_THAT(run.unmasked, IsOk());
  }
  ASSERT_THAT(served_.run.get(), IsOk());
  ExpectModelMovedBy(WeightedMean(updates, kSamples, {0, 1, 2, 3}));
  const RoundSummary& summary = observer_.summaries[0];
  EXPECT_TRUE(summary.secure);
  EXPECT_EQ(summary.contributors.size(), 4u);
  EXPECT_EQ(summary.train.samples(), 100u);
  EXPECT_NEAR(summary.train.mean_loss(), 0.5, 1e-6);
  EXPECT_NEAR(summary.total_weight, 100, 1e-4);
  EXPECT_EQ(summary.clamped_clients, 0u);
}

// The server cannot bound a masked update: the task carries the bound and each
// client scales its own update down to it before weighting and masking.
TEST_F(SecureAggregatorTest, ClientsBoundTheirUpdatesNormsAsTheTaskSays) {
  AggregatorOptions options = Options(1, 4);
  options.robust_aggregation.norm_bound = 0.05;
  Start(options);
  const auto updates = TestUpdates(4);
  const std::vector<ClientRun> runs = RunRound(updates, kSamples, std::vector(4, Leaves::kNever));
  for (const ClientRun& run : runs) EXPECT_THAT(run.unmasked, IsOk());
  ASSERT_THAT(served_.run.get(), IsOk());
  // The float64 reference: each update scaled to norm 0.05 if longer (norms 0.040,
  // 0.055, 0.073 and 0.094: clients 1 to 3 are scaled), then weighted by its samples.
  std::vector<std::vector<float>> bounded = updates;
  size_t scaled = 0;
  for (std::vector<float>& update : bounded) {
    double squares = 0;
    for (float value : update) squares += static_cast<double>(value) * value;
    if (std::sqrt(squares) <= 0.05) continue;
    ++scaled;
    for (float& value : update) value = static_cast<float>(value * 0.05 / std::sqrt(squares));
  }
  EXPECT_EQ(scaled, 3u);
  ExpectModelMovedBy(WeightedMean(bounded, kSamples, {0, 1, 2, 3}));
}

TEST_F(SecureAggregatorTest, RecoversOneClientDroppingAfterMasking) {
  AggregatorOptions options = Options(1, 4);
  options.rounds.round_deadline = 3s;  // c2 never uploads: the deadline closes the round
  Start(options);
  const auto updates = TestUpdates(4);
  const std::vector<ClientRun> runs = RunRound(
      updates, kSamples, {Leaves::kNever, Leaves::kNever, Leaves::kAfterMasking, Leaves::kNever});
  EXPECT_THAT(runs[0].unmasked, IsOk()) << runs[0].unmasked;
  ASSERT_THAT(served_.run.get(), IsOk());
  ExpectModelMovedBy(WeightedMean(updates, kSamples, {0, 1, 3}));
  EXPECT_THAT(observer_.summaries[0].contributors,
              ::testing::UnorderedElementsAre("c0", "c1", "c3"));
}

TEST_F(SecureAggregatorTest, RecoversNMinusTClientsLeavingAfterMasking) {
  // n = 4, threshold 0.5: t = 2 and the round needs 2 masked inputs. One client
  // never uploads and one uploads but never reveals its shares.
  AggregatorOptions options = Options(1, 4);
  options.rounds.round_deadline = 3s;
  Start(options);
  const auto updates = TestUpdates(4);
  const std::vector<ClientRun> runs =
      RunRound(updates, kSamples,
               {Leaves::kAfterMasking, Leaves::kNever, Leaves::kBeforeUnmasking, Leaves::kNever});
  ASSERT_THAT(served_.run.get(), IsOk());
  ExpectModelMovedBy(WeightedMean(updates, kSamples, {1, 2, 3}));
}

// With fewer than t survivors the round is abandoned, nothing revealed and the
// model unchanged, and the run goes on: its second round, which nobody joins in,
// is abandoned too, and the run ends.
TEST_F(SecureAggregatorTest, FewerThanTSurvivorsAbandonTheRoundWithoutRevealingAnything) {
  AggregatorOptions options = Options(2, 4);
  options.rounds.round_deadline = 3s;
  Start(options);
  const std::vector<ClientRun> runs = RunRound(
      TestUpdates(4), kSamples,
      {Leaves::kAfterMasking, Leaves::kAfterMasking, Leaves::kAfterMasking, Leaves::kNever});
  ASSERT_THAT(served_.run.get(), IsOk());
  // The survivor is told there is nothing to reveal, and reveals nothing.
  EXPECT_THAT(runs[3].uploaded, IsOk()) << runs[3].uploaded;
  EXPECT_THAT(runs[3].unmasked.message(), HasSubstr("nothing to reveal"));
  ASSERT_EQ(observer_.summaries.size(), 2u);
  EXPECT_THAT(observer_.summaries[0].abandoned, HasSubstr("only 1 masked inputs arrived"));
  EXPECT_TRUE(observer_.summaries[0].contributors.empty());
  EXPECT_FALSE(observer_.summaries[1].abandoned.empty());
  ExpectModelMovedBy(std::vector<double>(kModelSize, 0.0));
}

// A client inside secure aggregation whose masked input carries statistics no
// honest client sends (the hardening issue's SM): the server sees it only in the
// sum, abandons the round with the reason, keeps the model and runs the next round.
TEST_F(SecureAggregatorTest, AnImpossibleUnmaskedSumAbandonsTheRoundNotTheRun) {
  Start(Options(2, 3));
  bogus_client_ = "c2";
  const std::vector<uint64_t> samples = {10, 20, 30};
  const auto updates = TestUpdates(3);
  for (const ClientRun& run : RunRound(updates, samples, std::vector(3, Leaves::kNever))) {
    EXPECT_THAT(run.uploaded, IsOk());
  }
  bogus_client_.clear();
  for (const ClientRun& run : RunRound(updates, samples, std::vector(3, Leaves::kNever))) {
    EXPECT_THAT(run.unmasked, IsOk());
  }
  ASSERT_THAT(served_.run.get(), IsOk());
  ASSERT_EQ(observer_.summaries.size(), 2u);
  EXPECT_THAT(observer_.summaries[0].abandoned,
              HasSubstr("a client inside secure aggregation sent a bogus masked input"));
  EXPECT_THAT(observer_.summaries[0].abandoned, HasSubstr("adding up to 40 for 1040 samples"));
  EXPECT_TRUE(observer_.summaries[0].contributors.empty());
  EXPECT_TRUE(observer_.summaries[1].abandoned.empty());
  EXPECT_EQ(observer_.summaries[1].contributors.size(), 3u);
  // Only round 2 moved the model.
  ExpectModelMovedBy(WeightedMean(updates, samples, {0, 1, 2}));
}

// Under client-level DP the server saw round 1's noisy sum before it found it
// impossible: that release is charged, so round 1 spends one round's ε and round 2
// two (every client is selected: q = 1). A round abandoned before unmasking
// released nothing and is not charged.
TEST_F(SecureAggregatorTest, AnAbandonedRoundWhoseSumWasSeenIsCharged) {
  AggregatorOptions options = Options(2, 3);
  options.privacy.clip_norm = 0.5;
  options.privacy.noise_multiplier = 2.0;
  Start(options);
  bogus_client_ = "c2";
  const std::vector<uint64_t> samples = {10, 20, 30};
  const auto updates = TestUpdates(3);
  RunRound(updates, samples, std::vector(3, Leaves::kNever));
  bogus_client_.clear();
  RunRound(updates, samples, std::vector(3, Leaves::kNever));
  ASSERT_THAT(served_.run.get(), IsOk());
  ASSERT_EQ(observer_.summaries.size(), 2u);
  EXPECT_FALSE(observer_.summaries[0].abandoned.empty());
  EXPECT_NEAR(observer_.summaries[0].privacy_epsilon,
              test_support::GaussianMechanismEpsilon(1, 2.0, 1e-5), 1e-9);
  EXPECT_NEAR(observer_.summaries[1].privacy_epsilon,
              test_support::GaussianMechanismEpsilon(2, 2.0, 1e-5), 1e-9);
}

TEST_F(SecureAggregatorTest, RefusesAPlainUploadInASecureRound) {
  Start(Options(1, 2));
  auto stub = v1::Aggregator::NewStub(channel_);
  std::future<std::optional<v1::Task>> other = std::async(std::launch::async, [&] {
    auto other_stub = v1::Aggregator::NewStub(channel_);
    return JoinAndPoll(*other_stub, "c1", 10);
  });
  const std::optional<v1::Task> task = JoinAndPoll(*stub, "c0", 10);
  ASSERT_TRUE(task.has_value());
  other.get();
  GlobalModel layout = InitialModel();
  absl::StatusOr<protocol::ChunkEncoder> encoder =
      protocol::ChunkEncoder::Create(layout.Views(), {});
  ASSERT_THAT(encoder, IsOk());
  grpc::ClientContext context;
  v1::UploadUpdateResponse response;
  auto writer = stub->UploadUpdate(&context, &response);
  v1::UpdateHeader header;
  header.set_client_id("c0");
  header.set_num_train_samples(10);
  (void)protocol::WriteUpdateStream(task->round(), header, *encoder, *writer);
  writer->WritesDone();
  EXPECT_THAT(writer->Finish(), IsOk());
  EXPECT_FALSE(response.accepted());
  EXPECT_THAT(response.message(), HasSubstr("securely aggregated: send a masked input"));
}

// Client-level DP under secure aggregation: each of the 2 clients adds
// N(0, (σ_Δ C)² / m) with m the clients the round needs, so the sum's noise is at
// least N(0, (σ_Δ C)²) as with a trusted aggregator, and the mean over the 2
// selected has deviation σ_Δ C / 2 or more, σ_Δ = (z^-2 − z_s^-2)^-1/2 beside the
// statistics' z_s = 2z; ε is the Gaussian mechanism's at q = 1. The statistics
// carry each client's share of z_s·S (S = 2·100·√2 over the one view): at
// least (z_s·S)² in all.
TEST_F(SecureAggregatorTest, PrivacyNoiseIsSplitOverTheClients) {
  constexpr int kRounds = 12;
  AggregatorOptions options = Options(kRounds, 2);
  options.privacy.clip_norm = 0.5;
  options.privacy.noise_multiplier = 2.0;
  Start(options);
  for (int round = 1; round <= kRounds; ++round) {
    const std::vector<ClientRun> runs = RunRound(std::vector(2, std::vector<float>(kModelSize, 0)),
                                                 {5, 7}, {Leaves::kNever, Leaves::kNever});
    for (const ClientRun& run : runs) ASSERT_THAT(run.unmasked, IsOk());
  }
  ASSERT_THAT(served_.run.get(), IsOk());
  ASSERT_EQ(observer_.models.size(), static_cast<size_t>(kRounds));
  double squares = 0;
  const std::vector<double> changes = test_support::ModelChanges(InitialModel(), observer_.models);
  for (double change : changes) squares += change * change;
  ASSERT_EQ(changes.size(), kModelSize * kRounds);
  const double deviation = 0.5 / std::sqrt(0.25 - 1.0 / 16) / 2;
  EXPECT_NEAR(std::sqrt(squares / changes.size()), deviation, deviation * 0.25);  // ~4 s.e.
  const double statistics_sigma = 4 * 2 * 100 * std::sqrt(2.0);
  int entries = 0;  // a noised count rounds to 0 about half the time: most rounds have some
  for (const RoundSummary& summary : observer_.summaries) {
    for (const auto& [cell, groups] : summary.train.table()) {
      for (const auto& [group, statistics] : groups) {
        ++entries;
        EXPECT_GE(statistics.noise.count, statistics_sigma * statistics_sigma * (1 - 1e-9));
        EXPECT_DOUBLE_EQ(statistics.noise.loss_sum, statistics.noise.count * 16);
      }
    }
  }
  EXPECT_GT(entries, 0);
  EXPECT_NEAR(observer_.summaries.back().privacy_epsilon,
              test_support::GaussianMechanismEpsilon(kRounds, 2.0, 1e-5), 1e-9);
}

TEST(SecureAggregationOptionsTest, RefusesWhatSecureAggregationCannotDo) {
  AggregatorOptions options;
  options.run_id = "run";
  options.secure_aggregation.enabled = true;
  EXPECT_THAT(options.Validate().message(), HasSubstr("needs the data's schema"));
  options.statistics = {{"en"}, {}, {"female", "male"}, 2};
  options.rounds.min_clients = 1;
  EXPECT_THAT(options.Validate().message(), HasSubstr("needs min_clients >= 2"));
  options.rounds.min_clients = 2;
  EXPECT_THAT(options.Validate(), IsOk());
  options.fairness.method = fairness::FairnessMethod::kFairFed;
  EXPECT_THAT(options.Validate().message(), HasSubstr("fairfed"));
  options.fairness.method = fairness::FairnessMethod::kQFedAvg;
  EXPECT_THAT(options.Validate().message(), HasSubstr("set secure_aggregation.weight_bound"));
  options.secure_aggregation.weight_bound = 10;
  EXPECT_THAT(options.Validate(), IsOk());
  // A threshold above the expected survivors cannot size neighbourhoods; an
  // explicit k is the operator's choice.
  options.secure_aggregation.threshold = 0.8;
  EXPECT_THAT(options.Validate().message(),
              HasSubstr("expected_dropout 0.3 leaves on average 0.7 of each neighbourhood"));
  EXPECT_THAT(options.Validate().message(), HasSubstr("or set secure_aggregation.neighbours"));
  options.secure_aggregation.neighbours = 8;
  EXPECT_THAT(options.Validate(), IsOk());
  options.secure_aggregation.threshold = 1.5;
  EXPECT_THAT(options.Validate().message(), HasSubstr("threshold is 1.5"));
}

}  // namespace
}  // namespace equifl::server
