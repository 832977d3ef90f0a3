// One hostile client among honest ones, all real processes over mutual TLS
// (the hardening issue's W1, X1, S1 and SM, and F4 and F6 on the run folder they
// leave): `equifl server`, two `equifl client` processes and hostile_client.cc
// holding the third client's certificate. Each attack costs at most the
// attacker's own update; the run completes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/app/federation.h"
#include "tests/testing/process.h"

namespace {

using ::equifl::test::kPortPattern;
using ::equifl::test::Process;
using ::equifl::test::ReadFile;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

class HostileClientTest : public equifl::test::FederationTest {
 protected:
  // The hostile client as client-2, with `attack` (hostile_client.cc).
  std::unique_ptr<Process> StartHostile(const std::string& port, const std::string& attack,
                                        const std::string& log_name,
                                        const std::vector<std::string>& extra = {}) {
    std::vector<std::string> arguments = {EQUIFL_HOSTILE_CLIENT,
                                          "--server",
                                          "127.0.0.1:" + port,
                                          "--certs",
                                          Certificates("clients/client-2"),
                                          "--id",
                                          "client-2",
                                          "--attack",
                                          attack};
    arguments.insert(arguments.end(), extra.begin(), extra.end());
    return std::make_unique<Process>(arguments, folder_ / log_name);
  }

  // Starts the server with `config` and honest clients 0 and 1; returns the port.
  std::string StartServerAndHonestClients(const std::string& config) {
    server_ = StartServer(config, false, "server.log");
    const std::optional<std::string> port = server_->WaitForLog(kPortPattern, 60s);
    if (!port) {
      ADD_FAILURE() << "the server did not print its port:\n" << server_->Log();
      return "";
    }
    for (int i = 0; i < 2; ++i) honest_.push_back(StartClient(config, i, *port));
    return *port;
  }

  // The honest clients and the server finish with exit 0.
  void ExpectTheRunCompletes() {
    for (auto& client : honest_) EXPECT_EQ(client->Wait(300s), 0) << client->Log();
    EXPECT_EQ(server_->Wait(120s), 0) << server_->Log();
  }

