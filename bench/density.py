#!/usr/bin/env python3
"""Density: idle memory of a warm instance beyond the interpreter's own (bench/density.sh).

Deploys N distinct no-op actions per runtime, calls each once (cold, then warm), lets them idle,
and sums PSS (/proc/<pid>/smaps_rollup) over each instance's process tree. The baseline is N
bare interpreters idling at the same time (`node -e 'setInterval(...)'`,
`python3 -c 'import time; time.sleep(...)'`), measured the same way in the same moment, so both
sides share the interpreter's binary pages with the same number of peers. Private memory
(Private_Clean + Private_Dirty) is reported beside PSS: it does not depend on who else maps the
same file.

N (default 20) actions per runtime; IDLE_S (default 5) seconds idle before measuring;
SERVE_FLAGS extra `hotrod serve` flags; MEMORY_MB (default 256) the actions' limit.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

NAME = "density"
N = int(os.environ.get("N", "20"))
IDLE_S = float(os.environ.get("IDLE_S", "5"))
MEMORY_MB = int(os.environ.get("MEMORY_MB", "256"))
BARE = {"node": ["/usr/bin/node", "-e", "setInterval(() => {}, 1e9)"],
        "python": ["/usr/bin/python3", "-c", "import time; time.sleep(1e9)"]}


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def main():
    facts = b.machine_facts()
    flags = b.env_flags("SERVE_FLAGS")
    bare = []
    rows = {}
    with b.Server(b.binary("hotrod"), flags, NAME) as server:
        c = server.client()
        names = {}
        for rt, (kind, code) in b.KINDS.items():
            names[rt] = [f"idle-{rt}-{i}" for i in range(N)]
            for n in names[rt]:
                c.put_action(n, kind, code, MEMORY_MB)
        b.log(NAME, f"calling {N} actions per runtime twice (cold, warm)")
        for rt in b.KINDS:
            for n in names[rt]:
                for _ in range(2):
                    status, rec = c.invoke(n)
                    if status != 200:
                        raise RuntimeError(f"{n}: HTTP {status} {rec}")
        for rt, argv in BARE.items():
            for _ in range(N):
                bare.append((rt, subprocess.Popen(argv, stdin=subprocess.DEVNULL)))
        b.log(NAME, f"idling {IDLE_S} s")
        time.sleep(IDLE_S)
        # Measure everything in one moment.
        per_instance = {"node": [], "python": []}
        for root in b.instance_roots(server.pid):
            procs = b.tree(root)
            comms = [b.comm(p) for p in procs]
            rt = "node" if any(x.startswith("node") for x in comms) else (
                "python" if any(x.startswith("python") for x in comms) else None)
            if rt:
                m = b.tree_memory(root)
                m["comms"] = "+".join(comms)
                per_instance[rt].append(m)
        per_bare = {"node": [], "python": []}
        for rt, p in bare:
            per_bare[rt].append(b.tree_memory(p.pid))
        server_mem = b.rollup(server.pid)
        for rt in b.KINDS:
            inst, base = per_instance[rt], per_bare[rt]
            rows[rt] = {
                "instances": len(inst), "procs": inst[0]["comms"] if inst else "-",
                **{f"inst_{k}": mean([m[k] for m in inst]) for k in ("Pss", "Rss", "Private")},
                **{f"bare_{k}": mean([m[k] for m in base]) for k in ("Pss", "Rss", "Private")},
            }
    for _, p in bare:
        p.kill()
        p.wait()

    lines = [f"# Density benchmark, {facts['date']}", ""] + b.facts_lines(facts) + [
        f"- method: `bench/density.sh`. {N} distinct no-op actions per runtime (memory {MEMORY_MB} MB), each called "
        f"twice, then {IDLE_S:g} s idle; at the same moment {N} bare interpreters per runtime idle beside them. "
        f"Memory per instance is summed over the instance's processes from /proc/<pid>/smaps_rollup; means over "
        f"the instances. Serve flags: `{' '.join(flags) or '-'}`.",
        f"- server process: PSS {server_mem['Pss'] / 1024:.1f} MB, RSS {server_mem['Rss'] / 1024:.1f} MB" if server_mem else "",
        "",
        "| runtime | instances | processes per instance | instance PSS MB | bare PSS MB | PSS beyond bare MB | "
        "instance private MB | bare private MB | private beyond bare MB | instance RSS MB | bare RSS MB |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    targets = []
    for rt, r in rows.items():
        d_pss = (r["inst_Pss"] - r["bare_Pss"]) / 1024
        d_priv = (r["inst_Private"] - r["bare_Private"]) / 1024
        lines.append(f"| {rt} | {r['instances']} | {r['procs']} | {r['inst_Pss'] / 1024:.2f} | {r['bare_Pss'] / 1024:.2f} | "
                     f"{d_pss:+.2f} | {r['inst_Private'] / 1024:.2f} | {r['bare_Private'] / 1024:.2f} | {d_priv:+.2f} | "
                     f"{r['inst_Rss'] / 1024:.2f} | {r['bare_Rss'] / 1024:.2f} |")
        targets.append(f"- {rt}: idle PSS beyond the bare interpreter {d_pss:+.2f} MB per instance (target <= 1 MB): "
                       f"{'met' if d_pss <= 1 else f'**missed** by {d_pss - 1:.2f} MB'}")
    lines += ["", "## Targets", ""] + targets
    b.write_report(NAME, lines)


if __name__ == "__main__":
    main()
