// CSV import: the parser on hand-written tables, every error a user can cause, the
// three ways rows reach clients, and the real slid.csv.
#include "client/data/csv_import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "tests/client/data/progress_record.h"
#include "tests/client/shard_test_util.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::client {
namespace {

using ::equifl::test::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A table like slid.csv: 10 rows, one NA wage, one NA language.
constexpr char kPeople[] =
    "wages,education,age,sex,language,note\n"
    "10.5,15,40,Male,English,a\n"
    "11,13.2,19,Male,English,b\n"
    "NA,16,49,Male,Other,c\n"
    "17.76,14,46,Male,Other,d\n"
    "14,8,50,Female,English,e\n"
    "8.2,16,31,Female,French,f\n"
    "16.97,12,30,Female,English,g\n"
    "12.5,13,61,Female,NA,h\n"
    "9,11,22,Female,French,i\n"
    "20,17,45,Male,French,j\n";

CsvImportOptions PeopleOptions() {
  CsvImportOptions options;
  options.label_column = "wages";
  options.label_threshold = "median";
  options.group_column = "sex";
  options.language_column = "language";
  options.drop_missing = true;
  return options;
}

std::string BuildError(absl::string_view text, const CsvImportOptions& options) {
  absl::StatusOr<CsvImport> import = BuildShardsFromCsv(text, "people.csv", options);
  EXPECT_FALSE(import.ok());
  if (import.ok()) return "";
  EXPECT_EQ(import.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(import.status().message());
}

TEST(CsvImportTest, ParsesQuotesCommasLineBreaksAndCrlf) {
  const std::string text =
      "\xEF\xBB\xBF"
      "id,text,score\r\n"
      "1,\"hello, world\",3.5\r\n"
      "\r\n"
      "2,\"she said \"\"hi\"\"\",4\r\n"
      "3,\"two\nlines\", 5 \r\n"
      "4,,\"\"";
  absl::StatusOr<CsvTable> table = ParseCsv(text, "t.csv");
  ASSERT_THAT(table, IsOk());
  EXPECT_THAT(table->header, ElementsAre("id", "text", "score"));
  ASSERT_EQ(table->rows.size(), 4u);
  EXPECT_THAT(table->rows[0], ElementsAre("1", "hello, world", "3.5"));
  EXPECT_THAT(table->rows[1], ElementsAre("2", "she said \"hi\"", "4"));
  EXPECT_THAT(table->rows[2], ElementsAre("3", "two\nlines", "5"));
  EXPECT_THAT(table->rows[3], ElementsAre("4", "", ""));
  // The blank line counts, and row 3 spans two lines.
  EXPECT_THAT(table->lines, ElementsAre(2, 4, 5, 7));
}

TEST(CsvImportTest, ParserErrorsGiveTheLine) {
  auto error = [](absl::string_view text) {
    absl::StatusOr<CsvTable> table = ParseCsv(text, "t.csv");
    EXPECT_FALSE(table.ok()) << text;
    return table.ok() ? "" : std::string(table.status().message());
  };
  EXPECT_THAT(error("a,b\n1,2\n3\n"), HasSubstr("t.csv line 3: has 1 fields; the header has 2"));
  EXPECT_THAT(error("a,b\n1,\"2\n3,4\n"),
              HasSubstr("t.csv line 2: a quoted field is never closed"));
  EXPECT_THAT(error("a,b\n1,2\"x\n"), HasSubstr("line 2: a quote inside a field"));
  EXPECT_THAT(error("a,b\n1,\"2\"x\n"),
              HasSubstr("line 2: text after the closing quote of field 2"));
  EXPECT_THAT(error("a,a\n1,2\n"), HasSubstr("line 1: column 'a' appears twice"));
  EXPECT_THAT(error("a,,c\n1,2,3\n"), HasSubstr("line 1: column 2 has no name"));
  EXPECT_THAT(error(""), HasSubstr("t.csv is empty"));
}

TEST(CsvImportTest, ThresholdLabelInferredFeaturesAndVocabularies) {
  CsvImportOptions options = PeopleOptions();
  absl::StatusOr<CsvImport> import = BuildShardsFromCsv(kPeople, "people.csv", options);
  ASSERT_THAT(import, IsOk());
  const CsvImportSummary& summary = import->summary;
  EXPECT_EQ(summary.rows_read, 10);
  EXPECT_EQ(summary.rows_dropped_missing, 2);
  EXPECT_EQ(summary.rows_dropped_unknown, 0);
  EXPECT_EQ(summary.first_dropped, "people.csv line 4: column 'wages' is missing ('NA')");
  EXPECT_THAT(summary.feature_columns, ElementsAre("education", "age"));
  EXPECT_THAT(summary.ignored_columns, ElementsAre("note"));
  // Kept wages: 10.5 11 17.76 14 8.2 16.97 9 20 -> median (11 + 14) / 2.
  ASSERT_TRUE(summary.label_threshold.has_value());
  EXPECT_DOUBLE_EQ(*summary.label_threshold, 12.5);
  EXPECT_THAT(summary.labels, ElementsAre("wages <= 12.5", "wages > 12.5"));
  EXPECT_THAT(summary.groups, ElementsAre("Female", "Male"));
  EXPECT_THAT(summary.languages, ElementsAre("English", "French", "Other"));
  ASSERT_EQ(import->shards.size(), 1u);
  const ShardData& shard = import->shards[0];
  EXPECT_EQ(shard.manifest.num_samples, 8);
  EXPECT_EQ(shard.manifest.group_attribute, "sex");
  EXPECT_EQ(shard.manifest.modalities[0].name, "tabular");
  EXPECT_EQ(shard.manifest.modalities[0].dim, 2);
  EXPECT_THAT(ValidateShardColumns(shard.manifest, shard.Columns()), IsOk());
  EXPECT_EQ(std::accumulate(shard.label.begin(), shard.label.end(), int64_t{0}), 4);
  // Every kept row once: find the 20-wage row by its features (17, 45).
  int found = 0;
  for (int64_t row = 0; row < 8; ++row) {
    if (shard.features[0][2 * row] == 17 && shard.features[0][2 * row + 1] == 45) {
      ++found;
      EXPECT_EQ(shard.label[row], 1);
      EXPECT_EQ(shard.group[row], 1);
      EXPECT_EQ(shard.language[row], 1);
    }
  }
  EXPECT_EQ(found, 1);
  EXPECT_EQ(shard.manifest.split_counts, (SplitCounts{6, 1, 1}));  // 5.6 -> 6, 1.2 -> 1

  options.label_threshold = "15";
  import = BuildShardsFromCsv(kPeople, "people.csv", options);
  ASSERT_THAT(import, IsOk());
  EXPECT_THAT(import->summary.labels, ElementsAre("wages <= 15", "wages > 15"));
}

TEST(CsvImportTest, CategoricalLabelExplicitFeaturesAndNoLanguage) {
  CsvImportOptions options;
  options.label_column = "sex";
  options.group_column = "language";
  options.feature_columns = {"age"};
  options.drop_missing = true;
  absl::StatusOr<CsvImport> import = BuildShardsFromCsv(kPeople, "people.csv", options);
  ASSERT_THAT(import, IsOk());
  EXPECT_THAT(import->summary.labels, ElementsAre("Female", "Male"));
  EXPECT_THAT(import->summary.languages, ElementsAre("und"));
  EXPECT_THAT(import->summary.feature_columns, ElementsAre("age"));
  EXPECT_EQ(import->summary.rows_dropped_missing, 1);  // the NA language; wages are unused
  EXPECT_EQ(import->shards[0].manifest.num_samples, 9);
}

// A table with a text column whose values repeat ("job"), one that names
// categories by number ("grade") and one that does not repeat ("id").
constexpr char kJobs[] =
    "y,sex,age,job,grade,id\n"
    "1,F,30,office,1,a\n"
    "0,M,40,field,2,b\n"
    "1,M,50,office,3,c\n"
    "0,F,20,sea,1,d\n"
    "1,F,35,field,2,e\n"
    "0,M,45,office,2,f\n";

CsvImportOptions JobsOptions() {
  CsvImportOptions options;
  options.label_column = "y";
  options.group_column = "sex";
  options.split.train_fraction = 1;
  options.split.validation_fraction = 0;
  return options;
}

// The features of the row whose age is `age`.
std::vector<float> FeaturesOfAge(const ShardData& shard, float age) {
  const int64_t dim = shard.manifest.modalities[0].dim;
  for (int64_t row = 0; row < shard.manifest.num_samples; ++row) {
    if (shard.features[0][row * dim] == age) {
      return {shard.features[0].begin() + row * dim, shard.features[0].begin() + (row + 1) * dim};
    }
  }
  ADD_FAILURE() << "no row of age " << age;
  return {};
}

TEST(CsvImportTest, RepeatingTextColumnsAreOneHotEncodedWithAnOtherCategory) {
  absl::StatusOr<CsvImport> import = BuildShardsFromCsv(kJobs, "jobs.csv", JobsOptions());
  ASSERT_THAT(import, IsOk());
  const CsvImportSummary& summary = import->summary;
  EXPECT_THAT(summary.feature_columns, ElementsAre("age", "job", "grade"));
  EXPECT_THAT(summary.ignored_columns, ElementsAre("id"));  // six values in six rows
  ASSERT_EQ(summary.categorical_columns.size(), 1u);
  EXPECT_EQ(summary.categorical_columns[0].name, "job");
  EXPECT_THAT(summary.categorical_columns[0].values,
              ElementsAre("field", "office", "sea", "(other)"));
  EXPECT_THAT(summary.other_counts, ElementsAre(0));
  const ShardData& shard = import->shards[0];
  EXPECT_EQ(shard.manifest.modalities[0].dim, 6);
  EXPECT_THAT(shard.manifest.modalities[0].feature_names,
              ElementsAre("age", "job=field", "job=office", "job=sea", "job=(other)", "grade"));
  EXPECT_THAT(ValidateShardColumns(shard.manifest, shard.Columns()), IsOk());
  EXPECT_THAT(FeaturesOfAge(shard, 30), ElementsAre(30, 0, 1, 0, 0, 1));
  EXPECT_THAT(FeaturesOfAge(shard, 20), ElementsAre(20, 0, 0, 1, 0, 1));
  EXPECT_THAT(FeaturesOfAge(shard, 35), ElementsAre(35, 1, 0, 0, 0, 2));
}

TEST(CsvImportTest, AGivenCategoryListIsTheSchemaAndOtherValuesAreOther) {
  CsvImportOptions options = JobsOptions();
  options.categorical_columns = {{.name = "job", .values = {"office", "field"}},
                                 {.name = "grade", .values = {"3", "2", "1"}}};
  absl::StatusOr<CsvImport> import = BuildShardsFromCsv(kJobs, "jobs.csv", options);
  ASSERT_THAT(import, IsOk());
  const CsvImportSummary& summary = import->summary;
  ASSERT_EQ(summary.categorical_columns.size(), 2u);
  EXPECT_THAT(summary.categorical_columns[0].values, ElementsAre("office", "field", "(other)"));
  EXPECT_THAT(summary.categorical_columns[1].values, ElementsAre("3", "2", "1", "(other)"));
  EXPECT_THAT(summary.other_counts, ElementsAre(1, 0));  // the one "sea"
  const ShardData& shard = import->shards[0];
  EXPECT_THAT(shard.manifest.modalities[0].feature_names,
              ElementsAre("age", "job=office", "job=field", "job=(other)", "grade=3", "grade=2",
                          "grade=1", "grade=(other)"));
  EXPECT_THAT(FeaturesOfAge(shard, 20), ElementsAre(20, 0, 0, 1, 0, 0, 1, 0));
  EXPECT_THAT(FeaturesOfAge(shard, 50), ElementsAre(50, 1, 0, 0, 1, 0, 0, 0));

  // With --features, the categorical columns are added to the named ones.
  options.feature_columns = {"age"};
  options.categorical_columns.resize(1);
  import = BuildShardsFromCsv(kJobs, "jobs.csv", options);
  ASSERT_THAT(import, IsOk());
  EXPECT_THAT(import->summary.feature_columns, ElementsAre("age", "job"));
  EXPECT_EQ(import->shards[0].manifest.modalities[0].dim, 4);

  // A missing category is missing, as in any used column.
  options.drop_missing = false;
  const std::string with_missing = std::string(kJobs) + "1,F,33,NA,1,g\n";
  EXPECT_THAT(BuildError(with_missing, options), HasSubstr("line 8: column 'job' is missing"));
}

TEST(CsvImportTest, CategoricalColumnErrorsSayWhatToFix) {
  EXPECT_THAT(CategoricalColumn::Parse("=a|b").status().message(), HasSubstr("has no name"));
  absl::StatusOr<CategoricalColumn> parsed = CategoricalColumn::Parse("job=office| field");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->name, "job");
  EXPECT_THAT(parsed->values, ElementsAre("office", "field"));
  EXPECT_THAT(CategoricalColumn::Parse("job")->values, ::testing::IsEmpty());

  CsvImportOptions options = JobsOptions();
  options.categorical_columns = {{.name = "job"}, {.name = "job"}};
  EXPECT_THAT(BuildError(kJobs, options), HasSubstr("categorical column 'job' is named twice"));
  options.categorical_columns = {{.name = "job", .values = {"a", "a"}}};
  EXPECT_THAT(BuildError(kJobs, options), HasSubstr("must be distinct and non-empty"));
  options.categorical_columns = {{.name = "job", .values = {"(other)"}}};
  EXPECT_THAT(BuildError(kJobs, options), HasSubstr("(other) is reserved"));
  options.categorical_columns = {{.name = "sex"}};
  EXPECT_THAT(BuildError(kJobs, options), HasSubstr("cannot also be a feature"));
  options.categorical_columns = {{.name = "colour"}};
  EXPECT_THAT(BuildError(kJobs, options), HasSubstr("the feature column 'colour' is not in"));
  std::string ids = "y,sex,id\n";
  for (int row = 0; row < 1001; ++row) ids += absl::StrCat(row % 2, ",F,id", row, "\n");
  options.categorical_columns = {{.name = "id"}};
  EXPECT_THAT(BuildError(ids, options),
              HasSubstr("categorical column 'id' has 1001 categories; one-hot encoding makes a "
                        "feature of each, and at most 1000 are allowed"));
}

TEST(CsvImportTest, MissingValuesFailUnlessDroppedAndNameLineAndColumn) {
  CsvImportOptions options = PeopleOptions();
  options.drop_missing = false;
  EXPECT_THAT(BuildError(kPeople, options),
              HasSubstr("people.csv line 4: column 'wages' is missing ('NA'); fix the value, or "
                        "pass --drop-missing to drop such rows"));
  options.label_column = "age";  // wages becomes a feature column with the same NA
  EXPECT_THAT(BuildError(kPeople, options), HasSubstr("line 4: column 'wages' is missing"));
  // An empty cell is missing too.
  const std::string empty_cell = "y,g,x\n1,a,\n2,b,3\n";
  CsvImportOptions simple;
  simple.label_column = "y";
  simple.group_column = "g";
  EXPECT_THAT(BuildError(empty_cell, simple), HasSubstr("line 2: column 'x' is missing ('')"));
}

TEST(CsvImportTest, UnknownCategoriesFailUnlessDropped) {
  CsvImportOptions options = PeopleOptions();
  options.drop_missing = false;
  options.group_values = {"Male"};
  options.label_threshold = "10";
  const std::string text = "wages,education,sex,language\n12,1,Male,English\n9,2,Female,French\n";
  EXPECT_THAT(BuildError(text, options),
              HasSubstr("people.csv line 3: column 'sex' is 'Female', not one of the groups Male "
                        "(given by --groups); fix the value or extend the list, or pass "
                        "--drop-missing"));
  options.drop_missing = true;
  absl::StatusOr<CsvImport> import = BuildShardsFromCsv(text, "people.csv", options);
  ASSERT_THAT(import, IsOk());
  EXPECT_EQ(import->summary.rows_dropped_unknown, 1);
  EXPECT_EQ(import->summary.rows_dropped_missing, 0);
  EXPECT_THAT(import->summary.first_dropped, HasSubstr("line 3: column 'sex' is 'Female'"));
  EXPECT_THAT(import->summary.groups, ElementsAre("Male"));
}

TEST(CsvImportTest, ColumnAndOptionErrors) {
  CsvImportOptions options = PeopleOptions();
  options.group_column = "gender";
  EXPECT_THAT(BuildError(kPeople, options),
              HasSubstr("the group column 'gender' is not in people.csv; its columns: 'wages', "
                        "'education', 'age', 'sex', 'language', 'note'"));
  options = PeopleOptions();
  options.feature_columns = {"age", "note"};
  EXPECT_THAT(BuildError(kPeople, options),
              HasSubstr("line 2: column 'note' is 'a', not a finite number"));
  options.feature_columns = {"sex"};
  EXPECT_THAT(BuildError(kPeople, options), HasSubstr("cannot also be a feature"));
  // A finite double beyond float32's range would be an infinite feature, which no
  // shard may hold (found by tests/fuzz/csv_import_fuzzer.cc).
  options.feature_columns = {"age"};
  std::string huge = kPeople;
  huge.replace(huge.find(",40,"), 4, ",1e82,");
  EXPECT_THAT(BuildError(huge, options),
              HasSubstr("line 2: column 'age' is '1e82', beyond float32's range"));
  options = PeopleOptions();
  options.label_column = "note";
  EXPECT_THAT(BuildError(kPeople, options),
              HasSubstr("column 'note' is 'a', not a number; a label threshold needs a numeric "
                        "label column"));
  options = PeopleOptions();
  options.label_threshold = "";
  options.label_column = "age";
  options.language_column.clear();
  std::string many = "age,sex,x\n";
  for (int i = 0; i < 150; ++i) many += std::to_string(i) + ",Male,1\n";
  EXPECT_THAT(BuildError(many, options), HasSubstr("has 150 distinct values; for a numeric label"));
  EXPECT_THAT(BuildError("y,g\n1,a\n",
                         [] {
                           CsvImportOptions o;
                           o.label_column = "y";
                           o.group_column = "g";
                           return o;
                         }()),
              HasSubstr("has no feature column besides the label, group and language"));
  options = PeopleOptions();
  options.split_by = "language";
  options.split.clients = 2;
  EXPECT_THAT(BuildError(kPeople, options),
              HasSubstr("splitting by 'language' makes 3 clients ('English', 'French', 'Other'), "
                        "not the 2 asked for"));

  auto invalid = [](const std::function<void(CsvImportOptions&)>& edit) {
    CsvImportOptions o = PeopleOptions();
    edit(o);
    return std::string(o.Validate().message());
  };
  EXPECT_THAT(invalid([](auto& o) { o.label_column.clear(); }), HasSubstr("name the label column"));
  EXPECT_THAT(invalid([](auto& o) { o.group_column = "wages"; }), HasSubstr("three different"));
  EXPECT_THAT(invalid([](auto& o) { o.label_threshold = "high"; }),
              HasSubstr("label threshold is 'high'; it must be 'median' or a number"));
  EXPECT_THAT(invalid([](auto& o) { o.split.dirichlet_alpha = 0.5; }),
              HasSubstr("a Dirichlet split needs the number of clients"));
  EXPECT_THAT(invalid([](auto& o) {
                o.split.dirichlet_alpha = 0.5;
                o.split.clients = 3;
                o.split_by = "language";
              }),
              HasSubstr("not both"));
  EXPECT_THAT(invalid([](auto& o) { o.split.train_fraction = 0.95; }), HasSubstr("exceed 1"));
}

TEST(CsvImportTest, SplitByColumnGivesOneClientPerValue) {
  CsvImportOptions options = PeopleOptions();
  options.split_by = "language";
  absl::StatusOr<CsvImport> import = BuildShardsFromCsv(kPeople, "people.csv", options);
  ASSERT_THAT(import, IsOk());
  EXPECT_THAT(import->summary.client_names,
              ElementsAre("language=English", "language=French", "language=Other"));
  ASSERT_EQ(import->shards.size(), 3u);
  const int64_t expected[] = {4, 3, 1};  // Other loses its NA wage; NA language dropped
  for (int client = 0; client < 3; ++client) {
    const ShardData& shard = import->shards[client];
    EXPECT_EQ(shard.manifest.num_samples, expected[client]) << client;
    EXPECT_THAT(shard.manifest.languages, ElementsAre("English", "French", "Other"));
    for (int64_t language : shard.language) EXPECT_EQ(language, client);
  }
}

// A bigger table with three labels for the partition tests.
std::string ThreeLabelTable(int rows) {
  std::string text = "y,g,x\n";
  for (int row = 0; row < rows; ++row) {
    text +=
        std::to_string(row % 3) + "," + (row % 2 ? "a" : "b") + "," + std::to_string(row) + "\n";
  }
  return text;
}

TEST(CsvImportTest, DirichletSplitIsSeededCompleteAndSkewed) {
  CsvImportOptions options;
  options.label_column = "y";
  options.group_column = "g";
  options.split.clients = 4;
  options.split.dirichlet_alpha = 0.1;
  options.split.seed = 7;
  const std::string text = ThreeLabelTable(600);
  absl::StatusOr<CsvImport> first = BuildShardsFromCsv(text, "t.csv", options);
  absl::StatusOr<CsvImport> again = BuildShardsFromCsv(text, "t.csv", options);
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(again, IsOk());
  std::vector<float> all;
  double most_skewed = 0;
  for (int client = 0; client < 4; ++client) {
    const ShardData& shard = first->shards[client];
    EXPECT_EQ(shard.features[0], again->shards[client].features[0]);  // same seed, same split
    EXPECT_GT(shard.manifest.num_samples, 0);
    all.insert(all.end(), shard.features[0].begin(), shard.features[0].end());
    std::vector<int64_t> per_label(3, 0);
    for (int64_t label : shard.label) ++per_label[label];
    most_skewed = std::max(
        most_skewed, static_cast<double>(*std::max_element(per_label.begin(), per_label.end())) /
                         shard.manifest.num_samples);
  }
  // Every row exactly once.
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), 600u);
  for (int row = 0; row < 600; ++row) EXPECT_EQ(all[row], row);
  // alpha 0.1: some client is dominated by one label (IID would give about 1/3).
  EXPECT_GT(most_skewed, 0.6);
  options.split.seed = 8;
  absl::StatusOr<CsvImport> other = BuildShardsFromCsv(text, "t.csv", options);
  ASSERT_THAT(other, IsOk());
  EXPECT_NE(other->shards[0].features[0], first->shards[0].features[0]);
}

