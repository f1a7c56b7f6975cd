#!/usr/bin/env python3
"""Cold start of never-called functions (bench/cold_start.sh runs this; see bench/README.md).

Each iteration deploys a fresh action (a new name, so no instance of it can exist) and times its
first blocking invoke end to end over HTTP keep-alive. Interleaved with those, in the same run,
it times a bare `node -e 0` and `python3 -S -c pass` (posix_spawn until waitpid): the
interpreter's own start, the floor a cold start without help cannot beat.

Variants are separate servers with different `hotrod serve` flags, taken from the environment
so the option names can change without editing this file:
  COLD_FLAGS_WITHOUT  (default "--stem-cells 0")  fresh interpreter in a fresh sandbox
  STEM_FLAGS          (default "--stem-cells 4")    pre-started runtimes waiting for code
  ZYGOTE_FLAGS        (default "--python-zygote --stem-cells 0 --sandboxes-ahead 0")  Python forked from the zygote
                      for each cold start
  ZYGOTE_STEM_FLAGS   (default "--python-zygote --stem-cells 4")  Python stem cells forked by
                      the zygote (Node.js stem cells launched as usual)
VARIANTS (default "without stem zygote zygote_stem") picks which run; a variant whose flags the server
rejects is reported as not available. ITERATIONS (default 40) per runtime and variant;
RUNTIMES (default "node python") picks the runtimes of the non-zygote variants. PAUSE_MS (default 50) between iterations, so background refills (network namespaces, stem
cells) keep up as they would with calls arriving at a normal rate.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

NAME = "cold_start"
ITER = int(os.environ.get("ITERATIONS", "40"))
# RUNTIMES="python" compares the Python variants alone (the zygote ones are Python-only): Node.js
# cold starts and stem-cell refills compete for the 2 cores.
RUNTIMES = os.environ.get("RUNTIMES", " ".join(b.KINDS)).split()
PAUSE = float(os.environ.get("PAUSE_MS", "50")) / 1000
VARIANT_FLAGS = {
    "without": ("COLD_FLAGS_WITHOUT", "--stem-cells 0"),
    "stem": ("STEM_FLAGS", "--stem-cells 4"),
    "zygote": ("ZYGOTE_FLAGS", "--python-zygote --stem-cells 0 --sandboxes-ahead 0"),
    "zygote_stem": ("ZYGOTE_STEM_FLAGS", "--python-zygote --stem-cells 4"),
}
VARIANT_LABEL = {"without": "without stem cells (fresh interpreter, fresh sandbox)",
                 "stem": "with stem cells", "zygote": "Python via zygote",
                 "zygote_stem": "with stem cells forked by the Python zygote"}
SPAWN = {"node": ["/usr/bin/node", "-e", "0"], "python": ["/usr/bin/python3", "-S", "-c", "pass"]}


def spawn_us(argv):
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, {"PATH": "/usr/bin:/bin"})
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise RuntimeError(f"{argv} exited with {status}")
    return (time.perf_counter_ns() - t0) / 1000


def run_variant(variant, flags, seq):
    """{runtime: {'e2e': [...us], 'init': [...ms], 'wait': [...ms]}, 'spawn-node': [...], ...}"""
    out = {}
    with b.Server(b.binary("hotrod"), flags, NAME) as server:
        c = server.client()
        # One throwaway call per runtime: the first invoke of the server pays one-time costs
        # (runtime manifest paths, page cache) that are no property of a never-called function.
        for rt, (kind, code) in b.KINDS.items():
            c.put_action(f"prime-{rt}", kind, code)
            c.invoke(f"prime-{rt}")
        time.sleep(0.5)
        runtimes = ["python"] if variant.startswith("zygote") else RUNTIMES
        for i in range(ITER):
            cases = runtimes + [f"spawn-{rt}" for rt in runtimes]
            cases = cases[i % len(cases):] + cases[:i % len(cases)]  # rotate the order
            for case in cases:
                if case.startswith("spawn-"):
                    out.setdefault(case, []).append(spawn_us(SPAWN[case[6:]]))
                    continue
                kind, code = b.KINDS[case]
                name = f"cold-{case}-{seq}-{i}"
                c.put_action(name, kind, code)
                time.sleep(PAUSE)
                t0 = time.perf_counter_ns()
                status, record = c.invoke(name)
                us = (time.perf_counter_ns() - t0) / 1000
                if status != 200:
                    raise RuntimeError(f"{name}: HTTP {status} {record}")
                r = out.setdefault(case, {"e2e": [], "init": [], "wait": [], "duration": [], "zygote": 0})
                cold = b.annotation(record, "coldStart") or {}
                r["zygote"] += 1 if cold.get("zygote") else 0
                r["e2e"].append(us)
                r["init"].append(b.annotation(record, "initTime") or 0)
                r["wait"].append(b.annotation(record, "waitTime") or 0)
                r["duration"].append(record.get("duration", 0))
            time.sleep(PAUSE)
    return out


def fmt_ms(us):
    return f"{us / 1000:.2f}"


def main():
    facts = b.machine_facts()
    variants = os.environ.get("VARIANTS", "without stem zygote zygote_stem").split()
    results, unavailable = {}, {}
    for seq, v in enumerate(variants):
        var, default = VARIANT_FLAGS[v]
        flags = b.env_flags(var) if var in os.environ else default.split()
        b.log(NAME, f"variant {v}: serve flags {flags or '(none)'}, {ITER} iterations")
        try:
            results[v] = (flags, run_variant(v, flags, seq))
        except b.ServerError as e:
            b.log(NAME, f"variant {v} not available: {e}")
            unavailable[v] = (flags, str(e)[:200])

    lines = [f"# Cold start benchmark, {facts['date']}", ""] + b.facts_lines(facts) + [
        f"- method: `bench/cold_start.sh`. Per iteration a fresh action (new name) is deployed, then its "
        f"first `POST ...?blocking=true` is timed end to end over one keep-alive connection "
        f"({ITER} iterations per runtime and variant, {PAUSE * 1000:.0f} ms pause between calls). In the same run, "
        f"interleaved in rotating order, `node -e 0` and `python3 -S -c pass` are timed (posix_spawn until "
        f"waitpid). initTime and waitTime come from the activation record (server side, ms granularity).",
        "",
        "| variant | serve flags | case | n | p50 ms | p90 ms | p99 ms | max ms | p50 / interpreter p50 | p50 - interpreter p50 ms | initTime p50 ms | waitTime p50 ms |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    targets = []
    for v, (flags, out) in results.items():
        for case, data in out.items():
            if case.startswith("spawn-"):
                continue
            e2e, spawn = data["e2e"], out[f"spawn-{case}"]
            p50, s50 = b.percentile(e2e, 50), b.percentile(spawn, 50)
            lines.append(
                f"| {VARIANT_LABEL[v]} | `{' '.join(flags) or '-'}` | {case} first invoke | {len(e2e)} | {fmt_ms(p50)} | "
                f"{fmt_ms(b.percentile(e2e, 90))} | {fmt_ms(b.percentile(e2e, 99))} | {fmt_ms(max(e2e))} | "
                f"{p50 / s50:.2f}x | {fmt_ms(p50 - s50)} | {b.percentile(data['init'], 50)} | {b.percentile(data['wait'], 50)} |")
            if v == "zygote":
                # Every timed call must really have been forked by the zygote (not a fallback).
                targets.append(f"- {case}, via the zygote ({data['zygote']} of {len(e2e)} calls forked by it): "
                               f"p50 {fmt_ms(p50)} ms (target <= 5 ms): "
                               f"{'met' if p50 <= 5000 else f'**missed** by {fmt_ms(p50 - 5000)} ms'}")
            elif v in ("stem", "zygote_stem"):
                ok = p50 <= 5000
                targets.append(f"- {case}, {VARIANT_LABEL[v]}: p50 {fmt_ms(p50)} ms (target <= 5 ms): "
                               f"{'met' if ok else f'**missed** by {fmt_ms(p50 - 5000)} ms'}")
            else:
                ok = p50 <= s50 + 2000
                targets.append(f"- {case}, {VARIANT_LABEL[v]}: p50 {fmt_ms(p50)} ms vs interpreter start "
                               f"{fmt_ms(s50)} ms + 2 ms = {fmt_ms(s50 + 2000)} ms: "
                               f"{'met' if ok else f'**missed** by {fmt_ms(p50 - s50 - 2000)} ms'}")
        for case, spawn in out.items():
            if case.startswith("spawn-"):
                lines.append(f"| {VARIANT_LABEL[v]} (same run) | - | `{' '.join(SPAWN[case[6:]])}` | {len(spawn)} | "
                             f"{fmt_ms(b.percentile(spawn, 50))} | {fmt_ms(b.percentile(spawn, 90))} | "
                             f"{fmt_ms(b.percentile(spawn, 99))} | {fmt_ms(max(spawn))} | 1.00x | 0.00 | - | - |")
    for v, (flags, why) in unavailable.items():
        lines.append(f"| {VARIANT_LABEL[v]} | `{' '.join(flags)}` | not available in this build: {why} | | | | | | | | | |")
    lines += ["", "## Targets", ""] + targets
    b.write_report(NAME, lines)


if __name__ == "__main__":
    main()
