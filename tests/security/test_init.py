"""PID 1 of every instance is hotrod-init (docs/security.md "Init"): functions that abandon
children leave no zombies behind, a runtime that does not handle SIGTERM still stops on it, and
/dev/shm is there for Python's multiprocessing, bounded and paid for by the instance's memory
limit. And a starting server removes what a killed server with live instances left, whatever
its data directory.

Before hotrod-init the runtime was PID 1: orphans stayed zombies for the instance's life, a
SIGTERM without a handler was ignored (the stop waited for SIGKILL), and there was no /dev/shm
(multiprocessing failed with ENOENT/ENOSYS from sem_open).
"""

import hashlib
import os
import time
import unittest

from sec_common import (IS_ROOT, NEEDS_ROOT, NODE, PY, SecurityTestCase, host_processes_with, new_marker,
                        wait_until)
from harness import Server, ServerTestCase, metrics, wait_for  # noqa: E402 (sec_common puts it on the path)

ABANDON_PY = r'''
import os

def main(args):
    # Each call double-forks: the middle child exits at once, the grandchild a moment later,
    # orphaned (its parent is gone), so only PID 1 can reap it.
    for _ in range(args["n"]):
        pid = os.fork()
        if pid == 0:
            if os.fork() == 0:
                os._exit(0)
            os._exit(0)
        os.waitpid(pid, 0)
    zombies = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/status" % p) as f:
                    if "\nState:\tZ" in f.read():
                        zombies.append(int(p))
            except OSError:
                pass
    with open("/proc/1/cmdline", "rb") as f:
        init = f.read().split(b"\0")[0].decode()
    return {"zombies": len(zombies), "pid": os.getpid(), "init": init}
'''

ABANDON_NODE = r'''
const { spawn } = require('child_process');
const fs = require('fs');
function zombies() {
  let n = 0;
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try { if (/\nState:\tZ/.test(fs.readFileSync(`/proc/${p}/status`, 'utf8'))) n++; } catch (e) {}
  }
  return n;
}
async function main(args) {
  // sh exits at once, leaving its background `true` orphaned: only PID 1 can reap it.
  for (let i = 0; i < args.n; i++) {
    await new Promise((resolve) => spawn('/bin/sh', ['-c', 'true & exit 0']).on('exit', resolve));
  }
  return {zombies: zombies(), init: fs.readFileSync('/proc/1/cmdline', 'utf8').split('\0')[0]};
}
'''

MULTIPROCESSING_PY = r'''
import multiprocessing

def square(x):
    return x * x

def main(args):
    with multiprocessing.Pool(2) as pool:
        # Bounded: a hung pool fails this call with a timeout instead of outliving the blocking wait.
        squares = pool.map_async(square, range(10)).get(timeout=30)
    q = multiprocessing.Queue()
    p = multiprocessing.Process(target=q.put, args=("from a child",))
    p.start()
    got = q.get(timeout=10)
    p.join()
    lock = multiprocessing.Lock()  # sem_open in /dev/shm
    with lock:
        pass
    return {"squares": squares, "queue": got}
'''

SHM_FILL_PY = r'''
import errno, os

def main(args):
    written, err = 0, None
    chunk = b"\x01" * (1 << 20)
    path = "/dev/shm/" + args["name"]
    with open(path, "wb", buffering=0) as f:
        for _ in range(args["mb"]):
            try:
                f.write(chunk)
            except OSError as e:
                err = errno.errorcode.get(e.errno, e.errno)
                break
            written += 1
    if not args.get("keep"):
        os.remove(path)
    st = os.statvfs("/dev/shm")
    return {"written_mb": written, "errno": err, "size_mb": st.f_blocks * st.f_frsize >> 20}
'''


def subtree_dirs(data_dir):
    name = "hotrod-" + hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:12]
    return [os.path.join(root, name) for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids",
                                                  "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/freezer")
            if os.path.isdir(os.path.join(root, name))]


def instance_memory_usages(data_dir):
    """Memory charged to each instance cgroup of the server's subtree (v1 or v2)."""
    usages = []
    for d in subtree_dirs(data_dir):
        for entry in os.listdir(d):
            for f in ("memory.usage_in_bytes", "memory.current"):
                path = os.path.join(d, entry, f)
                if os.path.isfile(path):
                    with open(path) as fh:
                        usages.append(int(fh.read()))
    return usages


