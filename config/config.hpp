// loopgate configuration: the typed result of parsing and validating the
// config file. Nothing outside config/ reads JSON.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "access_rules.hpp"
#include "file_checks.hpp"
#include "tls_pins.hpp"

namespace loopgate::config {

// Where a route accepts app connections.
struct ListenAddress {
    std::string host;          // IPv4 literal, e.g. "127.0.0.1"
    uint16_t port = 0;         // 0 = pick a free port (tests); logged at start
    bool is_loopback = false;  // 127.0.0.0/8, or a unix socket
    std::filesystem::path unix_path;  // "unix:/path": a unix socket instead of TCP (absolute)
    bool is_unix() const { return !unix_path.empty(); }
    std::string text() const;  // "127.0.0.1:18789" or "unix:/path/loopgate.sock"
};

// The gateway a route forwards to: ws[s]://host[:port][/base/path]
struct UpstreamUrl {
    bool tls = true;           // wss:// (true) or ws:// (false)
    std::string host;          // DNS name or IPv4 literal, lower-cased
    uint16_t port = 443;       // default 443 for wss, 80 for ws
    std::string base_path;     // "" or "/base" (never ends in '/')
    bool host_is_ipv4_literal = false;
    std::string authority() const;  // Host header value: host, plus ":port" when not the default
    std::string text() const;       // canonical "wss://host[:port]/base", port only when not the default
};

// Parses "wss://host[:port][/path]". Returns an error message (without path
// prefix) on failure, or std::nullopt and fills `out`.
std::optional<std::string> parse_upstream_url(std::string_view text, UpstreamUrl& out);

enum class TlsVerify {
    full,      // chain to a trust anchor, host name (or IP), and the pins if any
    pin_only,  // only a pin authenticates the peer: self-signed gateways with no SAN
};

enum class TlsVersion { tls1_2, tls1_3 };

// Every path is absolute. See docs/tls.md for how these combine.
struct TlsSettings {
    std::optional<std::filesystem::path> ca_file;  // PEM bundle; with ca_dir, replaces the system store
    std::optional<std::filesystem::path> ca_dir;   // hashed directory (openssl rehash)
    TlsVerify verify = TlsVerify::full;
    std::vector<Pin> pins;                          // any one matching is enough
    std::optional<std::filesystem::path> client_cert;  // PEM chain, leaf first (mutual TLS)
    std::optional<std::filesystem::path> client_key;   // PEM, unencrypted, matches client_cert
    std::optional<TlsVersion> min_version;          // unset: OpenSSL's default, never below 1.2
    std::optional<TlsVersion> max_version;          // unset: OpenSSL's default

