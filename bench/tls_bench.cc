// What mutual TLS costs on 127.0.0.1, against plaintext in the same run: making
// the certificates, a fresh connection up to its first Join (TCP, the TLS
// handshake with both certificates, the RPC), a Join on a warm connection, and a
// model download through the real aggregator service.
//
//   equifl_tls_bench [--connections N] [--parameters N]
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "protocol/tensor_stream.h"
#include "protocol/transport_security.h"
#include "server/aggregator.h"
#include "server/certificate_authority.h"

namespace {

namespace v1 = equifl::v1;
using equifl::server::CertificateAuthority;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double Percentile90(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() * 9 / 10];
}

struct Transport {
  const char* name;
  std::shared_ptr<grpc::ServerCredentials> server;
  std::shared_ptr<grpc::ChannelCredentials> client;
};

bool JoinOnce(v1::Aggregator::Stub& stub) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::JoinRequest request;
  request.set_requested_client_id("bench");
  v1::JoinResponse response;
  return stub.Join(&context, request, &response).ok();
}

// Downloads the model once; false on any error.
bool DownloadOnce(v1::Aggregator::Stub& stub, std::vector<float>& values,
                  equifl::server::GlobalModel& layout) {
  grpc::ClientContext context;
  v1::DownloadModelRequest request;
  request.mutable_round()->set_run_id("run-bench");
  request.set_client_id("bench");
  auto reader = stub.DownloadModel(&context, request);
  absl::StatusOr<v1::TensorManifest> manifest = equifl::protocol::ReadModelStream(
      request.round(), *reader,
      [&](const v1::TensorManifest&) { return layout.MutableViewsOver(values); });
  return manifest.ok() && reader->Finish().ok();
}

}  // namespace

int main(int argc, char** argv) {
  int connections = 200;
  uint64_t parameters = 25'000'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--connections") connections = std::stoi(argv[i + 1]);
    if (flag == "--parameters") parameters = std::stoull(argv[i + 1]);
  }

  // Certificates: a CA, a server certificate and 100 client certificates.
  const auto made = Clock::now();
  auto authority = CertificateAuthority::Create(1);
  auto server_certificate = authority->IssueServerCertificate({"127.0.0.1"}, 1);
  const double ca_and_server = Seconds(made);
  const auto clients_made = Clock::now();
  absl::StatusOr<equifl::server::IssuedCertificate> client_certificate;
  for (int i = 0; i < 100; ++i) client_certificate = authority->IssueClientCertificate("bench", 1);
  const double per_client = Seconds(clients_made) / 100;
  if (!authority.ok() || !server_certificate.ok() || !client_certificate.ok()) {
    std::fprintf(stderr, "cannot make the certificates\n");
    return 1;
  }
  std::printf("certificates: CA + server certificate %.2f ms, a client certificate %.2f ms\n",
              ca_and_server * 1e3, per_client * 1e3);

  const equifl::protocol::TlsMaterial server_material{
      authority->certificate(), server_certificate->certificate, server_certificate->private_key};
  const equifl::protocol::TlsMaterial client_material{
      authority->certificate(), client_certificate->certificate, client_certificate->private_key};
  const std::vector<Transport> transports = {
      {"plaintext", grpc::InsecureServerCredentials(), grpc::InsecureChannelCredentials()},
      {"mutual TLS", equifl::protocol::MutualTlsServerCredentials(server_material),
       equifl::protocol::MutualTlsChannelCredentials(client_material)}};

  std::vector<float> weights(parameters, 0.5f);
  auto model = equifl::server::GlobalModel::FromTensors({{"weights",
                                                          v1::DATA_TYPE_FLOAT32,
                                                          {static_cast<int64_t>(parameters)},
                                                          std::as_bytes(std::span(weights))}});
  equifl::server::AggregatorOptions options;
  options.run_id = "run-bench";
  auto optimizer = equifl::aggregation::ServerOptimizer::Create(options.optimizer, parameters);
  auto aggregator =
      equifl::server::Aggregator::Create(options, *model, *std::move(optimizer), 0, nullptr);
  if (!aggregator.ok()) {
    std::fprintf(stderr, "%s\n", std::string(aggregator.status().message()).c_str());
    return 1;
  }
  std::printf("%-11s %22s %22s %18s %22s\n", "transport", "new connection + Join", "(p90)",
              "Join, warm", "download");
  for (const Transport& transport : transports) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", transport.server, &port);
    builder.SetMaxReceiveMessageSize(64 << 20);
    builder.RegisterService(aggregator->get());
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    const std::string address = "127.0.0.1:" + std::to_string(port);
    std::vector<double> fresh;
    for (int i = 0; i < connections; ++i) {
      // A channel of its own each time: arguments that differ keep gRPC from sharing
      // one subchannel (and its handshake) between them.
      grpc::ChannelArguments arguments;
      arguments.SetInt("equifl.bench.connection", i);
      const auto start = Clock::now();
      auto stub =
          v1::Aggregator::NewStub(grpc::CreateCustomChannel(address, transport.client, arguments));
      if (!JoinOnce(*stub)) {
        std::fprintf(stderr, "%s: Join failed\n", transport.name);
        return 1;
      }
      fresh.push_back(Seconds(start));
    }
    auto stub = v1::Aggregator::NewStub(grpc::CreateChannel(address, transport.client));
    JoinOnce(*stub);
    std::vector<double> warm;
    for (int i = 0; i < connections; ++i) {
      const auto start = Clock::now();
      JoinOnce(*stub);
      warm.push_back(Seconds(start));
    }
    grpc::ChannelArguments large;
    large.SetMaxReceiveMessageSize(64 << 20);
    auto downloader =
        v1::Aggregator::NewStub(grpc::CreateCustomChannel(address, transport.client, large));
    std::vector<float> received(parameters);
    equifl::server::GlobalModel layout = *model;
    double best = 1e9;
    for (int attempt = 0; attempt < 3; ++attempt) {
      const auto start = Clock::now();
      if (!DownloadOnce(*downloader, received, layout)) {
        std::fprintf(stderr, "%s: download failed\n", transport.name);
        return 1;
      }
      best = std::min(best, Seconds(start));
    }
    std::printf("%-11s %19.2f ms %19.2f ms %15.3f ms %13.2f GB/s (%.0f MB)\n", transport.name,
                Median(fresh) * 1e3, Percentile90(fresh) * 1e3, Median(warm) * 1e3,
                parameters * 4 / best / 1e9, parameters * 4 / 1e6);
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  return 0;
}
