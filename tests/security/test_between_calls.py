"""Instances between calls: what a function leaves running makes no progress while its instance
is idle (the instance is frozen after --freeze-after-ms, 50 ms by default), and a call that runs
into the pids or memory limit gets its instance discarded at once, leaving no process behind.

As in test_resources.py, every process these functions start carries a marker (argv or comm) so
the host can find it, and the tests kill whatever carries their markers when they end.
"""

import time

from sec_common import PY, SecurityTestCase, host_processes_with, new_marker, wait_until

# A double-forked daemon ticks a counter into /tmp (inside the sandbox) every 10 ms; each call
# reports the counter when it starts and when it ends. `instance` tells instances apart.
TICKER_PY = r'''
import os, secrets, sys, time

INSTANCE = secrets.token_hex(8)
DAEMON = r"""
import os, sys, time
path = sys.argv[1]
n = 0
while True:
    n += 1
    with open(path + ".new", "w") as f:
        f.write(str(n))
    os.replace(path + ".new", path)
    time.sleep(0.01)
"""

def ticks(path):
    try:
        with open(path) as f:
            return int(f.read() or 0)
    except (OSError, ValueError):
        return 0

def main(args):
    path = "/tmp/" + args["marker"]
    start = ticks(path)
    if args.get("start"):
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                null = os.open("/dev/null", os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                os.closerange(3, 4096)  # holds none of the runtime's channels
                os.execv(sys.executable, [sys.executable, "-S", "-c", DAEMON, path, args["marker"]])
            os._exit(0)
        os.wait()
    # While the call runs the daemon runs: it must tick (else the test proves nothing).
    deadline = time.monotonic() + 5
    first = ticks(path)
    while ticks(path) < first + 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"start": start, "end": ticks(path), "instance": INSTANCE}
'''

# Lists the processes of its own sandbox (every /proc/PID/cmdline).
PS_PY = r'''
import os

def main(args):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    out.append(f.read().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return {"procs": out}
'''

FORK_BOMB_PY = r'''
import ctypes, os, secrets, time

INSTANCE = secrets.token_hex(8)

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
    return {"forked": forked, "errno": err, "instance": INSTANCE}
'''

# A child allocates past the memory limit and is OOM-killed; the runtime itself survives.
OOM_CHILD_PY = r'''
import os, secrets, subprocess, sys

INSTANCE = secrets.token_hex(8)

def main(args):
    rc = None
    if args.get("mb"):
        rc = subprocess.call([sys.executable, "-S", "-c",
                              "b = []\nfor _ in range(%d): b.append(b'\\x01' * (1 << 20))" % args["mb"]])
    return {"child_rc": rc, "instance": INSTANCE}
'''

EAGAIN = 11


class BetweenCallsTest(SecurityTestCase):

    def test_a_daemon_makes_no_progress_while_its_instance_is_idle(self):
        marker = self.track(new_marker())
        name = self.deploy("sec-ticker", TICKER_PY, limits={"timeout": 30000, "memory": 256})
        first = self.call_ok(name, {"marker": marker, "start": True})
        self.assertGreater(first["end"], 0, first)
        idle_s = 1.5
        for _ in range(3):  # a few idle periods, each far longer than the 50 ms grace
            time.sleep(idle_s)
            nxt = self.call_ok(name, {"marker": marker})
            self.assertEqual(nxt["instance"], first["instance"], "the warm instance was replaced")
            idle_ticks = nxt["start"] - first["end"]
            # Running all along it ticks ~100 times a second (150 in the idle time); frozen after
            # the 50 ms grace it ticks a handful. Half of what running would give is the line.
            self.assertLess(idle_ticks, 75,
                            "the daemon ticked %d times in %.1f s while its instance was idle "
                            "(call ended at %d, next started at %d)"
                            % (idle_ticks, idle_s, first["end"], nxt["start"]))
            self.assertGreater(nxt["end"], nxt["start"], "the daemon did not run during the call")
            first = nxt
        # Another action's sandbox has its own process list: the daemon is not in it.
        ps = self.deploy("sec-ps", PS_PY)
        procs = self.call_ok(ps)["procs"]
        self.assertFalse([p for p in procs if marker in p], procs)

    def test_a_fork_bomb_leaves_no_process_and_the_next_call_gets_a_fresh_instance(self):
        marker = self.track(new_marker())
        name = self.deploy("sec-forkbomb-discard", FORK_BOMB_PY,
                           limits={"timeout": 60000, "memory": 512})
        status, rec = self.call(name, {"marker": marker, "max": 1000, "sleep": 120})
        self.assertEqual(status, 200, rec)
        bomb = rec["response"]["result"]
        self.assertEqual(bomb["errno"], EAGAIN, "the bomb did not reach the pids limit: %r" % bomb)
        # The instance was discarded with its cgroup: nothing of the bomb runs on the host.
        left = wait_until(lambda: not host_processes_with(marker), 5)
        self.assertTrue(left, "%d fork-bomb processes still alive after the call"
                        % len(host_processes_with(marker)))
        after = self.call_ok(name, {"marker": marker, "max": 0, "sleep": 0})
        self.assertNotEqual(after["instance"], bomb["instance"],
                            "the call after the bomb ran in the bomb's instance")
        self.assertTrue(any("process limit" in line for line in rec["logs"]),
                        "the record does not say the instance was discarded: %r" % rec["logs"][-3:])

    def test_an_oom_kill_inside_the_instance_discards_it(self):
        name = self.deploy("sec-oom-child", OOM_CHILD_PY, limits={"timeout": 30000, "memory": 128})
        killed = self.call_ok(name, {"mb": 512})
        self.assertEqual(killed["child_rc"], -9, "the child was not OOM-killed: %r" % killed)
        after = self.call_ok(name, {})
        self.assertNotEqual(after["instance"], killed["instance"],
                            "the call after the OOM kill ran in the same instance")
