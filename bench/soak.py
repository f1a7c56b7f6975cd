#!/usr/bin/env python3
"""Soak: a steady mixed load for DURATION_S (default 1800), sampling what a leak would grow.

Load (each stream on its own keep-alive connection, paced, so the mix stays the same however
fast the machine is; rates in calls per second from the environment):
  - WARM_RPS (10)   blocking invokes of a warm Node.js no-op, with the result
  - ASYNC_RPS (2)   non-blocking invokes of a Python action (202), records written by the log
  - WEB_RPS (5)     unauthenticated web action calls (`.json`) of a Node.js action
  - SEQ_RPS (1)     blocking invokes of a two-step sequence (Python then Node.js)
  - CHURN_S (10)    every that many seconds the `churn` action's code is replaced (PUT) and
                    called: a new revision, hence a cold start, and the old revision's instance
                    goes idle and is evicted in time
Every SAMPLE_S (30) seconds one CSV row: the server's RSS (kB), open fds, threads, child
processes, cgroup directories under its subtree (all hierarchies), lines of its mountinfo, and
the calls and failures of each stream since the last row.

At the end, per gauge, first / last / max and a verdict on "flat": after a warm-up (the first
fifth of the run, at least two samples) the samples are split into an earlier and a later half;
the gauge is flat when the later half's maximum is at most the earlier half's maximum plus a
tolerance (RSS: 10 % and at least 8 MB; fds, cgroup dirs, mount lines: 8; processes and threads:
4). Instances come and go with the churn, so a gauge may move within its band; a leak grows
across the halves. SOAK_FLAGS adds `hotrod serve` options.

Writes bench/results/soak-<date>.csv and soak-<date>.md (RESULTS_DIR overrides).
"""

import base64
import csv
import hashlib
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

NAME = "soak"
DURATION_S = float(os.environ.get("DURATION_S", "1800"))
SAMPLE_S = float(os.environ.get("SAMPLE_S", "30"))
RATES = {
    "warm": float(os.environ.get("WARM_RPS", "10")),
    "async": float(os.environ.get("ASYNC_RPS", "2")),
    "web": float(os.environ.get("WEB_RPS", "5")),
    "seq": float(os.environ.get("SEQ_RPS", "1")),
    "churn": 1.0 / float(os.environ.get("CHURN_S", "10")),
}
GAUGES = ["rss_kb", "fds", "threads", "procs", "cgroup_dirs", "mount_lines"]
# (relative, absolute) tolerance of the later half's maximum over the earlier half's.
TOLERANCE = {"rss_kb": (0.10, 8192), "fds": (0, 8), "threads": (0, 4), "procs": (0, 4),
             "cgroup_dirs": (0, 8), "mount_lines": (0, 8)}

PY_ASYNC = "def main(args):\n    return {'n': args.get('n', 0) + 1}"
PY_STEP = "def main(args):\n    return {'n': args.get('n', 0) + 1}"
NODE_STEP = "function main(a) { return {n: (a.n || 0) + 1} }"
NODE_WEB = "function main(a) { return {ok: true, path: a.__ow_path || ''} }"


def subtree_dirs(data_dir):
    """Cgroup directories under the server's subtree in every mounted hierarchy
    (src/server/server_setup.cc names the subtree after its data directory)."""
    name = "hotrod-" + hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:12]
    total = 0
    for h in os.listdir("/sys/fs/cgroup"):
        root = os.path.join("/sys/fs/cgroup", h, name)
        if os.path.isdir(root):
            total += sum(len(dirs) for _, dirs, _ in os.walk(root)) + 1
    return total


def gauges(server):
    pid = server.pid
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    with open(f"/proc/{pid}/mountinfo") as f:
        mounts = sum(1 for _ in f)
    return {"rss_kb": int(status["VmRSS"].split()[0]), "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "threads": int(status["Threads"]), "procs": len(b.tree(pid)) - 1,
            "cgroup_dirs": subtree_dirs(os.path.join(server.work, "data")), "mount_lines": mounts}


