#include "app/sim_command.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "aggregation/privacy/client_level_privacy.h"
#include "app/aggregator_run.h"
#include "app/command.h"
#include "app/run_model.h"
#include "base/periodic_task.h"
#include "base/progress_line.h"
#include "base/status_macros.h"
#include "client/data/wire_schema.h"
#include "protocol/transport_security.h"
#include "server/client_identity.h"
#include "sim/client_population.h"
#include "sim/virtual_clients.h"

namespace equifl::app {
namespace {

using Clock = std::chrono::steady_clock;

// The clients this process hosts: [first, last].
struct ClientRange {
  int first = 0;
  int last = -1;  // -1: the last client
};

absl::StatusOr<ClientRange> ParseClientRange(const std::string& text, int clients) {
  if (text.empty()) return ClientRange{};
  const std::vector<std::string> parts = absl::StrSplit(text, "..");
  int first = 0;
  int last = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &first) ||
      !absl::SimpleAtoi(parts[1], &last) || first < 0 || first > last || last >= clients) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--clients '", text, "' must be FIRST..LAST with 0 <= FIRST <= LAST <= ", clients - 1,
        " (client indices, inclusive), or none"));
  }
  return ClientRange{.first = first, .last = last};
}

// Peak resident memory of this process in bytes (Linux), 0 when unknown.
int64_t PeakResidentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    int64_t kilobytes = 0;
    if (line.rfind("VmHWM:", 0) == 0 &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::StripSuffix(line.substr(6), "kB")),
                         &kilobytes)) {
      return kilobytes * 1024;
    }
  }
  return 0;
}

std::string Seconds(double seconds) {
  return seconds < 120 ? absl::StrFormat("%.1f s", seconds)
                       : absl::StrFormat("%dm%02ds", static_cast<int>(seconds) / 60,
                                         static_cast<int>(seconds) % 60);
}

// Closed rounds: clients, time, validation accuracy and MinMaxGAP, ETA. On a
// terminal one line is redrawn in place (base/progress_line.h): rounds done of the
// total, their rate and ETA, how far the open round's client tasks are (from
// RoundTicker) and the last round's validation accuracy and MinMaxGAP; it starts
// with the clients' first tick (after the lines before it) and ends at the last
// training round. Elsewhere (a pipe, a log) one line per round. The final
// evaluation's line follows either.
class ProgressPrinter final : public server::RoundObserver {
 public:
  explicit ProgressPrinter(uint32_t training_rounds)
      : training_rounds_(training_rounds),
        started_(Clock::now()),
        start_(absl::Now()),
        terminal_(IsTerminal(stdout)) {}

  //! Whether rounds are drawn on one terminal line.
  bool terminal() const { return terminal_; }

  //! On a terminal: how far the open round's tasks are ("round 4: 12/50 tasks");
  //! empty clears it.
  void ShowTasks(std::string text) {
    if (!terminal_) return;
    absl::MutexLock lock(&mutex_);
    tasks_ = std::move(text);
    ProgressLine& line = LineLocked();
    line.SetDetail(DetailLocked());
    line.Refresh();
  }

  //! On a terminal: ends the line where it stands (the run is over).
  void Finish() {
    absl::MutexLock lock(&mutex_);
    if (line_ != nullptr) line_->Finish();
  }

