#include "server/run_history.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::server {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class RunHistoryTest : public ::testing::Test {
 protected:
  static RoundRecord Record(uint64_t round) {
    RoundRecord record;
    record.round_id = round;
    record.checkpoint = "checkpoints/round-" + std::to_string(round) + ".safetensors";
    record.seconds = 1.5;
    record.reached_quorum = round % 2 == 1;
    record.selected = {"a", "b", "c"};
    record.contributors = {"a", "c"};
    record.train_samples = 300;
    record.train_loss = 0.75;
    record.validation_samples = 60;
    record.validation_loss = 0.8;
    if (round > 1) record.validation_accuracy = 0.5 + 0.1 * round;
    return record;
  }

  const test::TemporaryFolder folder_{"history"};
  const std::string path_ = folder_ / "history.db";
};

TEST_F(RunHistoryTest, NewRunHasNoRounds) {
  absl::StatusOr<RunHistory> history = RunHistory::Open(path_, "run-1");
  ASSERT_THAT(history, IsOk());
  absl::StatusOr<std::optional<RoundRecord>> last = history->LastRound();
  ASSERT_THAT(last, IsOk());
  EXPECT_FALSE(last->has_value());
}

TEST_F(RunHistoryTest, RoundsSurviveReopening) {
  {
    absl::StatusOr<RunHistory> history = RunHistory::Open(path_, "run-1");
    ASSERT_THAT(history, IsOk());
    ASSERT_THAT(history->RecordRound(Record(1)), IsOk());
    ASSERT_THAT(history->RecordRound(Record(2)), IsOk());
  }
  absl::StatusOr<RunHistory> history = RunHistory::Open(path_, "run-1");
  ASSERT_THAT(history, IsOk());
  absl::StatusOr<std::vector<RoundRecord>> rounds = history->Rounds();
  ASSERT_THAT(rounds, IsOk());
  ASSERT_EQ(rounds->size(), 2u);
  const RoundRecord& second = (*rounds)[1];
  EXPECT_EQ(second.round_id, 2u);
  EXPECT_EQ(second.checkpoint, "checkpoints/round-2.safetensors");
  EXPECT_FALSE(second.reached_quorum);
  EXPECT_THAT(second.selected, UnorderedElementsAre("a", "b", "c"));
  EXPECT_THAT(second.contributors, UnorderedElementsAre("a", "c"));
  EXPECT_EQ(second.train_samples, 300u);
  EXPECT_DOUBLE_EQ(second.validation_loss, 0.8);
  ASSERT_TRUE(second.validation_accuracy.has_value());
  EXPECT_DOUBLE_EQ(*second.validation_accuracy, 0.7);
  EXPECT_FALSE((*rounds)[0].validation_accuracy.has_value());
  EXPECT_EQ((*history->LastRound())->round_id, 2u);
}

TEST_F(RunHistoryTest, RecordingARoundTwiceFailsAndChangesNothing) {
  absl::StatusOr<RunHistory> history = RunHistory::Open(path_, "run-1");
  ASSERT_THAT(history, IsOk());
  ASSERT_THAT(history->RecordRound(Record(1)), IsOk());
  RoundRecord again = Record(1);
  again.contributors = {"b"};
  EXPECT_FALSE(history->RecordRound(again).ok());
  absl::StatusOr<std::vector<RoundRecord>> rounds = history->Rounds();
  ASSERT_EQ(rounds->size(), 1u);
  EXPECT_THAT((*rounds)[0].contributors, UnorderedElementsAre("a", "c"));
  // The transaction was rolled back: the history still takes the next round.
  EXPECT_THAT(history->RecordRound(Record(2)), IsOk());
}

