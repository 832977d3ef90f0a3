// Model state export and import: exact round trips, all-or-nothing refusals that
// name the tensor.
#include "client/model/model_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "client/model/multimodal_model.h"
#include "tests/client/synthetic_data.h"
#include "tests/testing/status_matchers.h"

namespace equifl::client {
namespace {

using ::equifl::test::IsOk;
using testing::SameState;

using ::testing::HasSubstr;
using testing::SmallModelOptions;

MultimodalModel MakeModel(uint64_t seed, EncoderKind encoder = EncoderKind::kTransformer) {
  torch::manual_seed(seed);
  ModelOptions options = SmallModelOptions(encoder);
  options.adversary = true;
  return *CreateMultimodalModel(options);
}

TEST(ModelStateTest, ExportNamesEveryParameterOnce) {
  MultimodalModel model = MakeModel(1);
  const std::vector<protocol::NamedTensor> state = ExportState(*model);
  ASSERT_EQ(state.size(), model->parameters().size() + model->buffers().size());
  std::set<std::string> names;
  for (const auto& named : state) {
    EXPECT_TRUE(names.insert(named.name).second) << named.name;
    EXPECT_FALSE(named.tensor.requires_grad()) << named.name;
  }
  EXPECT_TRUE(names.contains("encoders.video.blocks.0.attention.in_proj_weight"));
  EXPECT_TRUE(names.contains("fusion.query"));
  EXPECT_TRUE(names.contains("adversary_head.0.weight"));
}

TEST(ModelStateTest, RoundTripIsExact) {
  MultimodalModel source = MakeModel(1);
  MultimodalModel target = MakeModel(2);
  const std::vector<protocol::NamedTensor> state = ExportState(*source);
  ASSERT_FALSE(SameState(ExportState(*target), state));
  ASSERT_THAT(LoadState(*target, state), IsOk());
  EXPECT_TRUE(SameState(ExportState(*target), state));

  source->eval();
  target->eval();
  torch::NoGradGuard no_grad;
  const Dataset batch = testing::MakeSyntheticDataset({.samples = 8});
  EXPECT_TRUE(torch::equal(source->forward(batch).logits, target->forward(batch).logits));
}

TEST(ModelStateTest, ExportIsACopy) {
  MultimodalModel model = MakeModel(1);
  const std::vector<protocol::NamedTensor> state = ExportState(*model);
  const at::Tensor before = state[0].tensor.clone();
  {
    torch::NoGradGuard no_grad;
    model->parameters()[0].add_(1.0);
  }
  EXPECT_TRUE(torch::equal(state[0].tensor, before));
}

TEST(ModelStateTest, LoadRefusesMismatchesNamingTheTensorAndChangesNothing) {
  MultimodalModel source = MakeModel(1);
  MultimodalModel target = MakeModel(2);
  const std::vector<protocol::NamedTensor> original = ExportState(*target);
  const std::vector<protocol::NamedTensor> good = ExportState(*source);
  const auto refusal = [&](std::vector<protocol::NamedTensor> state) {
    const absl::Status status = LoadState(*target, state);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(SameState(ExportState(*target), original)) << "a refused load changed the model";
    return std::string(status.message());
  };

  std::vector<protocol::NamedTensor> missing = good;
  const std::string dropped = missing[3].name;
  missing.erase(missing.begin() + 3);
  EXPECT_THAT(refusal(missing), HasSubstr("lacks tensor '" + dropped + "'"));

  std::vector<protocol::NamedTensor> extra = good;
  extra.push_back({"encoders.audio.weight", torch::zeros({2})});
  EXPECT_THAT(refusal(extra), HasSubstr("'encoders.audio.weight', which the model does not have"));

  std::vector<protocol::NamedTensor> duplicate = good;
  duplicate.push_back(good[0]);
  EXPECT_THAT(refusal(duplicate), HasSubstr("'" + good[0].name + "' twice"));

  // The last tensor is wrong, so every earlier one would have been written by a
  // load that is not all or nothing.
  std::vector<protocol::NamedTensor> wrong_shape = good;
  wrong_shape.back().tensor = torch::zeros({wrong_shape.back().tensor.numel() + 1});
  EXPECT_THAT(refusal(wrong_shape), HasSubstr("'" + good.back().name + "' is Float"));

  std::vector<protocol::NamedTensor> wrong_type = good;
  wrong_type.back().tensor = wrong_type.back().tensor.to(torch::kDouble);
  EXPECT_THAT(refusal(wrong_type), HasSubstr("'" + good.back().name + "' is Double"));
}

}  // namespace
}  // namespace equifl::client
