// The cost of a securely aggregated round against a plain round, measured in the
// same run on the same updates, for 100 and 1,000 clients and a 10-million-
// parameter model; and how fast masks expand (ChaCha20 through OpenSSL on the CPU,
// the CUDA kernel on a GPU when the build has one and the machine a device).
//
//   equifl_secure_aggregation_bench [--clients 100,1000] [--parameters 10000000]
//       [--neighbours 0] [--threshold 0.5] [--expected-dropout 0.3]
//       [--target-failure 1e-6] [--dropout 0] [--client-threads 0] [--server-threads 0]
//
// Both rounds run the server's and the clients' real code paths, in one process
// and without gRPC: plain, each client encodes its float32 update into 1 MiB
// chunks and the server decodes them and folds them into the float64 weighted
// mean (batches of 2, the server's default); secure, each client makes its keys,
// shares them with its SecAgg+ neighbours, quantises and masks its update and
// statistics and sends the words through the same codec, and the server routes
// the shares, decodes and sums the masked vectors, rebuilds the secrets and
// removes the masks. The bytes on the wire are the same in both rounds (4 per
// parameter), so the network's time, left out here, would bring the ratio closer
// to 1. Clients run one after another here but on their own machines in a
// deployment, so a round's latency is the server's time plus the slowest
// client's; both are printed. `--dropout F` makes a share F of the clients drop
// after masking (the server then also rebuilds their masking keys). Without
// `--neighbours`, k and t are sized as `equifl server` sizes them, for
// `--expected-dropout` and `--target-failure` (aggregation/secure/
// neighbourhood_sizing.h; the defaults are the server's). The server
// removes masks on every core, as `equifl server` does (`--server-threads 1`
// shows one core); the plain fold is bound by memory, not by a core.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "aggregation/secure/mask_stream.h"
#include "aggregation/secure/neighbour_graph.h"
#include "aggregation/secure/neighbourhood_sizing.h"
#include "aggregation/secure/secure_aggregation_client.h"
#include "aggregation/secure/secure_aggregation_server.h"
#include "aggregation/secure/secure_input.h"
#include "aggregation/weighted_mean.h"
#include "protocol/chunk_decoder.h"
#include "protocol/chunk_encoder.h"

#if defined(EQUIFL_HAVE_CUDA_MASKS)
#include "aggregation/secure/mask_stream_cuda.h"
#endif

namespace {

namespace aggregation = equifl::aggregation;
namespace protocol = equifl::protocol;
namespace v1 = equifl::v1;
namespace fairness = equifl::fairness;
using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<uint32_t> clients = {100, 1000};
  size_t parameters = 10'000'000;
  uint32_t neighbours = 0;  // 0: aggregation::ChooseNeighbourhoodSize for `tolerance`
  double threshold = 0.5;
  aggregation::DropoutTolerance tolerance;
  double dropout = 0;
  int client_threads = 0;
  int server_threads = 0;
};

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Accumulates the time of the calls it wraps.
class Stopwatch {
 public:
  template <typename Body>
  auto operator()(Body body) {
    const auto start = Clock::now();
    if constexpr (std::is_void_v<decltype(body())>) {
      body();
      seconds_ += Seconds(start);
    } else {
      auto result = body();
      seconds_ += Seconds(start);
      return result;
    }
  }
  double seconds() const { return seconds_; }
  void Reset() { seconds_ = 0; }

 private:
  double seconds_ = 0;
};

void Check(const absl::Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, std::string(status.message()).c_str());
    std::exit(1);
  }
}

template <typename T>
T Check(absl::StatusOr<T> value, const char* what) {
  Check(value.status(), what);
  return *std::move(value);
}

// Four written update vectors of small values; client k sends base[k % 4] scaled
// by (1 + k / 1000), so every update differs and no page is touched first inside
// a timer.
class Updates {
 public:
  explicit Updates(size_t parameters)
      : bases_(4, std::vector<float>(parameters)), scratch_(parameters) {
    uint32_t state = 12345;
    for (std::vector<float>& base : bases_) {
      for (float& value : base) {
        state = state * 1664525u + 1013904223u;
        value = (static_cast<float>(state >> 8) / 16777216.0f - 0.5f) * 0.02f;
      }
    }
  }
  // Client k's update (valid until the next call).
  const std::vector<float>& Of(uint32_t client) {
    const float scale = 1.0f + static_cast<float>(client) / 1000.0f;
    const std::vector<float>& base = bases_[client % 4];
    for (size_t i = 0; i < base.size(); ++i) scratch_[i] = base[i] * scale;
    return scratch_;
  }
  static double Weight(uint32_t client) { return 50.0 + client % 7 * 10.0; }

