#include "app/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace equifl::app {
namespace {

using ::testing::HasSubstr;

TEST(ConfigTest, EmptyFileKeepsDefaults) {
  absl::StatusOr<Config> config = ParseConfig("", "empty.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->log_level, "info");
  EXPECT_EQ(config->codec.encoding, v1::ENCODING_FLOAT32);
  EXPECT_EQ(config->codec.max_chunk_bytes, size_t{1} << 20);
}

TEST(ConfigTest, ReadsEveryKey) {
  absl::StatusOr<Config> config = ParseConfig(
      "log:\n  level: debug\ntransport:\n  encoding: int8\n  chunk_bytes: 65536\n", "run.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->codec.encoding, v1::ENCODING_INT8);
  EXPECT_EQ(config->codec.max_chunk_bytes, 65536u);
}

TEST(ConfigTest, BadValueNamesFileLineKeyAndAllowedValues) {
  absl::StatusOr<Config> config =
      ParseConfig("log:\n  level: info\ntransport:\n  encoding: fp8\n", "run.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            "run.yaml:4: transport.encoding is 'fp8'; allowed values: fp32, fp16, bf16, int8");
}

TEST(ConfigTest, UnknownKeyIsAnErrorThatListsTheAllowedKeys) {
  absl::StatusOr<Config> config = ParseConfig("transport:\n  chunk_size: 10\n", "run.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            "run.yaml:2: unknown key transport.chunk_size; allowed keys in transport: "
            "chunk_bytes, encoding");
  config = ParseConfig("logging: {}\n", "run.yaml");
  EXPECT_THAT(config.status().message(), HasSubstr("unknown key logging; allowed keys: log"));
}

TEST(ConfigTest, NumbersOutOfRangeOrMalformed) {
  for (const char* value : {"10", "-5", "1.5", "lots", "99999999999999999999999"}) {
    absl::StatusOr<Config> config =
        ParseConfig(std::string("transport:\n  chunk_bytes: ") + value, "run.yaml");
    ASSERT_FALSE(config.ok()) << value;
    EXPECT_THAT(config.status().message(),
                HasSubstr("transport.chunk_bytes is '" + std::string(value) +
                          "'; allowed values: whole numbers from 1024 to 67108864"));
  }
}

TEST(ConfigTest, WrongShapes) {
  EXPECT_THAT(ParseConfig("- a\n- b\n", "run.yaml").status().message(),
              HasSubstr("the configuration must be a mapping"));
  EXPECT_THAT(ParseConfig("log: debug\n", "run.yaml").status().message(),
              HasSubstr("'log' must be a mapping"));
  EXPECT_THAT(ParseConfig("log:\n  level: [a, b]\n", "run.yaml").status().message(),
              HasSubstr("log.level must be a single value"));
}

TEST(ConfigTest, InvalidYamlReportsTheLine) {
  absl::StatusOr<Config> config = ParseConfig("log:\n  level: [debug\n", "run.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("run.yaml:"));
  EXPECT_THAT(config.status().message(), HasSubstr("not valid YAML"));
}

TEST(ConfigTest, DocumentedExampleParsesToTheDefaults) {
  absl::StatusOr<Config> config = LoadConfig(EQUIFL_EXAMPLE_CONFIG);
  ASSERT_TRUE(config.ok()) << config.status();
  const Config defaults;
  EXPECT_EQ(config->log_level, defaults.log_level);
  EXPECT_EQ(config->codec.encoding, defaults.codec.encoding);
  EXPECT_EQ(config->codec.max_chunk_bytes, defaults.codec.max_chunk_bytes);
}

TEST(ConfigTest, MissingFile) {
  absl::StatusOr<Config> config = LoadConfig("/nonexistent/equifl.yaml");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr("/nonexistent/equifl.yaml"));
}

}  // namespace
}  // namespace equifl::app
