// Everything an aggregator needs to know besides the model: the run, how rounds
// are formed, what clients are asked to do, how updates are aggregated (and how
// robustly), and the fairness method, client-level DP and secure aggregation of
// the run.
#ifndef EQUIFL_SERVER_AGGREGATOR_OPTIONS_H_
#define EQUIFL_SERVER_AGGREGATOR_OPTIONS_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "aggregation/aggregation_rule.h"
#include "aggregation/privacy/client_level_privacy.h"
#include "aggregation/secure/neighbourhood_sizing.h"
#include "aggregation/secure/secure_input.h"
#include "aggregation/server_optimizer.h"
#include "equifl/v1/aggregator.pb.h"
#include "protocol/chunk_decoder.h"
#include "protocol/chunk_encoder.h"
#include "server/fairness_engine.h"
#include "server/round_coordinator.h"

namespace equifl::server {

//! The `secure_aggregation` section: whether updates and statistics are summed
//! under secure aggregation (Bonawitz et al. 2017 with SecAgg+ neighbourhoods),
//! so the server learns only sums, and the fixed point's ranges
//! (aggregation/secure/secure_input.h).
struct SecureAggregationOptions {
  bool enabled = false;
  //! SecAgg+'s neighbours per client; 0: sized for `tolerance` each round
  //! (aggregation/secure/neighbourhood_sizing.h; every client when no smaller
  //! neighbourhood meets the target, which is Bonawitz's complete graph).
  uint32_t neighbours = 0;
  //! Least share of a neighbourhood whose shares rebuild a secret (t; exactly this
  //! share when `neighbours` is set), and share of the selected clients whose
  //! masked inputs the round needs.
  double threshold = 0.5;
  //! The dropout rate (expected_dropout) and the probability of an abandoned round
  //! (target_failure_probability) that k and t are sized for when neighbours is 0.
  aggregation::DropoutTolerance tolerance;
  //! Each coordinate of a client's weighted update r·Δ is clamped to ±this; with
  //! client-level DP the range follows the clipping norm instead.
  double update_bound = 1.0;
  //! Aggregation weights above this count as it; 0: the largest training-set size
  //! clients announced at Join (times e^β for ERM-MinMaxGAP).
  double weight_bound = 0;
  //! How long key advertisement, key sharing and unmasking may each take.
  std::chrono::milliseconds phase_timeout{std::chrono::seconds(30)};

  absl::Status Validate() const;
};

//! Everything the aggregator needs to know besides the model.
struct AggregatorOptions {
  std::string run_id;               //!< Stamped on every message; required.
  RoundOptions rounds;              //!< Selection, quorum, deadline.
  protocol::CodecOptions download;  //!< Encoding and chunk size of model downloads.
  v1::Encoding upload_encoding = v1::ENCODING_FLOAT32;  //!< Asked of clients.
  v1::TrainingHyperparameters training;                 //!< Sent with every task.
  aggregation::ServerOptimizerOptions optimizer;        //!< How the mean update is applied.
  //! How plain updates combine (mean, trimmed mean, median) and the bound on each
  //! update's norm, which clients apply themselves under secure aggregation.
  aggregation::RobustAggregationOptions robust_aggregation;
  std::chrono::milliseconds poll_timeout{std::chrono::seconds(10)};  //!< Long-poll bound.
  uint32_t max_concurrent_uploads = 2;  //!< Uploads decoded at once (each needs a buffer).
  //! An upload whose client sends nothing for this long is cancelled (UploadGuard).
  std::chrono::milliseconds upload_idle_timeout{std::chrono::seconds(30)};
  protocol::DecoderLimits upload_limits;        //!< What a client may send.
  FairnessOptions fairness;                     //!< The fairness method and its knobs.
  aggregation::PrivacyOptions privacy;          //!< Client-level DP; off by default.
  SecureAggregationOptions secure_aggregation;  //!< Off by default.
  //! The languages, groups and classes of the run's data (its schema), which
  //! secure aggregation's statistics grid needs; its views are fairness.views.
  aggregation::StatisticsLayout statistics;
  //! The run's data schema; a client that sends another when it joins is
  //! refused (protocol/schema_agreement.h). Unset: not checked.
  std::optional<v1::DataSchema> data_schema;

  absl::Status Validate() const;
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_AGGREGATOR_OPTIONS_H_
