#include "sim/virtual_clients.h"

#include <ATen/Parallel.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>

#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/first_error.h"
#include "base/status_macros.h"
#include "base/work_queue.h"
#include "client/federated_client.h"
#include "client/model/model_state.h"
#include "client/model/torch_device.h"
#include "client/secure_round_client.h"
#include "protocol/torch/torch_tensors.h"

// OpenBLAS's own thread pool (Debian's LibTorch multiplies through it): weak, so
// the call is skipped where another BLAS is linked.
extern "C" void openblas_set_num_threads(int threads) __attribute__((weak));

namespace equifl::sim {
namespace {

// A task waiting for a replica.
struct PendingTask {
  int client = 0;
  v1::Task task;
  client::SecureRoundClient* secure = nullptr;  //!< Set up, for a secure round.
};

// Tasks waiting for a replica; closing it lets every replica finish.
using TaskQueue = WorkQueue<PendingTask>;

struct Replica {
  client::MultimodalModel model{nullptr};
  std::vector<protocol::NamedTensor> global;  // Download scratch, CPU.
  client::FederatedClientOptions options;     // The trainer's device is the replica's.
};

void RunReplica(v1::Aggregator::Stub& stub, const std::string& run_id,
                const ClientPopulation& population, Replica& replica, TaskQueue& queue,
                HostProgress& progress, FirstError& error) {
  while (std::optional<PendingTask> entry = queue.Pop()) {
    const std::string& client_id = population.ClientId(entry->client);
    absl::StatusOr<ClientData> data = population.Data(entry->client);
    if (!data.ok()) {
      error.Set(data.status());
      break;
    }
    const auto started = std::chrono::steady_clock::now();
    absl::StatusOr<client::TaskOutcome> outcome =
        client::RunTask(stub, {run_id, client_id}, entry->task, replica.model,
                        {data->train, data->validation, data->test}, replica.options,
                        replica.global, entry->secure);
    if (!outcome.ok()) {
      error.Set(absl::Status(
          outcome.status().code(),
          absl::StrCat("virtual client ", client_id, ", round ", entry->task.round().round_id(),
                       ": ", outcome.status().message())));
      break;
    }
    if (!outcome->counted) {
      ++progress.not_counted;
      spdlog::warn("virtual client {}, round {}: not counted: {}", client_id,
                   entry->task.round().round_id(), outcome->not_counted);
    }
    progress.task_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    ++progress.done;
  }
}

// Whether a secure-aggregation step failed because this client cannot take part
// in the round any more (too late, the round failed, the server went away).
bool DropsOutOfRound(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsFailedPrecondition(status) ||
         absl::IsDeadlineExceeded(status);
}

// Runs one securely aggregated round for the hosted clients given tasks: each
// protocol step for all of them before the next, so none waits on a phase the
// others have not reached; the trainings in between go to the replicas.
absl::Status RunSecureRound(v1::Aggregator::Stub& stub, const std::string& run_id,
                            const ClientPopulation& population, std::vector<PendingTask> entries,
                            uint64_t model_size, TaskQueue& queue, HostProgress& progress,
                            const FirstError& error) {
  std::vector<std::optional<client::SecureRoundClient>> sessions(entries.size());
  std::vector<bool> taking_part(entries.size(), true);
  // Runs `run` for every client still taking part; one that drops out is skipped
  // from then on.
  const auto step = [&](const char* what, const auto& run) {
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!taking_part[i]) continue;
      const absl::Status status = run(i);
      if (status.ok()) continue;
      if (!DropsOutOfRound(status)) return status;
      spdlog::warn("virtual client {}, round {}: {}: {}", population.ClientId(entries[i].client),
                   entries[i].task.round().round_id(), what, std::string(status.message()));
      taking_part[i] = false;
    }
    return absl::OkStatus();
  };
  EQUIFL_RETURN_IF_ERROR(step("advertising keys", [&](size_t i) -> absl::Status {
    EQUIFL_ASSIGN_OR_RETURN(
        client::SecureRoundClient session,
        client::SecureRoundClient::Advertise(stub, {run_id, population.ClientId(entries[i].client)},
                                             entries[i].task, model_size));
    sessions[i] = std::move(session);
    return absl::OkStatus();
  }));
  EQUIFL_RETURN_IF_ERROR(
      step("sharing keys", [&](size_t i) { return sessions[i]->ShareKeys(stub); }));
  EQUIFL_RETURN_IF_ERROR(
      step("receiving shares", [&](size_t i) { return sessions[i]->ReceiveShares(stub); }));
  const int64_t before = progress.done;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!taking_part[i]) {
      ++progress.done;  // dropped out of the round before training
      ++progress.not_counted;
      continue;
    }
    entries[i].secure = &*sessions[i];
    queue.Push(entries[i]);
  }
  while (!error.failed() && progress.done < before + static_cast<int64_t>(entries.size())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (error.failed()) return absl::OkStatus();  // the replica's error ends the host
  // Survivors reveal their shares; a client whose input did not count reveals nothing.
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!taking_part[i]) continue;
    const absl::Status status = sessions[i]->Unmask(stub);
    if (!status.ok() && !DropsOutOfRound(status)) return status;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Device>> ResolveDevices(const std::string& devices) {
  if (devices == "auto") {
    const int gpus = static_cast<int>(torch::cuda::device_count());
    if (gpus == 0) return std::vector<Device>{Device{}};
    std::vector<Device> all;
    for (int gpu = 0; gpu < gpus; ++gpu) all.push_back({.kind = DeviceKind::kCuda, .index = gpu});
    return all;
  }
  std::vector<Device> resolved;
  for (absl::string_view part : absl::StrSplit(devices, ',', absl::SkipWhitespace())) {
    const absl::string_view name = absl::StripAsciiWhitespace(part);
    absl::StatusOr<Device> device = ParseDevice("sim.devices", name);
    if (!device.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sim.devices names '", name, "'; allowed: auto, ", kDeviceNames, ", comma-separated"));
    }
    EQUIFL_RETURN_IF_ERROR(client::ToTorchDevice("a device in sim.devices", *device).status());
    resolved.push_back(*device);
  }
  if (resolved.empty()) return absl::InvalidArgumentError("sim.devices names no device");
  return resolved;
}

