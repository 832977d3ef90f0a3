#include "server/secure_round.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/status_macros.h"

namespace equifl::server {
namespace {

using aggregation::EncryptedShare;
using aggregation::Key32;
using aggregation::RevealedShare;
using aggregation::SharedSecret;

constexpr uint32_t kRetryAfterMs = 100;
// A share's ciphertext is 104 bytes; anything far larger is not one.
constexpr size_t kMaxCiphertextBytes = 1024;

absl::StatusOr<Key32> KeyFromBytes(const std::string& bytes, const char* what) {
  Key32 key;
  if (bytes.size() != key.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", what, " is ", bytes.size(), " bytes; it must be 32"));
  }
  std::copy(bytes.begin(), bytes.end(), key.begin());
  return key;
}

std::string BytesOf(const Key32& key) { return std::string(key.begin(), key.end()); }

void ToProto(const EncryptedShare& share, v1::EncryptedShare& out) {
  out.set_sender_slot(share.sender_slot);
  out.set_recipient_slot(share.recipient_slot);
  out.set_ciphertext(std::string(share.ciphertext.begin(), share.ciphertext.end()));
}

}  // namespace

SecureRound::SecureRound(const aggregation::SecureRoundOptions& options,
                         const aggregation::SecureInputLayout& layout,
                         const aggregation::ClientNoise& noise)
    : layout_(layout),
      client_noise_(noise),
      round_id_(options.context.round_id),
      protocol_(options) {}

absl::Status SecureRound::FailureLocked() const {
  if (protocol_.phase() == Phase::kFailed) {
    return absl::FailedPreconditionError(
        absl::StrCat("secure aggregation of round ", round_id_, " failed: ", failure_.message()));
  }
  if (cancelled_) return absl::CancelledError("the run is stopping");
  return absl::OkStatus();
}

template <typename Step>
absl::Status SecureRound::Change(const Step& step) {
  absl::MutexLock lock(&mutex_);
  EQUIFL_RETURN_IF_ERROR(FailureLocked());
  EQUIFL_RETURN_IF_ERROR(step(protocol_));
  changed_.SignalAll();
  return absl::OkStatus();
}

void SecureRound::WaitWhileLocked(Phase phase, std::chrono::milliseconds timeout) {
  const absl::Time give_up = absl::Now() + absl::FromChrono(timeout);
  while (!cancelled_ && protocol_.phase() == phase && absl::Now() < give_up &&
         !changed_.WaitWithDeadline(&mutex_, give_up)) {
  }
}

void SecureRound::WaitForPhaseLocked(Clock::time_point until) {
  const absl::Time give_up = absl::FromChrono(until);
  while (!cancelled_ && !protocol_.PhaseComplete() && absl::Now() < give_up &&
         !changed_.WaitWithDeadline(&mutex_, give_up)) {
  }
}

absl::Status SecureRound::AdvertiseKeys(const v1::AdvertiseKeysRequest& request) {
  EQUIFL_ASSIGN_OR_RETURN(Key32 encryption,
                          KeyFromBytes(request.encryption_public_key(), "encryption public key"));
  EQUIFL_ASSIGN_OR_RETURN(Key32 masking,
                          KeyFromBytes(request.masking_public_key(), "masking public key"));
  EQUIFL_ASSIGN_OR_RETURN(
      Key32 commitment, KeyFromBytes(request.self_mask_commitment(), "self-mask seed commitment"));
  return Change([&](aggregation::SecureAggregationServer& protocol) {
    return protocol.AddKeys(request.client_id(), {encryption, masking, commitment});
  });
}

absl::Status SecureRound::GetNeighbours(const std::string& client_id,
                                        std::chrono::milliseconds timeout,
                                        v1::GetNeighboursResponse& response) {
  absl::MutexLock lock(&mutex_);
  WaitWhileLocked(Phase::kAdvertising, timeout);
  EQUIFL_RETURN_IF_ERROR(FailureLocked());
  if (protocol_.phase() == Phase::kAdvertising) {
    response.set_retry_after_ms(kRetryAfterMs);
    return absl::OkStatus();
  }
  EQUIFL_ASSIGN_OR_RETURN(aggregation::Neighbourhood neighbourhood,
                          protocol_.NeighbourhoodOf(client_id));
  v1::Neighbourhood& out = *response.mutable_neighbourhood();
  out.set_slot(neighbourhood.slot);
  out.set_threshold(neighbourhood.threshold);
  out.set_min_survivors(neighbourhood.min_survivors);
  for (const aggregation::SecurePeer& peer : neighbourhood.neighbours) {
    v1::SecurePeer& wire = *out.add_neighbours();
    wire.set_slot(peer.slot);
    wire.set_client_id(peer.client_id);
    wire.set_encryption_public_key(BytesOf(peer.keys.encryption));
    wire.set_masking_public_key(BytesOf(peer.keys.masking));
  }
  return absl::OkStatus();
}

absl::Status SecureRound::ShareKeys(const v1::ShareKeysRequest& request) {
  std::vector<EncryptedShare> shares;
  for (const v1::EncryptedShare& share : request.shares()) {
    if (share.ciphertext().size() > kMaxCiphertextBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("an encrypted share of ", share.ciphertext().size(), " bytes"));
    }
    shares.push_back({share.sender_slot(), share.recipient_slot(),
                      std::vector<uint8_t>(share.ciphertext().begin(), share.ciphertext().end())});
  }
  return Change([&](aggregation::SecureAggregationServer& protocol) {
    return protocol.AddShares(request.client_id(), std::move(shares));
  });
}