TEST_F(RunHistoryTest, ControllerWeightsSurviveReopeningAndForgetting) {
  const fairness::Cell en{"en", "fusion", ""};
  const fairness::Cell de{"de", "video", "client-1"};
  {
    absl::StatusOr<RunHistory> history = RunHistory::Open(path_, "run-1");
    ASSERT_THAT(history, IsOk());
    for (uint64_t round : {1, 2}) {
      RoundRecord record = Record(round);
      const double step = static_cast<double>(round);
      record.controller.minmax_gap_weights = {{en, "f", 0.5 * step}, {de, "m", 2.0}};
      record.controller.group_weights = {{en, "f", 0.25 * step, 0.4}, {de, "f", 0.75, 0.0}};
      record.controller.client_weights = {{"a", 0.1 * step, 40}, {"b", 0.9, 10 * round}};
      fairness::ProbeCell streak;
      streak.cell = en;
      streak.lowest = 0.9 * step;
      streak.stalls = 1;
      fairness::ProbeCell settled;
      settled.cell = de;
      settled.floor = fairness::CellFloor{};
      settled.floor->round = round;
      settled.floor->gap = {de, "f", "m", 0.3, 0.25 * step, 0.1, 0.4};
      record.controller.floor_probe = {streak, settled};
      ASSERT_THAT(history->RecordRound(record), IsOk());
    }
  }
  absl::StatusOr<RunHistory> history = RunHistory::Open(path_, "run-1");
  ASSERT_THAT(history, IsOk());
  absl::StatusOr<ControllerWeights> second = history->ControllerWeightsAfter(2);
  ASSERT_THAT(second, IsOk());
  ASSERT_EQ(second->minmax_gap_weights.size(), 2u);
  EXPECT_EQ(second->minmax_gap_weights[0].cell, en);
  EXPECT_EQ(second->minmax_gap_weights[0].group, "f");
  EXPECT_DOUBLE_EQ(second->minmax_gap_weights[0].weight, 1.0);
  EXPECT_EQ(second->minmax_gap_weights[1].cell, de);
  ASSERT_EQ(second->group_weights.size(), 2u);
  EXPECT_DOUBLE_EQ(second->group_weights[0].weight, 0.5);
  EXPECT_DOUBLE_EQ(second->group_weights[0].share, 0.4);
  EXPECT_EQ(second->group_weights[1].cell.language, "de");
  ASSERT_EQ(second->client_weights.size(), 2u);
  EXPECT_EQ(second->client_weights[1].client, "b");
  EXPECT_EQ(second->client_weights[1].samples, 20u);
  EXPECT_DOUBLE_EQ(second->client_weights[0].weight, 0.2);
  ASSERT_EQ(second->floor_probe.size(), 2u);
  EXPECT_EQ(second->floor_probe[0].cell, en);
  EXPECT_EQ(second->floor_probe[0].lowest, 1.8);
  EXPECT_EQ(second->floor_probe[0].stalls, 1);
  EXPECT_FALSE(second->floor_probe[0].floor);
  EXPECT_FALSE(second->floor_probe[1].lowest);
  ASSERT_TRUE(second->floor_probe[1].floor);
  const fairness::CellFloor& floor = *second->floor_probe[1].floor;
  EXPECT_TRUE(floor.settled);
  EXPECT_EQ(floor.round, 2u);
  EXPECT_EQ(floor.gap.cell, de);
  EXPECT_EQ(floor.gap.worst_group, "f");
  EXPECT_EQ(floor.gap.best_group, "m");
  EXPECT_EQ(floor.gap.gap, 0.3);
  EXPECT_EQ(floor.gap.bias_corrected, 0.5);
  EXPECT_EQ(floor.gap.lower, 0.1);
  EXPECT_EQ(floor.gap.upper, 0.4);

  // --resume-from-last-good forgets round 2's weights with the round.
  ASSERT_THAT(history->ForgetRoundsAfter(1), IsOk());
  absl::StatusOr<ControllerWeights> forgotten = history->ControllerWeightsAfter(2);
  ASSERT_THAT(forgotten, IsOk());
  EXPECT_TRUE(forgotten->minmax_gap_weights.empty());
  EXPECT_TRUE(forgotten->group_weights.empty());
  EXPECT_TRUE(forgotten->client_weights.empty());
  EXPECT_TRUE(forgotten->floor_probe.empty());
  absl::StatusOr<ControllerWeights> first = history->ControllerWeightsAfter(1);
  ASSERT_THAT(first, IsOk());
  EXPECT_DOUBLE_EQ(first->group_weights[0].weight, 0.25);
  EXPECT_EQ(first->client_weights[1].samples, 10u);
}

