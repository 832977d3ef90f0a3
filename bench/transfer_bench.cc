// How fast a model moves: through the codec, and between two processes over gRPC
// on 127.0.0.1, each next to a memcpy of the same bytes measured in the same run;
// and the peak memory of both sides while a large model (1e9 parameters) moves.
//
//   equifl_transfer_bench [--parameters N] [--large-parameters N] [--chunk-bytes B]
//
// The binary re-executes itself as `--role sender` and `--role receiver` so that
// each side of the gRPC transfer is a process of its own with its own peak RSS.
#include <grpcpp/grpcpp.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "base/work_queue.h"
#include "equifl/v1/aggregator.grpc.pb.h"
#include "protocol/chunk_decoder.h"
#include "protocol/chunk_encoder.h"
#include "protocol/encoding.h"
#include "protocol/tensor_stream.h"

namespace {

using equifl::protocol::ChunkDecoder;
using equifl::protocol::ChunkEncoder;
using equifl::protocol::CodecOptions;
using equifl::protocol::MutableTensorView;
using equifl::protocol::TensorView;
namespace v1 = equifl::v1;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kTensors = 10;  // The model is cut into this many equal tensors.

struct Options {
  std::string role = "main";  // main, sender or receiver
  uint64_t parameters = 100'000'000;
  uint64_t large_parameters = 1'000'000'000;
  size_t chunk_bytes = CodecOptions{}.max_chunk_bytes;
  std::string address;  // receiver: where the sender listens
};

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Peak resident set size of this process (VmHWM), in bytes.
uint64_t PeakRssBytes() {
  FILE* status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) return 0;
  char line[256];
  uint64_t kilobytes = 0;
  while (std::fgets(line, sizeof line, status)) {
    if (std::sscanf(line, "VmHWM: %lu kB", &kilobytes) == 1) break;
  }
  std::fclose(status);
  return kilobytes * 1024;
}

// A model of `parameters` float32 values, cut into kTensors named tensors.
class Model {
 public:
  explicit Model(uint64_t parameters, bool fill) : parameters_(parameters) {
    values_.reset(new float[parameters]);  // Uninitialised: pages appear when written.
    if (fill) {
      uint32_t state = 12345;
      for (uint64_t i = 0; i < parameters; ++i) {
        state = state * 1664525u + 1013904223u;
        values_[i] = static_cast<float>(static_cast<int32_t>(state)) * 1e-10f;
      }
    }
  }

  std::vector<TensorView> Views() const {
    std::vector<TensorView> views;
    ForEachTensor([&](std::string name, uint64_t offset, uint64_t count) {
      views.push_back({std::move(name),
                       v1::DATA_TYPE_FLOAT32,
                       {static_cast<int64_t>(count)},
                       std::as_bytes(std::span(values_.get() + offset, count))});
    });
    return views;
  }

  std::vector<MutableTensorView> MutableViews() {
    std::vector<MutableTensorView> views;
    ForEachTensor([&](std::string name, uint64_t offset, uint64_t count) {
      views.push_back({std::move(name),
                       v1::DATA_TYPE_FLOAT32,
                       {static_cast<int64_t>(count)},
                       std::as_writable_bytes(std::span(values_.get() + offset, count))});
    });
    return views;
  }

  float* data() { return values_.get(); }
  uint64_t bytes() const { return parameters_ * sizeof(float); }

 private:
  template <typename Visit>
  void ForEachTensor(Visit visit) const {
    const uint64_t per_tensor = (parameters_ + kTensors - 1) / kTensors;
    for (uint64_t t = 0, offset = 0; offset < parameters_; ++t, offset += per_tensor) {
      visit(absl::StrCat("layer", t, ".weight"), offset,
            std::min(per_tensor, parameters_ - offset));
    }
  }

  uint64_t parameters_;
  std::unique_ptr<float[]> values_;
};

// The best of `repeats` memcpy runs of the model's bytes into a written-to buffer.
double MemcpyGigabytesPerSecond(Model& source, Model& destination, int repeats) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    std::memcpy(destination.data(), source.data(), source.bytes());
    best = std::min(best, Seconds(start));
  }
  return source.bytes() / best / 1e9;
}

