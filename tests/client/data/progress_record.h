// What a test's import told its ImportProgress (client/data/import_split.h), stage
// by stage, and the checks every import's progress must pass.
#ifndef EQUIFL_TESTS_CLIENT_DATA_PROGRESS_RECORD_H_
#define EQUIFL_TESTS_CLIENT_DATA_PROGRESS_RECORD_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <vector>

#include "client/data/import_split.h"

namespace equifl::client {

struct ProgressRecord {
  std::vector<ImportStage> stages;  //!< In the order they began.
  std::map<ImportStage, std::vector<uint64_t>> done;
  std::map<ImportStage, uint64_t> total;
  ImportProgress Callback() {
    return [this](ImportStage stage, uint64_t done_now, uint64_t total_now) {
      if (stages.empty() || stages.back() != stage) stages.push_back(stage);
      done[stage].push_back(done_now);
      total[stage] = total_now;
    };
  }
  //! Each stage began at 0, never went back, and ended at its total.
  void ExpectEveryStageFromZeroToTotal() const {
    for (const auto& [stage, counts] : done) {
      SCOPED_TRACE(static_cast<int>(stage));
      ASSERT_FALSE(counts.empty());
      EXPECT_EQ(counts.front(), 0u);
      EXPECT_TRUE(std::is_sorted(counts.begin(), counts.end()));
      EXPECT_EQ(counts.back(), total.at(stage));
    }
  }
};

}  // namespace equifl::client

#endif  // EQUIFL_TESTS_CLIENT_DATA_PROGRESS_RECORD_H_
