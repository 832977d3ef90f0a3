// The monitoring HTTP server on real sockets: 127.0.0.1 (open), 127.0.0.2 (a
// stand-in for any non-loopback address: it must ask for credentials), HTTPS
// with client certificates, bounded requests and connections.
#include "server/monitoring/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "server/certificate_authority.h"
#include "tests/server/monitoring/http_get.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::server::monitoring {
namespace {

using ::equifl::test::IsOk;
using ::equifl::test::StatusIs;
using ::testing::HasSubstr;

constexpr char kToken[] = "0123456789abcdef0123456789abcdef";

HttpHandler Echo() {
  return [](const HttpRequest& request) {
    return HttpResponse{200, "text/plain; charset=utf-8", "path " + request.path};
  };
}

std::unique_ptr<HttpServer> Serve(const HttpServerOptions& options) {
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(options, Echo());
  EXPECT_THAT(server, IsOk());
  return server.ok() ? *std::move(server) : nullptr;
}

HttpCall Get(const HttpServer& server, const std::string& host, const std::string& target) {
  HttpCall call;
  call.host = host;
  call.port = server.port();
  call.target = target;
  return call;
}

TEST(HttpServerTest, LoopbackAnswersWithoutCredentialsAndWithRestrictiveHeaders) {
  auto server = Serve(Options("127.0.0.1:0"));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->url(), "http://127.0.0.1:" + std::to_string(server->port()) + "/");
  EXPECT_THAT(server->access(), HasSubstr("loopback only"));
  const HttpReply reply = Call(Get(*server, "127.0.0.1", "/api/run?x=1"));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "path /api/run");
  EXPECT_THAT(reply.Header("content-security-policy"), HasSubstr("default-src 'none'"));
  EXPECT_THAT(reply.Header("content-security-policy"), HasSubstr("frame-ancestors 'none'"));
  EXPECT_EQ(reply.Header("x-content-type-options"), "nosniff");
  EXPECT_EQ(reply.Header("cache-control"), "no-store");
}

TEST(HttpServerTest, OnlyGetIsServed) {
  auto server = Serve(Options("127.0.0.1:0"));
  ASSERT_NE(server, nullptr);
  HttpCall call = Get(*server, "127.0.0.1", "/");
  call.method = "POST";
  const HttpReply reply = Call(call);
  EXPECT_EQ(reply.status, 405);
  EXPECT_EQ(reply.Header("allow"), "GET");
}

TEST(HttpServerTest, AnOversizedRequestIsRefusedAndTheServerGoesOn) {
  auto server = Serve(Options("127.0.0.1:0"));
  ASSERT_NE(server, nullptr);
  HttpCall call = Get(*server, "127.0.0.1", "/");
  call.headers["X-Padding"] = std::string(20000, 'a');
  EXPECT_EQ(Call(call).status, 431);
  EXPECT_EQ(Call(Get(*server, "127.0.0.1", "/")).status, 200);
}

TEST(HttpServerTest, ABadAddressIsAnError) {
  EXPECT_THAT(HttpServer::Start(Options("no-port"), Echo()),
              StatusIs(absl::StatusCode::kInvalidArgument, "host:port"));
  EXPECT_THAT(HttpServer::Start(Options("127.0.0.1:70000"), Echo()),
              StatusIs(absl::StatusCode::kInvalidArgument, "port"));
}

TEST(HttpServerTest, AnotherAddressWithoutTokenOrCertificatesRefusesToStart) {
  EXPECT_THAT(HttpServer::Start(Options("127.0.0.2:0"), Echo()),
              StatusIs(absl::StatusCode::kInvalidArgument, "--http-token-file"));
}

TEST(HttpServerTest, AnotherAddressNeedsTheToken) {
  auto server = Serve(Options("127.0.0.2:0", kToken));
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(server->access(), HasSubstr("the access token"));
  const HttpReply refused = Call(Get(*server, "127.0.0.2", "/metrics"));
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.Header("www-authenticate"), "Bearer");
  EXPECT_THAT(refused.Header("content-security-policy"), HasSubstr("default-src 'none'"));

  HttpCall wrong = Get(*server, "127.0.0.2", "/metrics");
  wrong.headers["Authorization"] = "Bearer 0123456789abcdef0123456789abcdeX";
  EXPECT_EQ(Call(wrong).status, 401);
  HttpCall bearer = Get(*server, "127.0.0.2", "/metrics");
  bearer.headers["Authorization"] = std::string("Bearer ") + kToken;
  EXPECT_EQ(Call(bearer).status, 200);

  // The page's first request carries ?token=; its own requests then carry the cookie.
  const HttpReply page = Call(Get(*server, "127.0.0.2", std::string("/?token=") + kToken));
  EXPECT_EQ(page.status, 200);
  EXPECT_THAT(page.Header("set-cookie"), HasSubstr("HttpOnly"));
  EXPECT_THAT(page.Header("set-cookie"), HasSubstr("SameSite=Strict"));
  HttpCall cookie = Get(*server, "127.0.0.2", "/api/run");
  cookie.headers["Cookie"] = "other=1; equifl_token=" + std::string(kToken);
  EXPECT_EQ(Call(cookie).status, 200);
  HttpCall bad_cookie = Get(*server, "127.0.0.2", "/api/run");
  bad_cookie.headers["Cookie"] = "equifl_token=guess";
  EXPECT_EQ(Call(bad_cookie).status, 401);
}

