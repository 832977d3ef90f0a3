// The securely aggregated round secure_round_fuzzer.cc fuzzes and the seed writer
// (write_seeds.cc) plays through: client-0, client-1 and client-2 selected
// (SecAgg+'s complete graph of three, two survivors needed) over a model of three
// values, one language, the fusion view, two groups and two classes.
#ifndef EQUIFL_TESTS_FUZZ_SECURE_ROUND_SETUP_H_
#define EQUIFL_TESTS_FUZZ_SECURE_ROUND_SETUP_H_

#include <cstdint>
#include <string>

#include "aggregation/privacy/client_level_privacy.h"
#include "aggregation/secure/secure_aggregation_server.h"
#include "aggregation/secure/secure_input.h"
#include "fairness/group_statistics.h"
#include "server/secure_round.h"

namespace equifl::fuzz {

inline constexpr char kSecureRunId[] = "run-fuzz";
inline constexpr uint64_t kSecureRoundId = 1;

//! The round's layout of a masked vector.
inline aggregation::SecureInputLayout SecureLayout() {
  aggregation::SecureInputLayout layout;
  layout.update_size = 3;
  layout.statistics = {{"en"}, {fairness::kFusionView}, {"female", "male"}, 2};
  layout.max_clients = 3;
  return layout;
}

//! The round, as the round loop opens it (one thread to unmask).
inline server::SecureRound MakeSecureRound() {
  const aggregation::SecureInputLayout layout = SecureLayout();
  aggregation::SecureRoundOptions protocol;
  protocol.context = {kSecureRunId, kSecureRoundId};
  protocol.selected = {"client-0", "client-1", "client-2"};
  protocol.words = layout.Words();
  protocol.min_survivors = 2;
  protocol.graph_seed = 7;
  protocol.threads = 1;
  return server::SecureRound(protocol, layout, aggregation::ClientNoise{});
}

//! The operations of secure_round_fuzzer.cc, one per input byte (modulo kSecureOperations).
enum SecureOperation : uint8_t {
  kAdvertiseKeys,     //!< An AdvertiseKeysRequest part follows.
  kShareKeys,         //!< A ShareKeysRequest part follows.
  kRevealShares,      //!< A RevealSharesRequest part follows.
  kGetNeighbours,     //!< A client byte follows.
  kGetShares,         //!< A client byte follows.
  kGetUnmaskRequest,  //!< A client byte follows.
  kMaskedInput,       //!< A client byte and a part of little-endian uint32 words follow.
  kCloseAdvertising,  //!< The round loop's steps, past their deadlines.
  kCloseSharing,
  kCloseCollection,
  kUnmask,
  kSecureOperations,  //!< How many there are.
};

}  // namespace equifl::fuzz

#endif  // EQUIFL_TESTS_FUZZ_SECURE_ROUND_SETUP_H_
