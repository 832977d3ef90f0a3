// Hex strings to bytes, for the published test vectors of the cryptographic tests.
#ifndef EQUIFL_TESTS_AGGREGATION_SECURE_TEST_HEX_H_
#define EQUIFL_TESTS_AGGREGATION_SECURE_TEST_HEX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "aggregation/secure/key_agreement.h"

namespace equifl::aggregation {

inline std::vector<uint8_t> FromHex(const std::string& hex) {
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

inline Key32 Key32FromHex(const std::string& hex) {
  const std::vector<uint8_t> bytes = FromHex(hex);
  Key32 key{};
  for (size_t i = 0; i < key.size() && i < bytes.size(); ++i) key[i] = bytes[i];
  return key;
}

}  // namespace equifl::aggregation

#endif  // EQUIFL_TESTS_AGGREGATION_SECURE_TEST_HEX_H_
