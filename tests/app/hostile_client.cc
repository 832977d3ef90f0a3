// A client that misbehaves on purpose, for the tests that run it against a real
// `equifl server` over mutual TLS (hostile_client_test.cc). It joins with a
// client's certificate, takes the first task, and then, by --attack:
//   weight        uploads with aggregation_weight 1.7e308 (finite, absurd)
//   loss          uploads training statistics whose loss sum is +Inf
//   silent        opens two uploads, sends only their headers and stays silent
//                 for --hold seconds
//   bogus-secure  takes part in secure aggregation honestly except that its
//                 masked input carries statistics no honest client sends
// It prints each upload's answer and exits 0 when every hostile upload was
// refused (accepted uploads exit 1); an RPC that fails otherwise exits 2.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/secure_round_client.h"
#include "equifl/v1/aggregator.grpc.pb.h"
#include "protocol/chunk_encoder.h"
#include "protocol/tensor_stream.h"
#include "protocol/tensor_view.h"

namespace {

using namespace equifl;

std::string ReadText(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

struct Arguments {
  std::string server, certs, id, attack;
  int hold_seconds = 5;
};

// The first task of `id`, after joining; exits 2 when none comes.
v1::Task JoinAndPoll(v1::Aggregator::Stub& stub, const std::string& id) {
  grpc::ClientContext join_context;
  v1::JoinRequest join;
  join.set_requested_client_id(id);
  join.mutable_capabilities()->set_num_train_samples(100);
  v1::JoinResponse joined;
  if (grpc::Status status = stub.Join(&join_context, join, &joined); !status.ok()) {
    std::fprintf(stderr, "join failed: %s\n", status.error_message().c_str());
    std::exit(2);
  }
  for (int attempt = 0; attempt < 600; ++attempt) {
    grpc::ClientContext context;
    v1::PollTaskRequest poll;
    poll.set_run_id(joined.run_id());
    poll.set_client_id(id);
    v1::PollTaskResponse response;
    if (grpc::Status status = stub.PollTask(&context, poll, &response); !status.ok()) {
      std::fprintf(stderr, "poll failed: %s\n", status.error_message().c_str());
      std::exit(2);
    }
    if (response.has_task()) return response.task();
    if (response.run_finished()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::fprintf(stderr, "no task came\n");
  std::exit(2);
}

// The global model of `task`, downloaded: its tensors as the manifest names them.
struct Model {
  std::vector<std::vector<std::byte>> storage;
  std::vector<protocol::TensorView> views;
  size_t floats = 0;
};

Model Download(v1::Aggregator::Stub& stub, const v1::Task& task, const std::string& id) {
  Model model;
  grpc::ClientContext context;
  v1::DownloadModelRequest request;
  *request.mutable_round() = task.round();
  request.set_client_id(id);
  request.set_model_version(task.model_version());
  auto reader = stub.DownloadModel(&context, request);
  absl::StatusOr<v1::TensorManifest> manifest = protocol::ReadModelStream(
      task.round(), *reader,
      [&](const v1::TensorManifest& manifest)
          -> absl::StatusOr<std::vector<protocol::MutableTensorView>> {
        std::vector<protocol::MutableTensorView> destinations;
        model.storage.reserve(manifest.tensors_size());
        for (const v1::TensorSpec& tensor : manifest.tensors()) {
          const std::vector<int64_t> shape(tensor.shape().begin(), tensor.shape().end());
          absl::StatusOr<uint64_t> count = protocol::ElementCount(shape, tensor.name());
          if (!count.ok()) return count.status();
          model.storage.emplace_back(*count * protocol::ElementSize(tensor.data_type()));
          if (tensor.data_type() == v1::DATA_TYPE_FLOAT32) model.floats += *count;
          destinations.push_back(
              {tensor.name(), tensor.data_type(), shape, std::span(model.storage.back())});
          model.views.push_back({tensor.name(), tensor.data_type(), shape,
                                 std::span<const std::byte>(model.storage.back())});
        }
        return destinations;
      });
  grpc::Status finished = reader->Finish();
  if (!manifest.ok() || !finished.ok()) {
    std::fprintf(stderr, "download failed: %s %s\n",
                 std::string(manifest.status().message()).c_str(),
                 finished.error_message().c_str());
    std::exit(2);
  }
  return model;
}

v1::UpdateHeader Header(const std::string& id) {
  v1::UpdateHeader header;
  header.set_client_id(id);
  header.set_num_train_samples(100);
  v1::GroupCellStatistics& cell = *header.mutable_train_statistics()->add_cells();
  cell.set_group("female");
  cell.set_loss_sum(50);
  cell.set_loss_square_sum(30);
  cell.set_sample_count(100);
  return header;
}

// Uploads the model itself as the update with `header`; true when accepted.
bool Upload(v1::Aggregator::Stub& stub, const v1::Task& task, const Model& model,
            const v1::UpdateHeader& header) {
  absl::StatusOr<protocol::ChunkEncoder> encoder = protocol::ChunkEncoder::Create(model.views, {});
  if (!encoder.ok()) std::exit(2);
  grpc::ClientContext context;
  v1::UploadUpdateResponse response;
  auto writer = stub.UploadUpdate(&context, &response);
  (void)protocol::WriteUpdateStream(task.round(), header, *encoder, *writer);
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  std::printf("upload: %s %s\n", response.accepted() ? "accepted" : "refused",
              status.ok() ? response.message().c_str() : status.error_message().c_str());
  return response.accepted();
}

int Silent(v1::Aggregator::Stub& stub, const v1::Task& task, const Model& model,
           const Arguments& arguments) {
  absl::StatusOr<protocol::ChunkEncoder> encoder = protocol::ChunkEncoder::Create(model.views, {});
  if (!encoder.ok()) return 2;
  v1::UploadUpdateRequest opening;
  *opening.mutable_round() = task.round();
  *opening.mutable_header() = Header(arguments.id);
  *opening.mutable_header()->mutable_update() = encoder->manifest();
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<v1::UploadUpdateResponse> responses(2);
  std::vector<std::unique_ptr<grpc::ClientWriter<v1::UploadUpdateRequest>>> writers;
  for (int stream = 0; stream < 2; ++stream) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    writers.push_back(stub.UploadUpdate(contexts.back().get(), &responses[stream]));
    writers.back()->Write(opening);
  }
  std::printf("holding two uploads for %d s\n", arguments.hold_seconds);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(arguments.hold_seconds));
  for (int stream = 0; stream < 2; ++stream) {
    const grpc::Status status = writers[stream]->Finish();
    std::printf("upload %d: %s\n", stream,
                status.ok() ? responses[stream].message().c_str() : status.error_message().c_str());
  }
  return 0;
}

int BogusSecure(v1::Aggregator::Stub& stub, const v1::Task& task, const Model& model,
                const Arguments& arguments) {
  const client::ClientIdentity identity{task.round().run_id(), arguments.id};
  absl::StatusOr<client::SecureRoundClient> secure =
      client::SecureRoundClient::Advertise(stub, identity, task, model.floats);
  absl::Status status = secure.status();
  if (status.ok()) status = secure->ShareKeys(stub);
  if (status.ok()) status = secure->ReceiveShares(stub);
  if (!status.ok()) {
    std::fprintf(stderr, "secure set-up failed: %s\n", std::string(status.message()).c_str());
    return 2;
  }
  aggregation::SecureInput input;
  std::vector<float> update(model.floats, 0.0f);
  input.update = update;
  input.weight = 100;
  input.train_samples = 100;
  const v1::SecureAggregationTask& layout = task.secure_aggregation();
  const uint32_t classes = layout.num_classes();
  fairness::GroupStatistics statistics;
  statistics.loss_sum = 50;
  statistics.count = 100 + 1000;  // 1,000 samples more than its confusion counts hold
  statistics.num_classes = classes;
  statistics.confusion.assign(static_cast<size_t>(classes) * classes, 0);
  statistics.confusion[0] = 100;
  input.train[{layout.languages(0), layout.views(0), ""}][layout.groups(0)] = statistics;
  status = secure->UploadMaskedInput(stub, input, 1 << 20, 1);
  if (status.ok()) status = secure->Unmask(stub);
  std::printf("bogus masked input sent: %s\n",
              status.ok() ? "ok" : std::string(status.message()).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Arguments arguments;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--server") arguments.server = value;
    if (flag == "--certs") arguments.certs = value;
    if (flag == "--id") arguments.id = value;
    if (flag == "--attack") arguments.attack = value;
    if (flag == "--hold") arguments.hold_seconds = std::stoi(value);
  }
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadText(arguments.certs + "/ca.pem");
  tls.pem_cert_chain = ReadText(arguments.certs + "/client.pem");
  tls.pem_private_key = ReadText(arguments.certs + "/client.key");
  auto stub =
      v1::Aggregator::NewStub(grpc::CreateChannel(arguments.server, grpc::SslCredentials(tls)));
  const v1::Task task = JoinAndPoll(*stub, arguments.id);
  const Model model = Download(*stub, task, arguments.id);
  if (arguments.attack == "weight") {
    v1::UpdateHeader header = Header(arguments.id);
    header.set_aggregation_weight(1.7e308);
    return Upload(*stub, task, model, header) ? 1 : 0;
  }
  if (arguments.attack == "loss") {
    v1::UpdateHeader header = Header(arguments.id);
    header.mutable_train_statistics()->mutable_cells(0)->set_loss_sum(INFINITY);
    return Upload(*stub, task, model, header) ? 1 : 0;
  }
  if (arguments.attack == "silent") return Silent(*stub, task, model, arguments);
  if (arguments.attack == "bogus-secure") return BogusSecure(*stub, task, model, arguments);
  std::fprintf(stderr, "unknown --attack '%s'\n", arguments.attack.c_str());
  return 2;
}
