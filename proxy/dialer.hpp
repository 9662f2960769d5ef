// Reaching a route's upstream, as the session and the route's health tracker
// see it: start a dial, get a ready transport or one failure. UpstreamDialer
// is the real one; unit tests substitute a fake that succeeds or fails when
// the test says so.
#pragma once

#include <netinet/in.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tls_context.hpp"
#include "transport.hpp"

namespace loopgate {

struct DialFailure {
    int http_status = 502;
    std::string reason;
    bool unreachable = false;  // DNS, connect refused or timed out: the path, not the peer
    // loopgate itself ran out of something (descriptors, buffers, memory):
    // nothing is wrong with the upstream, so its health must not change.
    bool local = false;
    // What was being done when it failed; `upgrade` and `timeout` only come
    // from a session's connect phase (the answer to the upgrade request, the
    // handshake deadline).
    enum class Step { resolve, connect, tls, upgrade, timeout };
    Step step = Step::resolve;
    std::optional<tls::PeerReport> peer;  // what the upstream presented, when TLS got that far
};

// The handler may destroy the dialer from inside either of the first two
// callbacks; nothing reaches it after one of them.
class DialHandler {
public:
    // The connection is up (and TLS verified): the transport is now the caller's.
    virtual void on_dial_ready(Transport* upstream) = 0;
    virtual void on_dial_failed(const DialFailure& failure) = 0;
    // Progress, for `loopgate probe`; a session needs none of it.
    virtual void on_dial_resolved(const std::vector<sockaddr_in>& /*addresses*/) {}
    virtual void on_dial_attempt_failed(const std::string& /*address*/, const std::string& /*why*/) {}
    virtual void on_dial_connected(Transport& /*t*/) {}

protected:
    ~DialHandler() = default;
};

// One dial. Destroying it abandons the dial: no callback follows.
class Dialer {
public:
    virtual ~Dialer() = default;
    virtual void start() = 0;
    // What it is doing now, for a deadline message: "TLS handshake with 100.64.0.7:443".
    virtual const std::string& stage() const = 0;
};

struct RouteSettings;

class DialerFactory {
public:
    virtual ~DialerFactory() = default;
    // A dial with these settings; the dialer keeps them alive while it runs.
    virtual std::unique_ptr<Dialer> new_dialer(std::shared_ptr<const RouteSettings> settings, DialHandler& handler) = 0;
};

// True for errors that mean loopgate's own resources ran out (too many open
// files, no buffer space, no memory) rather than anything about the peer.
bool is_local_exhaustion(int uv_status);

}  // namespace loopgate
