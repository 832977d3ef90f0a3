#include "fairness/group_statistics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/testing/status_matchers.h"

namespace equifl::fairness {
namespace {

using ::equifl::test::IsOk;

GroupStatistics Stats(double loss_sum, uint64_t count, std::vector<uint64_t> confusion) {
  GroupStatistics statistics;
  statistics.loss_sum = loss_sum;
  statistics.count = count;
  statistics.num_classes = confusion.size() == 4 ? 2 : 0;
  statistics.confusion = std::move(confusion);
  return statistics;
}

TEST(GroupStatisticsTest, ReadsTheNumberOfADerivedViewsName) {
  EXPECT_EQ(NumberAfterPrefix("fusion@T=1.25", "fusion@T="), 1.25);
  EXPECT_EQ(NumberAfterPrefix("selection@0.3", "selection@"), 0.3);
  EXPECT_EQ(NumberAfterPrefix("selection@-2", "selection@"), -2);
  EXPECT_EQ(NumberAfterPrefix("fusion@T=", "fusion@T="), std::nullopt);
  EXPECT_EQ(NumberAfterPrefix("fusion@T=inf", "fusion@T="), std::nullopt);
  EXPECT_EQ(NumberAfterPrefix("fusion@T=nan", "fusion@T="), std::nullopt);
  EXPECT_EQ(NumberAfterPrefix("fusion@T=1.5x", "fusion@T="), std::nullopt);
  EXPECT_EQ(NumberAfterPrefix("video", "fusion@T="), std::nullopt);
}

TEST(GroupStatisticsTest, MeanLossOfEmptyGroupIsZero) {
  EXPECT_EQ(GroupStatistics{}.mean_loss(), 0.0);
  EXPECT_DOUBLE_EQ(Stats(3.0, 4, {}).mean_loss(), 0.75);
}

TEST(GroupStatisticsTest, AddsSumsCountsAndConfusion) {
  GroupStatistics sum = Stats(1.0, 2, {1, 0, 0, 1});
  ASSERT_THAT(AddInto(sum, Stats(2.5, 3, {1, 1, 0, 1})), IsOk());
  EXPECT_DOUBLE_EQ(sum.loss_sum, 3.5);
  EXPECT_EQ(sum.count, 5u);
  EXPECT_THAT(sum.confusion, testing::ElementsAre(2, 1, 0, 2));
}

TEST(GroupStatisticsTest, AddsSquaredLossesAndRefusesImpossibleOnes) {
  GroupStatistics sum = Stats(1.0, 2, {});
  sum.loss_square_sum = 0.5;
  GroupStatistics addend = Stats(2.5, 3, {});
  addend.loss_square_sum = 2.25;
  ASSERT_THAT(AddInto(sum, addend), IsOk());
  EXPECT_DOUBLE_EQ(sum.loss_square_sum, 2.75);
  for (double bad : {-1.0, std::numeric_limits<double>::infinity(), std::nan("")}) {
    addend.loss_square_sum = bad;
    EXPECT_THAT(AddInto(sum, addend).message(), testing::HasSubstr("sum of squared losses"));
  }
  EXPECT_DOUBLE_EQ(sum.loss_square_sum, 2.75);
}

TEST(GroupStatisticsTest, EmptySumTakesTheAddendsClasses) {
  GroupStatistics sum;
  ASSERT_THAT(AddInto(sum, Stats(1.0, 2, {1, 0, 0, 1})), IsOk());
  EXPECT_EQ(sum.num_classes, 2u);
  EXPECT_THAT(sum.confusion, testing::ElementsAre(1, 0, 0, 1));
}

TEST(GroupStatisticsTest, RefusesMismatchedClassesWithoutChangingTheSum) {
  GroupStatistics sum = Stats(1.0, 2, {1, 0, 0, 1});
  GroupStatistics three_classes;
  three_classes.num_classes = 3;
  three_classes.confusion.assign(9, 1);
  const absl::Status status = AddInto(sum, three_classes);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), testing::HasSubstr("3 classes"));
  EXPECT_EQ(sum.count, 2u);
  GroupStatistics bad_shape;
  bad_shape.num_classes = 2;
  bad_shape.confusion = {1, 2, 3};
  EXPECT_FALSE(AddInto(sum, bad_shape).ok());
}

