"""What a function sees from inside its sandbox: privileges, namespaces, files, network, syscalls.

One hostile function per area reports raw facts (strings and numbers, never verdicts); the
assertions compare them with the host's own facts.
"""

import hashlib
import os
import socket
import unittest

from sec_common import (NODE, PY, SecurityTestCase, errno_name, host_namespaces,
                        host_processes_with, host_status_field, new_marker)

# Reports the process's view of itself. `marker` becomes the process name (comm), so the host can
# find the runtime process and look at it from outside.
FACTS_PY = r'''
import ctypes, os, socket

def read(path, limit=4096):
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode(errors="replace")
    except OSError as e:
        return "error:%d" % e.errno

def main(args):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(15, args["marker"].encode(), 0, 0, 0)  # PR_SET_NAME
    status = {}
    for line in read("/proc/self/status").splitlines():
        k, _, v = line.partition(":")
        status[k] = v.strip()
    ns = {}
    for n in ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts"):
        try:
            ns[n] = os.readlink("/proc/self/ns/" + n)
        except OSError as e:
            ns[n] = "error:%d" % e.errno
    try:
        ifaces = sorted(name for _, name in socket.if_nameindex())
    except OSError as e:
        ifaces = ["error:%d" % e.errno]
    return {
        "status": {k: status.get(k) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
                                              "NoNewPrivs", "Seccomp", "Seccomp_filters")},
        "pid": os.getpid(), "ppid": os.getppid(),
        "proc1_cmdline": read("/proc/1/cmdline").replace("\0", " ").strip(),
        "hostname": socket.gethostname(),
        "uid": os.getuid(), "gid": os.getgid(), "euid": os.geteuid(),
        "uid_map": read("/proc/self/uid_map").strip(),
        "gid_map": read("/proc/self/gid_map").strip(),
        "ns": ns,
        "ifaces": ifaces,
        "code_file": main.__code__.co_filename,
    }
'''

FACTS_NODE = r'''
const fs = require('fs');
const os = require('os');
function main() {
  const status = {};
  for (const line of fs.readFileSync('/proc/self/status', 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) status[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return {pid: process.pid, hostname: os.hostname(),
          uid_map: fs.readFileSync('/proc/self/uid_map', 'utf8').trim(),
          CapEff: status.CapEff, CapBnd: status.CapBnd, NoNewPrivs: status.NoNewPrivs,
          Seccomp: status.Seccomp, pidns: fs.readlinkSync('/proc/self/ns/pid')};
}
'''

# Tries to read host files and to write where a function must not. Every "write" is harmless
# even on the bare host: a created file is removed at once; other files are only opened.
FILES_PY = r'''
import hashlib, os

def try_read(path):
    try:
        if os.path.isdir(path):
            return {"dir": sorted(os.listdir(path))[:50]}
        with open(path, "rb") as f:
            data = f.read(1 << 20)
        return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    except OSError as e:
        return {"errno": e.errno}

def try_create(directory):
    path = os.path.join(directory, ".hotrod-sec-probe-" + str(os.getpid()))
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as e:
        return {"errno": e.errno}
    os.close(fd)
    os.unlink(path)
    return {"created": path}

def try_open_for_write(path):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)  # nothing is written
    except OSError as e:
        return {"errno": e.errno}
    os.close(fd)
    return {"opened": path}

def main(args):
    code_file = main.__code__.co_filename
    reads = {p: try_read(p) for p in args["read"]}
    creates = {d: try_create(d) for d in args["create"] + [os.path.dirname(code_file) or "/"]}
    writes = {p: try_open_for_write(p) for p in args["open_write"] + [code_file]}
    return {"read": reads, "create": creates, "write": writes, "code_file": code_file}
'''

# TCP connects with a 1 s bound each.
NET_PY = r'''
import socket, time

def main(args):
    out = {}
    for host, port in args["targets"]:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(1.0)
        t0 = time.monotonic()
        try:
            s.connect((host, port))
            res = "connected"
        except socket.timeout:
            res = "timeout"
        except OSError as e:
            res = "errno:%d" % e.errno
        finally:
            s.close()
        out["%s:%d" % (host, port)] = {"result": res, "ms": int((time.monotonic() - t0) * 1000)}
    return {"connect": out}
'''

