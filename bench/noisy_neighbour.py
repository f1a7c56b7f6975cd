#!/usr/bin/env python3
"""Noisy neighbour: one namespace's warm latency while another namespace burns CPU.

The neighbour (namespace `guest`) calls a warm Node.js no-op at a steady RATE (default 50 per
second; blocking, result only) and times each call. The noisy namespace (`noisy`) runs
SPINNERS (default 4) activations of a Node.js busy loop at MEMORY_MB (default 2048, so each
instance's CPU quota, 1 core per 1769 MB, lets it take a whole core) that spin for the length
of a phase. Each round has a quiet phase (no spinners) and a loaded phase, PHASE_S (default 10)
seconds each; the order alternates between rounds and the percentiles are over all rounds'
samples of a phase (ROUNDS, default 4). The spinners are started non-blocking, the loaded phase
starts once every one of them is running, and the next phase waits until their records exist.

Reported: the neighbour's p50/p90/p99/max quiet vs loaded and the ratio loaded/quiet, per round
and merged, with the machine's CPU busy share in each phase (from /proc/stat), so a loaded phase
whose spinners did not run shows. The target (issue 11) is p99 loaded within 2x of quiet.
NOISY_FLAGS adds `hotrod serve` options; HOTROD_BIN measures another binary. Writes
bench/results/noisy_neighbour-<date>.md (RESULTS_DIR overrides) and prints one JSON line.
"""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

NAME = "noisy_neighbour"
RATE = float(os.environ.get("RATE", "50"))
SPINNERS = int(os.environ.get("SPINNERS", "4"))
MEMORY_MB = int(os.environ.get("MEMORY_MB", "2048"))
PHASE_S = float(os.environ.get("PHASE_S", "10"))
ROUNDS = int(os.environ.get("ROUNDS", "4"))

SPIN = ("function main(p) { const end = Date.now() + p.ms; let n = 0; "
        "while (Date.now() < end) n++; return {n}; }")


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v), idle


def busy_share(before, after):
    total, idle = after[0] - before[0], after[1] - before[1]
    return 1.0 - idle / total if total else 0.0


def neighbour_phase(client, seconds):
    """Paced blocking calls for `seconds`; returns their latencies in ms. A call that overruns
    its slot delays the next one; missed slots are not made up (no burst after a stall)."""
    period = 1.0 / RATE
    out = []
    end = time.monotonic() + seconds
    next_at = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= end:
            return out
        if next_at > now:
            time.sleep(next_at - now)
        t0 = time.perf_counter()
        status, _ = client.request("POST", "/api/v1/namespaces/_/actions/victim?blocking=true&result=true", {})
        out.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise RuntimeError(f"neighbour call: HTTP {status}")
        next_at = max(next_at + period, time.monotonic())


def admin(server, method, path, body=None):
    with open(os.path.join(server.work, "data", "admin.key")) as f:
        c = b.Client(server.port, f.read().strip())
    return c.request(method, path, body)


def start_spinners(noisy, ms):
    ids = []
    for _ in range(SPINNERS):
        status, body = noisy.request("POST", "/api/v1/namespaces/_/actions/spin", {"ms": ms})
        if status != 202:
            raise RuntimeError(f"spinner: HTTP {status} {body}")
        ids.append(body["activationId"])
    return ids


def wait_records(noisy, ids, timeout):
    deadline = time.monotonic() + timeout
    for aid in ids:
        while True:
            status, body = noisy.request("GET", f"/api/v1/namespaces/_/activations/{aid}")
            if status == 200:
                if not body.get("response", {}).get("success"):
                    raise RuntimeError(f"spinner {aid} failed: {body.get('response')}")
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"spinner {aid} has no record after {timeout} s")
            time.sleep(0.2)


def spinning_instances(server, before):
    """Instances (server children running a runtime) beyond the `before` set."""
    return [p for p in b.instance_roots(server.pid) if p not in before]


def stats(samples):
    return {"n": len(samples), "p50": b.percentile(samples, 50), "p90": b.percentile(samples, 90),
            "p99": b.percentile(samples, 99), "max": max(samples) if samples else float("nan")}


