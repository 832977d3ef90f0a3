// Per-(language, group) loss and confusion statistics of a client's samples, the
// client's contribution to the fairness engine.
//
// The server needs, for every cell and group, the mean loss over all clients
// (MinMaxGAP): so clients report sums and counts, which add up across clients (and
// inside a secure-aggregation sum), never means. The confusion counts give
// accuracy, F1, equalised odds and statistical parity per group. The trainer sees
// samples by language and group index; the sums are the fairness engine's own type
// (fairness::GroupStatistics) and NamedStatistics turns them into its table. Plain
// data, no LibTorch.
#ifndef EQUIFL_CLIENT_GROUP_STATISTICS_H_
#define EQUIFL_CLIENT_GROUP_STATISTICS_H_

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fairness/group_statistics.h"

namespace equifl::client {

//! A (language, group) pair as indices into a shard's language and group lists.
struct GroupKey {
  int64_t language = 0;  //!< As in Dataset::language.
  int64_t group = 0;     //!< As in Dataset::group.

  auto operator<=>(const GroupKey&) const = default;
};

//! Sums per (language, group), sorted by (language, group).
using GroupSums = std::map<GroupKey, fairness::GroupStatistics>;

//! Sums per-sample results, one entry per (language, group) seen, in sample order
//! (so the sums are reproducible).
class GroupStatisticsAccumulator {
 public:
  //! `num_classes` is C of the confusion counts.
  explicit GroupStatisticsAccumulator(int64_t num_classes);

  //! Counts one sample. `label` and `prediction` must lie in [0, C).
  void Add(int64_t language, int64_t group, double loss, int64_t label, int64_t prediction);

  //! The sums so far.
  const GroupSums& Report() const { return sums_; }

 private:
  uint32_t num_classes_;  //!< C.
  GroupSums sums_;
};

//! names[index], or the index written out when it lies beyond the list.
std::string NameOf(const std::vector<std::string>& names, int64_t index);

//! `sums` as the fairness engine's table: cells (language name, `view`), groups by
//! name, languages and groups named by NameOf.
fairness::StatisticsTable NamedStatistics(const GroupSums& sums,
                                          const std::vector<std::string>& languages,
                                          const std::vector<std::string>& groups,
                                          const std::string& view);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_GROUP_STATISTICS_H_
