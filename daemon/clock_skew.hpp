// Telling whether this machine's clock is far off, which breaks certificate
// dates: an upstream's HTTP Date header against the local time it arrived at,
// or a certificate's validity against the local time. Pure functions, so the
// parsing and the judgement are unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace loopgate {

// Seconds since the epoch of an HTTP date: IMF-fixdate ("Sun, 06 Nov 1994
// 08:49:37 GMT") and the two obsolete forms a recipient must also accept
// (RFC 9110 5.6.7: RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT", asctime "Sun Nov
// 6 08:49:37 1994"). Nothing when the text is none of them.
std::optional<int64_t> parse_http_date(std::string_view text);

// Seconds since the epoch of a certificate time as tls::CertSummary writes
// it: "2025-01-02T03:04:05Z".
std::optional<int64_t> parse_utc_time(std::string_view text);

// "2025-01-02T03:04:05Z"
std::string utc_time_text(int64_t seconds);

// "3 s", "12 min", "5 h", "4 days": a duration for a person, rounded down.
std::string duration_text(int64_t seconds);

// How far this clock is off beyond which loopgate doctor calls it a problem.
inline constexpr int64_t kMaxClockSkewSeconds = 5 * 60;

}  // namespace loopgate
