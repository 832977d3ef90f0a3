// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/): valid
// inputs made by the project's own writers and encoders (a shard from WriteShard,
// a model's safetensors file, encoded tensor streams, uploads with statistics, a
// whole secure round played by three real clients, a calibration file), hand-written
// variants, and the repository's example configurations. Seeds start the fuzzer deep inside each
// parser instead of at its first check.
//
//   cmake --build build/fuzz --target write_fuzz_seeds
//   build/fuzz/tests/fuzz/write_fuzz_seeds . tests/fuzz/corpus
//
// Run from the source root; it replaces the seeds it writes (keys of the secure
// round are fresh each time, so those seeds change) and leaves other files, such
// as inputs that once crashed a target, alone.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "aggregation/secure/secure_aggregation_client.h"
#include "base/status_macros.h"
#include "client/data/shard.h"
#include "equifl/v1/aggregator.pb.h"
#include "fairness/calibration.h"
#include "fairness/decision_offsets.h"
#include "protocol/chunk_encoder.h"
#include "protocol/fairness_wire.h"
#include "protocol/safetensors.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/receiver_model.h"
#include "tests/fuzz/secure_round_setup.h"

namespace equifl::fuzz {
namespace {

namespace fs = std::filesystem;

absl::Status WriteFile(const fs::path& path, absl::string_view bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!file) return absl::DataLossError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream bytes;
  bytes << file.rdbuf();
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path.string()));
  return bytes.str();
}

// --- Shards: manifest.json and data.safetensors --------------------------------

// Four samples with a sequence and a vector modality; one misses its video.
client::ShardData SmallShard() {
  client::ShardData data;
  data.manifest.modalities = {{"video", client::ModalityKind::kSequence, 2, 3},
                              {"text", client::ModalityKind::kVector, 0, 4}};
  data.manifest.labels = {"negative", "positive"};
  data.manifest.group_attribute = "gender";
  data.manifest.groups = {"female", "male"};
  data.manifest.languages = {"en", "fr"};
  for (int sample = 0; sample < 4; ++sample) {
    data.label.push_back(sample % 2);
    data.group.push_back(sample / 2);
    data.language.push_back(sample == 3 ? 1 : 0);
    data.split.push_back(static_cast<uint8_t>(sample % 3));
    data.present.push_back(sample == 1 ? 0 : 1);
    data.present.push_back(1);
  }
  data.features = {std::vector<float>(4 * 2 * 3, 0.25f), std::vector<float>(4 * 4, -1.5f)};
  data.lengths = {{2, 0, 1, 2}, {}};
  data.CountSamples();
  return data;
}

absl::Status WriteShardSeeds(const fs::path& corpus) {
  const fs::path folder = fs::temp_directory_path() / "equifl-fuzz-seed-shard";
  fs::remove_all(folder);
  EQUIFL_RETURN_IF_ERROR(client::WriteShard(folder.string(), SmallShard()));
  EQUIFL_ASSIGN_OR_RETURN(std::string manifest, ReadFile(folder / client::kManifestFile));
  EQUIFL_ASSIGN_OR_RETURN(std::string tensors, ReadFile(folder / client::kDataFile));
  fs::remove_all(folder);
  EQUIFL_RETURN_IF_ERROR(WriteFile(corpus / "shard_manifest" / "shard", manifest));
  EQUIFL_RETURN_IF_ERROR(WriteFile(corpus / "safetensors" / "shard", tensors));

  client::ShardManifest vectors;
  vectors.num_samples = 3;
  vectors.modalities = {{"tabular", client::ModalityKind::kVector, 0, 7}};
  vectors.labels = {"income <= 50000", "income > 50000"};
  vectors.groups = {"a", "b", "c"};
  vectors.languages = {"und"};
  vectors.split_counts = {2, 1, 0};
  EQUIFL_RETURN_IF_ERROR(vectors.Validate());
  EQUIFL_RETURN_IF_ERROR(WriteFile(corpus / "shard_manifest" / "vectors", vectors.ToJson()));

  // What `equifl data import-media` writes: images, a float16 log-mel sequence, tokens.
  client::ShardManifest media = vectors;
  media.modalities = {{"video", client::ModalityKind::kImages, 8, 32, {}, "video-frames fps=2"},
                      {"audio",
                       client::ModalityKind::kSequence,
                       98,
                       80,
                       {},
                       "log-mel bands=80",
                       client::FeaturePrecision::kFloat16},
                      {"text", client::ModalityKind::kTokens, 130, 259, {}, "byte-tokens"}};
  EQUIFL_RETURN_IF_ERROR(media.Validate());
  EQUIFL_RETURN_IF_ERROR(WriteFile(corpus / "shard_manifest" / "media", media.ToJson()));

  // A model as `equifl server` checkpoints it, with metadata, and an empty file.
  ReceiverModel model;
  model.FillPattern();
  const fs::path model_file = fs::temp_directory_path() / "equifl-fuzz-seed-model.safetensors";
  const std::vector<protocol::TensorView> views = model.Views();
  EQUIFL_RETURN_IF_ERROR(
      protocol::WriteSafetensors(model_file.string(), views, {{"round", "3"}, {"run", "r"}}));
  EQUIFL_ASSIGN_OR_RETURN(std::string model_bytes, ReadFile(model_file));
  fs::remove(model_file);
  EQUIFL_RETURN_IF_ERROR(WriteFile(corpus / "safetensors" / "model", model_bytes));
  return WriteFile(corpus / "safetensors" / "empty", std::string("\x02\0\0\0\0\0\0\0{}", 10));
}

