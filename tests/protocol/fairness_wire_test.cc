// Group statistics and the fairness directive through their one wire conversion,
// and a round's sum of statistics received from clients (fairness::StatisticsSum).
#include "protocol/fairness_wire.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "fairness/statistics_sum.h"
#include "tests/testing/status_matchers.h"

namespace equifl::protocol {
namespace {

using ::equifl::test::IsOk;
using fairness::StatisticsSum;
using ::testing::HasSubstr;

v1::GroupStatistics Statistics(const std::string& language, const std::string& group,
                               double loss_sum, uint64_t count, std::vector<uint64_t> confusion) {
  v1::GroupStatistics statistics;
  v1::GroupCellStatistics* cell = statistics.add_cells();
  cell->mutable_cell()->set_language(language);
  cell->set_group(group);
  cell->set_loss_sum(loss_sum);
  cell->set_sample_count(count);
  cell->set_num_classes(2);
  for (uint64_t value : confusion) cell->add_confusion(value);
  return statistics;
}

// Adds a received message to `sum`, as the server does with an upload's statistics.
absl::Status Add(StatisticsSum& sum, const v1::GroupStatistics& message) {
  absl::StatusOr<fairness::StatisticsTable> table = StatisticsFromProto(message);
  if (!table.ok()) return table.status();
  return sum.Add(*table);
}

TEST(StatisticsSumTest, SumsMatchingCellsAndKeepsOthersApart) {
  StatisticsSum sum;
  ASSERT_THAT(Add(sum, Statistics("en", "female", 3.0, 4, {2, 1, 0, 1})), IsOk());
  ASSERT_THAT(Add(sum, Statistics("en", "female", 1.0, 2, {1, 0, 0, 1})), IsOk());
  ASSERT_THAT(Add(sum, Statistics("de", "male", 2.0, 4, {0, 2, 0, 2})), IsOk());
  EXPECT_EQ(sum.samples(), 10u);
  EXPECT_DOUBLE_EQ(sum.mean_loss(), 6.0 / 10);
  // Correct: (2 + 1) + (1 + 1) + (0 + 2) = 7 of 10.
  ASSERT_TRUE(sum.accuracy().has_value());
  EXPECT_DOUBLE_EQ(*sum.accuracy(), 0.7);
  const v1::GroupStatistics proto = StatisticsToProto(sum.table());
  ASSERT_EQ(proto.cells_size(), 2);
  EXPECT_EQ(proto.cells(1).cell().language(), "en");  // "de" sorts first.
  EXPECT_EQ(proto.cells(1).sample_count(), 6u);
  EXPECT_THAT(proto.cells(1).confusion(), ::testing::ElementsAre(3, 1, 0, 2));
}

TEST(StatisticsSumTest, EmptySumHasDefinedValues) {
  StatisticsSum sum;
  EXPECT_EQ(sum.samples(), 0u);
  EXPECT_EQ(sum.mean_loss(), 0.0);
  EXPECT_FALSE(sum.accuracy().has_value());
}

TEST(StatisticsSumTest, RefusesInconsistentStatisticsWithoutAddingAnything) {
  StatisticsSum sum;
  ASSERT_THAT(Add(sum, Statistics("en", "female", 1.0, 1, {1, 0, 0, 0})), IsOk());
  v1::GroupStatistics bad = Statistics("en", "male", 1.0, 1, {1, 0, 0});
  EXPECT_THAT(Add(sum, bad).message(), HasSubstr("3 confusion counts for 2 classes"));
  bad = Statistics("en", "female", 1.0, 1, {1, 0, 0, 0, 0, 0, 0, 0, 0});
  bad.mutable_cells(0)->set_num_classes(3);
  EXPECT_THAT(Add(sum, bad).message(), HasSubstr("report 3 classes"));
  bad = Statistics("en", "female", -1.0, 1, {});
  EXPECT_THAT(Add(sum, bad).message(), HasSubstr("loss sum of -1"));
  EXPECT_EQ(sum.samples(), 1u);
}

TEST(FairnessWireTest, StatisticsRoundTripKeepingClientsAndViews) {
  fairness::StatisticsTable table;
  table[{"de", "video", "client-7"}]["f"] = {2.5, 3, 2, {1, 1, 0, 1}, 2.75};
  table[{"en", fairness::kFusionView, ""}]["m"] = {0.5, 1, 0, {}};
  absl::StatusOr<fairness::StatisticsTable> back = StatisticsFromProto(StatisticsToProto(table));
  ASSERT_THAT(back, IsOk());
  ASSERT_EQ(back->size(), 2u);
  const fairness::GroupStatistics& video = back->at({"de", "video", "client-7"}).at("f");
  EXPECT_EQ(video.loss_sum, 2.5);
  EXPECT_EQ(video.loss_square_sum, 2.75);
  EXPECT_EQ(video.count, 3u);
  EXPECT_EQ(video.num_classes, 2u);
  EXPECT_EQ(video.confusion, (std::vector<uint64_t>{1, 1, 0, 1}));
  EXPECT_EQ(back->at({"en", fairness::kFusionView, ""}).at("m").num_classes, 0u);
}

TEST(FairnessWireTest, RefusesALossSumThatIsNotFinite) {
  const absl::StatusOr<fairness::StatisticsTable> infinite =
      StatisticsFromProto(Statistics("en", "f", std::numeric_limits<double>::infinity(), 1, {}));
  EXPECT_THAT(infinite.status().message(), HasSubstr("loss sum of inf"));
}

TEST(FairnessWireTest, DirectiveRoundTrip) {
  fairness::FairnessDirective directive;
  directive.lambda = 0.5;
  directive.epsilon = 0.02;
  directive.aggregation_beta = 1.5;
  directive.up_weight_only = true;
  directive.weights = {{{"en", fairness::kFusionView, ""}, "f", 2.5},
                       {{"de", "audio", "client-1"}, "m", -1.0}};
  v1::FairnessDirective message;
  message.set_q(3);  // the caller's part stays
  DirectiveToProto(directive, message);
  EXPECT_EQ(message.q(), 3);
  const fairness::FairnessDirective back = DirectiveFromProto(message);
  EXPECT_EQ(back.lambda, 0.5);
  EXPECT_EQ(back.epsilon, 0.02);
  EXPECT_EQ(back.aggregation_beta, 1.5);
  EXPECT_TRUE(back.up_weight_only);
  ASSERT_EQ(back.weights.size(), 2u);
  EXPECT_EQ(back.weights[1].cell, (fairness::Cell{"de", "audio", "client-1"}));
  EXPECT_EQ(back.weights[1].group, "m");
  EXPECT_EQ(back.weights[1].weight, -1.0);
  EXPECT_EQ(FairnessMethodToProto(fairness::FairnessMethod::kFedAvg),
            v1::FAIRNESS_METHOD_UNSPECIFIED);
  EXPECT_EQ(FairnessMethodToProto(fairness::FairnessMethod::kFairFed), v1::FAIRNESS_METHOD_FAIRFED);
}

}  // namespace
}  // namespace equifl::protocol
