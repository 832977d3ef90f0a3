#include "aggregation/secure/secure_aggregation_server.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "aggregation/secure/internal/secure_round_keys.h"
#include "aggregation/secure/mask_stream.h"
#include "aggregation/secure/neighbour_graph.h"
#include "base/parallel_for.h"
#include "base/status_macros.h"

namespace equifl::aggregation {
namespace {

const char* PhaseName(SecureAggregationServer::Phase phase) {
  switch (phase) {
    case SecureAggregationServer::Phase::kAdvertising:
      return "key advertisement";
    case SecureAggregationServer::Phase::kSharing:
      return "key sharing";
    case SecureAggregationServer::Phase::kCollecting:
      return "masked-input collection";
    case SecureAggregationServer::Phase::kUnmasking:
      return "unmasking";
    case SecureAggregationServer::Phase::kDone:
      return "done";
    case SecureAggregationServer::Phase::kFailed:
      return "failed";
  }
  return "unknown";
}

}  // namespace

absl::Status SecureRoundOptions::Validate() const {
  if (selected.empty()) return absl::InvalidArgumentError("a secure round selects no client");
  if (!(threshold_fraction > 0 && threshold_fraction <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("secure aggregation's threshold is ",
                                                   threshold_fraction, "; allowed: (0, 1]"));
  }
  if (neighbours == 0) EQUIFL_RETURN_IF_ERROR(tolerance.Validate(threshold_fraction));
  if (min_survivors == 0) return absl::InvalidArgumentError("min_survivors must be at least 1");
  if (threads < 0) return absl::InvalidArgumentError("threads must be 0 (every core) or more");
  return absl::OkStatus();
}

SecureAggregationServer::SecureAggregationServer(const SecureRoundOptions& options)
    : options_(options) {}

absl::Status SecureAggregationServer::Fail(absl::Status status) {
  phase_ = Phase::kFailed;
  sum_.clear();
  sum_.shrink_to_fit();
  revealed_.clear();
  return status;
}

absl::StatusOr<uint32_t> SecureAggregationServer::SlotOf(const std::string& client_id) const {
  const auto found = slots_.find(client_id);
  if (found == slots_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("client '", client_id, "' did not advertise keys in this secure round"));
  }
  return found->second;
}

absl::Status SecureAggregationServer::AddKeys(const std::string& client_id,
                                              const SecureKeys& keys) {
  if (phase_ != Phase::kAdvertising) {
    return absl::FailedPreconditionError(absl::StrCat("keys from '", client_id,
                                                      "' arrived after key advertisement closed (",
                                                      PhaseName(phase_), ")"));
  }
  if (std::find(options_.selected.begin(), options_.selected.end(), client_id) ==
      options_.selected.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("client '", client_id, "' is not selected for this round"));
  }
  if (keys.encryption == keys.masking) {
    return absl::InvalidArgumentError("a client's two public keys must differ");
  }
  if (!keys_.emplace(client_id, keys).second) {
    return absl::AlreadyExistsError(absl::StrCat("client '", client_id, "' advertised twice"));
  }
  return absl::OkStatus();
}

absl::Status SecureAggregationServer::CloseAdvertising() {
  if (phase_ != Phase::kAdvertising) {
    return absl::FailedPreconditionError("key advertisement is closed already");
  }
  EQUIFL_RETURN_IF_ERROR(options_.Validate());
  const uint32_t clients = static_cast<uint32_t>(keys_.size());
  if (clients < options_.min_survivors || clients < 2) {
    return Fail(absl::FailedPreconditionError(
        absl::StrCat("only ", clients, " of ", options_.selected.size(),
                     " clients advertised keys; secure aggregation needs at least ",
                     std::max<uint32_t>(options_.min_survivors, 2))));
  }
  for (const auto& [client_id, keys] : keys_) {
    slots_[client_id] = static_cast<uint32_t>(clients_.size());
    clients_.push_back(client_id);
  }
  if (options_.neighbours > 0) {
    EQUIFL_ASSIGN_OR_RETURN(graph_,
                            BuildNeighbourGraph(clients, options_.neighbours, options_.graph_seed));
    threshold_ =
        ThresholdFor(static_cast<uint32_t>(graph_[0].size()) + 1, options_.threshold_fraction);
  } else {
    const NeighbourhoodSize size =
        ChooseNeighbourhoodSize(clients, options_.threshold_fraction, options_.tolerance);
    EQUIFL_ASSIGN_OR_RETURN(graph_,
                            BuildNeighbourGraph(clients, size.neighbours, options_.graph_seed));
    threshold_ = size.threshold;
  }
  phase_ = Phase::kSharing;
  return absl::OkStatus();
}

