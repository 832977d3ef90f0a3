// A module's state as named tensors: what travels between client and server.
//
// The names are LibTorch's own (named_parameters, then named_buffers, e.g.
// "encoders.video.layers.0.weight"), so the server, every client and a Python
// user holding the same architecture agree on them. Loading is all or nothing:
// every tensor is checked before the first one is written.
#ifndef EQUIFL_CLIENT_MODEL_MODEL_STATE_H_
#define EQUIFL_CLIENT_MODEL_MODEL_STATE_H_

#include <torch/nn/module.h>

#include <vector>

#include "absl/status/status.h"
#include "protocol/torch/torch_tensors.h"

namespace equifl::client {

//! Detached copies of every parameter, then every buffer, of `module`, on the
//! module's device (protocol::ToContiguousCpu readies them for the wire).
std::vector<protocol::NamedTensor> ExportState(const torch::nn::Module& module);

//! Copies `state` into `module`'s parameters and buffers (converting device, not
//! data type). Refuses, naming the tensor and changing nothing, a state with a
//! tensor the module lacks, a duplicate, a missing tensor, or a data type or
//! shape that differs from the module's.
absl::Status LoadState(torch::nn::Module& module, const std::vector<protocol::NamedTensor>& state);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MODEL_MODEL_STATE_H_
