#!/usr/bin/env python3
"""Throughput of a no-op Node.js function with wrk (bench/throughput.sh).

`wrk -t1 -c32` (WIDE connections) with bench/wrk_invoke.lua (POST + Basic auth) against a
blocking, result-only invoke of a no-op Node.js action at the default memory (256 MB: a CPU
share of 0.144 core per instance) and at 2048 MB (1.16 cores), and the same wrk settings against
the authenticated GET /api/v1/namespaces as the baseline. Cases alternate in rotating order over
ROUNDS (default 3) rounds of RUN_S (default 5) seconds. Around each run the CPU time of the
server process and of all instance processes is read from /proc, giving CPU per request on
each side. wrk shares the two cores, as the target says ("load generator included").

Needs wrk (bench/throughput.sh installs it from Debian when run as root).
"""

import json
import os
import subprocess
import sys
import base64

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

NAME = "throughput"
ROUNDS = int(os.environ.get("ROUNDS", "3"))
RUN_S = int(os.environ.get("RUN_S", "5"))
WIDE = int(os.environ.get("WIDE", "32"))
MEMORIES = [int(m) for m in os.environ.get("MEMORIES", "256 2048").split()]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    except OSError:
        return 0.0


def instances_cpu_s(server_pid):
    return sum(cpu_s(p) for r in b.instance_roots(server_pid) for p in b.tree(r))


def wrk(url, method, body, auth, seconds=RUN_S):
    env = dict(os.environ, WRK_METHOD=method, WRK_BODY=body,
               WRK_AUTH_B64=base64.b64encode(auth.encode()).decode())
    lua = os.path.join(b.ROOT, "bench", "wrk_invoke.lua")
    out = subprocess.run(["wrk", "-t1", f"-c{WIDE}", f"-d{seconds}s", "--timeout", "10s", "-s", lua, url],
                         capture_output=True, text=True, env=env, timeout=seconds + 60)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError(f"wrk gave no result: {out.stdout[-300:]} {out.stderr[-300:]}")
    return json.loads(lines[-1])


def loadgen(url, method, body, auth, conns, seconds, samples):
    args = [b.binary("hotrod_loadgen"), "--url", url, "--auth", auth, "--connections", str(conns),
            "--duration-s", str(seconds), "--warmup-s", "0.3", "--json", "--samples-out", samples]
    if method == "POST":
        args += ["--method", "POST", "--body", body]
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    return json.loads(out.stdout.strip().splitlines()[-1])


def merged(files):
    args = [b.binary("hotrod_loadgen"), "--json"]
    for f in files:
        args += ["--merge", f]
    return json.loads(subprocess.run(args, capture_output=True, text=True, timeout=60).stdout.strip().splitlines()[-1])


def cpu_cgroups(server_pid):
    """{quota_us: {'nr_periods','nr_throttled','throttled_time'}} summed over instance cgroups."""
    out = {}
    for root in b.instance_roots(server_pid):
        try:
            with open(f"/proc/{root}/cgroup") as f:
                line = next(l for l in f if ":cpu," in l or ":cpu:" in l or ":cpu,cpuacct:" in l)
            d = "/sys/fs/cgroup/cpu" + line.strip().split(":", 2)[2]
            quota = int(open(d + "/cpu.cfs_quota_us").read())
            stat = dict(l.split() for l in open(d + "/cpu.stat").read().splitlines())
        except (OSError, StopIteration, ValueError):
            continue
        acc = out.setdefault(quota, {"nr_periods": 0, "nr_throttled": 0, "throttled_time": 0})
        for k in acc:
            acc[k] += int(stat.get(k, 0))
    return out


