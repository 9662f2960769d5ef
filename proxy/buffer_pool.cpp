#include "buffer_pool.hpp"

#include <new>

namespace loopgate {
namespace {

// Keep at most this many idle chunks (4 MiB); beyond it memory goes back to
// the allocator so a burst does not pin memory forever.
constexpr size_t kMaxIdle = 64;

thread_local Chunk* t_free = nullptr;
thread_local size_t t_idle = 0;

}  // namespace

Chunk* chunk_acquire() {
    Chunk* chunk = t_free;
    if (chunk != nullptr) {
        t_free = chunk->next;
        --t_idle;
    } else {
        chunk = static_cast<Chunk*>(::operator new(sizeof(Chunk)));
    }
    chunk->next = nullptr;
    chunk->owner = nullptr;
    chunk->len = 0;
    return chunk;
}

void chunk_release(Chunk* chunk) {
    if (t_idle >= kMaxIdle) {
        ::operator delete(chunk);
        return;
    }
    chunk->next = t_free;
    t_free = chunk;
    ++t_idle;
}

}  // namespace loopgate