// --- .npy files, byte for byte as numpy.save writes them -------------------------

std::string Npy(int major_version, const std::string& descr, const std::string& shape,
                const std::string& data) {
  std::string header =
      absl::StrCat("{'descr': '", descr, "', 'fortran_order': False, 'shape': ", shape, ", }");
  const size_t preamble = 6 + 2 + (major_version == 1 ? 2 : 4);
  // Padded with spaces and a final newline so the data starts 64-aligned.
  header.append(63 - (preamble + header.size()) % 64, ' ');
  header.push_back('\n');
  std::string file = std::string("\x93NUMPY", 6);
  file.push_back(static_cast<char>(major_version));
  file.push_back('\0');
  for (size_t byte = 0; byte < preamble - 8; ++byte) {
    file.push_back(static_cast<char>((header.size() >> (8 * byte)) & 0xFF));
  }
  return file + header + data;
}

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

absl::Status WriteNpySeeds(const fs::path& corpus) {
  const fs::path folder = corpus / "npy";
  const std::map<std::string, std::string> files = {
      {"features_f4", Npy(1, "<f4", "(3, 4)", Bytes(std::vector<float>(12, 0.5f)))},
      {"features_f8_3d", Npy(1, "<f8", "(2, 2, 1)", Bytes(std::vector<double>{1, -2, 3e40, 4}))},
      {"labels_i8", Npy(1, "<i8", "(5,)", Bytes(std::vector<int64_t>{0, 1, 1, 0, 2}))},
      {"groups_i4", Npy(2, "<i4", "(3,)", Bytes(std::vector<int32_t>{1, 0, 1}))},
      {"languages_u1", Npy(3, "|u1", "(4,)", std::string("\0\1\1\2", 4))},
      {"mask_b1", Npy(1, "|b1", "(2,)", std::string("\1\0", 2))},
      {"scalar", Npy(1, "<f4", "()", Bytes(std::vector<float>{7}))},
      {"empty", Npy(1, "<i8", "(0, 3)", "")},
  };
  for (const auto& [name, bytes] : files) EQUIFL_RETURN_IF_ERROR(WriteFile(folder / name, bytes));
  return absl::OkStatus();
}

// --- media manifests -----------------------------------------------------------

absl::Status WriteMediaManifestSeeds(const fs::path& corpus) {
  const fs::path folder = corpus / "media_manifest";
  // The options byte comes first; the paths name media_manifest_fuzzer.cc's files.
  const std::string manifest =
      "id,label,group,language,client,split,audio,text,text_file\n"
      "s1,a,f,en,x,train,tone.wav,hello,\n"
      "s2,b,m,de,y,test,,,words.txt\n"
      "s3,a,m,ja,x,validation,cut.wav,,\n"
      "s4,b,f,en,y,train,noise.wav,\"quoted, text\",\n"
      "s5,c,f,en,x,train,,,latin1.txt\n"
      "s1,a,f,en,x,train,gone.wav,,\n";
  const std::map<std::string, std::string> files = {
      {"strict", std::string(1, '\x00') + manifest},
      {"skip_bad", std::string(1, '\x01') + manifest},
      {"labels_two_clients_short_text", std::string(1, '\x1b') + manifest},
      {"text_only", std::string(1, '\x01') + "id,label,group,text\nt1,a,f,Grüß\nt2,b,m,日本\n"},
      {"video", std::string(1, '\x01') +
                    "id,label,group,video,audio\nv1,a,f,clip.y4m,tone.wav\nv2,b,m,cut.y4m,\n"
                    "v3,a,m,,tone.wav\nv4,b,f,tone.wav,\nv5,a,f,noise.wav,\n"},
  };
  for (const auto& [name, bytes] : files) EQUIFL_RETURN_IF_ERROR(WriteFile(folder / name, bytes));
  return absl::OkStatus();
}

