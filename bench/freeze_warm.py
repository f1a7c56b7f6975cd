#!/usr/bin/env python3
"""The cost of freezing idle instances on the warm path: one binary, three servers in the same
run, calls to a warm Node.js no-op taking turns between them call by call.

  off      --freeze-after-ms 0: never frozen (no freeze, no thaw)
  default  --freeze-after-ms 50: a call within the grace finds its instance running
  thaw     --freeze-after-ms 1: every call finds its instance frozen and thaws it first

Calls are sequential, one connection per server, the servers taking turns call by call with
PAUSE_MS (default 8) before each call: a server sees a call every ~3 x (pause + call), ~30 ms,
longer than the 1 ms grace plus the freeze (so every "thaw" call thaws) and shorter than the
50 ms grace (so a "default" call thaws only when the machine stalls the client). Prints p50/p90/p99 of the client-side latency per server and the
ratios against "off", and the servers' freeze counters as a check that each case did what it
says. Usage: bench/freeze_warm.py (HOTROD_BIN or BUILD_DIR; CALLS per round, ROUNDS, PAUSE_MS).
"""

import os
import time

from benchlib import KINDS, Server, binary, facts_lines, log, machine_facts, metrics, percentile

CASES = [("off", ["--freeze-after-ms", "0"]), ("default", ["--freeze-after-ms", "50"]),
         ("thaw", ["--freeze-after-ms", "1"])]


def main():
    calls = int(os.environ.get("CALLS", "200"))
    rounds = int(os.environ.get("ROUNDS", "5"))
    pause = int(os.environ.get("PAUSE_MS", "8")) / 1000.0
    facts = machine_facts()
    servers = {name: Server(binary("hotrod"), ["--stem-cells", "0", *flags], name=f"freeze-{name}")
               for name, flags in CASES}
    try:
        clients = {}
        kind, code = KINDS["node"]
        for name, server in servers.items():
            c = server.client()
            c.put_action("noop", kind, code, memory_mb=1024)
            status, rec = c.invoke("noop")
            assert status == 200, rec
            clients[name] = c
        samples = {name: [] for name, _ in CASES}
        names = [name for name, _ in CASES]
        for r in range(rounds):
            # Call by call, the three servers take turns (rotating who goes first), so that the
            # machine's noise falls on each alike.
            for i in range(calls):
                k = (r * calls + i) % len(names)
                for name in names[k:] + names[:k]:
                    time.sleep(pause)
                    t0 = time.perf_counter()
                    status, _ = clients[name].invoke("noop")
                    samples[name].append((time.perf_counter() - t0) * 1e6)
                    assert status == 200
            log("freeze_warm", f"round {r + 1}/{rounds} done")
        base = {p: percentile(samples["off"], p) for p in (50, 90, 99)}
        lines = ["# Warm invoke with and without freezing idle instances", "", *facts_lines(facts),
                 f"- {rounds} rounds x {calls} sequential calls per server, servers taking turns call by call, {pause * 1000:.0f} ms pause before each call", "",
                 "| case | p50 us | p90 us | p99 us | p50 / off | p90 / off | p99 / off | freezes |",
                 "|---|---|---|---|---|---|---|---|"]
        for name, _ in CASES:
            p = {q: percentile(samples[name], q) for q in (50, 90, 99)}
            freezes = int(metrics(servers[name].port).get("hotrod_pool_freezes_total", 0))
            lines.append(f"| {name} | {p[50]:.0f} | {p[90]:.0f} | {p[99]:.0f} | {p[50] / base[50]:.2f} | "
                         f"{p[90] / base[90]:.2f} | {p[99] / base[99]:.2f} | {freezes} |")
        print("\n".join(lines))
    finally:
        for s in servers.values():
            s.close()


if __name__ == "__main__":
    main()