class InitTest(SecurityTestCase):
    server_args = ("--stem-cells", "0")

    def test_abandoned_children_leave_no_zombies_python(self):
        self.deploy("abandon-py", ABANDON_PY)
        for _ in range(5):  # one warm instance: zombies would pile up call after call
            r = self.call_ok("abandon-py", {"n": 20})
        # The last call's orphans may still be on their way; give the init a moment, then look.
        self.assertTrue(wait_until(lambda: self.call_ok("abandon-py", {"n": 0})["zombies"] == 0, 10),
                        self.call_ok("abandon-py", {"n": 0}))
        self.assertEqual(r["init"], "hotrod-init", r)
        self.assertEqual(r["pid"], 2, "the runtime is the init's child")

    def test_abandoned_children_leave_no_zombies_node(self):
        self.deploy("abandon-node", ABANDON_NODE, kind=NODE)
        for _ in range(5):
            r = self.call_ok("abandon-node", {"n": 20})
        self.assertTrue(wait_until(lambda: self.call_ok("abandon-node", {"n": 0})["zombies"] == 0, 10),
                        self.call_ok("abandon-node", {"n": 0}))
        self.assertEqual(r["init"], "hotrod-init", r)

    def test_python_multiprocessing_works(self):
        self.deploy("mp", MULTIPROCESSING_PY)
        r = self.call_ok("mp")
        self.assertEqual(r["squares"], [x * x for x in range(10)])
        self.assertEqual(r["queue"], "from a child")

    def test_dev_shm_is_bounded_by_half_the_memory_limit(self):
        self.deploy("shm-fill", SHM_FILL_PY, limits={"memory": 128})
        r = self.call_ok("shm-fill", {"name": new_marker(), "mb": 200})
        self.assertEqual(r["size_mb"], 64, r)
        self.assertEqual(r["errno"], "ENOSPC", r)
        self.assertLessEqual(r["written_mb"], 64, r)

    def test_dev_shm_pages_count_in_the_instance_memory(self):
        self.deploy("shm-keep", SHM_FILL_PY, limits={"memory": 256})
        before = max(instance_memory_usages(self.server.data_dir) or [0])
        r = self.call_ok("shm-keep", {"name": new_marker(), "mb": 80, "keep": True})
        self.assertEqual((r["written_mb"], r["errno"]), (80, None), r)
        # The file stays in the warm instance's /dev/shm: its 80 MB are charged to its cgroup.
        usages = instance_memory_usages(self.server.data_dir)
        self.assertTrue(any(u >= 80 << 20 for u in usages), (before, usages))


@unittest.skipUnless(IS_ROOT, NEEDS_ROOT)
class InitStopAndSweepTest(ServerTestCase):
    def test_a_runtime_without_a_sigterm_handler_stops_on_sigterm(self):
        # The function puts SIGTERM back to its default action. As PID 1 the runtime would ignore
        # it and live until the SIGKILL at the end of the 10 s grace.
        code = ("import signal, time\n"
                "def main(args):\n"
                "    signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
                "    time.sleep(60)\n"
                "    return {}\n")
        server = Server(extra_args=("--stem-cells", "0", "--drain-timeout-s", "0",
                                    "--instance-stop-grace-ms", "10000"))
        self.extra_servers = [server]
        server.start()
        api = server.client()
        r = api.put_json("/api/v1/namespaces/_/actions/dfl", {"exec": {"kind": PY, "code": code},
                                                                "limits": {"timeout": 60000}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(api.post_json("/api/v1/namespaces/_/actions/dfl", {}).status, 202)
        busy = lambda: (lambda m: m.get("hotrod_pool_instances", 0) - m.get("hotrod_pool_idle_instances", 0))(
            metrics(api)) >= 1
        self.assertTrue(wait_for(busy), "the call started")
        time.sleep(1.0)  # past signal.signal in the function
        api.close()
        started = time.monotonic()
        self.assertEqual(server.stop(), 0)
        self.assertLess(time.monotonic() - started, 9.0, "the runtime died of SIGTERM, not of the grace's SIGKILL")

    def test_a_killed_servers_subtree_and_processes_go_whatever_its_data_directory(self):
        marker = new_marker()
        code = ("import subprocess, sys, time\n"
                "def main(args):\n"
                "    subprocess.Popen([sys.executable, '-S', '-c', 'import time; time.sleep(1000)', '%s'],\n"
                "                     start_new_session=True)\n"
                "    time.sleep(60)\n"
                "    return {}\n") % marker
        killed = Server(extra_args=("--stem-cells", "1"))
        self.extra_servers = [killed]
        killed.start()
        api = killed.client()
        self.addCleanup(api.close)
        r = api.put_json("/api/v1/namespaces/_/actions/busy", {"exec": {"kind": PY, "code": code},
                                                                 "limits": {"timeout": 60000}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(api.post_json("/api/v1/namespaces/_/actions/busy", {}).status, 202)

        def marked():
            return host_processes_with(marker)
        self.assertTrue(wait_until(lambda: marked(), 30), "the function's daemon runs")
        self.assertTrue(subtree_dirs(killed.data_dir))
        killed.kill()  # SIGKILL with a call in flight, a daemon and a stem cell: no clean-up of its own
        other = Server(extra_args=("--stem-cells", "0"))  # another data directory
        self.extra_servers.append(other)
        other.start()
        self.assertEqual(subtree_dirs(killed.data_dir), [], "the killed server's subtree is gone")
        self.assertTrue(wait_until(lambda: not marked(), 10), "its processes are gone: %s" % marked())
        self.assertIn("left by dead server", other.log_text())
        self.assertTrue(subtree_dirs(other.data_dir), "the new server's own subtree is untouched")


if __name__ == "__main__":
    unittest.main()
