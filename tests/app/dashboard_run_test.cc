// The live dashboard and /metrics of a real federation: `equifl server --http
// 127.0.0.1:0` and two `equifl client --metrics` processes over mutual TLS. The page
// is rendered by headless Chromium (Debian's chromium), whose DOM must show the round
// counter advancing and the gap table's cells; /metrics is scraped twice and read by
// Python's prometheus_client, an independent parser of the text format.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>

#include "tests/testing/process.h"
#include "tests/testing/prometheus_text.h"
#include "tests/testing/temporary_folder.h"

namespace {

using ::equifl::test::CommandOutcome;
using ::equifl::test::Process;
using ::equifl::test::ReadFile;
using ::equifl::test::RunShell;
using ::equifl::test::TemporaryFolder;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

class DashboardRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Process synth({EQUIFL_BINARY, "data", "synth", "--out", Path("data"), "--clients", "2",
                   "--samples-per-client", "240", "--seed", "3", "--bayes-samples", "0"},
                  folder_ / "synth.log");
    ASSERT_EQ(synth.Wait(60s), 0) << synth.Log();
    // 127.0.0.2 stands for an address other than loopback's own.
    Process certs({EQUIFL_BINARY, "certs", "--out", Path("certs"), "--clients", "client-0,client-1",
                   "--server-names", "127.0.0.1,127.0.0.2"},
                  folder_ / "certs.log");
    ASSERT_EQ(certs.Wait(60s), 0) << certs.Log();
    // Enough rounds that the run is still going when the test has seen what it needs.
    std::ofstream(folder_ / "run.yaml")
        << "server:\n  address: 127.0.0.1:0\n  run_dir: " << Path("run")
        << "\n  rounds: 40\n  min_clients: 2\n  round_deadline_seconds: 60\n"
        << "training:\n  epochs: 1\n  batch_size: 32\n  device: cpu\n"
        << "model:\n  hidden_size: 16\n  attention_heads: 2\n";
  }

  std::string Path(const std::string& name) const { return (folder_ / name).string(); }

  std::unique_ptr<Process> StartClient(int index, const std::string& port,
                                       const std::string& metrics) {
    const std::string id = "client-" + std::to_string(index);
    return std::make_unique<Process>(
        std::vector<std::string>{EQUIFL_BINARY, "--config", Path("run.yaml"), "client", "--shard",
                                 Path("data/client-00" + std::to_string(index)), "--server",
                                 "127.0.0.1:" + port, "--certs", Path("certs/clients/" + id),
                                 "--metrics", metrics},
        folder_ / (id + ".log"));
  }

  // The page after its scripts ran for a few seconds of virtual time.
  std::string RenderedPage(const std::string& url, const std::string& name) {
    const CommandOutcome chromium =
        RunShell(std::string(EQUIFL_CHROMIUM) +
                 " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
                 " --disable-background-networking --disable-component-update --disable-sync"
                 " --user-data-dir=" +
                 Path("chromium-" + name) + " --virtual-time-budget=5000 --dump-dom " + url);
    EXPECT_EQ(chromium.exit_code, 0) << chromium.err;
    return chromium.out;
  }

  // Every sample of /metrics, read by prometheus_client.
  std::map<std::string, double> Scrape(const std::string& url, const std::string& name) {
    const CommandOutcome fetched =
        RunShell("curl -sS --max-time 10 -o " + Path(name + ".txt") + " " + url + "metrics");
    EXPECT_EQ(fetched.exit_code, 0) << fetched.output;
    return equifl::test::ParsePrometheusText(EQUIFL_PYTHON, ReadFile(Path(name + ".txt")));
  }

  static int Number(const std::string& page, const std::string& id) {
    std::smatch match;
    const std::regex element("id=\"" + id + "\">(\\d+)<");
    return std::regex_search(page, match, element) ? std::stoi(match[1]) : -1;
  }

  const TemporaryFolder temporary_{"dashboard"};
  const std::filesystem::path& folder_ = temporary_.path();
};