  absl::Status OnRoundClosed(const server::RoundSummary& summary, const server::GlobalModel&,
                             const aggregation::ServerOptimizer&) override {
    const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    const std::optional<double> accuracy = summary.validation.accuracy();
    const std::string accuracy_text = accuracy ? absl::StrFormat("%.4f", *accuracy) : "-";
    const std::string clients =
        absl::StrFormat("%zu/%zu clients", summary.contributors.size(), summary.selected.size());
    if (summary.final_evaluation) {
      Finish();
      std::printf("%-15s %21s %8.2f s  test acc %s  loss %.4f\n", "test", clients.c_str(),
                  summary.seconds, accuracy_text.c_str(), summary.validation.mean_loss());
    } else if (terminal_) {
      absl::MutexLock lock(&mutex_);
      ProgressLine& line = LineLocked();
      // A resumed run's earlier rounds count as done, not towards the rate.
      if (++rounds_seen_ == 1 && summary.round_id > 1) line.Skip(summary.round_id - 1);
      last_round_ = absl::StrFormat("val acc %s  MinMaxGAP %.4f", accuracy_text.c_str(),
                                    summary.fairness.validation_gap);
      tasks_.clear();
      line.SetDetail(DetailLocked());
      line.Update(summary.round_id);
      if (summary.round_id >= training_rounds_) line.Finish();
    } else {
      ++rounds_seen_;
      const double remaining = static_cast<double>(
          training_rounds_ - std::min<uint64_t>(summary.round_id, training_rounds_));
      const std::string round = absl::StrFormat(
          "%llu/%u", static_cast<unsigned long long>(summary.round_id), training_rounds_);
      std::printf("round %-9s %21s %8.2f s  val acc %s  MinMaxGAP %.4f  ETA %s\n", round.c_str(),
                  clients.c_str(), summary.seconds, accuracy_text.c_str(),
                  summary.fairness.validation_gap,
                  Seconds(elapsed / static_cast<double>(rounds_seen_) * remaining).c_str());
    }
    std::fflush(stdout);
    return absl::OkStatus();
  }

 private:
  ProgressLine& LineLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (line_ == nullptr) {
      line_ = std::make_unique<ProgressLine>(ProgressLine::Options{
          .what = "rounds", .total = training_rounds_, .terminal = true, .start = start_});
    }
    return *line_;
  }

  std::string DetailLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (last_round_.empty() || tasks_.empty()) return tasks_ + last_round_;
    return absl::StrCat(tasks_, "  ", last_round_);
  }

  const uint32_t training_rounds_;
  const Clock::time_point started_;
  const absl::Time start_;  //!< The terminal line's start: elapsed time and rate count from it.
  const bool terminal_;
  absl::Mutex mutex_;         //!< The round observer's and RoundTicker's threads.
  uint64_t rounds_seen_ = 0;  //!< Only OnRoundClosed, on the aggregator's thread, touches it.
  std::unique_ptr<ProgressLine> line_ ABSL_GUARDED_BY(mutex_);  //!< Terminal only, once shown.
  std::string last_round_ ABSL_GUARDED_BY(mutex_);  //!< The last closed round's accuracy, gap.
  std::string tasks_ ABSL_GUARDED_BY(mutex_);       //!< The open round's tasks.
};

// Tells how far a long round has come until destroyed: on a terminal, twice a second
// into the printer's line; elsewhere (or for a worker, which has no printer) a line
// every 5 s.
class RoundTicker {
 public:
  explicit RoundTicker(const sim::HostProgress& progress, ProgressPrinter* printer = nullptr)
      : progress_(progress),
        printer_(printer != nullptr && printer->terminal() ? printer : nullptr),
        task_(printer_ != nullptr ? absl::Milliseconds(500) : absl::Seconds(5),
              [this] { Tick(); }) {}
  //! On a terminal, ends the printer's line: the clients are done, the run is over.
  ~RoundTicker() {
    if (printer_ != nullptr) printer_->Finish();
  }

 private:
  void Tick() {
    const int64_t start = progress_.round_start;
    const int64_t done = progress_.done;
    const int64_t received = progress_.received;
    if (printer_ != nullptr) {
      if (done < received) {
        printer_->ShowTasks(absl::StrFormat(
            "round %llu: %lld/%lld tasks", static_cast<unsigned long long>(progress_.round.load()),
            static_cast<long long>(std::max<int64_t>(0, done - start)),
            static_cast<long long>(received - start)));
      } else if (received == 0) {
        printer_->ShowTasks(
            absl::StrFormat("%lld clients joined", static_cast<long long>(progress_.joined)));
      } else {
        printer_->ShowTasks("");
      }
      return;
    }
    if (done < received && done != last_done_) {
      std::printf("  round %llu: %lld of %lld client tasks done\n",
                  static_cast<unsigned long long>(progress_.round.load()),
                  static_cast<long long>(std::max<int64_t>(0, done - start)),
                  static_cast<long long>(received - start));
      std::fflush(stdout);
    } else if (progress_.received == 0) {
      std::printf("  %lld clients joined\n", static_cast<long long>(progress_.joined));
      std::fflush(stdout);
    }
    last_done_ = done;
  }

