// Every malformed input the decoder must refuse with a clear status, never a crash.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <random>

#include "protocol/chunk_decoder.h"
#include "protocol/chunk_encoder.h"
#include "tests/protocol/test_model.h"
#include "tests/testing/status_matchers.h"

namespace equifl::protocol {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

class MalformedStreamTest : public ::testing::Test {
 protected:
  void SetUp() override { Encode(v1::ENCODING_FLOAT32); }

  void Encode(v1::Encoding encoding) {
    absl::StatusOr<ChunkEncoder> encoder = ChunkEncoder::Create(model_.Views(), {encoding, 4096});
    ASSERT_THAT(encoder, IsOk());
    manifest_ = encoder->manifest();
    chunks_.clear();
    v1::TensorChunk chunk;
    while (*encoder->Next(chunk)) chunks_.push_back(chunk);
  }

  // Creates a decoder into a fresh copy of the model, feeds `chunks` and finishes.
  absl::Status Decode(const v1::TensorManifest& manifest,
                      const std::vector<v1::TensorChunk>& chunks, DecoderLimits limits = {}) {
    received_ = model_.ZeroedCopy();
    absl::StatusOr<ChunkDecoder> decoder =
        ChunkDecoder::Create(manifest, received_.MutableViews(), limits);
    if (!decoder.ok()) return decoder.status();
    for (const v1::TensorChunk& chunk : chunks) {
      if (absl::Status status = decoder->Accept(chunk); !status.ok()) return status;
    }
    return std::move(*decoder).Finish();
  }

  TestModel model_;
  TestModel received_;
  v1::TensorManifest manifest_;
  std::vector<v1::TensorChunk> chunks_;
};

TEST_F(MalformedStreamTest, IntactStreamDecodes) {
  EXPECT_THAT(Decode(manifest_, chunks_), IsOk());
  EXPECT_EQ(received_.tensors[0].bytes, model_.tensors[0].bytes);
}

TEST_F(MalformedStreamTest, NonFiniteFloatsRefusedOnlyWhenRequired) {
  // Element 1500 of tensor 0 (float32) becomes NaN, then infinity; fp32 and fp16.
  for (float bad :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    for (v1::Encoding encoding : {v1::ENCODING_FLOAT32, v1::ENCODING_FLOAT16}) {
      std::memcpy(model_.tensors[0].bytes.data() + 1500 * sizeof(float), &bad, sizeof bad);
      Encode(encoding);
      EXPECT_THAT(Decode(manifest_, chunks_), IsOk());
      DecoderLimits limits;
      limits.require_finite = true;
      const absl::Status status = Decode(manifest_, chunks_, limits);
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(status.message(),
                  HasSubstr("tensor '" + model_.tensors[0].name + "' element 1500 is "));
      EXPECT_THAT(status.message(), HasSubstr("finite"));
    }
  }
  // Other types (float64 here) travel verbatim and are not checked.
  DecoderLimits limits;
  limits.require_finite = true;
  model_ = TestModel();
  SetUp();
  EXPECT_THAT(Decode(manifest_, chunks_, limits), IsOk());
}

TEST_F(MalformedStreamTest, UnknownTensorInManifest) {
  manifest_.mutable_tensors(1)->set_name("encoder.bias_v2");
  absl::Status status = Decode(manifest_, chunks_);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("'encoder.bias_v2', which this receiver does not have"));
}

TEST_F(MalformedStreamTest, ManifestLacksAnExpectedTensor) {
  manifest_.mutable_tensors()->RemoveLast();
  EXPECT_THAT(Decode(manifest_, {}).message(), HasSubstr("lacks tensor 'norm.running_var'"));
}

TEST_F(MalformedStreamTest, UnknownTensorIndexInChunk) {
  chunks_[0].set_tensor_index(99);
  EXPECT_THAT(Decode(manifest_, chunks_).message(), HasSubstr("names tensor #99"));
}

TEST_F(MalformedStreamTest, ShapeMismatch) {
  manifest_.mutable_tensors(0)->set_shape(1, 256);
  EXPECT_THAT(Decode(manifest_, chunks_).message(),
              HasSubstr("'encoder.weight' arrives with shape [300, 256] but the receiver holds "
                        "[300, 257]"));
}

TEST_F(MalformedStreamTest, DataTypeMismatch) {
  manifest_.mutable_tensors(4)->set_data_type(v1::DATA_TYPE_FLOAT64);
  EXPECT_THAT(Decode(manifest_, chunks_).message(),
              HasSubstr("'optimizer.steps' arrives as float64 but the receiver holds int64"));
}

TEST_F(MalformedStreamTest, TruncatedStream) {
  chunks_.pop_back();
  absl::Status status = Decode(manifest_, chunks_);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("truncated"));
  EXPECT_THAT(status.message(), HasSubstr("'norm.running_var' has 0 of 5 elements"));
}

TEST_F(MalformedStreamTest, ChunkCutShort) {
  chunks_[3].mutable_data()->resize(chunks_[3].data().size() - 4);
  EXPECT_THAT(Decode(manifest_, chunks_).message(), HasSubstr("expected 4096"));
}

TEST_F(MalformedStreamTest, DuplicatedChunk) {
  chunks_.insert(chunks_.begin() + 2, chunks_[1]);
  EXPECT_THAT(Decode(manifest_, chunks_).message(),
              HasSubstr("duplicated chunk: tensor 'encoder.weight' from element 1024"));
}

TEST_F(MalformedStreamTest, MissingChunkInTheMiddle) {
  chunks_.erase(chunks_.begin() + 1);
  EXPECT_THAT(Decode(manifest_, chunks_).message(), HasSubstr("out of order or missing"));
}

