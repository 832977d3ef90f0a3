#include "sim/simulation_options.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace equifl::sim {

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
