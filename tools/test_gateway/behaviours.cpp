#include "behaviours.hpp"

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "frames.hpp"
#include "log.hpp"
#include "text.hpp"

namespace test_gateway {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kSourceFrameSize = uint64_t{1} << 20;
constexpr uint8_t kSourcePatternPeriod = 251;  // prime, so it never lines up with frame sizes
constexpr auto kCloseReplyTimeout = 5s;
constexpr auto kSourceCloseReplyTimeout = 30s;

bool query_has(std::string_view query, std::string_view pair) {
    for (std::string_view item : split(query, '&'))
        if (item == pair) return true;
    return false;
}

std::string headers_json(const HttpRequest& request) {
    std::string json = "{\"target\":" + json_string(request.target) + ",\"headers\":{";
    for (size_t i = 0; i < request.headers.size(); ++i) {
        if (i > 0) json += ',';
        json += json_string(request.headers[i].first) + ':' + json_string(request.headers[i].second);
    }
    return json + "}}";
}

// Byte i of a /source stream is i % 251. Copying from this table at offset (i % 251) yields any
// chunk of up to kBufferSize bytes with one memcpy.
const std::vector<uint8_t>& source_pattern() {
    static const std::vector<uint8_t> pattern = [] {
        std::vector<uint8_t> bytes(kBufferSize + kSourcePatternPeriod);
        for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i % kSourcePatternPeriod);
        return bytes;
    }();
    return pattern;
}

const char* control_frame_name(uint8_t opcode) {
    switch (opcode) {
    case kPing: return "ping";
    case kPong: return "pong";
    default: return "close";
    }
}

// One upgraded connection after its 101.
class Session {
public:
    Session(FrameStream& stream, const Server& server) : stream_(stream), server_(server) {}

    void echo() {
        bool inside_message = false;
        while (auto frame = next_frame_header()) {
            if (auto problem = frame_problem(*frame, inside_message)) {
                fail(*problem);
                return;
            }
            if (is_control(frame->opcode)) {
                if (!answer_control_frame(*frame)) return;
                continue;
            }
            inside_message = !frame->fin;
            if (!echo_data_frame(*frame)) return;
        }
        // Like a real gateway going down for a restart: tell the client why before leaving.
        if (stream_.stopped()) close_first(*server_.close_on_exit, "gateway restarting", kCloseReplyTimeout);
    }

    // Starts the closing handshake and waits (bounded) for the client's close frame.
    void close_first(uint16_t code, std::string_view reason, Clock::duration reply_limit) {
        stream_.append_frame(kClose, close_payload(code, reason));
        if (!stream_.flush_output()) return;
        stream_.set_read_deadline(Clock::now() + reply_limit);
        while (auto frame = stream_.read_frame_header()) {
            if (frame->opcode == kClose) break;
            if (!stream_.skip_input(frame->length)) return;
        }
        stream_.set_read_deadline(std::nullopt);
        stream_.link().finish();
    }

    bool send_source(uint64_t total) {
        const std::vector<uint8_t>& pattern = source_pattern();
        for (uint64_t sent = 0; sent < total;) {
            uint64_t frame_size = std::min(kSourceFrameSize, total - sent);
            stream_.append_frame_header(true, kBinary, frame_size);
            bool appended = stream_.append_produced(frame_size, [&](uint8_t* out, uint64_t offset, size_t count) {
                std::memcpy(out, pattern.data() + (sent + offset) % kSourcePatternPeriod, count);
            });
            if (!appended) return false;
            sent += frame_size;
        }
        return true;
    }

private:
    // Between frames, and only there, a stop request may end the wait when --close-on-exit is
    // set: the close frame then cannot land in the middle of a frame being echoed.
    std::optional<FrameHeader> next_frame_header() {
        return stream_.read_frame_header(server_.close_on_exit.has_value());
    }

