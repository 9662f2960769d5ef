// Fixed-size chunks recycled through a free list, and a byte queue made of
// them, so the data path does not allocate per frame or per read and an idle
// connection holds no buffer at all. Single-threaded: the event loop's thread.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>

namespace loopgate {

constexpr size_t kChunkBytes = 64 * 1024;

struct Chunk {
    uv_write_t req;     // the first chunk of a write in flight carries its request
    Chunk* next;        // free list / queue link
    uint32_t begin;     // first byte not yet taken
    uint32_t end;       // bytes used in data
    char data[kChunkBytes];
};

Chunk* chunk_acquire();
void chunk_release(Chunk* chunk);
// Chunks acquired and not yet released on this thread: 0 when no connection
// has bytes waiting (what tests check for idle connections).
size_t chunks_in_use();

// Bytes in order, in pooled chunks: appended at the back (filling the last
// chunk before taking another), taken from the front. Chunks are released as
// soon as they are drained, so an empty queue holds no memory.
class ChunkQueue {
public:
    ChunkQueue() = default;
    ~ChunkQueue() { clear(); }
    ChunkQueue(const ChunkQueue&) = delete;
    ChunkQueue& operator=(const ChunkQueue&) = delete;

    bool empty() const { return head_ == nullptr; }
    Chunk* front() const { return head_; }
    size_t size() const { return bytes_; }

    void append(const char* data, size_t len);
    // Moves all of `other` to the back of this queue (no copy).
    void splice(ChunkQueue& other);
    // Copies up to `len` bytes from the front into `out` and drops them.
    size_t read(char* out, size_t len);
    // Drops `len` bytes from the front (len <= size()).
    void consume(size_t len);
    // Describes up to `max` chunks from the front for a writev; returns how many.
    size_t gather(uv_buf_t* bufs, size_t max) const;
    // Moves the first `count` chunks (as gathered) into `out`, which must be empty.
    void move_front(size_t count, ChunkQueue& out);
    void clear();

private:
    Chunk* head_ = nullptr;
    Chunk* tail_ = nullptr;
    size_t bytes_ = 0;
};

}  // namespace loopgate
