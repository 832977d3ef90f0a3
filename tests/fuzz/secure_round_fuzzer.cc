// Fuzzes one securely aggregated round on the server (server/secure_round.h): the
// secure-aggregation handlers' requests (AdvertiseKeys, ShareKeys, RevealShares,
// the long polls GetNeighbours, GetShares and GetUnmaskRequest, a masked input)
// and the round loop's steps (close advertising, sharing and collection, unmask),
// in any order, as Aggregator::OnSecureRound passes them on: only requests for the
// open round reach the round. The round is tests/fuzz/secure_round_setup.h's;
// polls do not wait and steps run past their deadline.
//
// Input (tests/fuzz/fuzz_input.h): operations until the input ends, each a byte
// (SecureOperation, modulo kSecureOperations) and what it takes: a request part;
// a client byte (0-2: client-0..2, 3: a client the round did not select); for a
// masked input a client byte and a part of little-endian uint32 words.
//
// Checked: no crash, leak, deadlock or undefined behaviour, whatever the clients
// send and whatever the order; every refusal is a status.
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "equifl/v1/aggregator.pb.h"
#include "server/secure_round.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/secure_round_setup.h"

namespace equifl::fuzz {
namespace {

constexpr std::chrono::milliseconds kNoWait{0};

std::string Client(uint8_t byte) {
  return (byte & 3) == 3 ? "intruder" : "client-" + std::to_string(byte & 3);
}

// The round a request names must be the open one (Aggregator::SecureRoundFor).
bool ForTheRound(const v1::RoundReference& round) {
  return round.run_id() == kSecureRunId && round.round_id() == kSecureRoundId;
}

// Parses the next part as a Request and, when it names the round, runs `step`.
template <typename Request, typename Step>
void OnRequest(FuzzInput& input, const Step& step) {
  Request request;
  if (input.TakeMessage(request) && ForTheRound(request.round())) (void)step(request);
}

}  // namespace
}  // namespace equifl::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace equifl;
  using namespace equifl::fuzz;
  FuzzInput input(data, size);
  server::SecureRound round = MakeSecureRound();
  const auto past = server::SecureRound::Clock::now() - std::chrono::seconds(1);
  while (!input.empty()) {
    switch (input.TakeByte() % kSecureOperations) {
      case kAdvertiseKeys:
        OnRequest<v1::AdvertiseKeysRequest>(
            input, [&](const auto& request) { return round.AdvertiseKeys(request); });
        break;
      case kShareKeys:
        OnRequest<v1::ShareKeysRequest>(
            input, [&](const auto& request) { return round.ShareKeys(request); });
        break;
      case kRevealShares:
        OnRequest<v1::RevealSharesRequest>(
            input, [&](const auto& request) { return round.RevealShares(request); });
        break;
      case kGetNeighbours: {
        v1::GetNeighboursResponse response;
        (void)round.GetNeighbours(Client(input.TakeByte()), kNoWait, response);
        break;
      }
      case kGetShares: {
        v1::GetSharesResponse response;
        (void)round.GetShares(Client(input.TakeByte()), kNoWait, response);
        break;
      }
      case kGetUnmaskRequest: {
        v1::GetUnmaskRequestResponse response;
        (void)round.GetUnmaskRequest(Client(input.TakeByte()), kNoWait, response);
        break;
      }
      case kMaskedInput: {
        const std::string client = Client(input.TakeByte());
        const absl::string_view part = input.TakePart();
        std::vector<uint32_t> words(part.size() / sizeof(uint32_t));
        if (!words.empty()) std::memcpy(words.data(), part.data(), words.size() * sizeof(uint32_t));
        // AcceptMaskedInput checks before it decodes the chunks, then adds.
        if (round.CheckMaskedInput(client).ok()) (void)round.AddMaskedInput(client, words);
        break;
      }
      case kCloseAdvertising:
        (void)round.CloseAdvertising(past);
        break;
      case kCloseSharing:
        (void)round.CloseSharing(past);
        break;
      case kCloseCollection:
        (void)round.CloseCollection();
        break;
      case kUnmask:
        (void)round.Unmask(past);
        break;
    }
  }
  return 0;
}
