#!/usr/bin/env python3
"""The cluster's cost on the warm path: a warm Node.js no-op called through a controller, the NATS
bus and an invoker (each its own process, with PostgreSQL as the store) against the same call on a
single node (`--role all`, SQLite), both in the same run, calls taking turns one by one so that the
machine's noise falls on both alike. Issue target: cluster p50 <= single p50 + 300 us.

Usage: bench/cluster_cost.py (HOTROD_BIN or BUILD_DIR; CALLS per round, ROUNDS). Root (the
invoker's sandbox). Starts its own PostgreSQL and nats-server (tests/integration/cluster.py).
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))

from benchlib import KINDS, Client, Server, binary, facts_lines, log, machine_facts, percentile  # noqa: E402

os.environ.setdefault("HOTROD_BIN", binary("hotrod"))
from cluster import Cluster  # noqa: E402  (reads HOTROD_BIN at import)


def main():
    calls = int(os.environ.get("CALLS", "300"))
    rounds = int(os.environ.get("ROUNDS", "5"))
    facts = machine_facts()
    single = Server(binary("hotrod"), ["--stem-cells", "0"], name="single")
    cluster = Cluster("bench", controllers=1, invokers=1, invoker_args=["--stem-cells", "0", "--log-level", "warn"],
                      controller_args=["--log-level", "warn"])
    try:
        cluster.start()
        clients = {"single": single.client(), "cluster": Client(cluster.controllers[0].port, cluster.key)}
        kind, code = KINDS["node"]
        for name, c in clients.items():
            c.put_action("noop", kind, code)
            for _ in range(20):  # warm: the instance exists, the controller's caches are filled
                status, rec = c.invoke("noop")
                assert status == 200, rec
        samples = {"single": [], "cluster": []}
        names = list(samples)
        for r in range(rounds):
            for i in range(calls):
                k = (r + i) % 2
                for name in names[k:] + names[:k]:
                    t0 = time.perf_counter()
                    status, rec = clients[name].invoke("noop")
                    samples[name].append((time.perf_counter() - t0) * 1e6)
                    assert status == 200, rec
            log("cluster_cost", f"round {r + 1}/{rounds} done")
        base = {p: percentile(samples["single"], p) for p in (50, 90, 99)}
        lines = ["# Warm invoke: one node vs controller + NATS + invoker", "", *facts_lines(facts),
                 f"- {rounds} rounds x {calls} sequential blocking calls per case (`?blocking=true`), the two "
                 "cases taking turns call by call; one keep-alive connection each",
                 "- cluster: 1 controller and 1 invoker (`--role`), PostgreSQL store, one nats-server; single: "
                 "`hotrod serve` on SQLite", "",
                 "| case | p50 us | p90 us | p99 us | p50 ratio | p50 difference us |", "|---|---|---|---|---|---|"]
        for name in names:
            p = {q: percentile(samples[name], q) for q in (50, 90, 99)}
            lines.append(f"| {name} | {p[50]:.0f} | {p[90]:.0f} | {p[99]:.0f} | {p[50] / base[50]:.2f} | "
                         f"{p[50] - base[50]:+.0f} |")
        print("\n".join(lines))
    finally:
        single.close()
        cluster.cleanup()


if __name__ == "__main__":
    main()