// --- CSV tables ----------------------------------------------------------------

absl::Status WriteCsvSeeds(const fs::path& corpus) {
  const fs::path folder = corpus / "csv_import";
  // The options byte comes first (csv_import_fuzzer.cc).
  const std::string table =
      "label,group,language,age,income,site\n"
      "yes,female,en,34,51000.5,north\n"
      "no,male,fr,51,38000,south\n"
      "yes,male,en,29,72000,north\n"
      "no,female,fr,45,NA,south\n"
      "yes,female,de,38,1e4,east\n";
  const std::map<std::string, std::string> files = {
      {"categorical", std::string(1, '\x00') + table},
      {"language_split_by", std::string(1, '\x0b') + table},
      {"median_two_clients", std::string(1, '\x2d') + table},
      {"dirichlet", std::string(1, '\x6c') + table},
      {"quoted_crlf_bom", std::string(1, '\x08') + "\xEF\xBB\xBF" +
                              "income,\"gro\"\"up\",score\r\n"
                              "\"1\",\"a, b\",0.5\r\n"
                              "2, \"line\nbreak\" ,-3\r\n"
                              "\r\n"
                              "3,c,\n"},
  };
  for (const auto& [name, bytes] : files) EQUIFL_RETURN_IF_ERROR(WriteFile(folder / name, bytes));
  return absl::OkStatus();
}

// --- Configurations ------------------------------------------------------------

absl::Status WriteConfigSeeds(const fs::path& source, const fs::path& corpus) {
  for (const fs::path& directory : {source / "deploy" / "config", source / "sim" / "scenarios"}) {
    for (const fs::directory_entry& entry : fs::directory_iterator(directory)) {
      if (entry.path().extension() != ".yaml") continue;
      EQUIFL_ASSIGN_OR_RETURN(std::string text, ReadFile(entry.path()));
      EQUIFL_RETURN_IF_ERROR(WriteFile(
          corpus / "config" /
              absl::StrCat(directory.filename().string(), "_", entry.path().stem().string()),
          text));
    }
  }
  return absl::OkStatus();
}

// --- Tensor streams: chunk_decoder and upload ------------------------------------

// The manifest and chunks of `tensors` under `encoding`, in 1 KiB chunks.
absl::StatusOr<std::pair<v1::TensorManifest, std::vector<v1::TensorChunk>>> Encode(
    const std::vector<protocol::TensorView>& tensors, v1::Encoding encoding) {
  EQUIFL_ASSIGN_OR_RETURN(
      protocol::ChunkEncoder encoder,
      protocol::ChunkEncoder::Create(tensors, {encoding, protocol::CodecOptions::kMinChunkBytes}));
  std::vector<v1::TensorChunk> chunks;
  v1::TensorChunk chunk;
  while (true) {
    EQUIFL_ASSIGN_OR_RETURN(bool produced, encoder.Next(chunk));
    if (!produced) break;
    chunks.push_back(chunk);
  }
  return std::pair(encoder.manifest(), std::move(chunks));
}

const std::map<std::string, v1::Encoding> kEncodings = {{"fp32", v1::ENCODING_FLOAT32},
                                                        {"fp16", v1::ENCODING_FLOAT16},
                                                        {"bf16", v1::ENCODING_BFLOAT16},
                                                        {"int8", v1::ENCODING_INT8}};

