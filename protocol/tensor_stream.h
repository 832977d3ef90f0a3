// Sends and receives tensor sets over the service's two streaming calls.
//
// DownloadModel (server to client): a manifest, then the chunks. UploadUpdate
// (client to server): an UpdateHeader carrying the manifest and the client's
// statistics, then the chunks. Every message is stamped with its run and round;
// the receiver refuses messages of another run or round, and checks the payload
// as ChunkDecoder does. Memory stays at one chunk per stream besides the tensors.
#ifndef EQUIFL_PROTOCOL_TENSOR_STREAM_H_
#define EQUIFL_PROTOCOL_TENSOR_STREAM_H_

#include <grpcpp/support/sync_stream.h>

#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "equifl/v1/aggregator.pb.h"
#include "protocol/chunk_decoder.h"
#include "protocol/chunk_encoder.h"

namespace equifl::protocol {

//! Chooses where the tensors a manifest describes are decoded to (for example by
//! matching the receiver's model, or by allocating with AllocateFor).
using DestinationsFor = std::function<absl::StatusOr<std::vector<MutableTensorView>>(
    const v1::TensorManifest& manifest)>;

//! OK when `got` names the same run and round as `expected`; otherwise a
//! FailedPrecondition status naming both.
absl::Status CheckRound(const v1::RoundReference& expected, const v1::RoundReference& got);

//! Server side of DownloadModel: writes `encoder`'s manifest and every chunk.
//! Fails when the client goes away (a write returns false) or the encoder fails.
absl::Status WriteModelStream(const v1::RoundReference& round, ChunkEncoder& encoder,
                              grpc::ServerWriterInterface<v1::DownloadModelResponse>& writer);

//! Client side of DownloadModel: reads the manifest and its chunks into the
//! destinations chosen by `destinations_for`. Returns the manifest.
absl::StatusOr<v1::TensorManifest> ReadModelStream(
    const v1::RoundReference& round, grpc::ClientReaderInterface<v1::DownloadModelResponse>& reader,
    const DestinationsFor& destinations_for, const DecoderLimits& limits = {});

//! Client side of UploadUpdate: writes `header` (its `update` manifest replaced by
//! `encoder`'s) and then every chunk. Does not call WritesDone or Finish.
absl::Status WriteUpdateStream(const v1::RoundReference& round, v1::UpdateHeader header,
                               ChunkEncoder& encoder,
                               grpc::ClientWriterInterface<v1::UploadUpdateRequest>& writer);

//! Server side of UploadUpdate, first half: reads the opening message, which must
//! carry a header, and returns it with its round, so the server can check the round
//! and the client before it accepts any chunk.
absl::StatusOr<v1::UploadUpdateRequest> ReadUpdateHeader(
    grpc::ServerReaderInterface<v1::UploadUpdateRequest>& reader);

//! Server side of UploadUpdate, second half: reads the chunks that `manifest`
//! announces into `destinations`, refusing messages of another round than `round`.
absl::Status ReadUpdateChunks(const v1::RoundReference& round, const v1::TensorManifest& manifest,
                              std::vector<MutableTensorView> destinations,
                              grpc::ServerReaderInterface<v1::UploadUpdateRequest>& reader,
                              const DecoderLimits& limits = {});

}  // namespace equifl::protocol

#endif  // EQUIFL_PROTOCOL_TENSOR_STREAM_H_
