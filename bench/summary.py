#!/usr/bin/env python3
"""Writes the summary of the newest bench/results/*.md into docs/performance.md (bench/run.sh).

For each benchmark it takes the newest report (by the date in its name), its machine line and
its "## Targets" bullets, and replaces what lies between the two markers below in
docs/performance.md with one table: benchmark, report, machine, target lines. The rest of
docs/performance.md (method, analysis) is written by hand and left alone.
"""

import glob
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "performance.md")
START, END = "<!-- bench-summary:start -->", "<!-- bench-summary:end -->"
NAMES = ["warm_invoke", "throughput", "cold_start", "density", "churn", "sandbox"]


def newest(name):
    files = sorted(glob.glob(os.path.join(ROOT, "bench", "results", f"{name}-*.md")))
    return files[-1] if files else None


def section(text, title):
    m = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    return m.group(1).strip() if m else ""


def main():
    rows = ["| benchmark | report | machine and load | targets (from the report) |", "|---|---|---|---|"]
    for name in NAMES:
        path = newest(name)
        if not path:
            continue
        text = open(path).read()
        machine = next((l[len("- machine: "):] for l in text.splitlines() if l.startswith("- machine: ")), None)
        if machine is None:  # a report with a facts table (sandbox.sh)
            facts = dict(re.findall(r"^\| (CPU|nproc|kernel|load average) \| (.*?) \|$", text, re.M))
            machine = ", ".join(f"{k} {v}" for k, v in facts.items()) or "?"
        targets = [l[2:].strip() for l in section(text, "Targets").splitlines() if l.startswith("- ")]
        if not targets:  # sandbox.sh: hotrod's p50 and crun's p50 ratio from its table
            rows_by = {}
            for l in text.splitlines():  # the first 9-column row of each method (the main table)
                cells = [c.strip() for c in l.split("|")[1:-1]]
                if l.startswith("| ") and len(cells) == 9:
                    rows_by.setdefault(cells[0], cells)
            if "hotrod" in rows_by:
                targets = [f"hotrod p50 {rows_by['hotrod'][1]} ms"]
            if "crun" in rows_by:
                targets.append(f"crun run p50 = {rows_by['crun'][7]} hotrod's (same run)")
        rel = os.path.relpath(path, os.path.join(ROOT, "docs"))
        rows.append(f"| {name} | [{os.path.basename(path)}]({rel}) | {machine.replace('|', '/')} | "
                    f"{'<br>'.join(t.replace('|', '/') for t in targets) or 'see report'} |")
    block = "\n".join([START, "", *rows, "", END])
    doc = open(DOC).read() if os.path.exists(DOC) else f"# Performance\n\n{START}\n{END}\n"
    if START in doc and END in doc:
        doc = doc[:doc.index(START)] + block + doc[doc.index(END) + len(END):]
    else:
        doc += "\n" + block + "\n"
    with open(DOC, "w") as f:
        f.write(doc)
    print(f"summary written to {DOC}")


if __name__ == "__main__":
    main()
