// GroupStatisticsAccumulator: one cell per (language, group), sums and confusions.
#include "client/group_statistics.h"

#include <gtest/gtest.h>

namespace equifl::client {
namespace {

TEST(GroupStatisticsTest, SumsPerLanguageAndGroupInOrder) {
  GroupStatisticsAccumulator accumulator(/*num_classes=*/2);
  accumulator.Add(/*language=*/1, /*group=*/0, 0.5, /*label=*/1, /*prediction=*/1);
  accumulator.Add(0, 1, 0.25, 0, 1);
  accumulator.Add(1, 0, 1.5, 0, 0);
  accumulator.Add(0, 1, 0.125, 1, 1);
  const GroupSums sums = accumulator.Report();
  ASSERT_EQ(sums.size(), 2u);
  const auto& [first_key, first] = *sums.begin();
  const auto& [second_key, second] = *std::next(sums.begin());
  EXPECT_EQ(first_key.language, 0);
  EXPECT_EQ(first_key.group, 1);
  EXPECT_EQ(first.loss_sum, 0.375);
  EXPECT_EQ(first.loss_square_sum, 0.078125);  // 0.25² + 0.125²
  EXPECT_EQ(first.count, 2u);
  EXPECT_EQ(first.confusion, (std::vector<uint64_t>{0, 1, 0, 1}));
  EXPECT_EQ(second_key.language, 1);
  EXPECT_EQ(second_key.group, 0);
  EXPECT_EQ(second.loss_sum, 2.0);
  EXPECT_EQ(second.loss_square_sum, 2.5);  // 0.5² + 1.5²
  EXPECT_EQ(second.count, 2u);
  EXPECT_EQ(second.confusion, (std::vector<uint64_t>{1, 0, 0, 1}));
}

TEST(GroupStatisticsTest, EmptyReportsNothing) {
  EXPECT_TRUE(GroupStatisticsAccumulator(3).Report().empty());
}

TEST(GroupStatisticsTest, NamedStatisticsNameCellsAndGroups) {
  GroupStatisticsAccumulator accumulator(/*num_classes=*/2);
  accumulator.Add(/*language=*/1, /*group=*/0, 0.5, 1, 1);
  accumulator.Add(/*language=*/2, /*group=*/1, 0.25, 0, 1);  // language 2 has no name
  const fairness::StatisticsTable table =
      NamedStatistics(accumulator.Report(), {"en", "de"}, {"female", "male"}, "video");
  ASSERT_EQ(table.size(), 2u);
  EXPECT_EQ(table.at({"de", "video", ""}).at("female").loss_sum, 0.5);
  EXPECT_EQ(table.at({"2", "video", ""}).at("male").count, 1u);
}

}  // namespace
}  // namespace equifl::client
