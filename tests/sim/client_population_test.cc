// The virtual clients' data: one pool spread over the clients (every sample once,
// skewed as asked), or one client per shard of a folder.
#include "sim/client_population.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::sim {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

SimulationOptions SmallPool(int clients, int samples) {
  SimulationOptions options;
  options.clients = clients;
  options.synthetic.samples_per_client = samples;
  options.synthetic.frames = 4;
  options.synthetic.video_dim = 4;
  options.synthetic.audio_dim = 4;
  options.synthetic.text_dim = 4;
  options.synthetic.missing_rate = 0;  // every sample's text identifies it
  return options;
}

std::unique_ptr<ClientPopulation> Create(const SimulationOptions& options) {
  absl::StatusOr<std::unique_ptr<ClientPopulation>> population =
      ClientPopulation::Create(options, /*pin_memory=*/false);
  EXPECT_THAT(population, IsOk());
  return population.ok() ? *std::move(population) : nullptr;
}

TEST(ClientPopulationTest, PoolIsSpreadOverTheClientsEverySampleOnce) {
  const auto population = Create(SmallPool(20, 1200));
  ASSERT_NE(population, nullptr);
  ASSERT_EQ(population->size(), 20);
  EXPECT_FALSE(population->OneClientPerShard());
  EXPECT_EQ(population->ClientId(0), "client-000");
  EXPECT_EQ(population->ClientId(19), "client-019");
  EXPECT_EQ(population->IndexOf("client-007"), 7);
  EXPECT_EQ(population->IndexOf("client-7"), -1);
  // Text features identify a sample (continuous noise): collect every client's.
  std::set<std::vector<float>> seen;
  int64_t total = 0;
  for (int index = 0; index < population->size(); ++index) {
    absl::StatusOr<ClientData> data = population->Data(index);
    ASSERT_THAT(data, IsOk());
    EXPECT_GE(data->train.size(), 1);
    EXPECT_EQ(data->train.size(), population->SplitSize(index, client::Split::kTrain));
    for (const client::Dataset* split : {&data->train, &data->validation, &data->test}) {
      total += split->size();
      const at::Tensor text = split->modalities[2].values.contiguous();
      for (int64_t row = 0; row < split->size(); ++row) {
        const float* values = text[row].data_ptr<float>();
        seen.insert(std::vector<float>(values, values + 4));
      }
    }
  }
  EXPECT_EQ(total, 1200);
  EXPECT_EQ(seen.size(), 1200u);  // no sample twice
}

TEST(ClientPopulationTest, DirichletOverLanguagesGivesClientsFewLanguages) {
  SimulationOptions options = SmallPool(10, 3000);
  options.partition_column = PartitionColumn::kLanguage;
  options.partition.dirichlet_alpha = 0.05;
  const auto population = Create(options);
  ASSERT_NE(population, nullptr);
  int dominated = 0;
  for (int index = 0; index < population->size(); ++index) {
    absl::StatusOr<ClientData> data = population->Data(index);
    ASSERT_THAT(data, IsOk());
    const at::Tensor counts = at::bincount(data->train.language, {}, 3);
    if (counts.max().item<double>() > 0.9 * data->train.size()) ++dominated;
  }
  // IID would give each of the 3 languages about a third in every client.
  EXPECT_GE(dominated, 6);
}

TEST(ClientPopulationTest, FolderOfShardsGivesOneClientPerShard) {
  const equifl::test::TemporaryFolder temporary("population");
  const std::filesystem::path& folder = temporary.path();
  SyntheticDataOptions synthetic;
  synthetic.clients = 3;
  synthetic.samples_per_client = 40;
  ASSERT_THAT(WriteSyntheticShards(synthetic, (folder / "same").string()), IsOk());
  SimulationOptions options;
  options.source = DataSource::kShards;
  options.path = (folder / "same").string();
  const auto population = Create(options);
  ASSERT_NE(population, nullptr);
  ASSERT_EQ(population->size(), 3);
  EXPECT_TRUE(population->OneClientPerShard());
  EXPECT_EQ(population->ClientId(2), "client-002");
  absl::StatusOr<ClientData> data = population->Data(1);
  ASSERT_THAT(data, IsOk());
  EXPECT_EQ(data->train.size() + data->validation.size() + data->test.size(), 40);
  EXPECT_EQ(data->test.size(), population->SplitSize(1, client::Split::kTest));

  // Shards of another task cannot share one model.
  synthetic.clients = 1;
  synthetic.labels = {"yes", "no"};
  synthetic.samples_per_client = 20;
  ASSERT_THAT(WriteSyntheticShards(synthetic, (folder / "other").string()), IsOk());
  std::filesystem::rename(folder / "other" / "client-000", folder / "same" / "client-003");
  absl::StatusOr<std::unique_ptr<ClientPopulation>> mixed =
      ClientPopulation::Create(options, false);
  EXPECT_THAT(mixed.status().message(), HasSubstr("every client must share one task"));
}

TEST(ClientPopulationTest, ErrorsSayWhatToChange) {
  SimulationOptions options = SmallPool(500, 1000);
  options.partition.min_rows = 3;
  EXPECT_THAT(ClientPopulation::Create(options, false).status().message(),
              HasSubstr("lower sim.clients"));
  options = SimulationOptions();
  options.source = DataSource::kShards;
  EXPECT_THAT(options.Validate().message(), HasSubstr("sim.data.path is empty"));
  options = SimulationOptions();
  options.clients = 0;
  EXPECT_THAT(options.Validate().message(), HasSubstr("sim.clients is 0"));
  options = SimulationOptions();
  options.partition.quantity_alpha = 0.5;
  options.partition.dirichlet_alpha = 0.5;
  EXPECT_THAT(options.Validate().message(), HasSubstr("sim.partition: quantity skew"));
  EXPECT_THAT(ParseTransport("udp").status().message(), HasSubstr("inprocess, grpc"));
}

}  // namespace
}  // namespace equifl::sim