struct CodecTiming {
  double encode_seconds = 0;  // ChunkEncoder::Create and every Next
  double decode_seconds = 0;  // every Accept and Finish
  double total_seconds = 0;
};

// Encodes the model chunk by chunk into one reused message and decodes each chunk
// straight away, as a sender and receiver do; the best of `repeats` runs.
CodecTiming StreamThroughCodec(Model& source, Model& destination, v1::Encoding encoding,
                               size_t chunk_bytes, int repeats) {
  CodecTiming best{1e30, 1e30, 1e30};
  for (int i = 0; i < repeats; ++i) {
    CodecTiming timing;
    auto start = Clock::now();
    absl::StatusOr<ChunkEncoder> encoder =
        ChunkEncoder::Create(source.Views(), {encoding, chunk_bytes});
    timing.encode_seconds += Seconds(start);
    if (!encoder.ok()) {
      std::fprintf(stderr, "encoder: %s\n", std::string(encoder.status().message()).c_str());
      std::exit(1);
    }
    start = Clock::now();
    absl::StatusOr<ChunkDecoder> decoder =
        ChunkDecoder::Create(encoder->manifest(), destination.MutableViews());
    timing.decode_seconds += Seconds(start);
    v1::TensorChunk chunk;
    while (true) {
      start = Clock::now();
      const bool produced = *encoder->Next(chunk);
      const auto encoded = Clock::now();
      timing.encode_seconds += std::chrono::duration<double>(encoded - start).count();
      if (!produced) break;
      if (!decoder->Accept(chunk).ok()) std::exit(1);
      timing.decode_seconds += Seconds(encoded);
    }
    start = Clock::now();
    if (absl::Status status = std::move(*decoder).Finish(); !status.ok()) {
      std::fprintf(stderr, "decoder: %s\n", std::string(status.message()).c_str());
      std::exit(1);
    }
    timing.decode_seconds += Seconds(start);
    timing.total_seconds = timing.encode_seconds + timing.decode_seconds;
    if (timing.total_seconds < best.total_seconds) best = timing;
  }
  return best;
}

// As a real transfer runs: the sender encodes while the receiver decodes, here on
// two threads handing chunks through a ring of four; the best of `repeats` runs.
double PipelinedCodecSeconds(Model& source, Model& destination, v1::Encoding encoding,
                             size_t chunk_bytes, int repeats) {
  constexpr int kSlots = 4;
  constexpr int kEndOfStream = -1;
  double best = 1e30;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    const auto start = Clock::now();
    absl::StatusOr<ChunkEncoder> encoder =
        ChunkEncoder::Create(source.Views(), {encoding, chunk_bytes});
    absl::StatusOr<ChunkDecoder> decoder =
        ChunkDecoder::Create(encoder->manifest(), destination.MutableViews());
    std::vector<v1::TensorChunk> slots(kSlots);
    // Chunk slots handed between the encoder and decoder threads.
    equifl::WorkQueue<int> free_slots;
    equifl::WorkQueue<int> full_slots;
    for (int slot = 0; slot < kSlots; ++slot) free_slots.Push(slot);
    std::thread producer([&] {
      while (true) {
        const int slot = *free_slots.Pop();
        if (!*encoder->Next(slots[slot])) break;
        full_slots.Push(slot);
      }
      full_slots.Push(kEndOfStream);
    });
    for (int slot = *full_slots.Pop(); slot != kEndOfStream; slot = *full_slots.Pop()) {
      if (!decoder->Accept(slots[slot]).ok()) std::exit(1);
      free_slots.Push(slot);
    }
    producer.join();
    if (!std::move(*decoder).Finish().ok()) std::exit(1);
    best = std::min(best, Seconds(start));
  }
  return best;
}

v1::RoundReference BenchRound() {
  v1::RoundReference round;
  round.set_run_id("transfer-bench");
  round.set_round_id(1);
  return round;
}

grpc::ChannelArguments LargeMessageArguments() {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(static_cast<int>(CodecOptions::kMaxChunkBytes) + (1 << 20));
  return arguments;
}