absl::StatusOr<Neighbourhood> SecureAggregationServer::NeighbourhoodOf(
    const std::string& client_id) const {
  if (phase_ == Phase::kAdvertising) {
    return absl::UnavailableError("key advertisement is still open");
  }
  EQUIFL_ASSIGN_OR_RETURN(uint32_t slot, SlotOf(client_id));
  Neighbourhood neighbourhood;
  neighbourhood.slot = slot;
  neighbourhood.threshold = threshold_;
  neighbourhood.min_survivors = options_.min_survivors;
  for (uint32_t neighbour : graph_[slot]) {
    neighbourhood.neighbours.push_back(
        {neighbour, clients_[neighbour], keys_.at(clients_[neighbour])});
  }
  return neighbourhood;
}

absl::Status SecureAggregationServer::AddShares(const std::string& client_id,
                                                std::vector<EncryptedShare> shares) {
  if (phase_ != Phase::kSharing) {
    return absl::FailedPreconditionError(absl::StrCat(
        "shares from '", client_id, "' arrived outside key sharing (", PhaseName(phase_), ")"));
  }
  EQUIFL_ASSIGN_OR_RETURN(uint32_t slot, SlotOf(client_id));
  if (shared_.count(slot) > 0) {
    return absl::AlreadyExistsError(absl::StrCat("client '", client_id, "' shared twice"));
  }
  std::vector<uint32_t> recipients;
  for (const EncryptedShare& share : shares) {
    if (share.sender_slot != slot) {
      return absl::InvalidArgumentError(absl::StrCat("client '", client_id, "' (slot ", slot,
                                                     ") sent a share as slot ", share.sender_slot));
    }
    recipients.push_back(share.recipient_slot);
  }
  std::sort(recipients.begin(), recipients.end());
  if (recipients != graph_[slot]) {
    return absl::InvalidArgumentError(
        absl::StrCat("client '", client_id, "' must send exactly one share to each of its ",
                     graph_[slot].size(), " neighbours; it sent ", shares.size()));
  }
  for (EncryptedShare& share : shares) inbox_[share.recipient_slot].push_back(std::move(share));
  shared_.insert(slot);
  return absl::OkStatus();
}

absl::Status SecureAggregationServer::CloseSharing() {
  if (phase_ != Phase::kSharing) return absl::FailedPreconditionError("key sharing is not open");
  if (shared_.size() < options_.min_survivors) {
    return Fail(
        absl::FailedPreconditionError(absl::StrCat("only ", shared_.size(),
                                                   " clients shared their keys; secure aggregation "
                                                   "needs at least ",
                                                   options_.min_survivors)));
  }
  // Drop the shares that clients which never shared would have needed to read:
  // only shares from clients in shared_ were kept in the first place.
  phase_ = Phase::kCollecting;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<EncryptedShare>> SecureAggregationServer::SharesFor(
    const std::string& client_id) const {
  if (phase_ == Phase::kAdvertising || phase_ == Phase::kSharing) {
    return absl::UnavailableError("key sharing is still open");
  }
  EQUIFL_ASSIGN_OR_RETURN(uint32_t slot, SlotOf(client_id));
  if (shared_.count(slot) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("client '", client_id, "' did not share its keys in time for this round"));
  }
  const auto found = inbox_.find(slot);
  if (found == inbox_.end()) return std::vector<EncryptedShare>{};
  return found->second;
}