absl::Status WriteChunkDecoderSeeds(const fs::path& corpus) {
  ReceiverModel model;
  model.FillPattern();
  for (const auto& [name, encoding] : kEncodings) {
    EQUIFL_ASSIGN_OR_RETURN(auto stream, Encode(model.Views(), encoding));
    // Options (chunk_decoder_fuzzer.cc): 0 the fixed receiver, 3 finite values
    // only into memory allocated for the manifest, 8 with 1 KiB chunks at most.
    for (uint8_t options : {0, 3, 8}) {
      FuzzInputWriter input;
      input.Byte(options).MessagePart(stream.first);
      for (const v1::TensorChunk& chunk : stream.second) input.MessagePart(chunk);
      EQUIFL_RETURN_IF_ERROR(WriteFile(
          corpus / "chunk_decoder" / absl::StrCat(name, "_options_", options), input.bytes()));
    }
  }
  return absl::OkStatus();
}

// A sum of squares `count` losses summing to `loss` can have: halfway between
// equal losses (loss²/count) and a single non-zero one (loss²).
double SquareSum(double loss, uint64_t count) {
  return (loss * loss / static_cast<double>(count) + loss * loss) / 2;
}

// Statistics as a client reports them: one cell, two groups, two classes.
v1::GroupStatistics Statistics(double loss, uint64_t count) {
  fairness::StatisticsTable table;
  fairness::GroupsOfCell& groups = table[fairness::Cell{"en", fairness::kFusionView, ""}];
  groups["female"] = {loss, count, 2, {count / 2, 0, 0, count - count / 2}, SquareSum(loss, count)};
  groups["male"] = {
      2 * loss, count + 1, 2, {1, count / 2, 0, count - count / 2}, SquareSum(2 * loss, count + 1)};
  return protocol::StatisticsToProto(table);
}

// One upload stream (upload_fuzzer.cc): the operation byte naming the caller, the
// message count, the header and the chunks.
absl::Status AppendUpload(FuzzInputWriter& input, int client, uint64_t round_id,
                          v1::Encoding encoding, bool with_weight) {
  ReceiverModel model;
  model.FillPattern();
  EQUIFL_ASSIGN_OR_RETURN(auto stream, Encode(model.Float32Views(), encoding));
  v1::UploadUpdateRequest opening;
  opening.mutable_round()->set_run_id("run-fuzz");
  opening.mutable_round()->set_round_id(round_id);
  v1::UpdateHeader& header = *opening.mutable_header();
  header.set_client_id(absl::StrCat("client-", client));
  header.set_model_version(round_id - 1);
  header.set_num_train_samples(40 + client);
  header.set_num_steps(3);
  *header.mutable_train_statistics() = Statistics(12.5 + client, 40 + client);
  *header.mutable_validation_statistics() = Statistics(3.25, 10);
  if (with_weight) header.set_aggregation_weight(41.5);
  *header.mutable_update() = stream.first;
  input.Byte(static_cast<uint8_t>(client << 2));
  input.Byte(static_cast<uint8_t>(1 + stream.second.size()));
  input.MessagePart(opening);
  for (const v1::TensorChunk& chunk : stream.second) {
    v1::UploadUpdateRequest message;
    *message.mutable_round() = opening.round();
    *message.mutable_chunk() = chunk;
    input.MessagePart(message);
  }
  return absl::OkStatus();
}

absl::Status WriteUploadSeeds(const fs::path& corpus) {
  // Options: the fairness method (0 FedAvg, 1 MinMaxGAP, 3 FedMinMax, 4 FairFed),
  // folding one or two updates at a time.
  for (uint8_t options : {0, 1, 3 | 8, 4}) {
    FuzzInputWriter input;
    input.Byte(options);
    // Round 1: three clients in three encodings; round 2: one client.
    EQUIFL_RETURN_IF_ERROR(AppendUpload(input, 0, 1, v1::ENCODING_FLOAT32, false));
    EQUIFL_RETURN_IF_ERROR(AppendUpload(input, 1, 1, v1::ENCODING_INT8, true));
    EQUIFL_RETURN_IF_ERROR(AppendUpload(input, 2, 1, v1::ENCODING_BFLOAT16, false));
    input.Byte(3);  // close the round
    EQUIFL_RETURN_IF_ERROR(AppendUpload(input, 1, 2, v1::ENCODING_FLOAT16, false));
    EQUIFL_RETURN_IF_ERROR(
        WriteFile(corpus / "upload" / absl::StrCat("options_", options), input.bytes()));
  }
  return absl::OkStatus();
}

// --- A secure round, played by three real clients --------------------------------

v1::RoundReference SecureRoundReference() {
  v1::RoundReference round;
  round.set_run_id(kSecureRunId);
  round.set_round_id(kSecureRoundId);
  return round;
}