 private:
  std::vector<std::vector<float>> bases_;
  std::vector<float> scratch_;
};

struct RoundTimes {
  double server = 0;      // every server step, summed
  double client_max = 0;  // the slowest client's own steps
  double client_sum = 0;  // every client's steps, summed
  double Latency() const { return server + client_max; }
};

// Streams `tensors` through the codec: Next() is the client's, Accept() the
// server's time.
void Transfer(std::vector<protocol::TensorView> tensors,
              std::vector<protocol::MutableTensorView> destinations, Stopwatch& client,
              Stopwatch& server) {
  protocol::CodecOptions codec;  // float32 (int32 travels verbatim), 1 MiB chunks
  protocol::ChunkEncoder encoder = Check(
      client([&] { return protocol::ChunkEncoder::Create(std::move(tensors), codec); }), "encoder");
  protocol::ChunkDecoder decoder = Check(server([&] {
                                           protocol::DecoderLimits limits;
                                           limits.require_finite = true;
                                           return protocol::ChunkDecoder::Create(
                                               encoder.manifest(), std::move(destinations), limits);
                                         }),
                                         "decoder");
  v1::TensorChunk chunk;
  while (Check(client([&] { return encoder.Next(chunk); }), "encoding")) {
    Check(server([&] { return decoder.Accept(chunk); }), "decoding");
  }
  Check(server([&] { return std::move(decoder).Finish(); }), "finishing the stream");
}

RoundTimes PlainRound(uint32_t clients, Updates& updates, std::vector<float>& mean_out) {
  const size_t parameters = mean_out.size();
  RoundTimes times;
  Stopwatch server;
  aggregation::WeightedMean mean(parameters);
  std::vector<std::vector<float>> buffers(2, std::vector<float>(parameters, 0.0f));
  std::vector<double> weights;
  std::vector<std::span<const float>> batch;
  for (uint32_t k = 0; k < clients; ++k) {
    const std::vector<float>& update = updates.Of(k);
    Stopwatch client;
    std::vector<float>& buffer = buffers[batch.size()];
    Transfer({{"update",
               v1::DATA_TYPE_FLOAT32,
               {static_cast<int64_t>(parameters)},
               std::as_bytes(std::span(update))}},
             {{"update",
               v1::DATA_TYPE_FLOAT32,
               {static_cast<int64_t>(parameters)},
               std::as_writable_bytes(std::span(buffer))}},
             client, server);
    weights.push_back(Updates::Weight(k));
    batch.push_back(buffer);
    if (batch.size() == buffers.size() || k + 1 == clients) {
      Check(server([&] { return mean.AccumulateBatch(weights, batch); }), "folding");
      weights.clear();
      batch.clear();
    }
    times.client_max = std::max(times.client_max, client.seconds());
    times.client_sum += client.seconds();
  }
  mean_out = Check(server([&] { return std::move(mean).Report(); }), "report");
  times.server = server.seconds();
  return times;
}

struct SecureResult {
  RoundTimes times;
  double unmask_seconds = 0;      // removing the masks, the server's hot loop
  double unmask_cpu_seconds = 0;  // the same, in CPU time summed over its threads
  double mask_gigabytes = 0;      // keystream the server expanded to unmask
  uint32_t neighbours = 0;        // per client
  uint32_t threshold = 0;
  uint32_t survivors = 0;
  size_t share_bytes = 0;  // encrypted shares routed by the server
};

