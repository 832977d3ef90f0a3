// Fuzzes the shard manifest reader (client/data/shard.h, ShardManifest::FromJson,
// which Shard::Open, the server and `equifl sim` run on manifest.json): the input is
// the file's text.
//
// Checked beyond "no crash, leak or undefined behaviour": a manifest it accepts is
// valid, and writing it out (ToJson, what WriteShard writes) and reading that back
// gives the same manifest.
#include <cstdint>

#include "absl/strings/string_view.h"
#include "client/data/shard.h"
#include "tests/fuzz/require.h"

using equifl::client::ShardManifest;
using equifl::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ShardManifest> manifest = ShardManifest::FromJson(text, "manifest.json");
  if (!manifest.ok()) return 0;
  const absl::Status valid = manifest->Validate();
  Require(valid.ok(), valid.message());
  const std::string written = manifest->ToJson();
  absl::StatusOr<ShardManifest> again = ShardManifest::FromJson(written, "written manifest.json");
  Require(again.ok(), again.status().message());
  Require(again->ToJson() == written, "the manifest changed on its way through ToJson");
  return 0;
}