class Stream:
    """One paced load stream with its own connection; counts calls and failures."""

    def __init__(self, name, rate, call):
        self.name, self.period, self.call = name, 1.0 / rate, call
        self.lock = threading.Lock()
        self.calls = self.failures = 0
        self.last_error = ""

    def run(self, server, stop):
        client = server.client()
        next_at = time.monotonic()
        while not stop.is_set():
            ok, err = False, ""
            try:
                ok, err = self.call(client)
            except (OSError, http.client.HTTPException) as e:
                err = f"{type(e).__name__}: {e}"
                client = server.client()  # a broken connection: start a new one
            with self.lock:
                self.calls += 1
                if not ok:
                    self.failures += 1
                    self.last_error = err
            next_at += self.period
            stop.wait(max(0.0, next_at - time.monotonic()))

    def take(self):
        with self.lock:
            out = (self.calls, self.failures)
            self.calls = self.failures = 0
            return out


def deploy(c):
    c.put_action("warm", *b.KINDS["node"])
    c.put_action("async", "python:3.11", PY_ASYNC)
    c.put_action("step1", "python:3.11", PY_STEP)
    c.put_action("step2", "nodejs:20", NODE_STEP)
    c.put_action("churn", "nodejs:20", NODE_STEP)
    for name, body in [
        ("web", {"exec": {"kind": "nodejs:20", "code": NODE_WEB},
                 "annotations": [{"key": "web-export", "value": True}]}),
        ("seq", {"exec": {"kind": "sequence", "components": ["/_/step1", "/_/step2"]}}),
    ]:
        status, reply = c.request("PUT", f"/api/v1/namespaces/_/actions/{name}?overwrite=true", body)
        if status != 200:
            raise RuntimeError(f"PUT {name}: HTTP {status} {reply}")


def streams(server):
    web_auth = {"Content-Type": "application/json"}
    churn_rev = [0]

    def warm(c):
        s, r = c.request("POST", "/api/v1/namespaces/_/actions/warm?blocking=true&result=true", {})
        return s == 200, f"HTTP {s} {r}"

    def async_(c):
        s, r = c.request("POST", "/api/v1/namespaces/_/actions/async", {"n": 1})
        return s == 202, f"HTTP {s} {r}"

    def web(c):
        c.conn.request("POST", "/api/v1/web/guest/default/web.json/x", body="{}", headers=web_auth)
        res = c.conn.getresponse()
        body = res.read()
        return res.status == 200, f"HTTP {res.status} {body[:200]!r}"

    def seq(c):
        s, r = c.request("POST", "/api/v1/namespaces/_/actions/seq?blocking=true&result=true", {"n": 0})
        return s == 200 and isinstance(r, dict) and r.get("n") == 2, f"HTTP {s} {r}"

    def churn(c):
        churn_rev[0] += 1
        code = f"function main(a) {{ return {{rev: {churn_rev[0]}}} }}"
        c.put_action("churn", "nodejs:20", code)
        s, r = c.request("POST", "/api/v1/namespaces/_/actions/churn?blocking=true&result=true", {})
        return s == 200 and isinstance(r, dict) and r.get("rev") == churn_rev[0], f"HTTP {s} {r}"

    calls = {"warm": warm, "async": async_, "web": web, "seq": seq, "churn": churn}
    return [Stream(n, RATES[n], calls[n]) for n in calls if RATES[n] > 0]


