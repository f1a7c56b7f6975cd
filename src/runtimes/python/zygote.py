# hotrod Python zygote (docs/runtimes.md "Python zygote" is the design; docs/security.md says
# why its privileges are contained).
#
# Runs in a sandbox of its own (NamespaceLauncher::StartZygote): user namespace mapping its root
# plus K leased host uids (inside ids 1..K), CAP_SYS_ADMIN/SETUID/SETGID/SETPCAP/NET_ADMIN kept
# inside that namespace only, the zygote seccomp filter. It imports the shim once and then only
# forks: it never loads or runs user code itself.
#
# Control channel: fd 3, frames as the shim's (4-byte big-endian length + JSON).
#   host -> {"op":"hello","bpf":hex,"masks":[[kind,path],...],"cap_last_cap":N}
#           with SCM_RIGHTS [hotrod-init]
#        <- {"ok":true}
#   host -> {"op":"fork","uid":i,"hostname":h,"tmp_mb":n,"shm_mb":n,"nofile":n,"fsize":bytes}
#           with SCM_RIGHTS [frame socket, stdout pipe, stderr pipe]        (no reply)
# Per fork: child A unshares mount/pid/net/ipc/uts namespaces and forks B, PID 1 of the new pid
# namespace; A exits, the zygote reaps. B makes its own /proc (masked as the launcher masks it)
# /tmp and /dev/shm, sets its hostname, brings lo up, sends the host its pidfd on the frame socket
# ({"zygote":"namespaces"}), waits for one byte (the host has moved it into the instance's
# cgroup), enters its cgroup namespace, takes the instance's uid (capabilities gone), drops
# every capability and the bounding set, sets no_new_privs, loads the strict instance seccomp
# filter the host sent and reports {"zygote":"sandboxed"}. Then B forks C, which becomes the
# shim, and B execs hotrod-init --adopt C (the host's init, sent with the hello): PID 1 of every
# instance reaps orphans and forwards SIGTERM to the runtime, whether launched or zygote-born
# (docs/security.md "Init"). Any step that fails reports {"zygote":"failed","step":...,
# "errno":...} and exits: nothing runs.
import _signal
import posix
import sys

import ctypes
import socket

import shim  # the runtime itself, imported once here (its module state is what children share)

CONTROL = 3
_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 32, 4096, 8192, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_DUMPABLE = 4
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_SECUREBITS = 1, 24, 28
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 47, 4
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
# NOROOT, NOROOT_LOCKED, NO_SETUID_FIXUP_LOCKED (fixup stays on: setresuid clears the caps),
# KEEP_CAPS_LOCKED, NO_CAP_AMBIENT_RAISE, NO_CAP_AMBIENT_RAISE_LOCKED
SECUREBITS = 0x01 | 0x02 | 0x08 | 0x20 | 0x40 | 0x80
SYS_pidfd_open, SYS_close_range, SYS_capset, SYS_capget, SYS_prlimit64 = 434, 436, 126, 125, 302
SIOCSIFFLAGS = 0x8914
IFF_UP_LOOPBACK_RUNNING = 0x1 | 0x8 | 0x40
RLIMIT_FSIZE, RLIMIT_CORE, RLIMIT_NOFILE = 1, 4, 7
CAP_VERSION_3 = 0x20080522
INIT_FD = 4  # hotrod-init in a child, from the dup2s on to its exec
# What hotrod-init waits for (init_protocol.h): blocked from before the fork of the runtime to
# the init's first wait, so that none is lost.
INIT_SIGNALS = {_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGUSR1,
                _signal.SIGUSR2, _signal.SIGCHLD}

config = None  # the hello message
_report_fd = -1  # where a child reports a failed step: the frame socket (fd 3 once moved there)


class StepFailed(Exception):
    def __init__(self, step, err):
        super().__init__(step)
        self.step, self.err = step, err


def _check(step, rc):
    if rc < 0:
        raise StepFailed(step, ctypes.get_errno())
    return rc


def _send_frame(fd, obj, fds=None):
    data = shim.json_dumps(obj).encode()
    data = len(data).to_bytes(4, "big") + data
    if fds:
        s = socket.socket(fileno=fd)
        try:
            socket.send_fds(s, [data], fds)
        finally:
            s.detach()
    else:
        shim._write_all(fd, data)


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _Rlimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_uint64), ("max", ctypes.c_uint64)]


