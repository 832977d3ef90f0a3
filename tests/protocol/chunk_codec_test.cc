#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "protocol/chunk_decoder.h"
#include "protocol/chunk_encoder.h"
#include "protocol/encoding.h"
#include "tests/protocol/test_model.h"
#include "tests/testing/status_matchers.h"

namespace equifl::protocol {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

constexpr size_t kChunkBytes = 4096;

std::vector<v1::TensorChunk> EncodeAll(ChunkEncoder& encoder) {
  std::vector<v1::TensorChunk> chunks;
  v1::TensorChunk chunk;
  while (true) {
    absl::StatusOr<bool> produced = encoder.Next(chunk);
    EXPECT_THAT(produced, IsOk());
    if (!produced.ok() || !*produced) break;
    chunks.push_back(chunk);
  }
  return chunks;
}

class ChunkCodecRoundTripTest : public ::testing::TestWithParam<v1::Encoding> {};

TEST_P(ChunkCodecRoundTripTest, DecodesWithinTheEncodingsBoundAgainstFloat64Reference) {
  const v1::Encoding encoding = GetParam();
  const TestModel model;
  absl::StatusOr<ChunkEncoder> encoder =
      ChunkEncoder::Create(model.Views(), {encoding, kChunkBytes});
  ASSERT_THAT(encoder, IsOk());
  const std::vector<v1::TensorChunk> chunks = EncodeAll(*encoder);
  ASSERT_EQ(chunks.size(), encoder->manifest().chunk_count());

  TestModel received = model.ZeroedCopy();
  absl::StatusOr<ChunkDecoder> decoder =
      ChunkDecoder::Create(encoder->manifest(), received.MutableViews());
  ASSERT_THAT(decoder, IsOk());
  for (const v1::TensorChunk& chunk : chunks) {
    EXPECT_LE(chunk.data().size(), kChunkBytes);
    ASSERT_THAT(decoder->Accept(chunk), IsOk());
  }
  ASSERT_THAT(std::move(*decoder).Finish(), IsOk());

  // Non-float32 tensors travel verbatim whatever the encoding.
  for (size_t t = 0; t < model.tensors.size(); ++t) {
    if (model.tensors[t].data_type != v1::DATA_TYPE_FLOAT32) {
      EXPECT_EQ(received.tensors[t].bytes, model.tensors[t].bytes) << model.tensors[t].name;
    }
  }
  // Float32 tensors: the documented bound per element, computed in float64, with
  // INT8's scale taken from the largest magnitude of the element's own chunk.
  for (const v1::TensorChunk& chunk : chunks) {
    const size_t t = chunk.tensor_index();
    if (model.tensors[t].data_type != v1::DATA_TYPE_FLOAT32) continue;
    const float* original = model.Floats(t);
    const float* decoded = received.Floats(t);
    const uint64_t begin = chunk.element_offset();
    const uint64_t end = begin + chunk.element_count();
    double chunk_max = 0;
    for (uint64_t i = begin; i < end; ++i)
      chunk_max = std::max(chunk_max, std::fabs(double{original[i]}));
    for (uint64_t i = begin; i < end; ++i) {
      const double x = original[i];
      const double error = std::fabs(double{decoded[i]} - x);
      double bound = 0;
      switch (encoding) {
        case v1::ENCODING_FLOAT16:
          bound = std::max(std::fabs(x) * std::ldexp(1.0, -11), std::ldexp(1.0, -25));
          break;
        case v1::ENCODING_BFLOAT16:
          bound = std::fabs(x) * std::ldexp(1.0, -8);
          break;
        case v1::ENCODING_INT8:
          bound = chunk_max / 127 * (0.5 + std::ldexp(1.0, -14));
          break;
        default:
          bound = 0;  // FLOAT32 is exact.
      }
      ASSERT_LE(error, bound) << model.tensors[t].name << "[" << i << "] = " << x;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllEncodings, ChunkCodecRoundTripTest,
                         ::testing::Values(v1::ENCODING_FLOAT32, v1::ENCODING_FLOAT16,
                                           v1::ENCODING_BFLOAT16, v1::ENCODING_INT8),
                         [](const auto& info) { return EncodingName(info.param); });

TEST(ChunkEncoderTest, ManifestDescribesTensorsInOrderAndCountsChunks) {
  const TestModel model;
  absl::StatusOr<ChunkEncoder> encoder =
      ChunkEncoder::Create(model.Views(), {v1::ENCODING_FLOAT16, kChunkBytes});
  ASSERT_THAT(encoder, IsOk());
  const v1::TensorManifest& manifest = encoder->manifest();
  ASSERT_EQ(manifest.tensors_size(), 6);
  EXPECT_EQ(manifest.tensors(0).name(), "encoder.weight");
  EXPECT_THAT(manifest.tensors(0).shape(), ::testing::ElementsAre(300, 257));
  EXPECT_EQ(manifest.tensors(2).shape_size(), 0);  // A scalar.
  EXPECT_EQ(manifest.encoding(), v1::ENCODING_FLOAT16);
  EXPECT_EQ(manifest.max_chunk_bytes(), kChunkBytes);
  // fp16: 2048 elements a chunk. 77100 -> 38 chunks, 257 -> 1, scalar -> 1,
  // empty -> 0; int64 (3 x 8 bytes) -> 1; float64 (5 x 8 bytes) -> 1.
  EXPECT_EQ(manifest.chunk_count(), 38u + 1 + 1 + 0 + 1 + 1);
}

TEST(ChunkEncoderTest, ChecksumDependsOnTheDecodedPayload) {
  TestModel model;
  absl::StatusOr<ChunkEncoder> first = ChunkEncoder::Create(model.Views(), {});
  ASSERT_THAT(first, IsOk());
  model.tensors[1].bytes[0] ^= std::byte{1};  // Changes one float32 mantissa bit.
  absl::StatusOr<ChunkEncoder> second = ChunkEncoder::Create(model.Views(), {});
  ASSERT_THAT(second, IsOk());
  EXPECT_NE(first->manifest().checksum(), second->manifest().checksum());
}

TEST(ChunkEncoderTest, RefusesUnrepresentableValuesBeforeSendingAnything) {
  TestModel model;
  float* weights = reinterpret_cast<float*>(model.tensors[0].bytes.data());
  weights[5] = 1e6f;
  absl::StatusOr<ChunkEncoder> encoder =
      ChunkEncoder::Create(model.Views(), {v1::ENCODING_FLOAT16, kChunkBytes});
  ASSERT_FALSE(encoder.ok());
  EXPECT_THAT(encoder.status().message(), HasSubstr("encoder.weight"));
  weights[5] = NAN;
  encoder = ChunkEncoder::Create(model.Views(), {v1::ENCODING_INT8, kChunkBytes});
  ASSERT_FALSE(encoder.ok());
  EXPECT_THAT(encoder.status().message(), HasSubstr("finite"));
}

TEST(ChunkEncoderTest, RefusesBadTensorsAndOptions) {
  TestModel model;
  std::vector<TensorView> views = model.Views();
  views[1].name = views[0].name;
  EXPECT_THAT(ChunkEncoder::Create(views, {}).status().message(), HasSubstr("appears twice"));

  views = model.Views();
  views[0].name.clear();
  EXPECT_THAT(ChunkEncoder::Create(views, {}).status().message(), HasSubstr("no name"));

  views = model.Views();
  views[1].shape = {258};
  EXPECT_THAT(ChunkEncoder::Create(views, {}).status().message(), HasSubstr("needs 1032 bytes"));

  views = model.Views();
  views[1].shape = {-1};
  EXPECT_THAT(ChunkEncoder::Create(views, {}).status().message(), HasSubstr("negative"));

  views = model.Views();
  views[1].data_type = v1::DATA_TYPE_UNSPECIFIED;
  EXPECT_FALSE(ChunkEncoder::Create(views, {}).ok());

  EXPECT_THAT(ChunkEncoder::Create(model.Views(), {v1::ENCODING_FLOAT32, 10}).status().message(),
              HasSubstr("max_chunk_bytes is 10"));
  EXPECT_THAT(ChunkEncoder::Create(model.Views(), {v1::ENCODING_UNSPECIFIED, kChunkBytes})
                  .status()
                  .message(),
              HasSubstr("allowed: fp32, fp16, bf16, int8"));
}

TEST(ChunkEncoderTest, EmptySetHasNoChunksAndDecodes) {
  absl::StatusOr<ChunkEncoder> encoder = ChunkEncoder::Create({}, {});
  ASSERT_THAT(encoder, IsOk());
  EXPECT_EQ(encoder->manifest().chunk_count(), 0u);
  v1::TensorChunk chunk;
  EXPECT_FALSE(*encoder->Next(chunk));
  absl::StatusOr<ChunkDecoder> decoder = ChunkDecoder::Create(encoder->manifest(), {});
  ASSERT_THAT(decoder, IsOk());
  EXPECT_THAT(std::move(*decoder).Finish(), IsOk());
}

}  // namespace
}  // namespace equifl::protocol
