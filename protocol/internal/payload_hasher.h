// The checksum of a tensor stream: XXH3-64 over the decoded payload, in order.
#ifndef EQUIFL_PROTOCOL_INTERNAL_PAYLOAD_HASHER_H_
#define EQUIFL_PROTOCOL_INTERNAL_PAYLOAD_HASHER_H_

#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace equifl::protocol::internal {

class PayloadHasher {
 public:
  PayloadHasher() : state_(XXH3_createState()) { XXH3_64bits_reset(state_.get()); }

  //! Appends `bytes` to the hashed payload.
  void Update(std::span<const std::byte> bytes) {
    XXH3_64bits_update(state_.get(), bytes.data(), bytes.size());
  }

  //! The checksum of everything appended so far.
  uint64_t Digest() const { return XXH3_64bits_digest(state_.get()); }

 private:
  struct StateDeleter {
    void operator()(XXH3_state_t* state) const { XXH3_freeState(state); }
  };
  std::unique_ptr<XXH3_state_t, StateDeleter> state_;  //!< Heap-allocated, aligned.
};

}  // namespace equifl::protocol::internal

#endif  // EQUIFL_PROTOCOL_INTERNAL_PAYLOAD_HASHER_H_