aggregation::Key32 KeyOf(const std::string& bytes) {
  aggregation::Key32 key{};
  std::memcpy(key.data(), bytes.data(), std::min(bytes.size(), key.size()));
  return key;
}

std::string BytesOf(const aggregation::Key32& key) { return std::string(key.begin(), key.end()); }

// Plays a round in which `survivors` of the three clients upload their masked
// input, recording every request and step as secure_round_fuzzer.cc reads them.
absl::StatusOr<std::string> SecureTranscript(int survivors) {
  FuzzInputWriter input;
  server::SecureRound round = MakeSecureRound();
  const aggregation::SecureInputLayout layout = SecureLayout();
  const auto past = server::SecureRound::Clock::now() - std::chrono::seconds(1);
  std::vector<aggregation::SecureAggregationClient> clients;
  for (int client = 0; client < 3; ++client) {
    EQUIFL_ASSIGN_OR_RETURN(
        aggregation::SecureAggregationClient protocol,
        aggregation::SecureAggregationClient::Create({kSecureRunId, kSecureRoundId}));
    v1::AdvertiseKeysRequest request;
    *request.mutable_round() = SecureRoundReference();
    request.set_client_id(absl::StrCat("client-", client));
    request.set_encryption_public_key(BytesOf(protocol.public_keys().encryption));
    request.set_masking_public_key(BytesOf(protocol.public_keys().masking));
    request.set_self_mask_commitment(BytesOf(protocol.public_keys().self_mask_commitment));
    EQUIFL_RETURN_IF_ERROR(round.AdvertiseKeys(request));
    input.Byte(kAdvertiseKeys).MessagePart(request);
    clients.push_back(std::move(protocol));
  }
  EQUIFL_RETURN_IF_ERROR(round.CloseAdvertising(past));
  input.Byte(kCloseAdvertising);

  for (int client = 0; client < 3; ++client) {
    const std::string id = absl::StrCat("client-", client);
    v1::GetNeighboursResponse response;
    EQUIFL_RETURN_IF_ERROR(round.GetNeighbours(id, std::chrono::milliseconds(0), response));
    input.Byte(kGetNeighbours).Byte(static_cast<uint8_t>(client));
    const v1::Neighbourhood& wire = response.neighbourhood();
    aggregation::Neighbourhood neighbourhood{
        wire.slot(), wire.threshold(), wire.min_survivors(), {}};
    for (const v1::SecurePeer& peer : wire.neighbours()) {
      neighbourhood.neighbours.push_back(
          {peer.slot(),
           peer.client_id(),
           {KeyOf(peer.encryption_public_key()), KeyOf(peer.masking_public_key()),
            /*self_mask_commitment=*/{}}});
    }
    EQUIFL_ASSIGN_OR_RETURN(std::vector<aggregation::EncryptedShare> shares,
                            clients[client].ShareKeys(neighbourhood));
    v1::ShareKeysRequest request;
    *request.mutable_round() = SecureRoundReference();
    request.set_client_id(id);
    for (const aggregation::EncryptedShare& share : shares) {
      v1::EncryptedShare& out = *request.add_shares();
      out.set_sender_slot(share.sender_slot);
      out.set_recipient_slot(share.recipient_slot);
      out.set_ciphertext(std::string(share.ciphertext.begin(), share.ciphertext.end()));
    }
    EQUIFL_RETURN_IF_ERROR(round.ShareKeys(request));
    input.Byte(kShareKeys).MessagePart(request);
  }
  EQUIFL_RETURN_IF_ERROR(round.CloseSharing(past).status());
  input.Byte(kCloseSharing);

  for (int client = 0; client < survivors; ++client) {
    const std::string id = absl::StrCat("client-", client);
    v1::GetSharesResponse response;
    EQUIFL_RETURN_IF_ERROR(round.GetShares(id, std::chrono::milliseconds(0), response));
    input.Byte(kGetShares).Byte(static_cast<uint8_t>(client));
    std::vector<aggregation::EncryptedShare> shares;
    for (const v1::EncryptedShare& share : response.shares().shares()) {
      shares.push_back(
          {share.sender_slot(), share.recipient_slot(),
           std::vector<uint8_t>(share.ciphertext().begin(), share.ciphertext().end())});
    }
    EQUIFL_RETURN_IF_ERROR(clients[client].ReceiveShares(shares));
    const std::vector<float> update = {0.5f, -0.25f, 0.125f * static_cast<float>(client)};
    aggregation::SecureInput secure_input;
    secure_input.update = update;
    secure_input.weight = 1;
    secure_input.train_samples = 20;
    fairness::StatisticsTable train;
    train[fairness::Cell{"en", fairness::kFusionView, ""}]["female"] = {
        4.5, 20, 2, {8, 2, 3, 7}, SquareSum(4.5, 20)};
    secure_input.train = train;
    std::vector<uint32_t> words;
    EQUIFL_RETURN_IF_ERROR(aggregation::EncodeSecureInput(layout, secure_input, words).status());
    EQUIFL_RETURN_IF_ERROR(clients[client].Mask(words));
    EQUIFL_RETURN_IF_ERROR(round.CheckMaskedInput(id));
    EQUIFL_RETURN_IF_ERROR(round.AddMaskedInput(id, words));
    input.Byte(kMaskedInput)
        .Byte(static_cast<uint8_t>(client))
        .Part(absl::string_view(reinterpret_cast<const char*>(words.data()),
                                words.size() * sizeof(uint32_t)));
  }
  EQUIFL_RETURN_IF_ERROR(round.CloseCollection());
  input.Byte(kCloseCollection);

  for (int client = 0; client < survivors; ++client) {
    const std::string id = absl::StrCat("client-", client);
    v1::GetUnmaskRequestResponse response;
    EQUIFL_RETURN_IF_ERROR(round.GetUnmaskRequest(id, std::chrono::milliseconds(0), response));
    input.Byte(kGetUnmaskRequest).Byte(static_cast<uint8_t>(client));
    const v1::UnmaskRequest& wire = response.request();
    aggregation::UnmaskRequest request{{wire.survivors().begin(), wire.survivors().end()},
                                       {wire.dropped().begin(), wire.dropped().end()},
                                       wire.total_survivors()};
    EQUIFL_ASSIGN_OR_RETURN(std::vector<aggregation::RevealedShare> shares,
                            clients[client].Unmask(request));
    v1::RevealSharesRequest reveal;
    *reveal.mutable_round() = SecureRoundReference();
    reveal.set_client_id(id);
    for (const aggregation::RevealedShare& share : shares) {
      v1::RevealedShare& out = *reveal.add_shares();
      out.set_owner_slot(share.owner_slot);
      out.set_self_mask_seed(share.secret == aggregation::SharedSecret::kSelfMaskSeed);
      out.set_x(share.share.x);
      for (uint64_t value : share.share.values) out.add_values(value);
    }
    EQUIFL_RETURN_IF_ERROR(round.RevealShares(reveal));
    input.Byte(kRevealShares).MessagePart(reveal);
  }
  EQUIFL_ASSIGN_OR_RETURN(aggregation::SecureSum sum, round.Unmask(past));
  input.Byte(kUnmask);
  if (sum.train_samples != static_cast<uint64_t>(20 * survivors)) {
    return absl::InternalError(absl::StrCat("the seed round summed ", sum.train_samples,
                                            " training samples, not ", 20 * survivors));
  }
  return input.bytes();
}

