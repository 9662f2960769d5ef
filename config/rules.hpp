// What each section of the config allows, one file per group of sections:
//   rules_access.cpp       route name, listen address, who may connect
//   rules_upstream.cpp     upstream URL, plaintext, connect_to, the tls object
//   rules_timing.cpp       timeouts, limits, liveness, reconnect
//   rules_network_log.cpp  the top-level network and log objects
//   rules_admin.cpp        the top-level admin object
// config.cpp reads the document and each route in order, with these.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "validator.hpp"

namespace loopgate::config {

// A route as read, with what the cross-route checks need to know.
struct RouteDraft {
    Route route;
    std::string path;
    bool name_valid = false;
    bool listen_valid = false;
};

// Listener and access (rules_access.cpp)
bool read_route_name(Validator& v, const json& route, const std::string& path, std::string& out);
bool read_listen(Validator& v, const json& route, const std::string& path, ListenAddress& out);
// Two listen addresses that cannot both be bound.
bool listen_clash(const ListenAddress& a, const ListenAddress& b);
void check_loopback(Validator& v, const Route& route, const std::string& path);
// allowed_hosts, allowed_origins, max_connections, upstream_headers (secrets),
// allow_other_users (TCP listeners only).
void read_access(Validator& v, const json& route, const std::string& path, Route& out);
void check_unique_names(Validator& v, const std::vector<RouteDraft>& drafts);
void check_unique_listen(Validator& v, const std::vector<RouteDraft>& drafts);

// Upstream and TLS (rules_upstream.cpp)
bool read_upstream(Validator& v, const json& route, const std::string& path, UpstreamUrl& out);
void check_plaintext(Validator& v, const Route& route, const std::string& path);
std::optional<std::string> read_connect_to(Validator& v, const json& route, const std::string& path);

struct TlsDraft {
    TlsSettings settings;
    bool any_given = false;  // some key other than null: an error on a ws:// upstream
};
TlsDraft read_tls(Validator& v, const json& route, const std::string& path);

// Timing and sizes (rules_timing.cpp)
Timeouts read_timeouts(Validator& v, const json& route, const std::string& path);
Limits read_limits(Validator& v, const json& route, const std::string& path);
Liveness read_liveness(Validator& v, const json& route, const std::string& path);
Reconnect read_reconnect(Validator& v, const json& route, const std::string& path);

// Top-level sections (rules_network_log.cpp)
Network read_network(Validator& v, const json& root);
// Top-level admin object (rules_admin.cpp): its listen address, loopback or unix only.
std::optional<ListenAddress> read_admin(Validator& v, const json& root, const std::vector<RouteDraft>& routes);
std::optional<LogLevel> read_log(Validator& v, const json& root);

}  // namespace loopgate::config
