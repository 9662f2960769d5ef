#include "listening_socket.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "address_text.hpp"
#include "log.hpp"

namespace loopgate {

ListeningSocket::ListeningSocket(uv_loop_t* loop, std::string key, std::string value, TransportSet* transports,
                                 SocketFiles* files)
    : loop_(loop), log_key_(std::move(key)), log_value_(std::move(value)), transports_(transports), files_(files) {}

ListeningSocket::~ListeningSocket() { stop(); }

bool ListeningSocket::start(const config::ListenAddress& listen, OnConnection on_connection, std::string& error) {
    on_connection_ = std::move(on_connection);
    kind_ = listen.is_unix() ? Transport::Kind::unix_socket : Transport::Kind::tcp;
    server_ = new Server{};
    server_->owner = this;
    bool listening = listen.is_unix() ? listen_unix(listen, error) : listen_tcp(listen, error);
    if (!listening) stop();
    return listening;
}

bool ListeningSocket::listen_tcp(const config::ListenAddress& listen, std::string& error) {
    sockaddr_in addr{};
    if (uv_ip4_addr(listen.host.c_str(), listen.port, &addr) != 0) {
        error = "invalid listen address " + listen.text();
        return false;
    }
    if (int rc = uv_tcp_init(loop_, &server_->handle.tcp)) {
        error = "cannot listen on " + listen.text() + ": " + uv_strerror(rc);
        delete server_;  // never a libuv handle: nothing to close
        server_ = nullptr;
        return false;
    }
    server_->handle.tcp.data = server_;
    int rc = uv_tcp_bind(&server_->handle.tcp, reinterpret_cast<const sockaddr*>(&addr), 0);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_->handle), 511, on_connection);
    if (rc != 0) {
        error = "cannot listen on " + listen.text() + ": " + uv_strerror(rc);
        return false;
    }
    sockaddr_in bound{};
    int len = sizeof bound;
    if (int rc = uv_tcp_getsockname(&server_->handle.tcp, reinterpret_cast<sockaddr*>(&bound), &len)) {
        error = "cannot read the address bound for " + listen.text() + ": " + uv_strerror(rc);
        return false;
    }
    bound_port_ = ntohs(bound.sin_port);
    bound_ = ipv4_text(bound) + ":" + std::to_string(bound_port_);
    return true;
}

bool ListeningSocket::listen_unix(const config::ListenAddress& listen, std::string& error) {
    if (files_ == nullptr) {
        error = "cannot listen on " + listen.text() + ": no socket files were handed to this listener";
        delete server_;
        server_ = nullptr;
        return false;
    }
    if (int rc = uv_pipe_init(loop_, &server_->handle.pipe, 0)) {
        error = "cannot listen on " + listen.text() + ": " + uv_strerror(rc);
        delete server_;
        server_ = nullptr;
        return false;
    }
    server_->handle.pipe.data = server_;
    socket_file_ = files_->open(listen.unix_path);
    bool removed_stale = false;
    auto problem = socket_file_->prepare(removed_stale);
    if (removed_stale) {
        log::info("removed a stale socket file").kv(log_key_, log_value_).kv("path", listen.unix_path.string());
    }
    if (!problem) {
        int rc = uv_pipe_bind(&server_->handle.pipe, listen.unix_path.c_str());
        if (rc != 0) problem = uv_strerror(rc);
    }
    if (!problem) problem = socket_file_->claim();
    if (!problem) {
        int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_->handle), 511, on_connection);
        if (rc != 0) problem = uv_strerror(rc);
    }
    if (problem) {
        error = "cannot listen on " + listen.text() + ": " + *problem;
        return false;
    }
    bound_ = listen.text();
    return true;
}

bool ListeningSocket::adopt(int fd, OnConnection accepted, std::string& error) {
    on_connection_ = std::move(accepted);
    sockaddr_storage address{};
    socklen_t len = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len) != 0) {
        error = "cannot read the address of the socket handed over (descriptor " + std::to_string(fd) + "): " +
                std::strerror(errno);
        return false;
    }
    bool is_unix = address.ss_family == AF_UNIX;
    if (!is_unix && address.ss_family != AF_INET) {
        error = "the socket handed over (descriptor " + std::to_string(fd) + ") is neither IPv4 nor a unix socket";
        return false;
    }
    kind_ = is_unix ? Transport::Kind::unix_socket : Transport::Kind::tcp;
    server_ = new Server{};
    server_->owner = this;
    int rc = is_unix ? uv_pipe_init(loop_, &server_->handle.pipe, 0) : uv_tcp_init(loop_, &server_->handle.tcp);
    if (rc != 0) {
        delete server_;
        server_ = nullptr;
        error = std::string("cannot take the socket handed over: ") + uv_strerror(rc);
        return false;
    }
    server_->handle.tcp.data = server_;
    rc = is_unix ? uv_pipe_open(&server_->handle.pipe, fd) : uv_tcp_open(&server_->handle.tcp, fd);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_->handle), 511, on_connection);
    if (rc != 0) {
        stop();
        error = std::string("cannot listen on the socket handed over: ") + uv_strerror(rc);
        return false;
    }
    if (is_unix) {
        bound_ = std::string("unix:") + reinterpret_cast<const sockaddr_un*>(&address)->sun_path;
    } else {
        const auto& in = *reinterpret_cast<const sockaddr_in*>(&address);
        bound_port_ = ntohs(in.sin_port);
        bound_ = ipv4_text(in) + ":" + std::to_string(bound_port_);
    }
    return true;
}

void ListeningSocket::stop() {
    if (server_ == nullptr) return;
    server_->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&server_->handle),
             [](uv_handle_t* h) { delete static_cast<Server*>(h->data); });
    server_ = nullptr;
    socket_file_.reset();  // removes the socket file, if it is still ours
}

void ListeningSocket::on_connection(uv_stream_t* stream, int status) {
    auto* server = static_cast<Server*>(stream->data);
    if (server->owner == nullptr) return;
    if (status < 0) {
        log::warn("accept failed").kv(server->owner->log_key_, server->owner->log_value_).kv("error", uv_strerror(status));
        return;
    }
    server->owner->accept_one();
}

void ListeningSocket::accept_one() {
    Transport* connection = Transport::create(loop_, nullptr, kind_, transports_);
    if (connection->accept_from(reinterpret_cast<uv_stream_t*>(&server_->handle)) != 0) {
        connection->close();
        return;
    }
    on_connection_(connection);
}

}  // namespace loopgate
