// The judgements about the path to each gateway (the route's listener, its
// probe, the daemon's view of its health), the clock, the routing table and
// the log. The agent and the config are in doctor_checks.cpp.
#include <cstdio>
#include <cstdlib>

#include "clock_skew.hpp"
#include "doctor_checks.hpp"

namespace loopgate::doctor {
namespace {

constexpr int kCertNotYetValid = 9;    // X509_V_ERR_CERT_NOT_YET_VALID
constexpr int kCertExpired = 10;       // X509_V_ERR_CERT_HAS_EXPIRED
constexpr int kSelfSignedLeaf = 18;    // X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
constexpr int kSelfSignedChain = 19;   // X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
constexpr size_t kShownLogLines = 5;

std::string step_line(const ProbeStep& s) {
    char head[64];
    std::snprintf(head, sizeof head, "%-8s %-4s %9s  ", s.step.c_str(), s.verdict.c_str(), s.took.c_str());
    return head + s.detail;
}

std::string steps_text(const std::vector<ProbeStep>& steps) {
    std::string out;
    for (const auto& s : steps) {
        if (s.verdict == "--") continue;  // not needed (no DNS for an address, no TLS for ws://)
        out += (out.empty() ? "" : ", ") + s.step + " " + s.verdict;
    }
    return out;
}

std::string verify_advice(const RouteFacts& r) {
    std::string probe = "loopgate probe " + r.name;
    if (r.seen && (r.seen->chain_error == kCertExpired || r.seen->chain_error == kCertNotYetValid)) {
        return "the certificate is not valid at this machine's time: if the clock is right (see clock), renew "
               "the certificate on the gateway";
    }
    if (r.seen && r.seen->pin_mismatch) {
        return "the gateway's certificate is not the pinned one: if it was renewed, check its fingerprint on the "
               "gateway, then pin the new one (" + probe + " --print-pin)";
    }
    if (r.seen && (r.seen->chain_error == kSelfSignedLeaf || r.seen->chain_error == kSelfSignedChain)) {
        return "a self-signed certificate needs a pin: check its fingerprint on the gateway, then " + probe +
               " --print-pin prints the lines";
    }
    return probe + " shows the chain and why it does not verify (tls.ca_file for a private CA)";
}

std::string probe_advice(const RouteFacts& r) {
    std::string probe = "loopgate probe " + r.name;
    if (r.failed_step == "trust") return "the route's tls settings cannot be used: loopgate check names the route and the reason";
    if (r.failed_step == "resolve") {
        return r.host + " has no IPv4 address here: is Tailscale up and MagicDNS on (tailscale status)? Or set "
                        "connect_to to the gateway's 100.x address";
    }
    if (r.failed_step == "connect") {
        if (r.host == "localhost" || r.host.rfind("127.", 0) == 0) {
            return "nothing accepts connections there: is the gateway running on this machine, on that port?";
        }
        return "nothing accepts connections there: is the gateway running, and is this machine on the tailnet "
               "(tailscale ping " + r.host + ")?";
    }
    if (r.failed_step == "verify") return verify_advice(r);
    if (r.failed_step == "tls") return probe + " shows the handshake; check tls.min_version, max_version and client_cert";
    if (r.failed_step == "upgrade") return probe + " shows the gateway's answer";
    return probe + " shows each step";
}

void add_todo(Finding& f, const std::string& todo) { f.todo += (f.todo.empty() ? "" : "; ") + todo; }

// "ts=2026-12-01T15:10:28.123Z level=warn ..." -> "[3 min ago] level=warn ...", the line itself when it has no ts.
std::string aged_line(const std::string& line, int64_t now) {
    if (line.rfind("ts=", 0) != 0) return line;
    size_t end = line.find(' ');
    std::string ts = line.substr(3, end == std::string::npos ? std::string::npos : end - 3);
    size_t dot = ts.find('.');
    if (dot != std::string::npos && !ts.empty() && ts.back() == 'Z') ts = ts.substr(0, dot) + "Z";
    auto when = parse_utc_time(ts);
    if (!when || *when > now) return line;  // stamped after now: the clock moved back since
    std::string rest = end == std::string::npos ? std::string() : line.substr(end + 1);
    return "[" + duration_text(now - *when) + " ago] " + rest;
}

}  // namespace

Finding check_route(const RouteFacts& r) {
    Finding f{"route " + r.name, Severity::ok, "", {}, ""};
    std::string path = r.listen + " -> " + r.upstream;
    if (r.probe_ok) {
        f.summary = path + ": probe ok (" + steps_text(r.steps) + ")";
        if (r.through && r.through->working) f.summary += "; through loopgate: " + r.through->summary;
    } else if (r.failed_step == "upgrade" && (r.refused_status == 401 || r.refused_status == 403)) {
        // The path works: TLS verified and the gateway itself said no, as it would to an app without its token.
        f.severity = Severity::warn;
        f.summary = path + ": the gateway answered " + std::to_string(r.refused_status) +
                    " to the probe, which sends no credentials; the path through loopgate works";
        f.todo = "apps that send their own credentials get in; for the probe, routes[].upstream_headers can add them";
    } else {
        f.severity = Severity::fail;
        f.summary = path + ": probe failed at " + r.failed_step + ": " + r.failure_reason;
        f.todo = probe_advice(r);
    }
    for (const auto& s : r.steps) f.details.push_back(step_line(s));
    if (r.through && !r.through->working) {
        f.severity = Severity::fail;
        f.details.push_back("a WebSocket upgrade through " + r.listen + " failed: " + r.through->summary);
        add_todo(f, "the gateway answers loopgate probe but not through the running loopgate: its log says why "
                    "(see log); loopgate reload, or restart it");
    }
    if (r.listener_error && !r.listener_error->empty()) {
        f.severity = Severity::fail;
        f.details.push_back("its listener " + r.listen + " does not accept connections: " + *r.listener_error);
        add_todo(f, "loopgate logs why a listener stopped; a restart opens it again");
    }
    if (r.running && r.running->state == "down") {
        std::string seen = "loopgate has seen the upstream down for " +
                           duration_text(static_cast<int64_t>(r.running->down_for_ms / 1000)) + ": " +
                           r.running->down_reason;
        if (r.running->held > 0) seen += "; " + std::to_string(r.running->held) + " apps are waiting for it";
        f.details.push_back(seen);
        if (f.severity == Severity::ok) {
            f.severity = Severity::warn;
            add_todo(f, "the probe got through just now; loopgate retries with backoff and marks it up on its next dial");
        }
    }
    return f;
}

std::optional<Finding> check_clock(const std::vector<ClockSample>& samples, const std::vector<RouteFacts>& routes,
                                   int64_t now) {
    const ClockSample* worst = nullptr;
    int64_t worst_skew = 0;
    for (const auto& sample : samples) {
        auto remote = parse_http_date(sample.date_header);
        if (!remote) continue;
        int64_t skew = sample.received - *remote;  // positive: this clock is ahead
        if (worst == nullptr || std::llabs(skew) > std::llabs(worst_skew)) {
            worst = &sample;
            worst_skew = skew;
        }
    }
    const std::string fix = "set the clock right (macOS: System Settings > General > Date & Time, set automatically; "
                            "Linux: timedatectl set-ntp true): certificates are judged by it";
    if (worst != nullptr) {
        if (std::llabs(worst_skew) <= kMaxClockSkewSeconds) {
            return Finding{"clock", Severity::ok,
                           "agrees with the gateway of route " + worst->route + " within " + duration_text(worst_skew),
                           {}, ""};
        }
        return Finding{"clock", Severity::fail,
                       "this machine's clock is " + duration_text(worst_skew) + (worst_skew > 0 ? " ahead of" : " behind") +
                           " the gateway of route " + worst->route + " (its Date: " + worst->date_header + ")",
                       {"local time " + utc_time_text(worst->received)}, fix};
    }
    // No Date header: the certificates' validity still brackets the right time.
    const RouteFacts* checked = nullptr;
    for (const auto& r : routes) {
        if (!r.seen || r.seen->chain.empty()) continue;
        const tls::CertSummary& leaf = r.seen->chain.front();
        auto from = parse_utc_time(leaf.not_before);
        auto until = parse_utc_time(leaf.not_after);
        bool outside = (from && now < *from) || (until && now > *until) || r.seen->chain_error == kCertExpired ||
                       r.seen->chain_error == kCertNotYetValid;
        if (outside) {
            return Finding{"clock", Severity::fail,
                           "the certificate of route " + r.name + " is valid from " + leaf.not_before + " to " +
                               leaf.not_after + ", and this machine's time is " + utc_time_text(now),
                           {"either the certificate expired (or is not valid yet), or this clock is off"},
                           "compare `date -u` with a clock you trust; if it is right, renew the certificate on the "
                           "gateway, else " + fix};
        }
        if (from && until) checked = &r;
    }
    if (checked == nullptr) return std::nullopt;
    return Finding{"clock", Severity::ok,
                   "no gateway sent a Date header; the certificates' dates include this machine's time (" +
                       utc_time_text(now) + ")",
                   {}, ""};
}

Finding check_ipv6_routes(const TailnetRoutes& routes, const std::string& read_error) {
    if (!read_error.empty()) return {"network", Severity::ok, "IPv6 routes not checked: " + read_error, {}, ""};
    if (!routes.defaults.empty()) {
        std::string list;
        for (const auto& r : routes.defaults) list += (list.empty() ? "" : ", ") + route_text(r);
        return {"network", Severity::warn, "the default IPv6 route goes through Tailscale: " + list,
                {"a tailnet name resolves to an IPv4 (100.x) and an IPv6 (fd7a:115c:a1e0::) address; where IPv6 "
                 "through this route goes nowhere, apps that try IPv6 first hang before they fall back"},
                "point apps at loopgate's ws://127.0.0.1 address (loopgate dials IPv4 only); an app that dials the "
                "gateway itself may hang"};
    }
    if (!routes.tailnet.empty()) {
        std::string list;
        for (const auto& r : routes.tailnet) list += (list.empty() ? "" : ", ") + route_text(r);
        return {"network", Severity::ok,
                "IPv6 to the tailnet goes through " + list + "; loopgate dials IPv4 only, so apps using it are not affected",
                {}, ""};
    }
    return {"network", Severity::ok, "no IPv6 route through Tailscale", {}, ""};
}

Finding check_recent_problems(const std::vector<std::string>& lines, uint64_t total, const std::string& source,
                              const std::string& log_location, int64_t now) {
    if (lines.empty()) return {"log", Severity::ok, "no warnings or errors in " + source, {}, ""};
    size_t shown = std::min(lines.size(), kShownLogLines);
    uint64_t logged = std::max<uint64_t>(total, lines.size());
    Finding f{"log", Severity::warn,
              std::to_string(logged) + (logged == 1 ? " warning or error in " : " warnings or errors in ") + source +
                  (shown == 1 ? "; the last:" : "; the last " + std::to_string(shown) + ":"),
              {}, ""};
    for (size_t i = lines.size() - shown; i < lines.size(); ++i) f.details.push_back(aged_line(lines[i], now));
    if (!log_location.empty()) f.todo = "the whole log: " + log_location;
    return f;
}

std::vector<std::string> problem_lines(const std::string& log_text, size_t max) {
    std::vector<std::string> out;
    size_t at = 0;
    while (at < log_text.size()) {
        size_t end = log_text.find('\n', at);
        std::string line = log_text.substr(at, end == std::string::npos ? std::string::npos : end - at);
        at = end == std::string::npos ? log_text.size() : end + 1;
        if (line.empty()) continue;
        bool logfmt = line.rfind("ts=", 0) == 0;
        bool problem = line.find(" level=warn ") != std::string::npos || line.find(" level=error ") != std::string::npos;
        if (logfmt && !problem) continue;
        out.push_back(std::move(line));
    }
    if (out.size() > max) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(max));
    return out;
}

}  // namespace loopgate::doctor
