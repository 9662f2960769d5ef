"""Fake service managers for the `loopgate setup` agent tests: a `launchctl` (with a
`uname` that answers Darwin, for launchd/loopgate-agent.sh) and a `systemctl` (with a
`journalctl`), put first on PATH. Each records its arguments and, unless told to start
nothing, really starts what the plist's ProgramArguments or the unit's ExecStart says, in
its own session, so setup's wait and its upgrade through the new listener run against a
real `loopgate run`. stop() ends that daemon; every test calls it."""

import os
import signal
import sys
import time
from pathlib import Path

# What both fakes share: the daemon's pid file, and "is it still running" that a
# zombie (the daemon is re-parented when the fake exits) does not fool.
COMMON = r'''
import os, shlex, signal, subprocess, sys, time
STATE = {state!r}
CALLS = os.path.join(STATE, "calls")
PID = os.path.join(STATE, "pid")
with open(CALLS, "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\n")

def alive(pid):
    try:
        with open(f"/proc/{{pid}}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

def running():
    try:
        pid = int(open(PID).read())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None

def start(argv, log):
    with open(log, "ab") as out:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    with open(PID, "w") as f:
        f.write(str(child.pid))

def stop():
    pid = running()
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not alive(pid):
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
'''

LAUNCHCTL = r'''
import plistlib
LOADED = os.path.join(STATE, "loaded")
verb, args = sys.argv[1], sys.argv[2:]
if verb == "print":
    if not os.path.exists(LOADED):
        print("Could not find service", file=sys.stderr)
        sys.exit(113)
    pid = running()
    print(args[0] + " = {{")
    print("\tstate = " + ("running" if pid else "not running"))
    if pid:
        print(f"\tpid = {{pid}}")
    print("}}")
elif verb == "bootstrap":
    with open(args[1], "rb") as f:
        job = plistlib.load(f)
    if {start_daemon!r}:
        start(job["ProgramArguments"], job["StandardErrorPath"])
    open(LOADED, "w").close()
elif verb == "bootout":
    if not os.path.exists(LOADED):
        sys.exit(3)
    stop()
    os.unlink(LOADED)
elif verb == "kill":
    pid = running()
    if pid is None:
        sys.exit(3)
    os.kill(pid, getattr(signal, args[0]))
'''

SYSTEMCTL = r'''
assert sys.argv[1] == "--user", sys.argv
verb, args = sys.argv[2], sys.argv[3:]
config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.environ["HOME"], ".config")
UNIT = os.path.join(config_home, "systemd", "user", "loopgate.service")
JOURNAL = os.path.join(STATE, "journal")

def exec_start():
    for line in open(UNIT):
        if line.startswith("ExecStart="):
            words = shlex.split(line[len("ExecStart="):])
            return [w.replace("%%", "%").replace("$$", "$") for w in words]
    sys.exit("no ExecStart in " + UNIT)

def start_unit():
    if {start_daemon!r}:
        start(exec_start(), JOURNAL)

if verb == "show-environment":
    if not {answers!r}:
        print("Failed to connect to bus: No medium found", file=sys.stderr)
        sys.exit(1)
    print("HOME=" + os.environ["HOME"])
elif verb == "restart":
    stop()
    start_unit()
elif verb == "reload-or-restart":
    pid = running()
    if pid:
        os.kill(pid, signal.SIGHUP)
    else:
        start_unit()
elif verb == "show":
    pid = running()
    print("LoadState=" + ("loaded" if os.path.exists(UNIT) else "not-found"))
    print("ActiveState=" + ("active" if pid else "inactive"))
    print("SubState=" + ("running" if pid else "dead"))
    print(f"MainPID={{pid or 0}}")
    print("FragmentPath=" + (UNIT if os.path.exists(UNIT) else ""))
    print("ExecMainStatus=0")
'''

JOURNALCTL = r'''
try:
    sys.stdout.write(open(os.path.join(STATE, "journal")).read())
except OSError:
    pass
'''


class FakeService:
    def __init__(self, tmp_path, name):
        self.state = tmp_path / f"fake-{name}"
        self.state.mkdir()
        self.bin_dir = tmp_path / f"fake-{name}-bin"
        self.bin_dir.mkdir()

    def _script(self, name, body, **values):
        path = self.bin_dir / name
        source = (COMMON + body).format(state=str(self.state), **values)
        path.write_text(f"#!{sys.executable}\n" + source)
        path.chmod(0o755)

    def env(self, base):
        return {**base, "PATH": f"{self.bin_dir}:{base['PATH']}"}

    def calls(self):
        path = self.state / "calls"
        return path.read_text().splitlines() if path.exists() else []

    def pid(self):
        path = self.state / "pid"
        return int(path.read_text()) if path.exists() else None

    def stop(self):
        """Ends the daemon the fake started, if any (SIGTERM, then SIGKILL after 5 s)."""
        pid = self.pid()
        if pid is None or not _alive(pid):
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


class FakeLaunchd(FakeService):
    def __init__(self, tmp_path, start_daemon=True):
        super().__init__(tmp_path, "launchd")
        self._script("launchctl", LAUNCHCTL, start_daemon=start_daemon)
        (self.bin_dir / "uname").write_text("#!/bin/sh\necho Darwin\n")
        (self.bin_dir / "uname").chmod(0o755)


class FakeSystemd(FakeService):
    def __init__(self, tmp_path, start_daemon=True, answers=True):
        super().__init__(tmp_path, "systemd")
        self._script("systemctl", SYSTEMCTL, start_daemon=start_daemon, answers=answers)
        self._script("journalctl", JOURNALCTL)

    def journal(self):
        path = self.state / "journal"
        return path.read_text(errors="replace") if path.exists() else ""


def _alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
