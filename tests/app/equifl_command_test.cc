// Runs the equifl binary as a user would and checks its output and exit code.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/testing/equifl_binary.h"
#include "tests/testing/temporary_folder.h"

namespace {

using ::equifl::test::CommandOutcome;
using ::equifl::test::RunEquifl;
using ::equifl::test::TemporaryFolder;
using ::testing::HasSubstr;

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

TEST(EquiflCommandTest, HelpListsEverySubcommand) {
  const CommandOutcome outcome = RunEquifl("--help");
  EXPECT_EQ(outcome.exit_code, 0);
  for (const char* subcommand : {"server", "client", "sim", "data", "eval", "certs", "selfcheck"}) {
    EXPECT_THAT(outcome.output, HasSubstr(std::string("  ") + subcommand)) << subcommand;
  }
  EXPECT_THAT(outcome.output, HasSubstr("--log-level"));
}

TEST(EquiflCommandTest, VersionPrintsTheVersion) {
  const CommandOutcome outcome = RunEquifl("--version");
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_THAT(outcome.output, HasSubstr("equifl 0."));
}

TEST(EquiflCommandTest, BadConfigNamesTheKeyAndFails) {
  const std::string path = WriteFile("equifl_bad_config.yaml", "transport:\n  encoding: fp64\n");
  const CommandOutcome outcome = RunEquifl("--config " + path + " selfcheck --parameters 1000");
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.output, HasSubstr(path + ":2: transport.encoding is 'fp64'; allowed "
                                               "values: fp32, fp16, bf16, int8"));
}

TEST(EquiflCommandTest, SelfCheckPassesWithAConfiguredChunkSize) {
  const std::string path = WriteFile("equifl_good_config.yaml",
                                     "log:\n  level: warn\ntransport:\n  chunk_bytes: 8192\n");
  const CommandOutcome outcome = RunEquifl("--config " + path + " selfcheck --parameters 100000");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_THAT(outcome.output, HasSubstr("codec self-check passed"));
  EXPECT_THAT(outcome.output, HasSubstr("int8"));
  // 100000 float32 in chunks of 8192 bytes: 49 chunks.
  EXPECT_THAT(outcome.output, ::testing::ContainsRegex("fp32 +49 "));
}

TEST(EquiflCommandTest, UnknownSubcommandAndBadFlagsAreUsageErrors) {
  // CLI11's own exit codes (105, 106, 109, ...) are all 2, like every other usage error.
  for (const char* arguments :
       {"", "train", "--log-level loud selfcheck", "selfcheck --parameters 0",
        "selfcheck --parameters lots", "selfcheck --no-such-flag", "--config", "client",
        "server --address", "--config /nonexistent.yaml selfcheck"}) {
    const CommandOutcome outcome = RunEquifl(arguments);
    EXPECT_EQ(outcome.exit_code, 2) << arguments << "\n" << outcome.output;
    EXPECT_FALSE(outcome.err.empty()) << arguments;
  }
}

// /dev/zero used to be read until memory ran out (std::bad_alloc, abort); the
// command runs under a memory limit (but under ASan) so that such a reader fails fast.
TEST(EquiflCommandTest, TheConfigurationIsARegularFileOfBoundedSize) {
  CommandOutcome outcome =
      equifl::test::RunShell(equifl::test::MemoryLimitPrefix() + std::string(EQUIFL_BINARY) +
                             " --config /dev/zero selfcheck --parameters 10");
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("bad configuration: /dev/zero is a character device; give a "
                                     "regular file"));
  const TemporaryFolder folder("config_files");
  std::ofstream(folder / "big.yaml") << "# " << std::string(2 << 20, 'x') << "\n";
  outcome = RunEquifl("--config " + folder / "big.yaml" + " selfcheck --parameters 10");
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("big.yaml has 2097155 bytes; at most 1048576 are read"));
}

TEST(EquiflCommandTest, AKeyGivenTwiceInTheConfigurationIsAnError) {
  const std::string path =
      WriteFile("equifl_twice.yaml", "transport:\n  encoding: fp16\n  encoding: int8\n");
  const CommandOutcome outcome = RunEquifl("--config " + path + " selfcheck --parameters 1000");
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr(path + ":3: transport.encoding is given twice, on lines 2 "
                                            "and 3; keep one"));
}

