#include "app/run_model.h"

#include <torch/utils.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace equifl::app {
namespace {

// The configured architecture, sized for the data the manifest describes.
absl::StatusOr<client::ModelOptions> ModelOptionsFor(const client::ShardManifest& manifest,
                                                     const ModelConfig& model) {
  client::ModelOptions options = model.options;
  options.modalities.clear();
  for (const client::ShardModality& modality : manifest.modalities) {
    options.modalities.push_back({modality.name, modality.kind, modality.dim});
  }
  options.num_classes = static_cast<int64_t>(manifest.labels.size());
  options.num_groups = static_cast<int64_t>(manifest.groups.size());
  if (absl::Status status = options.Validate(); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("model: ", status.message()));
  }
  return options;
}

}  // namespace

absl::StatusOr<client::ShardManifest> ReadManifest(const std::string& path) {
  std::filesystem::path file = path;
  std::error_code error;
  if (std::filesystem::is_directory(file, error)) file /= client::kManifestFile;
  if (!std::filesystem::exists(file, error)) {
    return absl::NotFoundError(absl::StrCat("cannot read the data schema '", file.string(),
                                            "': give a shard folder or its manifest.json"));
  }
  return client::ShardManifest::ReadFile(file.string());
}

absl::StatusOr<client::MultimodalModel> BuildModel(const client::ShardManifest& manifest,
                                                   const ModelConfig& model) {
  EQUIFL_ASSIGN_OR_RETURN(client::ModelOptions options, ModelOptionsFor(manifest, model));
  torch::manual_seed(model.seed);
  return client::CreateMultimodalModel(options);
}

}  // namespace equifl::app