def _mount(step, source, target, fstype, flags, data=None, optional=False):
    rc = _libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                     ctypes.c_ulong(flags), data and data.encode())
    if rc < 0 and optional and ctypes.get_errno() == 2:  # ENOENT: this kernel has no such entry
        return
    _check(step, rc)


def _prlimit(resource, value):
    lim = _Rlimit(value, value)
    _check("setrlimit", _libc.syscall(SYS_prlimit64, 0, resource, ctypes.byref(lim), None))


def _enter_sandbox(req, frame_fd, out_fd, err_fd):
    """Child B: PID 1 of its own pid namespace, still root of the zygote's user namespace."""
    # First of all, so that the host's cgroup move (v1: about one RCU grace period) overlaps
    # the mounts below; nothing of the action's runs before the release byte anyway.
    pidfd = _check("pidfd_open", _libc.syscall(SYS_pidfd_open, posix.getpid(), 0))
    _send_frame(frame_fd, {"zygote": "namespaces"}, [pidfd])
    posix.close(pidfd)
    _mount("mount propagation private", None, "/", None, MS_REC | MS_PRIVATE)
    # A /proc of its own pid namespace, and neither the zygote's /proc nor its /tmp left below:
    # the new proc is made on /tmp (the kernel wants a visible proc in this mount namespace to
    # allow it, hence not after the old one is gone), the old /proc is detached, the new one
    # moved into place, and the zygote's /tmp detached before the instance's own is mounted.
    _mount("mount /proc", "proc", "/tmp", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _check("detach the zygote's /proc", _libc.umount2(b"/proc", MNT_DETACH))
    _mount("move /proc", "/tmp", "/proc", None, MS_MOVE)
    _check("detach the zygote's /tmp", _libc.umount2(b"/tmp", MNT_DETACH))
    for kind, path in config["masks"]:
        if kind == "null":
            _mount("mask " + path, "/dev/null", path, None, MS_BIND, optional=True)
        elif kind == "dir":
            _mount("mask " + path, "tmpfs", path, "tmpfs",
                   MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555", optional=True)
        else:
            _mount("bind " + path, path, path, None, MS_BIND, optional=True)
            _mount("remount %s read-only" % path, None, path, None,
                   MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, optional=True)
    _mount("mount /tmp", "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
           "size=%dm,mode=1777" % int(req["tmp_mb"]))
    _check("detach the zygote's /dev/shm", _libc.umount2(b"/dev/shm", MNT_DETACH))
    _mount("mount /dev/shm", "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
           "size=%dm,mode=1777" % int(req["shm_mb"]))
    name = req["hostname"].encode()
    _check("sethostname", _libc.sethostname(name, len(name)))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ifr = ctypes.create_string_buffer(40)
    ifr[0:2] = b"lo"
    ifr[16:18] = IFF_UP_LOOPBACK_RUNNING.to_bytes(2, "little")
    _check("loopback up", _libc.ioctl(sock.fileno(), SIOCSIFFLAGS, ifr))
    sock.close()

    # The host has moved this process into the instance's cgroup once the byte arrives.
    if posix.read(frame_fd, 1) != b"g":
        posix._exit(0)  # the host gave up on this instance
    _check("cgroup namespace", _libc.unshare(CLONE_NEWCGROUP))

    _prlimit(RLIMIT_NOFILE, int(req["nofile"]))
    _prlimit(RLIMIT_CORE, 0)
    _prlimit(RLIMIT_FSIZE, int(req["fsize"]))
    # fd 0 is the zygote's /dev/null; 1, 2, 3 become the instance's, 4 is hotrod-init (all
    # received fds are above 3); nothing else stays open.
    global _report_fd
    try:
        posix.dup2(frame_fd, 3)
        _report_fd = 3
        posix.dup2(out_fd, 1)
        posix.dup2(err_fd, 2)
        posix.dup2(config["init_fd"], INIT_FD)
    except OSError as e:
        raise StepFailed("dup2 stdio", e.errno)
    _check("close fds", _libc.syscall(SYS_close_range, ctypes.c_uint(INIT_FD + 1), ctypes.c_uint(0xFFFFFFFF), 0))

    # Capabilities: empty the bounding set, lock root's special treatment away, then become the
    # instance's own uid (the kernel clears every capability), and make sure none is left.
    for cap in range(int(config["cap_last_cap"]) + 1):
        _check("drop capabilities", _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
    _check("securebits", _libc.prctl(PR_SET_SECUREBITS, SECUREBITS, 0, 0, 0))
    _check("drop capabilities", _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))
    uid = int(req["uid"])
    try:
        posix.setgroups([])
        posix.setresgid(uid, uid, uid)
        posix.setresuid(uid, uid, uid)
    except OSError as e:
        raise StepFailed("set credentials", e.errno)
    # The uid change made the process non-dumpable (its /proc files then belong to the zygote's
    # root, so even /proc/self/mem or /proc/self/environ would be refused to it): an instance
    # is dumpable like any process running as its own uid.
    _check("set dumpable", _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
    header = (ctypes.c_uint32 * 2)(CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check("drop capabilities", _libc.syscall(SYS_capset, header, data))
    _check("drop capabilities", _libc.syscall(SYS_capget, header, data))
    if any(data) or posix.getresuid() != (uid, uid, uid):
        raise StepFailed("drop capabilities", 1)
    _check("no_new_privs", _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
    bpf = config["bpf_bytes"]
    prog = _Fprog(len(bpf) // 8, ctypes.cast(ctypes.c_char_p(bpf), ctypes.c_void_p))
    _check("seccomp", _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0))
    _send_frame(3, {"zygote": "sandboxed"})


def _report_failure(fd, step, err):
    try:
        _send_frame(fd, {"zygote": "failed", "step": step, "errno": err})
    except OSError:
        pass


def _fork_instance(req, fds):
    frame_fd, out_fd, err_fd = fds
    pid = posix.fork()
    if pid != 0:
        return
    # Child A: still in the zygote's namespaces. Whatever happens, it never returns.
    global _report_fd
    _report_fd = frame_fd
    try:
        control.detach()  # its fd 3 is the zygote's control channel: never close or use it
        _check("unshare namespaces", _libc.unshare(
            CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS))
        if posix.fork() != 0:
            posix._exit(0)
        try:
            _enter_sandbox(req, frame_fd, out_fd, err_fd)
        except StepFailed as e:
            _report_failure(_report_fd, e.step, e.err)
            posix._exit(1)
        except BaseException as e:  # noqa: BLE001 - nothing may escape into the zygote loop
            _report_failure(_report_fd, "setup: %s: %s" % (type(e).__name__, e), 0)
            posix._exit(1)
        # B: a sandboxed instance now. Its runtime is a child (C), B becomes its init.
        _signal.pthread_sigmask(_signal.SIG_BLOCK, INIT_SIGNALS)
        runtime = posix.fork()
        if runtime == 0:
            posix.close(INIT_FD)
            _signal.pthread_sigmask(_signal.SIG_SETMASK, ())
            shim.main()  # never returns
            posix._exit(0)
        try:
            posix.execve(INIT_FD, ["hotrod-init", "--adopt", str(runtime)], {})
        finally:
            posix._exit(127)  # no init: ending PID 1 ends the namespace, the runtime with it
    except StepFailed as e:
        _report_failure(frame_fd, e.step, e.err)
    except BaseException:  # noqa: BLE001
        pass
    posix._exit(1)


def _reap():
    while True:
        try:
            pid, _ = posix.waitpid(-1, posix.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _read_message():
    header = b""
    fds = []
    while len(header) < 4:
        try:
            data, got, _, _ = socket.recv_fds(control, 4 - len(header), 3)
        except TimeoutError:
            _reap()  # instances that ended (their init, B, was reparented to the zygote)
            if not header:
                continue
            raise
        if not data:
            return None, []
        header += data
        fds += got
    n = int.from_bytes(header, "big")
    body = b""
    while len(body) < n:
        try:
            data, got, _, _ = socket.recv_fds(control, n - len(body), 3)
        except TimeoutError:
            continue
        if not data:
            return None, []
        body += data
        fds += got
    return shim.json_loads(body.decode()), fds


def main():
    global config, control
    control = socket.socket(fileno=CONTROL)
    control.settimeout(0.5)
    sys.stdout.flush()
    while True:
        msg, fds = _read_message()
        if msg is None:
            posix._exit(0)  # the host closed the channel: the zygote is done
        op = msg.get("op")
        if op == "hello" and len(fds) == 1:
            config = msg
            config["bpf_bytes"] = bytes.fromhex(msg["bpf"])
            config["init_fd"] = fds.pop()  # kept open for every child
            _send_frame(CONTROL, {"ok": True})
        elif op == "fork" and config is not None and len(fds) == 3:
            sys.stdout.flush()
            sys.stderr.flush()
            try:
                _fork_instance(msg, fds)
            except OSError as e:
                _report_failure(fds[0], "fork", e.errno)
        for fd in fds:
            posix.close(fd)
        _reap()


control = None

if __name__ == "__main__":
    main()
