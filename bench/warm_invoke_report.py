"""Markdown report of bench/warm_invoke.sh: reads its JSON lines, prints the tables.

usage: warm_invoke_report.py ROUNDS.jsonl MERGED.jsonl WRK.jsonl   (machine info in BENCH_* env)

Ratios are against the GET baseline of the same run and the same connection count, because
absolute numbers on this shared machine move by tens of percent from one run to the next.
"""
import json
import os
import sys

LABELS = {
    "get": "GET /api/v1/namespaces (baseline)",
    "node": "invoke Node.js no-op",
    "python": "invoke Python no-op",
}
ORDER = ["get", "node", "python"]
P50_TARGET_RATIO = 3.0           # this issue: warm invoke p50 within 3x of the GET's p50
BRIEF_P50_US, BRIEF_P99_US = 200, 1000
BRIEF_NODE_RPS = 25000


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "n/a"


def main():
    rounds, merged, wrk = (load(p) for p in sys.argv[1:4])
    env = os.environ.get
    by = {(m["phase"], m["case"]): m["result"] for m in merged}
    wide = env("BENCH_WIDE", "32")
    out = []
    w = out.append

    w(f"# Warm invoke benchmark, {env('BENCH_DATE', '?')}")
    w("")
    w(f"- machine: nproc {env('BENCH_NPROC')}, {env('BENCH_CPU')}, kernel {env('BENCH_KERNEL')}; "
      f"load average {env('BENCH_LOAD')}")
    w(f"- runtimes: Node.js {env('BENCH_NODE')}, {env('BENCH_PYTHON')}; hotrod at {env('BENCH_GIT')}")
    w(f"- server binary: `{env('BENCH_BINARY')}`")
    w(f"- instances running after the wide cases: {env('BENCH_INSTANCES')}")
    w(f"- actions' memory limit: {env('BENCH_MEMORY_MB', '256')} MB (CPU share = memory / 1769 MB of a core)")
    w(f"- method: `bench/warm_invoke.sh`. hotrod_loadgen (closed loop, HTTP/1.1 keep-alive, one "
      f"thread, on the same cores as the server); {env('BENCH_ROUNDS')} rounds x "
      f"{env('BENCH_RUN_S')} s per case, case order rotated every round; percentiles over the "
      f"union of the rounds' samples. Invokes are `POST .../actions/NAME?blocking=true&result=true` "
      f"with body `{{}}`; ratios are against the GET at the same connection count.")
    w("")
    w("## Latency and throughput")
    w("")
    w("| case | conns | requests | errors | req/s | p50 us | p90 us | p99 us | p99.9 us | max us "
      "| p50 / GET | p99 / GET | req/s / GET |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for phase in ("narrow", "wide"):
        base = by.get((phase, "get"))
        for name in ORDER:
            r = by.get((phase, name))
            if r is None:
                continue
            conns = "1" if phase == "narrow" else wide
            w(f"| {LABELS[name]} | {conns} | {r['count']} | {r['errors']} | {r['rps']:.0f} "
              f"| {r['p50_us']} | {r['p90_us']} | {r['p99_us']} | {r['p999_us']} | {r['max_us']} "
              f"| {ratio(r['p50_us'], base['p50_us'])} | {ratio(r['p99_us'], base['p99_us'])} "
              f"| {ratio(r['rps'], base['rps'])} |")
    w("")

    if wrk:
        w(f"## Cross-check with wrk (`wrk -t1 -c{wide}`, same requests)")
        w("")
        w("| case | requests | errors | wrk req/s | wrk p50 us | wrk p99 us | loadgen req/s "
          "| wrk / loadgen |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|")
        for item in wrk:
            r, lg = item["result"], by.get(("wide", item["case"]))
            lg_rps = lg["rps"] if lg else 0
            w(f"| {LABELS[item['case']]} | {r['count']} | {r['errors']} | {r['rps']:.0f} "
              f"| {r['p50_us']} | {r['p99_us']} | {lg_rps:.0f} | {ratio(r['rps'], lg_rps)} |")
        w("")
    else:
        w("(wrk not available: no cross-check in this run.)")
        w("")

    w("## Per round (p50 / p99 us, req/s): the spread is the noise")
    w("")
    n = max((x["round"] for x in rounds), default=-1) + 1
    w("| case | conns | " + " | ".join(f"round {i + 1}" for i in range(n)) + " |")
    w("|---|---:|" + "---|" * n)
    for phase in ("narrow", "wide"):
        for name in ORDER:
            cells = []
            for i in range(n):
                hit = [x["result"] for x in rounds
                       if x["phase"] == phase and x["case"] == name and x["round"] == i]
                cells.append(f"{hit[0]['p50_us']} / {hit[0]['p99_us']}, {hit[0]['rps']:.0f}/s"
                             if hit else "")
            conns = "1" if phase == "narrow" else wide
            w(f"| {LABELS[name]} | {conns} | " + " | ".join(cells) + " |")
    w("")

    w("## Targets")
    w("")
    get1 = by.get(("narrow", "get"))
    for name in ("node", "python"):
        r = by.get(("narrow", name))
        if not r or not get1:
            continue
        k = r["p50_us"] / get1["p50_us"] if get1["p50_us"] else float("inf")
        verdict = "met" if k <= P50_TARGET_RATIO else "MISSED"
        w(f"- {LABELS[name]}, 1 connection: p50 {r['p50_us']} us = {k:.2f}x the GET's "
          f"{get1['p50_us']} us (target <= {P50_TARGET_RATIO:.0f}x): **{verdict}**; "
          f"BRIEF p50 <= {BRIEF_P50_US} us: {'met' if r['p50_us'] <= BRIEF_P50_US else 'missed'}, "
          f"p99 {r['p99_us']} us <= {BRIEF_P99_US} us: "
          f"{'met' if r['p99_us'] <= BRIEF_P99_US else 'missed'}")
    node_wide = by.get(("wide", "node"))
    if node_wide:
        w(f"- BRIEF Node.js no-op throughput >= {BRIEF_NODE_RPS} invocations/s on 2 cores: "
          f"{node_wide['rps']:.0f}/s at {wide} connections: "
          f"{'met' if node_wide['rps'] >= BRIEF_NODE_RPS else 'missed'}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