  std::unique_ptr<Process> server_;
  std::vector<std::unique_ptr<Process>> honest_;
};

// W1 and X1: an absurd finite weight, then a loss sum of +Inf, each in a round of
// its own. Both are refused; every recorded loss is finite. Meanwhile a second
// server on the run folder is refused with the holder's pid (F6); afterwards a
// flipped bit in the last checkpoint stops both `equifl eval` and `--resume`,
// naming the file (F4).
TEST_F(HostileClientTest, AbsurdNumbersAreRefusedAndTheRunCompletes) {
  const std::string config = WriteConfig(2, 6);
  const std::string port = StartServerAndHonestClients(config);
  ASSERT_FALSE(port.empty());
  auto weight = StartHostile(port, "weight", "hostile-weight.log");
  EXPECT_EQ(weight->Wait(120s), 0) << weight->Log();
  EXPECT_THAT(weight->Log(), HasSubstr("refused"));
  EXPECT_THAT(weight->Log(), HasSubstr("exceeds"));
  // F6: a second server on the folder the first one is using.
  auto second = StartServer(config, true, "server-second.log");
  EXPECT_EQ(second->Wait(60s), 2) << second->Log();
  EXPECT_THAT(second->Log(), HasSubstr("in use by another equifl server (pid"));
  auto loss = StartHostile(port, "loss", "hostile-loss.log");
  EXPECT_EQ(loss->Wait(120s), 0) << loss->Log();
  EXPECT_THAT(loss->Log(), HasSubstr("loss sum of inf"));
  ExpectTheRunCompletes();
  const std::vector<equifl::server::RoundRecord> rounds = History();
  ASSERT_EQ(rounds.size(), 3u);  // Two training rounds and the final evaluation.
  for (const equifl::server::RoundRecord& round : rounds) {
    EXPECT_TRUE(std::isfinite(round.train_loss)) << round.round_id;
    EXPECT_THAT(round.contributors, ::testing::Not(::testing::Contains("client-2")));
  }

  // F4: one bit of the last checkpoint flipped.
  const std::string checkpoint =
      (folder_ / "run" / "checkpoints" / "round-000003.safetensors").string();
  {
    std::fstream file(checkpoint, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(-1, std::ios::end);
    const char last = static_cast<char>(file.get());
    file.seekp(-1, std::ios::end);
    file.put(static_cast<char>(last ^ 1));
  }
  Process eval({EQUIFL_BINARY, "--config", config, "eval", "--checkpoint", checkpoint, "--shard",
                (folder_ / "data" / "client-000").string()},
               folder_ / "eval.log");
  EXPECT_NE(eval.Wait(60s), 0) << eval.Log();
  EXPECT_THAT(eval.Log(), HasSubstr("is not the file round 3 wrote"));
  auto resumed = StartServer(config, true, "server-resumed.log");
  EXPECT_EQ(resumed->Wait(60s), 2) << resumed->Log();
  EXPECT_THAT(resumed->Log(), HasSubstr(checkpoint));
  EXPECT_THAT(resumed->Log(), HasSubstr("--resume-from-last-good"));
}

// S1: the hostile client opens two uploads with only their headers and stays
// silent while the server decodes one upload at a time. Its second upload is
// refused, its first is cancelled after the idle timeout, and the honest clients'
// updates count in the round.
TEST_F(HostileClientTest, ASilentUploadDoesNotHoldTheOthersUp) {
  const std::string config = WriteConfig(1, 8);
  {
    std::string text = ReadFile(config);
    text.insert(text.find("training:"),
                "  max_concurrent_uploads: 1\n  upload_idle_timeout_seconds: 1\n");
    std::ofstream(config) << text;
  }
  const std::string port = StartServerAndHonestClients(config);
  ASSERT_FALSE(port.empty());
  auto silent = StartHostile(port, "silent", "hostile-silent.log", {"--hold", "10"});
  ExpectTheRunCompletes();
  EXPECT_EQ(silent->Wait(60s), 0) << silent->Log();
  EXPECT_THAT(silent->Log(), HasSubstr("already uploading"));
  EXPECT_THAT(server_->Log(), HasSubstr("nothing received for 1000 ms"));
  const std::vector<equifl::server::RoundRecord> rounds = History();
  ASSERT_FALSE(rounds.empty());
  EXPECT_THAT(rounds[0].contributors, ::testing::ElementsAre("client-0", "client-1"));
}

// SM: under secure aggregation the hostile client's masked input carries
// statistics no honest client sends. The server sees it only in the sum: round 1
// is abandoned with the reason and the model unchanged, the run goes on without
// the attacker and completes.
TEST_F(HostileClientTest, ABogusMaskedInputAbandonsItsRoundNotTheRun) {
  const std::string config =
      WriteConfig(2, 30, "secure_aggregation:\n  enabled: true\n  phase_timeout_seconds: 5\n");
  const std::string port = StartServerAndHonestClients(config);
  ASSERT_FALSE(port.empty());
  auto bogus = StartHostile(port, "bogus-secure", "hostile-secure.log");
  EXPECT_EQ(bogus->Wait(120s), 0) << bogus->Log();
  ExpectTheRunCompletes();
  EXPECT_THAT(server_->Log(), HasSubstr("round 1: abandoned, the model is unchanged"));
  const std::vector<equifl::server::RoundRecord> rounds = History();
  ASSERT_EQ(rounds.size(), 3u);
  EXPECT_TRUE(rounds[0].contributors.empty());
  EXPECT_EQ(rounds[1].contributors.size(), 2u);
  EXPECT_THAT(ReadFile(folder_ / "run" / "report.jsonl"),
              HasSubstr("a client inside secure aggregation sent a bogus masked input"));
}

}  // namespace
