// The schema a client sends at join carries every field of its shard's manifest
// that the server compares.
#include "client/data/wire_schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/client/shard_test_util.h"

namespace equifl::client {
namespace {

using ::equifl::client::testing::SmallShard;
using ::testing::ElementsAre;

TEST(WireSchemaTest, CarriesModalitiesNamesAndFrontEnds) {
  ShardManifest manifest = SmallShard().manifest;
  manifest.modalities[0].front_end = "log-mel sample_rate=16000 bands=80";
  manifest.modalities[1].feature_names = {"age", "job=office", "job=(other)", "grade"};
  const v1::DataSchema schema = ToWireSchema(manifest);
  ASSERT_EQ(schema.modalities_size(), 2);
  const v1::DataSchema::Modality& video = schema.modalities(0);
  EXPECT_EQ(video.name(), "video");
  EXPECT_EQ(video.kind(), "sequence");
  EXPECT_EQ(video.frames(), 3u);
  EXPECT_EQ(video.front_end(), "log-mel sample_rate=16000 bands=80");
  EXPECT_THAT(schema.modalities(1).feature_names(),
              ElementsAre("age", "job=office", "job=(other)", "grade"));
  EXPECT_EQ(schema.modalities(1).front_end(), "");
  EXPECT_EQ(schema.labels_size(), static_cast<int>(manifest.labels.size()));
  EXPECT_EQ(schema.groups(0), manifest.groups[0]);
  EXPECT_EQ(schema.languages_size(), static_cast<int>(manifest.languages.size()));
}

}  // namespace
}  // namespace equifl::client
