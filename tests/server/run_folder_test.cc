#include "server/run_folder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "server/checkpoint_integrity.h"
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

// A second server on a folder in use is refused, naming the holder's pid; the
// lock goes with the holder.
TEST_F(RunFolderTest, AFolderInUseIsRefusedWithTheHoldersPid) {
  absl::StatusOr<std::unique_ptr<RunFolder>> holder = RunFolder::Open(path_, "run-1");
  ASSERT_THAT(holder, IsOk());
  absl::StatusOr<std::unique_ptr<RunFolder>> second = RunFolder::Open(path_, "");
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("in use by another equifl server (pid " +
                                                   std::to_string(::getpid()) + ")"));
  holder->reset();
  EXPECT_THAT(RunFolder::Open(path_, ""), IsOk());
}

class RecordedRunTest : public RunFolderTest {
 protected:
  // Records rounds 1 to 3 of run-1, each model different, and closes the folder.
  void SetUp() override {
    absl::StatusOr<aggregation::ServerOptimizer> optimizer =
        aggregation::ServerOptimizer::Create({}, 8);
    ASSERT_THAT(optimizer, IsOk());
    absl::StatusOr<std::unique_ptr<RunFolder>> folder = RunFolder::Open(path_, "run-1");
    ASSERT_THAT(folder, IsOk());
    ASSERT_THAT((*folder)->SaveInitialModel(Model(0)), IsOk());
    for (uint64_t round = 1; round <= 3; ++round) {
      RoundSummary summary;
      summary.round_id = round;
      ASSERT_THAT((*folder)->OnRoundClosed(summary, Model(static_cast<float>(round)), *optimizer),
                  IsOk());
    }
  }

  std::string Checkpoint(uint64_t round) const {
    return path_ + "/checkpoints/round-00000" + std::to_string(round) + ".safetensors";
  }

  // Flips one bit of the last byte of `path` (a model value).
  static void FlipLastBit(const std::string& path) {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(-1, std::ios::end);
    const char last = static_cast<char>(file.get());
    file.seekp(-1, std::ios::end);
    file.put(static_cast<char>(last ^ 1));
  }

  absl::StatusOr<std::optional<RunFolder::Checkpoint>> Resume(bool fall_back) {
    absl::StatusOr<std::unique_ptr<RunFolder>> folder = RunFolder::Open(path_, "");
    if (!folder.ok()) return folder.status();
    return (*folder)->LoadLatest(fall_back);
  }
};

TEST_F(RecordedRunTest, AnUntouchedRunResumesAfterItsLastRound) {
  absl::StatusOr<std::optional<RunFolder::Checkpoint>> latest = Resume(false);
  ASSERT_THAT(latest, IsOk());
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->completed_rounds, 3u);
  EXPECT_THAT(VerifyCheckpointFile(Checkpoint(3)), IsOk());
}

TEST_F(RecordedRunTest, AFlippedBitIsAClearErrorNamingTheFile) {
  FlipLastBit(Checkpoint(3));
  absl::StatusOr<std::optional<RunFolder::Checkpoint>> latest = Resume(false);
  EXPECT_EQ(latest.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(latest.status().message(), HasSubstr(Checkpoint(3)));
  EXPECT_THAT(latest.status().message(), HasSubstr("--resume-from-last-good"));
  EXPECT_EQ(VerifyCheckpointFile(Checkpoint(3)).code(), absl::StatusCode::kDataLoss);
}

TEST_F(RecordedRunTest, AnOlderRoundsFileCopiedOverTheLatestIsRefused) {
  std::filesystem::copy_file(Checkpoint(1), Checkpoint(3),
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(Resume(false).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(RecordedRunTest, ACorruptOptimiserStateIsRefused) {
  FlipLastBit(path_ + "/checkpoints/round-000003.optimizer.safetensors");
  EXPECT_EQ(Resume(false).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(RecordedRunTest, FallingBackTakesTheNewestRoundThatVerifiesAndForgetsTheRest) {
  FlipLastBit(Checkpoint(3));
  FlipLastBit(Checkpoint(2));
  absl::StatusOr<std::optional<RunFolder::Checkpoint>> latest = Resume(true);
  ASSERT_THAT(latest, IsOk());
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->completed_rounds, 1u);
  EXPECT_EQ((*latest)->model.values()[0], 2.0f);  // Model(1): 1 + 1
  // The history now ends at round 1: a plain --resume continues from there.
  absl::StatusOr<std::optional<RunFolder::Checkpoint>> again = Resume(false);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ((*again)->completed_rounds, 1u);
}

// A model that diverged is recorded with a matching digest: its values refuse it.
TEST_F(RunFolderTest, ACheckpointOfNaNIsRefused) {
  {
    absl::StatusOr<std::unique_ptr<RunFolder>> folder = RunFolder::Open(path_, "run-1");
    ASSERT_THAT(folder, IsOk());
    GlobalModel model = Model(0);
    ASSERT_THAT((*folder)->SaveInitialModel(model), IsOk());
    std::fill(model.values().begin(), model.values().end(), std::nanf(""));
    absl::StatusOr<aggregation::ServerOptimizer> optimizer =
        aggregation::ServerOptimizer::Create({}, 8);
    RoundSummary summary;
    summary.round_id = 1;
    ASSERT_THAT((*folder)->OnRoundClosed(summary, model, *optimizer), IsOk());
  }
  absl::StatusOr<std::unique_ptr<RunFolder>> folder = RunFolder::Open(path_, "");
  ASSERT_THAT(folder, IsOk());
  absl::StatusOr<std::optional<RunFolder::Checkpoint>> latest = (*folder)->LoadLatest();
  EXPECT_EQ(latest.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(latest.status().message(), HasSubstr("NaN or infinite values in tensor"));
  EXPECT_EQ(VerifyCheckpointFile((*folder)->ModelPath(1)).code(), absl::StatusCode::kDataLoss);
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