TEST(CsvImportTest, RandomSplitAndFractions) {
  CsvImportOptions options;
  options.label_column = "y";
  options.group_column = "g";
  options.split.clients = 3;
  options.split.train_fraction = 0.5;
  options.split.validation_fraction = 0.25;
  absl::StatusOr<CsvImport> import = BuildShardsFromCsv(ThreeLabelTable(300), "t.csv", options);
  ASSERT_THAT(import, IsOk());
  ASSERT_EQ(import->shards.size(), 3u);
  for (const SplitCounts& counts : import->summary.client_counts) {
    EXPECT_EQ(counts, (SplitCounts{50, 25, 25}));
  }
  EXPECT_THAT(import->summary.labels, ElementsAre("0", "1", "2"));
  options.split.clients = 400;
  EXPECT_THAT(BuildError(ThreeLabelTable(300), options),
              HasSubstr("300 rows cannot give each of 400 clients one"));
}

TEST(CsvImportTest, ImportWritesReadableShards) {
  const equifl::test::TemporaryFolder temporary("shard");
  const std::filesystem::path& folder = temporary.path();
  const std::string csv = (folder / "people.csv").string();
  std::ofstream(csv) << kPeople;
  CsvImportOptions options = PeopleOptions();
  options.split_by = "language";
  absl::StatusOr<CsvImportSummary> summary = ImportCsv(csv, (folder / "shards").string(), options);
  ASSERT_THAT(summary, IsOk());
  ASSERT_EQ(summary->shard_dirs.size(), 3u);
  absl::StatusOr<Shard> shard = Shard::Open(summary->shard_dirs[1]);
  ASSERT_THAT(shard, IsOk());
  EXPECT_EQ(shard->manifest().num_samples, 3);
  EXPECT_EQ(ImportCsv(csv, (folder / "shards").string(), options).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      ImportCsv((folder / "none.csv").string(), (folder / "x").string(), options).status().code(),
      absl::StatusCode::kNotFound);
}

