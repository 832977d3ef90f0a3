// The CUDA side of mask_stream_cuda.h, in plain C++ and CUDA (no Abseil, which
// nvcc need not parse): each function returns an empty string or what failed.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "aggregation/secure/chacha20_block.h"

namespace equifl::aggregation::cuda {
namespace {

using chacha20::kBlockWords;

std::string Describe(const char* what, cudaError_t error) {
  return std::string(what) + ": " + cudaGetErrorString(error);
}

// Thread b adds block b of every mask: keys are 8 words per mask, `subtract` one
// byte per mask.
__global__ void ApplyMasksKernel(const uint32_t* keys, const uint8_t* subtract, int streams,
                                 uint32_t* words, uint64_t count) {
  const uint64_t blocks = (count + kBlockWords - 1) / kBlockWords;
  for (uint64_t block = blockIdx.x * static_cast<uint64_t>(blockDim.x) + threadIdx.x;
       block < blocks; block += static_cast<uint64_t>(gridDim.x) * blockDim.x) {
    uint32_t sum[kBlockWords];
    chacha20::MaskBlockSum(keys, subtract, streams, block, sum);
    const uint64_t first = block * kBlockWords;
    if (first + kBlockWords <= count) {
      // A whole block: four 16-byte accesses (words is cudaMalloc'd: 256-byte aligned).
      uint4* target = reinterpret_cast<uint4*>(words + first);
      for (int quad = 0; quad < kBlockWords / 4; ++quad) {
        uint4 value = target[quad];
        value.x += sum[4 * quad];
        value.y += sum[4 * quad + 1];
        value.z += sum[4 * quad + 2];
        value.w += sum[4 * quad + 3];
        target[quad] = value;
      }
    } else {
      // The last, partial block; fixed indices keep `sum` in registers.
#pragma unroll
      for (int i = 0; i < kBlockWords; ++i) {
        if (first + i < count) words[first + i] += sum[i];
      }
    }
  }
}

// Device copies of the masks' keys and signs.
struct DeviceMasks {
  uint32_t* keys = nullptr;
  uint8_t* subtract = nullptr;
  ~DeviceMasks() {
    cudaFree(keys);
    cudaFree(subtract);
  }
};

std::string Upload(const uint32_t* keys, const uint8_t* subtract, int streams,
                   DeviceMasks& device) {
  cudaError_t error = cudaMalloc(&device.keys, sizeof(uint32_t) * 8 * streams);
  if (error == cudaSuccess) error = cudaMalloc(&device.subtract, streams);
  if (error == cudaSuccess) {
    error = cudaMemcpy(device.keys, keys, sizeof(uint32_t) * 8 * streams, cudaMemcpyHostToDevice);
  }
  if (error == cudaSuccess) {
    error = cudaMemcpy(device.subtract, subtract, streams, cudaMemcpyHostToDevice);
  }
  return error == cudaSuccess ? "" : Describe("copying the mask keys to the GPU", error);
}

std::string Launch(const DeviceMasks& masks, int streams, uint32_t* words, uint64_t count) {
  constexpr int kThreads = 256;
  const uint64_t blocks = (count + kBlockWords - 1) / kBlockWords;
  int device = 0;
  int processors = 1;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&processors, cudaDevAttrMultiProcessorCount, device);
  const uint64_t wanted = (blocks + kThreads - 1) / kThreads;
  const unsigned grid =
      static_cast<unsigned>(std::max<uint64_t>(1, std::min<uint64_t>(wanted, processors * 32)));
  ApplyMasksKernel<<<grid, kThreads>>>(masks.keys, masks.subtract, streams, words, count);
  const cudaError_t error = cudaGetLastError();
  return error == cudaSuccess ? "" : Describe("launching the mask kernel", error);
}

}  // namespace

bool Available() {
  int devices = 0;
  return cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0;
}

std::string ApplyMasks(const uint32_t* keys, const uint8_t* subtract, int streams,
                       uint32_t* host_words, uint64_t count) {
  if (streams == 0 || count == 0) return "";
  DeviceMasks masks;
  if (std::string error = Upload(keys, subtract, streams, masks); !error.empty()) return error;
  uint32_t* words = nullptr;
  cudaError_t status = cudaMalloc(&words, sizeof(uint32_t) * count);
  if (status != cudaSuccess) return Describe("allocating the masked vector on the GPU", status);
  std::string error;
  status = cudaMemcpy(words, host_words, sizeof(uint32_t) * count, cudaMemcpyHostToDevice);
  if (status != cudaSuccess) error = Describe("copying the vector to the GPU", status);
  if (error.empty()) error = Launch(masks, streams, words, count);
  if (error.empty()) {
    status = cudaMemcpy(host_words, words, sizeof(uint32_t) * count, cudaMemcpyDeviceToHost);
    if (status != cudaSuccess) error = Describe("running the mask kernel", status);
  }
  cudaFree(words);
  return error;
}

std::string MeasureRate(uint64_t count, int streams, double& gigabytes_per_second) {
  std::vector<uint32_t> keys(8 * streams);
  std::vector<uint8_t> subtract(streams);
  for (int stream = 0; stream < streams; ++stream) {
    for (int word = 0; word < 8; ++word)
      keys[8 * stream + word] = 0x9e3779b9u * (stream * 8 + word + 1);
    subtract[stream] = stream % 2;
  }
  DeviceMasks masks;
  if (std::string error = Upload(keys.data(), subtract.data(), streams, masks); !error.empty()) {
    return error;
  }
  uint32_t* words = nullptr;
  cudaError_t status = cudaMalloc(&words, sizeof(uint32_t) * count);
  if (status != cudaSuccess) return Describe("allocating the vector on the GPU", status);
  cudaEvent_t start = nullptr;
  cudaEvent_t stop = nullptr;
  std::string error;
  status = cudaMemset(words, 0x5a, sizeof(uint32_t) * count);  // never time on zeros
  if (status == cudaSuccess) status = cudaEventCreate(&start);
  if (status == cudaSuccess) status = cudaEventCreate(&stop);
  if (status != cudaSuccess) error = Describe("preparing the timing", status);
  if (error.empty()) error = Launch(masks, streams, words, count);  // warm-up
  constexpr int kRepeats = 10;
  if (error.empty()) {
    cudaEventRecord(start);
    for (int repeat = 0; repeat < kRepeats && error.empty(); ++repeat) {
      error = Launch(masks, streams, words, count);
    }
    cudaEventRecord(stop);
    status = cudaEventSynchronize(stop);
    if (error.empty() && status != cudaSuccess) error = Describe("running the mask kernel", status);
  }
  if (error.empty()) {
    float milliseconds = 0;
    cudaEventElapsedTime(&milliseconds, start, stop);
    gigabytes_per_second =
        4.0 * streams * static_cast<double>(count) * kRepeats / 1e9 / (milliseconds / 1e3);
  }
  if (start != nullptr) cudaEventDestroy(start);
  if (stop != nullptr) cudaEventDestroy(stop);
  cudaFree(words);
  return error;
}

}  // namespace equifl::aggregation::cuda
