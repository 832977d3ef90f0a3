// What the tests of real federations share: synthetic data for three clients,
// certificates from `equifl certs`, a configuration with an ephemeral port, and
// `equifl server` and `equifl client` processes on 127.0.0.1 over mutual TLS.
#ifndef EQUIFL_TESTS_APP_FEDERATION_H_
#define EQUIFL_TESTS_APP_FEDERATION_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "server/run_history.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::test {

using namespace std::chrono_literals;

constexpr const char* kPortPattern = R"(listening on 127\.0\.0\.1:(\d+))";

class FederationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Process synth(
        {EQUIFL_BINARY, "data", "synth", "--out", (folder_ / "data").string(), "--clients", "3",
         "--samples-per-client", "360", "--seed", "7", "--bayes-samples", "0"},
        folder_ / "synth.log");
    ASSERT_EQ(synth.Wait(60s), 0) << synth.Log();
    Process certs({EQUIFL_BINARY, "certs", "--out", (folder_ / "certs").string(), "--clients",
                   "client-0,client-1,client-2,client-*"},
                  folder_ / "certs.log");
    ASSERT_EQ(certs.Wait(60s), 0) << certs.Log();
  }

  std::string Certificates(const std::string& recipient) const {
    return (folder_ / "certs" / recipient).string();
  }

  // Writes the configuration: a small model, ephemeral port, short deadline.
  std::string WriteConfig(int rounds, int deadline_seconds, const std::string& extra = "") {
    const std::filesystem::path path = folder_ / "run.yaml";
    std::ofstream(path) << "log:\n  level: info\n"
                        << "server:\n  address: 127.0.0.1:0\n  run_dir: "
                        << (folder_ / "run").string() << "\n  rounds: " << rounds
                        << "\n  min_clients: 3\n"
                        << "  round_deadline_seconds: " << deadline_seconds << "\n"
                        << "training:\n  epochs: 2\n  batch_size: 32\n  learning_rate: 0.003\n"
                        << "  device: cpu\n"
                        << "model:\n  hidden_size: 32\n  attention_heads: 2\n  dropout: 0.0\n"
                        << extra;
    return path.string();
  }

  std::unique_ptr<Process> StartServer(const std::string& config, bool resume,
                                       const std::string& log_name,
                                       const std::vector<std::string>& extra = {}) {
    std::vector<std::string> arguments = {EQUIFL_BINARY, "--config", config,
                                          "server",      "--certs",  Certificates("server")};
    arguments.insert(arguments.end(), extra.begin(), extra.end());
    if (resume) {
      arguments.push_back("--resume");
    } else {
      arguments.insert(arguments.end(), {"--schema", (folder_ / "data" / "client-000").string()});
    }
    return std::make_unique<Process>(arguments, folder_ / log_name);
  }

  std::unique_ptr<Process> StartClient(const std::string& config, int index,
                                       const std::string& port, const std::string& log_name = "") {
    const std::string shard = (folder_ / "data" / ("client-00" + std::to_string(index))).string();
    return std::make_unique<Process>(
        std::vector<std::string>{EQUIFL_BINARY, "--config", config, "client", "--shard", shard,
                                 "--server", "127.0.0.1:" + port, "--id",
                                 "client-" + std::to_string(index), "--certs",
                                 Certificates("clients/client-" + std::to_string(index))},
        folder_ / (log_name.empty() ? "client-" + std::to_string(index) + ".log" : log_name));
  }

  // Makes `config` name the port a server chose, so a resumed server listens where
  // the clients look for it.
  static void FixPort(const std::string& config, const std::string& port) {
    const std::string text = ReadFile(config);
    std::ofstream(config) << std::regex_replace(text, std::regex("127\\.0\\.0\\.1:0"),
                                                "127.0.0.1:" + port);
  }

  std::vector<equifl::server::RoundRecord> History() {
    auto history = equifl::server::RunHistory::Open((folder_ / "run" / "history.db").string(), "");
    EXPECT_THAT(history, IsOk());
    auto rounds = history->Rounds();
    EXPECT_THAT(rounds, IsOk());
    return *rounds;
  }

  const TemporaryFolder temporary_{"e2e"};
  const std::filesystem::path& folder_ = temporary_.path();
};

}  // namespace equifl::test

#endif  // EQUIFL_TESTS_APP_FEDERATION_H_
