// The equifl configuration file: YAML, validated key by key.
//
// Only the equifl binary reads configuration; libraries take options structs.
// Every error names the file, line, the offending key and what is allowed, e.g.
//   run.yaml:3: transport.encoding is 'fp8'; allowed values: fp32, fp16, bf16, int8
// Unknown keys are errors too, so a misspelt key never silently falls back to a
// default, and so is a key or section given twice. Values are quoted in messages
// at most 80 bytes long (base/quoted_input.h).
#ifndef EQUIFL_APP_CONFIG_H_
#define EQUIFL_APP_CONFIG_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "aggregation/aggregation_rule.h"
#include "aggregation/server_optimizer.h"
#include "client/model/model_options.h"
#include "client/trainer_options.h"
#include "protocol/chunk_encoder.h"
#include "server/aggregator.h"
#include "server/fairness_engine.h"
#include "server/round_coordinator.h"
#include "sim/simulation_options.h"

namespace equifl::app {

//! The `server` section: where the aggregator listens and how it runs rounds.
struct ServerConfig {
  std::string address = "127.0.0.1:50051";        //!< host:port to listen on (clients dial it).
  std::string run_dir = "runs/equifl";            //!< Checkpoints and history.db go here.
  server::RoundOptions rounds;                    //!< rounds, min_clients, client_fraction, ...
  aggregation::ServerOptimizerOptions optimizer;  //!< optimizer, server_learning_rate.
  uint32_t max_concurrent_uploads = 2;            //!< Updates decoded at once.
  uint32_t upload_idle_timeout_seconds = 30;      //!< A silent upload is cancelled after this.
};

//! The `model` section: the architecture every participant builds. Modalities,
//! classes and groups come from the data's shard manifest.
struct ModelConfig {
  client::ModelOptions options;  //!< hidden_size, encoder, fusion, ...
  uint64_t seed = 0;             //!< Seeds the initial weights.
};

//! Everything the configuration file sets; defaults are the in-class initialisers.
struct Config {
  //! Log level: trace, debug, info, warn, error or off.
  std::string log_level = "info";
  //! How tensors travel: `transport.encoding` and `transport.chunk_bytes`.
  protocol::CodecOptions codec;
  ServerConfig server;              //!< The `server` section.
  client::TrainerOptions training;  //!< The `training` section (sent with every task).
  ModelConfig model;                //!< The `model` section.
  //! The `fairness` section: the method (ERM-MinMaxGAP or a baseline) and its
  //! knobs. method: adversarial also turns on model.adversary.
  server::FairnessOptions fairness;
  //! The `sim` section: what `equifl sim` simulates (clients, data, partition,
  //! devices, transport).
  sim::SimulationOptions simulation;
  //! The `privacy` section: client-level differential privacy (clip_norm,
  //! noise_multiplier, delta, adaptive clipping); off unless clip_norm > 0.
  aggregation::PrivacyOptions privacy;
  //! The `secure_aggregation` section: masked sums of updates and statistics.
  server::SecureAggregationOptions secure_aggregation;
  //! The `aggregation` section: the rule that combines plain updates (mean,
  //! trimmed_mean, median) and the bound on each update's norm.
  aggregation::RobustAggregationOptions robust_aggregation;
};

//! The log levels accepted by `log.level` and `--log-level`, in order.
inline constexpr absl::string_view kLogLevels[] = {"trace", "debug", "info",
                                                   "warn",  "error", "off"};

//! Parses YAML `text`; `source` (usually the file name) prefixes error messages.
absl::StatusOr<Config> ParseConfig(absl::string_view text, absl::string_view source);

//! Reads and parses the file at `path`: a regular file of at most 1 MiB (a FIFO,
//! a device or a larger file is refused before it is read) in UTF-8.
absl::StatusOr<Config> LoadConfig(const std::string& path);

}  // namespace equifl::app

#endif  // EQUIFL_APP_CONFIG_H_
