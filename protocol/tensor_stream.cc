#include "protocol/tensor_stream.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace equifl::protocol {
namespace {

// Sends every chunk of `encoder` through `writer` in `message`, whose round is set.
// One message is reused, so its chunk buffer keeps its capacity between chunks.
template <typename Message, typename Writer>
absl::Status WriteChunks(ChunkEncoder& encoder, Message& message, Writer& writer) {
  v1::TensorChunk* chunk = message.mutable_chunk();
  uint64_t sent = 0;
  while (true) {
    EQUIFL_ASSIGN_OR_RETURN(bool produced, encoder.Next(*chunk));
    if (!produced) return absl::OkStatus();
    if (!writer.Write(message)) {
      return absl::UnavailableError(absl::StrCat("the peer closed the stream after ", sent, " of ",
                                                 encoder.manifest().chunk_count(), " chunks"));
    }
    ++sent;
  }
}

// Decodes the chunks that follow a manifest, message by message from `reader`.
template <typename Message, typename Reader>
absl::Status ReadChunks(const v1::RoundReference& round, ChunkDecoder decoder, Reader& reader) {
  Message message;
  while (reader.Read(&message)) {
    EQUIFL_RETURN_IF_ERROR(CheckRound(round, message.round()));
    if (!message.has_chunk()) {
      return absl::InvalidArgumentError("a tensor stream repeated its opening message");
    }
    EQUIFL_RETURN_IF_ERROR(decoder.Accept(message.chunk()));
  }
  return std::move(decoder).Finish();
}

}  // namespace

absl::Status CheckRound(const v1::RoundReference& expected, const v1::RoundReference& got) {
  if (got.run_id() != expected.run_id() || got.round_id() != expected.round_id()) {
    return absl::FailedPreconditionError(
        absl::StrCat("message for run '", got.run_id(), "' round ", got.round_id(),
                     "; expected run '", expected.run_id(), "' round ", expected.round_id()));
  }
  return absl::OkStatus();
}

absl::Status WriteModelStream(const v1::RoundReference& round, ChunkEncoder& encoder,
                              grpc::ServerWriterInterface<v1::DownloadModelResponse>& writer) {
  v1::DownloadModelResponse message;
  *message.mutable_round() = round;
  *message.mutable_manifest() = encoder.manifest();
  if (!writer.Write(message)) {
    return absl::UnavailableError("the client closed the stream before the manifest");
  }
  return WriteChunks(encoder, message, writer);
}

absl::StatusOr<v1::TensorManifest> ReadModelStream(
    const v1::RoundReference& round, grpc::ClientReaderInterface<v1::DownloadModelResponse>& reader,
    const DestinationsFor& destinations_for, const DecoderLimits& limits) {
  v1::DownloadModelResponse message;
  if (!reader.Read(&message)) {
    return absl::DataLossError("the model stream ended before its manifest");
  }
  EQUIFL_RETURN_IF_ERROR(CheckRound(round, message.round()));
  if (!message.has_manifest()) {
    return absl::InvalidArgumentError("the model stream did not start with a manifest");
  }
  v1::TensorManifest manifest = std::move(*message.mutable_manifest());
  EQUIFL_RETURN_IF_ERROR(ValidateManifest(manifest, limits));
  EQUIFL_ASSIGN_OR_RETURN(std::vector<MutableTensorView> destinations, destinations_for(manifest));
  EQUIFL_ASSIGN_OR_RETURN(ChunkDecoder decoder,
                          ChunkDecoder::Create(manifest, std::move(destinations), limits));
  EQUIFL_RETURN_IF_ERROR(
      (ReadChunks<v1::DownloadModelResponse>(round, std::move(decoder), reader)));
  return manifest;
}

absl::Status WriteUpdateStream(const v1::RoundReference& round, v1::UpdateHeader header,
                               ChunkEncoder& encoder,
                               grpc::ClientWriterInterface<v1::UploadUpdateRequest>& writer) {
  v1::UploadUpdateRequest message;
  *message.mutable_round() = round;
  *header.mutable_update() = encoder.manifest();
  *message.mutable_header() = std::move(header);
  if (!writer.Write(message)) {
    return absl::UnavailableError("the server closed the stream before the update header");
  }
  return WriteChunks(encoder, message, writer);
}

absl::StatusOr<v1::UploadUpdateRequest> ReadUpdateHeader(
    grpc::ServerReaderInterface<v1::UploadUpdateRequest>& reader) {
  v1::UploadUpdateRequest message;
  if (!reader.Read(&message)) {
    return absl::DataLossError("the update stream ended before its header");
  }
  if (!message.has_header()) {
    return absl::InvalidArgumentError("the update stream did not start with a header");
  }
  return message;
}

absl::Status ReadUpdateChunks(const v1::RoundReference& round, const v1::TensorManifest& manifest,
                              std::vector<MutableTensorView> destinations,
                              grpc::ServerReaderInterface<v1::UploadUpdateRequest>& reader,
                              const DecoderLimits& limits) {
  EQUIFL_ASSIGN_OR_RETURN(ChunkDecoder decoder,
                          ChunkDecoder::Create(manifest, std::move(destinations), limits));
  return ReadChunks<v1::UploadUpdateRequest>(round, std::move(decoder), reader);
}

}  // namespace equifl::protocol
