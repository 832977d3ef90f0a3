// The aggregator behind mutual TLS on 127.0.0.1: who may connect, and which
// client ids a certificate may act as.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>

#include "protocol/tensor_stream.h"
#include "protocol/transport_security.h"
#include "server/aggregator.h"
#include "server/certificate_authority.h"
#include "tests/server/served_aggregator.h"
#include "tests/testing/status_matchers.h"

namespace equifl::server {
namespace {

using ::equifl::test::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using namespace std::chrono_literals;

GlobalModel InitialModel() {
  static const std::vector<float> weight = {1, 2, 3, 4};
  absl::StatusOr<GlobalModel> model = GlobalModel::FromTensors(
      {{"weight", v1::DATA_TYPE_FLOAT32, {4}, std::as_bytes(std::span(weight))}});
  EXPECT_THAT(model, IsOk());
  return *std::move(model);
}

using test_support::RecordingObserver;

// One CA for the suite (key generation is cheap, but the suite reads better).
class AggregatorTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto authority = CertificateAuthority::Create(1);
    ASSERT_THAT(authority, IsOk());
    authority_ = new CertificateAuthority(*std::move(authority));
  }
  static void TearDownTestSuite() { delete authority_; }

  void Start(uint32_t min_clients) {
    const AggregatorOptions options = test_support::TestOptions("run-tls", 1, min_clients, 2s);
    auto server_certificate = authority_->IssueServerCertificate({"127.0.0.1"}, 1);
    ASSERT_THAT(server_certificate, IsOk());
    const protocol::TlsMaterial material{authority_->certificate(), server_certificate->certificate,
                                         server_certificate->private_key};
    served_.Start(options, InitialModel(), &observer_,
                  protocol::MutualTlsServerCredentials(material));
  }

  void TearDown() override { served_.Stop(); }

  // A stub dialling the server with `credentials`.
  std::unique_ptr<v1::Aggregator::Stub> Dial(
      const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
    return v1::Aggregator::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(served_.port), credentials));
  }

  // A stub presenting a client certificate named `name`, issued by `authority`.
  std::unique_ptr<v1::Aggregator::Stub> DialAs(const std::string& name,
                                               const CertificateAuthority& authority) {
    auto issued = authority.IssueClientCertificate(name, 1);
    EXPECT_THAT(issued, IsOk());
    // The server is checked against our CA; only the client's certificate varies.
    return Dial(protocol::MutualTlsChannelCredentials(
        {authority_->certificate(), issued->certificate, issued->private_key}));
  }
  std::unique_ptr<v1::Aggregator::Stub> DialAs(const std::string& name) {
    return DialAs(name, *authority_);
  }

  static grpc::Status Join(v1::Aggregator::Stub& stub, const std::string& requested,
                           v1::JoinResponse& joined) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::JoinRequest request;
    request.set_requested_client_id(requested);
    return stub.Join(&context, request, &joined);
  }

  static grpc::Status Poll(v1::Aggregator::Stub& stub, const std::string& client_id,
                           v1::PollTaskResponse& response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::PollTaskRequest request;
    request.set_run_id("run-tls");
    request.set_client_id(client_id);
    return stub.PollTask(&context, request, &response);
  }

  static v1::Task AwaitTask(v1::Aggregator::Stub& stub, const std::string& client_id) {
    for (int attempt = 0; attempt < 50; ++attempt) {
      v1::PollTaskResponse response;
      EXPECT_THAT(Poll(stub, client_id, response), IsOk());
      if (response.has_task()) return response.task();
    }
    ADD_FAILURE() << client_id << " got no task";
    return {};
  }

  static grpc::Status PollMany(v1::Aggregator::Stub& stub, const std::vector<std::string>& ids) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::PollTasksRequest request;
    request.set_run_id("run-tls");
    for (const std::string& id : ids) request.add_client_ids(id);
    v1::PollTasksResponse response;
    return stub.PollTasks(&context, request, &response);
  }

  static grpc::Status Download(v1::Aggregator::Stub& stub, const v1::Task& task,
                               const std::string& client_id) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::DownloadModelRequest request;
    *request.mutable_round() = task.round();
    request.set_client_id(client_id);
    request.set_model_version(task.model_version());
    auto reader = stub.DownloadModel(&context, request);
    v1::DownloadModelResponse message;
    while (reader->Read(&message)) {
    }
    return reader->Finish();
  }

  // Uploads a zero update as `client_id`; the call's status, `response` its answer.
  static grpc::Status Upload(v1::Aggregator::Stub& stub, const v1::Task& task,
                             const std::string& client_id, v1::UploadUpdateResponse& response) {
    GlobalModel layout = InitialModel();
    absl::StatusOr<protocol::ChunkEncoder> encoder =
        protocol::ChunkEncoder::Create(layout.Views(), {});
    EXPECT_THAT(encoder, IsOk());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    auto writer = stub.UploadUpdate(&context, &response);
    v1::UpdateHeader header;
    header.set_client_id(client_id);
    header.set_num_train_samples(1);
    (void)protocol::WriteUpdateStream(task.round(), header, *encoder, *writer);
    writer->WritesDone();
    return writer->Finish();
  }

  static CertificateAuthority* authority_;
  RecordingObserver observer_;
  test_support::ServedAggregator served_;
};
CertificateAuthority* AggregatorTlsTest::authority_ = nullptr;