def main():
    facts = b.machine_facts()
    flags = b.env_flags("SERVE_FLAGS")
    cases = ["get"] + [f"node-{m}" for m in MEMORIES]
    res = {c: [] for c in cases}
    with b.Server(b.binary("hotrod"), flags, NAME) as server:
        c = server.client()
        base = f"http://127.0.0.1:{server.port}"
        urls = {"get": (f"{base}/api/v1/namespaces", "GET", "")}
        for m in MEMORIES:
            c.put_action(f"noop-{m}", *b.KINDS["node"], m)
            urls[f"node-{m}"] = (f"{base}/api/v1/namespaces/_/actions/noop-{m}?blocking=true&result=true", "POST", "{}")
        # Warm-up: cold starts, then a wide burst so the pool has grown before measuring.
        for case in cases:
            wrk(*urls[case], server.auth, 2)
        for r in range(ROUNDS):
            order = cases[r % len(cases):] + cases[:r % len(cases)]
            for case in order:
                b.log(NAME, f"round {r + 1}/{ROUNDS}: {case} x {WIDE}")
                s0, i0 = cpu_s(server.pid), instances_cpu_s(server.pid)
                out = wrk(*urls[case], server.auth)
                s1, i1 = cpu_s(server.pid), instances_cpu_s(server.pid)
                n = max(1, out["count"])
                out["server_us"] = (s1 - s0) / n * 1e6
                out["inst_us"] = (i1 - i0) / n * 1e6
                res[case].append(out)
        # One connection: warm latency, and whether the CPU quota of the memory size throttles it.
        narrow = {c: [] for c in cases}
        tmp = server.work
        throttle_before = cpu_cgroups(server.pid)
        for r in range(ROUNDS):
            order = cases[r % len(cases):] + cases[:r % len(cases)]
            for case in order:
                b.log(NAME, f"narrow round {r + 1}/{ROUNDS}: {case} x 1")
                f = os.path.join(tmp, f"samples-{case}-{r}")
                loadgen(*urls[case], server.auth, 1, RUN_S, f)
                narrow[case].append(f)
        throttle_after = cpu_cgroups(server.pid)
        narrow = {c: merged(fs) for c, fs in narrow.items()}
        instances = len(b.instance_roots(server.pid))

    def med(xs):
        s = sorted(xs)
        return s[len(s) // 2]
    get_rps = med([o["rps"] for o in res["get"]])
    lines = [f"# Throughput benchmark (wrk), {facts['date']}", ""] + b.facts_lines(facts) + [
        f"- method: `bench/throughput.sh`. `wrk -t1 -c{WIDE} -d{RUN_S}s` with bench/wrk_invoke.lua on the same two "
        f"cores as the server; {ROUNDS} rounds, case order rotated each round; figures are the median round. "
        f"Invokes are `POST .../actions/NAME?blocking=true&result=true` with body `{{}}` of a no-op Node.js action. "
        f"CPU per request from /proc/<pid>/stat (utime+stime, 10 ms ticks) of the server and of all instance "
        f"processes around each run. Instances alive at the end: {instances}. Serve flags: `{' '.join(flags) or '-'}`.",
        "",
        "| case | conns | req/s (median) | rounds req/s | errors | p50 us | p99 us | server CPU us/req | instances CPU us/req | req/s / GET |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    label = {"get": "GET /api/v1/namespaces (baseline)"}
    for m in MEMORIES:
        label[f"node-{m}"] = f"invoke Node.js no-op, {m} MB"
    for case in cases:
        rs = res[case]
        rps = med([o["rps"] for o in rs])
        lines.append(f"| {label[case]} | {WIDE} | {rps:.0f} | {', '.join('%.0f' % o['rps'] for o in rs)} | "
                     f"{sum(o['errors'] for o in rs)} | {med([o['p50_us'] for o in rs])} | {med([o['p99_us'] for o in rs])} | "
                     f"{med([o['server_us'] for o in rs]):.1f} | {med([o['inst_us'] for o in rs]):.1f} | {rps / get_rps:.2f}x |")
    lines += ["", f"## Warm latency, 1 connection (hotrod_loadgen, {ROUNDS} rounds x {RUN_S} s per case, "
              "percentiles over all rounds' samples)", "",
              "| case | requests | req/s | p50 us | p90 us | p99 us | p99.9 us | p50 / GET | p99 / GET |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    g = narrow["get"]
    for case in cases:
        n = narrow[case]
        lines.append(f"| {label[case]} | {n['count']} | {n['rps']:.0f} | {n['p50_us']} | {n['p90_us']} | {n['p99_us']} | "
                     f"{n['p999_us']} | {n['p50_us'] / g['p50_us']:.2f}x | {n['p99_us'] / g['p99_us']:.2f}x |")
    lines += ["", "CPU throttling of the instances' cgroups during the 1-connection rounds (cpu.stat; the quota is "
              "memory / 1769 MB of a core per 100 ms period, with an equal burst allowance):", "",
              "| quota us per 100 ms | periods | throttled periods | throttled time ms |", "|---:|---:|---:|---:|"]
    for quota, after in sorted(throttle_after.items()):
        before = throttle_before.get(quota, {"nr_periods": 0, "nr_throttled": 0, "throttled_time": 0})
        lines.append(f"| {quota} | {after['nr_periods'] - before['nr_periods']} | "
                     f"{after['nr_throttled'] - before['nr_throttled']} | "
                     f"{(after['throttled_time'] - before['throttled_time']) / 1e6:.0f} |")
    lines += ["", "## Targets", ""]
    for m in MEMORIES:
        n = narrow[f"node-{m}"]
        lines.append(f"- warm invoke at {m} MB, 1 connection: p50 {n['p50_us']} us (target <= 200: "
                     f"{'met' if n['p50_us'] <= 200 else '**missed**'}), p99 {n['p99_us']} us (target <= 1000: "
                     f"{'met' if n['p99_us'] <= 1000 else '**missed**'})")
    for m in MEMORIES:
        rps = med([o["rps"] for o in res[f"node-{m}"]])
        lines.append(f"- Node.js no-op at {m} MB: {rps:.0f} invocations/s (target >= 25000): "
                     f"{'met' if rps >= 25000 else f'**missed** by {25000 - rps:.0f}/s ({rps / 25000:.2f}x of target)'}")
    b.write_report(NAME, lines)


if __name__ == "__main__":
    main()