  const sim::HostProgress& progress_;
  ProgressPrinter* const printer_;  //!< Set on a terminal only.
  int64_t last_done_ = -1;          //!< Only Tick, on the task's thread, touches it.
  PeriodicTask task_;               //!< Last: ticks only once the rest is constructed.
};

// The closing line: tasks, their rate, how busy the replicas were (the time they
// spent in tasks over wall time times replicas: 1.0 is no idle replica), memory.
void PrintHostSummary(const char* what, double seconds, const sim::HostProgress& progress,
                      size_t replicas) {
  const double done = static_cast<double>(progress.done.load());
  std::printf(
      "\n%s in %s: %lld client tasks here (%.1f per second, %lld not counted), replicas busy "
      "%.0f%%, peak RSS %.1f MB\n",
      what, Seconds(seconds).c_str(), static_cast<long long>(progress.done.load()),
      done / std::max(seconds, 1e-9), static_cast<long long>(progress.not_counted.load()),
      replicas == 0 ? 0.0
                    : 100.0 * progress.task_seconds.load() /
                          (std::max(seconds, 1e-9) * static_cast<double>(replicas)),
      static_cast<double>(PeakResidentBytes()) / 1e6);
  std::fflush(stdout);
}

client::FederatedClientOptions ClientOptionsFor(const Config& config,
                                                const client::ShardManifest& manifest) {
  client::FederatedClientOptions options;
  options.trainer = config.training;
  options.upload = config.codec;
  options.languages = manifest.languages;
  options.groups = manifest.groups;
  options.data_schema = client::ToWireSchema(manifest);
  return options;
}

absl::StatusOr<sim::VirtualClientOptions> HostOptionsFor(const Config& config,
                                                         const sim::ClientPopulation& population,
                                                         const ClientRange& range) {
  sim::VirtualClientOptions options;
  options.client = ClientOptionsFor(config, population.manifest());
  EQUIFL_ASSIGN_OR_RETURN(options.devices, sim::ResolveDevices(config.simulation.devices));
  options.concurrency = sim::ResolveConcurrency(config.simulation.concurrency, options.devices);
  options.first = range.first;
  options.last = range.last;
  return options;
}

bool UsesGpu(const std::string& devices) {
  absl::StatusOr<std::vector<Device>> resolved = sim::ResolveDevices(devices);
  return resolved.ok() && resolved->front().is_cuda();
}

void PrintPopulation(const Config& config, const sim::ClientPopulation& population,
                     const sim::VirtualClientOptions* host) {
  const sim::SimulationOptions& simulation = config.simulation;
  std::string partition = "one client per shard";
  if (!population.OneClientPerShard()) {
    partition = simulation.partition.dirichlet_alpha > 0
                    ? absl::StrFormat("Dirichlet(%g) over %s", simulation.partition.dirichlet_alpha,
                                      NameOf(simulation.partition_column))
                : simulation.partition.quantity_alpha > 0
                    ? absl::StrFormat("IID, quantity skew Dirichlet(%g)",
                                      simulation.partition.quantity_alpha)
                    : std::string("IID");
  }
  std::printf("equifl sim: %d virtual clients, %s data (%.1f MB in host memory), %s\n",
              population.size(), std::string(NameOf(simulation.source)).c_str(),
              static_cast<double>(population.PoolBytes()) / 1e6, partition.c_str());
  if (config.model.options.standardise_features) {
    std::printf(
        "  features standardised by the pooled training data's mean and deviation, which round 0 "
        "measures\n");
  }
  if (host != nullptr) {
    std::printf(
        "  training on %s, %d at once per device\n",
        absl::StrJoin(host->devices, ", ",
                      [](std::string* out, const Device& device) { out->append(device.Name()); })
            .c_str(),
        host->concurrency);
    if (config.model.options.dropout > 0 && host->devices.size() * host->concurrency > 1) {
      std::printf(
          "  note: model.dropout %g with concurrent trainings is not bit-reproducible (LibTorch's "
          "dropout draws from one generator per process); set model.dropout: 0 or "
          "sim.concurrency: 1 to reproduce runs exactly\n",
          config.model.options.dropout);
    }
  }
  if (config.secure_aggregation.enabled) {
    std::printf("  secure aggregation: the aggregator sees only each round's sums%s\n",
                config.privacy.enabled() ? ", clients add the DP noise" : "");
  }
  if (config.privacy.enabled()) {
    std::printf("  client-level DP: %s\n", aggregation::PrivacyCoverage(config.privacy).c_str());
  }
  std::fflush(stdout);
}

