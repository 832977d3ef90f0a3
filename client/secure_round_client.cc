#include "client/secure_round_client.h"

#include <grpcpp/grpcpp.h>

#include <cmath>
#include <thread>

#include "absl/strings/str_cat.h"
#include "aggregation/secure/key_agreement.h"
#if defined(EQUIFL_HAVE_CUDA_MASKS)
#include "aggregation/secure/mask_stream_cuda.h"
#endif
#include "base/status_macros.h"
#include "protocol/tensor_stream.h"

namespace equifl::client {
namespace {

using aggregation::Key32;

// How long after the round's deadline a client keeps waiting for a later phase
// (unmasking follows the deadline).
constexpr auto kAfterDeadline = std::chrono::minutes(10);
constexpr auto kCallTimeout = std::chrono::seconds(60);

absl::StatusOr<Key32> KeyFrom(const std::string& bytes) {
  Key32 key;
  if (bytes.size() != key.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the server sent a public key of ", bytes.size(), " bytes"));
  }
  std::copy(bytes.begin(), bytes.end(), key.begin());
  return key;
}

std::string BytesOf(const Key32& key) { return std::string(key.begin(), key.end()); }

absl::StatusOr<aggregation::SecureInputLayout> LayoutOf(const v1::Task& task, uint64_t model_size) {
  const v1::SecureAggregationTask& secure = task.secure_aggregation();
  aggregation::SecureInputLayout layout;
  layout.update_size = task.kind() == v1::TASK_KIND_TRAIN ? model_size : 0;
  layout.statistics.languages.assign(secure.languages().begin(), secure.languages().end());
  layout.statistics.views.assign(secure.views().begin(), secure.views().end());
  layout.statistics.groups.assign(secure.groups().begin(), secure.groups().end());
  layout.statistics.num_classes = secure.num_classes();
  layout.max_clients = secure.selected_clients();
  layout.update_bound = secure.update_bound();
  layout.weight_bound = secure.weight_bound();
  layout.indicator_bound = secure.indicator_bound();
  layout.exact_sums = task.kind() == v1::TASK_KIND_FEATURE_MOMENTS ? secure.exact_sums() : 0;
  layout.statistics.noised = secure.noised_statistics();
  const v1::ClientPrivacy& privacy = task.privacy();
  if (layout.statistics.noised &&
      !(privacy.statistics_noise_stddev() > 0 && privacy.statistics_samples_per_view() > 0 &&
        privacy.statistics_loss_clip() > 0 && std::isfinite(privacy.statistics_noise_stddev()) &&
        std::isfinite(privacy.statistics_loss_clip()))) {
    return absl::InvalidArgumentError(
        "the task asks for noised statistics without a usable bound and noise for them");
  }
  if (absl::Status status = layout.Validate(); !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the task's secure-aggregation layout is unusable: ", status.message()));
  }
  return layout;
}

}  // namespace

SecureRoundClient::SecureRoundClient(ClientIdentity identity, v1::Task task,
                                     aggregation::SecureInputLayout layout,
                                     aggregation::SecureAggregationClient protocol)
    : identity_(std::move(identity)),
      task_(std::move(task)),
      layout_(std::move(layout)),
      protocol_(std::move(protocol)) {}

absl::StatusOr<SecureRoundClient> SecureRoundClient::Advertise(v1::Aggregator::StubInterface& stub,
                                                               const ClientIdentity& identity,
                                                               const v1::Task& task,
                                                               uint64_t model_size) {
  if (!task.has_secure_aggregation()) {
    return absl::InvalidArgumentError("the task is not securely aggregated");
  }
  EQUIFL_ASSIGN_OR_RETURN(aggregation::SecureInputLayout layout, LayoutOf(task, model_size));
  EQUIFL_ASSIGN_OR_RETURN(aggregation::SecureAggregationClient protocol,
                          aggregation::SecureAggregationClient::Create(
                              {task.round().run_id(), task.round().round_id()}));
  v1::AdvertiseKeysRequest request;
  *request.mutable_round() = task.round();
  request.set_client_id(identity.client_id);
  request.set_encryption_public_key(BytesOf(protocol.public_keys().encryption));
  request.set_masking_public_key(BytesOf(protocol.public_keys().masking));
  request.set_self_mask_commitment(BytesOf(protocol.public_keys().self_mask_commitment));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  v1::SecureAggregationAck ack;
  EQUIFL_RETURN_IF_ERROR(
      FromGrpc(stub.AdvertiseKeys(&context, request, &ack), "advertising secure-aggregation keys"));
  return SecureRoundClient(identity, task, std::move(layout), std::move(protocol));
}

v1::SecureStepRequest SecureRoundClient::Step() const {
  v1::SecureStepRequest request;
  *request.mutable_round() = task_.round();
  request.set_client_id(identity_.client_id);
  return request;
}

template <typename Response, typename Call>
absl::StatusOr<Response> SecureRoundClient::Poll(const char* what, const Call& call) {
  const auto give_up =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(task_.deadline_unix_ms())) +
      kAfterDeadline;
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    Response response;
    EQUIFL_RETURN_IF_ERROR(FromGrpc(call(context, response), what));
    if (response.retry_after_ms() == 0) return response;
    if (std::chrono::system_clock::now() > give_up) {
      return absl::DeadlineExceededError(
          absl::StrCat(what, ": the round's secure aggregation did not move on in time"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(response.retry_after_ms()));
  }
}

absl::Status SecureRoundClient::ShareKeys(v1::Aggregator::StubInterface& stub) {
  const v1::SecureStepRequest step = Step();
  EQUIFL_ASSIGN_OR_RETURN(v1::GetNeighboursResponse response,
                          Poll<v1::GetNeighboursResponse>(
                              "waiting for the neighbourhood", [&](auto& context, auto& out) {
                                return stub.GetNeighbours(&context, step, &out);
                              }));
  const v1::Neighbourhood& wire = response.neighbourhood();
  aggregation::Neighbourhood neighbourhood;
  neighbourhood.slot = wire.slot();
  neighbourhood.threshold = wire.threshold();
  neighbourhood.min_survivors = wire.min_survivors();
  for (const v1::SecurePeer& peer : wire.neighbours()) {
    EQUIFL_ASSIGN_OR_RETURN(Key32 encryption, KeyFrom(peer.encryption_public_key()));
    EQUIFL_ASSIGN_OR_RETURN(Key32 masking, KeyFrom(peer.masking_public_key()));
    // Commitments stay with the server, which checks the revealed seeds against them.
    neighbourhood.neighbours.push_back(
        {peer.slot(), peer.client_id(), {encryption, masking, /*self_mask_commitment=*/{}}});
  }
  EQUIFL_ASSIGN_OR_RETURN(std::vector<aggregation::EncryptedShare> shares,
                          protocol_.ShareKeys(neighbourhood));
  v1::ShareKeysRequest request;
  *request.mutable_round() = task_.round();
  request.set_client_id(identity_.client_id);
  for (const aggregation::EncryptedShare& share : shares) {
    v1::EncryptedShare& out = *request.add_shares();
    out.set_sender_slot(share.sender_slot);
    out.set_recipient_slot(share.recipient_slot);
    out.set_ciphertext(std::string(share.ciphertext.begin(), share.ciphertext.end()));
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  v1::SecureAggregationAck ack;
  return FromGrpc(stub.ShareKeys(&context, request, &ack), "sharing secure-aggregation keys");
}

absl::Status SecureRoundClient::ReceiveShares(v1::Aggregator::StubInterface& stub) {
  const v1::SecureStepRequest step = Step();
  EQUIFL_ASSIGN_OR_RETURN(v1::GetSharesResponse response,
                          Poll<v1::GetSharesResponse>("waiting for the neighbours' shares",
                                                      [&](auto& context, auto& out) {
                                                        return stub.GetShares(&context, step, &out);
                                                      }));
  std::vector<aggregation::EncryptedShare> shares;
  for (const v1::EncryptedShare& share : response.shares().shares()) {
    shares.push_back({share.sender_slot(), share.recipient_slot(),
                      std::vector<uint8_t>(share.ciphertext().begin(), share.ciphertext().end())});
  }
  return protocol_.ReceiveShares(shares);
}

absl::Status SecureRoundClient::UploadMaskedInput(v1::Aggregator::StubInterface& stub,
                                                  const aggregation::SecureInput& input,
                                                  size_t max_chunk_bytes, int threads,
                                                  bool on_gpu) {
  // The server cannot bound a masked update's norm: the client does, as asked.
  const double norm_bound = task_.secure_aggregation().update_norm_bound();
  const aggregation::SecureInput* encoded = &input;
  aggregation::SecureInput bounded;
  std::vector<float> bounded_update;
  if (norm_bound > 0 && !input.update.empty()) {
    bounded = input;
    bounded_update.assign(input.update.begin(), input.update.end());
    aggregation::ClipToNorm(bounded_update, norm_bound);
    bounded.update = bounded_update;
    encoded = &bounded;
  }
  std::vector<uint32_t> words;
  EQUIFL_ASSIGN_OR_RETURN(bool clamped, aggregation::EncodeSecureInput(layout_, *encoded, words));
  (void)clamped;  // the server learns how many clients clamped, and says so
#if defined(EQUIFL_HAVE_CUDA_MASKS)
  if (on_gpu && aggregation::DeviceMasksAvailable()) {
    EQUIFL_ASSIGN_OR_RETURN(std::vector<aggregation::MaskStream> masks, protocol_.Masks());
    EQUIFL_RETURN_IF_ERROR(aggregation::ApplyMasksOnDevice(masks, words));
  } else {
    EQUIFL_RETURN_IF_ERROR(protocol_.Mask(words, threads));
  }
#else
  (void)on_gpu;
  EQUIFL_RETURN_IF_ERROR(protocol_.Mask(words, threads));
#endif
  protocol::CodecOptions codec;
  codec.max_chunk_bytes = max_chunk_bytes;
  EQUIFL_ASSIGN_OR_RETURN(protocol::ChunkEncoder encoder,
                          protocol::ChunkEncoder::Create({{"masked_input",
                                                           v1::DATA_TYPE_INT32,
                                                           {static_cast<int64_t>(words.size())},
                                                           std::as_bytes(std::span(words))}},
                                                         codec));
  v1::UpdateHeader header;
  header.set_client_id(identity_.client_id);
  header.set_model_version(task_.model_version());
  header.set_masked_input(true);
  EQUIFL_RETURN_IF_ERROR(
      UploadStream(stub, task_.round(), std::move(header), encoder, "the masked input"));
  counted_ = true;
  return absl::OkStatus();
}

absl::Status SecureRoundClient::Unmask(v1::Aggregator::StubInterface& stub) {
  if (!counted_) return absl::FailedPreconditionError("no masked input of this client counted");
  const v1::SecureStepRequest step = Step();
  EQUIFL_ASSIGN_OR_RETURN(v1::GetUnmaskRequestResponse response,
                          Poll<v1::GetUnmaskRequestResponse>(
                              "waiting for the unmasking request", [&](auto& context, auto& out) {
                                return stub.GetUnmaskRequest(&context, step, &out);
                              }));
  if (response.has_not_a_survivor()) {
    return absl::FailedPreconditionError(
        absl::StrCat("nothing to reveal: ", response.not_a_survivor()));
  }
  aggregation::UnmaskRequest request;
  request.survivors.assign(response.request().survivors().begin(),
                           response.request().survivors().end());
  request.dropped.assign(response.request().dropped().begin(), response.request().dropped().end());
  request.total_survivors = response.request().total_survivors();
  EQUIFL_ASSIGN_OR_RETURN(std::vector<aggregation::RevealedShare> shares,
                          protocol_.Unmask(request));
  v1::RevealSharesRequest reveal;
  *reveal.mutable_round() = task_.round();
  reveal.set_client_id(identity_.client_id);
  for (const aggregation::RevealedShare& share : shares) {
    v1::RevealedShare& out = *reveal.add_shares();
    out.set_owner_slot(share.owner_slot);
    out.set_self_mask_seed(share.secret == aggregation::SharedSecret::kSelfMaskSeed);
    out.set_x(share.share.x);
    for (uint64_t value : share.share.values) out.add_values(value);
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  v1::SecureAggregationAck ack;
  return FromGrpc(stub.RevealShares(&context, reveal, &ack), "revealing shares");
}

absl::StatusOr<double> ApplyClientPrivacy(const v1::ClientPrivacy& privacy,
                                          std::vector<float>& update) {
  return aggregation::AddClientNoise(ClientNoiseOf(privacy), update);
}

aggregation::ClientNoise ClientNoiseOf(const v1::ClientPrivacy& privacy) {
  aggregation::ClientNoise noise;
  noise.clip_norm = privacy.clip_norm();
  noise.noise_stddev = privacy.noise_stddev();
  noise.indicator_noise_stddev = privacy.indicator_noise_stddev();
  noise.statistics.samples_per_view = privacy.statistics_samples_per_view();
  noise.statistics.loss_clip = privacy.statistics_loss_clip();
  noise.statistics_noise_stddev = privacy.statistics_noise_stddev();
  return noise;
}

}  // namespace equifl::client
