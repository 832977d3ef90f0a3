// Fuzzes the CSV importer (client/data/csv_import.h): the parser, then the build
// of shards in memory that `equifl data import csv` writes.
//
// Input: an options byte, then the CSV text. The first two columns are the label
// and the group; bit 0 also makes the third the language; bit 1 splits rows by
// the last column (one client per value); bit 2 cuts the label at its median;
// bit 3 drops rows with missing or unknown values; bits 4-5 ask for 0-3 clients;
// bit 6 spreads rows by a Dirichlet(0.5) draw over labels.
//
// Checked beyond "no crash, leak or undefined behaviour": every shard an import
// builds passes the checks WriteShard makes before writing (the manifest's and
// ValidateShardColumns), so an accepted table always becomes writable shards.
#include <cstdint>

#include "absl/strings/string_view.h"
#include "client/data/csv_import.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/require.h"
#include "tests/fuzz/require_writable_shards.h"

using equifl::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  equifl::fuzz::FuzzInput input(data, size);
  const uint8_t flags = input.TakeByte();
  const absl::string_view text = input.TakeRest();
  absl::StatusOr<equifl::client::CsvTable> table = equifl::client::ParseCsv(text, "fuzz.csv");
  if (!table.ok()) return 0;
  for (const std::vector<std::string>& row : table->rows) {
    Require(row.size() == table->header.size(), "a row has another field count than the header");
  }
  Require(table->rows.size() == table->lines.size(), "rows and their line numbers differ");
  const std::vector<std::string>& header = table->header;
  if (header.size() < 2) return 0;

  equifl::client::CsvImportOptions options;
  options.label_column = header[0];
  options.group_column = header[1];
  if ((flags & 1) != 0 && header.size() > 2) options.language_column = header[2];
  if ((flags & 2) != 0 && header.size() > 3) options.split_by = header.back();
  if ((flags & 4) != 0) options.label_threshold = "median";
  options.drop_missing = (flags & 8) != 0;
  options.split.clients = (flags >> 4) & 3;
  if ((flags & 64) != 0) options.split.dirichlet_alpha = 0.5;
  absl::StatusOr<equifl::client::CsvImport> import =
      equifl::client::BuildShardsFromCsv(text, "fuzz.csv", options);
  if (!import.ok()) return 0;
  equifl::fuzz::RequireWritableShards(import->shards);
  return 0;
}