absl::Status WriteSecureRoundSeeds(const fs::path& corpus) {
  for (int survivors : {3, 2}) {
    EQUIFL_ASSIGN_OR_RETURN(std::string transcript, SecureTranscript(survivors));
    EQUIFL_RETURN_IF_ERROR(
        WriteFile(corpus / "secure_round" / absl::StrCat(survivors, "_survivors"), transcript));
  }
  return absl::OkStatus();
}

// --- The aggregator's unary requests ---------------------------------------------

absl::Status WriteAggregatorRequestSeeds(const fs::path& corpus) {
  v1::JoinRequest join;
  join.set_requested_client_id("client-7");
  join.mutable_capabilities()->set_num_train_samples(120);
  v1::PollTaskRequest poll;
  poll.set_run_id("run-fuzz");
  poll.set_client_id("client-7");
  v1::PollTasksRequest polls;
  polls.set_run_id("run-fuzz");
  polls.add_client_ids("client-7");
  polls.add_client_ids("worker.3_a");
  v1::AdvertiseKeysRequest advertise;
  *advertise.mutable_round() = SecureRoundReference();
  advertise.set_client_id("client-7");
  advertise.set_encryption_public_key(std::string(32, 'e'));
  advertise.set_masking_public_key(std::string(32, 'm'));
  advertise.set_self_mask_commitment(std::string(32, 'c'));
  v1::SecureStepRequest step;
  *step.mutable_round() = SecureRoundReference();
  step.set_client_id("client-7");
  v1::ShareKeysRequest share;
  *share.mutable_round() = SecureRoundReference();
  share.set_client_id("client-7");
  share.add_shares()->set_ciphertext(std::string(104, 'c'));
  v1::RevealSharesRequest reveal;
  *reveal.mutable_round() = SecureRoundReference();
  reveal.set_client_id("client-7");
  reveal.add_shares()->set_x(2);
  // Options (aggregator_requests_fuzzer.cc): 0 plain, 1 secure aggregation; then
  // each handler (0-8) once, in order.
  for (uint8_t options : {0, 1}) {
    FuzzInputWriter input;
    input.Byte(options);
    input.Byte(0).MessagePart(join);
    input.Byte(1).MessagePart(poll);
    input.Byte(2).MessagePart(polls);
    input.Byte(3).MessagePart(advertise);
    input.Byte(4).MessagePart(step);
    input.Byte(5).MessagePart(share);
    input.Byte(6).MessagePart(step);
    input.Byte(7).MessagePart(step);
    input.Byte(8).MessagePart(reveal);
    EQUIFL_RETURN_IF_ERROR(WriteFile(
        corpus / "aggregator_requests" / absl::StrCat("every_handler_", options), input.bytes()));
  }
  return absl::OkStatus();
}

