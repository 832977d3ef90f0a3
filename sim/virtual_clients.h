// Many virtual clients in one process, talking to one aggregator.
//
// The host joins every client of its range, then long-polls the aggregator once
// for all of them (PollTasks) and hands each task to a pool of model replicas:
// `concurrency` per device, each a thread with its own model. A task runs through
// client::RunTask, the code a real `equifl client` runs, on the client's data
// materialised from the ClientPopulation, so memory grows with the replica pool,
// not with the number of clients. Used in-process by `equifl sim` and over TCP by
// `equifl sim --worker`.
#ifndef EQUIFL_SIM_VIRTUAL_CLIENTS_H_
#define EQUIFL_SIM_VIRTUAL_CLIENTS_H_

#include <grpcpp/channel.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/device.h"
#include "client/model/multimodal_model.h"
#include "client/task_runner.h"
#include "sim/client_population.h"

namespace equifl::sim {

//! How a host runs its clients.
struct VirtualClientOptions {
  //! Trainer defaults, upload codec, the languages' and groups' names.
  client::FederatedClientOptions client;
  //! Devices to train on, e.g. the CPU or cuda:0 and cuda:1.
  std::vector<Device> devices = {Device{}};
  int concurrency = 1;  //!< Trainings at once per device (model replicas per device).
  int first = 0;        //!< First client index hosted.
  int last = -1;        //!< Last client index hosted (inclusive); -1: the population's last.
};

//! Counters a progress display reads while the host runs.
struct HostProgress {
  std::atomic<int64_t> joined{0};       //!< Clients joined so far.
  std::atomic<int64_t> received{0};     //!< Tasks received.
  std::atomic<int64_t> done{0};         //!< Tasks finished (counted or not).
  std::atomic<int64_t> not_counted{0};  //!< Tasks the server did not count.
  std::atomic<uint64_t> round{0};       //!< Round of the newest task.
  std::atomic<int64_t> round_start{0};  //!< Tasks received before that round's first.
  std::atomic<double> task_seconds{0};  //!< Time replicas spent running tasks.
};

//! Builds one model replica (the run's architecture; the server's state replaces
//! its weights before every task).
using ModelFactory = std::function<absl::StatusOr<client::MultimodalModel>()>;

//! Joins clients [first, last] of `population` through `channel` and runs their
//! tasks until the aggregator says the run is finished. Fails on the first task
//! that fails with a bad model or bad data, and when no aggregator answers within
//! options.client.connect_timeout.
absl::Status RunVirtualClients(const std::shared_ptr<grpc::Channel>& channel,
                               const ClientPopulation& population, const ModelFactory& make_model,
                               const VirtualClientOptions& options, HostProgress& progress);

//! "auto" (every GPU LibTorch sees, else the CPU), or a comma-separated list of
//! device names (base/device.h) such as "cpu" or "cuda:0,cuda:1"; an error names
//! a device that is not one or that LibTorch cannot use.
absl::StatusOr<std::vector<Device>> ResolveDevices(const std::string& devices);

//! Trainings at once per device: `requested`, or 0 for the CPU's cores (CPU) or
//! 4 (GPU: a small model leaves a GPU idle between kernels).
int ResolveConcurrency(int requested, const std::vector<Device>& devices);

}  // namespace equifl::sim

#endif  // EQUIFL_SIM_VIRTUAL_CLIENTS_H_
