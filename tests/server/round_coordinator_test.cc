#include "server/round_coordinator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "tests/testing/status_matchers.h"

namespace equifl::server {
namespace {

using ::equifl::test::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

RoundOptions Options(uint32_t rounds, uint32_t min_clients) {
  RoundOptions options;
  options.rounds = rounds;
  options.min_clients = min_clients;
  options.round_deadline = 5s;
  options.final_evaluation = false;
  return options;
}

absl::Status Commit(RoundCoordinator& coordinator, const std::string& client, uint64_t round,
                    int* folds = nullptr) {
  return coordinator.TryCommit(client, round, [folds] {
    if (folds) ++*folds;
    return absl::OkStatus();
  });
}

TEST(RoundCoordinatorTest, RoundOpensOnlyOnceEnoughClientsJoined) {
  RoundCoordinator coordinator(Options(1, 2), 0);
  coordinator.Join("a");
  auto opened = std::async(std::launch::async, [&] { return coordinator.OpenNextRound(); });
  EXPECT_EQ(opened.wait_for(100ms), std::future_status::timeout);
  coordinator.Join("a");  // Joining twice does not count twice.
  EXPECT_EQ(opened.wait_for(100ms), std::future_status::timeout);
  coordinator.Join("b");
  ASSERT_EQ(opened.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(opened.get(), 1u);
}

// A new run whose model standardises starts with round 0: every joined client
// (whatever the sampling rate) reports its moments, many-client polls see it too,
// and round 1 follows without round 0 counting as a completed round.
TEST(RoundCoordinatorTest, FeatureMomentsRoundZeroSelectsEveryClientBeforeRoundOne) {
  RoundOptions options = Options(2, 4);
  options.client_fraction = 0.5;
  options.feature_moments = true;
  RoundCoordinator coordinator(options, 0);
  for (const char* client : {"a", "b", "c", "d"}) coordinator.Join(client);
  ASSERT_EQ(coordinator.OpenNextRound(), 0u);
  EXPECT_TRUE(coordinator.IsFeatureMomentsRound(0));
  EXPECT_FALSE(coordinator.IsFeatureMomentsRound(1));
  const Assignment first = coordinator.WaitForAssignment("a", 20ms);
  EXPECT_EQ(first.kind, Assignment::Kind::kFeatureMoments);
  EXPECT_EQ(first.round_id, 0u);
  const auto others = coordinator.WaitForAssignments({"b", "c", "d"}, 20ms);
  ASSERT_EQ(others.size(), 3u);
  for (const auto& [client, assignment] : others) {
    EXPECT_EQ(assignment.kind, Assignment::Kind::kFeatureMoments) << client;
  }
  for (const char* client : {"a", "b", "c", "d"})
    EXPECT_THAT(Commit(coordinator, client, 0), IsOk());
  const RoundOutcome moments = coordinator.AwaitClose();
  EXPECT_EQ(moments.round_id, 0u);
  EXPECT_EQ(moments.contributors.size(), 4u);
  EXPECT_EQ(coordinator.completed_rounds(), 0u);
  EXPECT_FALSE(Commit(coordinator, "a", 0).ok());

  ASSERT_EQ(coordinator.OpenNextRound(), 1u);
  int trained = 0;
  for (const auto& [client, assignment] :
       coordinator.WaitForAssignments({"a", "b", "c", "d"}, 20ms)) {
    EXPECT_EQ(assignment.kind, Assignment::Kind::kTrain) << client;
    ++trained;
  }
  EXPECT_EQ(trained, 2);

  // A resumed run (a round already done) has no round 0.
  RoundCoordinator resumed(options, 1);
  for (const char* client : {"a", "b", "c", "d"}) resumed.Join(client);
  EXPECT_EQ(resumed.OpenNextRound(), 2u);
}

TEST(RoundCoordinatorTest, SelectedClientGetsItsTaskOnceOthersWait) {
  RoundOptions options = Options(1, 4);
  options.client_fraction = 0.5;
  options.seed = 3;
  RoundCoordinator coordinator(options, 0);
  for (const char* client : {"a", "b", "c", "d"}) coordinator.Join(client);
  ASSERT_EQ(coordinator.OpenNextRound(), 1u);
  int trained = 0;
  for (const char* client : {"a", "b", "c", "d"}) {
    const Assignment assignment = coordinator.WaitForAssignment(client, 20ms);
    if (assignment.kind == Assignment::Kind::kTrain) {
      ++trained;
      EXPECT_EQ(assignment.round_id, 1u);
      EXPECT_GT(assignment.deadline, std::chrono::system_clock::now());
      EXPECT_EQ(coordinator.WaitForAssignment(client, 20ms).kind, Assignment::Kind::kWait);
    } else {
      EXPECT_EQ(assignment.kind, Assignment::Kind::kWait);
    }
  }
  EXPECT_EQ(trained, 2);  // Half of four.
}

TEST(RoundCoordinatorTest, SelectionIsDeterministicForASeed) {
  auto selection = [](uint64_t seed) {
    RoundOptions options = Options(1, 10);
    options.client_fraction = 0.3;
    options.seed = seed;
    options.quorum = 1.0;
    options.round_deadline = 10ms;
    RoundCoordinator coordinator(options, 0);
    for (int i = 0; i < 10; ++i) coordinator.Join("client-" + std::to_string(i));
    coordinator.OpenNextRound();
    return coordinator.AwaitClose().selected;
  };
  EXPECT_EQ(selection(7), selection(7));
  EXPECT_EQ(selection(7).size(), 3u);
  EXPECT_NE(selection(7), selection(8));
}

// Under client-level DP the sample is drawn from a CSPRNG: the same seed gives
// other clients (8 of 64 alike twice by chance: 1 in 4.4 billion).
TEST(RoundCoordinatorTest, AnUnpredictableSelectionIgnoresTheSeed) {
  auto selection = [] {
    RoundOptions options = Options(1, 64);
    options.client_fraction = 0.125;
    options.seed = 7;
    options.round_deadline = 10ms;
    RoundCoordinator coordinator(options, 0, /*unpredictable_selection=*/true);
    for (int i = 0; i < 64; ++i) coordinator.Join("client-" + std::to_string(i));
    coordinator.OpenNextRound();
    return coordinator.AwaitClose().selected;
  };
  const std::vector<std::string> first = selection();
  EXPECT_EQ(first.size(), 8u);
  EXPECT_NE(first, selection());
}

// The accountant's q is selected / population: the clients joined when the round
// drew its sample, not those joined by the time it closes.
TEST(RoundCoordinatorTest, TheOutcomeNamesThePoolTheRoundSampled) {
  RoundOptions options = Options(1, 4);
  options.client_fraction = 0.5;
  options.round_deadline = 10ms;
  RoundCoordinator coordinator(options, 0);
  for (const char* client : {"a", "b", "c", "d"}) coordinator.Join(client);
  ASSERT_EQ(coordinator.OpenNextRound(), 1u);
  coordinator.Join("e");
  const RoundOutcome outcome = coordinator.AwaitClose();
  EXPECT_EQ(outcome.selected.size(), 2u);
  EXPECT_EQ(outcome.population, 4u);
  EXPECT_EQ(coordinator.JoinedCount(), 5u);
}

TEST(RoundCoordinatorTest, CommitsAreRefusedUnlessExpected) {
  RoundCoordinator coordinator(Options(2, 2), 0);
  coordinator.Join("a");
  coordinator.Join("b");
  ASSERT_EQ(coordinator.OpenNextRound(), 1u);
  int folds = 0;
  // "b" has not polled its task yet.
  EXPECT_THAT(Commit(coordinator, "b", 1, &folds).message(), HasSubstr("not given a task"));
  ASSERT_EQ(coordinator.WaitForAssignment("a", 1s).kind, Assignment::Kind::kTrain);
  EXPECT_THAT(Commit(coordinator, "a", 2, &folds).message(),
              HasSubstr("round 2 is not collecting updates; round 1 is"));
  EXPECT_THAT(coordinator.CheckUpload("a", 1), IsOk());
  EXPECT_THAT(Commit(coordinator, "a", 1, &folds), IsOk());
  EXPECT_EQ(Commit(coordinator, "a", 1, &folds).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(folds, 1);
  // A failing fold does not count.
  ASSERT_EQ(coordinator.WaitForAssignment("b", 1s).kind, Assignment::Kind::kTrain);
  EXPECT_FALSE(
      coordinator.TryCommit("b", 1, [] { return absl::DataLossError("bad checksum"); }).ok());
  EXPECT_THAT(Commit(coordinator, "b", 1, &folds), IsOk());
  const RoundOutcome outcome = coordinator.AwaitClose();
  EXPECT_TRUE(outcome.reached_quorum);
  EXPECT_THAT(outcome.contributors, ElementsAre("a", "b"));
}

TEST(RoundCoordinatorTest, QuorumClosesTheRoundEarly) {
  RoundOptions options = Options(1, 4);
  options.quorum = 0.5;
  options.round_deadline = 60s;
  RoundCoordinator coordinator(options, 0);
  for (const char* client : {"a", "b", "c", "d"}) coordinator.Join(client);
  coordinator.OpenNextRound();
  for (const char* client : {"a", "b", "c", "d"}) coordinator.WaitForAssignment(client, 1s);
  ASSERT_THAT(Commit(coordinator, "c", 1), IsOk());
  ASSERT_THAT(Commit(coordinator, "a", 1), IsOk());
  const auto start = std::chrono::steady_clock::now();
  const RoundOutcome outcome = coordinator.AwaitClose();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(outcome.reached_quorum);
  EXPECT_THAT(outcome.contributors, ElementsAre("c", "a"));
  EXPECT_THAT(Commit(coordinator, "b", 1).message(), HasSubstr("not collecting"));
}

TEST(RoundCoordinatorTest, DeadlineDropsStragglers) {
  RoundOptions options = Options(2, 3);
  options.round_deadline = 200ms;
  RoundCoordinator coordinator(options, 0);
  for (const char* client : {"a", "b", "c"}) coordinator.Join(client);
  coordinator.OpenNextRound();
  for (const char* client : {"a", "b", "c"}) coordinator.WaitForAssignment(client, 1s);
  ASSERT_THAT(Commit(coordinator, "b", 1), IsOk());
  const RoundOutcome outcome = coordinator.AwaitClose();
  EXPECT_FALSE(outcome.reached_quorum);
  EXPECT_THAT(outcome.contributors, ElementsAre("b"));
  EXPECT_EQ(coordinator.completed_rounds(), 1u);
  // The straggler's late update is refused; the next round opens without waiting.
  EXPECT_FALSE(Commit(coordinator, "a", 1).ok());
  EXPECT_EQ(coordinator.OpenNextRound(), 2u);
}

TEST(RoundCoordinatorTest, RunFinishesAfterItsRounds) {
  RoundOptions options = Options(1, 1);
  RoundCoordinator coordinator(options, 0);
  coordinator.Join("a");
  ASSERT_EQ(coordinator.OpenNextRound(), 1u);
  ASSERT_EQ(coordinator.WaitForAssignment("a", 1s).kind, Assignment::Kind::kTrain);
  ASSERT_THAT(Commit(coordinator, "a", 1), IsOk());
  coordinator.AwaitClose();
  EXPECT_EQ(coordinator.WaitForAssignment("a", 1s).kind, Assignment::Kind::kFinished);
  EXPECT_EQ(coordinator.OpenNextRound(), std::nullopt);
}

TEST(RoundCoordinatorTest, FinalEvaluationRoundAsksEveryClient) {
  RoundOptions options = Options(1, 2);
  options.final_evaluation = true;
  options.client_fraction = 0.5;
  RoundCoordinator coordinator(options, 1);  // The training round is done.
  coordinator.Join("a");
  coordinator.Join("b");
  ASSERT_EQ(coordinator.OpenNextRound(), 2u);
  EXPECT_TRUE(coordinator.IsEvaluationRound(2));
  for (const char* client : {"a", "b"}) {
    const Assignment assignment = coordinator.WaitForAssignment(client, 1s);
    EXPECT_EQ(assignment.kind, Assignment::Kind::kEvaluate) << client;
    ASSERT_THAT(Commit(coordinator, client, 2), IsOk());
  }
  EXPECT_EQ(coordinator.AwaitClose().contributors.size(), 2u);
  EXPECT_EQ(coordinator.WaitForAssignment("a", 1s).kind, Assignment::Kind::kFinished);
}

TEST(RoundCoordinatorTest, ResumeContinuesAfterTheCompletedRounds) {
  RoundCoordinator resumed(Options(5, 1), 3);
  resumed.Join("a");
  EXPECT_EQ(resumed.OpenNextRound(), 4u);
  RoundCoordinator done(Options(5, 1), 5);
  EXPECT_EQ(done.OpenNextRound(), std::nullopt);
}

TEST(RoundCoordinatorTest, StopWakesPollersAndTheDriver) {
  RoundCoordinator coordinator(Options(3, 2), 0);
  auto poll =
      std::async(std::launch::async, [&] { return coordinator.WaitForAssignment("a", 30s).kind; });
  auto open = std::async(std::launch::async, [&] { return coordinator.OpenNextRound(); });
  std::this_thread::sleep_for(50ms);
  coordinator.Stop();
  ASSERT_EQ(poll.wait_for(5s), std::future_status::ready);
  // Stopped, not finished: a resumed server goes on with the run.
  EXPECT_EQ(poll.get(), Assignment::Kind::kStopped);
  ASSERT_EQ(open.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(open.get(), std::nullopt);
}

TEST(RoundOptionsTest, ValidateNamesTheField) {
  RoundOptions options;
  options.quorum = 0;
  EXPECT_THAT(options.Validate().message(), HasSubstr("quorum is 0"));
  options = {};
  options.client_fraction = 1.5;
  EXPECT_THAT(options.Validate().message(), HasSubstr("client_fraction is 1.5"));
  options = {};
  options.rounds = 0;
  EXPECT_FALSE(options.Validate().ok());
  EXPECT_THAT(RoundOptions().Validate(), IsOk());
}

TEST(RoundCoordinatorTest, BatchPollHandsEachListedSelectedClientItsTaskOnce) {
  RoundOptions options = Options(2, 6);
  options.client_fraction = 0.5;
  options.seed = 11;
  RoundCoordinator coordinator(options, 0);
  const std::vector<std::string> everyone = {"a", "b", "c", "d", "e", "f"};
  for (const std::string& client : everyone) coordinator.Join(client);
  // Nothing before a round opens: the poll times out empty.
  EXPECT_TRUE(coordinator.WaitForAssignments(everyone, 20ms).empty());
  ASSERT_EQ(coordinator.OpenNextRound(), 1u);

  // A worker hosting a, b, c gets exactly its selected clients' tasks.
  const std::vector<std::string> hosted = {"a", "b", "c"};
  const auto tasks = coordinator.WaitForAssignments(hosted, 20ms);
  std::vector<std::string> tasked;
  for (const auto& [client, assignment] : tasks) {
    EXPECT_EQ(assignment.kind, Assignment::Kind::kTrain);
    EXPECT_EQ(assignment.round_id, 1u);
    tasked.push_back(client);
  }
  // The rest of the selection (three of six) goes to the other worker.
  const auto others = coordinator.WaitForAssignments({"d", "e", "f"}, 20ms);
  EXPECT_EQ(tasks.size() + others.size(), 3u);
  for (const auto& [client, assignment] : others) {
    EXPECT_THAT(hosted, ::testing::Not(::testing::Contains(client)));
  }
  // Handed out once: polling again, by batch or one by one, yields nothing.
  EXPECT_TRUE(coordinator.WaitForAssignments(everyone, 20ms).empty());
  for (const std::string& client : tasked) {
    EXPECT_EQ(coordinator.WaitForAssignment(client, 5ms).kind, Assignment::Kind::kWait);
    EXPECT_THAT(Commit(coordinator, client, 1), IsOk());
  }

  // A poll already waiting returns when the next round opens.
  for (const auto& [client, assignment] : others)
    EXPECT_THAT(Commit(coordinator, client, 1), IsOk());
  auto next =
      std::async(std::launch::async, [&] { return coordinator.WaitForAssignments(everyone, 5s); });
  EXPECT_EQ(coordinator.AwaitClose().contributors.size(), 3u);
  EXPECT_EQ(next.wait_for(50ms), std::future_status::timeout);
  ASSERT_EQ(coordinator.OpenNextRound(), 2u);
  ASSERT_EQ(next.wait_for(5s), std::future_status::ready);
  const auto second = next.get();
  EXPECT_EQ(second.size(), 3u);
  for (const auto& [client, assignment] : second) EXPECT_EQ(assignment.round_id, 2u);

  coordinator.Stop();
  const auto finished = coordinator.WaitForAssignments(everyone, 20ms);
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished.front().second.kind, Assignment::Kind::kFinished);
}

}  // namespace
}  // namespace equifl::server
