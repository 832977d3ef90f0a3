// Fuzzes the aggregator's unary handlers (server/aggregator.h) with any request a
// client can send: Join, PollTask, PollTasks and the six secure-aggregation steps,
// called directly on a fresh Aggregator as gRPC calls them, with a call context
// no certificate authenticated (an --insecure port or `equifl sim`'s channel).
//
// What this reaches: the checks every handler makes before the round loop is
// involved (client ids, the caller's right to act as them, the run, PollTasks'
// size limit), joining, and polls and secure steps that find no round open. The
// round loop is not running, and the run is stopped before the calls, so a poll
// learns at once that the run finished instead of sleeping out its timeout. DownloadModel and
// UploadUpdate need a live gRPC stream (their writer and reader are grpc::ServerWriter and
// grpc::ServerReader, which only gRPC constructs); upload_fuzzer.cc and secure_round_fuzzer.cc fuzz
// what those and the secure steps do inside a round.
//
// Input (tests/fuzz/fuzz_input.h): an options byte (bit 0: secure aggregation on),
// then calls until the input ends: a byte picks the handler (modulo 9), a part
// holds its request.
//
// Checked: no crash, leak, deadlock or undefined behaviour; every refusal is a
// gRPC status.
#include <grpcpp/server_context.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "aggregation/server_optimizer.h"
#include "server/aggregator.h"
#include "server/global_model.h"
#include "tests/fuzz/fuzz_input.h"

namespace equifl::fuzz {
namespace {

std::unique_ptr<server::Aggregator> MakeAggregator(bool secure) {
  server::AggregatorOptions options;
  options.run_id = "run-fuzz";
  options.rounds.rounds = 2;
  options.rounds.min_clients = secure ? 2 : 1;
  options.secure_aggregation.enabled = secure;
  options.statistics = {{"en"}, {}, {"female", "male"}, 2};
  const std::vector<float> values(8, 0.5f);
  server::GlobalModel model = *server::GlobalModel::FromTensors(
      {{"weight", v1::DATA_TYPE_FLOAT32, {8}, std::as_bytes(std::span(values))}});
  aggregation::ServerOptimizer optimizer =
      *aggregation::ServerOptimizer::Create(options.optimizer, model.size());
  std::unique_ptr<server::Aggregator> aggregator =
      *server::Aggregator::Create(options, std::move(model), std::move(optimizer),
                                  /*completed_rounds=*/0, /*observer=*/nullptr);
  aggregator->Stop();
  return aggregator;
}

// Parses the next part as a Request and calls `handler` with it.
template <typename Request, typename Response, typename Handler>
void Call(FuzzInput& input, server::Aggregator& aggregator, Handler handler) {
  Request request;
  if (!input.TakeMessage(request)) return;
  Response response;
  grpc::ServerContext context;
  (void)(aggregator.*handler)(&context, &request, &response);
}

}  // namespace
}  // namespace equifl::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // a line per join would drown libFuzzer's
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace equifl;
  using server::Aggregator;
  fuzz::FuzzInput input(data, size);
  std::unique_ptr<Aggregator> aggregator = fuzz::MakeAggregator((input.TakeByte() & 1) != 0);
  while (!input.empty()) {
    switch (input.TakeByte() % 9) {
      case 0:
        fuzz::Call<v1::JoinRequest, v1::JoinResponse>(input, *aggregator, &Aggregator::Join);
        break;
      case 1:
        fuzz::Call<v1::PollTaskRequest, v1::PollTaskResponse>(input, *aggregator,
                                                              &Aggregator::PollTask);
        break;
      case 2:
        fuzz::Call<v1::PollTasksRequest, v1::PollTasksResponse>(input, *aggregator,
                                                                &Aggregator::PollTasks);
        break;
      case 3:
        fuzz::Call<v1::AdvertiseKeysRequest, v1::SecureAggregationAck>(input, *aggregator,
                                                                       &Aggregator::AdvertiseKeys);
        break;
      case 4:
        fuzz::Call<v1::SecureStepRequest, v1::GetNeighboursResponse>(input, *aggregator,
                                                                     &Aggregator::GetNeighbours);
        break;
      case 5:
        fuzz::Call<v1::ShareKeysRequest, v1::SecureAggregationAck>(input, *aggregator,
                                                                   &Aggregator::ShareKeys);
        break;
      case 6:
        fuzz::Call<v1::SecureStepRequest, v1::GetSharesResponse>(input, *aggregator,
                                                                 &Aggregator::GetShares);
        break;
      case 7:
        fuzz::Call<v1::SecureStepRequest, v1::GetUnmaskRequestResponse>(
            input, *aggregator, &Aggregator::GetUnmaskRequest);
        break;
      case 8:
        fuzz::Call<v1::RevealSharesRequest, v1::SecureAggregationAck>(input, *aggregator,
                                                                      &Aggregator::RevealShares);
        break;
    }
  }
  return 0;
}
