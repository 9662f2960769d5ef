// Buffered I/O on one link, 256 KiB each way. Input: the request bytes, then frame headers and
// payloads taken in chunks as they arrive, so a payload of any size streams through. Output:
// collected while more client input is already waiting, and flushed before any read that would
// block, so client and gateway can never end up waiting for each other.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "frames.hpp"
#include "link.hpp"

namespace test_gateway {

constexpr size_t kBufferSize = 256 * 1024;

class FrameStream {
public:
    // `stop_fd` becomes readable when the gateway is asked to stop (see read_frame_header).
    FrameStream(Link& link, int stop_fd);

    Link& link() { return link_; }

    // ---- input

    // Reads fail once `deadline` has passed; nullopt: no limit.
    void set_read_deadline(std::optional<Clock::time_point> deadline) { read_deadline_ = deadline; }
    // The input received and not yet consumed.
    std::string_view buffered_input() const;
    void consume_input(size_t count) { in_begin_ += count; }
    // Reads more input, after flushing the output if the read could block; false when the link
    // is over, the read deadline passed or a watched stop came first.
    bool fill_input();

    // With `stop_may_interrupt`, a stop request ends the wait for the header (then stopped() is true).
    std::optional<FrameHeader> read_frame_header(bool stop_may_interrupt = false);
    bool stopped() const { return stop_seen_; }
    // The unmasked payload of a frame whose payload fits the buffer; shorter when the input ended.
    std::string read_small_payload(const FrameHeader& frame);
    bool skip_input(uint64_t length);
    // Hands the next `length` input bytes to `use` in chunks as they arrive; false when the
    // input ended first or `use` returned false.
    template <typename Use>
    bool for_each_input_chunk(uint64_t length, Use use);

    // ---- output (false: the link failed, and every later write fails too)

    bool append_output(std::string_view bytes);
    void append_frame_header(bool fin, uint8_t opcode, uint64_t length);
    void append_frame(uint8_t opcode, std::string_view payload);
    // Appends `length` bytes that `produce(out, offset, count)` writes to `out`: those from
    // `offset` on, `count` of them. Flushes each time the buffer is full.
    template <typename Produce>
    bool append_produced(uint64_t length, Produce produce);
    bool flush_output();

private:
    // Up to `limit` bytes from the input buffer, reading more if it is empty; empty on failure.
    std::span<const uint8_t> take_input(uint64_t limit);
    bool ensure_input(size_t count);
    void compact_input();
    bool apply_read_deadline();
    std::span<uint8_t> output_space();

    Link& link_;
    int stop_fd_;
    std::unique_ptr<uint8_t[]> in_;
    size_t in_begin_ = 0;
    size_t in_end_ = 0;
    std::unique_ptr<uint8_t[]> out_;
    size_t out_length_ = 0;
    bool output_failed_ = false;
    std::optional<Clock::time_point> read_deadline_;
    bool stop_watched_ = false;  // a stop request may interrupt the next wait for input
    bool stop_seen_ = false;
};

template <typename Use>
bool FrameStream::for_each_input_chunk(uint64_t length, Use use) {
    while (length > 0) {
        std::span<const uint8_t> chunk = take_input(length);
        if (chunk.empty()) return false;
        length -= chunk.size();
        if (!use(chunk)) return false;
    }
    return true;
}

template <typename Produce>
bool FrameStream::append_produced(uint64_t length, Produce produce) {
    for (uint64_t done = 0; done < length;) {
        std::span<uint8_t> space = output_space();
        if (space.empty()) return false;
        size_t n = static_cast<size_t>(std::min<uint64_t>(space.size(), length - done));
        produce(space.data(), done, n);
        out_length_ += n;
        done += n;
    }
    return true;
}

}  // namespace test_gateway