TEST(CsvImportTest, TextThatIsNotUtf8IsAnErrorNamingLineAndColumn) {
  const CsvImportOptions options = PeopleOptions();
  std::string table = kPeople;
  table.replace(table.find("Female"), 6, "F\xE9male");  // Latin-1, on line 6
  EXPECT_THAT(BuildError(table, options),
              HasSubstr("people.csv line 6: column 'sex' is not UTF-8 (byte 2 of 'F\\xe9male'); "
                        "save the file as UTF-8"));
  // Every column, used or not, and the header.
  table = kPeople;
  table.replace(table.find(",d\n"), 3, ",\xFF\n");
  EXPECT_THAT(BuildError(table, options), HasSubstr("line 5: column 'note' is not UTF-8"));
  EXPECT_THAT(BuildError(std::string("wages,s\xC3x\n1,2\n"), options),
              HasSubstr("line 1: column 2 is not UTF-8 (byte 2 of 's\\xc3x')"));
  // Well-formed UTF-8 is a name like any other.
  table = kPeople;
  table.replace(table.find("French"), 6,
                "Fran\xC3\xA7"
                "ais");
  absl::StatusOr<CsvImport> import = BuildShardsFromCsv(table, "people.csv", options);
  ASSERT_THAT(import, IsOk());
  EXPECT_THAT(import->summary.languages, ::testing::Contains("Fran\xC3\xA7"
                                                             "ais"));
}