# Each probe runs in a throwaway child (a probe the sandbox let through then affects only that
# child), with arguments that fail or do nothing on the bare host. Reports errno per probe.
SYSCALLS_PY = r'''
import ctypes, json, os, socket

PROBES = {
    # name: (syscall number on x86_64, args)
    "mount": (165, (0, 0, 0, 0, 0)),
    "umount2": (166, (0, 0)),
    "unshare": (272, (0x10000000,)),          # CLONE_NEWUSER
    "setns": (308, (-1, 0)),
    "ptrace": (101, (0, 0, 0, 0)),            # PTRACE_TRACEME
    "bpf": (321, (-1, 0, 0)),
    "io_uring_setup": (425, (1, 0)),
    "userfaultfd": (323, (0o2000000,)),       # O_CLOEXEC
    "keyctl": (250, (0, -3, 0)),              # KEYCTL_GET_KEYRING_ID, session keyring
    "add_key": (248, (0, 0, 0, 0, 0)),
    "perf_event_open": (298, (0, 0, -1, -1, 0)),
    "init_module": (175, (0, 0, 0)),
    "finit_module": (313, (-1, 0, 0)),
    "delete_module": (176, (0, 0)),
    "kexec_load": (246, (0, 0, 0, 0xffffffff)),
    "kexec_file_load": (320, (-1, -1, 0, 0, 0xffffffff)),
    "settimeofday": (164, (0, 0)),
    "clock_settime": (227, (-1, 0)),
    "adjtimex": (159, (0,)),
    "chroot": (161, (0,)),
    "pivot_root": (155, (0, 0)),
    "swapoff": (168, (0,)),
    "reboot": (169, (0, 0, 0, 0)),
    "open_by_handle_at": (304, (-1, 0, 0)),
    "process_vm_readv": (310, (0, 0, 0, 0, 0, 0)),
    "x32_getpid": (0x40000000 | 39, ()),
    "clone3": (435, (0, 0)),
}

def socket_probe(family, type_, proto):
    try:
        s = socket.socket(family, type_, proto)
    except OSError as e:
        return e.errno
    s.close()
    return 0

def probe_all():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    out = {}
    for name, (nr, args) in PROBES.items():
        ctypes.set_errno(0)
        rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
        out[name] = ctypes.get_errno() if rc == -1 else 0
    out["socket_raw_icmp"] = socket_probe(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    out["socket_raw_nonblock"] = socket_probe(socket.AF_INET, socket.SOCK_RAW | socket.SOCK_NONBLOCK,
                                              socket.IPPROTO_RAW)
    out["socket_packet"] = socket_probe(17, socket.SOCK_RAW, 0)  # AF_PACKET
    out["socket_tcp"] = socket_probe(socket.AF_INET, socket.SOCK_STREAM, 0)
    return out

def main(args):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            data = json.dumps(probe_all()).encode()
        except BaseException as e:
            data = json.dumps({"probe_error": repr(e)}).encode()
        os.write(w, data)
        os._exit(0)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    _, st = os.waitpid(pid, 0)
    data = b"".join(chunks)
    return {"errno": json.loads(data) if data else None, "child_status": st}
'''

# The syscalls every issue-3 sandbox must refuse (EPERM from the seccomp filter).
MUST_REFUSE = ["mount", "umount2", "unshare", "setns", "ptrace", "bpf", "io_uring_setup",
               "userfaultfd", "keyctl", "add_key", "perf_event_open", "init_module",
               "finit_module", "delete_module", "kexec_load", "kexec_file_load", "settimeofday",
               "clock_settime", "adjtimex", "chroot", "pivot_root", "swapoff", "reboot",
               "open_by_handle_at", "process_vm_readv", "x32_getpid", "socket_raw_icmp",
               "socket_raw_nonblock", "socket_packet"]

ZERO_CAPS = "0000000000000000"


