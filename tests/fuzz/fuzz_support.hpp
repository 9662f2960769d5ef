// Helpers shared by the libFuzzer targets: how an input is split into a few
// option bits, a chunking plan and the byte stream, and how a broken
// invariant is reported. Network peers choose where their bytes are cut, so
// every parser here is fed the same stream in fuzzer-chosen pieces.
//
// Input layout (tests/fuzz/make_corpus.py writes seeds in it):
//   byte 0        options, each target reads the bits it needs
//   byte 1        n: the low 4 bits are the number of chunk sizes that follow
//   n bytes       chunk sizes minus one, used in turn and then repeated;
//                 with n == 0 the stream arrives in one piece
//   the rest      the stream
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace loopgate::fuzz {

// abort() so libFuzzer saves the input as a crash reproducer.
[[noreturn]] inline void broken(const char* invariant) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", invariant);
    std::abort();
}

inline void require(bool holds, const char* invariant) {
    if (!holds) broken(invariant);
}

struct ChunkedInput {
    uint8_t options = 0;
    std::vector<size_t> chunk_sizes;  // empty: one piece
    std::string_view stream;

    static ChunkedInput split(const uint8_t* data, size_t size) {
        ChunkedInput input;
        size_t at = 0;
        if (at < size) input.options = data[at++];
        size_t count = at < size ? (data[at++] & 0x0f) : 0;
        for (size_t i = 0; i < count && at < size; ++i) input.chunk_sizes.push_back(size_t{data[at++]} + 1);
        input.stream = std::string_view(reinterpret_cast<const char*>(data + at), size - at);
        return input;
    }

    // Calls piece(const char*, size_t) for each chunk of the stream, in order,
    // until the stream ends or piece returns false. Never passes an empty chunk.
    template <typename Piece>
    void for_each_chunk(Piece&& piece) const {
        size_t at = 0;
        size_t turn = 0;
        while (at < stream.size()) {
            size_t want = chunk_sizes.empty() ? stream.size() : chunk_sizes[turn++ % chunk_sizes.size()];
            size_t len = want < stream.size() - at ? want : stream.size() - at;
            if (!piece(stream.data() + at, len)) return;
            at += len;
        }
    }
};

}  // namespace loopgate::fuzz