def main():
    facts = b.machine_facts()
    flags = b.env_flags("NOISY_FLAGS")
    rounds = []
    with b.Server(b.binary("hotrod"), flags, NAME) as server:
        guest = server.client()
        guest.put_action("victim", *b.KINDS["node"])
        for path, want in [("/api/v1/admin/namespaces/noisy", 200)]:
            status, body = admin(server, "PUT", path)
            if status != want:
                raise RuntimeError(f"PUT {path}: HTTP {status} {body}")
        status, key = admin(server, "POST", "/api/v1/admin/namespaces/noisy/keys")
        if status != 200:
            raise RuntimeError(f"noisy key: HTTP {status} {key}")
        noisy = b.Client(server.port, key["key"])
        status, body = noisy.request("PUT", "/api/v1/namespaces/_/actions/spin",
                                     {"exec": {"kind": "nodejs:20", "code": SPIN},
                                      "limits": {"memory": MEMORY_MB, "timeout": 300000}})
        if status != 200:
            raise RuntimeError(f"PUT spin: HTTP {status} {body}")
        # Warm both: the neighbour's instance, and SPINNERS instances of the spinner (a short spin
        # each, all at once), so that no phase measures a cold start.
        for _ in range(20):
            guest.request("POST", "/api/v1/namespaces/_/actions/victim?blocking=true&result=true", {})
        wait_records(noisy, start_spinners(noisy, 300), 120)
        b.log(NAME, f"{ROUNDS} rounds of {PHASE_S:g} s quiet + {PHASE_S:g} s with {SPINNERS} spinners "
                    f"({MEMORY_MB} MB each); neighbour at {RATE:g} calls/s")
        for r in range(ROUNDS):
            order = ["quiet", "loaded"] if r % 2 == 0 else ["loaded", "quiet"]
            result = {}
            for phase in order:
                if phase == "quiet":
                    c0 = cpu_times()
                    lat = neighbour_phase(guest, PHASE_S)
                    result[phase] = (lat, busy_share(c0, cpu_times()))
                    continue
                ids = start_spinners(noisy, int((PHASE_S + 3) * 1000))
                time.sleep(1.0)  # the spinners take their instances and start burning
                c0 = cpu_times()
                lat = neighbour_phase(guest, PHASE_S)
                result[phase] = (lat, busy_share(c0, cpu_times()))
                wait_records(noisy, ids, PHASE_S + 60)
            q, l = stats(result["quiet"][0]), stats(result["loaded"][0])
            rounds.append(result)
            b.log(NAME, f"round {r + 1}: quiet p50 {q['p50']:.2f} p99 {q['p99']:.2f} ms (cpu {result['quiet'][1]:.0%}), "
                        f"loaded p50 {l['p50']:.2f} p99 {l['p99']:.2f} ms (cpu {result['loaded'][1]:.0%}), "
                        f"p99 ratio {l['p99'] / q['p99']:.2f}")
    quiet = stats([x for r in rounds for x in r["quiet"][0]])
    loaded = stats([x for r in rounds for x in r["loaded"][0]])
    summary = {"bench": NAME, "rate": RATE, "spinners": SPINNERS, "memory_mb": MEMORY_MB, "phase_s": PHASE_S,
               "rounds": ROUNDS, "flags": " ".join(flags), "quiet": quiet, "loaded": loaded,
               "p50_ratio": loaded["p50"] / quiet["p50"], "p99_ratio": loaded["p99"] / quiet["p99"],
               "round_p99_ratios": [stats(r["loaded"][0])["p99"] / stats(r["quiet"][0])["p99"] for r in rounds],
               "cpu_busy": {p: sum(r[p][1] for r in rounds) / len(rounds) for p in ("quiet", "loaded")}}
    lines = [f"# Noisy neighbour: warm latency of one namespace while another burns {SPINNERS} cores' worth", ""]
    lines += b.facts_lines(facts)
    lines += [f"- binary: `{b.binary('hotrod')}`"]
    lines += [f"- neighbour: Node.js no-op, blocking with result, {RATE:g} calls/s; noisy: {SPINNERS} busy-loop "
              f"activations at {MEMORY_MB} MB; {ROUNDS} rounds x {PHASE_S:g} s per phase; serve flags: "
              f"`{' '.join(flags) or '(none)'}`", "",
              "| phase | calls | p50 ms | p90 ms | p99 ms | max ms | CPU busy |", "|---|---|---|---|---|---|---|"]
    for name, s in (("quiet", quiet), ("loaded", loaded)):
        lines.append(f"| {name} | {s['n']} | {s['p50']:.2f} | {s['p90']:.2f} | {s['p99']:.2f} | {s['max']:.1f} | "
                     f"{summary['cpu_busy'][name]:.0%} |")
    lines += ["", f"Ratio loaded / quiet: p50 **{summary['p50_ratio']:.2f}x**, p99 **{summary['p99_ratio']:.2f}x** "
                  f"(per round p99: {', '.join(f'{x:.2f}' for x in summary['round_p99_ratios'])}); target p99 within 2x."]
    b.write_report(NAME, lines)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
