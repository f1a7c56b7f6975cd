"""Functions that try to exhaust or outlive their instance: fork and memory bombs, CPU spins,
daemons, a full /tmp and a log flood. Each is contained, and the host and the server are fine
afterwards.

Every process these functions start carries a marker (in its argv or its name), so the host can
find it in /proc; bombs are bounded (a count, a sleep) so that even without a sandbox the
machine recovers, and the tests kill whatever carries their markers when they end.
"""

import re
import time
import unittest

from sec_common import (PY, SecurityTestCase, annotation, free_bytes, host_process_count,
                        host_processes_with, new_marker, wait_until)

FORK_BOMB_PY = r'''
import ctypes, os, time

def main(args):
    libc = ctypes.CDLL(None, use_errno=True)
    marker = args["marker"].encode()
    forked, err = 0, None
    for _ in range(args["max"]):
        try:
            pid = os.fork()
        except OSError as e:
            err = e.errno
            break
        if pid == 0:
            libc.prctl(15, marker, 0, 0, 0)  # PR_SET_NAME: visible on the host as comm
            try:
                time.sleep(args["sleep"])
            finally:
                os._exit(0)
        forked += 1
    return {"forked": forked, "errno": err}
'''

MEMORY_BOMB_PY = r'''
def main(args):
    chunks = []
    for _ in range(args["mb"]):
        chunks.append(b"\x01" * (1 << 20))  # filled, so every page is really used
    return {"allocated_mb": len(chunks)}
'''

CPU_SPIN_PY = r'''
import ctypes, subprocess, sys

def main(args):
    marker = args["marker"]
    ctypes.CDLL(None).prctl(15, marker.encode(), 0, 0, 0)
    # A second spinning process (bounded to 60 s in case nothing kills it), then spin here.
    subprocess.Popen([sys.executable, "-S", "-c",
                      "import time\nt = time.time() + 60\nwhile time.time() < t: pass", marker])
    while True:
        pass
'''

DAEMON_PY = r'''
import os, sys

# The daemon itself reports its pid once exec'ed (so its argv, with the marker, is in place).
DAEMON = "import os, sys, time\nfd = int(sys.argv[1])\nos.write(fd, str(os.getpid()).encode())\n" \
         "os.close(fd)\ntime.sleep(1000)\n"

def main(args):
    marker = args["marker"]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            try:
                null = os.open("/dev/null", os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
            except OSError:
                pass
            os.set_inheritable(w, True)
            os.closerange(3, w)  # holds none of the runtime's channels
            os.closerange(w + 1, 4096)
            os.execv(sys.executable, [sys.executable, "-S", "-c", DAEMON, str(w), marker])
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    data = b""
    while True:
        chunk = os.read(r, 64)
        if not chunk:
            break
        data += chunk
    os.close(r)
    daemon_pid = int(data or b"0")
    print("daemon started: pid %d" % daemon_pid, flush=True)
    if args.get("crash"):
        os._exit(1)
    return {"daemon_pid": daemon_pid}
'''

# Several files (100 MB each, under the 512 MB file-size rlimit) so that only /tmp's cap stops it.
TMP_FILL_PY = r'''
import os

def main(args):
    names = ["/tmp/%s-%d" % (args["name"], i) for i in range(args["files"])]
    if args.get("cleanup"):
        for p in names:
            try:
                os.remove(p)
            except OSError:
                pass
        return {"cleaned": True}
    st = os.statvfs("/tmp")
    chunk = b"x" * (1 << 20)
    written, err = 0, None
    for p in names:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for _ in range(args["file_mb"]):
                written += os.write(fd, chunk)
        except OSError as e:
            err = e.errno
        finally:
            os.close(fd)
        if err is not None:
            break
    return {"written": written, "errno": err, "tmp_size": st.f_blocks * st.f_frsize}
'''

LOG_FLOOD_PY = r'''
import sys

def main(args):
    block = ("y" * 1023 + "\n") * 1024  # 1 MB of 1 KB lines
    for _ in range(args["mb"]):
        sys.stdout.write(block)
    sys.stdout.flush()
    return {"ok": True, "mb": args["mb"]}
'''

MB = 1 << 20
EAGAIN, ENOSPC = 11, 28


