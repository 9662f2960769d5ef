"""From the rounds' raw figures to the table: medians per peer, loopgate's ratio to direct and to
the best of nginx and HAProxy, and each goal of issue 12 judged from this run."""

import statistics

PEERS = ("direct", "nginx", "haproxy", "loopgate")
OTHERS = ("nginx", "haproxy")


class Metric:
    def __init__(self, workload, label, unit, pick, better, goal="", judge=None, fmt=None, never="never"):
        self.workload = workload
        self.label = label
        self.unit = unit
        self.pick = pick        # one round's result dict -> the figure, or None (not reached in the bound)
        self.better = better    # "higher" or "lower"
        self.goal = goal
        self.judge = judge      # (loopgate, direct, {peer: value}, results) -> True/False/None
        self.fmt = fmt
        self.never = never      # what None means

    def best(self, values):
        known = [v for v in values if v is not None]
        if not known:
            return None
        return max(known) if self.better == "higher" else min(known)


def _get(*keys):
    def pick(d):
        for key in keys:
            if d is None:
                return None
            d = d.get(key)
        return d
    return pick


def _ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def _le(limit):
    return lambda lg, direct, values, _: None if lg is None else lg <= limit


def _ratio_direct(op, limit):
    def judge(lg, direct, values, _):
        r = _ratio(lg, direct)
        return None if r is None else (r >= limit if op == ">=" else r <= limit)
    return judge


def _vs(peer, op, limit):
    def judge(lg, direct, values, _):
        r = _ratio(lg, values.get(peer))
        return None if r is None else (r >= limit if op == ">=" else r <= limit)
    return judge


def _all_held(lg, direct, values, results):
    rounds = [r["max"] for r in results.get("W5", {}).get("loopgate", []) if r]
    if not rounds:
        return None
    return all(r["held"] == r["wanted"] and r["verified"] == r["held"] for r in rounds)


def _resumed_after_first(lg, direct, values, results):
    """Every handshake resumed but the first dial of each opener (the cache starts empty)."""
    rounds = [r for r in results.get("W4", {}).get("loopgate", []) if r]
    if lg is None or not rounds:
        return None
    def full(r):
        if "full_handshakes" in r:
            return r["full_handshakes"]
        return round(r["upstream_handshakes"] * (1 - (r["resumed_share"] or 0)))
    return all(full(r) <= r.get("openers", 8) for r in rounds)


def _coalesced(lg, direct, values, results):
    rounds = [r["fixed"] for r in results.get("W5", {}).get("loopgate", []) if r]
    if lg is None or not rounds:
        return None
    # One wakeup per session ping (every 15 s by default) would be sessions / 15 per second.
    return lg <= rounds[0]["held"] / 15 / 10


def metrics(args):
    n = args.w5_sessions
    return [
        Metric("W1", "small messages", "msgs/s", _get("msgs_per_s"), "higher", "≥ 0.90× direct", _ratio_direct(">=", 0.90)),
        Metric("W1", "proxy CPU per message", "µs", _get("cpu_us_per_msg"), "lower", "≤ 0.5× nginx", _vs("nginx", "<=", 0.5)),
        Metric("W2", "bulk, 1 MiB messages", "MB/s", _get("mb_per_s"), "higher", "≥ 0.95× direct", _ratio_direct(">=", 0.95)),
        Metric("W2", "proxy CPU per MB", "µs", _get("cpu_us_per_mb"), "lower", "≤ 0.5× HAProxy", _vs("haproxy", "<=", 0.5)),
        Metric("W3", "round trip p50", "µs", _get("p50_us"), "lower", "≤ 1.25× direct", _ratio_direct("<=", 1.25)),
        Metric("W3", "round trip p99", "µs", _get("p99_us"), "lower", "≤ 1.3× direct", _ratio_direct("<=", 1.3)),
        Metric("W4", "new sessions (8 openers)", "sessions/s", _get("sessions_per_s"), "higher", "≥ 1.3× nginx",
               _vs("nginx", ">=", 1.3)),
        Metric("W4", "proxy CPU per session", "µs", _get("cpu_us_per_session"), "lower"),
        Metric("W4", "upstream handshakes resumed", "%", lambda d: None if d.get("resumed_share") is None
               else 100 * d["resumed_share"], "higher", "100 % (all but each opener's first)", _resumed_after_first),
        Metric("W4", "upstream handshakes in TLS 1.3 (the rest 1.2)", "%", lambda d: None if d.get("tls13_share") is None
               else 100 * d["tls13_share"], "higher"),
        Metric("W5", f"memory per idle session, {n} held", "KiB", _get("fixed", "kib_per_session"), "lower", "≤ 10 KiB",
               _le(10)),
        Metric("W5", "memory per idle session, at the file limit", "KiB", _get("max", "kib_per_session"), "lower",
               "≤ 10 KiB", _le(10)),
        Metric("W5", f"held at the file limit ({args.fd_limit} fds: {args.w5_max_sessions} wanted)", "sessions",
               _get("max", "held"), "higher", "all, none failing for another reason", _all_held),
        Metric("W6", "wakeups, no session", "/s", _get("fixed", "wakeups_idle"), "lower", "0",
               lambda lg, *_: None if lg is None else lg < 0.05),
        Metric("W6", f"wakeups, {n} idle sessions", "/s", _get("fixed", "wakeups_sessions"), "lower",
               "ping timers only, coalesced", _coalesced),
        Metric("W7", "link down → app told", "s", _get("told_s"), "lower", "≤ 1 s", _le(1.0)),
        Metric("W7", "link back → new session served", "s", _get("back_s"), "lower", "≤ 0.5 s", _le(0.5)),
        Metric("W8", "first session, IPv6 trap", "s", _get("served_s"), "lower", "< 0.1 s", _le(0.1)),
        Metric("W8", "first session, dead first IPv4 address", "s", _get("served_s"), "lower", "< 0.3 s", _le(0.3)),
    ]


