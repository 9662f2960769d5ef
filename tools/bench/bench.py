#!/usr/bin/env python3
"""loopgate beside nginx and HAProxy, each a ws:// -> wss:// proxy on 127.0.0.1 in front of one
TLS echo upstream, and beside "direct" (the load client speaking wss:// itself: the limit).
W1-W8 of issue 12, interleaved over rounds: each round runs every workload for direct, nginx,
HAProxy and loopgate in turn, so slow phases of a shared machine hit every peer alike. Prints
the medians, loopgate's ratio to direct and to the best peer, each goal judged, and writes the
table (Markdown), the raw figures (JSON) and a chart (SVG).

Run it through tools/bench.sh, which installs and builds what it needs. Needs root (network
namespaces for W7/W8, RLIMIT_NOFILE for W5). Not a test: nothing passes or fails."""

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import chart  # noqa: E402
import peers  # noqa: E402
import procs  # noqa: E402
import report  # noqa: E402
import workloads  # noqa: E402
from workloads import netns  # noqa: E402

WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8")
ALL_PEERS = ("direct", "nginx", "haproxy", "loopgate")

# W6 is measured inside W5's runs; W8 has two cases. Who runs which workload:
RUNNERS = [
    ("W1", workloads.w1, ALL_PEERS),
    ("W2", workloads.w2, ALL_PEERS),
    ("W3", workloads.w3, ALL_PEERS),
    ("W4", workloads.w4, ALL_PEERS),
    ("W5", workloads.w5_w6, ("nginx", "haproxy", "loopgate")),
    ("W7", workloads.w7, ("nginx", "haproxy", "loopgate")),
    ("W8-trap", workloads.w8_trap, ("nginx", "haproxy", "loopgate")),
    ("W8-dead", workloads.w8_dead, ("nginx", "haproxy", "loopgate")),
]
# A run whose figure hit its bound is not repeated in later rounds: it would wait out the same bound.
BOUNDED = {"W7": "told_s", "W8-trap": "served_s", "W8-dead": "served_s"}

FULL = {"warmup": 1.0, "w1": 8.0, "w2": 8.0, "w3": 5.0, "w4": 5.0, "w6": 10.0, "w6_sessions": 20.0, "w7": 10.0, "w8": 10.0,
        "open_timeout": 5.0}