TEST(EquiflCommandTest, SimExplainsItselfAndRefusesBadUsage) {
  const CommandOutcome help = RunEquifl("sim --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.output, HasSubstr("--worker"));
  EXPECT_THAT(help.output, HasSubstr("FIRST..LAST"));
  const CommandOutcome no_address = RunEquifl("sim --worker --clients 0..9");
  EXPECT_EQ(no_address.exit_code, 2);
  EXPECT_THAT(no_address.output, HasSubstr("needs --connect HOST:PORT"));
  const CommandOutcome no_range = RunEquifl("sim --worker --connect 127.0.0.1:1");
  EXPECT_EQ(no_range.exit_code, 2);
  EXPECT_THAT(no_range.output, HasSubstr("needs --clients FIRST..LAST"));
  const CommandOutcome backwards = RunEquifl("sim --clients 7..3");
  EXPECT_EQ(backwards.exit_code, 2);
  EXPECT_THAT(backwards.output, HasSubstr("--clients '7..3' must be FIRST..LAST"));
  EXPECT_NE(RunEquifl("sim --transport udp").exit_code, 0);
}

TEST(EquiflCommandTest, EvalNeedsACheckpointAndAShard) {
  EXPECT_NE(RunEquifl("eval").exit_code, 0);
  const CommandOutcome outcome =
      RunEquifl("eval --checkpoint /nonexistent.safetensors --shard /tmp");
  EXPECT_NE(outcome.exit_code, 0);
  EXPECT_THAT(outcome.output, HasSubstr("/nonexistent.safetensors"));
}

TEST(EquiflCommandTest, ClientRefusesAShardWithoutTrainingSamples) {
  const TemporaryFolder shards("empty_train");
  ASSERT_EQ(RunEquifl("data synth --out " + shards.path().string() +
                      " --clients 1 --samples-per-client 10 --train-fraction 0"
                      " --validation-fraction 0.5 --bayes-samples 0")
                .exit_code,
            0);
  const CommandOutcome outcome =
      RunEquifl("client --shard " + shards / "client-000" + " --server 127.0.0.1:1 --insecure");
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.output, HasSubstr("has no training samples"));
}

TEST(EquiflCommandTest, CertsWritesAFolderPerRecipientAndKeepsThemOnASecondRun) {
  const TemporaryFolder folder("certs_command");
  const CommandOutcome help = RunEquifl("certs --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.output, HasSubstr("worker certificate"));
  EXPECT_THAT(help.output, HasSubstr("never overwrites"));

  const CommandOutcome bad = RunEquifl("certs --out " + folder / "certs" + " --clients 'a,b c'");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("the client id 'b c' is not 1 to 64 letters"));
  EXPECT_FALSE(std::filesystem::exists(folder / "certs"));

  const CommandOutcome first =
      RunEquifl("certs --out " + folder / "certs" + " --clients 'a,client-*'");
  EXPECT_EQ(first.exit_code, 0) << first.output;
  EXPECT_THAT(first.output, HasSubstr("wrote  " + folder / "certs/ca"));
  EXPECT_THAT(first.output,
              HasSubstr("for the aggregator (365 days; names localhost, 127.0.0.1, ::1)"));
  EXPECT_THAT(first.output, HasSubstr("for worker 'client-*' (365 days; acts for every client id "
                                      "starting with 'client-')"));
  const CommandOutcome second = RunEquifl("certs --out " + folder / "certs" + " --clients a,b");
  EXPECT_EQ(second.exit_code, 0) << second.output;
  EXPECT_THAT(second.output, HasSubstr("reused " + folder / "certs/ca"));
  EXPECT_THAT(second.output, HasSubstr("kept   " + folder / "certs/clients/a"));
  EXPECT_THAT(second.output, HasSubstr("wrote  " + folder / "certs/clients/b"));
}

TEST(EquiflCommandTest, TlsIsTheDefaultAndACertificateFixesTheClientsId) {
  const TemporaryFolder folder("tls_default");
  const CommandOutcome server = RunEquifl("server --schema /nonexistent");
  EXPECT_EQ(server.exit_code, 2);
  EXPECT_THAT(server.output, HasSubstr("equifl server uses mutual TLS: run `equifl certs --out "
                                       "DIR` and pass --certs DIR/server, or pass --insecure"));
  ASSERT_EQ(RunEquifl("certs --out " + folder / "certs" + " --clients 'a,w-*'").exit_code, 0);
  const std::string client = "client --shard " + folder / "certs" + " --server 127.0.0.1:1 ";
  const CommandOutcome no_flag = RunEquifl(client);
  EXPECT_EQ(no_flag.exit_code, 2);
  EXPECT_THAT(no_flag.output, HasSubstr("pass --certs DIR/clients/ID, or pass --insecure"));
  const CommandOutcome other_id =
      RunEquifl(client + "--certs " + folder / "certs/clients/a" + " --id b");
  EXPECT_EQ(other_id.exit_code, 2);
  EXPECT_THAT(other_id.output, HasSubstr("is for 'a'; it cannot act as 'b'"));
  const CommandOutcome worker =
      RunEquifl(client + "--certs '" + folder / "certs/clients/w-*" + "'");
  EXPECT_EQ(worker.exit_code, 2);
  EXPECT_THAT(worker.output, HasSubstr("is a worker certificate ('w-*'): pass --id"));
  const CommandOutcome server_folder = RunEquifl(client + "--certs " + folder / "certs/server");
  EXPECT_EQ(server_folder.exit_code, 2);
  EXPECT_THAT(server_folder.output, HasSubstr("client.pem"));
}

}  // namespace
