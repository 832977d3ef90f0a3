#include "sim/client_population.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/random.h"
#include "base/status_macros.h"
#include "client/shard_dataset.h"
#include "protocol/torch/torch_status.h"

namespace equifl::sim {
namespace {

// client-000 ... client-999, client-0000 ... for more: ids sort as they count.
std::string ClientName(int index, int clients) {
  int width = 3;
  for (int limit = 1000; clients > limit && width < 7; limit *= 10) ++width;
  return absl::StrFormat("client-%0*d", width, index);
}

// Whether two shards describe the same task (they can share one model).
bool SameTask(const client::ShardManifest& a, const client::ShardManifest& b) {
  if (a.labels != b.labels || a.groups != b.groups || a.languages != b.languages ||
      a.modalities.size() != b.modalities.size()) {
    return false;
  }
  for (size_t m = 0; m < a.modalities.size(); ++m) {
    if (a.modalities[m].name != b.modalities[m].name ||
        a.modalities[m].kind != b.modalities[m].kind ||
        a.modalities[m].dim != b.modalities[m].dim) {
      return false;
    }
  }
  return true;
}

int64_t Bytes(const client::ShardColumns& columns) {
  int64_t bytes = static_cast<int64_t>(
      columns.present.size() + columns.split.size() +
      8 * (columns.label.size() + columns.group.size() + columns.language.size()));
  for (const auto& features : columns.features) bytes += 4 * static_cast<int64_t>(features.size());
  // Token ids are int32 in the shard and int64 in the dataset.
  for (const auto& tokens : columns.tokens) bytes += 8 * static_cast<int64_t>(tokens.size());
  for (const auto& images : columns.images) bytes += static_cast<int64_t>(images.size());
  for (const auto& halves : columns.halves) bytes += 2 * static_cast<int64_t>(halves.size());
  for (const auto& lengths : columns.lengths) bytes += 8 * static_cast<int64_t>(lengths.size());
  return bytes;
}

client::Dataset Pinned(const client::Dataset& dataset) {
  client::Dataset pinned;
  for (const client::ModalityFeatures& features : dataset.modalities) {
    pinned.modalities.push_back(
        {features.name, features.values.pin_memory(),
         features.lengths.defined() ? features.lengths.pin_memory() : at::Tensor()});
  }
  pinned.present = dataset.present.pin_memory();
  pinned.label = dataset.label.pin_memory();
  pinned.group = dataset.group.pin_memory();
  pinned.language = dataset.language.pin_memory();
  return pinned;
}

}  // namespace

ClientPopulation::~ClientPopulation() = default;

absl::StatusOr<PopulationSchema> ClientPopulation::Schema(const SimulationOptions& options) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  PopulationSchema schema;
  if (options.source == DataSource::kSynthetic) {
    SyntheticDataOptions one = options.synthetic;
    one.clients = 1;
    one.samples_per_client = 1;
    EQUIFL_ASSIGN_OR_RETURN(client::ShardData data, GenerateSyntheticClient(one, 0));
    schema.manifest = std::move(data.manifest);
    schema.clients = options.clients;
    return schema;
  }
  EQUIFL_ASSIGN_OR_RETURN(std::vector<std::string> dirs, client::FindShards(options.path));
  EQUIFL_ASSIGN_OR_RETURN(client::Shard first, client::Shard::Open(dirs.front()));
  schema.manifest = first.manifest();
  schema.clients = dirs.size() == 1 ? options.clients : static_cast<int>(dirs.size());
  return schema;
}

absl::StatusOr<std::unique_ptr<ClientPopulation>> ClientPopulation::Create(
    const SimulationOptions& options, bool pin_memory) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<ClientPopulation> population(new ClientPopulation());
  if (options.source == DataSource::kSynthetic) {
    SyntheticDataOptions pool = options.synthetic;
    pool.clients = 1;
    if (pool.samples_per_client == 0) pool.samples_per_client = 60 * options.clients;
    EQUIFL_ASSIGN_OR_RETURN(client::ShardData data, GenerateSyntheticClient(pool, 0));
    population->generated_ = std::make_unique<client::ShardData>(std::move(data));
    population->manifest_ = population->generated_->manifest;
    EQUIFL_RETURN_IF_ERROR(population->SpreadPool(options, population->generated_->Columns()));
  } else {
    EQUIFL_ASSIGN_OR_RETURN(std::vector<std::string> dirs, client::FindShards(options.path));
    if (dirs.size() == 1) {
      EQUIFL_ASSIGN_OR_RETURN(client::Shard shard, client::Shard::Open(dirs[0]));
      population->pool_shard_ = std::make_unique<client::Shard>(std::move(shard));
      population->manifest_ = population->pool_shard_->manifest();
      EQUIFL_RETURN_IF_ERROR(population->SpreadPool(options, population->pool_shard_->columns()));
    } else {
      for (const std::string& dir : dirs) {
        EQUIFL_ASSIGN_OR_RETURN(client::Shard shard, client::Shard::Open(dir));
        if (!population->shards_.empty() &&
            !SameTask(population->shards_.front().manifest(), shard.manifest())) {
          return absl::InvalidArgumentError(absl::StrCat(
              "shard ", dir, " has other modalities, labels, groups or languages than ",
              population->shards_.front().dir(), "; every client must share one task"));
        }
        population->pool_bytes_ += Bytes(shard.columns());
        population->client_ids_.push_back(std::filesystem::path(dir).filename().string());
        population->shards_.push_back(std::move(shard));
      }
      population->manifest_ = population->shards_.front().manifest();
    }
  }
  if (pin_memory && population->pool_.label.defined()) {
    population->pool_ = Pinned(population->pool_);
  }
  return population;
}