TEST_F(MalformedStreamTest, ExtraChunkBeyondTheAnnouncedCount) {
  manifest_.set_chunk_count(manifest_.chunk_count() - 1);
  EXPECT_THAT(Decode(manifest_, chunks_).message(), HasSubstr("more chunks than"));
}

TEST_F(MalformedStreamTest, ChunkOverrunsItsTensor) {
  chunks_[0].set_element_count(1u << 30);
  EXPECT_THAT(Decode(manifest_, chunks_).message(), HasSubstr("the tensor has 77100"));
  chunks_[0].set_element_count(0);
  EXPECT_THAT(Decode(manifest_, chunks_).message(), HasSubstr("claims 0 elements"));
}

TEST_F(MalformedStreamTest, BadChecksumFromCorruptedPayload) {
  (*chunks_[5].mutable_data())[17] ^= 0x40;
  absl::Status status = Decode(manifest_, chunks_);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("checksum mismatch"));
}

TEST_F(MalformedStreamTest, BadChecksumInManifest) {
  manifest_.set_checksum(manifest_.checksum() + 1);
  EXPECT_THAT(Decode(manifest_, chunks_).message(), HasSubstr("checksum mismatch"));
}

TEST_F(MalformedStreamTest, OversizeChunk) {
  // A chunk whose data is larger than the manifest's bound, with a count to match.
  chunks_[0].set_element_count(2048);
  chunks_[0].mutable_data()->resize(2048 * 4);
  absl::Status status = Decode(manifest_, chunks_);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("above the manifest's max_chunk_bytes 4096"));
}

TEST_F(MalformedStreamTest, OversizeManifest) {
  DecoderLimits limits;
  limits.max_chunk_bytes = 1024;
  EXPECT_THAT(Decode(manifest_, chunks_, limits).message(),
              HasSubstr("announces chunks of up to 4096 bytes; this receiver accepts 1 to 1024"));
  limits = {};
  limits.max_payload_bytes = 1000;
  EXPECT_EQ(Decode(manifest_, chunks_, limits).code(), absl::StatusCode::kResourceExhausted);
  limits = {};
  limits.max_tensors = 2;
  EXPECT_THAT(Decode(manifest_, chunks_, limits).message(), HasSubstr("at most 2"));
}

TEST_F(MalformedStreamTest, ManifestWithHostileShapes) {
  v1::TensorManifest manifest = manifest_;
  manifest.mutable_tensors(0)->set_shape(0, -300);
  EXPECT_THAT(Decode(manifest, chunks_).message(), HasSubstr("negative dimension"));
  manifest = manifest_;
  manifest.mutable_tensors(0)->set_shape(0, int64_t{1} << 62);
  manifest.mutable_tensors(0)->set_shape(1, int64_t{1} << 62);
  EXPECT_THAT(Decode(manifest, chunks_).message(), HasSubstr("overflows"));
  manifest = manifest_;
  manifest.mutable_tensors(2)->set_name("encoder.weight");
  EXPECT_THAT(Decode(manifest, chunks_).message(), HasSubstr("twice"));
  manifest = manifest_;
  manifest.set_encoding(static_cast<v1::Encoding>(42));
  EXPECT_THAT(Decode(manifest, chunks_).message(), HasSubstr("unknown encoding 42"));
}

TEST_F(MalformedStreamTest, InvalidInt8Scale) {
  Encode(v1::ENCODING_INT8);
  ASSERT_THAT(Decode(manifest_, chunks_), IsOk());
  chunks_[0].set_scale(NAN);
  EXPECT_THAT(Decode(manifest_, chunks_).message(), HasSubstr("int8 scale nan"));
  chunks_[0].set_scale(-1);
  EXPECT_THAT(Decode(manifest_, chunks_).message(), HasSubstr("int8 scale -1"));
}

TEST_F(MalformedStreamTest, ErrorsAreSticky) {
  received_ = model_.ZeroedCopy();
  absl::StatusOr<ChunkDecoder> decoder = ChunkDecoder::Create(manifest_, received_.MutableViews());
  ASSERT_THAT(decoder, IsOk());
  ASSERT_THAT(decoder->Accept(chunks_[0]), IsOk());
  ASSERT_FALSE(decoder->Accept(chunks_[0]).ok());
  // The right next chunk no longer helps: the stream is already refused.
  EXPECT_THAT(decoder->Accept(chunks_[1]).message(), HasSubstr("duplicated"));
  EXPECT_FALSE(std::move(*decoder).Finish().ok());
}

// Random corruption of serialized chunks: any outcome but a crash or a silent
// success with wrong data is a bug.
TEST_F(MalformedStreamTest, RandomlyCorruptedChunksNeverDecodeSilentlyWrong) {
  std::mt19937 generator(99);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<v1::TensorChunk> chunks = chunks_;
    const size_t victim = generator() % chunks.size();
    std::string wire = chunks[victim].SerializeAsString();
    const int flips = 1 + generator() % 3;
    for (int i = 0; i < flips; ++i) wire[generator() % wire.size()] ^= 1 << (generator() % 8);
    if (!chunks[victim].ParseFromString(wire)) continue;  // Refused by protobuf itself.
    if (Decode(manifest_, chunks).ok()) {
      for (size_t t = 0; t < model_.tensors.size(); ++t) {
        ASSERT_EQ(received_.tensors[t].bytes, model_.tensors[t].bytes) << "trial " << trial;
      }
    }
  }
}

}  // namespace
}  // namespace equifl::protocol
