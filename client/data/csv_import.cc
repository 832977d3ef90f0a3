#include "client/data/csv_import.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/quoted_input.h"
#include "base/random.h"
#include "base/status_macros.h"
#include "base/utf8.h"
#include "client/data/import_split.h"
#include "protocol/file_io.h"

namespace equifl::client {
namespace {

constexpr char kModalityName[] = "tabular";
constexpr size_t kMaxCategoricalLabels = 100;

absl::string_view TrimSpaces(absl::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::optional<double> ParseNumber(const std::string& text) {
  double value = 0;
  if (!absl::SimpleAtod(text, &value) || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::string Quoted(const std::vector<std::string>& names) { return absl::StrJoin(names, ", "); }

// Why a row cannot be used, or nothing.
struct RowProblem {
  enum Kind { kNone, kMissing, kUnknown } kind = kNone;
  std::string message;
};

}  // namespace

absl::StatusOr<CsvTable> ParseCsv(absl::string_view text, absl::string_view source,
                                  const ImportProgress& progress) {
  if (absl::StartsWith(text, "\xEF\xBB\xBF")) text.remove_prefix(3);
  StageProgress parsing(progress, ImportStage::kParse, text.size(), /*every=*/uint64_t{1} << 20);
  CsvTable table;
  std::vector<std::string> record;
  std::string field;
  bool field_quoted = false;  // the current field began with a quote
  bool in_quotes = false;
  bool after_quote = false;  // the closing quote of the field has been read
  int64_t line = 1;
  int64_t record_line = 1;
  auto error = [&](int64_t at, absl::string_view message) {
    return absl::InvalidArgumentError(absl::StrCat(source, " line ", at, ": ", message));
  };
  auto end_field = [&] {
    record.push_back(field_quoted ? field : std::string(TrimSpaces(field)));
    field.clear();
    field_quoted = false;
    after_quote = false;
  };
  // Every cell may become a name in a manifest (JSON) or a message: UTF-8 only.
  auto check_utf8 = [&]() -> absl::Status {
    for (size_t column = 0; column < record.size(); ++column) {
      const std::optional<size_t> bad = FindInvalidUtf8(record[column]);
      if (!bad) continue;
      const bool named = !table.header.empty() && column < table.header.size();
      return error(
          record_line,
          absl::StrCat("column ",
                       named ? QuoteInput(table.header[column]) : absl::StrCat(column + 1),
                       " is not UTF-8 (byte ", *bad + 1, " of ", QuoteInput(record[column]),
                       "); save the file as UTF-8, e.g. with iconv -f latin1 -t utf-8"));
    }
    return absl::OkStatus();
  };
  auto end_record = [&]() -> absl::Status {
    const bool blank = record.empty() && !field_quoted && TrimSpaces(field).empty();
    end_field();
    if (!blank) {
      EQUIFL_RETURN_IF_ERROR(check_utf8());
      if (table.header.empty() && table.rows.empty()) {
        table.header = record;
      } else if (record.size() != table.header.size()) {
        return error(record_line, absl::StrCat("has ", record.size(), " fields; the header has ",
                                               table.header.size()));
      } else {
        table.rows.push_back(record);
        table.lines.push_back(record_line);
      }
    }
    record.clear();
    return absl::OkStatus();
  };
  for (size_t index = 0; index < text.size(); ++index) {
    const char c = text[index];
    if (in_quotes) {
      if (c == '"') {
        if (index + 1 < text.size() && text[index + 1] == '"') {
          field.push_back('"');
          ++index;
        } else {
          in_quotes = false;
          after_quote = true;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == ',') {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && index + 1 < text.size() && text[index + 1] == '\n') ++index;
      EQUIFL_RETURN_IF_ERROR(end_record());
      ++line;
      record_line = line;
      parsing.Update(index + 1);
    } else if (c == '"') {
      if (!field_quoted && TrimSpaces(field).empty()) {
        field.clear();
        field_quoted = true;
        in_quotes = true;
      } else {
        return error(line,
                     "a quote inside a field; quote the whole field and double quotes within it");
      }
    } else if (after_quote) {
      if (c != ' ' && c != '\t') {
        return error(line,
                     absl::StrCat("text after the closing quote of field ", record.size() + 1));
      }
    } else {
      field.push_back(c);
    }
  }
  if (in_quotes) return error(record_line, "a quoted field is never closed");
  if (!field.empty() || field_quoted || !record.empty()) EQUIFL_RETURN_IF_ERROR(end_record());
  parsing.Finish();
  if (table.header.empty()) return absl::InvalidArgumentError(absl::StrCat(source, " is empty"));
  std::set<std::string> names;
  for (size_t column = 0; column < table.header.size(); ++column) {
    if (table.header[column].empty()) {
      return error(1, absl::StrCat("column ", column + 1, " has no name"));
    }
    if (!names.insert(table.header[column]).second) {
      return error(1, absl::StrCat("column ", QuoteInput(table.header[column]), " appears twice"));
    }
  }
  return table;
}

absl::StatusOr<CategoricalColumn> CategoricalColumn::Parse(absl::string_view text) {
  CategoricalColumn column;
  const size_t equals = text.find('=');
  column.name = std::string(TrimSpaces(text.substr(0, equals)));
  if (column.name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "categorical column ", QuoteInput(text),
        " has no name; write COLUMN, or COLUMN=value|value|... to give its categories"));
  }
  if (equals == absl::string_view::npos) return column;
  for (absl::string_view value : absl::StrSplit(text.substr(equals + 1), '|')) {
    column.values.emplace_back(TrimSpaces(value));
  }
  return column;
}

absl::Status CsvImportOptions::Validate() const {
  if (label_column.empty()) return absl::InvalidArgumentError("name the label column");
  if (group_column.empty()) {
    return absl::InvalidArgumentError("name the group (sensitive attribute) column");
  }
  if (label_column == group_column || label_column == language_column ||
      (!language_column.empty() && group_column == language_column)) {
    return absl::InvalidArgumentError(
        "the label, group and language columns must be three different columns");
  }
  if (!label_threshold.empty() && label_threshold != "median" && !ParseNumber(label_threshold)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "label threshold is ", QuoteInput(label_threshold), "; it must be 'median' or a number"));
  }
  if (!label_threshold.empty() && !label_values.empty()) {
    return absl::InvalidArgumentError(
        "a label threshold makes the labels; do not also list label values");
  }
  if (split.dirichlet_alpha > 0 && !split_by.empty()) {
    return absl::InvalidArgumentError("split rows by a column or by a Dirichlet draw, not both");
  }
  std::set<std::string> categorical_names;
  for (const CategoricalColumn& column : categorical_columns) {
    if (!categorical_names.insert(column.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("categorical column ", QuoteInput(column.name), " is named twice"));
    }
    std::set<std::string> values;
    for (const std::string& value : column.values) {
      if (value.empty() || value == kOtherCategory || !values.insert(value).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("the categories of ", QuoteInput(column.name), " (",
                         QuoteInputs(column.values), ") must be distinct and non-empty, and ",
                         kOtherCategory, " is reserved for the values outside the list"));
      }
    }
  }
  return split.Validate();
}

