"""The four ways an app reaches the echo upstream: direct (the client speaks wss:// itself: the
limit), and through nginx, HAProxy or loopgate, each a ws:// -> wss:// proxy on 127.0.0.1 that
verifies the upstream's certificate against the bench CA and its name (gateway.test).

Each proxy gets what a WebSocket deployment needs and otherwise its defaults, one worker
process or thread each (loopgate has one event loop), and no per-connection log line:
  nginx    the WebSocket proxying setup of nginx's documentation (HTTP/1.1, Upgrade and
           Connection passed on), proxy_ssl_verify on with the bench CA, proxy_ssl_name
           gateway.test, read/send timeouts 1 h (WebSocket guides: 60 s would cut idle sessions),
           worker_processes 1, access_log off, worker_connections/worker_rlimit_nofile sized to
           the run's file limit. Upstream TLS session reuse is nginx's default (on).
  HAProxy  Debian's packaged defaults (mode http, timeout connect 5 s, client/server 50 s) plus
           timeout tunnel 1 h (HAProxy's advice for WebSocket), nbthread 1, server `ssl verify
           required ca-file ... sni str(gateway.test) verifyhost gateway.test`, maxconn and
           ulimit-n sized to the run; no health check (not a default; it would also wake HAProxy
           every 2 s in W6). Session reuse toward the server is HAProxy's default (on).
  loopgate its defaults, log level warn (no line per session, like the others), admin endpoint
           on 127.0.0.1 for /metrics, max_connections sized to the run.
"""

import http.client
import json

import procs

NAME = "gateway.test"
# nginx 1.22 offers only TLS 1.2 upstream by default (TLS 1.3 is a default from 1.23.4), and a
# TLS 1.2 resumption has no key exchange; bench.py --nginx-tls13 sets this to compare like for like.
NGINX_UPSTREAM_PROTOCOLS = None
PEERS = ("direct", "nginx", "haproxy", "loopgate")
PROXIES = ("nginx", "haproxy", "loopgate")


class Setting:
    """Where a peer runs and what it proxies to."""

    def __init__(self, workdir, certs, upstream_port, connect_ip, loopgate, sessions=1024, nofile=None,
                 wrap=(), connect=None, free_port=procs.free_port):
        self.workdir = workdir
        self.certs = certs
        self.upstream_port = upstream_port
        self.connect_ip = connect_ip  # None: the proxy resolves gateway.test itself
        self.loopgate = loopgate
        self.sessions = sessions      # sessions the proxy must be able to hold
        self.nofile = nofile          # RLIMIT_NOFILE of the proxy's processes, or inherit
        self.wrap = tuple(wrap)       # command prefix: network namespace, private /etc/hosts
        self.connect = connect        # how to reach the proxy's port (another namespace)
        self.free_port = free_port


class Running:
    def __init__(self, name, url, connect_to=None, child=None, admin_port=None):
        self.name = name
        self.url = url
        self.connect_to = connect_to
        self.child = child
        self.admin_port = admin_port

    @property
    def port(self):
        return int(self.url.rsplit(":", 1)[1])

    def pids(self):
        """Every process of the proxy (nginx: master and workers); none for direct."""
        if self.child is None:
            return []
        return [self.child.pid, *procs.children_of(self.child.pid)]

    def stop(self):
        if self.child is not None:
            self.child.stop()

    def metrics(self):
        """loopgate's /metrics as {name{labels}: value}."""
        if self.admin_port is None:
            return {}
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=5)
        try:
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode()
        finally:
            conn.close()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                try:
                    values[key] = float(value)
                except ValueError:
                    pass
        return values


def start(name, s):
    if name == "direct":
        return Running("direct", f"wss://{NAME}:{s.upstream_port}", connect_to=s.connect_ip or "127.0.0.1")
    return {"nginx": start_nginx, "haproxy": start_haproxy, "loopgate": start_loopgate}[name](s)


def _upstream_host(s):
    return s.connect_ip or NAME