TEST(GroupStatisticsTest, TableAddIsAllOrNothing) {
  StatisticsTable sum;
  sum[Cell{"en", "fusion", ""}]["f"] = Stats(1.0, 1, {1, 0, 0, 0});
  StatisticsTable addend;
  addend[Cell{"de", "fusion", ""}]["m"] = Stats(2.0, 2, {});
  GroupStatistics three_classes;
  three_classes.num_classes = 3;
  three_classes.confusion.assign(9, 0);
  addend[Cell{"en", "fusion", ""}]["f"] = three_classes;
  const absl::Status status = AddInto(sum, addend);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), testing::HasSubstr("language 'en'"));
  EXPECT_EQ(sum.size(), 1u);  // The valid "de" cell was not added either.
}

TEST(GroupStatisticsTest, CheckAddableSaysWhatAddIntoWouldWithoutAdding) {
  StatisticsTable sum;
  sum[Cell{"en", "fusion", ""}]["f"] = Stats(1.0, 1, {1, 0, 0, 0});
  StatisticsTable good;
  good[Cell{"en", "fusion", ""}]["f"] = Stats(2.0, 2, {0, 1, 1, 0});
  StatisticsTable bad = good;
  bad[Cell{"de", "fusion", ""}]["m"] = Stats(-1.0, 1, {});
  EXPECT_THAT(CheckAddable(sum, good), IsOk());
  const absl::Status refused = CheckAddable(sum, bad);
  EXPECT_EQ(refused, AddInto(sum, bad));
  EXPECT_THAT(std::string(refused.message()), testing::HasSubstr("language 'de'"));
  EXPECT_EQ(sum.size(), 1u);
  EXPECT_EQ(sum.at(Cell{"en", "fusion", ""}).at("f").count, 1u);  // Nothing added.
}

TEST(GroupStatisticsTest, PoolsClientsAndModalities) {
  StatisticsTable table;
  table[Cell{"en", "fusion", "a"}]["f"] = Stats(1.0, 1, {});
  table[Cell{"en", "fusion", "b"}]["f"] = Stats(2.0, 2, {});
  table[Cell{"de", "fusion", "a"}]["f"] = Stats(4.0, 4, {});
  table[Cell{"de", "video", "a"}]["m"] = Stats(8.0, 8, {});
  const StatisticsTable pooled = WithoutClients(table);
  ASSERT_EQ(pooled.size(), 3u);
  EXPECT_EQ((pooled.at(Cell{"en", "fusion", ""}).at("f").count), 3u);
  const GroupsOfCell fusion = PoolModality(table, "fusion");
  ASSERT_EQ(fusion.size(), 1u);
  EXPECT_EQ(fusion.at("f").count, 7u);
  EXPECT_DOUBLE_EQ(fusion.at("f").loss_sum, 7.0);
}

TEST(GroupStatisticsTest, PoolingLeavesOutConfusionOfAnotherClassCount) {
  StatisticsTable table;
  table[Cell{"en", "fusion", "a"}]["f"] = Stats(1.0, 1, {1, 0, 0, 0});
  GroupStatistics three_classes = Stats(2.0, 2, {});
  three_classes.num_classes = 3;
  three_classes.confusion.assign(9, 1);
  table[Cell{"en", "fusion", "b"}]["f"] = three_classes;
  const GroupStatistics pooled = WithoutClients(table).at(Cell{"en", "fusion", ""}).at("f");
  EXPECT_EQ(pooled.count, 3u);  // Losses and counts still add up.
  EXPECT_THAT(pooled.confusion, testing::ElementsAre(1, 0, 0, 0));
}

TEST(GroupStatisticsTest, OfViewsKeepsTheCellsOfTheNamedViewsOnly) {
  GroupStatistics group;
  group.count = 1;
  const StatisticsTable table = {{{"en", kFusionView, ""}, {{"f", group}}},
                                 {{"en", "video", ""}, {{"f", group}}},
                                 {{"ja", "audio", "a"}, {{"m", group}}}};
  const StatisticsTable fusion = OfViews(table, {kFusionView});
  ASSERT_EQ(fusion.size(), 1u);
  EXPECT_EQ(fusion.begin()->first, (Cell{"en", kFusionView, ""}));
  const StatisticsTable two = OfViews(table, {"audio", kFusionView});
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two.count(Cell{"ja", "audio", "a"}), 1u);
  EXPECT_TRUE(OfViews(table, {}).empty());
}

}  // namespace
}  // namespace equifl::fairness
