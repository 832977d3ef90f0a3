#include "aggregation/secure/neighbour_graph.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "base/random.h"

namespace equifl::aggregation {

absl::StatusOr<std::vector<std::vector<uint32_t>>> BuildNeighbourGraph(uint32_t clients,
                                                                       uint32_t neighbours,
                                                                       uint64_t seed) {
  if (neighbours == 0) {
    return absl::InvalidArgumentError("a neighbour graph needs at least one neighbour per client");
  }
  std::vector<std::vector<uint32_t>> graph(clients);
  if (clients <= 1) return graph;
  if (neighbours >= clients - 1) {
    for (uint32_t member = 0; member < clients; ++member) {
      for (uint32_t other = 0; other < clients; ++other) {
        if (other != member) graph[member].push_back(other);
      }
    }
    return graph;
  }
  const uint32_t half = (neighbours + 1) / 2;
  if (2 * half >= clients - 1) return BuildNeighbourGraph(clients, clients - 1, seed);
  std::vector<uint32_t> order(clients);
  std::iota(order.begin(), order.end(), 0);
  random::Engine engine = random::MakeEngine(seed, 0x5ec0a99);
  random::Shuffle(engine, order);
  for (uint32_t position = 0; position < clients; ++position) {
    std::vector<uint32_t>& around = graph[order[position]];
    for (uint32_t step = 1; step <= half; ++step) {
      around.push_back(order[(position + step) % clients]);
      around.push_back(order[(position + clients - step) % clients]);
    }
    std::sort(around.begin(), around.end());
  }
  return graph;
}

uint32_t ThresholdFor(uint32_t members, double fraction) {
  if (members <= 2) return members;
  const uint32_t wanted = static_cast<uint32_t>(std::ceil(fraction * members - 1e-9));
  return std::clamp<uint32_t>(wanted, 2, members);
}

uint32_t MinSurvivors(uint32_t clients, double fraction) {
  return std::max<uint32_t>(2, static_cast<uint32_t>(std::ceil(fraction * clients - 1e-9)));
}

}  // namespace equifl::aggregation
