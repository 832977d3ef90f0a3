// The model of a run: the data schema a shard's manifest states, and the
// configured architecture sized for it. `equifl server`, `client`, `sim` and
// `eval` all build their model here, so every process of a run builds the same.
#ifndef EQUIFL_APP_RUN_MODEL_H_
#define EQUIFL_APP_RUN_MODEL_H_

#include <string>

#include "absl/status/statusor.h"
#include "app/config.h"
#include "client/data/shard.h"
#include "client/model/multimodal_model.h"

namespace equifl::app {

//! The data schema in a shard folder (or its manifest.json) at `path`.
absl::StatusOr<client::ShardManifest> ReadManifest(const std::string& path);

//! The configured architecture (`model`), sized for the data `manifest` describes,
//! with initial weights from model.seed.
absl::StatusOr<client::MultimodalModel> BuildModel(const client::ShardManifest& manifest,
                                                   const ModelConfig& model);

}  // namespace equifl::app

#endif  // EQUIFL_APP_RUN_MODEL_H_
