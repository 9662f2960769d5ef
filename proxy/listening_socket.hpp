// A listening socket on a TCP address or a unix socket path, for a route's
// listener and for the admin endpoint: binds, says which address it got, and
// hands each new connection over as a Transport. A unix socket's file is
// made private and removed when the socket closes, by the SocketFile the
// owner's SocketFiles gives (socket_file.hpp).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "config.hpp"
#include "socket_file.hpp"
#include "transport.hpp"

namespace loopgate {


class ListeningSocket {
public:
    // Called for each connection accepted; the transport is the callee's.
    using OnConnection = std::function<void(Transport* connection)>;

    // Log lines name the owner as `key`=`value` (route=gw, listener=admin).
    // Without `files`, a unix socket address cannot be listened on.
    ListeningSocket(uv_loop_t* loop, std::string key, std::string value, TransportSet* transports = nullptr,
                    SocketFiles* files = nullptr);
    ~ListeningSocket();
    ListeningSocket(const ListeningSocket&) = delete;
    ListeningSocket& operator=(const ListeningSocket&) = delete;

    // Binds and listens. Returns false and sets error when it cannot.
    bool start(const config::ListenAddress& listen, OnConnection on_connection, std::string& error);
    // Takes a socket that already listens (handed over by systemd or launchd),
    // TCP or unix as the socket itself is; it stays the service manager's to bind.
    bool adopt(int fd, OnConnection on_connection, std::string& error);
    // Closes the socket (and removes its file); no more connections.
    void stop();

    // "127.0.0.1:41234" (the port really bound, also when the config said 0) or "unix:/path".
    const std::string& bound_address() const { return bound_; }
    uint16_t bound_port() const { return bound_port_; }  // TCP only
    // TCP or unix, as the socket itself is (an adopted one may differ from the config).
    Transport::Kind kind() const { return kind_; }

private:
    struct Server {
        union {
            uv_tcp_t tcp;
            uv_pipe_t pipe;
        } handle;
        ListeningSocket* owner;
    };

    bool listen_tcp(const config::ListenAddress& listen, std::string& error);
    bool listen_unix(const config::ListenAddress& listen, std::string& error);
    static void on_connection(uv_stream_t* server, int status);
    void accept_one();

    uv_loop_t* loop_;
    std::string log_key_;
    std::string log_value_;
    TransportSet* transports_;
    Transport::Kind kind_ = Transport::Kind::tcp;
    OnConnection on_connection_;
    Server* server_ = nullptr;
    std::string bound_;
    uint16_t bound_port_ = 0;
    SocketFiles* files_;
    std::unique_ptr<SocketFile> socket_file_;  // unix sockets only
};

}  // namespace loopgate