// The longest prefix every id of the sorted ids first..last shares: the worker
// pattern (prefix + '*') a certificate for all of them needs.
std::string CommonPrefix(const std::string& first, const std::string& last) {
  size_t length = 0;
  while (length < first.size() && length < last.size() && first[length] == last[length]) ++length;
  return first.substr(0, length);
}

// The worker pattern to suggest for `population`: its ids' common prefix without
// trailing digits ("client-" for client-000 ... client-123).
std::string SuggestedPattern(const sim::ClientPopulation& population) {
  const std::string prefix =
      CommonPrefix(population.ClientId(0), population.ClientId(population.size() - 1));
  const size_t end = prefix.find_last_not_of("0123456789");
  return (end == std::string::npos ? prefix : prefix.substr(0, end + 1)) + "*";
}

// Checks that the worker certificate `certificate` may act for every hosted client.
absl::Status CheckWorkerCertificate(const std::string& certificate, const std::string& folder,
                                    const sim::ClientPopulation& population, int first, int last) {
  for (int index = first; index <= last; ++index) {
    const std::string& client_id = population.ClientId(index);
    if (server::CertificateAllows(certificate, client_id)) continue;
    return absl::InvalidArgumentError(
        absl::StrCat("the client certificate in ", folder, " is for '", certificate,
                     "'; it cannot act as '", client_id,
                     "', one of the clients this worker hosts: make a worker certificate with "
                     "`equifl certs --out DIR --clients '",
                     SuggestedPattern(population), "'`"));
  }
  return absl::OkStatus();
}

int RunWorker(const Config& config, const SimCommand& command,
              const sim::ClientPopulation& population, const ClientRange& range) {
  absl::StatusOr<ClientCredentials> credentials = ClientCredentialsFor(
      command.tls, "equifl sim --worker", "'DIR/clients/PREFIX*' (a worker certificate)");
  const int last = range.last < 0 ? population.size() - 1 : range.last;
  absl::Status usable = credentials.status();
  if (usable.ok() && !credentials->certificate_name.empty()) {
    usable = CheckWorkerCertificate(credentials->certificate_name, command.tls.certs, population,
                                    range.first, last);
  }
  if (!usable.ok()) {
    spdlog::error("{}", std::string(usable.message()));
    return kExitUsage;
  }
  absl::StatusOr<sim::VirtualClientOptions> host = HostOptionsFor(config, population, range);
  if (!host.ok()) {
    spdlog::error("{}", std::string(host.status().message()));
    return kExitUsage;
  }
  PrintPopulation(config, population, &*host);
  std::printf("worker hosting clients %d..%d for the aggregator at %s (%s)\n", range.first, last,
              command.connect.c_str(),
              command.tls.insecure
                  ? "plaintext, --insecure"
                  : absl::StrCat("mutual TLS as '", credentials->certificate_name, "'").c_str());
  std::fflush(stdout);
  auto channel =
      grpc::CreateCustomChannel(command.connect, credentials->channel, ModelChannelArguments());
  sim::HostProgress progress;
  const auto started = Clock::now();
  absl::Status ran;
  {
    RoundTicker ticker(progress);
    ran = sim::RunVirtualClients(
        channel, population, [&] { return BuildModel(population.manifest(), config.model); }, *host,
        progress);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  PrintHostSummary("worker ran", seconds, progress, host->devices.size() * host->concurrency);
  if (!ran.ok()) {
    spdlog::error("{}", std::string(ran.message()));
    return kExitFailure;
  }
  return 0;
}

// How the aggregator listens and how the clients hosted here reach it.
struct AggregatorTransport {
  std::shared_ptr<grpc::ServerCredentials> server;  //!< Null: in-process only, no port.
  //! Credentials of the local clients' TCP channel; null: the in-process channel.
  std::shared_ptr<grpc::ChannelCredentials> local_clients;
  std::string description;  //!< For the "listening on" line.
};

// The host the listen address names, without brackets; empty for a wildcard.
std::string ListenHost(const std::string& listen) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "0.0.0.0" || host == "::" || host.empty() ? "" : host;
}

