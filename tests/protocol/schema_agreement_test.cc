#include "protocol/schema_agreement.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/testing/status_matchers.h"

namespace equifl::protocol {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

// A table imported with `job` one-hot over office, field and (other).
v1::DataSchema TableSchema() {
  v1::DataSchema schema;
  v1::DataSchema::Modality* tabular = schema.add_modalities();
  tabular->set_name("tabular");
  tabular->set_kind("vector");
  tabular->set_dim(4);
  for (const char* name : {"age", "job=office", "job=field", "job=(other)"}) {
    tabular->add_feature_names(name);
  }
  for (const char* label : {"no", "yes"}) schema.add_labels(label);
  for (const char* group : {"female", "male"}) schema.add_groups(group);
  schema.add_languages("und");
  return schema;
}

std::string Disagreement(const v1::DataSchema& client) {
  const absl::Status status = CheckSchemaAgreement(TableSchema(), client);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  return std::string(status.message());
}

TEST(SchemaAgreementTest, TheSameSchemaAgrees) {
  EXPECT_THAT(CheckSchemaAgreement(TableSchema(), TableSchema()), IsOk());
}

TEST(SchemaAgreementTest, EachDifferenceIsNamedWithBothValues) {
  v1::DataSchema client = TableSchema();
  client.mutable_modalities(0)->set_feature_names(1, "job=field");
  client.mutable_modalities(0)->set_feature_names(2, "job=office");
  EXPECT_THAT(Disagreement(client),
              HasSubstr("its shard's modality 'tabular' feature 2: 'job=field'; the run's: "
                        "'job=office'; import every client's data with the settings of the "
                        "run's schema"));

  client = TableSchema();
  client.mutable_modalities(0)->set_dim(5);
  client.mutable_modalities(0)->add_feature_names("job=sea");
  EXPECT_THAT(Disagreement(client), HasSubstr("modality 'tabular' frames and dim: 0 frames of 5; "
                                              "the run's: 0 frames of 4"));

  client = TableSchema();
  client.mutable_modalities(0)->clear_feature_names();
  EXPECT_THAT(Disagreement(client), HasSubstr("modality 'tabular' feature names: none; the run's: "
                                              "'age', 'job=office'"));

  client = TableSchema();
  client.mutable_modalities(0)->set_name("features");
  EXPECT_THAT(Disagreement(client), HasSubstr("modalities: 'features'; the run's: 'tabular'"));

  client = TableSchema();
  client.mutable_modalities(0)->set_kind("sequence");
  EXPECT_THAT(Disagreement(client), HasSubstr("kind: 'sequence'; the run's: 'vector'"));

  client = TableSchema();
  client.set_labels(1, "maybe");
  EXPECT_THAT(Disagreement(client), HasSubstr("classes: 'no', 'maybe'; the run's: 'no', 'yes'"));

  client = TableSchema();
  client.add_groups("other");
  EXPECT_THAT(Disagreement(client), HasSubstr("groups: 'female', 'male', 'other'"));

  // Recordings: the front end's first differing field is named.
  v1::DataSchema run = TableSchema();
  run.mutable_modalities(0)->set_front_end("log-mel sample_rate=16000 hop=160 bands=80");
  client = run;
  client.mutable_modalities(0)->set_front_end("log-mel sample_rate=16000 hop=160 bands=64");
  absl::Status status = CheckSchemaAgreement(run, client);
  EXPECT_THAT(status.message(), HasSubstr("its shard's modality 'tabular' front end's 'bands': "
                                          "'64'; the run's: '80'; import every client's data"));
  client.mutable_modalities(0)->clear_front_end();
  status = CheckSchemaAgreement(run, client);
  EXPECT_THAT(status.message(), HasSubstr("modality 'tabular' front end: none; the run's: "
                                          "'log-mel sample_rate=16000 hop=160 bands=80'"));
  EXPECT_THAT(CheckSchemaAgreement(run, run), IsOk());

  client = TableSchema();
  client.set_languages(0, "en");
  EXPECT_THAT(Disagreement(client), HasSubstr("languages: 'en'; the run's: 'und'"));
}

}  // namespace
}  // namespace equifl::protocol