// Serves the model once to one receiver, then reports its peak RSS.
class SenderService final : public v1::Aggregator::Service {
 public:
  SenderService(const Model& model, size_t chunk_bytes)
      : model_(model), chunk_bytes_(chunk_bytes) {}

  grpc::Status DownloadModel(grpc::ServerContext*, const v1::DownloadModelRequest* request,
                             grpc::ServerWriter<v1::DownloadModelResponse>* writer) override {
    absl::StatusOr<ChunkEncoder> encoder =
        ChunkEncoder::Create(model_.Views(), {request->encoding(), chunk_bytes_});
    absl::Status status = encoder.ok()
                              ? equifl::protocol::WriteModelStream(BenchRound(), *encoder, *writer)
                              : encoder.status();
    served_.Notify();
    return status.ok() ? grpc::Status::OK
                       : grpc::Status(grpc::StatusCode::INTERNAL, std::string(status.message()));
  }

  void WaitUntilServed() { served_.WaitForNotification(); }

 private:
  const Model& model_;
  size_t chunk_bytes_;
  absl::Notification served_;
};

int RunSender(const Options& options) {
  Model model(options.parameters, /*fill=*/true);
  SenderService service(model, options.chunk_bytes);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return 1;
  std::printf("PORT %d\n", port);
  std::fflush(stdout);
  service.WaitUntilServed();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  std::printf("SENDER_PEAK_RSS %lu\n", PeakRssBytes());
  return 0;
}

int RunReceiver(const Options& options) {
  // A receiver holds its model before the round (a client's parameters, the
  // server's aggregation buffer), so its pages exist before the transfer starts:
  // touch them outside the timed part, as the memcpy baseline's are.
  Model model(options.parameters, /*fill=*/false);
  std::memset(model.data(), 0, model.bytes());
  auto channel = grpc::CreateCustomChannel(options.address, grpc::InsecureChannelCredentials(),
                                           LargeMessageArguments());
  auto stub = v1::Aggregator::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
  v1::DownloadModelRequest request;
  request.set_encoding(v1::ENCODING_FLOAT32);
  const auto start = Clock::now();
  auto reader = stub->DownloadModel(&context, request);
  absl::StatusOr<v1::TensorManifest> manifest = equifl::protocol::ReadModelStream(
      BenchRound(), *reader, [&](const v1::TensorManifest&) { return model.MutableViews(); });
  const grpc::Status finished = reader->Finish();
  const double seconds = Seconds(start);
  if (!manifest.ok() || !finished.ok()) {
    std::fprintf(stderr, "receiver: %s %s\n", std::string(manifest.status().message()).c_str(),
                 finished.error_message().c_str());
    return 1;
  }
  std::printf("RECEIVED %lu %.6f %lu\n", model.bytes(), seconds, PeakRssBytes());
  return 0;
}

// Starts this binary with `arguments`, its stdout readable through the returned pipe.
FILE* Spawn(const std::string& self, const std::string& arguments) {
  return popen((self + " " + arguments).c_str(), "r");
}

struct GrpcTransfer {
  double seconds = 0;
  uint64_t sender_peak_rss = 0;
  uint64_t receiver_peak_rss = 0;
};

bool TransferBetweenProcesses(const std::string& self, uint64_t parameters, size_t chunk_bytes,
                              GrpcTransfer& transfer) {
  const std::string common =
      absl::StrCat("--parameters ", parameters, " --chunk-bytes ", chunk_bytes);
  FILE* sender = Spawn(self, "--role sender " + common);
  int port = 0;
  if (sender == nullptr || std::fscanf(sender, "PORT %d", &port) != 1) return false;
  FILE* receiver =
      Spawn(self, absl::StrCat("--role receiver --address 127.0.0.1:", port, " ", common));
  uint64_t bytes = 0;
  const bool received =
      receiver != nullptr && std::fscanf(receiver, "RECEIVED %lu %lf %lu", &bytes,
                                         &transfer.seconds, &transfer.receiver_peak_rss) == 3;
  const bool sent = std::fscanf(sender, " SENDER_PEAK_RSS %lu", &transfer.sender_peak_rss) == 1;
  const int receiver_status = receiver ? pclose(receiver) : -1;
  const int sender_status = pclose(sender);
  return received && sent && receiver_status == 0 && sender_status == 0;
}