def verdicts(rows):
    warmup = max(2, len(rows) // 5)
    steady = rows[warmup:]
    out = {}
    for g in GAUGES:
        values = [r[g] for r in rows]
        first, last, peak = values[0], values[-1], max(values)
        if len(steady) < 4:
            out[g] = (first, last, peak, None, "too few samples")
            continue
        half = len(steady) // 2
        early = max(r[g] for r in steady[:half])
        late = max(r[g] for r in steady[half:])
        rel, absolute = TOLERANCE[g]
        allowed = early + max(absolute, early * rel)
        out[g] = (first, last, peak, late <= allowed, f"later max {late} vs earlier max {early} (allowed {allowed:.0f})")
    return out


def main():
    facts = b.machine_facts()
    stamp = time.strftime("%Y-%m-%d")
    out_dir = os.environ.get("RESULTS_DIR", os.path.join(b.ROOT, "bench", "results"))
    os.makedirs(out_dir, exist_ok=True)
    csv_path = os.path.join(out_dir, f"soak-{stamp}.csv")
    rows = []
    with b.Server(b.binary("hotrod"), b.env_flags("SOAK_FLAGS"), NAME) as server:
        c = server.client()
        deploy(c)
        for name in ("warm", "async", "step1", "step2"):  # first calls (cold) before the clock
            c.request("POST", f"/api/v1/namespaces/_/actions/{name}?blocking=true", {})
        ss = streams(server)
        stop = threading.Event()
        threads = [threading.Thread(target=s.run, args=(server, stop), daemon=True) for s in ss]
        for t in threads:
            t.start()
        b.log(NAME, f"load running for {DURATION_S:.0f} s, a sample every {SAMPLE_S:.0f} s -> {csv_path}")
        t0 = time.monotonic()
        with open(csv_path, "w", newline="") as f:
            fields = ["t_s"] + GAUGES + [f"{s.name}_{k}" for s in ss for k in ("calls", "failures")]
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            while True:
                stop.wait(SAMPLE_S)
                row = {"t_s": round(time.monotonic() - t0)}
                row.update(gauges(server))
                for s in ss:
                    row[f"{s.name}_calls"], row[f"{s.name}_failures"] = s.take()
                rows.append(row)
                w.writerow(row)
                f.flush()
                b.log(NAME, " ".join(f"{k}={v}" for k, v in row.items()))
                if time.monotonic() - t0 >= DURATION_S:
                    break
        stop.set()
        for t in threads:
            t.join(130)
        last_errors = {s.name: s.last_error for s in ss if s.last_error}
    v = verdicts(rows)
    flat = all(x[3] for x in v.values() if x[3] is not None)
    undecided = [g for g, x in v.items() if x[3] is None]
    totals = {s.name: (sum(r[f"{s.name}_calls"] for r in rows), sum(r[f"{s.name}_failures"] for r in rows))
              for s in ss}
    lines = [f"# Soak: {DURATION_S / 60:.0f} minutes of steady mixed load", ""] + b.facts_lines(facts) + [
        f"- load (calls/s): " + ", ".join(f"{n} {RATES[n]:g}" for n in RATES) +
        f"; sample every {SAMPLE_S:g} s; serve flags: `{' '.join(b.env_flags('SOAK_FLAGS')) or '(none)'}`",
        f"- samples: `{os.path.relpath(csv_path, b.ROOT)}`", "",
        "| gauge | first | last | max | flat | why |", "|---|---|---|---|---|---|"]
    for g in GAUGES:
        first, last, peak, ok, why = v[g]
        lines.append(f"| {g} | {first} | {last} | {peak} | {'-' if ok is None else ('yes' if ok else '**no**')} | {why} |")
    lines += ["", "| stream | calls | failures |", "|---|---|---|"]
    lines += [f"| {n} | {c} | {f} |" for n, (c, f) in totals.items()]
    if last_errors:
        lines += ["", "Last failure per stream:"] + [f"- {n}: `{e[:300]}`" for n, e in last_errors.items()]
    verdict = "FLAT" if flat and not undecided else ("NOT FLAT" if not flat else "UNDECIDED (run longer)")
    lines += ["", f"Verdict: **{verdict}**"]
    b.write_report(NAME, lines)
    return 0 if flat and not undecided else 1


if __name__ == "__main__":
    sys.exit(main())