SecureResult SecureRound(uint32_t clients, Updates& updates, const Options& options,
                         std::vector<float>& mean_out) {
  const size_t parameters = mean_out.size();
  SecureResult result;
  const aggregation::SecureRoundContext context{"bench", 1};
  aggregation::SecureInputLayout layout;
  layout.update_size = parameters;
  layout.statistics = {{"en"}, {fairness::kFusionView}, {"female", "male"}, 5};
  layout.max_clients = clients;
  layout.update_bound = 0.1;
  layout.weight_bound = 200;
  aggregation::SecureRoundOptions round;
  round.context = context;
  for (uint32_t k = 0; k < clients; ++k) round.selected.push_back("client-" + std::to_string(k));
  std::sort(round.selected.begin(), round.selected.end());
  round.words = layout.Words();
  round.neighbours = options.neighbours;
  round.threshold_fraction = options.threshold;
  round.tolerance = options.tolerance;
  round.min_survivors = aggregation::MinSurvivors(clients, options.threshold);
  round.graph_seed = 7;
  round.threads = options.server_threads;

  Stopwatch server;
  std::vector<Stopwatch> client_time(clients);
  aggregation::SecureAggregationServer protocol(round);
  std::vector<aggregation::SecureAggregationClient> sessions;
  sessions.reserve(clients);
  for (uint32_t k = 0; k < clients; ++k) {
    sessions.push_back(
        Check(client_time[k]([&] { return aggregation::SecureAggregationClient::Create(context); }),
              "client keys"));
    Check(server([&] { return protocol.AddKeys(round.selected[k], sessions[k].public_keys()); }),
          "advertising");
  }
  Check(server([&] { return protocol.CloseAdvertising(); }), "closing advertising");
  std::vector<std::vector<std::string>> neighbours_of(clients);
  for (uint32_t k = 0; k < clients; ++k) {
    const aggregation::Neighbourhood neighbourhood =
        Check(server([&] { return protocol.NeighbourhoodOf(round.selected[k]); }), "neighbours");
    for (const aggregation::SecurePeer& peer : neighbourhood.neighbours) {
      neighbours_of[k].push_back(peer.client_id);
    }
    result.neighbours = static_cast<uint32_t>(neighbourhood.neighbours.size());
    result.threshold = neighbourhood.threshold;
    std::vector<aggregation::EncryptedShare> shares =
        Check(client_time[k]([&] { return sessions[k].ShareKeys(neighbourhood); }), "sharing");
    for (const auto& share : shares) result.share_bytes += share.ciphertext.size();
    Check(server([&] { return protocol.AddShares(round.selected[k], std::move(shares)); }),
          "routing shares");
  }
  Check(server([&] { return protocol.CloseSharing(); }), "closing sharing");
  // Every `1 / dropout`-th client masks its input and never delivers it.
  const auto drops = [&](uint32_t k) {
    return options.dropout > 0 && static_cast<uint32_t>((k + 1) * options.dropout) !=
                                      static_cast<uint32_t>(k * options.dropout);
  };
  std::vector<uint32_t> words;
  std::vector<uint32_t> received(layout.Words());
  for (uint32_t k = 0; k < clients; ++k) {
    const std::vector<aggregation::EncryptedShare> inbox =
        Check(server([&] { return protocol.SharesFor(round.selected[k]); }), "fetching shares");
    Check(client_time[k]([&] { return sessions[k].ReceiveShares(inbox); }), "receiving shares");
    const std::vector<float>& update = updates.Of(k);
    aggregation::SecureInput input;
    input.update = update;
    input.weight = Updates::Weight(k);
    input.train_samples = static_cast<uint64_t>(input.weight);
    input.train[{"en", fairness::kFusionView, ""}][k % 2 ? "male" : "female"] = {
        input.weight * 1.5, input.train_samples, 5, std::vector<uint64_t>(25, 1)};
    Check(client_time[k]([&] {
            return aggregation::EncodeSecureInput(layout, input, words);
          }).status(),
          "encoding the input");
    Check(client_time[k]([&] { return sessions[k].Mask(words, options.client_threads); }),
          "masking");
    if (drops(k)) continue;
    Transfer({{"masked_input",
               v1::DATA_TYPE_INT32,
               {static_cast<int64_t>(words.size())},
               std::as_bytes(std::span(words))}},
             {{"masked_input",
               v1::DATA_TYPE_INT32,
               {static_cast<int64_t>(received.size())},
               std::as_writable_bytes(std::span(received))}},
             client_time[k], server);
    Check(server([&] { return protocol.AddMaskedInput(round.selected[k], received); }),
          "summing the masked input");
  }
  Check(server([&] { return protocol.CloseCollection(); }), "closing collection");
  for (uint32_t k = 0; k < clients; ++k) {
    if (drops(k)) continue;
    const aggregation::UnmaskRequest request =
        Check(server([&] { return protocol.UnmaskRequestFor(round.selected[k]); }), "request");
    const std::vector<aggregation::RevealedShare> revealed =
        Check(client_time[k]([&] { return sessions[k].Unmask(request); }), "revealing");
    Check(server([&] { return protocol.AddRevealedShares(round.selected[k], revealed); }),
          "collecting shares");
  }
  result.survivors = static_cast<uint32_t>(protocol.collected());
  const double before = server.seconds();
  const std::clock_t cpu_before = std::clock();
  std::vector<uint32_t> sum = Check(server([&] { return protocol.Unmask(); }), "unmasking");
  result.unmask_cpu_seconds = static_cast<double>(std::clock() - cpu_before) / CLOCKS_PER_SEC;
  result.unmask_seconds = server.seconds() - before;
  // A self mask per survivor, and a pairwise mask per dropped client and surviving
  // neighbour.
  const std::vector<std::string> survivors = protocol.Survivors();
  size_t masks = survivors.size();
  for (uint32_t k = 0; k < clients; ++k) {
    if (!drops(k)) continue;
    for (const std::string& neighbour : neighbours_of[k]) {
      masks += std::binary_search(survivors.begin(), survivors.end(), neighbour) ? 1 : 0;
    }
  }
  result.mask_gigabytes =
      static_cast<double>(masks) * 4.0 * static_cast<double>(layout.Words()) / 1e9;
  aggregation::SecureSum decoded =
      Check(server([&] { return aggregation::DecodeSecureSum(layout, sum); }), "decoding the sum");
  server([&] {
    for (size_t i = 0; i < parameters; ++i) {
      mean_out[i] = static_cast<float>(decoded.weighted_update[i] / decoded.weight);
    }
  });
  result.times.server = server.seconds();
  for (const Stopwatch& time : client_time) {
    result.times.client_max = std::max(result.times.client_max, time.seconds());
    result.times.client_sum += time.seconds();
  }
  return result;
}

