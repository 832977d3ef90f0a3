// What `equifl sim` simulates: where the virtual clients' data comes from, how it
// is spread over them, and where their training runs.
//
// Plain data, filled from the configuration's `sim` section; Validate() names the
// bad field and what is allowed. The rounds, model, training and fairness method
// are the same sections a real run reads.
#ifndef EQUIFL_SIM_SIMULATION_OPTIONS_H_
#define EQUIFL_SIM_SIMULATION_OPTIONS_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/enum_names.h"
#include "client/data/import_split.h"
#include "sim/synthetic_data.h"

namespace equifl::sim {

//! Where the samples come from.
enum class DataSource {
  kSynthetic,  //!< One pool from the synthetic generator, spread over the clients.
  //! Shards on disk at `path`: a folder of shards gives one virtual client per
  //! shard; a single shard is spread over the clients like the synthetic pool.
  kShards,
};

//! Which column a Dirichlet split skews.
enum class PartitionColumn { kLabel, kGroup, kLanguage };

//! How virtual clients talk to the aggregator.
enum class Transport {
  kInProcess,  //!< gRPC's in-process channel: the same service code, no sockets.
  kGrpc,       //!< Real gRPC over TCP (loopback by default), as separate processes use.
};

//! "synthetic" / "shards" in configuration files and messages.
inline std::span<const EnumName<DataSource>> EnumNames(DataSource) {
  static constexpr EnumName<DataSource> kNames[] = {{DataSource::kSynthetic, "synthetic"},
                                                    {DataSource::kShards, "shards"}};
  return kNames;
}
//! "label" / "group" / "language".
inline std::span<const EnumName<PartitionColumn>> EnumNames(PartitionColumn) {
  static constexpr EnumName<PartitionColumn> kNames[] = {{PartitionColumn::kLabel, "label"},
                                                         {PartitionColumn::kGroup, "group"},
                                                         {PartitionColumn::kLanguage, "language"}};
  return kNames;
}
//! "inprocess" / "grpc".
inline std::span<const EnumName<Transport>> EnumNames(Transport) {
  static constexpr EnumName<Transport> kNames[] = {{Transport::kInProcess, "inprocess"},
                                                   {Transport::kGrpc, "grpc"}};
  return kNames;
}

//! The transport called `name`; the error lists the allowed names.
inline absl::StatusOr<Transport> ParseTransport(absl::string_view name) {
  return ParseEnum<Transport>("transport", name);
}

struct SimulationOptions {
  int clients = 100;  //!< Virtual clients, 1 to 1000000.

  DataSource source = DataSource::kSynthetic;
  std::string path;  //!< kShards: a shard folder, or a folder of shard folders.
  //! kSynthetic: the generator's options. `samples_per_client` is the whole pool
  //! (0: 60 per client); `clients` is ignored (one pool).
  SyntheticDataOptions synthetic = DefaultSynthetic();

  PartitionColumn partition_column = PartitionColumn::kLabel;  //!< What Dirichlet skews.
  client::PartitionOptions partition = {.min_rows = 3};        //!< IID unless alpha > 0.
  uint64_t partition_seed = 1;                                 //!< Seeds the spreading.

  //! "auto" (every GPU LibTorch sees, else the CPU), "cpu", or a comma-separated
  //! list of devices such as "cuda:0,cuda:1".
  std::string devices = "auto";
  //! Client trainings at once per device; 0: the CPU's cores on a CPU, 4 per GPU.
  int concurrency = 0;

  Transport transport = Transport::kInProcess;
  std::string listen = "127.0.0.1:0";  //!< kGrpc: where the aggregator listens.

  //! OK, or which option is out of range and what is allowed.
  absl::Status Validate() const;

  //! The generator's defaults with the pool's size left to `clients` (0).
  static SyntheticDataOptions DefaultSynthetic();
};

}  // namespace equifl::sim

#endif  // EQUIFL_SIM_SIMULATION_OPTIONS_H_