TEST(HttpServerTest, ATokenIsAskedForOnLoopbackToo) {
  auto server = Serve(Options("127.0.0.1:0", kToken));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(Call(Get(*server, "127.0.0.1", "/")).status, 401);
}

class HttpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<CertificateAuthority> authority = CertificateAuthority::Create(2);
    absl::StatusOr<CertificateAuthority> foreign = CertificateAuthority::Create(2);
    ASSERT_THAT(authority, IsOk());
    ASSERT_THAT(foreign, IsOk());
    absl::StatusOr<IssuedCertificate> server = authority->IssueServerCertificate({"127.0.0.2"}, 2);
    absl::StatusOr<IssuedCertificate> client = authority->IssueClientCertificate("client-1", 2);
    absl::StatusOr<IssuedCertificate> stranger = foreign->IssueClientCertificate("client-1", 2);
    ASSERT_THAT(server, IsOk());
    ASSERT_THAT(client, IsOk());
    ASSERT_THAT(stranger, IsOk());
    Write("ca.pem", authority->certificate());
    Write("server.pem", server->certificate);
    Write("server.key", server->private_key);
    Write("client.pem", client->certificate);
    Write("client.key", client->private_key);
    Write("stranger.pem", stranger->certificate);
    Write("stranger.key", stranger->private_key);
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(Path(name)) << text;
  }
  std::string Path(const std::string& name) const { return (folder_.path() / name).string(); }

  HttpServerOptions Https() const {
    HttpServerOptions options = Options("127.0.0.2:0");
    options.certificate_file = Path("server.pem");
    options.private_key_file = Path("server.key");
    options.client_ca_file = Path("ca.pem");
    return options;
  }

  HttpCall Secure(const HttpServer& server, const std::string& certificate) const {
    HttpCall call = Get(server, "127.0.0.2", "/metrics");
    call.tls = true;
    call.ca_file = Path("ca.pem");
    if (!certificate.empty()) {
      call.certificate_file = Path(certificate + ".pem");
      call.private_key_file = Path(certificate + ".key");
    }
    return call;
  }

  const test::TemporaryFolder folder_{"https"};
};

TEST_F(HttpsTest, LetsInClientCertificatesOfTheCaOnly) {
  auto server = Serve(Https());
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->url().substr(0, 8), "https://");
  EXPECT_THAT(server->access(), HasSubstr("client certificate"));
  EXPECT_EQ(Call(Secure(*server, "client")).status, 200);
  EXPECT_EQ(Call(Secure(*server, "")).status, 401);
  // A certificate of another CA fails the handshake: no answer at all.
  EXPECT_EQ(Call(Secure(*server, "stranger")).status, 0);
  // Plain HTTP on the HTTPS port gets no answer either.
  EXPECT_EQ(Call(Get(*server, "127.0.0.2", "/metrics")).status, 0);
}

TEST_F(HttpsTest, ABadCertificateFileIsAnError) {
  HttpServerOptions options = Https();
  options.certificate_file = Path("missing.pem");
  EXPECT_THAT(HttpServer::Start(options, Echo()),
              StatusIs(absl::StatusCode::kInvalidArgument, "cannot serve HTTP"));
}

TEST(HttpServerTest, ConnectionsOverTheLimitAreClosed) {
  HttpServerOptions options = Options("127.0.0.1:0");
  options.max_connections = 2;
  auto server = Serve(options);
  ASSERT_NE(server, nullptr);
  boost::asio::io_context io;
  const boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                static_cast<uint16_t>(server->port()));
  {
    boost::asio::ip::tcp::socket first(io);
    boost::asio::ip::tcp::socket second(io);
    first.connect(endpoint);
    second.connect(endpoint);
    // Let the server accept both idle connections.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(Call(Get(*server, "127.0.0.1", "/")).status, 0);
  }
  // Closed: their slots come back once the server sees them go.
  int status = 0;
  for (int attempt = 0; attempt < 50 && status != 200; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = Call(Get(*server, "127.0.0.1", "/")).status;
  }
  EXPECT_EQ(status, 200);
}

}  // namespace
}  // namespace equifl::server::monitoring
