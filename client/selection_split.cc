#include "client/selection_split.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>
#include <vector>

#include "base/random.h"

namespace equifl::client {
namespace {

// The selection split's own random stream: fixed, so a client's split is the same
// every round (and every run on the same data).
constexpr uint64_t kSelectionSeed = 0x5e1ec7;

}  // namespace

SelectionIndices SplitForSelection(const Dataset& dataset, double share) {
  const at::Tensor language = dataset.language.to(at::kCPU).to(at::kLong).contiguous();
  const at::Tensor group = dataset.group.to(at::kCPU).to(at::kLong).contiguous();
  const int64_t* sample_language = language.data_ptr<int64_t>();
  const int64_t* sample_group = group.data_ptr<int64_t>();
  std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> strata;
  for (int64_t sample = 0; sample < dataset.size(); ++sample) {
    strata[{sample_language[sample], sample_group[sample]}].push_back(sample);
  }
  random::Engine engine = random::MakeEngine(kSelectionSeed, 0);
  std::vector<bool> selected(static_cast<size_t>(dataset.size()), false);
  for (auto& [stratum, samples] : strata) {
    const auto keep = static_cast<size_t>(std::floor(static_cast<double>(samples.size()) * share));
    random::Shuffle(engine, samples);
    for (size_t i = 0; i < keep; ++i) selected[static_cast<size_t>(samples[i])] = true;
  }
  std::vector<int64_t> validation;
  std::vector<int64_t> selection;
  for (int64_t sample = 0; sample < dataset.size(); ++sample) {
    (selected[static_cast<size_t>(sample)] ? selection : validation).push_back(sample);
  }
  const auto as_tensor = [](const std::vector<int64_t>& indices) {
    return at::tensor(at::ArrayRef<int64_t>(indices), at::kLong);
  };
  return {as_tensor(validation), as_tensor(selection)};
}

}  // namespace equifl::client
