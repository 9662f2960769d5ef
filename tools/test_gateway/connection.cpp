#include "connection.hpp"

#include <chrono>
#include <ctime>
#include <optional>
#include <string_view>
#include <utility>

#include "behaviours.hpp"
#include "frame_stream.hpp"
#include "http.hpp"
#include "link.hpp"
#include "log.hpp"

namespace test_gateway {
namespace {

using namespace std::chrono_literals;

constexpr size_t kMaxHeaderBlock = 16 * 1024;
constexpr auto kRequestTimeout = 10s;

class Connection {
public:
    Connection(int fd, const Server& server, std::string peer)
        : link_(fd), stream_(link_, server.stop_fd), server_(server), peer_(std::move(peer)) {}

    void run() {
        stream_.set_read_deadline(Clock::now() + kRequestTimeout);
        if (server_.tls && !tls_handshake()) return;
        auto header_block = read_header_block();
        if (!header_block) return;
        stream_.set_read_deadline(std::nullopt);
        answer(*header_block);
    }

private:
    bool tls_handshake() {
        link_.set_read_timeout(kRequestTimeout);
        if (link_.tls_handshake(server_.tls)) {
            if (server_.log_handshakes) {
                SSL* ssl = link_.ssl();
                say(std::string("tls handshake version=") + SSL_get_version(ssl) +
                    " resumed=" + (SSL_session_reused(ssl) == 1 ? "yes" : "no"));
            }
            return true;
        }
        warn("TLS handshake with " + peer_ + " failed: " + link_.handshake_error());
        // Our alert is out; closing with the client's next bytes unread would reset the connection
        // and could destroy the alert before the client reads it.
        link_.finish();
        return false;
    }

    // Reads until the blank line that ends the request headers and returns the block without it.
    // Whatever follows stays in the input buffer: those are the client's first frames. The block
    // stays valid until the next read.
    std::optional<std::string_view> read_header_block() {
        size_t searched = 0;
        for (;;) {
            std::string_view seen = stream_.buffered_input();
            size_t blank = seen.find("\r\n\r\n", searched);
            if (blank != std::string_view::npos && blank + 4 <= kMaxHeaderBlock) {
                stream_.consume_input(blank + 4);
                return seen.substr(0, blank);
            }
            if (seen.size() >= kMaxHeaderBlock) {
                refuse(nullptr, 431, "request header block larger than 16 KiB\n");
                return std::nullopt;
            }
            searched = seen.size() >= 3 ? seen.size() - 3 : 0;
            if (!stream_.fill_input()) return std::nullopt;
        }
    }

    void answer(std::string_view header_block) {
        HttpRequest request;
        if (auto error = parse_request(header_block, request)) {
            refuse(&request, 400, *error + "\n");
            return;
        }
        auto behaviour = behaviour_for(request.target);
        if (!behaviour) {
            refuse(&request, 400, "cannot use the number in " + request.target + "\n");
            return;
        }
        if (behaviour->kind == Behaviour::kRefuseWith) {
            int status = static_cast<int>(behaviour->number);
            refuse(&request, status, "gateway refused with " + std::to_string(status) + "\n");
            return;
        }
        if (auto problem = upgrade_problem(request)) {
            refuse(&request, 400, *problem + "\n", "Sec-WebSocket-Version: 13\r\n");
            return;
        }
        accept_upgrade(request, *behaviour);
    }

    void log_request(const HttpRequest* request, int status) {
        auto field = [&](std::string_view name) { return request ? request->header_or_dash(name) : "-"; };
        std::string target = request && !request->target.empty() ? request->target : "-";
        say("request path=" + target + " host=" + field("host") + " origin=" + field("origin") +
            " protocol=" + field("sec-websocket-protocol") + " status=" + std::to_string(status));
    }

    // Answers with a plain HTTP error and closes; no upgrade happens.
    void refuse(const HttpRequest* request, int status, const std::string& body, std::string_view extra_headers = {}) {
        stream_.append_output(refusal_response(status, body, std::string(extra_headers) + date_line()));
        stream_.flush_output();
        log_request(request, status);
        link_.finish();
    }

    void accept_upgrade(const HttpRequest& request, const Behaviour& behaviour) {
        stream_.append_output(upgrade_response(request, date_line()));
        // Real gateways put their first event in the same TLS record as the 101; so do we, in one
        // write, so a proxy that drops bytes behind the 101 header block fails its tests.
        append_first_frames(behaviour, request, stream_);
        bool sent = stream_.flush_output();
        log_request(&request, 101);
        if (sent) run_behaviour(behaviour, stream_, server_);
    }

    // --date-offset: a Date header off the real time by that much, for a client's clock check.
    std::string date_line() const {
        if (!server_.date_offset) return "";
        return date_header_line(static_cast<int64_t>(std::time(nullptr)) + *server_.date_offset);
    }

    Link link_;
    FrameStream stream_;
    const Server& server_;
    std::string peer_;
};

}  // namespace

void serve_client(int fd, const Server& server, std::string peer) { Connection(fd, server, std::move(peer)).run(); }

}  // namespace test_gateway
