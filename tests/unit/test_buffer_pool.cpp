// ChunkQueue: the byte queue in pooled chunks under every write path of the
// transport. Bytes come out in order and whole whatever the sizes around the
// chunk boundary, and a drained queue holds no chunk.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "buffer_pool.hpp"

using namespace loopgate;

namespace {

std::string pattern(size_t len, size_t seed) {
    std::string s(len, '\0');
    for (size_t i = 0; i < len; ++i) s[i] = static_cast<char>((i * 131 + seed * 7 + (i >> 9)) & 0xff);
    return s;
}

std::string drain_by_gather(ChunkQueue& q) {
    std::string out;
    uv_buf_t bufs[4];
    while (!q.empty()) {
        size_t n = q.gather(bufs, 4);
        size_t total = 0;
        for (size_t i = 0; i < n; ++i) {
            out.append(bufs[i].base, bufs[i].len);
            total += bufs[i].len;
        }
        q.consume(total);
    }
    return out;
}

const std::vector<size_t> kSizes = {0, 1, 16383, 16384, 16385, 65535, 65536, 65537, 1 << 20};

}  // namespace

TEST_CASE("chunk queue: appended bytes come out in order for sizes around the chunk boundary") {
    size_t before = chunks_in_use();
    ChunkQueue q;
    std::string want;
    for (size_t i = 0; i < kSizes.size(); ++i) {
        std::string piece = pattern(kSizes[i], i);
        q.append(piece.data(), piece.size());
        want += piece;
        CHECK(q.size() == want.size());
    }
    // Chunks are filled before another is taken.
    CHECK(chunks_in_use() - before == (want.size() + kChunkBytes - 1) / kChunkBytes);
    CHECK(drain_by_gather(q) == want);
    CHECK(q.size() == 0);
    CHECK(chunks_in_use() == before);
}

TEST_CASE("chunk queue: partial consumes and reads take exactly the bytes asked for") {
    size_t before = chunks_in_use();
    ChunkQueue q;
    std::string want = pattern(3 * kChunkBytes + 17, 3);
    q.append(want.data(), want.size());
    std::string got;
    // Odd steps cross each chunk boundary at a different offset.
    const size_t steps[] = {1, 16383, 5, 65536, 65537, 7};
    size_t k = 0;
    while (!q.empty()) {
        size_t step = steps[k++ % 6];
        if (k % 2 == 0) {
            std::string part(step, '\0');
            part.resize(q.read(part.data(), step));
            got += part;
        } else {
            uv_buf_t front;
            q.gather(&front, 1);
            size_t take = step < front.len ? step : front.len;
            got.append(front.base, take);
            q.consume(take);
        }
        CHECK(q.size() == want.size() - got.size());
    }
    CHECK(got == want);
    CHECK(chunks_in_use() == before);
}

TEST_CASE("chunk queue: move_front and splice keep the order and the counts") {
    size_t before = chunks_in_use();
    ChunkQueue a;
    ChunkQueue in_flight;
    ChunkQueue b;
    std::string first = pattern(2 * kChunkBytes + 100, 1);
    std::string second = pattern(kChunkBytes - 1, 2);
    a.append(first.data(), first.size());
    // The first chunk was partly taken, as after a short writev.
    a.consume(10);
    a.move_front(2, in_flight);
    CHECK(in_flight.size() == 2 * kChunkBytes - 10);
    CHECK(a.size() == 100);
    b.append(second.data(), second.size());
    a.splice(b);
    CHECK(b.empty());
    CHECK(b.size() == 0);
    CHECK(drain_by_gather(in_flight) == first.substr(10, 2 * kChunkBytes - 10));
    CHECK(drain_by_gather(a) == first.substr(2 * kChunkBytes) + second);
    CHECK(chunks_in_use() == before);
}

TEST_CASE("chunk queue: clear and destruction give every chunk back") {
    size_t before = chunks_in_use();
    {
        ChunkQueue q;
        std::string data = pattern(5 * kChunkBytes, 9);
        q.append(data.data(), data.size());
        CHECK(chunks_in_use() == before + 5);
        q.clear();
        CHECK(q.empty());
        CHECK(chunks_in_use() == before);
        q.append(data.data(), 1);
    }
    CHECK(chunks_in_use() == before);
}
