// `equifl selfcheck`: a round trip of a random model through the codec with every
// encoding, checking the documented error bounds and the checksum. It proves an
// installation works end to end without data or a network.
#ifndef EQUIFL_APP_SELF_CHECK_H_
#define EQUIFL_APP_SELF_CHECK_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "app/config.h"
#include "protocol/chunk_encoder.h"

namespace equifl::app {

//! What the self-check sends.
struct SelfCheckOptions {
  uint64_t parameters = 10'000'000;  //!< float32 parameters in the random model.
  uint64_t seed = 1;                 //!< Seed of the random values.
  size_t max_chunk_bytes = protocol::CodecOptions{}.max_chunk_bytes;  //!< Chunk bound.
};

//! The outcome for one encoding.
struct EncodingCheck {
  v1::Encoding encoding;         //!< The encoding checked.
  uint64_t chunks = 0;           //!< Chunks sent.
  uint64_t wire_bytes = 0;       //!< Chunk data bytes sent.
  double max_abs_error = 0;      //!< Largest |decoded - original|.
  double worst_bound_ratio = 0;  //!< Largest error / documented bound (<= 1 passes).
  double encode_seconds = 0;     //!< ChunkEncoder::Create plus every Next.
  double decode_seconds = 0;     //!< Every Accept plus Finish.
};

//! Runs the round trip for fp32, fp16, bf16 and int8. Fails if the codec refuses
//! the model, the checksum does not match, or an error exceeds its bound.
absl::StatusOr<std::vector<EncodingCheck>> RunCodecSelfCheck(const SelfCheckOptions& options);

//! Command-line choices of `equifl selfcheck`.
struct SelfCheckCommand {
  uint64_t parameters = SelfCheckOptions{}.parameters;  //!< float32 parameters to send.
};

//! Adds `selfcheck` and its flags, stored in `command`, to `app`.
CLI::App* AddSelfCheckSubcommand(CLI::App& app, SelfCheckCommand& command);

//! Runs the self-check with the configured chunk size and prints a table per
//! encoding; returns the exit code (0 passed, 1 failed).
int RunSelfCheckCommand(const Config& config, const SelfCheckCommand& command);

}  // namespace equifl::app

#endif  // EQUIFL_APP_SELF_CHECK_H_
