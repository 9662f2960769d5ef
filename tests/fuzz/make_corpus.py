#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/: small inputs that
each reach one behaviour (a valid handshake, each kind of refusal, each frame
rule) so the fuzzers start from meaningful places instead of random bytes.

Inputs of the chunked targets use the layout in tests/fuzz/fuzz_support.hpp:
an options byte, a count of chunk sizes, the sizes (minus one), the stream.
Streams take turns at the chunkings below; the fuzzer varies them further. Deterministic: rerunning it
rewrites the same files. Run after changing it and commit the result:

    tests/fuzz/make_corpus.py
"""

import base64
import hashlib
import shutil
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPUS = HERE / "corpus"

# One piece; one byte at a time; an uneven cut; a cut inside most headers.
CHUNKINGS = {"whole": [], "bytewise": [1], "uneven": [3, 1, 7], "split2": [2, 40]}

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # the RFC 6455 example key, which fuzz_upstream_response offers


def accept(key):
    digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    return base64.b64encode(digest).decode()


def with_chunkings(items):
    """(file name, chunk sizes, item) for each named item, the chunkings taken in turn."""
    plans = list(CHUNKINGS.items())
    for i, (name, item) in enumerate(items.items()):
        chunking, sizes = plans[i % len(plans)]
        yield f"{name}.{chunking}", sizes, item


def chunked(options, sizes, stream):
    return bytes([options, len(sizes)]) + bytes(s - 1 for s in sizes) + stream


def http(start, headers, body=b""):
    lines = [start] + [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# ---------------------------------------------------------------------------
# fuzz_app_request: options bits 0-1 header limit (16384, 1024, 128, 40),
# bits 2-3 upstream URL, bits 4-5 route access settings (defaults; allowed
# origins and hosts; unix socket; 0.0.0.0).

UPGRADE = [("Host", "127.0.0.1:18789"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
           ("Sec-WebSocket-Key", KEY), ("Sec-WebSocket-Version", "13")]


def with_headers(*extra, drop=()):
    return [h for h in UPGRADE if h[0] not in drop] + list(extra)


def app_requests():
    get = "GET /chat?room=1 HTTP/1.1"
    early_frame = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"
    return {
        "upgrade": http(get, UPGRADE),
        "upgrade-early-frame": http(get, UPGRADE) + early_frame,
        "upgrade-origin": http(get, with_headers(("Origin", "http://localhost:1420"))),
        "upgrade-origin-null": http(get, with_headers(("Origin", "null"))),
        "upgrade-subprotocols": http(get, with_headers(("Sec-WebSocket-Protocol", "chat, superchat"),
                                                       ("Sec-WebSocket-Extensions",
                                                        "permessage-deflate; client_max_window_bits"))),
        "upgrade-secrets": http("GET /x?token=abc&password=p&room=2 HTTP/1.1",
                                with_headers(("Authorization", "Bearer s3cr3t"), ("Cookie", "sid=1"),
                                             ("Proxy-Authorization", "Basic eDp5"))),
        "upgrade-hop-by-hop": http(get, with_headers(("Connection", "keep-alive, X-Private"), ("X-Private", "1"),
                                                     ("Keep-Alive", "timeout=5"), ("TE", "trailers"),
                                                     ("Proxy-Connection", "keep-alive"))),
        "upgrade-lowercase-names": http(get, [(n.lower(), v) for n, v in UPGRADE]),
        "upgrade-root-target": http("GET / HTTP/1.1", UPGRADE),
        "origin-localhost-port": http(get, with_headers(("Origin", "http://localhost:5173"))),
        "origin-upper-default-port": http(get, with_headers(("Origin", "HTTPS://APP.EXAMPLE:443"))),
        "origin-twice": http(get, with_headers(("Origin", "tauri://localhost"), ("Origin", "http://evil.example"))),
        "host-allowed-name": http(get, with_headers(("Host", "gateway.local"), drop=("Host",))),
        "host-any-address": http(get, with_headers(("Host", "0.0.0.0:18789"), drop=("Host",))),
        "host-evil": http(get, with_headers(("Host", "evil.example"), drop=("Host",))),
        "host-ipv6": http(get, with_headers(("Host", "[::1]:18789"), drop=("Host",))),
        "host-localhost": http(get, with_headers(("Host", "localhost:18789"), drop=("Host",))),
        "host-twice": http(get, with_headers(("Host", "localhost"))),
        "host-missing": http(get, with_headers(drop=("Host",))),
        "no-upgrade": http("GET / HTTP/1.1", [("Host", "127.0.0.1")]),
        "post": http("POST /chat HTTP/1.1", UPGRADE),
        "http10": http("GET /chat HTTP/1.0", UPGRADE),
        "absolute-target": http("GET http://127.0.0.1:18789/chat HTTP/1.1", UPGRADE),
        "asterisk-target": http("OPTIONS * HTTP/1.1", UPGRADE),
        "connect": http("CONNECT 127.0.0.1:443 HTTP/1.1", UPGRADE),
        "no-connection-upgrade": http(get, with_headers(("Connection", "keep-alive"), drop=("Connection",))),
        "version-8": http(get, with_headers(("Sec-WebSocket-Version", "8"), drop=("Sec-WebSocket-Version",))),
        "version-twice": http(get, with_headers(("Sec-WebSocket-Version", "13"))),
        "key-missing": http(get, with_headers(drop=("Sec-WebSocket-Key",))),
        "key-short": http(get, with_headers(("Sec-WebSocket-Key", "c2hvcnQ="), drop=("Sec-WebSocket-Key",))),
        "body-content-length": http(get, with_headers(("Content-Length", "5")), b"hello"),
        "body-chunked": http(get, with_headers(("Transfer-Encoding", "chunked")), b"5\r\nhello\r\n0\r\n\r\n"),
        "bare-lf": http(get, UPGRADE).replace(b"\r\n", b"\n"),
        "obs-fold": http(get, with_headers(("X-Folded", "a\r\n b"))),
        "header-without-colon": http(get, UPGRADE).replace(b"Upgrade: websocket", b"Upgrade websocket"),
        "nul-in-value": http(get, with_headers(("X-Nul", "a\x00b"))),
        "space-before-colon": http(get, UPGRADE).replace(b"Upgrade:", b"Upgrade :"),
        "long-header": http(get, with_headers(("X-Filler", "f" * 1500))),
        "many-fields": http(get, with_headers(*[(f"X-F{i}", "v") for i in range(101)])),
        "tls-client-hello": bytes.fromhex("16030100a5010000a10303") + bytes(32) + b"\x00\x00\x02\x13\x01\x01\x00",
        "truncated": http(get, UPGRADE)[:40],
        # Plain HTTP, forwarded on a route that allows it: bodies streamed, the next request behind.
        "http-post-length": http("POST /api/echo HTTP/1.1", [("Host", "127.0.0.1:18789"), ("Content-Length", "5")],
                                 b"helloGET /next HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        "http-post-chunked": http("POST /api HTTP/1.1", [("Host", "127.0.0.1:18789"), ("Transfer-Encoding", "chunked")],
                                  b"5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n"),
        "http-bad-chunk": http("PUT /x HTTP/1.1", [("Host", "127.0.0.1"), ("Transfer-Encoding", "chunked")],
                               b"zz\r\nhello\r\n"),
        "http-fetch-cross-site": http("GET /api HTTP/1.1", [("Host", "127.0.0.1:18789"),
                                                            ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "cors")]),
        "http-navigate": http("GET / HTTP/1.1", [("Host", "localhost:18789"), ("Sec-Fetch-Site", "cross-site"),
                                                 ("Sec-Fetch-Mode", "navigate"), ("Connection", "keep-alive, X-Hop"),
                                                 ("X-Hop", "1"), ("TE", "trailers")]),
        # Found by fuzzing: CONNECT with an empty target and a chunked body was forwarded.
        "http-connect-empty-target": b"CONNECT \r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "http-absolute-target": http("GET http://127.0.0.1:18789/x HTTP/1.1", [("Host", "127.0.0.1:18789")]),
        "http-options-asterisk": http("OPTIONS * HTTP/1.1", [("Host", "127.0.0.1:18789")]),
        "http-own-origin": http("POST /api HTTP/1.1", [("Host", "127.0.0.1:18789"), ("Origin", "http://127.0.0.1:18789"),
                                                       ("Content-Length", "2")], b"{}"),
        # Found by fuzzing: a refusal reason echoed a control byte of the target (or of a header value).
        "http-absolute-target-form-feed": http("GET http://127.0.0.1:18789/\x0cx HTTP/1.1", [("Host", "127.0.0.1:18789")]),
        "version-with-tab": http(get, with_headers(("Sec-WebSocket-Version", "1\t3"), drop=("Sec-WebSocket-Version",))),
    }


def write_app_request(directory):
    for name, sizes, stream in with_chunkings(app_requests()):
        write(directory / name, chunked(0, sizes, stream))
    # Small header limits and the other upstream URLs.
    upgrade = http("GET /chat?room=1 HTTP/1.1", UPGRADE)
    for options in (1, 2, 3, 4, 8, 12):
        write(directory / f"upgrade.options-{options}", chunked(options, [5], upgrade))
    # The same Host and Origin values against each route's access settings.
    requests = app_requests()
    for access in (0x10, 0x20, 0x30):
        for name in ("origin-localhost-port", "origin-upper-default-port", "host-allowed-name", "host-any-address"):
            write(directory / f"{name}.access-{access >> 4}", chunked(access, [], requests[name]))


# ---------------------------------------------------------------------------
# fuzz_upstream_response: options bits 0-1 header limit, bits 2-3 body limit
# (0, 16, 4096, 65536), bit 4 the upstream hangs up after its last byte.

OK_101 = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept(KEY))]
SWITCHING = "HTTP/1.1 101 Switching Protocols"


def upstream_responses():
    server_frame = b"\x81\x05Hello"
    return {
        "101": http(SWITCHING, OK_101),
        "101-early-frame": http(SWITCHING, OK_101) + server_frame,
        "101-subprotocol": http(SWITCHING, OK_101 + [("Sec-WebSocket-Protocol", "chat")]),
        "101-subprotocol-not-offered": http(SWITCHING, OK_101 + [("Sec-WebSocket-Protocol", "mqtt")]),
        "101-deflate": http(SWITCHING, OK_101 + [("Sec-WebSocket-Extensions",
                                                  "permessage-deflate; server_no_context_takeover")]),
        "101-unknown-extension": http(SWITCHING, OK_101 + [("Sec-WebSocket-Extensions", "x-webkit-test")]),
        "101-extension-not-offered": http(SWITCHING, OK_101 + [("Sec-WebSocket-Extensions", "x-other")]),
        "101-wrong-accept": http(SWITCHING, OK_101[:2] + [("Sec-WebSocket-Accept", accept("other"))]),
        "101-no-upgrade": http(SWITCHING, OK_101[1:]),
        "101-no-connection": http(SWITCHING, [OK_101[0], OK_101[2]]),
        "101-extra-headers": http(SWITCHING, OK_101 + [("Set-Cookie", "a=b"), ("Connection", "X-Hop"),
                                                       ("X-Hop", "1"), ("Server", "gw")]),
        "101-http10": http("HTTP/1.0 101 Switching Protocols", OK_101),
        "101-no-reason": http("HTTP/1.1 101 ", OK_101),
        "403-body": http("HTTP/1.1 403 Forbidden", [("Content-Type", "text/plain"), ("Content-Length", "9")],
                         b"forbidden"),
        "401-www-authenticate": http("HTTP/1.1 401 Unauthorized", [("WWW-Authenticate", "Bearer"),
                                                                   ("Content-Length", "0")]),
        "404-chunked": http("HTTP/1.1 404 Not Found", [("Transfer-Encoding", "chunked")],
                            b"4\r\nnope\r\n0\r\n\r\n"),
        "500-until-close": http("HTTP/1.1 500 Internal Server Error", [("Connection", "close")], b"it broke"),
        "302-location": http("HTTP/1.1 302 Found", [("Location", "https://login.example/"),
                                                    ("Content-Length", "0")]),
        "200-ok": http("HTTP/1.1 200 OK", [("Content-Length", "2")], b"hi"),
        "204-no-content": http("HTTP/1.1 204 No Content", []),
        "100-then-101": http("HTTP/1.1 100 Continue", []) + http(SWITCHING, OK_101),
        "429-retry-after": http("HTTP/1.1 429 Too Many Requests", [("Retry-After", "5"), ("Content-Length", "4")],
                                b"slow"),
        "body-longer-than-limit": http("HTTP/1.1 503 Service Unavailable", [("Content-Length", "300")],
                                       b"x" * 300),
        "length-and-chunked": http("HTTP/1.1 400 Bad Request", [("Content-Length", "3"),
                                                               ("Transfer-Encoding", "chunked")], b"0\r\n\r\n"),
        "long-header": http(SWITCHING, OK_101 + [("X-Filler", "f" * 1200)]),
        "no-headers": b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        "ssh-banner": b"SSH-2.0-OpenSSH_9.2\r\n",
        "tls-alert": bytes.fromhex("15030300020228"),
        "bare-lf": http(SWITCHING, OK_101).replace(b"\r\n", b"\n"),
        "truncated": http(SWITCHING, OK_101)[:50],
        # Found by fuzzing: a 1xx with a length once swallowed bytes as its body.
        "100-with-length-then-101": http("HTTP/1.1 100 Continue", [("Content-Length", "3")], b"abc") +
                                    http(SWITCHING, OK_101),
        "304-with-length": http("HTTP/1.1 304 Not Modified", [("Content-Length", "5")]),
        # A refused 101's reason once carried the upstream's tab and quote as they came.
        "101-subprotocol-with-tab": http(SWITCHING, OK_101 + [("Sec-WebSocket-Protocol", "ch\tat\"")]),
    }


def write_upstream_response(directory):
    for name, sizes, stream in with_chunkings(upstream_responses()):
        write(directory / name, chunked(0x18, sizes, stream))
    for options in (0x00, 0x01, 0x03, 0x04, 0x10, 0x1c):
        write(directory / f"403-body.options-{options}", chunked(options, [4], upstream_responses()["403-body"]))


# ---------------------------------------------------------------------------
# fuzz_frames: options bit 0 expects masked (client) frames, bits 1-3 allowed
# RSV bits (RSV1 = 0x02), bits 4-5 message limit (64 MiB, 0, 125, 1000),
# bit 6 stops at a boundary before each chunk, bit 7 limits frames to 100 bytes.

CLIENT, SERVER, RSV1, LIMIT_125, LIMIT_1000, STOPS, FRAME_100 = 0x01, 0x00, 0x02, 0x20, 0x30, 0x40, 0x80


def frame(opcode, payload=b"", fin=True, mask=None, rsv=0, length=None):
    length = len(payload) if length is None else length
    first = (0x80 if fin else 0) | rsv | opcode
    if length < 126:
        head = bytes([first, length | (0x80 if mask else 0)])
    elif length < 1 << 16:
        head = bytes([first, 126 | (0x80 if mask else 0)]) + struct.pack(">H", length)
    else:
        head = bytes([first, 127 | (0x80 if mask else 0)]) + struct.pack(">Q", length)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def close_payload(code, reason=b""):
    return struct.pack(">H", code) + reason


def frame_streams():
    m = b"\x37\xfa\x21\x3d"
    c = lambda *args, **kw: frame(*args, mask=m, **kw)  # noqa: E731 - a client frame
    s = frame  # a server frame
    return {
        # name: (options, stream)
        "client-text": (CLIENT, c(1, b"Hello")),
        "server-text": (SERVER, s(1, b"Hello")),
        "client-binary-126": (CLIENT, c(2, bytes(range(256)) * 2)),
        "server-binary-126": (SERVER, s(2, b"z" * 300)),
        "server-64bit-length-partial": (SERVER, s(2, b"y" * 20, length=70000)[:40]),
        "client-fragments": (CLIENT, c(1, b"Hel", fin=False) + c(0, b"lo, ", fin=False) + c(0, b"world")),
        "server-ping-inside-fragments": (SERVER, s(1, b"a", fin=False) + s(9, b"p") + s(0, b"b")),
        "client-ping-pong": (CLIENT, c(9, b"are you there") + c(10, b"yes")),
        "server-close-1000": (SERVER, s(8, close_payload(1000, b"bye"))),
        "client-close-empty": (CLIENT, c(8)),
        "client-close-then-more": (CLIENT, c(8, close_payload(1001)) + c(1, b"late")),
        "server-many-small": (SERVER, b"".join(s(1, bytes([65 + i]) * i) for i in range(12))),
        "client-stops": (CLIENT | STOPS, c(1, b"one") + c(9) + c(2, b"two") + c(8, close_payload(1000))),
        "server-deflate-rsv1": (SERVER | RSV1, s(1, b"\xf2\x48\xcd\xc9\xc9\x07\x00", rsv=0x40)),
        "client-limit-125-ok": (CLIENT | LIMIT_125, c(2, b"k" * 125)),
        "client-limit-125-over": (CLIENT | LIMIT_125, c(2, b"k" * 126)),
        "client-frame-limit-100-fragments-ok": (CLIENT | FRAME_100, c(1, b"f" * 100, fin=False) + c(0, b"g" * 100)),
        "server-frame-limit-100-over": (SERVER | FRAME_100, s(2, b"h" * 101)),
        "server-limit-1000-fragments-over": (SERVER | LIMIT_1000, s(2, b"q" * 600, fin=False) + s(0, b"q" * 600)),
        # Each rule the scanner enforces, broken once.
        "bad-unmasked-client": (CLIENT, s(1, b"Hello")),
        "bad-masked-server": (SERVER, c(1, b"Hello")),
        "bad-rsv1-without-extension": (SERVER, s(1, b"x", rsv=0x40)),
        "bad-rsv3": (SERVER | RSV1, s(1, b"x", rsv=0x10)),
        "bad-opcode-3": (SERVER, s(3, b"x")),
        "bad-opcode-b": (CLIENT, c(0xB, b"x")),
        "bad-fragmented-ping": (SERVER, s(9, b"p", fin=False)),
        "bad-ping-126": (CLIENT, c(9, b"p" * 126)),
        "bad-continuation-first": (SERVER, s(0, b"x")),
        "bad-text-inside-fragments": (CLIENT, c(1, b"a", fin=False) + c(1, b"b")),
        "bad-close-1-byte": (SERVER, s(8, b"\x03")),
        "bad-close-1005": (CLIENT, c(8, close_payload(1005))),
        "bad-close-999": (SERVER, s(8, close_payload(999))),
        "bad-close-5000": (SERVER, s(8, close_payload(5000))),
        "bad-close-reason-utf8": (CLIENT, c(8, close_payload(1000, b"\xc3\x28"))),
        "bad-close-reason-surrogate": (SERVER, s(8, close_payload(1000, b"\xed\xa0\x80"))),
        "bad-length-msb": (SERVER, bytes([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1])),
        "good-then-bad": (SERVER, s(1, b"fine") + s(9, b"ok") + s(0x7, b"no")),
    }


def write_frames(directory):
    for name, sizes, (options, stream) in with_chunkings(frame_streams()):
        write(directory / name, chunked(options, sizes, stream))


# ---------------------------------------------------------------------------
# fuzz_config: the config text itself.

def route(extra=""):
    return ('{"name": "gw", "listen": "127.0.0.1:0", "upstream": "wss://gateway.test:8443/base"'
            + extra + "}")


def configs():
    one = lambda extra="", top="": '{"routes": [' + route(extra) + "]" + top + "}"  # noqa: E731
    return {
        "example.jsonc": (REPO / "config" / "loopgate.example.jsonc").read_text(),
        "minimal.json": one(),
        "two-routes.json": '{"routes": [' + route() + ", " + route().replace('"gw"', '"gw2"') + "]}",
        "comments.jsonc": "// top\n{ /* block */ \"routes\": [" + route() + "] // end\n}\n",
        "all-timeouts.json": one(', "timeouts": {"request_ms": 100, "connect_ms": 100, "handshake_ms": 100, '
                                 '"close_ms": 100, "idle_ms": 0}'),
        "limits.json": one(', "limits": {"max_request_header_bytes": 1024, "max_message_bytes": 1048576, '
                           '"max_frame_bytes": 65536}', ', "max_connections": 64'),
        "origins-hosts.json": one(', "allowed_origins": ["http://localhost:*", "https://app.example"], '
                                  '"allowed_hosts": ["127.0.0.1:18789", "localhost:18789"], "max_connections": 8'),
        "unix-listen.json": one().replace('"127.0.0.1:0"', '"unix:/tmp/loopgate-fuzz/gw.sock"'),
        "plaintext.json": one(', "allow_plaintext_upstream": true').replace("wss://", "ws://"),
        "plaintext-refused.json": one().replace("wss://", "ws://"),
        "connect-to.json": one(', "connect_to": "127.0.0.1"'),
        "ca-file-missing.json": one(', "tls": {"ca_file": "missing-ca.pem"}'),
        "upstream-headers.json": one(', "upstream_headers": {"Authorization": "Bearer inline-secret"}'),
        "log-debug.json": one(top=', "log": {"level": "debug"}, "shutdown_timeout_ms": 0'),
        "non-loopback.json": one(', "allow_non_loopback": true').replace("127.0.0.1:0", "0.0.0.0:18789"),
        "bad-ipv6-listen.json": one().replace("127.0.0.1:0", "[::1]:0"),
        "bad-port.json": one().replace("127.0.0.1:0", "127.0.0.1:65536"),
        "bad-leading-zero.json": one().replace("127.0.0.1:0", "127.0.0.01:80"),
        "bad-upstream-query.json": one().replace("/base", "/base?x=1"),
        "bad-upstream-userinfo.json": one().replace("gateway.test", "user@gateway.test"),
        "bad-duplicate-key.json": '{"routes": [' + route(', "name": "again"') + "]}",
        "bad-unknown-key.json": one(', "ping_ms": 5'),
        "bad-types.json": '{"routes": [{"name": 1, "listen": true, "upstream": null, "timeouts": []}]}',
        "bad-fraction.json": one(', "timeouts": {"connect_ms": 1500.5}'),
        "bad-huge-number.json": one(', "limits": {"max_message_bytes": 1e999}'),
        "bad-negative.json": one(top=', "shutdown_timeout_ms": -1'),
        "bad-trailing-comma.json": '{"routes": [' + route() + ",]}",
        "bad-unterminated-comment.jsonc": "{} /* open",
        "bad-bom.json": "\ufeff" + one(),
        "bad-name-unicode.json": one().replace('"gw"', '"g\u00e9w"'),
        "bad-deep.json": "[" * 200 + "]" * 200,
        "bad-empty.json": "",
        "bad-array.json": "[]",
        "bad-no-routes.json": '{"routes": []}',
    }


def write_config(directory):
    for name, text in configs().items():
        write(directory / name, text.encode("utf-8"))


# ---------------------------------------------------------------------------

def write(path, data):
    path.write_bytes(data)


def main():
    writers = {"fuzz_app_request": write_app_request, "fuzz_upstream_response": write_upstream_response,
               "fuzz_frames": write_frames, "fuzz_config": write_config}
    for target, writer in writers.items():
        directory = CORPUS / target
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        writer(directory)
        print(f"{directory.relative_to(REPO)}: {len(list(directory.iterdir()))} files")


if __name__ == "__main__":
    main()