TEST_F(DashboardRunTest, ThePageAndMetricsFollowTheRun) {
  if (std::string(EQUIFL_CHROMIUM).empty()) {
    GTEST_SKIP() << "Chromium is not installed (deploy/install-deps.sh installs it)";
  }
  Process server(
      {EQUIFL_BINARY, "--config", Path("run.yaml"), "server", "--certs", Path("certs/server"),
       // A port alone binds loopback.
       "--schema", Path("data/client-000"), "--http", "0"},
      folder_ / "server.log");
  const std::optional<std::string> port =
      server.WaitForLog(R"(listening on 127\.0\.0\.1:(\d+))", 60s);
  ASSERT_TRUE(port) << server.Log();
  const std::optional<std::string> http =
      server.WaitForLog(R"(dashboard at (http://127\.0\.0\.1:\d+/))", 10s);
  ASSERT_TRUE(http) << server.Log();

  const std::string before = RenderedPage(*http, "before");
  EXPECT_THAT(before, HasSubstr("waiting for clients"));
  EXPECT_EQ(Number(before, "round-current"), 0) << before;
  EXPECT_EQ(Number(before, "rounds-total"), 41) << before;

  auto client0 = StartClient(0, *port, "127.0.0.1:0");
  auto client1 = StartClient(1, *port, "127.0.0.1:0");
  ASSERT_TRUE(server.WaitForLog("round 2: open", 180s)) << server.Log();
  const std::map<std::string, double> first = Scrape(*http, "first");
  ASSERT_TRUE(server.WaitForLog("round 4: open", 180s)) << server.Log();
  const std::map<std::string, double> second = Scrape(*http, "second");
  EXPECT_GE(first.at("equifl_rounds_completed_total{}"), 1);
  EXPECT_GT(second.at("equifl_rounds_completed_total{}"),
            first.at("equifl_rounds_completed_total{}"));
  EXPECT_GT(second.at("equifl_updates_accepted_total{}"),
            first.at("equifl_updates_accepted_total{}"));
  EXPECT_GT(second.at("equifl_received_bytes_total{}"), first.at("equifl_received_bytes_total{}"));
  EXPECT_EQ(second.at("equifl_clients_joined{}"), 2);
  EXPECT_GT(second.at("equifl_rpc_duration_seconds_count{method=\"UploadUpdate\"}"), 0);

  const std::string during = RenderedPage(*http, "during");
  EXPECT_GE(Number(during, "round-current"), 4) << during;
  EXPECT_GE(Number(during, "rounds-completed"), 3) << during;
  EXPECT_THAT(during, HasSubstr("training"));
  // The gap table has a row per cell, each marked with its cell.
  EXPECT_TRUE(std::regex_search(during, std::regex(R"(<tr data-cell="[^"]*/fusion/">)"))) << during;
  EXPECT_THAT(during, HasSubstr("client-0"));
  // The loss-gap bound against its floor, under the bound's verdict.
  EXPECT_TRUE(std::regex_search(
      during, std::regex(R"(<p id="fairness-floor">Against the gap's floor: \w)")))
      << during;
  // The model selection has chosen so far (round 2 on judges the model before it).
  EXPECT_TRUE(std::regex_search(
      during, std::regex(R"(<p id="fairness-chosen">Model chosen so far: round \d+'s model)")))
      << during;

  // Each client serves its own metrics.
  const std::optional<std::string> client_metrics =
      client0->WaitForLog(R"(metrics at (http://127\.0\.0\.1:\d+/)metrics)", 10s);
  ASSERT_TRUE(client_metrics) << client0->Log();
  const std::map<std::string, double> client = Scrape(*client_metrics, "client");
  EXPECT_GE(client.at("equifl_client_rounds_total{kind=\"train\"}"), 1);
  EXPECT_GT(client.at("equifl_client_samples_per_second{}"), 0);
}

TEST_F(DashboardRunTest, AnotherAddressNeedsTheTokenOrRefusesToStart) {
  const std::vector<std::string> server = {EQUIFL_BINARY, "--config",   Path("run.yaml"),
                                           "server",      "--schema",   Path("data/client-000"),
                                           "--http",      "127.0.0.2:0"};
  // Neither a token nor certificates: it would be open to anyone who can reach it.
  std::vector<std::string> open_to_all = server;
  open_to_all.push_back("--insecure");
  Process open(open_to_all, folder_ / "open.log");
  EXPECT_EQ(open.Wait(60s), 2) << open.Log();
  EXPECT_THAT(open.Log(), HasSubstr("--http-token-file"));
  // ... and it left no run behind.
  EXPECT_FALSE(std::filesystem::exists(folder_ / "run" / "history.db"));

  const std::string token = "5f0c2a9e61b34d7c8e1f2a3b4c5d6e7f";
  std::ofstream(Path("token")) << token << "\n";
  std::vector<std::string> guarded = server;
  guarded.insert(guarded.end(),
                 {"--certs", Path("certs/server"), "--http-token-file", Path("token")});
  // --certs makes the dashboard HTTPS with the run's certificate; curl checks it
  // against the run's CA.
  Process running(guarded, folder_ / "guarded.log");
  const std::optional<std::string> url =
      running.WaitForLog(R"(dashboard at (https://127\.0\.0\.2:\d+/))", 60s);
  ASSERT_TRUE(url) << running.Log();
  const std::string curl = "curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --cacert " +
                           Path("certs/server/ca.pem") + " ";
  EXPECT_EQ(RunShell(curl + *url + "metrics").out, "401");
  EXPECT_EQ(RunShell(curl + "-H 'Authorization: Bearer " + token + "' " + *url + "metrics").out,
            "200");
  EXPECT_EQ(RunShell(curl + "--cert " + Path("certs/clients/client-0/client.pem") + " --key " +
                     Path("certs/clients/client-0/client.key") + " " + *url + "api/run")
                .out,
            "200");
  EXPECT_EQ(RunShell(curl + "-H 'Authorization: Bearer " + token + "' " + *url + "nope").out,
            "404");
}

}  // namespace
