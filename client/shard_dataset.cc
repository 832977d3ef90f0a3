#include "client/shard_dataset.h"

#include <ATen/ATen.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "protocol/torch/torch_status.h"

namespace equifl::client {
namespace {

// A tensor over `values` (no copy), [rows, ...inner] from row `first`.
template <typename T>
at::Tensor View(std::span<const T> values, std::vector<int64_t> shape, int64_t first,
                at::ScalarType type) {
  int64_t per_row = 1;
  for (size_t axis = 1; axis < shape.size(); ++axis) per_row *= shape[axis];
  // The mapping is read-only; the header says so. from_blob needs a non-const pointer.
  void* data = const_cast<T*>(values.data() + first * per_row);
  return at::from_blob(data, shape, at::TensorOptions().dtype(type));
}

// Rows [first, first + count) of every column; `indices` (if defined) instead
// gathers those rows with a copy.
absl::StatusOr<Dataset> Build(const ShardManifest& manifest, const ShardColumns& columns,
                              absl::string_view source, int64_t first, int64_t count,
                              const at::Tensor& indices) {
  const int64_t modality_count = static_cast<int64_t>(manifest.modalities.size());
  auto rows = [&](at::Tensor tensor) {
    return indices.defined() ? tensor.index_select(0, indices) : tensor;
  };
  return protocol::TorchCall(
      absl::StrCat(source, ": LibTorch failed"), [&]() -> absl::StatusOr<Dataset> {
        Dataset dataset;
        for (size_t m = 0; m < manifest.modalities.size(); ++m) {
          const ShardModality& modality = manifest.modalities[m];
          ModalityFeatures features;
          features.name = modality.name;
          switch (modality.kind) {
            case ModalityKind::kTokens:
              features.values =
                  rows(View(columns.tokens[m], modality.Shape(count), first, at::kInt))
                      .to(at::kLong);
              break;
            case ModalityKind::kImages:  // uint8 as stored: the model converts each batch
              features.values =
                  rows(View(columns.images[m], modality.Shape(count), first, at::kByte));
              break;
            case ModalityKind::kSequence:
            case ModalityKind::kVector:  // float16 as stored: the model widens each batch
              features.values =
                  modality.IsHalf()
                      ? rows(View(columns.halves[m], modality.Shape(count), first, at::kHalf))
                      : rows(View(columns.features[m], modality.Shape(count), first, at::kFloat));
              break;
          }
          if (HasFrames(modality.kind)) {
            features.lengths = rows(View(columns.lengths[m], {count}, first, at::kLong));
          }
          dataset.modalities.push_back(std::move(features));
        }
        dataset.present =
            rows(View(columns.present, {count, modality_count}, first, at::kByte)).to(at::kBool);
        dataset.label = rows(View(columns.label, {count}, first, at::kLong));
        dataset.group = rows(View(columns.group, {count}, first, at::kLong));
        dataset.language = rows(View(columns.language, {count}, first, at::kLong));
        if (absl::Status status = dataset.Validate(); !status.ok()) {
          return absl::InternalError(absl::StrCat(source, ": ", status.message()));
        }
        return dataset;
      });
}

}  // namespace

absl::StatusOr<Dataset> DatasetFromShard(const Shard& shard) {
  return DatasetFromColumns(shard.manifest(), shard.columns(), absl::StrCat("shard ", shard.dir()));
}

absl::StatusOr<Dataset> DatasetFromColumns(const ShardManifest& manifest,
                                           const ShardColumns& columns, absl::string_view source) {
  return Build(manifest, columns, source, 0, manifest.num_samples, at::Tensor());
}

std::vector<int64_t> RowsOfSplit(const Shard& shard, Split split) {
  const std::span<const uint8_t> column = shard.columns().split;
  const uint8_t wanted = static_cast<uint8_t>(split);
  std::vector<int64_t> rows;
  for (size_t row = 0; row < column.size(); ++row) {
    if (column[row] == wanted) rows.push_back(static_cast<int64_t>(row));
  }
  return rows;
}

absl::StatusOr<Dataset> DatasetFromShard(const Shard& shard, Split split) {
  const std::vector<int64_t> rows = RowsOfSplit(shard, split);
  const int64_t count = static_cast<int64_t>(rows.size());
  if (count == 0 || rows.back() - rows.front() + 1 == count) {
    return Build(shard.manifest(), shard.columns(), absl::StrCat("shard ", shard.dir()),
                 count == 0 ? 0 : rows.front(), count, at::Tensor());
  }
  // Not contiguous: view all rows, then gather.
  const at::Tensor indices = at::tensor(rows, at::TensorOptions().dtype(at::kLong));
  return Build(shard.manifest(), shard.columns(), absl::StrCat("shard ", shard.dir()), 0,
               shard.manifest().num_samples, indices);
}

}  // namespace equifl::client
