#include "app/self_check.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"
#include "app/command.h"
#include "base/status_macros.h"
#include "protocol/chunk_decoder.h"
#include "protocol/encoding.h"

namespace equifl::app {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The documented error bound of `encoding` for `value`; `chunk_max` is the largest
// magnitude in the value's chunk (INT8's scale is chunk_max / 127).
double ErrorBound(v1::Encoding encoding, double value, double chunk_max) {
  switch (encoding) {
    case v1::ENCODING_FLOAT16:
      return std::max(std::fabs(value) * std::ldexp(1.0, -11), std::ldexp(1.0, -25));
    case v1::ENCODING_BFLOAT16:
      return std::fabs(value) * std::ldexp(1.0, -8);
    case v1::ENCODING_INT8:
      return chunk_max / 127.0 * (0.5 + std::ldexp(1.0, -14));
    default:
      return 0;
  }
}

absl::StatusOr<EncodingCheck> CheckEncoding(const std::vector<float>& model, v1::Encoding encoding,
                                            const SelfCheckOptions& options) {
  EncodingCheck check{.encoding = encoding};
  const std::vector<int64_t> shape = {static_cast<int64_t>(model.size())};
  protocol::TensorView view{"weights", v1::DATA_TYPE_FLOAT32, shape,
                            std::as_bytes(std::span(model))};
  std::vector<float> received(model.size());
  protocol::MutableTensorView destination{"weights", v1::DATA_TYPE_FLOAT32, shape,
                                          std::as_writable_bytes(std::span(received))};

  auto start = Clock::now();
  EQUIFL_ASSIGN_OR_RETURN(
      protocol::ChunkEncoder encoder,
      protocol::ChunkEncoder::Create({view}, {encoding, options.max_chunk_bytes}));
  std::vector<v1::TensorChunk> chunks(encoder.manifest().chunk_count());
  for (v1::TensorChunk& chunk : chunks) {
    EQUIFL_ASSIGN_OR_RETURN(bool produced, encoder.Next(chunk));
    if (!produced) return absl::InternalError("encoder produced fewer chunks than announced");
    check.wire_bytes += chunk.data().size();
  }
  check.encode_seconds = SecondsSince(start);
  check.chunks = chunks.size();

  start = Clock::now();
  EQUIFL_ASSIGN_OR_RETURN(protocol::ChunkDecoder decoder,
                          protocol::ChunkDecoder::Create(encoder.manifest(), {destination}));
  for (const v1::TensorChunk& chunk : chunks) EQUIFL_RETURN_IF_ERROR(decoder.Accept(chunk));
  EQUIFL_RETURN_IF_ERROR(std::move(decoder).Finish());
  check.decode_seconds = SecondsSince(start);

  for (const v1::TensorChunk& chunk : chunks) {
    double chunk_max = 0;
    const uint64_t begin = chunk.element_offset();
    const uint64_t end = begin + chunk.element_count();
    for (uint64_t i = begin; i < end; ++i) {
      chunk_max = std::max(chunk_max, std::fabs(static_cast<double>(model[i])));
    }
    for (uint64_t i = begin; i < end; ++i) {
      const double error = std::fabs(static_cast<double>(received[i]) - model[i]);
      check.max_abs_error = std::max(check.max_abs_error, error);
      const double bound = ErrorBound(encoding, model[i], chunk_max);
      const double ratio = bound > 0 ? error / bound : (error > 0 ? INFINITY : 0);
      check.worst_bound_ratio = std::max(check.worst_bound_ratio, ratio);
    }
  }
  if (check.worst_bound_ratio > 1) {
    return absl::InternalError(absl::StrCat(protocol::EncodingName(encoding),
                                            " exceeded its error bound by ",
                                            check.worst_bound_ratio, "x"));
  }
  return check;
}

}  // namespace

absl::StatusOr<std::vector<EncodingCheck>> RunCodecSelfCheck(const SelfCheckOptions& options) {
  if (options.parameters == 0) {
    return absl::InvalidArgumentError("selfcheck needs at least one parameter");
  }
  std::mt19937_64 generator(options.seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> model(options.parameters);
  for (float& value : model) value = normal(generator);

  std::vector<EncodingCheck> checks;
  for (v1::Encoding encoding :
       {v1::ENCODING_FLOAT32, v1::ENCODING_FLOAT16, v1::ENCODING_BFLOAT16, v1::ENCODING_INT8}) {
    EQUIFL_ASSIGN_OR_RETURN(EncodingCheck check, CheckEncoding(model, encoding, options));
    checks.push_back(check);
  }
  return checks;
}

CLI::App* AddSelfCheckSubcommand(CLI::App& app, SelfCheckCommand& command) {
  CLI::App* selfcheck = app.add_subcommand(
      "selfcheck",
      "Send a random model through the codec with every encoding and check the error "
      "bounds and checksums");
  selfcheck
      ->add_option("--parameters", command.parameters, "float32 parameters in the random model")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{2'000'000'000}));
  return selfcheck;
}

int RunSelfCheckCommand(const Config& config, const SelfCheckCommand& command) {
  SelfCheckOptions options;
  options.parameters = command.parameters;
  options.max_chunk_bytes = config.codec.max_chunk_bytes;
  spdlog::info("codec self-check: {} float32 parameters ({:.1f} MB), chunks of at most {} bytes",
               options.parameters, options.parameters * 4 / 1e6, options.max_chunk_bytes);
  auto checks = RunCodecSelfCheck(options);
  if (!checks.ok()) {
    spdlog::error("codec self-check failed: {}", std::string(checks.status().message()));
    return kExitFailure;
  }
  std::printf("%-8s %8s %10s %14s %12s %12s %12s\n", "encoding", "chunks", "wire MB", "max |error|",
              "error/bound", "encode GB/s", "decode GB/s");
  const double model_gigabytes = options.parameters * 4 / 1e9;
  for (const EncodingCheck& check : *checks) {
    std::printf("%-8s %8llu %10.1f %14.3g %12.3f %12.2f %12.2f\n",
                protocol::EncodingName(check.encoding).c_str(),
                static_cast<unsigned long long>(check.chunks), check.wire_bytes / 1e6,
                check.max_abs_error, check.worst_bound_ratio,
                model_gigabytes / check.encode_seconds, model_gigabytes / check.decode_seconds);
  }
  std::printf(
      "codec self-check passed: every encoding within its documented error bound, "
      "every checksum verified\n");
  return 0;
}

}  // namespace equifl::app
