#!/usr/bin/env python3
"""Churn: many distinct functions, each called once, under a memory budget (bench/churn.sh).

Deploys FUNCTIONS (default 1000) no-op actions (Node.js and Python alternating, MEMORY_MB
each, default 256) and calls each once with blocking invokes over CONNECTIONS (default 4)
keep-alive connections, under a budget that fits BUDGET_FITS (default 100) instances:
CHURN_FLAGS (default "--memory-budget-mb <fits * memory> --max-per-namespace 100000") are passed to `hotrod serve`. If the
server rejects those flags (a build without the option) the run uses the server's own capacity
limit and says so.

Counts failures (any non-200 or a non-success record), evictions (the server's
hotrod_pool_evictions_total from GET /metrics: idle instances evicted to make room) and samples, every SAMPLE_S (0.5) seconds,
the server's RSS, the number of live instances and their total PSS.
"""

import os
import queue
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

NAME = "churn"
FUNCTIONS = int(os.environ.get("FUNCTIONS", "1000"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "4"))
MEMORY_MB = int(os.environ.get("MEMORY_MB", "256"))
FITS = int(os.environ.get("BUDGET_FITS", "100"))
SAMPLE_S = float(os.environ.get("SAMPLE_S", "0.5"))


def sampler(server, stop, samples):
    t0 = time.monotonic()
    while not stop.is_set():
        srv = b.rollup(server.pid) or {"Rss": 0, "Pss": 0}
        roots = b.instance_roots(server.pid)
        pss = sum(b.tree_memory(r)["Pss"] for r in roots)
        samples.append((time.monotonic() - t0, srv["Rss"], len(roots), pss))
        stop.wait(SAMPLE_S)


def run(flags):
    failures, latencies = [], []
    samples = []
    with b.Server(b.binary("hotrod"), flags, NAME) as server:
        c = server.client()
        names = []
        b.log(NAME, f"deploying {FUNCTIONS} actions")
        for i in range(FUNCTIONS):
            rt = "node" if i % 2 == 0 else "python"
            kind, code = b.KINDS[rt]
            names.append(f"churn-{rt}-{i}")
            c.put_action(names[-1], kind, code, MEMORY_MB)
        work = queue.Queue()
        for n in names:
            work.put(n)
        lock = threading.Lock()

        def worker():
            cl = server.client()
            while True:
                try:
                    n = work.get_nowait()
                except queue.Empty:
                    return
                t0 = time.perf_counter()
                try:
                    status, rec = cl.invoke(n)
                    ok = status == 200 and isinstance(rec, dict) and rec.get("response", {}).get("success")
                    why = f"HTTP {status} {str(rec)[:200]}"
                except Exception as e:  # a dropped connection counts as a failure, and goes on
                    ok, why = False, repr(e)
                    cl = server.client()
                with lock:
                    latencies.append((time.perf_counter() - t0) * 1000)
                    if not ok:
                        failures.append(f"{n}: {why}")

        stop = threading.Event()
        st = threading.Thread(target=sampler, args=(server, stop, samples))
        st.start()
        b.log(NAME, f"calling each once over {CONNECTIONS} connections")
        t0 = time.monotonic()
        threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        time.sleep(1)
        stop.set()
        st.join()
        alive = len(b.instance_roots(server.pid))
        counters = b.metrics(server.port)
    return failures, latencies, samples, elapsed, alive, counters


def main():
    facts = b.machine_facts()
    flags = b.env_flags("CHURN_FLAGS") if "CHURN_FLAGS" in os.environ else [
        # The budget is the only bound: the per-namespace instance maximum (default 64) is lifted.
        "--memory-budget-mb", str(FITS * MEMORY_MB), "--max-per-namespace", "100000"]
    note = ""
    try:
        failures, lat, samples, elapsed, alive, counters = run(flags)
    except b.ServerError as e:
        note = (f"the server rejected `{' '.join(flags)}` ({str(e)[:160]}); this run used the server's own "
                f"capacity limit instead (no memory budget in this build)")
        b.log(NAME, note)
        flags = []
        failures, lat, samples, elapsed, alive, counters = run(flags)
    # The server's own count (GET /metrics): idle instances evicted to make room, LRU first.
    evictions = int(counters.get("hotrod_pool_evictions_total", FUNCTIONS - alive))
    q = max(1, len(samples) // 4)
    def avg(xs):
        return sum(xs) / len(xs) if xs else 0
    early = samples[q:2 * q]
    late = samples[-q:]
    rss_early, rss_late = avg([s[1] for s in early]) / 1024, avg([s[1] for s in late]) / 1024
    pss_early, pss_late = avg([s[3] for s in early]) / 1024, avg([s[3] for s in late]) / 1024
    lines = [f"# Churn benchmark, {facts['date']}", ""] + b.facts_lines(facts) + [
        f"- method: `bench/churn.sh`. {FUNCTIONS} distinct no-op actions (Node.js and Python alternating, "
        f"{MEMORY_MB} MB each), each called once (blocking) over {CONNECTIONS} keep-alive connections; "
        f"serve flags `{' '.join(flags) or '-'}` (a budget that fits {FITS} instances). Server RSS and the "
        f"instances' total PSS sampled every {SAMPLE_S:g} s.",
    ] + ([f"- note: {note}"] if note else []) + [
        "",
        "| functions | failures | evictions (server counter) | alive at end | max alive | wall s | calls/s | "
        "latency p50 ms | p99 ms | server RSS MB (2nd quarter -> last quarter, max) | instances PSS MB (2nd quarter -> last quarter, max) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        f"| {FUNCTIONS} | {len(failures)} | {evictions} | {alive} | {max((s[2] for s in samples), default=0)} | "
        f"{elapsed:.1f} | {FUNCTIONS / elapsed:.0f} | {b.percentile(lat, 50):.1f} | {b.percentile(lat, 99):.1f} | "
        f"{rss_early:.1f} -> {rss_late:.1f}, {max((s[1] for s in samples), default=0) / 1024:.1f} | "
        f"{pss_early:.1f} -> {pss_late:.1f}, {max((s[3] for s in samples), default=0) / 1024:.1f} |",
        "",
        "## Samples (every 10th: seconds, server RSS MB, live instances, instances PSS MB)",
        "",
        " ".join(f"{t:.0f}s:{r / 1024:.0f}/{n}/{p / 1024:.0f}" for t, r, n, p in samples[::10]),
        "",
        "## Targets",
        "",
        f"- failures: {len(failures)} (target 0): {'met' if not failures else '**missed**'}",
        f"- server RSS steady: {rss_early:.1f} MB -> {rss_late:.1f} MB "
        f"({'steady' if rss_late <= rss_early * 1.1 + 2 else '**growing**'})",
        (f"- live instances bounded by the budget ({FITS}): max {max((s[2] for s in samples), default=0)} "
         f"({'met' if max((s[2] for s in samples), default=0) <= FITS else '**missed**'})") if not note else
        f"- live instances: max {max((s[2] for s in samples), default=0)} (no budget in this build: bounded by the "
        f"pool's own instance cap)",
    ]
    if failures:
        lines += ["", "## First failures", ""] + [f"- {f}" for f in failures[:10]]
    b.write_report(NAME, lines)
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
