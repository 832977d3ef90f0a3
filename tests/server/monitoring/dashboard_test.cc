// The dashboard's routes on 127.0.0.1: the embedded page, the API, /metrics, 404s.
#include "server/monitoring/dashboard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/server/monitoring/http_get.h"
#include "tests/testing/status_matchers.h"

namespace equifl::server::monitoring {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    monitor_.OnRunStarted("run-dashboard", 0);
    absl::StatusOr<std::unique_ptr<HttpServer>> server =
        ServeDashboard(Options("127.0.0.1:0"), monitor_);
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
  }
  HttpReply Get(const std::string& target) {
    HttpCall call;
    call.port = server_->port();
    call.target = target;
    return Call(call);
  }

  RunMonitor monitor_{RunDescription{}};
  std::unique_ptr<HttpServer> server_;
};

TEST_F(DashboardTest, ServesTheEmbeddedPage) {
  const HttpReply page = Get("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.Header("content-type"), "text/html; charset=utf-8");
  EXPECT_THAT(page.body, HasSubstr("<script src=\"app.js\""));
  EXPECT_THAT(page.body, HasSubstr("id=\"gap-table\""));
  // Self-contained: nothing loaded from elsewhere.
  EXPECT_THAT(page.body, ::testing::Not(HasSubstr("http")));
  const HttpReply script = Get("/app.js");
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.Header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_THAT(script.body, HasSubstr("/api/run"));
  EXPECT_THAT(script.body, ::testing::Not(HasSubstr("innerHTML")));
  EXPECT_EQ(Get("/app.css").headers["content-type"], "text/css; charset=utf-8");
  EXPECT_EQ(Get("/index.html?x=1").status, 200);
}

TEST_F(DashboardTest, ServesTheApiAndMetrics) {
  const HttpReply run = Get("/api/run");
  EXPECT_EQ(run.status, 200);
  EXPECT_EQ(run.Header("content-type"), "application/json");
  EXPECT_THAT(run.body, HasSubstr("\"run_id\":\"run-dashboard\""));
  const HttpReply metrics = Get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(metrics.body, HasSubstr("# TYPE equifl_rounds_completed_total counter"));
}

TEST_F(DashboardTest, AnyOtherPathIsNotFound) {
  for (const char* path : {"/nope", "/api/nope", "/api/", "/../app.js", "/..%2fapp.js", "//",
                           "/app.js/", "/metrics/x", "/index.htm", "*"}) {
    const HttpReply reply = Get(path);
    EXPECT_EQ(reply.status, 404) << path;
    EXPECT_THAT(reply.Header("content-security-policy"), HasSubstr("default-src 'none'"));
  }
}

TEST(MetricsEndpointTest, ServesOnlyMetrics) {
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      ServeMetrics(Options("127.0.0.1:0"), [] { return std::string("# metrics\n"); });
  ASSERT_THAT(server, IsOk());
  HttpCall call;
  call.port = (*server)->port();
  call.target = "/metrics";
  EXPECT_EQ(Call(call).body, "# metrics\n");
  call.target = "/";
  EXPECT_EQ(Call(call).status, 404);
}

}  // namespace
}  // namespace equifl::server::monitoring
