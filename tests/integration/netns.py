"""A gateway on its own host, for tests and benchmarks that change the network under loopgate.

The host is a network namespace the test creates. Each path to it is a veth pair: the host end
stays in the root namespace (where loopgate runs, so loopgate's netlink watcher sees what happens
to it), the gateway end sits in the namespace. Addresses are /30 blocks in 100.64.0.0/10, like a
tailnet peer. Every name carries the creating process id, so parallel runs cannot collide and the
leftovers of a crashed run can be told apart from a live run's (`remove_leftovers`).

Needs root and iproute2. Nothing here touches an interface or namespace it did not create."""

import ipaddress
import os
import re
import shutil
import subprocess
import zlib

PREFIX = "lgt"  # namespaces are lgt-PID-N, interfaces lgtPID + a letter + N (at most 15 characters)
_TAILNET = ipaddress.ip_network("100.64.0.0/10")
_MAGIC_DNS = ipaddress.ip_network("100.100.100.0/24")  # Tailscale's own service addresses
_NAMESPACE_NAME = re.compile(rf"^{PREFIX}-(\d+)-\d+$")
_LINK_NAME = re.compile(rf"^{PREFIX}(\d+)[a-z]\d+$")
_counter = 0


def unusable_reason():
    """Why namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root: creates network namespaces and veth pairs (CI runs as root)"
    for tool in ("ip", "unshare"):
        if shutil.which(tool) is None:
            return f"needs {tool}(8)"
    name = _next_name("-probe")
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


def _next_name(tag=""):
    global _counter
    _counter += 1
    return f"{PREFIX}-{os.getpid()}-{_counter}{tag}"


def _link_name(letter):
    global _counter
    _counter += 1
    return f"{PREFIX}{os.getpid()}{letter}{_counter}"


def _process_alive(pid):
    return os.path.exists(f"/proc/{pid}")


def remove_leftovers():
    """Deletes namespaces and interfaces of earlier runs whose process is gone."""
    for name in run("ip", "netns", "list", check=False).stdout.split():
        match = _NAMESPACE_NAME.match(name)
        if match and not _process_alive(int(match.group(1))):
            run("ip", "netns", "delete", name, check=False)
    for line in run("ip", "-o", "link", "show", check=False).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        match = _LINK_NAME.match(name)
        if match and not _process_alive(int(match.group(1))):
            run("ip", "link", "delete", name, check=False)


def _addresses_in_use():
    out = run("ip", "-o", "-4", "addr", "show", check=False).stdout
    return {ipaddress.ip_interface(token).network for token in re.findall(r"inet (\S+)", out)}


def free_block():
    """A /30 in 100.64.0.0/10 that no interface here uses, chosen from this process's id."""
    in_use = _addresses_in_use()
    for attempt in range(1000):
        global _counter
        _counter += 1
        index = zlib.crc32(f"{os.getpid()}/{_counter}/{attempt}".encode()) % (_TAILNET.num_addresses // 4)
        block = ipaddress.ip_network(f"{_TAILNET.network_address + 4 * index}/30")
        if block.subnet_of(_MAGIC_DNS) or any(block.overlaps(net) for net in in_use):
            continue
        return block
    raise RuntimeError("found no free /30 in 100.64.0.0/10")


class VethPath:
    """One veth pair between the root namespace and the gateway's namespace."""

    def __init__(self, host_if, gateway_if, block):
        first, second = list(block.hosts())
        self.host_if = host_if
        self.gateway_if = gateway_if
        self.host_ip = str(first)
        self.gateway_ip = str(second)
        self.ipv6_gateway_ip = None


class GatewayHost:
    """A network namespace standing in for the gateway's machine, with one path to start with."""

    def __init__(self):
        self.namespace = _next_name()
        self.paths = []
        run("ip", "netns", "add", self.namespace)
        try:
            self.ip("link", "set", "lo", "up")
            self.add_path()
        except Exception:
            self.close()
            raise

    @property
    def path(self):
        return self.paths[0]

    def ip(self, *args, check=True):
        """Runs `ip` inside the gateway's namespace."""
        return run("ip", "-n", self.namespace, *args, check=check)

    def exec_prefix(self):
        """A command prefix that runs a program on the gateway's host."""
        return ["ip", "netns", "exec", self.namespace]

    def add_path(self):
        host_if, gateway_if = _link_name("h"), _link_name("g")
        block = free_block()
        path = VethPath(host_if, gateway_if, block)
        run("ip", "link", "add", host_if, "type", "veth", "peer", "name", gateway_if, "netns", self.namespace)
        self.paths.append(path)
        run("ip", "addr", "add", f"{path.host_ip}/30", "dev", host_if)
        run("ip", "link", "set", host_if, "up")
        self.ip("addr", "add", f"{path.gateway_ip}/30", "dev", gateway_if)
        self.ip("link", "set", gateway_if, "up")
        return path

    def add_ipv6_trap(self, path):
        """Gives the gateway an IPv6 address on `path` that swallows everything: packets reach the
        gateway's host but every answer is routed into a black hole, the way a Tailscale `::/0`
        route on macOS drops traffic. A client trying it waits out its own timeout."""
        # The path's IPv4 block is unique among live runs, and so is a prefix made from it.
        _, b, c, d = ipaddress.ip_address(path.host_ip).packed
        prefix = f"fd7a:115c:a1e0:{b:02x}{c:02x}:{d:x}"
        run("ip", "-6", "addr", "add", f"{prefix}::1/80", "dev", path.host_if, "nodad")
        self.ip("-6", "addr", "add", f"{prefix}::2/80", "dev", path.gateway_if, "nodad")
        self.ip("-6", "route", "add", "blackhole", f"{prefix}::1/128")
        path.ipv6_gateway_ip = f"{prefix}::2"
        return path.ipv6_gateway_ip

    def set_link(self, path, up):
        """Takes the host end of `path` down or up: in loopgate's namespace, a visible change."""
        run("ip", "link", "set", path.host_if, "up" if up else "down")

    def set_black_hole(self, path, on):
        """Inside the gateway's namespace only, drops every packet back to loopgate's end of
        `path` (no reset, no ICMP). loopgate's namespace sees no change at all."""
        self.ip("route", "add" if on else "delete", "blackhole", f"{path.host_ip}/32")

    def close(self):
        # Deleting one end of a veth pair deletes both; deleting the namespace alone would do it
        # too, but only later, after the kernel's cleanup work ran.
        for path in self.paths:
            run("ip", "link", "delete", path.host_if, check=False)
        run("ip", "netns", "delete", self.namespace, check=False)


class UnrelatedInterface:
    """A veth pair with both ends in the root namespace, going nowhere: a change to it is a
    network change that concerns no upstream."""

    def __init__(self):
        self.name = _link_name("u")
        self.peer = _link_name("v")
        run("ip", "link", "add", self.name, "type", "veth", "peer", "name", self.peer)

    def add_address(self, cidr):
        run("ip", "addr", "add", cidr, "dev", self.name)

    def close(self):
        run("ip", "link", "delete", self.name, check=False)


def with_private_hosts(hosts_file, then=()):
    """A command prefix: a new mount namespace (the network namespace stays), `hosts_file` bound
    over /etc/hosts, then `then` + the command. Rewrite the file in place to change what names
    resolve to: the bind mount follows the file's inode, not its name."""
    script = 'mount --bind "$0" /etc/hosts && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, str(hosts_file), *then]


def rewrite_in_place(path, text):
    with open(path, "r+") as file:
        file.truncate(0)
        file.write(text)
