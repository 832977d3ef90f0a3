// Builders of hand-made group statistics for the fairness tests.
#ifndef EQUIFL_TESTS_FAIRNESS_TEST_GROUPS_H_
#define EQUIFL_TESTS_FAIRNESS_TEST_GROUPS_H_

#include <cstdint>
#include <vector>

#include "fairness/group_statistics.h"

namespace equifl::fairness {

//! A group whose confusion matrix is `rows` (rows[true][predicted]); count = its total.
inline GroupStatistics Group(const std::vector<std::vector<uint64_t>>& rows, double loss_sum = 0) {
  GroupStatistics statistics;
  statistics.loss_sum = loss_sum;
  statistics.num_classes = static_cast<uint32_t>(rows.size());
  for (const auto& row : rows) {
    for (uint64_t n : row) {
      statistics.confusion.push_back(n);
      statistics.count += n;
    }
  }
  return statistics;
}

}  // namespace equifl::fairness

#endif  // EQUIFL_TESTS_FAIRNESS_TEST_GROUPS_H_