    bool operator==(const TlsSettings&) const = default;
};

struct Timeouts {
    uint32_t request_ms = 10000;    // app must deliver its whole upgrade request
    uint32_t connect_ms = 5000;     // TCP connect to one upstream address
    uint32_t handshake_ms = 15000;  // whole upstream dial: DNS + TCP + TLS + WebSocket upgrade
    uint32_t close_ms = 5000;       // close handshake after the first close frame
    uint32_t idle_ms = 0;           // no frame either way for this long: close 1001 "idle"; 0 = off
    uint32_t response_ms = 60000;   // HTTP forwarding: the upstream's response head, once the request is sent
};

struct Limits {
    uint32_t max_request_header_bytes = 16384;      // app request line + headers -> 431
    uint64_t max_message_bytes = 64ull << 20;       // one WebSocket message, either way -> 1009
    uint64_t max_frame_bytes = 0;                   // one frame, either way -> 1009; 0 = only the message limit
    uint64_t max_body_bytes = 64ull << 20;          // HTTP forwarding: one request body -> 413
};

// Finding dead upstreams: loopgate's own pings, and the probe after a network change.
struct Liveness {
    uint32_t ping_interval_ms = 15000;  // 0 = no periodic pings
    uint32_t ping_timeout_ms = 10000;   // no pong by then: the upstream is gone, the app gets 1012
    uint32_t probe_timeout_ms = 3000;   // deadline for the pong after a network change
};

// While a route's upstream is down (after it was up): retry, and hold new apps.
struct Reconnect {
    uint32_t hold_ms = 10000;             // a new app waits this long for the upstream; 0 = answer at once
    uint32_t max_held = 64;               // held apps per route; more get 503 at once
    uint32_t backoff_initial_ms = 250;    // first retry delay; doubles up to backoff_max_ms, full jitter
    uint32_t backoff_max_ms = 30000;
};

struct Route {
    std::string name;
    ListenAddress listen;
    bool allow_non_loopback = false;        // must be true to listen outside 127.0.0.0/8
    // TCP only: let in connections whose socket another local user owns (or
    // that come from another machine). Off: only loopgate's own user and root.
    bool allow_other_users = false;
    UpstreamUrl upstream;
    bool allow_plaintext_upstream = false;  // must be true for ws:// upstreams
    std::optional<std::string> connect_to;  // IPv4 literal replacing DNS; SNI/Host keep the name
    TlsSettings tls;
    Timeouts timeouts;
    Limits limits;
    Liveness liveness;
    Reconnect reconnect;
    std::vector<HostRule> allowed_hosts;      // besides the listener's own names (TCP routes only)
    std::vector<OriginRule> allowed_origins;  // browser pages let in; a request without Origin always is
    uint32_t max_connections = 256;           // concurrent app connections; more get 503
    std::vector<HeaderSetting> upstream_headers;  // set on every upstream request, replacing the app's
    bool http = true;                 // forward plain HTTP requests (a browser UI) besides WebSocket upgrades
    bool forwarded_headers = false;   // add Forwarded / X-Forwarded-* to forwarded HTTP requests
};

// Watching the machine's network (netlink / routing socket) and wake from sleep.
struct Network {
    bool watch = true;                   // react to network changes at all
    uint32_t debounce_ms = 500;          // gather a burst of changes into one reaction
    uint32_t wake_check_interval_ms = 2000;  // wall-clock jump check (sleep/wake); 0 = off
};

enum class LogLevel { debug, info, warn, error };

struct Config {
    std::vector<Route> routes;
    LogLevel log_level = LogLevel::info;
    uint32_t shutdown_timeout_ms = 5000;  // SIGTERM: time allowed for close handshakes
    Network network;
    uint32_t max_connections = 1024;      // concurrent app connections over all routes; more get 503
    // The admin endpoint (health, status, metrics): off unless set; loopback or a unix socket only.
    std::optional<ListenAddress> admin_listen;
};

struct LoadResult {
    std::optional<Config> config;     // set when errors is empty
    std::vector<std::string> errors;  // each "json.path: message" or "line L, column C: message"
    std::vector<std::string> secret_keys;  // JSON paths of secrets held inline (the file must be private)
};

// Parses JSON-with-comments text. Relative file paths in the config are
// resolved against base_dir (the config file's directory). Never touches the
// file system: the files the config names are judged by `files` alone, and
// by default not at all (load_config_file checks them on disk).
LoadResult parse_config(std::string_view text, const std::filesystem::path& base_dir,
                        const FileChecks& files = no_file_checks());

// Reads and parses a file, checking the files it names on disk; an
// unreadable file is reported as an error, and so is a file other users can
// read when it holds a secret.
LoadResult load_config_file(const std::filesystem::path& file);
// `text` as load_config_file would find it in `file` (relative paths against
// its directory, the files it names checked on disk), for a file that only
// its owner can read: what `loopgate setup` checks before it writes `text`.
LoadResult load_config_text(std::string_view text, const std::filesystem::path& file);

std::string_view log_level_name(LogLevel level);

// The admin endpoint of a config text that may be invalid elsewhere (so
// `loopgate doctor` can still ask the loopgate that runs an older version of
// it): admin.listen when the text is JSON and that key is valid on its own.
std::optional<ListenAddress> admin_listen_of(std::string_view text, const std::filesystem::path& base_dir);
// admin_listen_of the file's text (nothing when it cannot be read).
std::optional<ListenAddress> admin_listen_of_file(const std::filesystem::path& file);

}  // namespace loopgate::config
