"""Shared helpers of the Python-driven benchmarks (cold_start, density, churn, throughput).

A `Server` starts `hotrod serve` on a free loopback port with a temporary data directory and
extra flags (the benchmarks take those from the environment, so option names can change without
editing the scripts), and stops it with SIGTERM. `Client` is one keep-alive HTTP/1.1
connection with Basic auth. Everything else here is measurement plumbing: PSS of a process
tree from /proc, percentiles, machine facts for report headers.
"""

import base64
import http.client
import json
import os
import re
import shlex
import signal
import subprocess
import tempfile
import time
import shutil
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(name, msg):
    print(f"[{name} {time.strftime('%H:%M:%S')}] {msg}", flush=True, file=__import__("sys").stderr)


def env_flags(var):
    """Extra `hotrod serve` flags from an environment variable (shell words)."""
    return shlex.split(os.environ.get(var, ""))


class ServerError(Exception):
    pass


class Server:
    def __init__(self, binary, flags=(), name="bench"):
        self.work = tempfile.mkdtemp(prefix=f"hotrod-{name}.")
        self.auth = f"{uuid.uuid4()}:{os.urandom(32).hex()}"
        self.flags = list(flags)
        env = dict(os.environ, HOTROD_GUEST_KEY=self.auth)
        self.log_path = os.path.join(self.work, "server.log")
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", os.path.join(self.work, "data"),
             "--log-level", "warn", *self.flags],
            stdout=self.log_file, stderr=subprocess.STDOUT, env=env)
        self.port = None
        for _ in range(200):
            text = open(self.log_path).read()
            m = re.search(r"hotrod listening on http://127\.0\.0\.1:(\d+)", text)
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                self.close()
                lines = [l for l in text.strip().splitlines() if l.strip() and "--help" not in l]
                raise ServerError(f"server exited at start: {lines[0] if lines else text.strip()[-200:]}")
            time.sleep(0.05)
        if self.port is None:
            self.close()
            raise ServerError("server did not report its port")

    @property
    def pid(self):
        return self.proc.pid

    def client(self):
        return Client(self.port, self.auth)

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        shutil.rmtree(self.work, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Client:
    """One keep-alive connection; request() returns (status, parsed JSON body or text)."""

    def __init__(self, port, auth):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode(),
                        "Content-Type": "application/json"}

    def request(self, method, path, body=None):
        data = None if body is None else json.dumps(body)
        self.conn.request(method, path, body=data, headers=self.headers)
        res = self.conn.getresponse()
        raw = res.read()
        try:
            return res.status, json.loads(raw)
        except ValueError:
            return res.status, raw.decode(errors="replace")

    def put_action(self, name, kind, code, memory_mb=256):
        status, body = self.request("PUT", f"/api/v1/namespaces/_/actions/{name}?overwrite=true",
                                    {"exec": {"kind": kind, "code": code}, "limits": {"memory": memory_mb}})
        if status != 200:
            raise RuntimeError(f"PUT {name}: HTTP {status} {body}")

    def invoke(self, name, params=None):
        """Blocking invoke returning the whole activation record: (status, record)."""
        return self.request("POST", f"/api/v1/namespaces/_/actions/{name}?blocking=true", params or {})


def metrics(port):
    """The server's GET /metrics (Prometheus text) as {name: value}."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            out[name] = float(value)
    return out


NODE_NOOP = "function main() { return {} }"
PYTHON_NOOP = "def main(args):\n    return {}"
KINDS = {"node": ("nodejs:20", NODE_NOOP), "python": ("python:3.11", PYTHON_NOOP)}


def annotation(record, key):
    for a in record.get("annotations", []):
        if a.get("key") == key:
            return a.get("value")
    return None


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def children(pid):
    """Direct children of pid (from /proc/<pid>/task/*/children)."""
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def tree(pid):
    """pid and all its descendants."""
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += children(p)
    return seen


def rollup(pid):
    """{'Pss': kB, 'Rss': kB, 'Private': kB} of one process (smaps_rollup), or None if gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            text = f.read()
    except OSError:
        return None
    v = {}
    for line in text.splitlines():
        m = re.match(r"(\w+):\s+(\d+) kB", line)
        if m:
            v[m.group(1)] = int(m.group(2))
    return {"Pss": v.get("Pss", 0), "Rss": v.get("Rss", 0),
            "Private": v.get("Private_Clean", 0) + v.get("Private_Dirty", 0)}


def tree_memory(pid):
    total = {"Pss": 0, "Rss": 0, "Private": 0, "procs": 0}
    for p in tree(pid):
        r = rollup(p)
        if r:
            for k in ("Pss", "Rss", "Private"):
                total[k] += r[k]
            total["procs"] += 1
    return total


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def instance_roots(server_pid):
    """The server's child processes, each the root of one instance's process tree. Sandboxes
    prepared ahead (`serve --sandboxes-ahead`) are left out: they have not exec'ed a runtime yet
    (their executable is still the server's, whose memory they share), so they are no instance."""
    def exe(pid):
        try:
            return os.readlink(f"/proc/{pid}/exe")
        except OSError:
            return None
    server_exe = exe(server_pid)
    return [c for c in children(server_pid) if exe(c) != server_exe]


def machine_facts():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    def version(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip() or "?"
        except OSError:
            return "?"
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "nproc": os.cpu_count(), "cpu": cpu, "kernel": os.uname().release, "mem_gb": round(mem_kb / 1048576, 1),
        "node": version(["/usr/bin/node", "--version"]), "python": version(["/usr/bin/python3", "--version"]),
        "git": git + (" (with uncommitted changes)" if dirty else ""),
        "load": open("/proc/loadavg").read().split()[:3],
    }


def facts_lines(f):
    return [f"- machine: nproc {f['nproc']}, {f['cpu']}, {f['mem_gb']} GB, kernel {f['kernel']}; "
            f"load average {' '.join(f['load'])} at start",
            f"- runtimes: Node.js {f['node']}, {f['python']}; hotrod at {f['git']}; run {f['date']}"]


def write_report(name, lines):
    out_dir = os.environ.get("RESULTS_DIR", os.path.join(ROOT, "bench", "results"))
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}-{time.strftime('%Y-%m-%d')}.md")
    text = "\n".join(lines) + "\n"
    with open(path, "w") as f:
        f.write(text)
    print(text)
    log(name, f"wrote {path}")
    return path


def binary(name):
    build = os.environ.get("BUILD_DIR", "build")
    if not os.path.isabs(build):
        build = os.path.join(ROOT, build)
    if name == "hotrod" and os.environ.get("HOTROD_BIN"):
        return os.environ["HOTROD_BIN"]
    return os.path.join(build, name)
