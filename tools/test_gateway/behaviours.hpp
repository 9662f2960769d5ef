// What the request target asks the gateway to do (docs/test-gateway.md, "Behaviour by path"):
// echo, /headers, /close/CODE, /source/BYTES, /status/NNN and ?challenge=1, and doing it once the
// 101 is out.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "frame_stream.hpp"
#include "http.hpp"
#include "server.hpp"

namespace test_gateway {

struct Behaviour {
    enum Kind { kEcho, kHeaders, kCloseWith, kSource, kRefuseWith } kind = kEcho;
    uint64_t number = 0;  // status code, close code or byte count
    bool challenge = false;
};

// Returns nothing when the target names a behaviour with an unusable argument.
std::optional<Behaviour> behaviour_for(std::string_view target);

// The frames that go out in the same write as the 101: the challenge, the /headers report.
void append_first_frames(const Behaviour& behaviour, const HttpRequest& request, FrameStream& stream);

// Runs an upgraded connection whose 101 is out, until it is over.
void run_behaviour(const Behaviour& behaviour, FrameStream& stream, const Server& server);

}  // namespace test_gateway
