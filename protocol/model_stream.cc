#include "protocol/model_stream.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace equifl::protocol {
namespace {

absl::Status CheckRound(const v1::RoundReference& expected, const v1::RoundReference& got) {
  if (got.run_id() != expected.run_id() || got.round_id() != expected.round_id()) {
    return absl::FailedPreconditionError(
        absl::StrCat("message for run '", got.run_id(), "' round ", got.round_id(),
                     "; expected run '", expected.run_id(), "' round ", expected.round_id()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteModelStream(const v1::RoundReference& round, ChunkEncoder& encoder,
                              grpc::ServerWriterInterface<v1::DownloadModelResponse>& writer) {
  v1::DownloadModelResponse message;
  *message.mutable_round() = round;
  *message.mutable_manifest() = encoder.manifest();
  if (!writer.Write(message)) {
    return absl::UnavailableError("the receiver closed the stream before the manifest");
  }
  // One chunk message, reused: its buffer keeps its capacity between chunks.
  v1::TensorChunk* chunk = message.mutable_chunk();
  uint64_t sent = 0;
  while (true) {
    EQUIFL_ASSIGN_OR_RETURN(bool produced, encoder.Next(*chunk));
    if (!produced) return absl::OkStatus();
    if (!writer.Write(message)) {
      return absl::UnavailableError(absl::StrCat("the receiver closed the stream after ", sent,
                                                 " of ", encoder.manifest().chunk_count(),
                                                 " chunks"));
    }
    ++sent;
  }
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
  while (reader.Read(&message)) {
    EQUIFL_RETURN_IF_ERROR(CheckRound(round, message.round()));
    if (!message.has_chunk()) {
      return absl::InvalidArgumentError("the model stream repeated its manifest");
    }
    EQUIFL_RETURN_IF_ERROR(decoder.Accept(message.chunk()));
  }
  EQUIFL_RETURN_IF_ERROR(std::move(decoder).Finish());
  return manifest;
}

}  // namespace equifl::protocol
