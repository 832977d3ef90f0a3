// Fuzzes the server's side of UploadUpdate in a plain round, as
// Aggregator::AcceptUpdate composes it: the stream's opening message
// (protocol::ReadUpdateHeader), the run and round it names, the client's
// aggregation weight (FairnessEngine::AggregationWeight), the chunks of its update
// (protocol::ReadUpdateChunks, finite values only), its training and validation
// statistics (protocol::StatisticsFromProto), the round's accumulator
// (PlainAccumulator) and, when a round closes, the fairness engine's update with
// the round's sums (FairnessEngine::OnRoundClosed) and the next directive. Calling
// the handler itself needs a live gRPC call (its reader is a grpc::ServerReader);
// these are the functions it runs on what a client sent. The global model is
// ReceiverModel's float32 tensors (tests/fuzz/receiver_model.h); the run is
// "run-fuzz", its first round 1.
//
// Input (tests/fuzz/fuzz_input.h): an options byte (bits 0-2: the fairness
// method; bit 3: fold updates two at a time), then operations until the input
// ends. An operation byte with low bits 3 closes the round; otherwise bits 2-3
// name the uploading connection's client and the next byte how many messages its
// stream holds (0-7), each an UploadUpdateRequest part.
//
// Checked beyond "no crash, leak or undefined behaviour": a round that reports a
// mean update reports a finite one, since every update it took was finite.
#include <grpcpp/support/sync_stream.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "protocol/fairness_wire.h"
#include "protocol/tensor_stream.h"
#include "server/fairness_engine.h"
#include "server/global_model.h"
#include "server/plain_accumulator.h"
#include "server/scratch_pool.h"
#include "server/update_bounds.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/receiver_model.h"
#include "tests/fuzz/require.h"

namespace equifl::fuzz {
namespace {

constexpr char kRunId[] = "run-fuzz";
constexpr uint32_t kUploadBuffers = 2;  // AggregatorOptions::max_concurrent_uploads

// An upload stream whose messages are the next parts of the input.
class ScriptedReader final : public grpc::ServerReaderInterface<v1::UploadUpdateRequest> {
 public:
  ScriptedReader(FuzzInput& input, int messages) : input_(input), left_(messages) {}
  void SendInitialMetadata() override {}
  bool NextMessageSize(uint32_t* size) override {
    *size = 0;
    return left_ > 0;
  }
  // A part that is not a message ends the stream, as a broken call would.
  bool Read(v1::UploadUpdateRequest* message) override {
    if (left_ == 0) return false;
    --left_;
    if (input_.TakeMessage(*message)) return true;
    left_ = 0;
    return false;
  }
  // Skips what the server did not read, so the next stream starts at its own parts.
  void Drain() {
    v1::UploadUpdateRequest unread;
    while (Read(&unread)) {
    }
  }

 private:
  FuzzInput& input_;
  int left_;
};

// One round of the aggregator: its clients, who already counted, its accumulator.
class Round {
 public:
  Round(uint64_t round_id, size_t model_size, size_t fold_batch, bool keep_client_statistics)
      : round_id_(round_id),
        accumulator_(Options(round_id, model_size, fold_batch, keep_client_statistics)) {}