// --- Calibration files: a run's temperatures and decision offsets ---------------

absl::Status WriteCalibrationSeeds(const fs::path& corpus) {
  fairness::GroupTemperature temperature;
  temperature.cell = {"en", fairness::kFusionView, ""};
  temperature.group = "female";
  temperature.temperature = 1.25;
  temperature.samples = 140;
  temperature.fitted = true;
  temperature.loss_before = 0.61;
  temperature.loss_after = 0.58;
  fairness::GroupTemperature per_client = temperature;
  per_client.cell.client = "client-001";
  per_client.temperature = 1;
  per_client.fitted = false;
  nlohmann::json file = fairness::CalibrationToJson({temperature, per_client});
  EQUIFL_RETURN_IF_ERROR(WriteFile(corpus / "calibration_file" / "temperatures", file.dump(2)));
  fairness::DecisionOffsets offsets;
  offsets.positive_class = 1;
  offsets.groups.push_back({.cell = temperature.cell,
                            .group = "female",
                            .offset = 0.75,
                            .positives = 120,
                            .true_positive_rate_before = 0.62,
                            .true_positive_rate_after = 0.8,
                            .fitted = true});
  offsets.groups.push_back({.cell = temperature.cell,
                            .group = "male",
                            .positives = 130,
                            .true_positive_rate_before = 0.81,
                            .true_positive_rate_after = 0.81,
                            .fitted = true});
  file["decision_offsets"] = fairness::DecisionOffsetsToJson(offsets);
  return WriteFile(corpus / "calibration_file" / "decision_offsets", file.dump(2));
}

absl::Status WriteSeeds(const fs::path& source, const fs::path& corpus) {
  EQUIFL_RETURN_IF_ERROR(WriteShardSeeds(corpus));
  EQUIFL_RETURN_IF_ERROR(WriteCalibrationSeeds(corpus));
  EQUIFL_RETURN_IF_ERROR(WriteNpySeeds(corpus));
  EQUIFL_RETURN_IF_ERROR(WriteCsvSeeds(corpus));
  EQUIFL_RETURN_IF_ERROR(WriteMediaManifestSeeds(corpus));
  EQUIFL_RETURN_IF_ERROR(WriteConfigSeeds(source, corpus));
  EQUIFL_RETURN_IF_ERROR(WriteChunkDecoderSeeds(corpus));
  EQUIFL_RETURN_IF_ERROR(WriteUploadSeeds(corpus));
  EQUIFL_RETURN_IF_ERROR(WriteSecureRoundSeeds(corpus));
  return WriteAggregatorRequestSeeds(corpus);
}

}  // namespace
}  // namespace equifl::fuzz

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: write_fuzz_seeds SOURCE_ROOT CORPUS_ROOT\n";
    return 2;
  }
  if (absl::Status status = equifl::fuzz::WriteSeeds(argv[1], argv[2]); !status.ok()) {
    std::cerr << "write_fuzz_seeds: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