class InsideTest(SecurityTestCase):

    def test_privileges_are_dropped(self):
        marker = self.track(new_marker())
        name = self.deploy("sec-facts-priv", FACTS_PY)
        facts = self.call_ok(name, {"marker": marker})
        st = facts["status"]
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            self.assertEqual(st[cap], ZERO_CAPS, "%s inside is %s: %r" % (cap, st[cap], facts))
        self.assertEqual(st["NoNewPrivs"], "1", facts)
        self.assertEqual(st["Seccomp"], "2", "Seccomp 2 = filter mode; %r" % facts)

    def test_the_runtime_is_nobody_on_the_host(self):
        marker = self.track(new_marker())
        name = self.deploy("sec-facts-uid", FACTS_PY)
        facts = self.call_ok(name, {"marker": marker})
        self.assertNotIn(facts["uid_map"].split(), (["0", "0", "4294967295"],),
                         "identity uid map: root inside is root on the host")
        self.assertNotEqual(facts["uid_map"], "", facts)
        self.assertNotIn(facts["gid_map"].split(), (["0", "0", "4294967295"],), facts)
        # From the host: the (warm, idle) runtime process carries the marker as its name.
        pids = host_processes_with(marker)
        self.assertTrue(pids, "the runtime process (comm=%s) is not visible on the host" % marker)
        for pid in pids:
            uids = (host_status_field(pid, "Uid") or "").split()
            self.assertTrue(uids and "0" not in uids,
                            "host pid %d runs with host uids %r" % (pid, uids))

    def test_own_namespaces(self):
        marker = self.track(new_marker())
        name = self.deploy("sec-facts-ns", FACTS_PY)
        facts = self.call_ok(name, {"marker": marker})
        host = host_namespaces()
        for ns in ("mnt", "pid", "ipc", "uts", "net", "cgroup", "user"):
            self.assertNotEqual(facts["ns"].get(ns), host[ns],
                                "the function shares the host's %s namespace" % ns)
        self.assertLessEqual(facts["pid"], 10, "pid %d: not a fresh pid namespace" % facts["pid"])
        with open("/proc/1/cmdline", "rb") as f:
            host_init = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        self.assertNotEqual(facts["proc1_cmdline"], host_init, "/proc/1 is the host's init")
        self.assertNotEqual(facts["hostname"], socket.gethostname(), "the host's hostname")
        self.assertEqual(facts["ifaces"], ["lo"], "network interfaces inside")

    def test_node_sees_the_same_sandbox(self):
        name = self.deploy("sec-facts-node", FACTS_NODE, kind=NODE)
        facts = self.call_ok(name)
        self.assertEqual(facts["CapEff"], ZERO_CAPS, facts)
        self.assertEqual(facts["CapBnd"], ZERO_CAPS, facts)
        self.assertEqual(facts["NoNewPrivs"], "1", facts)
        self.assertEqual(facts["Seccomp"], "2", facts)
        self.assertLessEqual(facts["pid"], 10, facts)
        self.assertNotEqual(facts["pidns"], host_namespaces()["pid"], facts)
        self.assertNotEqual(facts["hostname"], socket.gethostname(), facts)
        self.assertNotEqual(facts["uid_map"].split(), ["0", "0", "4294967295"], facts)

    def test_host_files_unreadable(self):
        data_dir = self.server.data_dir
        db_files = sorted(os.path.join(data_dir, f) for f in os.listdir(data_dir)
                          if os.path.isfile(os.path.join(data_dir, f)))
        paths = ["/etc/shadow", "/root", "/work", "/home", data_dir,
                 os.path.dirname(data_dir), "/proc/1/root/etc/shadow", "/proc/kcore"] + db_files
        name = self.deploy("sec-files-read", FILES_PY)
        facts = self.call_ok(name, {"read": paths, "create": [], "open_write": []})
        with open("/etc/shadow", "rb") as f:
            host_shadow = hashlib.sha256(f.read(1 << 20)).hexdigest()
        leaks = {}
        for path, res in facts["read"].items():
            if "errno" in res:
                continue
            if path.endswith("/etc/shadow") and res.get("sha256") != host_shadow:
                continue  # a file of the sandbox's own minimal /etc, not the host's
            if "dir" in res and not res["dir"]:
                continue  # an empty directory of the sandbox's own root
            if res.get("size") == 0:
                continue  # masked (e.g. /proc/kcore with /dev/null bound over it)
            leaks[path] = res
        self.assertEqual(leaks, {}, "host files readable from inside: %r" % leaks)

    def test_root_code_proc_sys_unwritable(self):
        opens = ["/proc/sys/kernel/hostname", "/proc/sys/vm/drop_caches", "/proc/sysrq-trigger",
                 "/sys/kernel/mm/transparent_hugepage/enabled", "/proc/sys/net/ipv4/ip_forward"]
        creates = ["/", "/usr", "/etc", "/sys", "/proc/sys/kernel"]
        name = self.deploy("sec-files-write", FILES_PY)
        facts = self.call_ok(name, {"read": [], "create": creates, "open_write": opens})
        for d, res in facts["create"].items():
            if "created" in res:
                self.remove_after(res["created"])  # only if the function's unlink failed
        allowed = {p: r for p, r in list(facts["create"].items()) + list(facts["write"].items())
                   if "errno" not in r}
        # Paths the host lacks fail with ENOENT inside too; that is still not writable.
        self.assertEqual(allowed, {}, "writable from inside (code file %s): %r"
                         % (facts["code_file"], allowed))

    def test_no_tcp_to_the_server_loopback_or_metadata(self):
        targets = [["127.0.0.1", self.server.port], ["127.0.0.1", 22],
                   ["169.254.169.254", 80], ["8.8.8.8", 53]]
        name = self.deploy("sec-net", NET_PY, limits={"timeout": 20000})
        facts = self.call_ok(name, {"targets": targets})
        connected = {t: r for t, r in facts["connect"].items() if r["result"] == "connected"}
        self.assertEqual(connected, {}, "TCP connects that succeeded from inside: %r"
                         % facts["connect"])
        for t, r in facts["connect"].items():
            self.assertLess(r["ms"], 1500, "%s took %d ms" % (t, r["ms"]))

    def test_dangerous_syscalls_refused(self):
        name = self.deploy("sec-syscalls", SYSCALLS_PY)
        facts = self.call_ok(name)
        self.assertEqual(facts["child_status"], 0, facts)
        got = facts["errno"]
        self.assertNotIn("probe_error", got, got)
        not_refused = {n: errno_name(got.get(n, -1)) if got.get(n) else "succeeded"
                       for n in MUST_REFUSE if got.get(n) != 1}  # 1 = EPERM
        self.assertEqual(not_refused, {},
                         "syscalls not refused with EPERM (errno seen instead): %r" % not_refused)
        self.assertEqual(got["clone3"], 38, "clone3 should be ENOSYS (glibc falls back to clone)")
        self.assertEqual(got["socket_tcp"], 0, "an ordinary TCP socket must still work")


if __name__ == "__main__":
    unittest.main()