  // AcceptUpdate with the service's checks before it; failures refuse the upload.
  void Upload(const std::string& caller, ScriptedReader& reader, const server::GlobalModel& model,
              const server::FairnessEngine& fairness, server::ScratchPool<float>& buffers) {
    absl::StatusOr<v1::UploadUpdateRequest> opening = protocol::ReadUpdateHeader(reader);
    if (!opening.ok()) return;
    const v1::UpdateHeader& header = opening->header();
    // The caller's certificate names its client; the coordinator takes one
    // upload per selected client in the open round.
    if (header.client_id() != caller || opening->round().run_id() != kRunId ||
        opening->round().round_id() != round_id_ || committed_.contains(caller)) {
      return;
    }
    if (header.masked_input()) return;  // a plain round has no secure round
    server::PlainInput input;
    absl::StatusOr<double> weight = fairness.AggregationWeight(caller, header);
    if (!weight.ok()) return;
    Require(*weight > 0 && std::isfinite(*weight), "an accepted weight is not finite and positive");
    input.weight = *weight;
    input.update = buffers.Take();
    input.update.values().resize(model.size());
    protocol::DecoderLimits limits;
    limits.require_finite = true;
    if (!protocol::ReadUpdateChunks(opening->round(), header.update(),
                                    model.MutableViewsOver(input.update.values()), reader, limits)
             .ok()) {
      return;
    }
    absl::StatusOr<fairness::StatisticsTable> train =
        protocol::StatisticsFromProto(header.train_statistics());
    absl::StatusOr<fairness::StatisticsTable> validation =
        protocol::StatisticsFromProto(header.validation_statistics());
    if (!train.ok() || !validation.ok()) return;
    if (!server::CheckClientStatistics(*train, "training").ok() ||
        !server::CheckClientStatistics(*validation, "validation").ok()) {
      return;
    }
    input.train = *std::move(train);
    input.validation = *std::move(validation);
    input.train_samples = header.num_train_samples();
    if (accumulator_.Accumulate({caller, std::move(input)}).ok()) committed_.insert(caller);
  }

  // Reports the round and moves the fairness engine as RoundLoop::Apply does.
  void Close(server::FairnessEngine& fairness) && {
    absl::StatusOr<server::RoundAggregate> aggregate = std::move(accumulator_).Report();
    if (!aggregate.ok()) return;
    for (float value : aggregate->update) Require(std::isfinite(value), "a mean is not finite");
    if (committed_.empty()) return;
    fairness.OnRoundClosed(1, aggregate->train.table(), aggregate->validation.table(),
                           aggregate->validation_by_client, aggregate->train_samples);
    (void)fairness.Directive("client-0");
    (void)fairness.State();
  }

 private:
  static server::PlainAccumulatorOptions Options(uint64_t round_id, size_t model_size,
                                                 size_t fold_batch, bool keep_client_statistics) {
    server::PlainAccumulatorOptions options;
    options.round_id = round_id;
    options.model_size = model_size;
    options.fold_batch = fold_batch;
    options.keep_client_statistics = keep_client_statistics;
    return options;
  }

  const uint64_t round_id_;
  server::PlainAccumulator accumulator_;
  std::set<std::string> committed_;
};

}  // namespace
}  // namespace equifl::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace equifl;
  fuzz::FuzzInput input(data, size);
  const uint8_t options = input.TakeByte();
  server::FairnessOptions fairness_options;
  fairness_options.method = static_cast<fairness::FairnessMethod>((options & 7) % 7);
  server::FairnessEngine fairness(fairness_options);
  const size_t fold_batch = (options & 8) != 0 ? 2 : 1;
  static const server::GlobalModel model =
      *server::GlobalModel::FromTensors(fuzz::ReceiverModel().Float32Views());
  server::ScratchPool<float> buffers(fuzz::kUploadBuffers);
  uint64_t round_id = 1;
  auto round = std::make_unique<fuzz::Round>(round_id, model.size(), fold_batch,
                                             fairness.NeedsClientStatistics());
  while (!input.empty()) {
    const uint8_t operation = input.TakeByte();
    if ((operation & 3) == 3) {
      std::move(*round).Close(fairness);
      round = std::make_unique<fuzz::Round>(++round_id, model.size(), fold_batch,
                                            fairness.NeedsClientStatistics());
      continue;
    }
    const std::string caller = "client-" + std::to_string((operation >> 2) & 3);
    fuzz::ScriptedReader reader(input, input.TakeByte() & 7);
    round->Upload(caller, reader, model, fairness, buffers);
    reader.Drain();
  }
  std::move(*round).Close(fairness);
  return 0;
}
