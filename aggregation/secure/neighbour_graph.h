// Who masks with whom in a secure round: SecAgg+'s sparse neighbour graph (Bell,
// Bonawitz, Gascón, Lepoint and Raykova, CCS 2020).
//
// Bonawitz et al.'s protocol pairs every client with every other, so each client
// expands n - 1 masks and shares its secrets n ways. SecAgg+ pairs each client
// with k neighbours only, O(log n) of them, which keeps the sum hidden from an
// honest-but-curious server as long as no honest client's neighbours are all
// corrupted. The graph here is a Harary graph (a ring lattice) over a random
// permutation of the clients: position i neighbours positions i ± 1, ..., i ± k/2.
// When k >= n - 1 every client neighbours every other: Bonawitz's complete graph.
// How large k and the threshold must be for a round's dropouts is
// neighbourhood_sizing.h's question.
#ifndef EQUIFL_AGGREGATION_SECURE_NEIGHBOUR_GRAPH_H_
#define EQUIFL_AGGREGATION_SECURE_NEIGHBOUR_GRAPH_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace equifl::aggregation {

//! Each of `clients` members' neighbours (member indices, sorted), for `neighbours`
//! (>= 1; rounded up to even; n - 1 or more: everyone) and the permutation `seed`.
absl::StatusOr<std::vector<std::vector<uint32_t>>> BuildNeighbourGraph(uint32_t clients,
                                                                       uint32_t neighbours,
                                                                       uint64_t seed);

//! Shares needed to rebuild a secret shared over a neighbourhood of `members`
//! clients (a client and its neighbours): ceil(fraction · members), at least 2
//! (a single share would be the secret) and at most `members`.
uint32_t ThresholdFor(uint32_t members, double fraction);

//! Masked inputs a round that selected `clients` needs to be unmasked:
//! ceil(fraction · clients), at least 2 (the sum of one input is the input).
uint32_t MinSurvivors(uint32_t clients, double fraction);

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_SECURE_NEIGHBOUR_GRAPH_H_