absl::Status SecureAggregationServer::CheckMaskedInput(const std::string& client_id) const {
  if (phase_ != Phase::kCollecting) {
    return absl::FailedPreconditionError(absl::StrCat("a masked input from '", client_id,
                                                      "' arrived outside collection (",
                                                      PhaseName(phase_), ")"));
  }
  EQUIFL_ASSIGN_OR_RETURN(uint32_t slot, SlotOf(client_id));
  if (shared_.count(slot) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("client '", client_id, "' did not share its keys; its input cannot count"));
  }
  if (collected_.count(slot) > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("client '", client_id, "' sent its masked input already"));
  }
  return absl::OkStatus();
}

absl::Status SecureAggregationServer::AddMaskedInput(const std::string& client_id,
                                                     std::span<const uint32_t> words) {
  EQUIFL_RETURN_IF_ERROR(CheckMaskedInput(client_id));
  if (words.size() != options_.words) {
    return absl::InvalidArgumentError(absl::StrCat("a masked input of ", words.size(),
                                                   " words; the round's are ", options_.words));
  }
  if (sum_.empty()) sum_.assign(words.size(), 0);
  for (size_t i = 0; i < words.size(); ++i) sum_[i] += words[i];
  collected_.insert(slots_.at(client_id));
  return absl::OkStatus();
}

absl::Status SecureAggregationServer::CloseCollection() {
  if (phase_ != Phase::kCollecting) {
    return absl::FailedPreconditionError("masked-input collection is not open");
  }
  if (collected_.size() < options_.min_survivors) {
    return Fail(absl::FailedPreconditionError(
        absl::StrCat("only ", collected_.size(),
                     " masked inputs arrived; secure aggregation needs ", options_.min_survivors,
                     " to unmask, so the round is abandoned without revealing "
                     "anything")));
  }
  phase_ = Phase::kUnmasking;
  return absl::OkStatus();
}

absl::StatusOr<UnmaskRequest> SecureAggregationServer::UnmaskRequestFor(
    const std::string& client_id) const {
  if (phase_ == Phase::kFailed) {
    return absl::FailedPreconditionError("the secure round failed; nothing is unmasked");
  }
  if (phase_ != Phase::kUnmasking && phase_ != Phase::kDone) {
    return absl::UnavailableError("masked-input collection is still open");
  }
  EQUIFL_ASSIGN_OR_RETURN(uint32_t slot, SlotOf(client_id));
  if (collected_.count(slot) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("client '", client_id, "' is not a survivor of this round"));
  }
  UnmaskRequest request;
  request.total_survivors = static_cast<uint32_t>(collected_.size());
  request.survivors.push_back(slot);
  for (uint32_t neighbour : graph_[slot]) {
    if (shared_.count(neighbour) == 0) continue;  // never shared: nothing to reveal
    if (collected_.count(neighbour) > 0) {
      request.survivors.push_back(neighbour);
    } else {
      request.dropped.push_back(neighbour);
    }
  }
  std::sort(request.survivors.begin(), request.survivors.end());
  return request;
}

absl::Status SecureAggregationServer::AddRevealedShares(const std::string& client_id,
                                                        std::span<const RevealedShare> shares) {
  if (phase_ != Phase::kUnmasking) {
    return absl::FailedPreconditionError(absl::StrCat(
        "shares from '", client_id, "' arrived outside unmasking (", PhaseName(phase_), ")"));
  }
  EQUIFL_ASSIGN_OR_RETURN(UnmaskRequest request, UnmaskRequestFor(client_id));
  const uint32_t slot = slots_.at(client_id);
  if (revealers_.count(slot) > 0) {
    return absl::AlreadyExistsError(absl::StrCat("client '", client_id, "' revealed twice"));
  }
  size_t expected = request.survivors.size() + request.dropped.size();
  if (shares.size() != expected) {
    return absl::InvalidArgumentError(absl::StrCat("client '", client_id, "' revealed ",
                                                   shares.size(), " shares; ", expected,
                                                   " were asked for"));
  }
  for (const RevealedShare& share : shares) {
    const std::vector<uint32_t>& asked =
        share.secret == SharedSecret::kSelfMaskSeed ? request.survivors : request.dropped;
    if (std::find(asked.begin(), asked.end(), share.owner_slot) == asked.end() ||
        share.share.x != uint64_t{slot} + 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "client '", client_id, "' revealed a share that was not asked of it (owner slot ",
          share.owner_slot, ")"));
    }
  }
  for (const RevealedShare& share : shares) {
    revealed_[{share.owner_slot, share.secret}].push_back(share.share);
  }
  revealers_.insert(slot);
  return absl::OkStatus();
}

