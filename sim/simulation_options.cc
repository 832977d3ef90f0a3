#include "sim/simulation_options.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "client/internal/enum_names.h"

namespace equifl::sim {
namespace {

using client::internal::EnumName;

constexpr EnumName<DataSource> kDataSources[] = {{DataSource::kSynthetic, "synthetic"},
                                                 {DataSource::kShards, "shards"}};
constexpr EnumName<PartitionColumn> kPartitionColumns[] = {
    {PartitionColumn::kLabel, "label"},
    {PartitionColumn::kGroup, "group"},
    {PartitionColumn::kLanguage, "language"}};
constexpr EnumName<Transport> kTransports[] = {{Transport::kInProcess, "inprocess"},
                                               {Transport::kGrpc, "grpc"}};

}  // namespace

absl::string_view DataSourceName(DataSource source) {
  return client::internal::NameOf(kDataSources, source);
}
absl::StatusOr<DataSource> ParseDataSource(absl::string_view name) {
  return client::internal::Parse(kDataSources, "data source", name);
}
absl::string_view PartitionColumnName(PartitionColumn column) {
  return client::internal::NameOf(kPartitionColumns, column);
}
absl::StatusOr<PartitionColumn> ParsePartitionColumn(absl::string_view name) {
  return client::internal::Parse(kPartitionColumns, "partition column", name);
}
absl::string_view TransportName(Transport transport) {
  return client::internal::NameOf(kTransports, transport);
}
absl::StatusOr<Transport> ParseTransport(absl::string_view name) {
  return client::internal::Parse(kTransports, "transport", name);
}

SyntheticDataOptions SimulationOptions::DefaultSynthetic() {
  SyntheticDataOptions options;
  options.clients = 1;
  options.samples_per_client = 0;
  return options;
}

absl::Status SimulationOptions::Validate() const {
  if (clients < 1 || clients > 1'000'000) {
    return absl::InvalidArgumentError(
        absl::StrCat("sim.clients is ", clients, "; allowed: 1 to 1000000"));
  }
  if (source == DataSource::kShards && path.empty()) {
    return absl::InvalidArgumentError(
        "sim.data.source is shards but sim.data.path is empty; give a shard folder or a folder "
        "of shards");
  }
  if (source == DataSource::kSynthetic) {
    SyntheticDataOptions pool = synthetic;
    if (pool.samples_per_client == 0) pool.samples_per_client = 60 * clients;
    if (absl::Status status = pool.Validate(); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("sim.data: ", status.message()));
    }
  }
  client::PartitionOptions spread = partition;
  spread.clients = clients;
  if (absl::Status status = spread.Validate(); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("sim.partition: ", status.message()));
  }
  if (devices.empty()) {
    return absl::InvalidArgumentError(
        "sim.devices is empty; allowed: auto, cpu, or devices such as cuda:0,cuda:1");
  }
  if (concurrency < 0 || concurrency > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("sim.concurrency is ", concurrency, "; allowed: 0 (automatic) to 1024"));
  }
  return absl::OkStatus();
}

}  // namespace equifl::sim
