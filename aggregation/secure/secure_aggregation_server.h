// The server's side of one secure-aggregation round (secure_round_messages.h gives
// the protocol): it collects public keys, builds the SecAgg+ neighbour graph,
// routes the encrypted shares, sums the masked inputs modulo 2^32 as they arrive,
// and at the end rebuilds from the revealed shares exactly the masks that do not
// cancel (each survivor's self mask, the pairwise masks survivors share with
// clients that dropped after sharing) and removes them.
//
// The server never sees an input: only the sum of the survivors' inputs. When too
// few clients remain (fewer masked inputs than min_survivors, or fewer revealed
// shares than a secret's threshold) the round fails and returns no sum.
//
// Every rebuilt secret is checked against what its owner advertised (its masking
// public key, its self-mask seed's commitment). A single false share among more
// than the threshold is found, its revealer named and the secret rebuilt without
// it; otherwise a secret that does not check fails the round (DataLoss) rather
// than leave a wrong mask in the sum.
// Not thread-safe: the caller serialises calls (server/secure_round.h does).
#ifndef EQUIFL_AGGREGATION_SECURE_SECURE_AGGREGATION_SERVER_H_
#define EQUIFL_AGGREGATION_SECURE_SECURE_AGGREGATION_SERVER_H_

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aggregation/secure/mask_stream.h"
#include "aggregation/secure/neighbourhood_sizing.h"
#include "aggregation/secure/secure_round_messages.h"

namespace equifl::aggregation {

//! How one secure round is run.
struct SecureRoundOptions {
  SecureRoundContext context;
  std::vector<std::string> selected;  //!< The clients the round selected.
  uint64_t words = 0;                 //!< Length of every masked vector.
  //! SecAgg+'s k; 0: ChooseNeighbourhoodSize for the advertisers and `tolerance`.
  uint32_t neighbours = 0;
  //! t >= ThresholdFor(k + 1, fraction); equal when `neighbours` is set.
  double threshold_fraction = 0.5;
  DropoutTolerance tolerance;  //!< What k and t are sized for when neighbours is 0.
  uint32_t min_survivors = 2;  //!< Masked inputs needed to unmask (>= 1).
  uint64_t graph_seed = 0;     //!< Seeds the graph's permutation.
  int threads = 0;             //!< For removing masks; 0: every core.

  absl::Status Validate() const;
};

class SecureAggregationServer {
 public:
  enum class Phase { kAdvertising, kSharing, kCollecting, kUnmasking, kDone, kFailed };

  explicit SecureAggregationServer(const SecureRoundOptions& options);

  //! Phase kAdvertising: a selected client's keys; once per client.
  absl::Status AddKeys(const std::string& client_id, const SecureKeys& keys);
  //! Ends advertising: slots by sorted client id, the graph, the threshold. Fails
  //! (the round is over) with fewer than min_survivors advertisers.
  absl::Status CloseAdvertising();
  //! A client's slot, threshold and neighbours (after CloseAdvertising).
  absl::StatusOr<Neighbourhood> NeighbourhoodOf(const std::string& client_id) const;

  //! Phase kSharing: a client's encrypted shares, exactly one per neighbour.
  absl::Status AddShares(const std::string& client_id, std::vector<EncryptedShare> shares);
  //! Ends sharing; fails with fewer than min_survivors clients that shared.
  absl::Status CloseSharing();
  //! The shares addressed to a client that shared, from every neighbour that did.
  absl::StatusOr<std::vector<EncryptedShare>> SharesFor(const std::string& client_id) const;

  //! Phase kCollecting: whether a masked input from `client_id` would be taken.
  absl::Status CheckMaskedInput(const std::string& client_id) const;
  //! Adds a client's masked vector to the sum; once per client that shared.
  absl::Status AddMaskedInput(const std::string& client_id, std::span<const uint32_t> words);
  //! Ends collection; fails, revealing nothing, with fewer than min_survivors inputs.
  absl::Status CloseCollection();
  //! What a survivor is asked to reveal (after CloseCollection).
  absl::StatusOr<UnmaskRequest> UnmaskRequestFor(const std::string& client_id) const;

  //! Phase kUnmasking: a survivor's revealed shares; once per survivor.
  absl::Status AddRevealedShares(const std::string& client_id,
                                 std::span<const RevealedShare> shares);
  //! Rebuilds the secrets and returns the sum of the survivors' inputs. Fails,
  //! returning nothing, when a secret has fewer revealed shares than its threshold
  //! or rebuilds to something its owner did not advertise.
  absl::StatusOr<std::vector<uint32_t>> Unmask();
  //! Clients found revealing a false share in the last Unmask, sorted.
  const std::set<std::string>& false_revealers() const { return false_revealers_; }

  Phase phase() const { return phase_; }
  //! Clients at each step: advertised keys, shared, sent a masked input, revealed.
  size_t advertised() const { return keys_.size(); }
  size_t shared() const { return shared_.size(); }
  size_t collected() const { return collected_.size(); }
  size_t revealed() const { return revealers_.size(); }
  //! Whether every client that could still act in the current phase has.
  bool PhaseComplete() const;
  //! Client ids whose masked input is in the sum, sorted.
  std::vector<std::string> Survivors() const;
  //! Selected clients that did not share their keys (after CloseSharing): their
  //! inputs cannot count, so a round need not wait for them.
  std::vector<std::string> UnableToContribute() const;

 private:
  absl::StatusOr<uint32_t> SlotOf(const std::string& client_id) const;
  //! `owner`'s `secret` rebuilt from the revealed shares and checked against what
  //! it advertised; names in `false_revealer` a neighbour whose share was left out.
  absl::StatusOr<Key32> RebuildSecret(uint32_t owner, SharedSecret secret,
                                      std::string& false_revealer) const;
  //! Rebuilds `owner`'s `secret` and writes the masks it removes into `out`: a
  //! survivor's self mask, or a dropped client's pairwise mask with each surviving
  //! neighbour. Reads only; safe on several threads.
  absl::Status RebuildMasks(uint32_t owner, SharedSecret secret, std::span<MaskStream> out,
                            std::string& false_revealer) const;
  absl::Status Fail(absl::Status status);

  const SecureRoundOptions options_;
  Phase phase_ = Phase::kAdvertising;
  std::map<std::string, SecureKeys> keys_;    //!< By client id, sorted: slot order.
  std::vector<std::string> clients_;          //!< By slot.
  std::map<std::string, uint32_t> slots_;     //!< Client id -> slot.
  std::vector<std::vector<uint32_t>> graph_;  //!< Neighbours by slot.
  uint32_t threshold_ = 0;
  //! Shares by recipient slot; only from clients in shared_.
  std::map<uint32_t, std::vector<EncryptedShare>> inbox_;
  std::set<uint32_t> shared_;     //!< U2.
  std::set<uint32_t> collected_;  //!< U3.
  std::set<uint32_t> revealers_;  //!< U4.
  std::vector<uint32_t> sum_;     //!< Σ masked inputs mod 2^32.
  //! Revealed shares by (owner slot, secret).
  std::map<std::pair<uint32_t, SharedSecret>, std::vector<ShamirShare>> revealed_;
  std::set<std::string> false_revealers_;
};

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_SECURE_SECURE_AGGREGATION_SERVER_H_