Options ParseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--role")
      options.role = value;
    else if (flag == "--parameters")
      options.parameters = std::stoull(value);
    else if (flag == "--large-parameters")
      options.large_parameters = std::stoull(value);
    else if (flag == "--chunk-bytes")
      options.chunk_bytes = std::stoull(value);
    else if (flag == "--address")
      options.address = value;
    else {
      std::fprintf(stderr,
                   "usage: %s [--parameters N] [--large-parameters N (0 skips)] "
                   "[--chunk-bytes B]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = ParseOptions(argc, argv);
  if (options.role == "sender") return RunSender(options);
  if (options.role == "receiver") return RunReceiver(options);
  const std::string self = argv[0];

  std::printf("model: %lu float32 parameters (%.2f GB) in %lu tensors, chunks of %zu bytes\n",
              options.parameters, options.parameters * 4 / 1e9, kTensors, options.chunk_bytes);
  Model source(options.parameters, /*fill=*/true);
  Model destination(options.parameters, /*fill=*/true);  // Written once: pages exist.
  const double memcpy_rate = MemcpyGigabytesPerSecond(source, destination, 3);
  std::fflush(stdout);
  const auto ratio = [&](double rate) { return rate / memcpy_rate; };
  std::printf("\nGB/s of float32 model bytes; in brackets, the ratio to memcpy\n");
  std::printf("%-10s %15s %15s %15s %15s\n", "path", "encode only", "decode only", "pipelined",
              "one thread");
  std::printf("%-10s %15s %15s %15s %8.2f (1.00)\n", "memcpy", "", "", "", memcpy_rate);
  for (v1::Encoding encoding :
       {v1::ENCODING_FLOAT32, v1::ENCODING_FLOAT16, v1::ENCODING_BFLOAT16, v1::ENCODING_INT8}) {
    const CodecTiming timing =
        StreamThroughCodec(source, destination, encoding, options.chunk_bytes, 3);
    const double pipelined =
        source.bytes() /
        PipelinedCodecSeconds(source, destination, encoding, options.chunk_bytes, 3) / 1e9;
    const double encode = source.bytes() / timing.encode_seconds / 1e9;
    const double decode = source.bytes() / timing.decode_seconds / 1e9;
    const double serial = source.bytes() / timing.total_seconds / 1e9;
    std::printf("%-10s %8.2f (%.2f) %8.2f (%.2f) %8.2f (%.2f) %8.2f (%.2f)\n",
                absl::StrCat("codec ", equifl::protocol::EncodingName(encoding)).c_str(), encode,
                ratio(encode), decode, ratio(decode), pipelined, ratio(pipelined), serial,
                ratio(serial));
  }
  GrpcTransfer transfer;
  if (!TransferBetweenProcesses(self, options.parameters, options.chunk_bytes, transfer)) {
    std::fprintf(stderr, "gRPC transfer failed\n");
    return 1;
  }
  const double grpc_rate = source.bytes() / transfer.seconds / 1e9;
  std::printf("%-10s %15s %15s %8.2f (%.2f)   (sender and receiver processes, fp32)\n", "gRPC", "",
              "", grpc_rate, ratio(grpc_rate));

  if (options.large_parameters > 0) {
    const double model_bytes = options.large_parameters * 4.0;
    GrpcTransfer large;
    if (!TransferBetweenProcesses(self, options.large_parameters, options.chunk_bytes, large)) {
      std::fprintf(stderr, "large gRPC transfer failed\n");
      return 1;
    }
    std::printf("\nlarge model: %lu float32 parameters (%.2f GB) over gRPC in %.1f s (%.2f GB/s)\n",
                options.large_parameters, model_bytes / 1e9, large.seconds,
                model_bytes / large.seconds / 1e9);
    std::printf("  sender   peak RSS %6.2f GB = %.2fx the model\n", large.sender_peak_rss / 1e9,
                large.sender_peak_rss / model_bytes);
    std::printf("  receiver peak RSS %6.2f GB = %.2fx the model\n", large.receiver_peak_rss / 1e9,
                large.receiver_peak_rss / model_bytes);
  }
  return 0;
}
