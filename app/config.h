// The equifl configuration file: YAML, validated key by key.
//
// Only the equifl binary reads configuration; libraries take options structs.
// Every error names the file, line, the offending key and what is allowed, e.g.
//   run.yaml:3: transport.encoding is 'fp8'; allowed values: fp32, fp16, bf16, int8
// Unknown keys are errors too, so a misspelt key never silently falls back to a
// default.
#ifndef EQUIFL_APP_CONFIG_H_
#define EQUIFL_APP_CONFIG_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "protocol/chunk_encoder.h"

namespace equifl::app {

//! Everything the configuration file sets; defaults are the in-class initialisers.
struct Config {
  //! Log level: trace, debug, info, warn, error or off.
  std::string log_level = "info";
  //! How tensors travel: `transport.encoding` and `transport.chunk_bytes`.
  protocol::CodecOptions codec;
};

//! The log levels accepted by `log.level` and `--log-level`, in order.
inline constexpr absl::string_view kLogLevels[] = {"trace", "debug", "info",
                                                   "warn",  "error", "off"};

//! Parses YAML `text`; `source` (usually the file name) prefixes error messages.
absl::StatusOr<Config> ParseConfig(absl::string_view text, absl::string_view source);

//! Reads and parses the file at `path`.
absl::StatusOr<Config> LoadConfig(const std::string& path);

}  // namespace equifl::app

#endif  // EQUIFL_APP_CONFIG_H_
