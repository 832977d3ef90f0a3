// Sends and receives a model (or update) over a gRPC stream of DownloadModel
// messages: the manifest first, then the chunks, every message stamped with the
// round it belongs to. The receiver refuses messages of another run or round.
#ifndef EQUIFL_PROTOCOL_MODEL_STREAM_H_
#define EQUIFL_PROTOCOL_MODEL_STREAM_H_

#include <grpcpp/support/sync_stream.h>

#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "equifl/v1/aggregator.pb.h"
#include "protocol/chunk_decoder.h"
#include "protocol/chunk_encoder.h"

namespace equifl::protocol {

//! Writes `encoder`'s manifest and every chunk to `writer`. Fails when the peer
//! goes away (a write returns false) or the encoder fails.
absl::Status WriteModelStream(const v1::RoundReference& round, ChunkEncoder& encoder,
                              grpc::ServerWriterInterface<v1::DownloadModelResponse>& writer);

//! Chooses where the tensors a manifest describes are decoded to (for example by
//! matching the receiver's model, or by allocating with AllocateFor).
using DestinationsFor = std::function<absl::StatusOr<std::vector<MutableTensorView>>(
    const v1::TensorManifest& manifest)>;

//! Reads a manifest and its chunks from `reader` into the destinations chosen by
//! `destinations_for`, checking each message's round against `round` and the
//! payload as ChunkDecoder does. Returns the manifest.
absl::StatusOr<v1::TensorManifest> ReadModelStream(
    const v1::RoundReference& round, grpc::ClientReaderInterface<v1::DownloadModelResponse>& reader,
    const DestinationsFor& destinations_for, const DecoderLimits& limits = {});

}  // namespace equifl::protocol

#endif  // EQUIFL_PROTOCOL_MODEL_STREAM_H_
