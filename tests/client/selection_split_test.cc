#include "client/selection_split.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace equifl::client {
namespace {

std::vector<int64_t> Values(const at::Tensor& tensor) {
  const at::Tensor contiguous = tensor.contiguous();
  return {contiguous.data_ptr<int64_t>(), contiguous.data_ptr<int64_t>() + contiguous.numel()};
}

// Strata of 10, 7 and 1 samples, interleaved: the selection share 0.3 keeps
// floor(0.3·n) of each (3, 2 and 0) aside, the controllers get the rest and
// nothing else, and a second split of the same data is the same.
TEST(SelectionSplitTest, EachStratumKeepsItsShareAsideEveryRound) {
  std::vector<int64_t> language;
  std::vector<int64_t> group;
  for (int64_t k = 0; k < 10; ++k) {
    language.push_back(0);
    group.push_back(0);
    if (k < 7) {
      language.push_back(1);
      group.push_back(0);
    }
    if (k < 1) {
      language.push_back(0);
      group.push_back(1);
    }
  }
  Dataset dataset;
  dataset.language = torch::tensor(language, torch::kLong);
  dataset.group = torch::tensor(group, torch::kLong);
  dataset.label = torch::zeros({static_cast<int64_t>(language.size())}, torch::kLong);

  const SelectionIndices split = SplitForSelection(dataset, 0.3);
  std::map<std::pair<int64_t, int64_t>, int> selected;
  std::set<int64_t> seen;
  for (int64_t sample : Values(split.selection)) {
    ++selected[{language[sample], group[sample]}];
    EXPECT_TRUE(seen.insert(sample).second);
  }
  for (int64_t sample : Values(split.validation)) EXPECT_TRUE(seen.insert(sample).second);
  EXPECT_EQ(seen.size(), language.size());
  EXPECT_EQ((selected[{0, 0}]), 3);
  EXPECT_EQ((selected[{1, 0}]), 2);
  EXPECT_EQ((selected[{0, 1}]), 0);
  EXPECT_TRUE(torch::equal(SplitForSelection(dataset, 0.3).selection, split.selection));
}

// A periodic order does not steer the draw: with labels cycling 0, 1, 2 in one
// stratum of 3000, a third kept aside holds each label about equally often (every
// third sample would have held one label only).
TEST(SelectionSplitTest, APeriodicOrderDoesNotSteerTheDraw) {
  constexpr int64_t kSamples = 3000;
  Dataset dataset;
  dataset.language = torch::zeros({kSamples}, torch::kLong);
  dataset.group = torch::zeros({kSamples}, torch::kLong);
  dataset.label = torch::arange(kSamples, torch::kLong).remainder(3);
  const SelectionIndices split = SplitForSelection(dataset, 1.0 / 3);
  ASSERT_EQ(split.selection.numel(), 1000);
  const at::Tensor labels = dataset.label.index_select(0, split.selection);
  for (int64_t label = 0; label < 3; ++label) {
    // Binomial(1000, 1/3) would be within about 333 ± 45 (3 deviations); drawn without
    // replacement it is tighter still.
    EXPECT_NEAR(labels.eq(label).sum().item<int64_t>(), 333, 45) << "label " << label;
  }
}

}  // namespace
}  // namespace equifl::client