absl::StatusOr<Key32> SecureAggregationServer::RebuildSecret(uint32_t owner, SharedSecret secret,
                                                             std::string& false_revealer) const {
  const SecureKeys& advertised = keys_.at(clients_[owner]);
  Key32 rebuilt;
  // The secret the first t of `shares` rebuild, if it is what the owner advertised
  // before any share was made. False shares may rebuild no 32-byte value at all.
  const auto rebuild = [&](std::span<const ShamirShare> shares) -> absl::StatusOr<bool> {
    absl::StatusOr<Key32> candidate = ReconstructSecret(shares, threshold_);
    if (!candidate.ok()) return false;
    rebuilt = *candidate;
    if (secret == SharedSecret::kSelfMaskSeed) {
      EQUIFL_ASSIGN_OR_RETURN(Key32 commitment,
                              internal::SelfMaskCommitment(rebuilt, options_.context));
      return commitment == advertised.self_mask_commitment;
    }
    EQUIFL_ASSIGN_OR_RETURN(const X25519PrivateKey key, X25519PrivateKey::Load(rebuilt));
    return key.public_key() == advertised.masking;
  };
  const std::vector<ShamirShare>& shares = revealed_.at({owner, secret});
  EQUIFL_ASSIGN_OR_RETURN(bool verified, rebuild(shares));
  if (verified) return rebuilt;
  // Interpolation uses the first t shares. With a spare share, leaving out each of
  // them in turn finds a single false one; its revealer is named and the secret
  // still rebuilt.
  for (size_t left_out = 0; shares.size() > threshold_ && left_out < threshold_; ++left_out) {
    std::vector<ShamirShare> rest = shares;
    rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(left_out));
    EQUIFL_ASSIGN_OR_RETURN(verified, rebuild(rest));
    if (verified) {
      false_revealer = clients_[shares[left_out].x - 1];
      return rebuilt;
    }
  }
  return absl::DataLossError(absl::StrCat(
      "the ", shares.size(), " revealed shares of client '", clients_[owner], "''s ",
      secret == SharedSecret::kSelfMaskSeed ? "self-mask seed" : "masking key", " rebuild no ",
      secret == SharedSecret::kSelfMaskSeed ? "seed" : "key",
      " matching what it advertised: the client itself or more than one of its neighbours "
      "lied, so the round is abandoned"));
}