    // Streams the payload back as it arrives: header first, then unmasked chunks.
    bool echo_data_frame(const FrameHeader& frame) {
        stream_.append_frame_header(frame.fin, frame.opcode, frame.length);
        Unmasker unmasker(frame.mask);
        return stream_.for_each_input_chunk(frame.length, [&](std::span<const uint8_t> chunk) {
            return stream_.append_produced(chunk.size(), [&](uint8_t* out, uint64_t offset, size_t count) {
                unmasker.apply(out, chunk.data() + offset, count);
            });
        });
    }

    // Returns false when the connection is over.
    bool answer_control_frame(const FrameHeader& frame) {
        std::string payload = stream_.read_small_payload(frame);
        if (payload.size() != frame.length) return false;
        if (server_.log_control_frames)
            say(std::string("control opcode=") + control_frame_name(frame.opcode) + " payload=" + json_string(payload));
        if (frame.opcode == kPong) return true;
        if (frame.opcode == kPing) {
            stream_.append_frame(kPong, payload);
            return true;
        }
        if (payload.size() == 1) {
            fail({kProtocolError, "close payload of one byte"});
            return false;
        }
        send_close_and_finish(payload);  // the client's code and reason, echoed back
        return false;
    }

    // Fails the connection (RFC 6455 7.1.7): close frame with the reason, then hang up.
    void fail(const CloseReason& reason) { send_close_and_finish(close_payload(reason.code, reason.text)); }

    void send_close_and_finish(std::string_view payload) {
        stream_.append_frame(kClose, payload);
        if (stream_.flush_output()) stream_.link().finish();
    }

    FrameStream& stream_;
    const Server& server_;
};

}  // namespace

std::optional<Behaviour> behaviour_for(std::string_view target) {
    size_t question = target.find('?');
    std::string_view path = target.substr(0, question);
    Behaviour behaviour;
    if (question != std::string_view::npos) behaviour.challenge = query_has(target.substr(question + 1), "challenge=1");
    auto argument_of = [&](std::string_view prefix) -> std::optional<std::string_view> {
        if (path.substr(0, prefix.size()) != prefix) return std::nullopt;
        return path.substr(prefix.size());
    };
    if (auto status_text = argument_of("/status/")) {
        auto status = parse_number<uint16_t>(*status_text);
        if (status_text->size() != 3 || !status || *status < 200 || *status > 599) return std::nullopt;
        behaviour = {Behaviour::kRefuseWith, *status, false};
    } else if (auto code_text = argument_of("/close/")) {
        auto close_code = parse_number<uint16_t>(*code_text);
        if (!close_code) return std::nullopt;
        behaviour.kind = Behaviour::kCloseWith;
        behaviour.number = *close_code;
    } else if (auto bytes = argument_of("/source/")) {
        auto count = parse_number<uint64_t>(*bytes);
        if (!count) return std::nullopt;
        behaviour.kind = Behaviour::kSource;
        behaviour.number = *count;
    } else if (path == "/headers") {
        behaviour.kind = Behaviour::kHeaders;
    }
    return behaviour;
}

void append_first_frames(const Behaviour& behaviour, const HttpRequest& request, FrameStream& stream) {
    if (behaviour.challenge) {
        stream.append_frame(kText, R"({"type":"event","event":"connect.challenge","payload":{"nonce":")" +
                                       random_hex(16) + R"("}})");
    }
    if (behaviour.kind == Behaviour::kHeaders) stream.append_frame(kText, headers_json(request));
}

void run_behaviour(const Behaviour& behaviour, FrameStream& stream, const Server& server) {
    Session session(stream, server);
    switch (behaviour.kind) {
    case Behaviour::kCloseWith:
        session.close_first(static_cast<uint16_t>(behaviour.number), "gateway closing", kCloseReplyTimeout);
        break;
    case Behaviour::kSource:
        if (!session.send_source(behaviour.number)) break;
        session.close_first(kNormalClosure, "done", kSourceCloseReplyTimeout);
        break;
    default: session.echo(); break;
    }
}

}  // namespace test_gateway