// ChaCha20 keystream through OpenSSL: GB/s of mask words added into a vector.
double CpuMaskRate(size_t words, int threads) {
  std::vector<uint32_t> target(words, 1);
  std::vector<aggregation::MaskStream> streams;
  for (int i = 0; i < 4; ++i) {
    aggregation::Key32 key{};
    key[0] = static_cast<uint8_t>(i + 1);
    streams.push_back({key, i % 2 == 1});
  }
  Check(aggregation::ApplyMasks(streams, target, threads), "warming up");
  const auto start = Clock::now();
  Check(aggregation::ApplyMasks(streams, target, threads), "expanding");
  return 4.0 * streams.size() * static_cast<double>(words) / 1e9 / Seconds(start);
}

bool ParseOptions(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") return false;
    if (i + 1 >= argc) return false;
    const std::string value = argv[++i];
    bool ok = true;
    if (flag == "--clients") {
      options.clients.clear();
      for (absl::string_view part : absl::StrSplit(value, ',')) {
        uint32_t count = 0;
        ok = ok && absl::SimpleAtoi(part, &count) && count >= 2 && count <= 65535;
        options.clients.push_back(count);
      }
    } else if (flag == "--parameters") {
      ok = absl::SimpleAtoi(value, &options.parameters) && options.parameters > 0;
    } else if (flag == "--neighbours") {
      ok = absl::SimpleAtoi(value, &options.neighbours);
    } else if (flag == "--threshold") {
      ok = absl::SimpleAtod(value, &options.threshold) && options.threshold > 0 &&
           options.threshold <= 1;
    } else if (flag == "--expected-dropout") {
      ok = absl::SimpleAtod(value, &options.tolerance.expected_dropout);
    } else if (flag == "--target-failure") {
      ok = absl::SimpleAtod(value, &options.tolerance.target_failure_probability);
    } else if (flag == "--dropout") {
      ok = absl::SimpleAtod(value, &options.dropout) && options.dropout >= 0 &&
           options.dropout < 0.5;
    } else if (flag == "--client-threads") {
      ok = absl::SimpleAtoi(value, &options.client_threads) && options.client_threads >= 0;
    } else if (flag == "--server-threads") {
      ok = absl::SimpleAtoi(value, &options.server_threads) && options.server_threads >= 0;
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "bad value '%s' for %s\n", value.c_str(), flag.c_str());
      return false;
    }
  }
  if (options.neighbours == 0) {
    if (absl::Status status = options.tolerance.Validate(options.threshold); !status.ok()) {
      std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: equifl_secure_aggregation_bench [--clients 100,1000] "
                 "[--parameters 10000000] [--neighbours K (0: sized for the expected dropout)] "
                 "[--threshold 0.5] [--expected-dropout 0.3] [--target-failure 1e-6] "
                 "[--dropout F (share dropping after masking, < 0.5)] "
                 "[--client-threads T (0: every core)] [--server-threads T (0: every core)]\n");
    return 2;
  }
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  std::printf("secure vs plain round: %zu float32 parameters (%.0f MB per update), %d cores\n",
              options.parameters, options.parameters * 4 / 1e6, cores);
  std::printf(
      "mask expansion on the CPU (ChaCha20, OpenSSL): %.2f GB/s on 1 thread, %.2f GB/s on %d\n",
      CpuMaskRate(1 << 24, 1), CpuMaskRate(1 << 24, 0), cores);
