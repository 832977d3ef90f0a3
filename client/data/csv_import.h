// Turns a CSV table of precomputed features into client shards.
//
// The common case in practice: someone has a table with one row per sample, a label
// column, a sensitive-attribute column, perhaps a language column, and numeric
// features. The named columns become `label`, `group` and `language`; the numeric
// features (every other numeric column, or the ones named) become one vector
// modality called "tabular". Categorical columns are one-hot encoded against a
// category list that is part of the schema: given by the user (so clients that
// import their own tables agree without pooling data), or the values found. Each
// column gets one feature per category plus an explicit "(other)" for values
// outside the list; the feature names ("phist=yes") are in the shard manifest. A
// non-numeric column is categorical on its own when its values repeat (at most
// kMaxAutomaticCategories distinct values, each used twice on average); other text
// columns (ids, free text) are ignored and listed. A numeric label can be cut at a
// threshold ("wages above the median"). Rows go to clients by the value of a column (one client per
// value), by a seeded Dirichlet(alpha) draw over labels (the usual non-IID benchmark split), or
// uniformly at random; each client's rows are split into train, validation and test. Label, group
// and language names are the same in every shard, so indices agree across clients.
//
// Bad cells are never dropped silently: a missing value ("NA" or empty) or a
// category outside a given list is an error naming the line and column, unless the
// caller asks to drop such rows, and then the summary counts them.
//
// The CSV parser is our own (RFC 4180: quoted fields with doubled quotes, commas and
// line breaks inside quotes, LF or CRLF line ends, an optional UTF-8 byte-order
// mark); Debian has no C++ CSV library worth the dependency. No Torch here.
#ifndef EQUIFL_CLIENT_DATA_CSV_IMPORT_H_
#define EQUIFL_CLIENT_DATA_CSV_IMPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/data/import_split.h"
#include "client/data/shard.h"

namespace equifl::client {

//! A parsed CSV file: the header and the rows, as text.
struct CsvTable {
  std::vector<std::string> header;             //!< Column names, unique.
  std::vector<std::vector<std::string>> rows;  //!< Each as many fields as the header.
  std::vector<int64_t> lines;                  //!< File line each row starts on (header: 1).
};

//! Parses `text`; `source` (the file name) starts error messages, which give the line.
//! Blank lines are skipped; unquoted fields are trimmed of spaces and tabs. Reports
//! ImportStage::kParse in bytes to `progress`.
absl::StatusOr<CsvTable> ParseCsv(absl::string_view text, absl::string_view source,
                                  const ImportProgress& progress = {});

//! A non-numeric column with at most this many distinct values, each appearing at
//! least twice on average, is one-hot encoded without being named.
inline constexpr size_t kMaxAutomaticCategories = 20;

//! A categorical column has at most this many categories (each is a feature of every
//! row): more is an id or free text, which one-hot encoding would blow up.
inline constexpr size_t kMaxCategories = 1000;

//! The feature of a categorical column that takes the values outside its list.
inline constexpr char kOtherCategory[] = "(other)";

//! A column to one-hot encode.
struct CategoricalColumn {
  std::string name;                      //!< The column.
  std::vector<std::string> values = {};  //!< The categories in order; empty: the values found.

  //! Parses "COLUMN" or "COLUMN=value|value|...", as --categorical takes it.
  static absl::StatusOr<CategoricalColumn> Parse(absl::string_view text);
};

//! How a table becomes shards.
struct CsvImportOptions {
  std::string label_column;     //!< Required.
  std::string group_column;     //!< Required: the sensitive attribute.
  std::string language_column;  //!< Optional; without it every row is language "und".
  //! Feature columns; empty means every numeric column not used above or by split_by,
  //! and every non-numeric one whose values repeat (one-hot encoded).
  std::vector<std::string> feature_columns;
  //! Columns to one-hot encode, with their category lists; they are features
  //! whether or not feature_columns names them.
  std::vector<CategoricalColumn> categorical_columns;
  //! Empty: the label is categorical. "median" or a number: label 1 when the value
  //! is above it, else 0 (the median of the rows kept).
  std::string label_threshold;
  //! Allowed labels, groups and languages in index order; empty means the values
  //! found, sorted. A value outside a given list is an "unknown category".
  std::vector<std::string> label_values;
  std::vector<std::string> group_values;     //!< See label_values.
  std::vector<std::string> language_values;  //!< See label_values.

  //! Rows to clients and splits. With split_by, split.clients must be 0 (one
  //! client per value) or the number of values, and there is no Dirichlet draw.
  RowSplitOptions split;
  std::string split_by;  //!< Column whose values assign rows to clients.

  //! Drop rows with a missing value or an unknown category in a used column
  //! (counted in the summary) instead of failing.
  bool drop_missing = false;
  //! Cell texts that mean "missing", compared after trimming.
  std::vector<std::string> missing_values = {"", "NA"};

  //! Told how far the import has come, stage by stage; empty: nothing is told.
  ImportProgress progress;

  //! OK, or which option is wrong and what is allowed.
  absl::Status Validate() const;
};

//! What an import did, for the user.
struct CsvImportSummary {
  int64_t rows_read = 0;                     //!< Data rows in the file.
  int64_t rows_dropped_missing = 0;          //!< Dropped for a missing value.
  int64_t rows_dropped_unknown = 0;          //!< Dropped for an unknown category.
  std::string first_dropped;                 //!< Why the first dropped row was dropped.
  std::vector<std::string> feature_columns;  //!< The "tabular" modality's columns, in order.
  //! The categorical ones among them, each with its categories (kOtherCategory last).
  std::vector<CategoricalColumn> categorical_columns;
  //! Per categorical column (same order): kept rows whose value was outside the
  //! list and became kOtherCategory.
  std::vector<int64_t> other_counts;
  //! Columns used for nothing: text whose values do not repeat enough to be categories.
  std::vector<std::string> ignored_columns;
  std::vector<std::string> labels;         //!< Label names, in index order.
  std::vector<std::string> groups;         //!< Group names.
  std::vector<std::string> languages;      //!< Language names.
  std::optional<double> label_threshold;   //!< The threshold applied, if any.
  std::vector<std::string> client_names;   //!< What each client holds, e.g. "language=French".
  std::vector<SplitCounts> client_counts;  //!< Rows per split of each client.
  std::vector<std::string> shard_dirs;     //!< Written folders (ImportCsv only).
};

//! Shards built in memory, with the summary.
struct CsvImport {
  CsvImportSummary summary;       //!< What happened.
  std::vector<ShardData> shards;  //!< One per client.
};

//! Builds shards from CSV `text`; `source` names it in messages.
absl::StatusOr<CsvImport> BuildShardsFromCsv(absl::string_view text, absl::string_view source,
                                             const CsvImportOptions& options);

//! Reads `csv_path` and writes `out_dir`/client-000, ...; `out_dir` must not exist or
//! be empty.
absl::StatusOr<CsvImportSummary> ImportCsv(const std::string& csv_path, const std::string& out_dir,
                                           const CsvImportOptions& options);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_DATA_CSV_IMPORT_H_
