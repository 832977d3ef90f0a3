// Faults injected into a real federation (`equifl server` and three `equifl
// client` processes over mutual TLS): SIGKILL and SIGTERM, alternately, of the
// server and of a client at each phase of a round, in the clear and under secure
// aggregation. A phase is found by the debug line its process logs on entering it,
// and the signal follows within about 50 ms, so it lands in the phase or just after
// it. After each server fault the history keeps every round recorded before it and
// no round that was open; the server is resumed on the same port and the clients
// find it again. After each client fault the round completes without the client,
// which is restarted and signalled again at the next phase of the first round it
// takes part in. Every run must then finish with each round recorded once, in
// order, and (server faults) with all three clients in every round, so no partial
// round was recorded.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "server/run_history.h"
#include "tests/app/federation.h"
#include "tests/testing/process.h"

namespace {

using ::equifl::test::kPortPattern;
using ::equifl::test::Process;
using ::equifl::test::ReadFile;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// A phase of a round and the debug line (a regular expression) that says a
// process entered it.
struct Phase {
  std::string name;
  std::string line;
};

const char* SignalName(int signal_number) {
  return signal_number == SIGKILL ? "SIGKILL" : "SIGTERM";
}

class FaultInjectionTest : public equifl::test::FederationTest,
                           public ::testing::WithParamInterface<bool> {
 protected:
  bool secure() const { return GetParam(); }

  // The configuration, logging at debug level: the phases' lines are debug lines.
  std::string Config(int rounds, int deadline_seconds) {
    const std::string config = WriteConfig(rounds, deadline_seconds,
                                           secure() ? "secure_aggregation:\n  enabled: true\n"
                                                      "  phase_timeout_seconds: 4\n"
                                                    : "");
    const std::string text = ReadFile(config);
    std::ofstream(config) << std::regex_replace(text, std::regex("level: info"), "level: debug");
    return config;
  }

  // Round ids 1..n in order, each once.
  static void ExpectConsecutive(const std::vector<equifl::server::RoundRecord>& rounds) {
    for (size_t i = 0; i < rounds.size(); ++i) EXPECT_EQ(rounds[i].round_id, i + 1) << i;
  }
};

// Signals the server at each phase of a round in turn, resuming it after each.
TEST_P(FaultInjectionTest, TheServerStoppedOrKilledAtEveryPhaseLosesNoRoundAndRecordsNoPart) {
  std::vector<Phase> phases = {{"join", R"(client '[^']+' joined)"},
                               {"train", R"(round \d+: open)"},
                               {"upload", R"(round \d+: update from '[^']+' accepted)"},
                               {"checkpoint", R"(round \d+: writing its checkpoint)"}};
  if (secure()) {
    phases.insert(phases.begin() + 2, {{"key sharing", "keys advertised, clients share them"},
                                       {"masked upload", "keys shared, collecting masked inputs"}});
    phases.insert(phases.end() - 1, {"unmasking", "collection closed, survivors reveal shares"});
  }
  const int rounds = 3;
  const std::string config = Config(rounds, 60);

  std::unique_ptr<Process> server = StartServer(config, false, "server-0.log");
  const std::optional<std::string> port = server->WaitForLog(kPortPattern, 60s);
  ASSERT_TRUE(port) << server->Log();
  FixPort(config, *port);
  std::vector<std::unique_ptr<Process>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(StartClient(config, i, *port));

  for (size_t i = 0; i < phases.size(); ++i) {
    const int signal_number = i % 2 == 0 ? SIGKILL : SIGTERM;
    SCOPED_TRACE(phases[i].name + ", " + SignalName(signal_number));
    ASSERT_TRUE(server->WaitForLog(phases[i].line, 180s)) << server->Log();
    const std::vector<equifl::server::RoundRecord> before = History();
    server->Signal(signal_number);
    const int exit_code = server->Wait(60s);
    ASSERT_NE(exit_code, -1) << "the server did not end:\n" << server->Log();
    if (signal_number == SIGTERM) {
      EXPECT_EQ(exit_code, 0) << server->Log();
    }
    // Every round recorded before the fault is still there, unchanged.
    const std::vector<equifl::server::RoundRecord> after = History();
    ASSERT_GE(after.size(), before.size());
    for (size_t r = 0; r < before.size(); ++r) {
      EXPECT_EQ(after[r].round_id, before[r].round_id);
      EXPECT_EQ(after[r].contributors, before[r].contributors);
      EXPECT_EQ(after[r].model_sha256, before[r].model_sha256);
    }
    ExpectConsecutive(after);
    server = StartServer(config, true, "server-" + std::to_string(i + 1) + ".log");
    ASSERT_TRUE(server->WaitForLog(kPortPattern, 60s)) << server->Log();
    EXPECT_THAT(server->Log(), HasSubstr("after round " + std::to_string(after.size())));
  }
  for (auto& client : clients) EXPECT_EQ(client->Wait(300s), 0) << client->Log();
  ASSERT_EQ(server->Wait(60s), 0) << server->Log();
  const std::vector<equifl::server::RoundRecord> recorded = History();
  ASSERT_EQ(recorded.size(), static_cast<size_t>(rounds) + 1);  // and the final evaluation
  ExpectConsecutive(recorded);
  // The clients all lived, so a round recorded with fewer than three was partial.
  for (const equifl::server::RoundRecord& round : recorded) {
    EXPECT_EQ(round.contributors.size(), 3u) << "round " << round.round_id;
  }
}

// Signals client 2 at each phase in turn, restarting it after each. A restarted
// client may find the next round's task taken by the process it replaces and
// wait for the round after, so the run has two rounds per phase and two more.
TEST_P(FaultInjectionTest, AClientStoppedOrKilledAtEveryPhaseCostsOnlyItsUpdate) {
  std::vector<Phase> phases;
  if (secure()) {
    phases = {{"key advertisement", "round \\d+: secure aggregation: advertising keys"},
              {"key sharing", "round \\d+: secure aggregation: sharing keys"}};
  }
  phases.insert(phases.end(), {{"download", "round \\d+: downloading the model"},
                               {"train", "round \\d+: training"},
                               {"upload", "round \\d+: uploading the update"}});
  if (secure()) phases.push_back({"unmasking", "round \\d+: secure aggregation: revealing shares"});
  const int rounds = 2 * static_cast<int>(phases.size()) + 2;
  const std::string config = Config(rounds, secure() ? 12 : 8);

  std::unique_ptr<Process> server = StartServer(config, false, "server.log");
  const std::optional<std::string> port = server->WaitForLog(kPortPattern, 60s);
  ASSERT_TRUE(port) << server->Log();
  std::vector<std::unique_ptr<Process>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(StartClient(config, i, *port));

  for (size_t i = 0; i < phases.size(); ++i) {
    const int signal_number = i % 2 == 0 ? SIGKILL : SIGTERM;
    SCOPED_TRACE(phases[i].name + ", " + SignalName(signal_number));
    ASSERT_TRUE(clients[2]->WaitForLog(phases[i].line, 180s)) << clients[2]->Log() << server->Log();
    clients[2]->Signal(signal_number);
    ASSERT_NE(clients[2]->Wait(60s), -1) << clients[2]->Log();
    clients[2] = StartClient(config, 2, *port, "client-2-" + std::to_string(i + 1) + ".log");
  }
  for (auto& client : clients) EXPECT_EQ(client->Wait(300s), 0) << client->Log();
  ASSERT_EQ(server->Wait(60s), 0) << server->Log();
  const std::vector<equifl::server::RoundRecord> recorded = History();
  ASSERT_EQ(recorded.size(), static_cast<size_t>(rounds) + 1);
  ExpectConsecutive(recorded);
  for (const equifl::server::RoundRecord& round : recorded) {
    // Never fewer than the two clients that were not signalled.
    EXPECT_GE(round.contributors.size(), 2u) << "round " << round.round_id;
  }
  // The restarted client took part again.
  EXPECT_THAT(recorded.back().contributors, ::testing::Contains("client-2"));
}

INSTANTIATE_TEST_SUITE_P(Modes, FaultInjectionTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("Secure") : std::string("Plain");
                         });

}  // namespace
