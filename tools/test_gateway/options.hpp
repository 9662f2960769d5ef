// The command line: what to listen on, TLS or plain, and the optional behaviours the flags turn
// on (docs/test-gateway.md, "Running it").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace test_gateway {

struct Options {
    std::string host;
    std::string port;
    std::string cert_file;
    std::string key_file;
    std::string client_ca_file;  // non-empty: require a client certificate issued by this CA
    bool plain = false;
    bool tls13_only = false;
    std::optional<uint16_t> close_on_exit;  // close code sent to every echo session on SIGTERM
    bool log_control_frames = false;
    bool log_handshakes = false;         // one stdout line per TLS handshake: resumed or not
    std::optional<size_t> tickets;       // TLS 1.3 tickets after a full handshake (OpenSSL's default: 2)
    bool single_use_tickets = false;     // a ticket resumes one handshake; offered again, it is refused
    std::optional<int64_t> date_offset;  // --date-offset SECONDS: a Date header that far off
};

inline constexpr std::string_view kUsage =
    "usage: loopgate-test-gateway --listen HOST:PORT (--cert FILE --key FILE | --plain) [--tls13-only]\n"
    "                             [--close-on-exit CODE] [--log-control-frames] [--client-ca FILE]\n"
    "                             [--log-handshakes] [--tickets N] [--single-use-tickets] [--date-offset SECONDS]";

// Returns an error message, or nothing when the options are complete and consistent.
std::optional<std::string> parse_options(int argc, char** argv, Options& options);

}  // namespace test_gateway
