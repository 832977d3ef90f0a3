// Per-(language, group) loss and confusion statistics, the client's contribution
// to the fairness engine.
//
// The server needs, for every cell and group, the mean loss over all clients
// (MinMaxGAP, DESIGN.md): so clients report sums and counts, which add up across
// clients (and inside a secure-aggregation sum), never means. The confusion
// counts give accuracy, F1, equalised odds and statistical parity per group.
// Plain data, no LibTorch, so the fairness library can take it as it is.
#ifndef EQUIFL_CLIENT_GROUP_STATISTICS_H_
#define EQUIFL_CLIENT_GROUP_STATISTICS_H_

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace equifl::client {

//! The samples of one (language, group) pair.
struct GroupCellStatistics {
  int64_t language = 0;  //!< Language index, as in Dataset::language.
  int64_t group = 0;     //!< Sensitive-group index, as in Dataset::group.
  double loss_sum = 0;   //!< Sum of the per-sample task losses, accumulated in float64.
  int64_t count = 0;     //!< Samples counted.
  //! C x C counts, row-major: confusion[true_class * C + predicted_class].
  std::vector<int64_t> confusion;
};

//! Sums per-sample results into GroupCellStatistics, one cell per (language, group)
//! seen, in sample order (so the sums are reproducible).
class GroupStatisticsAccumulator {
 public:
  //! `num_classes` is C of the confusion counts.
  explicit GroupStatisticsAccumulator(int64_t num_classes);

  //! Counts one sample. `label` and `prediction` must lie in [0, C).
  void Add(int64_t language, int64_t group, double loss, int64_t label, int64_t prediction);

  //! The cells, sorted by (language, group).
  std::vector<GroupCellStatistics> Report() const;

 private:
  int64_t num_classes_;                                               //!< C.
  std::map<std::pair<int64_t, int64_t>, GroupCellStatistics> cells_;  //!< By (language, group).
};

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_GROUP_STATISTICS_H_
