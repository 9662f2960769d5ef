"""Two hosts for tests and benchmarks that change the network under loopgate.

The gateway's host is a network namespace (GatewayHost); loopgate's host is another one
(ClientHost). Each path between them is a veth pair: the client end sits in loopgate's namespace,
so loopgate's netlink watcher sees what happens to it; the gateway end sits in the gateway's
namespace, where changes stay invisible to loopgate. Addresses are /30 blocks in 100.64.0.0/10,
like a tailnet peer's.

Why loopgate gets a namespace of its own rather than the machine's: the machine's network
changes whenever anything else creates an interface (other test runs, containers, VPNs), and
loopgate would see and react to all of it, which makes timings and "no change was seen" claims
meaningless. In its own namespace it sees exactly what the test does. The test's own sockets
toward loopgate are made inside that namespace too (ClientHost.connect).

Every namespace name carries the creating process id, so parallel runs cannot collide and the
leftovers of a crashed run can be told apart from a live run's (`remove_leftovers`). Needs root
and iproute2; nothing here touches an interface or namespace it did not create."""

import ctypes
import ipaddress
import os
import re
import shutil
import socket
import subprocess
import threading

PREFIX = "lgt"  # namespaces are lgt-PID-N
_NAMESPACE_NAME = re.compile(rf"^{PREFIX}-(\d+)-\d+$")
_CLONE_NEWNET = 0x40000000
_counter = 0


def unusable_reason():
    """Why namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root: creates network namespaces and veth pairs (CI runs as root)"
    for tool in ("ip", "unshare"):
        if shutil.which(tool) is None:
            return f"needs {tool}(8)"
    name = _next_name()
    probe = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create a network namespace here: {probe.stderr.strip()}"
    subprocess.run(["ip", "netns", "delete", name], capture_output=True)
    return None


def run(*argv, check=True):
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=20)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def _next_number():
    global _counter
    _counter += 1
    return _counter


def _next_name():
    return f"{PREFIX}-{os.getpid()}-{_next_number()}"


def remove_leftovers():
    """Deletes the namespaces of earlier runs whose process is gone (their interfaces go too)."""
    for name in run("ip", "netns", "list", check=False).stdout.split():
        match = _NAMESPACE_NAME.match(name)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            run("ip", "netns", "delete", name, check=False)


class Namespace:
    def __init__(self):
        self.name = _next_name()
        run("ip", "netns", "add", self.name)
        try:
            self.ip("link", "set", "lo", "up")
        except Exception:
            self.close()
            raise

    def ip(self, *args, check=True):
        """Runs `ip` inside this namespace."""
        return run("ip", "-n", self.name, *args, check=check)

    def exec_prefix(self):
        """A command prefix that runs a program inside this namespace."""
        return ["ip", "netns", "exec", self.name]

    def close(self):
        run("ip", "netns", "delete", self.name, check=False)

    def call(self, function):
        """Runs `function` on a thread that entered this namespace; sockets it makes stay in the
        namespace wherever they are used later (setns moves only the calling thread)."""
        outcome = {}

        def enter_and_call():
            try:
                fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
                try:
                    if _libc.setns(fd, _CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), f"setns into {self.name}")
                finally:
                    os.close(fd)
                outcome["value"] = function()
            except BaseException as error:  # handed to the caller below
                outcome["error"] = error

        thread = threading.Thread(target=enter_and_call)
        thread.start()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]


_libc = ctypes.CDLL(None, use_errno=True)


class ClientHost(Namespace):
    """loopgate's machine (and the apps')."""

    def connect(self, port, host="127.0.0.1", timeout=5.0):
        """A TCP connection from inside this namespace."""
        sock = self.call(lambda: socket.create_connection((host, port), timeout=timeout))
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def free_port(self):
        def bind_zero():
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                return sock.getsockname()[1]
        return self.call(bind_zero)


class VethPath:
    """One veth pair between loopgate's host and the gateway's host."""

    def __init__(self, client_if, gateway_if, block):
        first, second = list(block.hosts())
        self.client_if = client_if
        self.gateway_if = gateway_if
        self.client_ip = str(first)
        self.gateway_ip = str(second)
        self.ipv6_gateway_ip = None


class GatewayHost(Namespace):
    """The gateway's machine, with one path from `client` to start with."""

    def __init__(self, client):
        super().__init__()
        self.client = client
        self.paths = []
        try:
            self.add_path()
        except Exception:
            self.close()
            raise

    @property
    def path(self):
        return self.paths[0]

    def add_path(self):
        """A new veth pair; path N gets the block 100.64.0.4N/30 (client .1, gateway .2)."""
        number = len(self.paths)
        block = ipaddress.ip_network(f"{ipaddress.ip_address('100.64.0.0') + 4 * number}/30")
        path = VethPath(f"lg{number}c", f"lg{number}g", block)
        self.client.ip("link", "add", path.client_if, "type", "veth", "peer", "name", path.gateway_if,
                       "netns", self.name)
        self.paths.append(path)
        self.client.ip("addr", "add", f"{path.client_ip}/30", "dev", path.client_if)
        self.client.ip("link", "set", path.client_if, "up")
        self.ip("addr", "add", f"{path.gateway_ip}/30", "dev", path.gateway_if)
        self.ip("link", "set", path.gateway_if, "up")
        return path

    def add_ipv6_trap(self, path):
        """Gives the gateway an IPv6 address on `path` that swallows everything: packets reach the
        gateway's host but every answer is routed into a black hole, the way a Tailscale `::/0`
        route on macOS drops traffic. A client trying it waits out its own timeout."""
        prefix = f"fd7a:115c:a1e0:{self.paths.index(path):x}"
        self.client.ip("-6", "addr", "add", f"{prefix}::1/64", "dev", path.client_if, "nodad")
        self.ip("-6", "addr", "add", f"{prefix}::2/64", "dev", path.gateway_if, "nodad")
        self.ip("-6", "route", "add", "blackhole", f"{prefix}::1/128")
        path.ipv6_gateway_ip = f"{prefix}::2"
        return path.ipv6_gateway_ip

    def set_link(self, path, up):
        """Takes loopgate's end of `path` down or up: a change loopgate's namespace sees."""
        self.client.ip("link", "set", path.client_if, "up" if up else "down")

    def set_black_hole(self, path, on):
        """Inside the gateway's namespace only, drops every packet back to loopgate's end of
        `path` (no reset, no ICMP). loopgate's namespace sees no change at all."""
        self.ip("route", "add" if on else "delete", "blackhole", f"{path.client_ip}/32")


class UnrelatedInterface:
    """A veth pair with both ends in loopgate's namespace, going nowhere: a change to it is a
    network change that concerns no upstream."""

    def __init__(self, client):
        self.client = client
        number = _next_number()
        self.name = f"lgu{number}"
        client.ip("link", "add", self.name, "type", "veth", "peer", "name", f"lgv{number}")

    def set_address(self, cidr, present):
        self.client.ip("addr", "add" if present else "delete", cidr, "dev", self.name)


def with_private_hosts(hosts_file, then=()):
    """A command prefix: a new mount namespace, `hosts_file` bound over /etc/hosts, then `then` +
    the command. Rewrite the file in place to change what names resolve to: the bind mount
    follows the file's inode, not its name."""
    script = 'mount --bind "$0" /etc/hosts && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, str(hosts_file), *then]


def rewrite_in_place(path, text):
    with open(path, "r+") as file:
        file.truncate(0)
        file.write(text)
