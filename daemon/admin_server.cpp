#include "admin_server.hpp"

#include "handshake.hpp"
#include "http_reader.hpp"
#include "log.hpp"
#include "timer.hpp"

namespace loopgate {
namespace {

constexpr size_t kMaxRequestHead = 8 * 1024;
constexpr uint64_t kRequestDeadlineMs = 5000;
constexpr uint64_t kLingerMs = 1000;

struct Answer {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<http::Header> headers;
};

std::string render(const Answer& answer, bool with_body) {
    std::string out = "HTTP/1.1 " + std::to_string(answer.status) + " " +
                      std::string(handshake::status_text(answer.status)) + "\r\n";
    out += "Content-Type: " + answer.content_type + "\r\n";
    out += "Content-Length: " + std::to_string(answer.body.size()) + "\r\n";
    out += "Cache-Control: no-store\r\nConnection: close\r\n";
    for (const auto& h : answer.headers) out += h.name + ": " + h.value + "\r\n";
    out += "\r\n";
    if (with_body) out += answer.body;
    return out;
}

}  // namespace

// One connection: one request read within a deadline, one answer, then closed.
class AdminServer::Exchange final : private Transport::Handler {
public:
    Exchange(AdminServer& server, Transport* connection)
        : server_(server), connection_(connection), reader_(http::Reader::Kind::request, kMaxRequestHead),
          deadline_(server.loop_) {
        connection_->set_handler(this);
        connection_->read_start();
        deadline_.start(kRequestDeadlineMs, [this] { reply({408, "text/plain; charset=utf-8",
                                                            "the request was not complete within 5000 ms\n", {}}, true); });
    }
    ~Exchange() {
        if (connection_ != nullptr) connection_->close();
    }

private:
    void on_transport_data(Transport&, const char* data, size_t len) override {
        size_t consumed = 0;
        auto status = reader_.feed(data, len, consumed);
        if (status == http::Reader::Status::need_more) return;
        if (status == http::Reader::Status::error) {
            reply({reader_.error_status(), "text/plain; charset=utf-8", reader_.error_reason() + "\n", {}}, true);
            return;
        }
        const http::Request& request = reader_.request();
        bool head = request.method == "HEAD";
        reply(answer(request), !head);
    }

    void on_transport_end(Transport&, const Transport::End&) override { done(); }

    Answer answer(const http::Request& request) {
        if (auto refusal = server_.access_.check(request)) {
            return {refusal->status, "text/plain; charset=utf-8", refusal->reason + "\n", {}};
        }
        std::string path = request.target.substr(0, request.target.find('?'));
        if (path == "/reload") {
            if (request.method != "POST") {
                return {405, "text/plain; charset=utf-8", "/reload takes POST\n", {{"Allow", "POST"}}};
            }
            AdminServer::ReloadResult result = server_.reload_();
            return {result.applied ? 200 : 409, "text/plain; charset=utf-8", result.text, {}};
        }
        if (request.method != "GET" && request.method != "HEAD") {
            return {405, "text/plain; charset=utf-8", "the admin endpoint answers GET (and POST /reload) only\n",
                    {{"Allow", "GET, HEAD"}}};
        }
        if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n", {}};
        StatusView status = server_.snapshot_();
        if (path == "/readyz" || path == "/status.txt") {
            bool ready = true;
            std::string text = path == "/readyz" ? readiness_text(status, ready) : status_text(status, ready);
            return {ready ? 200 : 503, "text/plain; charset=utf-8", text, {}};
        }
        if (path == "/status") return {200, "application/json", status_json(status), {}};
        if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", metrics_text(status), {}};
        return {404, "text/plain; charset=utf-8",
                "no such page; try /healthz, /readyz, /status, /status.txt or /metrics\n", {}};
    }

    void reply(const Answer& answer, bool with_body) {
        deadline_.stop();
        std::string response = render(answer, with_body);
        connection_->write(response.data(), response.size());
        connection_->end(kLingerMs);
        connection_ = nullptr;
        done();
    }

    void done() { server_.finished(this); }  // deletes this: nothing may follow

    AdminServer& server_;
    Transport* connection_;
    http::Reader reader_;
    Timer deadline_;
};

AdminServer::AdminServer(uv_loop_t* loop, SocketFiles* files, PeerOwner* owners, uid_t self, Snapshot snapshot,
                         Reload reload)
    : loop_(loop),
      snapshot_(std::move(snapshot)),
      reload_(std::move(reload)),
      owners_(owners),
      self_(self),
      socket_(loop, "listener", "admin", nullptr, files) {}

AdminServer::~AdminServer() {
    socket_.stop();
    for (Exchange* exchange : exchanges_) delete exchange;
}

bool AdminServer::start(const config::ListenAddress& listen, std::string& error) {
    // It tells where loopgate connects and lets its caller reload it: never another user's.
    if (!listen.is_unix() && owners_ == nullptr) {
        error = "this system cannot tell which user a TCP connection comes from, so a TCP admin endpoint would be "
                "open to every local user; listen on a unix socket instead (\"unix:/path\")";
        return false;
    }
    if (!socket_.start(listen, [this](Transport* connection) { accept(connection); }, error)) return false;
    config::Route admin;  // the access policy of a route listening there, with no browser origin allowed
    admin.name = "admin";
    admin.listen = listen;
    admin.http = false;  // it serves no page: no origin is its own
    access_ = AccessPolicy::for_route(admin, socket_.bound_port());
    log::info("admin endpoint listening").kv("address", socket_.bound_address());
    return true;
}

void AdminServer::accept(Transport* connection) {
    if (socket_.kind() == Transport::Kind::tcp) {
        OwnerCheck check = check_owner(*connection, owners_, self_);
        if (!check.allowed) {
            log::warn("admin endpoint: refused a connection from another user")
                .kv("app", connection->peer())
                .kv("uid", check.uid ? std::to_string(*check.uid) : std::string("unknown"))
                .kv("error", check.error);
            connection->close();  // nothing read, nothing answered
            return;
        }
    }
    exchanges_.insert(new Exchange(*this, connection));
}

void AdminServer::finished(Exchange* exchange) {
    exchanges_.erase(exchange);
    delete exchange;
}

}  // namespace loopgate