absl::Status SecureAggregationServer::RebuildMasks(uint32_t owner, SharedSecret secret,
                                                   std::span<MaskStream> out,
                                                   std::string& false_revealer) const {
  EQUIFL_ASSIGN_OR_RETURN(Key32 rebuilt, RebuildSecret(owner, secret, false_revealer));
  if (secret == SharedSecret::kSelfMaskSeed) {
    EQUIFL_ASSIGN_OR_RETURN(Key32 key, internal::SelfMaskKey(rebuilt, options_.context));
    out[0] = {key, true};
    return absl::OkStatus();
  }
  // Loaded once for all its surviving neighbours.
  EQUIFL_ASSIGN_OR_RETURN(const X25519PrivateKey masking, X25519PrivateKey::Load(rebuilt));
  size_t next = 0;
  for (uint32_t neighbour : graph_[owner]) {
    if (collected_.count(neighbour) == 0) continue;
    // The survivor added this mask when its slot is below the dropped client's.
    EQUIFL_ASSIGN_OR_RETURN(
        Key32 key, internal::PairwiseMaskKey(masking, keys_.at(clients_[neighbour]).masking,
                                             options_.context));
    out[next++] = {key, neighbour < owner};
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint32_t>> SecureAggregationServer::Unmask() {
  if (phase_ != Phase::kUnmasking) {
    return absl::FailedPreconditionError(absl::StrCat("unmasking in phase ", PhaseName(phase_)));
  }
  // One secret to rebuild per survivor (its self-mask seed: one mask) and per
  // client that dropped after sharing (its masking key: one mask per surviving
  // neighbour); each fills its own run of `masks`, so the order of the masks does
  // not depend on the threads.
  struct Secret {
    uint32_t owner;
    SharedSecret secret;
    size_t first_mask;
    size_t masks;
  };
  std::vector<Secret> secrets;
  size_t total_masks = 0;
  const auto add = [&](uint32_t owner, SharedSecret secret, size_t masks) -> absl::Status {
    const auto found = revealed_.find({owner, secret});
    const size_t have = found == revealed_.end() ? 0 : found->second.size();
    if (have < threshold_) {
      return absl::FailedPreconditionError(
          absl::StrCat("only ", have, " of the ", threshold_, " shares needed to rebuild the ",
                       secret == SharedSecret::kSelfMaskSeed ? "self-mask seed" : "masking key",
                       " of client '", clients_[owner],
                       "' were revealed; too few of its neighbours "
                       "remain, so the round is abandoned"));
    }
    secrets.push_back({owner, secret, total_masks, masks});
    total_masks += masks;
    return absl::OkStatus();
  };
  for (uint32_t survivor : collected_) {
    if (absl::Status status = add(survivor, SharedSecret::kSelfMaskSeed, 1); !status.ok()) {
      return Fail(std::move(status));
    }
  }
  for (uint32_t dropped : shared_) {
    if (collected_.count(dropped) > 0) continue;
    const size_t surviving =
        std::count_if(graph_[dropped].begin(), graph_[dropped].end(),
                      [&](uint32_t slot) { return collected_.count(slot) > 0; });
    if (absl::Status status = add(dropped, SharedSecret::kMaskingKey, surviving); !status.ok()) {
      return Fail(std::move(status));
    }
  }
  // Rebuilding a secret and deriving its keys (an X25519 agreement per pairwise
  // mask) is a third of the work when many clients drop: it runs on every thread.
  std::vector<MaskStream> masks(total_masks);
  std::vector<absl::Status> results(secrets.size());
  std::vector<std::string> false_revealers(secrets.size());
  ParallelFor(secrets.size(), options_.threads, [&](size_t, size_t index) {
    const Secret& secret = secrets[index];
    results[index] = RebuildMasks(secret.owner, secret.secret,
                                  std::span(masks).subspan(secret.first_mask, secret.masks),
                                  false_revealers[index]);
  });
  for (absl::Status& result : results) {
    if (!result.ok()) return Fail(std::move(result));
  }
  false_revealers_.clear();
  for (std::string& revealer : false_revealers) {
    if (!revealer.empty()) false_revealers_.insert(std::move(revealer));
  }
  EQUIFL_RETURN_IF_ERROR(ApplyMasks(masks, sum_, options_.threads));
  phase_ = Phase::kDone;
  revealed_.clear();
  return std::move(sum_);
}

bool SecureAggregationServer::PhaseComplete() const {
  switch (phase_) {
    case Phase::kAdvertising:
      return keys_.size() == options_.selected.size();
    case Phase::kSharing:
      return shared_.size() == clients_.size();
    case Phase::kCollecting:
      return collected_.size() == shared_.size();
    case Phase::kUnmasking:
      return revealers_.size() == collected_.size();
    case Phase::kDone:
    case Phase::kFailed:
      return true;
  }
  return true;
}

std::vector<std::string> SecureAggregationServer::Survivors() const {
  std::vector<std::string> survivors;
  for (uint32_t slot : collected_) survivors.push_back(clients_[slot]);
  return survivors;
}

std::vector<std::string> SecureAggregationServer::UnableToContribute() const {
  std::vector<std::string> unable;
  for (const std::string& client_id : options_.selected) {
    const auto slot = slots_.find(client_id);
    if (slot == slots_.end() || shared_.count(slot->second) == 0) unable.push_back(client_id);
  }
  return unable;
}

}  // namespace equifl::aggregation