TEST_F(AggregatorTlsTest, AClientIsTheIdOfItsCertificateWhateverItAsksFor) {
  Start(1);
  auto alice = DialAs("alice");
  v1::JoinResponse joined;
  ASSERT_THAT(Join(*alice, "mallory", joined), IsOk());
  EXPECT_EQ(joined.client_id(), "alice");
  const v1::Task task = AwaitTask(*alice, "alice");
  EXPECT_THAT(Download(*alice, task, "alice"), IsOk());
  v1::UploadUpdateResponse response;
  ASSERT_THAT(Upload(*alice, task, "alice", response), IsOk());
  EXPECT_TRUE(response.accepted()) << response.message();
  ASSERT_THAT(served_.run.get(), IsOk());
  ASSERT_EQ(observer_.summaries.size(), 1u);
  EXPECT_THAT(observer_.summaries[0].contributors, ElementsAre("alice"));
}

// No certificate, plaintext, or a certificate of another CA: the handshake fails,
// so the call never reaches Join. The round then selects only the one client that
// did join.
TEST_F(AggregatorTlsTest, AClientWithoutACertificateOfTheCaCannotConnect) {
  Start(1);
  auto other = CertificateAuthority::Create(1);
  ASSERT_THAT(other, IsOk());
  grpc::SslCredentialsOptions server_only;
  server_only.pem_root_certs = authority_->certificate();
  std::vector<std::unique_ptr<v1::Aggregator::Stub>> refused;
  refused.push_back(Dial(grpc::SslCredentials(server_only)));
  refused.push_back(Dial(grpc::InsecureChannelCredentials()));
  refused.push_back(DialAs("eve", *other));
  for (auto& stub : refused) {
    v1::JoinResponse joined;
    const grpc::Status status = Join(*stub, "eve", joined);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    EXPECT_TRUE(joined.client_id().empty());
  }
  auto alice = DialAs("alice");
  v1::JoinResponse joined;
  ASSERT_THAT(Join(*alice, "", joined), IsOk());
  const v1::Task task = AwaitTask(*alice, "alice");
  v1::UploadUpdateResponse response;
  ASSERT_THAT(Upload(*alice, task, "alice", response), IsOk());
  ASSERT_THAT(served_.run.get(), IsOk());
  ASSERT_EQ(observer_.summaries.size(), 1u);
  EXPECT_THAT(observer_.summaries[0].selected, ElementsAre("alice"));
}