TEST(CsvImportTest, AFailedImportLeavesNoOutputFolder) {
  const equifl::test::TemporaryFolder temporary("shard");
  const std::string csv = temporary / "people.csv";
  std::string table = kPeople;
  table.replace(table.find("Female"), 6, "F\xE9male");
  std::ofstream(csv) << table;
  const absl::Status status = ImportCsv(csv, temporary / "shards", PeopleOptions()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(temporary / "shards"));
}

TEST(CsvImportTest, MessagesQuoteABoundedPrefixOfHugeCells) {
  CsvImportOptions options = PeopleOptions();
  const std::string huge(4 << 20, 'h');
  // A header of one enormous column name: the list of columns stays short.
  std::string message = BuildError(huge + ",wages\n1,2\n", options);
  EXPECT_THAT(message, HasSubstr("the group column 'sex' is not in people.csv; its columns: 'hhh"));
  EXPECT_THAT(message, HasSubstr("... (4194304 bytes), 'wages'"));
  EXPECT_LT(message.size(), 400u);
  // Many columns: the first ten are listed.
  std::string header = "wages";
  for (int column = 0; column < 100'000; ++column) header += ",c" + std::to_string(column);
  message = BuildError(header + "\n", options);
  EXPECT_THAT(message, HasSubstr("'c8', ... (100001 in all)"));
  EXPECT_LT(message.size(), 400u);
  // A huge cell where a number belongs.
  std::string table = kPeople;
  table.replace(table.find("40,Male"), 2, huge);
  options.feature_columns = {"age"};
  message = BuildError(table, options);
  EXPECT_THAT(message, HasSubstr("line 2: column 'age' is 'hhh"));
  EXPECT_LT(message.size(), 400u);
}

TEST(CsvImportTest, ImportReadsOnlyRegularFiles) {
  const equifl::test::TemporaryFolder temporary("shard");
  for (const char* path : {"/dev/zero", "/dev/null"}) {
    const absl::Status status = ImportCsv(path, temporary / "shards", PeopleOptions()).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_THAT(status.message(), HasSubstr("is a character device; give a regular file"));
  }
  EXPECT_FALSE(std::filesystem::exists(temporary / "shards"));
}

TEST(CsvImportTest, ImportReportsEachStageInOrderFromZeroToItsTotal) {
  const equifl::test::TemporaryFolder temporary("shard");
  const std::string csv = temporary / "people.csv";
  std::ofstream(csv) << kPeople;
  CsvImportOptions options = PeopleOptions();
  options.split_by = "language";
  ProgressRecord record;
  options.progress = record.Callback();
  ASSERT_THAT(ImportCsv(csv, temporary / "shards", options), IsOk());
  EXPECT_THAT(record.stages,
              ElementsAre(ImportStage::kRead, ImportStage::kParse, ImportStage::kDetect,
                          ImportStage::kCheck, ImportStage::kBuild, ImportStage::kWrite));
  record.ExpectEveryStageFromZeroToTotal();
  const uint64_t bytes = std::string(kPeople).size();
  EXPECT_EQ(record.total[ImportStage::kRead], bytes);
  EXPECT_EQ(record.total[ImportStage::kParse], bytes);
  EXPECT_EQ(record.total[ImportStage::kDetect], 6u);  // columns
  EXPECT_EQ(record.total[ImportStage::kCheck], 10u);  // rows read
  EXPECT_EQ(record.total[ImportStage::kBuild], 8u);   // rows kept (two have an NA)
  EXPECT_EQ(record.total[ImportStage::kWrite], 3u);   // English, French, Other
  EXPECT_THAT(record.done[ImportStage::kWrite], ElementsAre(0, 1, 2, 3));

  // Named feature columns: nothing to detect.
  ProgressRecord named;
  options.progress = named.Callback();
  options.feature_columns = {"age"};
  ASSERT_THAT(BuildShardsFromCsv(kPeople, "people.csv", options), IsOk());
  EXPECT_THAT(named.stages,
              ElementsAre(ImportStage::kParse, ImportStage::kCheck, ImportStage::kBuild));
}

TEST(CsvImportTest, ImportsSlid) {
  const std::string path = EQUIFL_SLID_CSV;
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent";
  const equifl::test::TemporaryFolder temporary("shard");
  const std::filesystem::path& folder = temporary.path();
  CsvImportOptions options = PeopleOptions();  // wages above the median, sex, language
  options.split_by = "language";
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<CsvImportSummary> summary = ImportCsv(path, (folder / "slid").string(), options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_THAT(summary, IsOk());
  EXPECT_EQ(summary->rows_read, 7425);
  // NA in wages 3,278 rows, education 249, language 121: 3,438 rows with any
  // (counted independently with awk).
  EXPECT_EQ(summary->rows_dropped_missing, 3438);
  EXPECT_EQ(summary->rows_dropped_unknown, 0);
  EXPECT_THAT(summary->feature_columns, ElementsAre("education", "age"));
  EXPECT_THAT(summary->groups, ElementsAre("Female", "Male"));
  EXPECT_THAT(summary->languages, ElementsAre("English", "French", "Other"));
  ASSERT_EQ(summary->shard_dirs.size(), 3u);
  int64_t kept = 0;
  int64_t above = 0;
  for (const std::string& dir : summary->shard_dirs) {
    absl::StatusOr<Shard> shard = Shard::Open(dir);
    ASSERT_THAT(shard, IsOk());
    kept += shard->manifest().num_samples;
    for (int64_t label : shard->columns().label) above += label;
  }
  EXPECT_EQ(kept + summary->rows_dropped_missing, 7425);
  EXPECT_NEAR(static_cast<double>(above) / kept, 0.5, 0.01);  // the median splits in half
  std::printf("slid.csv: %lld rows kept of 7425 (%lld dropped), median wage %.3f, %.3f s\n",
              static_cast<long long>(kept), static_cast<long long>(summary->rows_dropped_missing),
              *summary->label_threshold, seconds);
  for (size_t client = 0; client < summary->client_names.size(); ++client) {
    const SplitCounts& counts = summary->client_counts[client];
    std::printf("  %s: train %lld, validation %lld, test %lld\n",
                summary->client_names[client].c_str(), static_cast<long long>(counts[0]),
                static_cast<long long>(counts[1]), static_cast<long long>(counts[2]));
  }
}

}  // namespace
}  // namespace equifl::client
