// A small shard for the shard tests, and a writer that skips validation so tests
// can put bad values on disk.
#ifndef EQUIFL_TESTS_CLIENT_SHARD_TEST_UTIL_H_
#define EQUIFL_TESTS_CLIENT_SHARD_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "client/data/shard.h"
#include "protocol/safetensors.h"

namespace equifl::client::testing {

//! Six samples: video [6, 3, 2] (sequence), text [6, 4] (vector); splits stored in
//! order train, train, train, validation, validation, test.
inline ShardData SmallShard() {
  ShardData data;
  data.manifest.modalities = {{"video", ModalityKind::kSequence, 3, 2},
                              {"text", ModalityKind::kVector, 0, 4}};
  data.manifest.labels = {"neutral", "happy", "sad"};
  data.manifest.group_attribute = "gender";
  data.manifest.groups = {"female", "male"};
  data.manifest.languages = {"en", "de"};
  const int samples = 6;
  data.features.resize(2);
  for (int i = 0; i < samples * 3 * 2; ++i) data.features[0].push_back(0.5f * i);
  for (int i = 0; i < samples * 4; ++i) data.features[1].push_back(-1.0f * i);
  data.lengths = {{3, 2, 0, 1, 3, 3}, {}};
  data.present = {1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1};
  data.label = {0, 1, 2, 0, 1, 2};
  data.group = {0, 1, 0, 1, 0, 1};
  data.language = {0, 0, 1, 1, 0, 1};
  data.split = {0, 0, 0, 1, 1, 2};
  data.CountSamples();
  return data;
}

//! Writes `data` as manifest.json and data.safetensors without any check, tensors
//! in `order` (names) or, if empty, the writer's order.
inline void WriteUnchecked(const std::string& dir, const ShardData& data,
                           std::vector<std::string> order = {}) {
  std::filesystem::create_directories(dir);
  std::ofstream(std::filesystem::path(dir) / kManifestFile) << data.manifest.ToJson();
  const int64_t n = static_cast<int64_t>(data.label.size());
  std::vector<protocol::TensorView> views = {
      {"label", v1::DATA_TYPE_INT64, {n}, std::as_bytes(std::span(data.label))},
      {"group", v1::DATA_TYPE_INT64, {n}, std::as_bytes(std::span(data.group))},
      {"language", v1::DATA_TYPE_INT64, {n}, std::as_bytes(std::span(data.language))},
  };
  for (size_t m = 0; m < data.manifest.modalities.size(); ++m) {
    const ShardModality& modality = data.manifest.modalities[m];
    if (modality.kind == ModalityKind::kSequence) {
      views.push_back({modality.name + ".lengths",
                       v1::DATA_TYPE_INT64,
                       {static_cast<int64_t>(data.lengths[m].size())},
                       std::as_bytes(std::span(data.lengths[m]))});
    }
    std::vector<int64_t> shape = modality.Shape(n);
    shape[0] = static_cast<int64_t>(data.features[m].size()) / modality.ValuesPerSample();
    views.push_back(
        {modality.name, v1::DATA_TYPE_FLOAT32, shape, std::as_bytes(std::span(data.features[m]))});
  }
  views.push_back({"present",
                   v1::DATA_TYPE_UINT8,
                   {n, static_cast<int64_t>(data.manifest.modalities.size())},
                   std::as_bytes(std::span(data.present))});
  views.push_back({"split", v1::DATA_TYPE_UINT8, {n}, std::as_bytes(std::span(data.split))});
  if (!order.empty()) {
    std::vector<protocol::TensorView> ordered;
    for (const std::string& name : order) {
      for (const protocol::TensorView& view : views) {
        if (view.name == name) ordered.push_back(view);
      }
    }
    views = ordered;
  }
  absl::Status status =
      protocol::WriteSafetensors((std::filesystem::path(dir) / kDataFile).string(), views);
  if (!status.ok()) throw std::runtime_error(std::string(status.message()));
}

}  // namespace equifl::client::testing

#endif  // EQUIFL_TESTS_CLIENT_SHARD_TEST_UTIL_H_