QUICK = {"warmup": 0.3, "w1": 1.5, "w2": 1.5, "w3": 1.5, "w4": 1.5, "w6": 2.0, "w6_sessions": 2.0, "w7": 4.5, "w8": 6.0,
         "open_timeout": 3.0}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="tools/bench.sh", description=__doc__.split("\n\n")[0])
    p.add_argument("workloads", nargs="*", metavar="W", help="any of W1..W8 (default: all)")
    p.add_argument("--quick", action="store_true", help="a short smoke run (one round, short windows, small W5)")
    p.add_argument("--rounds", type=int, help="rounds (default 3, --quick 1)")
    p.add_argument("--peers", default=",".join(ALL_PEERS), help="comma-separated subset of direct,nginx,haproxy,loopgate")
    p.add_argument("--loopgate", type=Path, help="the loopgate binary to measure (default: BUILD/daemon/loopgate)")
    p.add_argument("--build", type=Path, default=HERE.parents[1] / "build", help="meson build directory with the bench tools")
    p.add_argument("--out", type=Path, help="where the table, figures and chart go (default: a new /tmp/loopgate-bench-*)")
    p.add_argument("--fd-limit", type=int, help="W5's file limit per proxy process (default 20000, --quick 1024)")
    p.add_argument("--w5-sessions", type=int, help="W5/W6's fixed count of idle sessions (default 2000, --quick 200)")
    p.add_argument("--seconds", action="append", default=[], metavar="KEY=S",
                   help="override one measured window, e.g. w4=20 (to profile a workload with perf); "
                        "keys: " + ", ".join(FULL))
    p.add_argument("--nginx-tls13", action="store_true",
                   help="let nginx offer TLS 1.3 upstream too (1.22's default is TLS 1.2 only, whose resumption "
                        "skips the key exchange loopgate and HAProxy do on every resumed TLS 1.3 handshake)")
    p.add_argument("--from", dest="from_dir", type=Path,
                   help="no run: rewrite the table and chart of an earlier run from DIR/results.json")
    p.add_argument("--command", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    chosen = [w.upper() for w in args.workloads] or list(WORKLOADS)
    unknown = [w for w in chosen if w not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload {', '.join(unknown)} (expected W1..W8)")
    args.workloads = chosen
    args.peers = [x for x in args.peers.split(",") if x]
    if not args.peers or any(x not in ALL_PEERS for x in args.peers):
        p.error("--peers: a comma-separated subset of direct,nginx,haproxy,loopgate")
    args.rounds = args.rounds or (1 if args.quick else 3)
    if not 1 <= args.rounds <= 20:
        p.error("--rounds: 1 to 20")
    args.durations = dict(QUICK if args.quick else FULL)
    for item in args.seconds:
        key, _, value = item.partition("=")
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if key not in args.durations or not 0 < seconds <= 600:
            p.error(f"--seconds {item}: expected KEY=SECONDS with KEY one of {', '.join(FULL)} and 0 < SECONDS <= 600")
        args.durations[key] = seconds
    args.fd_limit = args.fd_limit or (1024 if args.quick else 20000)
    args.w5_sessions = args.w5_sessions or (200 if args.quick else 2000)
    # Two descriptors per proxied session, and a few for the proxy itself.
    args.w5_max_sessions = (args.fd_limit - 20) // 2
    args.loopgate = (args.loopgate or args.build / "daemon" / "loopgate").resolve()
    if not os.access(args.loopgate, os.X_OK):
        p.error(f"--loopgate: {args.loopgate} is not an executable")
    return args


def first_line(argv, stream="stdout"):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unavailable ({error})"
    text = (done.stdout if stream == "stdout" else done.stderr).strip() or (done.stdout + done.stderr).strip()
    return text.splitlines()[0] if text else "unavailable"


def machine_lines(args):
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return [
        f"Machine: {model}, {os.cpu_count()} cores, {mem_kib / 1048576:.1f} GiB, Linux {platform.release()}",
        f"Versions: {first_line([str(args.loopgate), '--version'])} ({args.loopgate}); "
        f"{first_line(['nginx', '-v'], 'stderr')}; {first_line(['haproxy', '-v'])}; {first_line(['openssl', 'version'])}",
    ]


def run_one(env, key, runner, peer, previous):
    bounded = BOUNDED.get(key)
    if bounded and previous and previous[0] is not None and previous[0].get(bounded) is None:
        return dict(previous[0], repeated=False)  # hit the bound in round 1: the same again
    started = time.monotonic()
    try:
        result = runner(env, peer)
    except Exception as error:  # noqa: BLE001 - one failed run is reported, the others go on
        print(f"    {key} {peer}: FAILED: {error}", flush=True)
        return None
    print(f"    {key} {peer} ({time.monotonic() - started:.1f} s): {brief(result)}", flush=True)
    return result


def brief(result):
    text = json.dumps(result, default=str)
    return text if len(text) < 300 else text[:297] + "..."


def write_outputs(args, out, header, results):
    rows = report.summarize(args, results)
    text = "\n".join(header) + "\n\n" + report.markdown_table(rows) + "\n"
    notes = direct_notes(results)
    if notes:
        text += "\n" + notes + "\n"
    print("\n" + text)
    (out / "results.md").write_text(text)
    chart.write_svg(rows, out / "chart.svg", f"loopgate beside nginx and HAProxy (medians of {args.rounds} rounds)")
    print(f"table: {out / 'results.md'}\nfigures: {out / 'results.json'}\nchart: {out / 'chart.svg'}")


def summarize_earlier(args):
    saved = json.loads((args.from_dir / "results.json").read_text())
    for key, value in saved.get("settings", {}).items():
        setattr(args, key, value)
    write_outputs(args, args.from_dir, saved["header"], saved["results"])


def main(argv):
    args = parse_args(argv)
    if args.from_dir:
        summarize_earlier(args)
        return
    if os.geteuid() != 0:
        sys.exit("bench: needs root (network namespaces for W7/W8, file limits for W5)")
    out = args.out or Path(tempfile.mkdtemp(prefix="loopgate-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=out))
    # The proxies get exactly --fd-limit; the client and the upstream need one descriptor per
    # session (half of it) and inherit this process's limit, raised where allowed.
    hard = procs.raise_file_limit(2 * args.fd_limit + 1024)
    if hard < args.fd_limit:
        print(f"bench: the file limit here is {hard}: W5 uses it instead of {args.fd_limit}", flush=True)
        args.fd_limit = hard
        args.w5_max_sessions = (args.fd_limit - 20) // 2
    need_ns = {"W7", "W8"} & set(args.workloads)
    if need_ns:
        reason = netns.unusable_reason()
        if reason:
            sys.exit(f"bench: W7/W8 need network namespaces: {reason}")
        netns.remove_leftovers()

    if args.nginx_tls13:
        peers.NGINX_UPSTREAM_PROTOCOLS = "TLSv1.2 TLSv1.3"
    header = machine_lines(args)
    header.append(f"Command: {args.command or 'tools/bench.sh ' + ' '.join(argv)}")
    header.append(f"Rounds: {args.rounds}; workloads {' '.join(args.workloads)}; peers {', '.join(args.peers)}; "
                  f"W5 file limit {args.fd_limit} ({args.w5_max_sessions} sessions), fixed count {args.w5_sessions}")
    for line in header:
        print(line, flush=True)

    subprocess.run(["bash", str(HERE.parent / "gen-certs.sh"), str(scratch / "certs")], check=True)
    env = workloads.Env(args, args.build, scratch / "certs", scratch)
    env.start_upstream()
    selected = [(k, f, [p for p in ps if p in args.peers]) for k, f, ps in RUNNERS if k.split("-")[0] in args.workloads
                or (k == "W5" and "W6" in args.workloads)]
    results = {k: {p: [] for p in ps} for k, _, ps in selected}
    loads = []
    started = time.monotonic()
    for round_number in range(1, args.rounds + 1):
        load = procs.load_average()
        loads.append(load)
        print(f"== round {round_number}/{args.rounds} (load average {load}, {time.monotonic() - started:.0f} s in)", flush=True)
        for key, runner, peers_here in selected:
            for peer in peers_here:
                results[key][peer].append(run_one(env, key, runner, peer, results[key][peer]))
    elapsed = time.monotonic() - started

    header.append(f"Load average at the start of each round: {'; '.join(loads)}. {elapsed:.0f} s in all.")
    settings = {"rounds": args.rounds, "fd_limit": args.fd_limit, "w5_sessions": args.w5_sessions,
                "w5_max_sessions": args.w5_max_sessions}
    (out / "results.json").write_text(json.dumps({"header": header, "settings": settings, "results": results},
                                                 indent=1, default=str))
    write_outputs(args, out, header, results)


def direct_notes(results):
    """Is the echo upstream the bottleneck? Its CPU share while direct ran (one core = 100 %)."""
    lines = []
    for key in ("W1", "W2", "W4"):
        rounds = [r for r in results.get(key, {}).get("direct", []) if r]
        if rounds:
            up = sorted(r["upstream_cpu_share"] for r in rounds)[len(rounds) // 2]
            client = sorted(r["client_cpu_share"] for r in rounds)[len(rounds) // 2]
            lines.append(f"{key} direct: echo upstream at {100 * up:.0f} % of a core, load client at {100 * client:.0f} %")
    errors = []
    for key, per_peer in results.items():
        for peer, rounds in per_peer.items():
            bad = sum(r.get("errors", 0) for r in rounds if r and isinstance(r.get("errors"), int))
            if bad:
                errors.append(f"{key} {peer}: {bad}")
    if errors:
        lines.append("Sessions that failed or echoed wrong (load client errors): " + ", ".join(errors))
    return "\n".join(lines)


def on_signal(number, _frame):
    raise SystemExit(128 + number)


if __name__ == "__main__":
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        main(sys.argv[1:])
    finally:
        procs.stop_all()
        try:
            netns.remove_leftovers()
        except Exception:  # noqa: BLE001
            pass