// --insecure: plaintext for everyone. --certs DIR/server: mutual TLS on the port
// (workers bring certificates of that CA); the clients hosted here use the
// in-process channel, as they share the aggregator's process. Neither, with every
// client here: a CA, server and worker certificate made in memory for this run.
absl::StatusOr<AggregatorTransport> TransportFor(const Config& config, const SimCommand& command,
                                                 const sim::ClientPopulation* population,
                                                 const sim::VirtualClientOptions* host) {
  if (config.simulation.transport != sim::Transport::kGrpc) return AggregatorTransport{};
  const TlsFlags& flags = command.tls;
  const bool all_clients_here = host != nullptr && host->first == 0 &&
                                (host->last < 0 || host->last == population->size() - 1);
  if (flags.insecure || !flags.certs.empty() || !all_clients_here) {
    EQUIFL_ASSIGN_OR_RETURN(
        std::shared_ptr<grpc::ServerCredentials> server,
        ServerCredentialsFor(flags, host == nullptr ? "equifl sim --clients none"
                                                    : "equifl sim with workers hosting clients"));
    if (flags.insecure) {
      return AggregatorTransport{server, grpc::InsecureChannelCredentials(),
                                 "plaintext, --insecure"};
    }
    return AggregatorTransport{
        server, nullptr,
        absl::StrCat(
            "mutual TLS with the certificates in ", flags.certs,
            host != nullptr ? "; the clients hosted here use the in-process channel" : "")};
  }
  std::vector<std::string> names = DefaultServerNames();
  const std::string listen_host = ListenHost(config.simulation.listen);
  if (!listen_host.empty() && std::find(names.begin(), names.end(), listen_host) == names.end()) {
    names.push_back(listen_host);
  }
  const std::string prefix =
      CommonPrefix(population->ClientId(0), population->ClientId(population->size() - 1));
  if (prefix.empty()) {
    return absl::InvalidArgumentError(
        "the clients' ids share no prefix, which the simulation's in-memory worker certificate "
        "needs: pass --insecure, or --certs DIR/server with certificates from `equifl certs`");
  }
  EQUIFL_ASSIGN_OR_RETURN(EphemeralTls tls, MakeEphemeralTls(names, prefix + "*"));
  return AggregatorTransport{protocol::MutualTlsServerCredentials(tls.server),
                             protocol::MutualTlsChannelCredentials(tls.client),
                             "mutual TLS with certificates made in memory for this run"};
}