def result_key(metric):
    """Which raw results a metric reads: W6 lives in W5's runs, W8 has two cases."""
    if metric.workload == "W6":
        return "W5"
    if metric.workload == "W8":
        return "W8-trap" if "trap" in metric.label else "W8-dead"
    return metric.workload


def median_of(metric, rounds):
    values = [metric.pick(r) for r in rounds if r is not None]
    known = [v for v in values if v is not None]
    if not values:
        return "missing", None
    if not known:
        return "never", None
    return "ok", statistics.median(known)


def number(value, unit=""):
    if value is None:
        return "—"
    if unit == "%":
        return f"{value:.1f} %"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def summarize(args, results):
    """One row per metric: {metric, cells {peer: text}, values {peer: median}, ratios, verdict}."""
    rows = []
    for metric in metrics(args):
        per_peer = results.get(result_key(metric), {})
        if not per_peer:
            continue
        values, cells = {}, {}
        for peer in PEERS:
            rounds = per_peer.get(peer)
            if rounds is None:
                cells[peer] = "n/a"
                values[peer] = None
                continue
            state, value = median_of(metric, rounds)
            values[peer] = value
            if state == "never":
                bound = _bound_of(rounds)
                cells[peer] = f"never (> {bound:g} s)" if bound else "—"
            elif state == "missing":
                cells[peer] = "failed"
            else:
                cells[peer] = number(value, metric.unit)
        lg = values.get("loopgate")
        best_peer = metric.best([values.get(p) for p in OTHERS])
        verdict = metric.judge(lg, values.get("direct"), values, results) if metric.judge else None
        rows.append({"metric": metric, "cells": cells, "values": values,
                     "vs_direct": _ratio(lg, values.get("direct")), "vs_best": _ratio(lg, best_peer),
                     "best_peer": best_peer, "verdict": verdict})
    return rows


def _bound_of(rounds):
    for r in rounds:
        if r and r.get("bound_s"):
            return r["bound_s"]
    return None


def markdown_table(rows):
    lines = ["| workload | figure | direct | nginx | HAProxy | loopgate | loopgate ÷ direct | loopgate ÷ best peer | goal | met |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        m = row["metric"]
        c = row["cells"]
        ratio = lambda r: "—" if r is None else f"{r:.2f}×"  # noqa: E731
        met = {True: "yes", False: "**no**", None: "—"}[row["verdict"]]
        lines.append(f"| {m.workload} | {m.label} ({m.unit}) | {c['direct']} | {c['nginx']} | {c['haproxy']} | "
                     f"{c['loopgate']} | {ratio(row['vs_direct'])} | {ratio(row['vs_best'])} | {m.goal or '—'} | {met} |")
    return "\n".join(lines)