int ResolveConcurrency(int requested, const std::vector<Device>& devices) {
  if (requested > 0) return requested;
  const bool cpu_only = devices.size() == 1 && !devices.front().is_cuda();
  return cpu_only ? std::max(1, static_cast<int>(std::thread::hardware_concurrency())) : 4;
}

absl::Status RunVirtualClients(const std::shared_ptr<grpc::Channel>& channel,
                               const ClientPopulation& population, const ModelFactory& make_model,
                               const VirtualClientOptions& options, HostProgress& progress) {
  const int first = options.first;
  const int last = options.last < 0 ? population.size() - 1 : options.last;
  if (first < 0 || first > last || last >= population.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "clients ", first, "..", last, " are outside the population's 0..", population.size() - 1));
  }
  if (options.devices.empty() || options.concurrency < 1) {
    return absl::InvalidArgumentError("a virtual-client host needs a device and concurrency >= 1");
  }
  // Replicas first, on this thread: building a model seeds LibTorch's generator.
  std::vector<Replica> replicas;
  int cpu_replicas = 0;
  for (const Device& device : options.devices) {
    for (int copy = 0; copy < options.concurrency; ++copy) {
      Replica replica;
      EQUIFL_ASSIGN_OR_RETURN(replica.model, make_model());
      EQUIFL_ASSIGN_OR_RETURN(replica.global,
                              protocol::ToContiguousCpu(client::ExportState(*replica.model)));
      replica.options = options.client;
      replica.options.trainer.device = device.Name();
      // Replicas train side by side; each expands its masks on one thread.
      replica.options.mask_threads = 1;
      replicas.push_back(std::move(replica));
      if (!device.is_cuda()) ++cpu_replicas;
    }
  }
  // CPU trainings share the cores instead of each spreading over all of them.
  if (cpu_replicas > 0) {
    const int threads =
        std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / cpu_replicas);
    at::set_num_threads(threads);
    // OpenBLAS keeps a pool of its own whose idle threads spin; with several
    // trainings at once they would fight over the cores.
    if (openblas_set_num_threads != nullptr) openblas_set_num_threads(threads);
  }

  auto stub = v1::Aggregator::NewStub(channel);
  std::string run_id;
  std::chrono::milliseconds poll_timeout{10000};
  std::vector<std::string> client_ids;
  for (int index = first; index <= last; ++index) {
    const std::string& client_id = population.ClientId(index);
    EQUIFL_ASSIGN_OR_RETURN(
        v1::JoinResponse joined,
        client::JoinRun(*stub, client_id, population.SplitSize(index, client::Split::kTrain),
                        options.client.data_schema, options.client.connect_timeout));
    if (joined.client_id() != client_id) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the aggregator renamed virtual client '", client_id, "' to '", joined.client_id(), "'"));
    }
    run_id = joined.run_id();
    poll_timeout = std::chrono::milliseconds(joined.poll_timeout_ms());
    client_ids.push_back(client_id);
    ++progress.joined;
  }

  TaskQueue queue;
  FirstError error;
  std::vector<std::thread> threads;
  for (Replica& replica : replicas) {
    threads.emplace_back([&, replica = &replica] {
      RunReplica(*stub, run_id, population, *replica, queue, progress, error);
    });
  }
  absl::Status polled = absl::OkStatus();
  while (!error.failed()) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + poll_timeout +
                         std::chrono::seconds(30));
    v1::PollTasksRequest request;
    request.set_run_id(run_id);
    for (const std::string& client_id : client_ids) request.add_client_ids(client_id);
    v1::PollTasksResponse response;
    const grpc::Status status = stub->PollTasks(&context, request, &response);
    if (!status.ok()) {
      polled = client::FromGrpc(status, "polling for the virtual clients' tasks");
      break;
    }
    if (response.run_finished()) break;
    std::vector<PendingTask> secure_round;
    for (v1::ClientTask& task : *response.mutable_tasks()) {
      const int index = population.IndexOf(task.client_id());
      if (index < 0) {
        polled = absl::InternalError(
            absl::StrCat("the aggregator sent a task for unknown client '", task.client_id(), "'"));
        break;
      }
      if (task.task().round().round_id() != progress.round) {
        progress.round_start = progress.received.load();
        progress.round = task.task().round().round_id();
      }
      ++progress.received;
      if (task.task().has_secure_aggregation()) {
        secure_round.push_back({index, std::move(*task.mutable_task())});
      } else {
        queue.Push({index, std::move(*task.mutable_task())});
      }
    }
    if (!polled.ok()) break;
    if (!secure_round.empty()) {
      polled = RunSecureRound(*stub, run_id, population, std::move(secure_round),
                              client::ModelSize(replicas.front().global), queue, progress, error);
      if (!polled.ok()) break;
    }
    if (response.tasks().empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(response.retry_after_ms()));
    }
  }
  // The run is over (or failed): let the replicas finish what they hold.
  while (polled.ok() && !error.failed() && progress.done < progress.received) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  queue.Close();
  for (std::thread& thread : threads) thread.join();
  if (error.failed()) return error.status();
  return polled;
}

}  // namespace equifl::sim
