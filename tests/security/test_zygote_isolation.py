"""Python zygote (serve --python-zygote): hostile functions cold-started by the zygote are as
contained as any other instance. Against each other: different host uids, own pid, net and ipc
namespaces (no signals, no loopback listener, no abstract unix socket of another child). Against
the zygote: no capability, no unshare/mount/setns, nothing of the zygote's fds or processes, no
other child's data in the memory they inherited. Their memory limit is their own cgroup's."""

import os
import re
import time
import unittest

from sec_common import (IS_ROOT, NEEDS_ROOT, SecurityTestCase, annotation, host_pids,
                        host_processes_with, host_status_field, new_marker, wait_until)

# Holds a loopback TCP listener, an abstract unix socket and a named child process, then stays
# warm; reports its own facts.
HOLDER_PY = r'''
import ctypes, os, socket, threading, time

FDS_AT_IMPORT = sorted(os.listdir("/proc/self/fd"))
socks = []

def serve(s):
    while True:
        try:
            c, _ = s.accept()
            c.close()
        except OSError:
            return

def main(args):
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(8)
    uds = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    uds.bind("\0" + args["marker"])
    uds.listen(8)
    socks.extend([tcp, uds])
    for s in socks:
        threading.Thread(target=serve, args=(s,), daemon=True).start()
    if os.fork() == 0:
        ctypes.CDLL(None).prctl(15, args["marker"].encode(), 0, 0, 0)  # PR_SET_NAME
        time.sleep(120)
        os._exit(0)
    # The listeners answer here, in this instance's own namespace.
    probe = socket.create_connection(("127.0.0.1", tcp.getsockname()[1]), timeout=2)
    probe.close()
    return {"port": tcp.getsockname()[1], "uid": os.getuid(), "secret_len": len(args["secret"]),
            "net": os.readlink("/proc/self/ns/net"), "fds": FDS_AT_IMPORT}
'''

SNOOP_PY = r'''
import ctypes, errno, os, socket

FDS_AT_IMPORT = sorted(os.listdir("/proc/self/fd"))
libc = ctypes.CDLL(None, use_errno=True)

def err(rc):
    return "ok" if rc == 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))

def connect(family, address):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(address)
        return "connected"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()

def in_my_memory(a, b):
    """a + b anywhere in this process's memory, without ever putting a + b there itself."""
    found = False
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if "r" not in line.split()[1] or "[vvar]" in line or hi - lo > (512 << 20):
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                continue
            i = data.find(a)
            while i >= 0 and not found:
                found = data[i + len(a):i + len(a) + len(b)] == b
                i = data.find(a, i + 1)
    return found

def main(args):
    out = {"uid": os.getuid(), "pid": os.getpid(), "fds": FDS_AT_IMPORT,
           "procs": sorted(p for p in os.listdir("/proc") if p.isdigit()),
           "net": os.readlink("/proc/self/ns/net")}
    out["tcp"] = connect(socket.AF_INET, ("127.0.0.1", args["port"]))
    out["abstract"] = connect(socket.AF_UNIX, "\0" + args["marker"])
    signals = {}
    for pid in args["pids"]:
        try:
            os.kill(pid, 0)
            signals[str(pid)] = "ok"
        except OSError as e:
            signals[str(pid)] = errno.errorcode.get(e.errno, str(e.errno))
    out["signal"] = signals
    try:
        os.kill(-1, 9)  # everything it may signal: only its own namespace, never the caller
        out["kill_all"] = "ok"
    except OSError as e:
        out["kill_all"] = errno.errorcode.get(e.errno, str(e.errno))
    CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWPID = 0x20000, 0x10000000, 0x40000000, 0x20000000
    out["unshare_user"] = err(libc.unshare(CLONE_NEWUSER))
    out["unshare_mount"] = err(libc.unshare(CLONE_NEWNS))
    out["unshare_net"] = err(libc.unshare(CLONE_NEWNET))
    out["unshare_pid"] = err(libc.unshare(CLONE_NEWPID))
    out["mount"] = err(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None))
    out["umount"] = err(libc.umount2(b"/code", 2))
    out["sethostname"] = err(libc.sethostname(b"evil", 4))
    out["setuid0"] = err(libc.setuid(0))
    fd = os.open("/proc/self/ns/net", os.O_RDONLY)
    out["setns"] = err(libc.setns(fd, 0))
    os.close(fd)
    status = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
    out["caps"] = [status[k] for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")]
    out["nnp"], out["seccomp"] = status["NoNewPrivs"], status["Seccomp"]
    out["secret_in_memory"] = in_my_memory(args["secret_a"].encode(), args["secret_b"].encode())
    return out
'''


ZYGOTE_READY = re.compile(r"python zygote \d+ ready")


def host_uid(pid):
    uid = host_status_field(pid, "Uid")
    return int(uid.split()[0]) if uid else None


def memory_cgroup(pid):
    try:
        with open("/proc/%d/cgroup" % pid) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return ("/sys/fs/cgroup/memory" + path, "memory.limit_in_bytes")
    for line in lines:
        if line.startswith("0::"):
            return ("/sys/fs/cgroup" + line[3:], "memory.max")
    return None


def zygote_pids(server_pid):
    """The zygote itself: a child of the server (its instances carry the same command line: they
    are forks of it)."""
    out = []
    for pid in host_pids():
        if host_status_field(pid, "PPid") != str(server_pid):
            continue
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"/runtime/python/zygote.py" in cmd:
            out.append(pid)
    return out


