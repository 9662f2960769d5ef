#include "frame_stream.hpp"

#include <cstring>

namespace test_gateway {

FrameStream::FrameStream(Link& link, int stop_fd)
    : link_(link), stop_fd_(stop_fd), in_(new uint8_t[kBufferSize]), out_(new uint8_t[kBufferSize]) {}

std::string_view FrameStream::buffered_input() const {
    return {reinterpret_cast<const char*>(in_.get()) + in_begin_, in_end_ - in_begin_};
}

bool FrameStream::fill_input() {
    if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
    if (in_end_ == kBufferSize) compact_input();
    // Buffered output goes out before we might block, or client and gateway could wait for each
    // other; while more input is already here, it keeps collecting into bigger writes.
    if (out_length_ > 0 && !link_.input_ready() && !flush_output()) return false;
    if (!apply_read_deadline()) return false;
    if (stop_watched_ && !link_.wait_for_input_unless(stop_fd_)) {
        stop_seen_ = true;
        return false;
    }
    size_t n = link_.read_some(in_.get() + in_end_, kBufferSize - in_end_);
    in_end_ += n;
    return n > 0;
}

std::optional<FrameHeader> FrameStream::read_frame_header(bool stop_may_interrupt) {
    stop_watched_ = stop_may_interrupt;
    std::optional<FrameHeader> frame;
    if (ensure_input(2)) {
        size_t header_size = frame_header_size(in_.get() + in_begin_);
        if (ensure_input(header_size)) {  // may move the data
            frame = decode_frame_header(in_.get() + in_begin_);
            in_begin_ += header_size;
        }
    }
    stop_watched_ = false;
    return frame;
}

std::string FrameStream::read_small_payload(const FrameHeader& frame) {
    size_t length = static_cast<size_t>(frame.length);
    if (!ensure_input(length)) return {};
    std::string payload(length, '\0');
    Unmasker(frame.mask).apply(reinterpret_cast<uint8_t*>(payload.data()), in_.get() + in_begin_, length);
    in_begin_ += length;
    return payload;
}

bool FrameStream::skip_input(uint64_t length) {
    return for_each_input_chunk(length, [](std::span<const uint8_t>) { return true; });
}

std::span<const uint8_t> FrameStream::take_input(uint64_t limit) {
    if (in_begin_ == in_end_ && !fill_input()) return {};
    size_t n = static_cast<size_t>(std::min<uint64_t>(limit, in_end_ - in_begin_));
    std::span<const uint8_t> chunk(in_.get() + in_begin_, n);
    in_begin_ += n;
    return chunk;
}

// Makes `count` contiguous bytes available at in_begin_ (count is small: a header or a control
// payload).
bool FrameStream::ensure_input(size_t count) {
    while (in_end_ - in_begin_ < count) {
        if (in_begin_ + count > kBufferSize) compact_input();
        if (!fill_input()) return false;
    }
    return true;
}

void FrameStream::compact_input() {
    std::memmove(in_.get(), in_.get() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
}

bool FrameStream::apply_read_deadline() {
    if (!read_deadline_) {
        link_.set_read_timeout(std::nullopt);
        return true;
    }
    auto left = *read_deadline_ - Clock::now();
    if (left <= Clock::duration::zero()) return false;
    link_.set_read_timeout(left);
    return true;
}

std::span<uint8_t> FrameStream::output_space() {
    if (out_length_ == kBufferSize && !flush_output()) return {};
    if (output_failed_) return {};
    return {out_.get() + out_length_, kBufferSize - out_length_};
}

bool FrameStream::append_output(std::string_view bytes) {
    return append_produced(bytes.size(), [&](uint8_t* out, uint64_t offset, size_t count) {
        std::memcpy(out, bytes.data() + offset, count);
    });
}

void FrameStream::append_frame_header(bool fin, uint8_t opcode, uint64_t length) {
    uint8_t header[10];
    size_t size = encode_frame_header(header, fin, opcode, length);
    append_output(std::string_view(reinterpret_cast<const char*>(header), size));
}

void FrameStream::append_frame(uint8_t opcode, std::string_view payload) {
    append_frame_header(true, opcode, payload.size());
    append_output(payload);
}

bool FrameStream::flush_output() {
    if (output_failed_) return false;
    if (out_length_ > 0 && !link_.write_all(out_.get(), out_length_)) output_failed_ = true;
    out_length_ = 0;
    return !output_failed_;
}

}  // namespace test_gateway