absl::StatusOr<CsvImport> BuildShardsFromCsv(absl::string_view text, absl::string_view source,
                                             const CsvImportOptions& options) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  EQUIFL_ASSIGN_OR_RETURN(const CsvTable table, ParseCsv(text, source, options.progress));
  CsvImport result;
  CsvImportSummary& summary = result.summary;
  summary.rows_read = static_cast<int64_t>(table.rows.size());

  std::map<std::string, size_t> column_of;
  for (size_t column = 0; column < table.header.size(); ++column) {
    column_of[table.header[column]] = column;
  }
  auto find = [&](const std::string& name, absl::string_view role) -> absl::StatusOr<size_t> {
    auto found = column_of.find(name);
    if (found == column_of.end()) {
      return absl::InvalidArgumentError(absl::StrCat("the ", role, " column ", QuoteInput(name),
                                                     " is not in ", source,
                                                     "; its columns: ", QuoteInputs(table.header)));
    }
    return found->second;
  };
  EQUIFL_ASSIGN_OR_RETURN(const size_t label_column, find(options.label_column, "label"));
  EQUIFL_ASSIGN_OR_RETURN(const size_t group_column, find(options.group_column, "group"));
  std::optional<size_t> language_column;
  if (!options.language_column.empty()) {
    EQUIFL_ASSIGN_OR_RETURN(language_column, find(options.language_column, "language"));
  }
  std::optional<size_t> split_column;
  if (!options.split_by.empty()) {
    EQUIFL_ASSIGN_OR_RETURN(split_column, find(options.split_by, "split-by"));
  }
  const std::set<std::string> missing(options.missing_values.begin(), options.missing_values.end());
  auto is_missing = [&](const std::string& cell) { return missing.contains(cell); };

  // Feature columns: the named ones and the categorical ones, or every numeric
  // column with no other role and every text column whose values repeat.
  std::set<size_t> roles = {label_column, group_column};
  if (language_column) roles.insert(*language_column);
  if (split_column) roles.insert(*split_column);
  auto feature = [&](const std::string& name) -> absl::StatusOr<size_t> {
    EQUIFL_ASSIGN_OR_RETURN(const size_t column, find(name, "feature"));
    if (roles.contains(column)) {
      return absl::InvalidArgumentError(
          absl::StrCat("column ", QuoteInput(name),
                       " is the label, group, language or split-by column; it cannot "
                       "also be a feature"));
    }
    return column;
  };
  std::map<size_t, CategoricalColumn> categorical;  // by column
  std::vector<size_t> named_categorical;            // the same columns, in the order given
  for (const CategoricalColumn& column : options.categorical_columns) {
    EQUIFL_ASSIGN_OR_RETURN(const size_t index, feature(column.name));
    categorical[index] = column;
    named_categorical.push_back(index);
  }
  std::vector<size_t> feature_columns;
  if (!options.feature_columns.empty()) {
    for (const std::string& name : options.feature_columns) {
      EQUIFL_ASSIGN_OR_RETURN(const size_t column, feature(name));
      feature_columns.push_back(column);
    }
    for (size_t index : named_categorical) {
      if (std::find(feature_columns.begin(), feature_columns.end(), index) ==
          feature_columns.end()) {
        feature_columns.push_back(index);
      }
    }
  } else {
    StageProgress detecting(options.progress, ImportStage::kDetect, table.header.size(),
                            /*every=*/1);
    for (size_t column = 0; column < table.header.size(); ++column) {
      detecting.Update(column);
      if (roles.contains(column)) continue;
      if (categorical.contains(column)) {
        feature_columns.push_back(column);
        continue;
      }
      bool numeric = false;
      bool other = false;
      std::set<std::string> values;
      int64_t present = 0;
      for (const std::vector<std::string>& row : table.rows) {
        if (is_missing(row[column])) continue;
        ++present;
        (ParseNumber(row[column]) ? numeric : other) = true;
        if (values.size() <= kMaxAutomaticCategories) values.insert(row[column]);
      }
      if (numeric && !other) {
        feature_columns.push_back(column);
      } else if (other && values.size() <= kMaxAutomaticCategories &&
                 2 * static_cast<int64_t>(values.size()) <= present) {
        categorical[column] = {.name = table.header[column]};
        feature_columns.push_back(column);
      } else {
        summary.ignored_columns.push_back(table.header[column]);
      }
    }
    detecting.Finish();
  }
  for (size_t column : feature_columns) summary.feature_columns.push_back(table.header[column]);
  if (feature_columns.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source,
                     " has no feature column besides the label, group and language (numeric, or "
                     "text whose values repeat); name the feature columns"));
  }

  // Rows: check every used cell; drop or fail.
  const bool threshold_label = !options.label_threshold.empty();
  struct Category {
    std::optional<size_t> column;
    const std::vector<std::string>* allowed;
    const char* what;
    const char* flag;
  };
  const Category categories[] = {
      {threshold_label ? std::nullopt : std::optional<size_t>(label_column), &options.label_values,
       "labels", "--labels"},
      {group_column, &options.group_values, "groups", "--groups"},
      {language_column, &options.language_values, "languages", "--languages"},
  };
  const char* const kDropHint = "or pass --drop-missing to drop such rows";
  std::vector<size_t> kept;
  StageProgress checking(options.progress, ImportStage::kCheck, table.rows.size());
  for (size_t row = 0; row < table.rows.size(); ++row) {
    checking.Update(row);
    const std::vector<std::string>& cells = table.rows[row];
    // "<source> line <n>: column '<name>'"
    auto where = [&](size_t column) {
      return absl::StrCat(source, " line ", table.lines[row], ": column ",
                          QuoteInput(table.header[column]));
    };
    RowProblem problem;
    std::vector<size_t> used = feature_columns;
    used.insert(used.end(), roles.begin(), roles.end());
    for (size_t column : used) {
      if (is_missing(cells[column])) {
        problem = {RowProblem::kMissing,
                   absl::StrCat(where(column), " is missing (", QuoteInput(cells[column]), ")")};
        break;
      }
    }
    if (problem.kind == RowProblem::kNone) {
      for (const Category& category : categories) {
        if (!category.column || category.allowed->empty()) continue;
        const std::string& cell = cells[*category.column];
        if (std::find(category.allowed->begin(), category.allowed->end(), cell) ==
            category.allowed->end()) {
          problem = {RowProblem::kUnknown,
                     absl::StrCat(where(*category.column), " is ", QuoteInput(cell),
                                  ", not one of the ", category.what, " ",
                                  Quoted(*category.allowed), " (given by ", category.flag, ")")};
          break;
        }
      }
    }
    if (problem.kind != RowProblem::kNone) {
      if (!options.drop_missing) {
        return absl::InvalidArgumentError(absl::StrCat(
            problem.message, "; fix the value",
            problem.kind == RowProblem::kUnknown ? " or extend the list" : "", ", ", kDropHint));
      }
      ++(problem.kind == RowProblem::kMissing ? summary.rows_dropped_missing
                                              : summary.rows_dropped_unknown);
      if (summary.first_dropped.empty()) summary.first_dropped = problem.message;
      continue;
    }
    // Numbers that must be numbers are errors, not missing values.
    for (size_t column : feature_columns) {
      if (categorical.contains(column)) continue;
      const std::optional<double> value = ParseNumber(cells[column]);
      if (!value) {
        return absl::InvalidArgumentError(absl::StrCat(where(column), " is ",
                                                       QuoteInput(cells[column]),
                                                       ", not a finite number; features must "
                                                       "be numeric"));
      }
      // Features are stored as float32; a larger value would become infinite.
      if (!std::isfinite(static_cast<float>(*value))) {
        return absl::InvalidArgumentError(absl::StrCat(
            where(column), " is ", QuoteInput(cells[column]),
            ", beyond float32's range (about 3.4e38); features are stored as float32"));
      }
    }
    if (threshold_label && !ParseNumber(cells[label_column])) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(label_column), " is ", QuoteInput(cells[label_column]),
                       ", not a number; a label threshold needs a numeric label column"));
    }
    kept.push_back(row);
  }
  checking.Finish();
  if (kept.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": no row is left to import (", summary.rows_dropped_missing,
                     " missing, ", summary.rows_dropped_unknown, " unknown category)"));
  }

  // Vocabularies over the kept rows.
  auto vocabulary = [&](size_t column, const std::vector<std::string>& given) {
    if (!given.empty()) return given;
    std::set<std::string> values;
    for (size_t row : kept) values.insert(table.rows[row][column]);
    return std::vector<std::string>(values.begin(), values.end());
  };
  std::vector<int64_t> labels(kept.size());
  if (threshold_label) {
    double threshold = 0;
    if (options.label_threshold == "median") {
      std::vector<double> values;
      for (size_t row : kept) values.push_back(*ParseNumber(table.rows[row][label_column]));
      std::sort(values.begin(), values.end());
      const size_t middle = values.size() / 2;
      threshold =
          values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
    } else {
      threshold = *ParseNumber(options.label_threshold);
    }
    summary.label_threshold = threshold;
    summary.labels = {absl::StrFormat("%s <= %g", options.label_column, threshold),
                      absl::StrFormat("%s > %g", options.label_column, threshold)};
    for (size_t index = 0; index < kept.size(); ++index) {
      labels[index] = *ParseNumber(table.rows[kept[index]][label_column]) > threshold ? 1 : 0;
    }
  } else {
    summary.labels = vocabulary(label_column, options.label_values);
    if (summary.labels.size() > kMaxCategoricalLabels) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the label column '", options.label_column, "' has ", summary.labels.size(),
          " distinct values; for a numeric label give a threshold (--label-threshold median "
          "or a number)"));
    }
    for (size_t index = 0; index < kept.size(); ++index) {
      labels[index] = std::find(summary.labels.begin(), summary.labels.end(),
                                table.rows[kept[index]][label_column]) -
                      summary.labels.begin();
    }
  }
  summary.groups = vocabulary(group_column, options.group_values);
  summary.languages = language_column ? vocabulary(*language_column, options.language_values)
                                      : std::vector<std::string>{kUndeterminedLanguage};
  auto index_in = [&](const std::vector<std::string>& names, const std::string& value) {
    return static_cast<int64_t>(std::find(names.begin(), names.end(), value) - names.begin());
  };

  // The tabular features: a numeric column is one, a categorical column one per
  // category and one for the values outside its list.
  struct Encoding {
    size_t column = 0;
    std::map<std::string, size_t> category_index = {};  // empty for a numeric column
    size_t width = 1;
    int64_t* other_count = nullptr;
  };
  std::vector<std::string> feature_names;
  for (size_t column : feature_columns) {
    auto found = categorical.find(column);
    if (found == categorical.end()) {
      feature_names.push_back(table.header[column]);
      continue;
    }
    CategoricalColumn described = found->second;
    described.values = vocabulary(column, described.values);
    if (described.values.size() > kMaxCategories) {
      return absl::InvalidArgumentError(absl::StrCat(
          "categorical column ", QuoteInput(described.name), " has ", described.values.size(),
          " categories; one-hot encoding makes a feature of each, and at most ", kMaxCategories,
          " are allowed: list the categories that matter (the rest become ", kOtherCategory,
          ") or leave the column out"));
    }
    std::erase(described.values, kOtherCategory);  // a cell may hold the name itself
    described.values.push_back(kOtherCategory);
    for (const std::string& value : described.values) {
      feature_names.push_back(absl::StrCat(described.name, "=", value));
    }
    summary.categorical_columns.push_back(std::move(described));
  }
  summary.other_counts.assign(summary.categorical_columns.size(), 0);
  std::vector<Encoding> encodings;
  for (size_t index = 0, categorical_index = 0; index < feature_columns.size(); ++index) {
    Encoding encoding{.column = feature_columns[index]};
    if (categorical.contains(encoding.column)) {
      const std::vector<std::string>& values =
          summary.categorical_columns[categorical_index].values;
      for (size_t value = 0; value < values.size(); ++value) {
        encoding.category_index[values[value]] = value;
      }
      encoding.width = values.size();
      encoding.other_count = &summary.other_counts[categorical_index++];
    }
    encodings.push_back(std::move(encoding));
  }

  // Rows to clients.
  random::Engine engine = random::MakeEngine(options.split.seed, 0);
  std::vector<std::vector<size_t>> client_rows;  // indices into `kept`
  if (split_column) {
    std::set<std::string> distinct;  // few values in many rows: no copy of every cell
    for (size_t row : kept) distinct.insert(table.rows[row][*split_column]);
    const std::vector<std::string> values(distinct.begin(), distinct.end());
    if (options.split.clients != 0 && static_cast<size_t>(options.split.clients) != values.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("splitting by ", QuoteInput(options.split_by), " makes ", values.size(),
                       " clients (", QuoteInputs(values), "), not the ", options.split.clients,
                       " asked for; leave the number out"));
    }
    client_rows.resize(values.size());
    for (size_t index = 0; index < kept.size(); ++index) {
      client_rows[index_in(values, table.rows[kept[index]][*split_column])].push_back(index);
    }
    for (const std::string& value : values) {
      summary.client_names.push_back(absl::StrCat(options.split_by, "=", value));
    }
  } else {
    EQUIFL_ASSIGN_OR_RETURN(RowPartition partition,
                            PartitionRows(labels, summary.labels.size(),
                                          {.clients = options.split.clients,
                                           .dirichlet_alpha = options.split.dirichlet_alpha},
                                          engine));
    client_rows = std::move(partition.client_rows);
    summary.client_names = std::move(partition.client_names);
  }

  // Each client: shuffle, split, build the shard.
  StageProgress building(options.progress, ImportStage::kBuild, kept.size());
  uint64_t built = 0;
  for (size_t client = 0; client < client_rows.size(); ++client) {
    std::vector<size_t>& rows = client_rows[client];
    const std::vector<Split> splits = SplitClientRows(rows, options.split.train_fraction,
                                                      options.split.validation_fraction, engine);
    const int64_t n = static_cast<int64_t>(rows.size());
    ShardData data;
    data.manifest.modalities = {{.name = kModalityName,
                                 .kind = ModalityKind::kVector,
                                 .dim = static_cast<int64_t>(feature_names.size()),
                                 .feature_names = feature_names}};
    data.manifest.labels = summary.labels;
    data.manifest.group_attribute = options.group_column;
    data.manifest.groups = summary.groups;
    data.manifest.languages = summary.languages;
    data.features.resize(1);
    data.lengths.resize(1);
    for (int64_t position = 0; position < n; ++position) {
      const std::vector<std::string>& cells = table.rows[kept[rows[position]]];
      for (const Encoding& encoding : encodings) {
        const std::string& cell = cells[encoding.column];
        if (encoding.category_index.empty()) {
          data.features[0].push_back(static_cast<float>(*ParseNumber(cell)));
          continue;
        }
        auto category = encoding.category_index.find(cell);
        size_t hot = encoding.width - 1;  // kOtherCategory
        if (category != encoding.category_index.end()) {
          hot = category->second;
        } else {
          ++*encoding.other_count;
        }
        for (size_t value = 0; value < encoding.width; ++value) {
          data.features[0].push_back(value == hot ? 1.0f : 0.0f);
        }
      }
      data.present.push_back(1);
      data.label.push_back(labels[rows[position]]);
      data.group.push_back(index_in(summary.groups, cells[group_column]));
      data.language.push_back(language_column ? index_in(summary.languages, cells[*language_column])
                                              : 0);
      data.split.push_back(static_cast<uint8_t>(splits[position]));
      building.Update(++built);
    }
    data.CountSamples();
    summary.client_counts.push_back(data.manifest.split_counts);
    result.shards.push_back(std::move(data));
  }
  building.Finish();
  return result;
}

absl::StatusOr<CsvImportSummary> ImportCsv(const std::string& csv_path, const std::string& out_dir,
                                           const CsvImportOptions& options) {
  EQUIFL_ASSIGN_OR_RETURN(const std::vector<std::string> text,
                          ReadImportFiles({csv_path}, options.progress));
  EQUIFL_ASSIGN_OR_RETURN(CsvImport import, BuildShardsFromCsv(text[0], csv_path, options));
  EQUIFL_ASSIGN_OR_RETURN(import.summary.shard_dirs,
                          WriteClientShards(out_dir, import.shards, options.progress));
  return std::move(import.summary);
}

}  // namespace equifl::client
