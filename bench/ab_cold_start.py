#!/usr/bin/env python3
"""Cold start of never-called functions without stem cells, two (or more) hotrod binaries
alternating in one run: `bench/ab_cold_start.py OLD_BIN NEW_BIN [...]`.

Every binary runs its own server (`hotrod serve` plus FLAGS, default "--stem-cells 0"). Each
round deploys a fresh action per runtime on every server in turn and times its first blocking
invoke end to end over keep-alive, then times `node -e 0` and `python3 -S -c pass` (posix_spawn
until waitpid) once each: the interpreters' own start in the same run. ITERATIONS rounds
(default 20), PAUSE_MS (default 50) between calls. Prints, per binary and runtime, the medians of
the end-to-end time and of the record's cold-start breakdown (waitTime, initTime and the
`coldStart` annotation's queueUs, sandboxUs, bootUs, codeLoadUs), and the interpreters' medians.
The machine is noisy: repeat, and compare within a run, not across runs.
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

ITER = int(os.environ.get("ITERATIONS", "20"))
PAUSE = float(os.environ.get("PAUSE_MS", "50")) / 1000
SPAWN = {"node": ["/usr/bin/node", "-e", "0"], "python": ["/usr/bin/python3", "-S", "-c", "pass"]}
COLUMNS = ["e2e ms", "waitTime ms", "initTime ms", "queue us", "sandbox us", "boot us", "code load us"]


def spawn_ms(argv):
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, {"PATH": "/usr/bin:/bin"})
    os.waitpid(pid, 0)
    return (time.perf_counter_ns() - t0) / 1e6


def main():
    binaries = sys.argv[1:]
    if not binaries:
        sys.exit(__doc__)
    flags = b.env_flags("FLAGS") if "FLAGS" in os.environ else ["--stem-cells", "0"]
    servers = [b.Server(path, flags, "ab-cold") for path in binaries]
    rows, spawns = {}, {rt: [] for rt in SPAWN}
    try:
        clients = [s.client() for s in servers]
        for c in clients:  # one throwaway call per runtime: first-call costs of the server
            for rt, (kind, code) in b.KINDS.items():
                c.put_action(f"prime-{rt}", kind, code)
                c.invoke(f"prime-{rt}")
        time.sleep(0.5)
        for i in range(ITER):
            for bi, c in enumerate(clients):
                for rt, (kind, code) in b.KINDS.items():
                    name = f"cold-{rt}-{i}"
                    c.put_action(name, kind, code)
                    time.sleep(PAUSE)
                    t0 = time.perf_counter_ns()
                    status, record = c.invoke(name)
                    e2e = (time.perf_counter_ns() - t0) / 1e6
                    if status != 200:
                        raise RuntimeError(f"{binaries[bi]} {name}: HTTP {status} {record}")
                    cold = b.annotation(record, "coldStart") or {}
                    rows.setdefault((bi, rt), []).append(
                        [e2e, b.annotation(record, "waitTime") or 0, b.annotation(record, "initTime") or 0,
                         cold.get("queueUs", 0), cold.get("sandboxUs", 0), cold.get("bootUs", 0),
                         cold.get("codeLoadUs", 0)])
            for rt, argv in SPAWN.items():
                spawns[rt].append(spawn_ms(argv))
    finally:
        for s in servers:
            s.close()
    print(f"# ab_cold_start: {ITER} rounds, serve flags {' '.join(flags)}, load average "
          f"{' '.join(open('/proc/loadavg').read().split()[:3])}")
    print("| binary | runtime | " + " | ".join(COLUMNS) + " | e2e - interpreter ms |")
    print("|---|---|" + "---:|" * (len(COLUMNS) + 1))
    interp = {rt: statistics.median(v) for rt, v in spawns.items()}
    for (bi, rt), samples in sorted(rows.items()):
        med = [statistics.median(col) for col in zip(*samples)]
        cells = [f"{med[0]:.1f}", f"{med[1]:.0f}", f"{med[2]:.0f}"] + [f"{x:.0f}" for x in med[3:]]
        print(f"| {binaries[bi]} | {rt} | " + " | ".join(cells) + f" | {med[0] - interp[rt]:+.1f} |")
    for rt, v in interp.items():
        print(f"| `{' '.join(SPAWN[rt])}` | {rt} | {v:.1f} | | | | | | | |")


if __name__ == "__main__":
    main()
