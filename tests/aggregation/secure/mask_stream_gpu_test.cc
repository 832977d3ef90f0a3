// The CUDA mask kernel gives the words OpenSSL's ChaCha20 gives (mask_stream.h),
// for whole and partial blocks. Skips without a CUDA build or device.
#include <gtest/gtest.h>

#include <random>

#include "aggregation/secure/mask_stream.h"
#if defined(EQUIFL_HAVE_CUDA_MASKS)
#include "aggregation/secure/mask_stream_cuda.h"
#endif
#include "tests/testing/status_matchers.h"

namespace equifl::aggregation {
namespace {

using ::equifl::test::IsOk;

TEST(MaskStreamGpuTest, KernelMatchesOpenSsl) {
#if !defined(EQUIFL_HAVE_CUDA_MASKS)
  GTEST_SKIP() << "built without CUDA (EQUIFL_ENABLE_CUDA=OFF)";
#else
  if (!DeviceMasksAvailable()) GTEST_SKIP() << "no CUDA device";
  std::mt19937_64 engine(9);
  std::vector<MaskStream> streams;
  for (int i = 0; i < 23; ++i) {
    Key32 key;
    for (uint8_t& byte : key) byte = static_cast<uint8_t>(engine());
    streams.push_back({key, i % 2 == 1});
  }
  for (size_t size : {size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{1000003}}) {
    std::vector<uint32_t> cpu(size);
    for (uint32_t& word : cpu) word = static_cast<uint32_t>(engine());  // never zeros
    std::vector<uint32_t> gpu = cpu;
    ASSERT_THAT(ApplyMasks(streams, cpu, 0), IsOk());
    const absl::Status status = ApplyMasksOnDevice(streams, gpu);
    ASSERT_THAT(status, IsOk());
    EXPECT_EQ(gpu, cpu) << size << " words";
  }
#endif
}

}  // namespace
}  // namespace equifl::aggregation
