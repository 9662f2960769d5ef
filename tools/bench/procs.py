"""Processes the benchmark starts, and what it reads about them from /proc.

Every process is started through Child, recorded in one registry and stopped by stop_all(), which
bench.py runs on every way out (normal end, exception, SIGINT/SIGTERM/SIGHUP); tools/bench.sh
also kills the benchmark's whole process group when it exits."""

import os
import resource
import signal
import socket
import subprocess
import time

_live = []


class Child:
    """A background process with its output in a file."""

    def __init__(self, argv, log_path, wrap=(), nofile=None, stdin=subprocess.DEVNULL, stdout=None):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        preexec = None
        if nofile is not None:
            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = subprocess.Popen([*map(str, wrap), *map(str, argv)], stdin=stdin,
                                     stdout=stdout if stdout is not None else self._log,
                                     stderr=self._log if stdout is not None else subprocess.STDOUT,
                                     preexec_fn=preexec)
        _live.append(self)

    @property
    def pid(self):
        return self.proc.pid

    def output(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for_output(self, text, timeout=10.0, count=1):
        deadline = time.monotonic() + timeout
        while self.output().count(text) < count:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.proc.args[0]} did not print {text!r} (exit {self.proc.poll()}):\n"
                                   f"{self.output()[-2000:]}")
            time.sleep(0.01)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=5.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if not self._log.closed:
            self._log.close()
        if self in _live:
            _live.remove(self)


def stop_all():
    for child in reversed(list(_live)):
        try:
            child.stop(timeout=3)
        except Exception:  # noqa: BLE001 - the exit path must go on whatever happens
            pass


def wait_listening(port, child, host="127.0.0.1", timeout=10.0, connect=None):
    """Bounded polling until `port` accepts (through `connect` when given: another namespace)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if connect is not None:
                connect(port).close()
            else:
                socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            if not child.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{child.proc.args[0]} is not listening on {port}:\n{child.output()[-2000:]}")
            time.sleep(0.02)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# /proc

def children_of(pid):
    """Direct children of `pid` (nginx's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                text = f.read()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def pss_kib(pids):
    """Proportional set size of all `pids` together, KiB (smaps_rollup)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def voluntary_switches(pids):
    """Voluntary context switches of every thread of `pids` so far: each is a sleep that ended."""
    total = 0
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/status") as f:
                    for line in f:
                        if line.startswith("voluntary_ctxt_switches:"):
                            total += int(line.split()[1])
            except OSError:
                pass
    return total


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def raise_file_limit(wanted):
    """Raises this process's RLIMIT_NOFILE (soft and hard) to `wanted` where allowed; returns the
    hard limit in force, which children inherit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in (wanted, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), max(hard, target)))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]
