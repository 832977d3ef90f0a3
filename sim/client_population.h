// The data of every virtual client of a simulation, held once in host memory.
//
// The samples live in one pool (the synthetic generator's, or shards mapped from
// disk); a client is a list of row indices per split, so 10,000 clients cost their
// indices, not 10,000 copies. A task materialises its client's datasets on demand
// (ClientData), which the trainer then uses exactly like a real client's shard.
// Rows keep the split the pool gave them (the generator and the importers draw
// splits per shard); a client holds its rows of each split.
#ifndef EQUIFL_SIM_CLIENT_POPULATION_H_
#define EQUIFL_SIM_CLIENT_POPULATION_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/data/shard.h"
#include "client/model/dataset.h"
#include "sim/simulation_options.h"

namespace equifl::sim {

//! One client's datasets for a task; owns what it materialised.
struct ClientData {
  client::Dataset train;
  client::Dataset validation;
  client::Dataset test;
};

//! What a population would be, without its samples: for an aggregator whose
//! clients all live in worker processes.
struct PopulationSchema {
  client::ShardManifest manifest;  //!< Modalities, labels, groups, languages.
  int clients = 0;                 //!< How many clients the population has.
};

class ClientPopulation {
 public:
  //! The schema and size the population of `options` has, reading or generating
  //! one sample at most.
  static absl::StatusOr<PopulationSchema> Schema(const SimulationOptions& options);

  //! Generates or opens the pool and spreads it over options.clients clients (a
  //! folder of shards gives one client per shard instead). With `pin_memory` the
  //! pool is copied into page-locked memory for fast transfers to a GPU.
  static absl::StatusOr<std::unique_ptr<ClientPopulation>> Create(const SimulationOptions& options,
                                                                  bool pin_memory);

  //! Number of clients.
  int size() const { return static_cast<int>(client_ids_.size()); }

  //! The id client `index` joins with: the shard's folder name, or client-NNN.
  const std::string& ClientId(int index) const { return client_ids_[index]; }

  //! The index of `client_id`, or -1.
  int IndexOf(const std::string& client_id) const;

  //! Samples client `index` holds in `split`.
  int64_t SplitSize(int index, client::Split split) const;

  //! Client `index`'s datasets (copies of its rows, or views of its shard).
  absl::StatusOr<ClientData> Data(int index) const;

  //! Modalities, labels, groups and languages every client shares.
  const client::ShardManifest& manifest() const { return manifest_; }

  //! Whether each client is one shard of a folder (no partitioning).
  bool OneClientPerShard() const { return !shards_.empty(); }

  //! Bytes of samples held in host memory (pool features and columns).
  int64_t PoolBytes() const { return pool_bytes_; }

  ~ClientPopulation();

 private:
  ClientPopulation() = default;
  absl::Status SpreadPool(const SimulationOptions& options, const client::ShardColumns& columns);

  client::ShardManifest manifest_;
  std::vector<std::string> client_ids_;
  //! A folder of shards: one per client, used in place.
  std::vector<client::Shard> shards_;
  //! Otherwise: the pool and each client's rows per split.
  std::unique_ptr<client::ShardData> generated_;
  std::unique_ptr<client::Shard> pool_shard_;
  client::Dataset pool_;
  std::vector<std::array<std::vector<int64_t>, client::kSplitCount>> rows_;
  int64_t pool_bytes_ = 0;
};

}  // namespace equifl::sim

#endif  // EQUIFL_SIM_CLIENT_POPULATION_H_
