#include "server/run_folder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::server {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

GlobalModel Model(float offset) {
  std::vector<float> weight = {1, 2, 3, 4, 5, 6};
  std::vector<float> bias = {-1.5f, 0.25f};
  for (float& value : weight) value += offset;
  absl::StatusOr<GlobalModel> model = GlobalModel::FromTensors(
      {{"encoder.weight", v1::DATA_TYPE_FLOAT32, {2, 3}, std::as_bytes(std::span(weight))},
       {"encoder.bias", v1::DATA_TYPE_FLOAT32, {2}, std::as_bytes(std::span(bias))}});
  EXPECT_THAT(model, IsOk());
  return *std::move(model);
}

class RunFolderTest : public ::testing::Test {
 protected:
  const test::TemporaryFolder folder_{"run"};
  const std::string path_ = folder_ / "run";  //!< Not there until a test opens it.
};

TEST_F(RunFolderTest, NewFolderHasNoCheckpoint) {
  absl::StatusOr<std::unique_ptr<RunFolder>> folder = RunFolder::Open(path_, "run-1");
  ASSERT_THAT(folder, IsOk());
  absl::StatusOr<std::optional<RunFolder::Checkpoint>> latest = (*folder)->LoadLatest();
  ASSERT_THAT(latest, IsOk());
  EXPECT_FALSE(latest->has_value());
}

TEST_F(RunFolderTest, ResumeLoadsTheLastRoundsModelAndOptimiserState) {
  aggregation::ServerOptimizerOptions options;
  options.kind = aggregation::ServerOptimizerKind::kFedAdam;
  absl::StatusOr<aggregation::ServerOptimizer> optimizer =
      aggregation::ServerOptimizer::Create(options, 8);
  ASSERT_THAT(optimizer, IsOk());
  GlobalModel model = Model(0);
  {
    absl::StatusOr<std::unique_ptr<RunFolder>> folder = RunFolder::Open(path_, "run-1");
    ASSERT_THAT(folder, IsOk());
    ASSERT_THAT((*folder)->SaveInitialModel(model), IsOk());
    absl::StatusOr<std::optional<RunFolder::Checkpoint>> initial = (*folder)->LoadLatest();
    ASSERT_TRUE(initial.ok() && initial->has_value());
    EXPECT_EQ((*initial)->completed_rounds, 0u);
    for (uint64_t round = 1; round <= 2; ++round) {
      ASSERT_THAT(optimizer->Step(model.values(), std::vector<float>(8, 0.5f)), IsOk());
      RoundSummary summary;
      summary.round_id = round;
      summary.selected = {"a", "b"};
      summary.contributors = {"a"};
      ASSERT_THAT((*folder)->OnRoundClosed(summary, model, *optimizer), IsOk());
    }
  }
  // A new process: the run id comes from the folder.
  absl::StatusOr<std::unique_ptr<RunFolder>> folder = RunFolder::Open(path_, "");
  ASSERT_THAT(folder, IsOk());
  EXPECT_EQ((*folder)->run_id(), "run-1");
  absl::StatusOr<std::optional<RunFolder::Checkpoint>> latest = (*folder)->LoadLatest();
  ASSERT_THAT(latest, IsOk());
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->completed_rounds, 2u);
  EXPECT_TRUE(
      std::equal(model.values().begin(), model.values().end(), (*latest)->model.values().begin()));
  absl::StatusOr<aggregation::ServerOptimizer> restored =
      aggregation::ServerOptimizer::Create(options, 8);
  ASSERT_THAT(restored->Restore((*latest)->optimizer_state), IsOk());
  EXPECT_EQ(restored->steps(), 2u);
  EXPECT_EQ(restored->State(), optimizer->State());
}

TEST_F(RunFolderTest, AFolderOfAnotherRunIsRefused) {
  ASSERT_THAT(RunFolder::Open(path_, "run-1"), IsOk());
  EXPECT_THAT(RunFolder::Open(path_, "run-2").status().message(),
              HasSubstr("belongs to run 'run-1'"));
}

// The checkpoint is an ordinary safetensors file: Python's standard library and
// numpy read it in a few lines, independently of our reader.
TEST_F(RunFolderTest, CheckpointReadsWithPythonStandardLibraryAndNumpy) {
  absl::StatusOr<std::unique_ptr<RunFolder>> folder = RunFolder::Open(path_, "run-1");
  ASSERT_THAT(folder, IsOk());
  ASSERT_THAT((*folder)->SaveInitialModel(Model(0.125f)), IsOk());
  const std::string script = path_ + "/read.py";
  FILE* file = std::fopen(script.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fputs(R"py(
import json, struct, sys
import numpy as np
data = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
buffer = data[8 + n:]
def tensor(name):
    entry = header[name]
    assert entry["dtype"] == "F32", entry
    begin, end = entry["data_offsets"]
    return np.frombuffer(buffer[begin:end], dtype="<f4").reshape(entry["shape"])
assert header["__metadata__"]["format"] == "equifl-checkpoint"
assert header["__metadata__"]["round"] == "0"
np.testing.assert_array_equal(tensor("encoder.weight"),
                              np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32) + 0.125)
np.testing.assert_array_equal(tensor("encoder.bias"), np.array([-1.5, 0.25], dtype=np.float32))
print("python read the checkpoint")
)py",
             file);
  std::fclose(file);
  // Debian's interpreter, which python3-numpy (deploy/install-deps.sh) extends.
  const std::string command =
      std::string(EQUIFL_PYTHON) + " " + script + " " + (*folder)->ModelPath(0);
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

}  // namespace
}  // namespace equifl::server
