// Fixed-size write chunks recycled through a free list, so the relay does not
// allocate per frame or per read. Single-threaded: the event loop's thread.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>

namespace loopgate {

constexpr size_t kChunkBytes = 64 * 1024;

struct Chunk {
    uv_write_t req;     // a chunk is also its own write request
    Chunk* next;        // free list / queue link
    void* owner;        // who gets the write completion
    uint32_t len;       // bytes used in data
    char data[kChunkBytes];
};

Chunk* chunk_acquire();
void chunk_release(Chunk* chunk);

}  // namespace loopgate