int RunAggregator(const Config& given, const SimCommand& command,
                  const client::ShardManifest& schema, int clients,
                  const sim::ClientPopulation* population, const sim::VirtualClientOptions* host) {
  absl::StatusOr<AggregatorTransport> transport = TransportFor(given, command, population, host);
  if (!transport.ok()) {
    spdlog::error("{}", std::string(transport.status().message()));
    return kExitUsage;
  }
  Config config = given;
  // Every virtual client joins before the first round opens.
  config.server.rounds.min_clients = static_cast<uint32_t>(clients);
  ProgressPrinter printer(config.server.rounds.rounds);
  // Before the run folder is opened: a dashboard that cannot start leaves no run.
  absl::StatusOr<RunDashboard> dashboard = StartRunDashboard(config, command.http, command.tls);
  if (!dashboard.ok()) {
    spdlog::error("{}", std::string(dashboard.status().message()));
    return kExitUsage;
  }
  server::monitoring::RunMonitor* const monitor = dashboard->monitor.get();
  RoundObservers observers({&printer, monitor});
  absl::StatusOr<AggregatorRun> run =
      OpenAggregatorRun(config, command.resume, &schema, &observers, monitor);
  if (!run.ok()) {
    spdlog::error("{}", std::string(run.status().message()));
    return kExitUsage;
  }
  if (monitor != nullptr) monitor->OnRunStarted(run->folder->run_id(), run->completed_rounds);
  const bool over_tcp = config.simulation.transport == sim::Transport::kGrpc;
  int port = 0;
  absl::StatusOr<std::unique_ptr<grpc::Server>> server = ServeAggregator(
      *run->aggregator, over_tcp ? config.simulation.listen : "", transport->server, port);
  if (!server.ok()) {
    spdlog::error("{}", std::string(server.status().message()));
    return kExitUsage;
  }
  std::shared_ptr<grpc::Channel> channel;
  if (over_tcp) {
    std::string host_name = config.simulation.listen.substr(0, config.simulation.listen.rfind(':'));
    std::printf("aggregator listening on %s:%d (run '%s', run folder %s; %s)\n", host_name.c_str(),
                port, run->folder->run_id().c_str(), config.server.run_dir.c_str(),
                transport->description.c_str());
    if (command.tls.insecure) {
      spdlog::warn(
          "--insecure: connections are plaintext and clients are not authenticated; keep the "
          "aggregator on a trusted network");
    }
    if (host_name == "0.0.0.0" || host_name == "[::]") host_name = "127.0.0.1";
    channel = transport->local_clients == nullptr
                  ? (*server)->InProcessChannel(ModelChannelArguments())
                  : grpc::CreateCustomChannel(absl::StrCat(host_name, ":", port),
                                              transport->local_clients, ModelChannelArguments());
  } else {
    channel = (*server)->InProcessChannel(ModelChannelArguments());
    std::printf("run '%s', run folder %s\n", run->folder->run_id().c_str(),
                config.server.run_dir.c_str());
  }
  std::fflush(stdout);

  const auto started = Clock::now();
  absl::Status ran;
  sim::HostProgress progress;
  absl::Status hosted;
  {
    StopOnSignal stop(*run->aggregator);
    std::thread aggregator([&] { ran = run->aggregator->Run(); });
    if (host != nullptr) {
      RoundTicker ticker(progress, &printer);
      hosted = sim::RunVirtualClients(
          channel, *population, [&] { return BuildModel(schema, config.model); }, *host, progress);
      if (!hosted.ok()) run->aggregator->Stop();
    }
    aggregator.join();
  }
  if (monitor != nullptr) monitor->OnRunEnded(ran.ok() ? "" : std::string(ran.message()));
  (*server)->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(3));
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const int exit_code = FinishAggregatorRun(config, *run, command.report, ran);
  PrintHostSummary("simulated", seconds, progress,
                   host ? host->devices.size() * host->concurrency : 0);
  std::fflush(stdout);
  if (!hosted.ok()) {
    spdlog::error("the virtual clients failed: {}", std::string(hosted.message()));
    return kExitFailure;
  }
  return exit_code;
}

}  // namespace

CLI::App* AddSimSubcommand(CLI::App& app, SimCommand& command) {
  CLI::App* sim = app.add_subcommand(
      "sim",
      "Simulate a federated run in one process: the aggregator and many virtual clients (the "
      "sim section: clients, data, partition, devices), with the real server's and client's "
      "round, aggregation, fairness and checkpoint code; or, with --worker, host a range of "
      "virtual clients for an aggregator elsewhere. Logs at warn unless --log-level says "
      "otherwise; progress goes to stdout");
  sim->add_option("config", command.config,
                  "YAML configuration (as --config), e.g. sim/scenarios/iemocap_like.yaml")
      ->check(CLI::ExistingFile);
  sim->add_option("--transport", command.transport,
                  "inprocess (gRPC's in-process channel) or grpc (TCP on --listen); "
                  "default sim.transport")
      ->check(CLI::IsMember(AllNames<sim::Transport>()));
  sim->add_option("--listen", command.listen,
                  "host:port the aggregator listens on with --transport grpc (default "
                  "sim.listen, 127.0.0.1:0 picks a free port)");
  sim->add_option("--clients", command.clients,
                  "clients this process hosts: FIRST..LAST (indices, inclusive) or none "
                  "(default: all; workers host the rest)");
  sim->add_flag("--worker", command.worker,
                "host the --clients range for the aggregator at --connect; no aggregator here");
  sim->add_option("--connect", command.connect, "host:port of the aggregator, for --worker");
  sim->add_flag("--resume", command.resume,
                "continue the run in the run folder from its last completed round");
  sim->add_option("--report", command.report, "write the run's HTML report here at the end");
  sim->add_option("--run-dir", command.run_dir, "run folder (server.run_dir)");
  AddTlsFlags(*sim, command.tls,
              "with --transport grpc: DIR/server for an aggregator that workers reach, or "
              "with --worker a worker certificate's folder, e.g. 'DIR/clients/client-*'; "
              "one process hosting every client needs neither (it makes its certificates "
              "in memory)");
  AddHttpFlags(*sim, command.http, "--http",
               "host:port of the aggregator's live dashboard (/), its JSON API (/api/) and "
               "Prometheus metrics (/metrics), e.g. 127.0.0.1:8080, or a port alone for "
               "127.0.0.1 (0 picks one)");
  return sim;
}

