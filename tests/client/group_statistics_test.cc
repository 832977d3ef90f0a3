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
  const std::vector<GroupCellStatistics> cells = accumulator.Report();
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells[0].language, 0);
  EXPECT_EQ(cells[0].group, 1);
  EXPECT_EQ(cells[0].loss_sum, 0.375);
  EXPECT_EQ(cells[0].count, 2);
  EXPECT_EQ(cells[0].confusion, (std::vector<int64_t>{0, 1, 0, 1}));
  EXPECT_EQ(cells[1].language, 1);
  EXPECT_EQ(cells[1].group, 0);
  EXPECT_EQ(cells[1].loss_sum, 2.0);
  EXPECT_EQ(cells[1].count, 2);
  EXPECT_EQ(cells[1].confusion, (std::vector<int64_t>{1, 0, 0, 1}));
}

TEST(GroupStatisticsTest, EmptyReportsNothing) {
  EXPECT_TRUE(GroupStatisticsAccumulator(3).Report().empty());
}

}  // namespace
}  // namespace equifl::client