class ResourceTest(SecurityTestCase):

    def assert_gone(self, marker, timeout, what):
        left = wait_until(lambda: not host_processes_with(marker), timeout)
        self.assertTrue(left, "%s: host processes still alive after %ss: %r"
                        % (what, timeout, host_processes_with(marker)))

    def test_fork_bomb_is_contained_and_cleaned_up(self):
        marker = self.track(new_marker())
        before = host_process_count()
        name = self.deploy("sec-forkbomb", FORK_BOMB_PY,
                           limits={"timeout": 60000, "memory": 512})
        res = self.call_ok(name, {"marker": marker, "max": 1000, "sleep": 120})
        seen_on_host = len(host_processes_with(marker))
        self.assertLess(res["forked"], 300, "forked %d processes: no pids limit (%d seen on the host)"
                        % (res["forked"], seen_on_host))
        self.assertEqual(res["errno"], EAGAIN, res)
        self.assertLessEqual(seen_on_host, 300)
        # The server is fine, and once the instance is torn down nothing of the bomb remains.
        self.assertEqual(self.api.get("/healthz", auth=None).status, 200)
        self.delete_action(name)
        self.assert_gone(marker, 10, "fork bomb")
        back = wait_until(lambda: host_process_count() <= before + 40, 10)
        self.assertTrue(back, "host process count %d, was %d before the bomb"
                        % (host_process_count(), before))

    def test_memory_bomb_is_reported_as_a_memory_error(self):
        name = self.deploy("sec-membomb", MEMORY_BOMB_PY, limits={"timeout": 30000, "memory": 128})
        status, rec = self.call(name, {"mb": 1024})
        result = rec["response"]["result"]
        self.assertEqual(status, 502, "1 GB allocated under a 128 MB limit: %r" % result)
        self.assertEqual(rec["response"]["statusCode"], 2, rec["response"])
        self.assertRegex(result.get("error", ""), re.compile("memory", re.I), result)
        # The instance is replaced; a modest call works.
        self.assertEqual(self.call_ok(name, {"mb": 1}), {"allocated_mb": 1})

    def test_cpu_spin_is_killed_at_the_timeout(self):
        marker = self.track(new_marker())
        name = self.deploy("sec-spin", CPU_SPIN_PY, limits={"timeout": 1000, "memory": 256})
        t0 = time.monotonic()
        status, rec = self.call(name, {"marker": marker})
        elapsed = time.monotonic() - t0
        self.assertEqual(status, 502, rec)
        self.assertEqual(rec["response"]["statusCode"], 2, rec["response"])
        self.assertEqual(rec["response"]["result"],
                         {"error": "The action exceeded its time limits of 1000 milliseconds."})
        self.assertIs(annotation(rec, "timeout"), True)
        self.assertLess(elapsed, 10, "the call took %.1fs" % elapsed)
        self.assert_gone(marker, 5, "CPU spin")

    def test_daemon_is_gone_after_teardown(self):
        marker = self.track(new_marker())
        name = self.deploy("sec-daemon", DAEMON_PY)
        res = self.call_ok(name, {"marker": marker})
        self.assertGreater(res["daemon_pid"], 0, res)
        # Sanity: while the instance lives, the host sees the daemon (so the scan below works).
        self.assertTrue(wait_until(lambda: host_processes_with(marker), 3),
                        "the daemon (argv marker %s) is not visible on the host" % marker)
        self.delete_action(name)  # tears down the action's instances
        self.assert_gone(marker, 5, "daemon (double fork + setsid) after the instance's teardown")

    def test_daemon_is_gone_when_the_runtime_dies(self):
        marker = self.track(new_marker())
        name = self.deploy("sec-daemon-crash", DAEMON_PY)
        status, rec = self.call(name, {"marker": marker, "crash": True})
        self.assertEqual(status, 502, rec)
        self.assertEqual(rec["response"]["statusCode"], 2, "the runtime should have crashed: %r"
                         % rec["response"])
        self.assertTrue(any("daemon started" in line for line in rec["logs"]),
                        "the daemon did not start: %r" % rec["logs"])
        self.assert_gone(marker, 5, "daemon (double fork + setsid) after its runtime exited")

    def test_tmp_fill_stops_at_its_cap(self):
        fill = new_marker("hrfill")
        for i in range(6):
            self.remove_after("/tmp/%s-%d" % (fill, i))  # where it lands without a sandbox
        name = self.deploy("sec-tmpfill", TMP_FILL_PY, limits={"timeout": 60000, "memory": 1024})
        params = {"name": fill, "files": 6, "file_mb": 100}
        free_tmp, free_data = free_bytes("/tmp"), free_bytes(self.server.data_dir)
        res = self.call_ok(name, params)
        used_tmp = free_tmp - free_bytes("/tmp")
        used_data = free_data - free_bytes(self.server.data_dir)
        self.call_ok(name, dict(params, cleanup=True))
        self.assertEqual(res["errno"], ENOSPC, "wrote %d MB into /tmp (size %d MB) without ENOSPC"
                         % (res["written"] // MB, res["tmp_size"] // MB))
        self.assertLessEqual(res["written"], 512 * MB, res)
        self.assertGreaterEqual(res["written"], 400 * MB, "the cap is far below 512 MB: %r" % res)
        self.assertLess(used_tmp, 200 * MB, "the host's /tmp lost %d MB" % (used_tmp // MB))
        self.assertLess(used_data, 200 * MB, "the host's data disk lost %d MB" % (used_data // MB))

    def test_log_flood_is_truncated_and_the_server_stays_healthy(self):
        name = self.deploy("sec-logflood", LOG_FLOOD_PY, limits={"timeout": 60000, "memory": 256})
        status, rec = self.call(name, {"mb": 50})
        self.assertEqual(status, 200, rec.get("response"))
        self.assertEqual(rec["response"]["result"], {"ok": True, "mb": 50})
        logs = rec["logs"]
        total = sum(len(line) for line in logs)
        self.assertLessEqual(total, 10 * MB + 512 * 1024, "logs not capped at 10 MB: %d" % total)
        self.assertRegex(logs[-1], re.compile("truncat", re.I), "no truncation marker at the end")
        self.assertTrue(self.server.alive())
        self.assertEqual(self.api.get("/healthz", auth=None).status, 200)
        self.assertEqual(self.call_ok(name, {"mb": 0}), {"ok": True, "mb": 0})


if __name__ == "__main__":
    unittest.main()