#if defined(EQUIFL_HAVE_CUDA_MASKS)
  {
    absl::StatusOr<double> rate = aggregation::DeviceMaskRate(size_t{1} << 28, 8);
    if (rate.ok()) {
      std::printf("mask expansion on the GPU (ChaCha20, CUDA kernel): %.1f GB/s\n", *rate);
    } else {
      std::printf("mask expansion on the GPU: not measured (%s)\n",
                  std::string(rate.status().message()).c_str());
    }
  }
#else
  std::printf("mask expansion on the GPU: not measured (built without CUDA)\n");
#endif
  std::printf("\n%8s %4s %4s %9s | %9s %9s %9s | %9s %9s %9s %9s | %7s %7s\n", "clients", "k", "t",
              "survivors", "plain srv", "client", "latency", "secure srv", "unmask", "client",
              "latency", "server", "latency");
  std::printf("%8s %4s %4s %9s | %9s %9s %9s | %9s %9s %9s %9s | %7s %7s\n", "", "", "", "", "s",
              "max s", "s", "s", "s", "max s", "s", "ratio", "ratio");
  Updates updates(options.parameters);
  for (uint32_t clients : options.clients) {
    std::vector<float> plain_mean(options.parameters);
    std::vector<float> secure_mean(options.parameters);
    const RoundTimes plain = PlainRound(clients, updates, plain_mean);
    const SecureResult secure = SecureRound(clients, updates, options, secure_mean);
    // Both rounds must agree (up to the fixed point) where no client dropped.
    double worst = 0;
    if (options.dropout == 0) {
      for (size_t i = 0; i < options.parameters; ++i) {
        worst = std::max(worst, static_cast<double>(std::abs(plain_mean[i] - secure_mean[i])));
      }
    }
    std::printf("%8u %4u %4u %9u | %9.2f %9.3f %9.2f | %9.2f %9.2f %9.3f %9.2f | %7.2f %7.2f\n",
                clients, secure.neighbours, secure.threshold, secure.survivors, plain.server,
                plain.client_max, plain.Latency(), secure.times.server, secure.unmask_seconds,
                secure.times.client_max, secure.times.Latency(), secure.times.server / plain.server,
                secure.times.Latency() / plain.Latency());
    std::printf(
        "%8s unmask expanded %.1f GB of masks at %.2f GB/s (%.1f CPU-s, all threads); shares "
        "routed %.1f MB; clients' time summed %.1f s plain, %.1f s secure; max |secure - plain "
        "mean| %s\n",
        "", secure.mask_gigabytes, secure.mask_gigabytes / secure.unmask_seconds,
        secure.unmask_cpu_seconds, secure.share_bytes / 1e6, plain.client_sum,
        secure.times.client_sum,
        options.dropout == 0 ? absl::StrFormat("%.2g", worst).c_str()
                             : "n/a (the means differ by the dropped clients)");
    std::fflush(stdout);
  }
  return 0;
}
