// How a fuzz target reads structured input out of libFuzzer's bytes, and how the
// seed writer (write_seeds.cc) builds such input.
//
// An input is a sequence of single bytes (choices: which call, which client, which
// option) and parts (a little-endian base-128 varint length, then that many bytes;
// a length that runs past the end takes what is left). Parts usually hold
// serialized protobuf messages. Reading past the end yields 0 bytes and empty
// parts, so every byte string is a valid input and the fuzzer needs to learn no
// framing before it reaches the code under test.
#ifndef EQUIFL_TESTS_FUZZ_FUZZ_INPUT_H_
#define EQUIFL_TESTS_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/stubs/logging.h"

namespace equifl::fuzz {

//! Reads bytes and parts off the front of a fuzzer's input.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  //! Whether everything was read.
  bool empty() const { return rest_.empty(); }

  //! The next byte; 0 once the input is used up.
  uint8_t TakeByte() {
    if (rest_.empty()) return 0;
    const auto byte = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return byte;
  }

  //! The next part: a varint length (at most 5 bytes), then up to that many bytes.
  absl::string_view TakePart() {
    uint64_t length = 0;
    for (int shift = 0; shift < 35 && !rest_.empty(); shift += 7) {
      const uint8_t byte = TakeByte();
      length |= uint64_t{byte & 0x7Fu} << shift;
      if ((byte & 0x80u) == 0) break;
    }
    const size_t taken = length < rest_.size() ? static_cast<size_t>(length) : rest_.size();
    const absl::string_view part = rest_.substr(0, taken);
    rest_.remove_prefix(taken);
    return part;
  }

  //! Parses the next part into `message`; false when it is not a valid encoding.
  //! Protobuf's own log lines (one per string field that is not UTF-8) are off: at
  //! thousands of inputs a second they would cost more than the parsing.
  template <typename Message>
  bool TakeMessage(Message& message) {
    static const bool protobuf_logs_off = (google::protobuf::SetLogHandler(nullptr), true);
    (void)protobuf_logs_off;
    const absl::string_view part = TakePart();
    return message.ParseFromArray(part.data(), static_cast<int>(part.size()));
  }

  //! Everything not yet read.
  absl::string_view TakeRest() {
    const absl::string_view rest = rest_;
    rest_ = {};
    return rest;
  }

 private:
  absl::string_view rest_;
};

//! Builds an input that FuzzInput reads back in the same order.
class FuzzInputWriter {
 public:
  //! Appends one byte.
  FuzzInputWriter& Byte(uint8_t byte) {
    bytes_.push_back(static_cast<char>(byte));
    return *this;
  }

  //! Appends `part` with its varint length.
  FuzzInputWriter& Part(absl::string_view part) {
    uint64_t length = part.size();
    do {
      const auto low = static_cast<uint8_t>(length & 0x7Fu);
      length >>= 7;
      Byte(length == 0 ? low : static_cast<uint8_t>(low | 0x80u));
    } while (length != 0);
    bytes_.append(part.data(), part.size());
    return *this;
  }

  //! Appends `message` serialized, as a part.
  template <typename Message>
  FuzzInputWriter& MessagePart(const Message& message) {
    return Part(message.SerializeAsString());
  }

  //! The input built so far.
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

}  // namespace equifl::fuzz

#endif  // EQUIFL_TESTS_FUZZ_FUZZ_INPUT_H_