TEST_F(AggregatorTlsTest, ACertificateCannotActAsAnotherClient) {
  Start(2);
  auto alice = DialAs("alice");
  auto bob = DialAs("bob");
  v1::JoinResponse joined;
  ASSERT_THAT(Join(*alice, "", joined), IsOk());
  ASSERT_THAT(Join(*bob, "", joined), IsOk());
  std::future<v1::Task> bob_task =
      std::async(std::launch::async, [&] { return AwaitTask(*bob, "bob"); });
  const v1::Task task = AwaitTask(*alice, "alice");
  bob_task.get();

  const auto expect_denied = [](const grpc::Status& status, const char* call) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << call;
    EXPECT_THAT(status.error_message(),
                HasSubstr("the client certificate is for 'alice'; it cannot act as 'bob'"))
        << call;
  };
  v1::PollTaskResponse polled;
  expect_denied(Poll(*alice, "bob", polled), "PollTask");
  expect_denied(PollMany(*alice, {"alice", "bob"}), "PollTasks");
  expect_denied(Download(*alice, task, "bob"), "DownloadModel");
  v1::UploadUpdateResponse response;
  expect_denied(Upload(*alice, task, "bob", response), "UploadUpdate");
  EXPECT_FALSE(response.accepted());

  // Bob's own update still counts: the forged one was not taken for his.
  ASSERT_THAT(Upload(*bob, task, "bob", response), IsOk());
  EXPECT_TRUE(response.accepted()) << response.message();
  ASSERT_THAT(Upload(*alice, task, "alice", response), IsOk());
  EXPECT_TRUE(response.accepted()) << response.message();
  ASSERT_THAT(served_.run.get(), IsOk());
  ASSERT_EQ(observer_.summaries.size(), 1u);
  EXPECT_THAT(observer_.summaries[0].contributors, UnorderedElementsAre("alice", "bob"));
}

TEST_F(AggregatorTlsTest, AWorkerCertificateActsOnlyForIdsWithItsPrefix) {
  Start(2);
  auto worker = DialAs("client-*");
  v1::JoinResponse joined;
  ASSERT_THAT(Join(*worker, "client-7", joined), IsOk());
  EXPECT_EQ(joined.client_id(), "client-7");
  for (const char* requested : {"mallory", ""}) {
    const grpc::Status status = Join(*worker, requested, joined);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << requested;
    EXPECT_THAT(status.error_message(), HasSubstr("cannot join as '" + std::string(requested)));
  }
  const grpc::Status status = PollMany(*worker, {"client-7", "mallory"});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("cannot act as 'mallory'"));
  EXPECT_THAT(PollMany(*worker, {"client-7"}), IsOk());
}

// gRPC 1.51 cannot pin the version; what it negotiates between two OpenSSL 3
// peers is TLS 1.3. A plain OpenSSL client with a client certificate shows it.
TEST_F(AggregatorTlsTest, TheHandshakeIsTls13) {
  Start(1);
  auto issued = authority_->IssueClientCertificate("alice", 1);
  ASSERT_THAT(issued, IsOk());
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_client_method()),
                                                            SSL_CTX_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> certificate_text(
      BIO_new_mem_buf(issued->certificate.data(), -1), BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> key_text(
      BIO_new_mem_buf(issued->private_key.data(), -1), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> certificate(
      PEM_read_bio_X509(certificate_text.get(), nullptr, nullptr, nullptr), X509_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_text.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  ASSERT_EQ(SSL_CTX_use_certificate(context.get(), certificate.get()), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey(context.get(), key.get()), 1);
  static const unsigned char kHttp2[] = {2, 'h', '2'};
  ASSERT_EQ(SSL_CTX_set_alpn_protos(context.get(), kHttp2, sizeof kHttp2), 0);

  const int descriptor = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(descriptor, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(served_.port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};
  ::setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ASSERT_EQ(::connect(descriptor, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  std::unique_ptr<SSL, decltype(&SSL_free)> connection(SSL_new(context.get()), SSL_free);
  SSL_set_fd(connection.get(), descriptor);
  EXPECT_EQ(SSL_connect(connection.get()), 1);
  EXPECT_EQ(SSL_version(connection.get()), TLS1_3_VERSION) << SSL_get_version(connection.get());
  SSL_shutdown(connection.get());
  ::close(descriptor);
}

}  // namespace
}  // namespace equifl::server
