// A copy for large destinations that will not be read again soon (a received
// model): non-temporal stores skip the read-for-ownership of every destination
// line, which is what lets glibc's memcpy of large buffers run at twice the speed
// of a chunk-by-chunk memcpy into cold memory.
#ifndef EQUIFL_PROTOCOL_INTERNAL_STREAMING_COPY_H_
#define EQUIFL_PROTOCOL_INTERNAL_STREAMING_COPY_H_

#include <cstddef>

namespace equifl::protocol::internal {

//! Copies `size` bytes from `source` to `destination` (not overlapping).
void StreamingCopy(void* destination, const void* source, size_t size);

}  // namespace equifl::protocol::internal

#endif  // EQUIFL_PROTOCOL_INTERNAL_STREAMING_COPY_H_