def start_nginx(s):
    port = s.free_port()
    # worker_connections counts both sides of a session, and nginx starts closing connections it
    # could reuse once fewer than 1/16 are free: twice the file limit keeps the file limit the
    # only limit.
    limit = s.nofile or max(4096, 2 * s.sessions + 64)
    conf = s.workdir / "nginx.conf"
    protocols = f"\n            proxy_ssl_protocols {NGINX_UPSTREAM_PROTOCOLS};" if NGINX_UPSTREAM_PROTOCOLS else ""
    conf.write_text(f"""
daemon off;
worker_processes 1;
worker_rlimit_nofile {limit};
pid {s.workdir}/nginx.pid;
error_log {s.workdir}/nginx-error.log warn;
events {{ worker_connections {2 * limit}; }}
http {{
    access_log off;
    client_body_temp_path {s.workdir}/body;
    proxy_temp_path {s.workdir}/proxy;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass https://{_upstream_host(s)}:{s.upstream_port};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host {NAME}:{s.upstream_port};
            proxy_ssl_server_name on;
            proxy_ssl_name {NAME};
            proxy_ssl_verify on;{protocols}
            proxy_ssl_trusted_certificate {s.certs / "ca.pem"};
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }}
    }}
}}
""")
    child = procs.Child(["nginx", "-p", s.workdir, "-c", conf, "-e", s.workdir / "nginx-error.log"],
                        s.workdir / "nginx.log", wrap=s.wrap, nofile=s.nofile)
    procs.wait_listening(port, child, connect=s.connect)
    return Running("nginx", f"ws://127.0.0.1:{port}", child=child)


def start_haproxy(s):
    port = s.free_port()
    # HAProxy needs 2 descriptors per connection plus 14 here (maxsock) and refuses to start when
    # the file limit is lower: with a limit, maxconn is what it allows.
    maxconn = (s.nofile - 14) // 2 if s.nofile else max(4096, s.sessions + 16)
    ulimit = f"    ulimit-n {s.nofile}\n" if s.nofile else ""
    conf = s.workdir / "haproxy.cfg"
    conf.write_text(f"""
global
    maxconn {maxconn}
    nbthread 1
{ulimit}defaults
    mode http
    maxconn {maxconn}
    timeout connect 5s
    timeout client 50s
    timeout server 50s
    timeout tunnel 1h
frontend app
    bind 127.0.0.1:{port}
    default_backend gateway
backend gateway
    http-request set-header Host {NAME}:{s.upstream_port}
    server gw {_upstream_host(s)}:{s.upstream_port} ssl verify required ca-file {s.certs / "ca.pem"} sni str({NAME}) verifyhost {NAME}
""")
    child = procs.Child(["haproxy", "-db", "-f", conf], s.workdir / "haproxy.log", wrap=s.wrap, nofile=s.nofile)
    procs.wait_listening(port, child, connect=s.connect)
    return Running("haproxy", f"ws://127.0.0.1:{port}", child=child)


def start_loopgate(s):
    port = s.free_port()
    admin = s.free_port()
    capacity = min(100000, max(1024, s.sessions + 16))
    route = {
        "name": "bench",
        "listen": f"127.0.0.1:{port}",
        "upstream": f"wss://{NAME}:{s.upstream_port}",
        "tls": {"ca_file": str(s.certs / "ca.pem")},
        "max_connections": capacity,
    }
    if s.connect_ip:
        route["connect_to"] = s.connect_ip
    config = {"log": {"level": "warn"}, "max_connections": capacity,
              "admin": {"listen": f"127.0.0.1:{admin}"}, "routes": [route]}
    path = s.workdir / "loopgate.json"
    path.write_text(json.dumps(config, indent=2))
    child = procs.Child([s.loopgate, "run", "--config", path], s.workdir / "loopgate.log", wrap=s.wrap,
                        nofile=s.nofile)
    procs.wait_listening(port, child, connect=s.connect)
    return Running("loopgate", f"ws://127.0.0.1:{port}", child=child, admin_port=admin)