absl::Status SecureRound::GetShares(const std::string& client_id, std::chrono::milliseconds timeout,
                                    v1::GetSharesResponse& response) {
  absl::MutexLock lock(&mutex_);
  WaitWhileLocked(Phase::kAdvertising, timeout);
  WaitWhileLocked(Phase::kSharing, timeout);
  EQUIFL_RETURN_IF_ERROR(FailureLocked());
  if (protocol_.phase() == Phase::kAdvertising || protocol_.phase() == Phase::kSharing) {
    response.set_retry_after_ms(kRetryAfterMs);
    return absl::OkStatus();
  }
  EQUIFL_ASSIGN_OR_RETURN(std::vector<EncryptedShare> shares, protocol_.SharesFor(client_id));
  v1::EncryptedShares& out = *response.mutable_shares();
  for (const EncryptedShare& share : shares) ToProto(share, *out.add_shares());
  return absl::OkStatus();
}

absl::Status SecureRound::CheckMaskedInput(const std::string& client_id) {
  absl::MutexLock lock(&mutex_);
  EQUIFL_RETURN_IF_ERROR(FailureLocked());
  return protocol_.CheckMaskedInput(client_id);
}

absl::Status SecureRound::AddMaskedInput(const std::string& client_id,
                                         std::span<const uint32_t> words) {
  return Change([&](aggregation::SecureAggregationServer& protocol) {
    return protocol.AddMaskedInput(client_id, words);
  });
}

absl::Status SecureRound::GetUnmaskRequest(const std::string& client_id,
                                           std::chrono::milliseconds timeout,
                                           v1::GetUnmaskRequestResponse& response) {
  absl::MutexLock lock(&mutex_);
  const absl::Time give_up = absl::Now() + absl::FromChrono(timeout);
  while (!cancelled_ && protocol_.phase() != Phase::kUnmasking &&
         protocol_.phase() != Phase::kDone && protocol_.phase() != Phase::kFailed &&
         !changed_.WaitWithDeadline(&mutex_, give_up)) {
  }
  if (protocol_.phase() == Phase::kFailed) {
    response.set_not_a_survivor(std::string(FailureLocked().message()));
    return absl::OkStatus();
  }
  if (cancelled_) return FailureLocked();
  if (protocol_.phase() != Phase::kUnmasking && protocol_.phase() != Phase::kDone) {
    response.set_retry_after_ms(kRetryAfterMs);
    return absl::OkStatus();
  }
  absl::StatusOr<aggregation::UnmaskRequest> request = protocol_.UnmaskRequestFor(client_id);
  if (!request.ok()) {
    response.set_not_a_survivor(std::string(request.status().message()));
    return absl::OkStatus();
  }
  v1::UnmaskRequest& out = *response.mutable_request();
  for (uint32_t slot : request->survivors) out.add_survivors(slot);
  for (uint32_t slot : request->dropped) out.add_dropped(slot);
  out.set_total_survivors(request->total_survivors);
  return absl::OkStatus();
}