@unittest.skipUnless(IS_ROOT, NEEDS_ROOT)
class ZygoteIsolationTest(SecurityTestCase):
    server_args = ("--python-zygote", "--stem-cells", "0", "--sandboxes-ahead", "0")

    def setUp(self):
        super().setUp()
        self.assertTrue(wait_until(lambda: ZYGOTE_READY.search(self.server.log_text()), 30),
                        "the python zygote did not come up")

    def test_zygote_children_are_strangers_to_each_other_and_to_the_zygote(self):
        marker = self.track(new_marker("hrzyg"))
        secret = new_marker("zsecret")
        self.deploy("zholder", HOLDER_PY, limits={"memory": 192})
        status, rec = self.call("zholder", {"marker": marker, "secret": secret})
        self.assertEqual(status, 200, rec)
        self.assertIs(annotation(rec, "coldStart")["zygote"], True, rec)
        holder = rec["response"]["result"]
        self.assertEqual(holder["fds"], ["0", "1", "2", "3", "4"])  # 4: listdir's own
        marked = wait_until(lambda: host_processes_with(marker), 10)
        self.assertEqual(len(marked), 1, marked)
        holder_child = marked[0]
        holder_runtime = int(host_status_field(holder_child, "PPid"))
        holder_init = int(host_status_field(holder_runtime, "PPid"))  # hotrod-init, the zygote's child

        self.deploy("zsnoop", SNOOP_PY, limits={"memory": 160})
        zygotes = zygote_pids(self.server.proc.pid)
        self.assertEqual(len(zygotes), 1, zygotes)
        status, rec = self.call("zsnoop", {"marker": marker, "port": holder["port"],
                                           "secret_a": secret[:7], "secret_b": secret[7:],
                                           "pids": [holder_child, holder_runtime, holder_init] + zygotes})
        self.assertEqual(status, 200, rec)
        self.assertIs(annotation(rec, "coldStart")["zygote"], True, rec)
        snoop = rec["response"]["result"]

        # Own pid namespace: it sees itself and its init only and can signal nothing of the others.
        self.assertEqual(snoop["pid"], 2)
        self.assertEqual(snoop["procs"], ["1", "2"])
        self.assertEqual(set(snoop["signal"].values()), {"ESRCH"}, snoop["signal"])
        self.assertTrue(os.path.exists("/proc/%d" % holder_child), "the snoop killed the holder")
        # Own network namespace: another child's loopback and abstract sockets do not exist.
        self.assertNotEqual(snoop["net"], holder["net"])
        self.assertEqual(snoop["tcp"], "ECONNREFUSED")
        self.assertEqual(snoop["abstract"], "ECONNREFUSED")
        # Different uids, on the host too, and neither is the zygote's.
        self.assertNotEqual(snoop["uid"], holder["uid"])
        # The zygote's other children (the snoop among them): their inits are its direct children.
        zygote_children = [p for p in host_pids()
                           if host_status_field(p, "PPid") in {str(z) for z in zygotes}]
        self.assertIn(holder_init, zygote_children)
        snoop_pids = [p for p in zygote_children if p != holder_init]
        self.assertTrue(snoop_pids, "the snoop's instance is not among the zygote's children")
        holder_host_uid = host_uid(holder_child)
        zygote_host_uids = {host_uid(p) for p in zygotes}
        self.assertNotIn(holder_host_uid, zygote_host_uids)
        self.assertNotEqual(holder_host_uid, 0)
        for p in snoop_pids:
            self.assertNotEqual(host_uid(p), holder_host_uid)
        # No privilege of the zygote's: no capability, no new namespace, no mount, no uid 0.
        self.assertEqual(snoop["caps"], ["0000000000000000"] * 5)
        self.assertEqual((snoop["nnp"], snoop["seccomp"]), ("1", "2"))
        for k in ("unshare_user", "unshare_mount", "unshare_net", "unshare_pid", "mount", "umount",
                  "sethostname", "setuid0", "setns"):
            self.assertIn(snoop[k], ("EPERM", "EINVAL"), (k, snoop[k]))
        # Nothing of the zygote's fds, nothing of another child's data in the inherited memory.
        self.assertEqual(snoop["fds"], ["0", "1", "2", "3", "4"])
        self.assertIs(snoop["secret_in_memory"], False)

    def test_each_child_has_its_own_cgroup_with_the_actions_memory_limit(self):
        marker = self.track(new_marker("hrzmm"))
        self.deploy("zholder2", HOLDER_PY, limits={"memory": 192})
        status, rec = self.call("zholder2", {"marker": marker, "secret": "x"})
        self.assertEqual(status, 200, rec)
        self.assertIs(annotation(rec, "coldStart")["zygote"], True, rec)
        marked = wait_until(lambda: host_processes_with(marker), 10)
        self.assertTrue(marked)
        child_cg = memory_cgroup(marked[0])
        zygote_cgs = {memory_cgroup(p) for p in zygote_pids(self.server.proc.pid)}
        self.assertIsNotNone(child_cg)
        self.assertNotIn(child_cg, zygote_cgs)
        with open(os.path.join(*child_cg)) as f:
            limit = f.read().strip()
        self.assertEqual(int(limit), 192 << 20)


if __name__ == "__main__":
    unittest.main()