absl::Status ClientPopulation::SpreadPool(const SimulationOptions& options,
                                          const client::ShardColumns& columns) {
  EQUIFL_ASSIGN_OR_RETURN(pool_, client::DatasetFromColumns(manifest_, columns, "the sample pool"));
  pool_bytes_ = Bytes(columns);
  std::span<const int64_t> column = columns.label;
  size_t values = manifest_.labels.size();
  if (options.partition_column == PartitionColumn::kGroup) {
    column = columns.group;
    values = manifest_.groups.size();
  } else if (options.partition_column == PartitionColumn::kLanguage) {
    column = columns.language;
    values = manifest_.languages.size();
  }
  client::PartitionOptions spread = options.partition;
  spread.clients = options.clients;
  random::Engine engine = random::MakeEngine(options.partition_seed, 0);
  absl::StatusOr<client::RowPartition> partition =
      client::PartitionRows(column, values, spread, engine);
  if (!partition.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "spreading ", column.size(), " samples over ", options.clients,
        " clients: ", partition.status().message(), "; add samples or lower sim.clients"));
  }
  const double train_fraction = options.synthetic.train_fraction;
  const double validation_fraction = options.synthetic.validation_fraction;
  rows_.resize(partition->client_rows.size());
  for (size_t index = 0; index < partition->client_rows.size(); ++index) {
    std::vector<size_t>& rows = partition->client_rows[index];
    const std::vector<client::Split> splits =
        client::SplitClientRows(rows, train_fraction, validation_fraction, engine);
    for (size_t position = 0; position < rows.size(); ++position) {
      rows_[index][static_cast<int>(splits[position])].push_back(
          static_cast<int64_t>(rows[position]));
    }
    for (std::vector<int64_t>& split : rows_[index]) std::sort(split.begin(), split.end());
    client_ids_.push_back(ClientName(static_cast<int>(index), options.clients));
  }
  return absl::OkStatus();
}

int ClientPopulation::IndexOf(const std::string& client_id) const {
  // Ids are sorted: zero-padded numbers, or shard folders as FindShards sorts them.
  const auto found = std::lower_bound(client_ids_.begin(), client_ids_.end(), client_id);
  return found == client_ids_.end() || *found != client_id
             ? -1
             : static_cast<int>(found - client_ids_.begin());
}

int64_t ClientPopulation::SplitSize(int index, client::Split split) const {
  if (!shards_.empty()) return shards_[index].manifest().split_counts[static_cast<int>(split)];
  return static_cast<int64_t>(rows_[index][static_cast<int>(split)].size());
}

absl::StatusOr<ClientData> ClientPopulation::Data(int index) const {
  if (index < 0 || index >= size()) {
    return absl::OutOfRangeError(absl::StrCat("no virtual client ", index));
  }
  ClientData data;
  client::Dataset* splits[] = {&data.train, &data.validation, &data.test};
  for (int split = 0; split < client::kSplitCount; ++split) {
    if (!shards_.empty()) {
      EQUIFL_ASSIGN_OR_RETURN(
          *splits[split],
          client::DatasetFromShard(shards_[index], static_cast<client::Split>(split)));
      continue;
    }
    const std::vector<int64_t>& rows = rows_[index][split];
    EQUIFL_ASSIGN_OR_RETURN(
        *splits[split],
        protocol::TorchCall(
            absl::StrCat("selecting client ", client_ids_[index], "'s samples"),
            [&] { return pool_.Select(at::tensor(rows, at::TensorOptions().dtype(at::kLong))); }));
  }
  return data;
}

}  // namespace equifl::sim
