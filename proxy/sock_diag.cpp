#include "sock_diag.hpp"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <cstring>

#include "address_text.hpp"
#include "netlink_messages.hpp"

namespace loopgate::sock_diag {
namespace {

struct Request {
    nlmsghdr header;
    inet_diag_req_v2 body;
};

std::vector<uint8_t> request_bytes(uint16_t flags, uint32_t seq, const inet_diag_req_v2& body) {
    Request request{};
    request.header.nlmsg_len = sizeof request;
    request.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    request.header.nlmsg_flags = NLM_F_REQUEST | flags;
    request.header.nlmsg_seq = seq;
    request.body = body;
    std::vector<uint8_t> bytes(sizeof request);
    std::memcpy(bytes.data(), &request, sizeof request);
    return bytes;
}

using netlink::read_at;

std::string endpoint(const sockaddr_in& address) {
    return ipv4_text(address) + ":" + std::to_string(ntohs(address.sin_port));
}

Answer& fail(Answer& answer, std::string error) {
    answer.kind = Answer::Kind::failed;
    answer.error = std::move(error);
    return answer;
}

// NLMSG_ERROR's body: the errno the request failed with (0 would be an
// acknowledgement, which neither request asks for).
Answer& read_error(std::span<const uint8_t> body, Answer& answer) {
    if (body.size() < sizeof(int)) return fail(answer, "the kernel's error reply was cut short");
    int error = read_at<int>(body);
    if (error == 0) return fail(answer, "the kernel acknowledged the request without answering it");
    return fail(answer, std::string("the kernel answered: ") + std::strerror(-error));
}

// The messages of one datagram carrying `seq` (netlink_messages.hpp), an
// NLMSG_ERROR answered here, the rest handed to on_message(header, body,
// answer), which returns true once it has its answer.
template <typename OnMessage>
Answer walk(std::span<const uint8_t> datagram, uint32_t seq, OnMessage on_message) {
    Answer answer;
    netlink::Walk walk = netlink::walk(datagram, seq, [&](const nlmsghdr& header, std::span<const uint8_t> body) {
        if (header.nlmsg_type == NLMSG_ERROR) {
            read_error(body, answer);
            return true;
        }
        return on_message(header, body, answer);
    });
    answer.foreign += walk.foreign;
    if (!walk.cut_short.empty()) fail(answer, std::move(walk.cut_short));
    return answer;
}

bool same_socket(const inet_diag_sockid& id, const Tuple& asked) {
    return id.idiag_sport == asked.local.sin_port && id.idiag_dport == asked.remote.sin_port &&
           id.idiag_src[0] == asked.local.sin_addr.s_addr && id.idiag_dst[0] == asked.remote.sin_addr.s_addr;
}

}  // namespace

std::vector<uint8_t> owner_request(const Tuple& socket, uint32_t seq) {
    inet_diag_req_v2 body{};
    body.sdiag_family = AF_INET;
    body.sdiag_protocol = IPPROTO_TCP;
    body.idiag_states = ~0u;  // every state: the check is the id, not the state
    body.id.idiag_sport = socket.local.sin_port;
    body.id.idiag_dport = socket.remote.sin_port;
    body.id.idiag_src[0] = socket.local.sin_addr.s_addr;
    body.id.idiag_dst[0] = socket.remote.sin_addr.s_addr;
    body.id.idiag_if = 0;
    body.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    body.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    return request_bytes(0, seq, body);
}

std::vector<uint8_t> probe_request(uint32_t seq) {
    inet_diag_req_v2 body{};
    body.sdiag_family = AF_INET;
    body.sdiag_protocol = IPPROTO_TCP;
    body.idiag_states = 0;  // no state: nothing to list, only whether TCP can be asked at all
    return request_bytes(NLM_F_DUMP, seq, body);
}

Answer read_owner_reply(std::span<const uint8_t> datagram, uint32_t seq, const Tuple& asked) {
    return walk(datagram, seq, [&](const nlmsghdr& header, std::span<const uint8_t> body, Answer& answer) {
        if (header.nlmsg_type == NLMSG_DONE) {
            fail(answer, "the kernel knows no TCP socket from " + endpoint(asked.local) + " to " +
                             endpoint(asked.remote));
            return true;
        }
        if (header.nlmsg_type != SOCK_DIAG_BY_FAMILY) {
            ++answer.foreign;
            return false;
        }
        if (body.size() < sizeof(inet_diag_msg)) {
            fail(answer, "the kernel's socket description was cut short: " + std::to_string(body.size()) + " of " +
                             std::to_string(sizeof(inet_diag_msg)) + " bytes");
            return true;
        }
        auto message = read_at<inet_diag_msg>(body);
        if (message.idiag_family != AF_INET || !same_socket(message.id, asked)) {
            ++answer.foreign;
            return false;
        }
        if (message.idiag_inode == 0) {
            // TIME_WAIT and orphaned sockets have no file any more, and the
            // kernel reports uid 0 for the former: nobody to name.
            fail(answer, "the app already closed its socket (TCP state " + std::to_string(message.idiag_state) +
                             "): its owner is no longer known");
            return true;
        }
        answer.kind = Answer::Kind::owner;
        answer.uid = static_cast<uid_t>(message.idiag_uid);
        return true;
    });
}

Answer read_probe_reply(std::span<const uint8_t> datagram, uint32_t seq) {
    return walk(datagram, seq, [](const nlmsghdr& header, std::span<const uint8_t> body, Answer& answer) {
        if (header.nlmsg_type != NLMSG_DONE) return false;  // a socket listed after all: not what is asked
        // A dump ends with NLMSG_DONE carrying its outcome: 0 or a negative errno.
        int error = body.size() >= sizeof(int) ? read_at<int>(body) : 0;
        if (error < 0) {
            fail(answer, std::string("the kernel cannot describe TCP sockets: ") + std::strerror(-error));
        } else {
            answer.kind = Answer::Kind::ready;
        }
        return true;
    });
}

}  // namespace loopgate::sock_diag
