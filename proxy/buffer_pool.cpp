#include "buffer_pool.hpp"

#include <cstring>
#include <new>

namespace loopgate {
namespace {

// Keep at most this many idle chunks (4 MiB); beyond it memory goes back to
// the allocator so a burst does not pin memory forever.
constexpr size_t kMaxIdle = 64;

thread_local Chunk* t_free = nullptr;
thread_local size_t t_idle = 0;
thread_local size_t t_in_use = 0;

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
    chunk->begin = 0;
    chunk->end = 0;
    ++t_in_use;
    return chunk;
}

void chunk_release(Chunk* chunk) {
    --t_in_use;
    if (t_idle >= kMaxIdle) {
        ::operator delete(chunk);
        return;
    }
    chunk->next = t_free;
    t_free = chunk;
    ++t_idle;
}

size_t chunks_in_use() { return t_in_use; }

void ChunkQueue::append(const char* data, size_t len) {
    while (len > 0) {
        if (tail_ == nullptr || tail_->end == kChunkBytes) {
            Chunk* chunk = chunk_acquire();
            if (tail_ != nullptr) tail_->next = chunk;
            else head_ = chunk;
            tail_ = chunk;
        }
        size_t room = kChunkBytes - tail_->end;
        size_t take = len < room ? len : room;
        std::memcpy(tail_->data + tail_->end, data, take);
        tail_->end += static_cast<uint32_t>(take);
        bytes_ += take;
        data += take;
        len -= take;
    }
}

void ChunkQueue::splice(ChunkQueue& other) {
    if (other.head_ == nullptr) return;
    if (tail_ != nullptr) tail_->next = other.head_;
    else head_ = other.head_;
    tail_ = other.tail_;
    bytes_ += other.bytes_;
    other.head_ = other.tail_ = nullptr;
    other.bytes_ = 0;
}

size_t ChunkQueue::read(char* out, size_t len) {
    size_t done = 0;
    while (done < len && head_ != nullptr) {
        size_t have = head_->end - head_->begin;
        size_t take = len - done < have ? len - done : have;
        std::memcpy(out + done, head_->data + head_->begin, take);
        done += take;
        consume(take);
    }
    return done;
}

void ChunkQueue::consume(size_t len) {
    while (len > 0 && head_ != nullptr) {
        size_t have = head_->end - head_->begin;
        size_t take = len < have ? len : have;
        head_->begin += static_cast<uint32_t>(take);
        bytes_ -= take;
        len -= take;
        if (head_->begin == head_->end) {
            Chunk* next = head_->next;
            chunk_release(head_);
            head_ = next;
            if (head_ == nullptr) tail_ = nullptr;
        }
    }
}

size_t ChunkQueue::gather(uv_buf_t* bufs, size_t max) const {
    size_t n = 0;
    for (Chunk* c = head_; c != nullptr && n < max; c = c->next) {
        bufs[n++] = uv_buf_init(c->data + c->begin, c->end - c->begin);
    }
    return n;
}

void ChunkQueue::move_front(size_t count, ChunkQueue& out) {
    while (count-- > 0 && head_ != nullptr) {
        Chunk* chunk = head_;
        head_ = chunk->next;
        if (head_ == nullptr) tail_ = nullptr;
        chunk->next = nullptr;
        size_t len = chunk->end - chunk->begin;
        bytes_ -= len;
        if (out.tail_ != nullptr) out.tail_->next = chunk;
        else out.head_ = chunk;
        out.tail_ = chunk;
        out.bytes_ += len;
    }
}

void ChunkQueue::clear() {
    while (head_ != nullptr) {
        Chunk* next = head_->next;
        chunk_release(head_);
        head_ = next;
    }
    tail_ = nullptr;
    bytes_ = 0;
}

}  // namespace loopgate