int RunSimCommand(const Config& given, const SimCommand& command) {
  if (command.worker && !command.http.address.empty()) {
    spdlog::error(
        "--http serves the aggregator's dashboard; a --worker has none: pass --http to the "
        "aggregator's `equifl sim`");
    return kExitUsage;
  }
  Config config = given;
  if (command.run_dir) config.server.run_dir = *command.run_dir;
  if (command.transport) {
    absl::StatusOr<sim::Transport> transport = sim::ParseTransport(*command.transport);
    if (!transport.ok()) {
      spdlog::error("--transport: {}", std::string(transport.status().message()));
      return kExitUsage;
    }
    config.simulation.transport = *transport;
  }
  if (command.listen) config.simulation.listen = *command.listen;
  if (!command.worker && config.simulation.transport != sim::Transport::kGrpc &&
      (command.tls.insecure || !command.tls.certs.empty())) {
    spdlog::error(
        "--certs and --insecure are for --transport grpc and --worker; the in-process transport "
        "opens no port");
    return kExitUsage;
  }
  if (command.worker && command.connect.empty()) {
    spdlog::error("equifl sim --worker needs --connect HOST:PORT, the aggregator's address");
    return kExitUsage;
  }
  if (command.worker && (command.clients.empty() || command.clients == "none")) {
    spdlog::error("equifl sim --worker needs --clients FIRST..LAST, the clients it hosts");
    return kExitUsage;
  }

  // An aggregator that hosts no clients needs only the data's schema, not its samples.
  if (!command.worker && command.clients == "none") {
    if (config.simulation.transport != sim::Transport::kGrpc) {
      spdlog::error(
          "--clients none leaves every client to workers, which reach the aggregator over "
          "gRPC: add --transport grpc (and --listen HOST:PORT)");
      return kExitUsage;
    }
    absl::StatusOr<sim::PopulationSchema> schema = sim::ClientPopulation::Schema(config.simulation);
    if (!schema.ok()) {
      spdlog::error("{}", std::string(schema.status().message()));
      return kExitUsage;
    }
    std::printf("equifl sim: aggregator for %d virtual clients hosted by workers\n",
                schema->clients);
    return RunAggregator(config, command, schema->manifest, schema->clients, nullptr, nullptr);
  }
  absl::StatusOr<std::unique_ptr<sim::ClientPopulation>> population =
      sim::ClientPopulation::Create(config.simulation, UsesGpu(config.simulation.devices));
  if (!population.ok()) {
    spdlog::error("{}", std::string(population.status().message()));
    return kExitUsage;
  }
  absl::StatusOr<ClientRange> range = ParseClientRange(command.clients, (*population)->size());
  if (!range.ok()) {
    spdlog::error("{}", std::string(range.status().message()));
    return kExitUsage;
  }
  if (command.worker) return RunWorker(config, command, **population, *range);
  absl::StatusOr<sim::VirtualClientOptions> host = HostOptionsFor(config, **population, *range);
  if (!host.ok()) {
    spdlog::error("{}", std::string(host.status().message()));
    return kExitUsage;
  }
  PrintPopulation(config, **population, &*host);
  return RunAggregator(config, command, (*population)->manifest(), (*population)->size(),
                       population->get(), &*host);
}

}  // namespace equifl::app
