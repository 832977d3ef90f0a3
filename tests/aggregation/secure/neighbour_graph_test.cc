// SecAgg+'s neighbour graph: symmetric, the asked degree, complete when small;
// thresholds and survivors needed.
#include "aggregation/secure/neighbour_graph.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace equifl::aggregation {
namespace {

bool Neighbours(const std::vector<std::vector<uint32_t>>& graph, uint32_t a, uint32_t b) {
  return std::binary_search(graph[a].begin(), graph[a].end(), b);
}

TEST(NeighbourGraphTest, RingLatticeIsSymmetricWithTheAskedDegree) {
  const auto graph = *BuildNeighbourGraph(50, 8, 7);
  ASSERT_EQ(graph.size(), 50u);
  for (uint32_t member = 0; member < 50; ++member) {
    EXPECT_EQ(graph[member].size(), 8u);
    EXPECT_FALSE(Neighbours(graph, member, member));
    for (uint32_t other : graph[member]) EXPECT_TRUE(Neighbours(graph, other, member));
  }
  EXPECT_NE(graph, *BuildNeighbourGraph(50, 8, 8));  // the seed permutes
  EXPECT_EQ(graph, *BuildNeighbourGraph(50, 8, 7));
}

TEST(NeighbourGraphTest, OddDegreesRoundUpAndLargeDegreesAreComplete) {
  EXPECT_EQ((*BuildNeighbourGraph(30, 5, 1))[0].size(), 6u);
  for (uint32_t neighbours : {9u, 20u}) {
    const auto graph = *BuildNeighbourGraph(10, neighbours, 1);
    for (const auto& around : graph) EXPECT_EQ(around.size(), 9u);
  }
}

TEST(NeighbourGraphTest, Thresholds) {
  EXPECT_EQ(ThresholdFor(10, 0.5), 5u);
  EXPECT_EQ(ThresholdFor(23, 0.5), 12u);
  EXPECT_EQ(ThresholdFor(3, 0.1), 2u);  // never a single share
  EXPECT_EQ(ThresholdFor(4, 1.0), 4u);
  EXPECT_EQ(MinSurvivors(10, 0.5), 5u);
  EXPECT_EQ(MinSurvivors(3, 0.5), 2u);
  EXPECT_EQ(MinSurvivors(2, 0.1), 2u);  // never a single input
  EXPECT_EQ(MinSurvivors(1000, 0.3), 300u);
}

}  // namespace
}  // namespace equifl::aggregation