absl::Status SecureRound::RevealShares(const v1::RevealSharesRequest& request) {
  std::vector<RevealedShare> shares;
  for (const v1::RevealedShare& share : request.shares()) {
    if (share.values_size() != aggregation::kShamirLimbs) {
      return absl::InvalidArgumentError(absl::StrCat("a revealed share has ", share.values_size(),
                                                     " values; a share has ",
                                                     aggregation::kShamirLimbs));
    }
    RevealedShare revealed;
    revealed.owner_slot = share.owner_slot();
    revealed.secret =
        share.self_mask_seed() ? SharedSecret::kSelfMaskSeed : SharedSecret::kMaskingKey;
    revealed.share.x = share.x();
    std::copy(share.values().begin(), share.values().end(), revealed.share.values.begin());
    shares.push_back(revealed);
  }
  return Change([&](aggregation::SecureAggregationServer& protocol) {
    return protocol.AddRevealedShares(request.client_id(), shares);
  });
}

absl::Status SecureRound::CloseAdvertising(Clock::time_point until) {
  absl::MutexLock lock(&mutex_);
  WaitForPhaseLocked(until);
  EQUIFL_RETURN_IF_ERROR(FailureLocked());
  absl::Status status = protocol_.CloseAdvertising();
  if (!status.ok()) failure_ = status;
  changed_.SignalAll();
  return status;
}

absl::StatusOr<std::vector<std::string>> SecureRound::CloseSharing(Clock::time_point until) {
  absl::MutexLock lock(&mutex_);
  WaitForPhaseLocked(until);
  EQUIFL_RETURN_IF_ERROR(FailureLocked());
  const absl::Status status = protocol_.CloseSharing();
  changed_.SignalAll();
  if (!status.ok()) {
    failure_ = status;
    return status;
  }
  return protocol_.UnableToContribute();
}

absl::Status SecureRound::CloseCollection() {
  absl::MutexLock lock(&mutex_);
  EQUIFL_RETURN_IF_ERROR(FailureLocked());
  absl::Status status = protocol_.CloseCollection();
  if (!status.ok()) failure_ = status;
  changed_.SignalAll();
  return status;
}

absl::StatusOr<aggregation::SecureSum> SecureRound::Unmask(Clock::time_point until) {
  absl::StatusOr<std::vector<uint32_t>> sum;
  {
    absl::MutexLock lock(&mutex_);
    WaitForPhaseLocked(until);
    EQUIFL_RETURN_IF_ERROR(FailureLocked());
    sum = protocol_.Unmask();
    if (!sum.ok()) failure_ = sum.status();
    for (const std::string& client_id : protocol_.false_revealers()) {
      spdlog::warn(
          "round {}: client '{}' revealed a false secret share; it was found and left out, so "
          "the sum is right, but an honest client never does this: revoke its certificate",
          round_id_, client_id);
    }
    changed_.SignalAll();
  }
  if (!sum.ok()) return sum.status();
  return aggregation::DecodeSecureSum(layout_, *sum);
}

bool SecureRound::Unmasked() {
  absl::MutexLock lock(&mutex_);
  return protocol_.phase() == Phase::kDone;
}

void SecureRound::Cancel() {
  absl::MutexLock lock(&mutex_);
  cancelled_ = true;
  changed_.SignalAll();
}

}  // namespace equifl::server