TEST_F(RunHistoryTest, ModelSelectionSurvivesReopeningAndForgetting) {
  {
    absl::StatusOr<RunHistory> history = RunHistory::Open(path_, "run-1");
    ASSERT_THAT(history, IsOk());
    ASSERT_THAT(history->RecordRound(Record(1)), IsOk());  // judges nothing (initial model)
    for (uint64_t round : {2, 3}) {
      RoundRecord record = Record(round);
      fairness::SelectionJudgement judgement;
      judgement.model_round = round - 1;
      judgement.samples = 30 * round;
      if (round == 2) judgement.accuracy = fairness::ProportionInterval{0.6, 0.45, 0.73};
      judgement.bound.verdict =
          round == 2 ? fairness::BoundVerdict::kHeld : fairness::BoundVerdict::kViolated;
      judgement.bound.estimate = 0.1 * round;
      judgement.bound.lower = 0.05;
      judgement.bound.upper = 0.5;
      judgement.bound.text = "text " + std::to_string(round);
      record.selection = judgement;
      ASSERT_THAT(history->RecordRound(record), IsOk());
    }
  }
  absl::StatusOr<RunHistory> history = RunHistory::Open(path_, "run-1");
  ASSERT_THAT(history, IsOk());
  absl::StatusOr<std::vector<fairness::SelectionJudgement>> judged = history->SelectionJudgements();
  ASSERT_THAT(judged, IsOk());
  ASSERT_EQ(judged->size(), 2u);
  const fairness::SelectionJudgement& first = (*judged)[0];
  EXPECT_EQ(first.model_round, 1u);
  EXPECT_EQ(first.samples, 60u);
  ASSERT_TRUE(first.accuracy);
  EXPECT_DOUBLE_EQ(first.accuracy->lower, 0.45);
  EXPECT_DOUBLE_EQ(first.accuracy->upper, 0.73);
  EXPECT_EQ(first.bound.verdict, fairness::BoundVerdict::kHeld);
  EXPECT_DOUBLE_EQ(first.bound.estimate, 0.2);
  EXPECT_EQ(first.bound.text, "text 2");
  EXPECT_FALSE((*judged)[1].accuracy);
  EXPECT_EQ((*judged)[1].bound.verdict, fairness::BoundVerdict::kViolated);

  ASSERT_THAT(history->ForgetRoundsAfter(2), IsOk());
  judged = history->SelectionJudgements();
  ASSERT_THAT(judged, IsOk());
  ASSERT_EQ(judged->size(), 1u);
  EXPECT_EQ((*judged)[0].model_round, 1u);
}

TEST_F(RunHistoryTest, HistoryOfAnotherRunIsRefused) {
  ASSERT_THAT(RunHistory::Open(path_, "run-1"), IsOk());
  absl::StatusOr<RunHistory> other = RunHistory::Open(path_, "run-2");
  ASSERT_FALSE(other.ok());
  EXPECT_THAT(other.status().message(), HasSubstr("belongs to run 'run-1'"));
}

TEST_F(RunHistoryTest, UnopenablePathIsAClearError) {
  absl::StatusOr<RunHistory> history = RunHistory::Open("/nonexistent/dir/history.db", "run-1");
  ASSERT_FALSE(history.ok());
  EXPECT_THAT(history.status().message(), HasSubstr("/nonexistent/dir/history.db"));
}

}  // namespace
}  // namespace equifl::server
