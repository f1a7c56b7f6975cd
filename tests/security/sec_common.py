"""Shared pieces of hotrod's security tests (Python 3 standard library only).

The tests deploy hostile functions through the real API of a real `hotrod serve` (started by the
integration harness, imported from ../integration) and assert that the sandbox contains them.
Each function observes and reports raw facts from inside; the assertions are made here, on the
host, where the test can also look at the host itself (/proc, the disk, the server).

Functions are written so that they stay harmless when run WITHOUT a sandbox (as root, on the
host): probes of dangerous syscalls use arguments that would fail or do nothing, "write" probes
open files for writing without writing (or create and remove a file at once), and every process a
function leaves behind carries a unique marker so the test can find and kill it afterwards.

Root: the full sandbox needs root, so every test here is skipped (and reported as skipped) when
the tests do not run as root.
"""

import ctypes
import errno
import os
import secrets
import signal
import socket
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness  # noqa: E402  (the integration tests' harness, shared, not copied)
from harness import ServerTestCase, annotation  # noqa: E402,F401

IS_ROOT = os.geteuid() == 0
NEEDS_ROOT = "the sandbox (namespaces, cgroups, uid mapping) needs root; run the tests as root"

PY = "python:3.11"
NODE = "nodejs:20"


def new_marker(prefix="hrsec"):
    """A unique token for names, files and process names (15 chars: fits in /proc/PID/comm)."""
    return prefix + secrets.token_hex(5)


# ---------------------------------------------------------------------------------------------
# The host's side


def host_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def host_process_count():
    return len(host_pids())


def _read(path, limit=1 << 16):
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError:
        return None


def host_processes_with(marker):
    """Host pids whose command line or process name (comm) contains `marker`."""
    found = []
    m = marker.encode()
    for pid in host_pids():
        if pid == os.getpid():
            continue
        cmd = _read("/proc/%d/cmdline" % pid) or b""
        comm = _read("/proc/%d/comm" % pid) or b""
        if m in cmd or m in comm:
            found.append(pid)
    return found


def host_status_field(pid, field):
    data = _read("/proc/%d/status" % pid)
    if data is None:
        return None
    for line in data.decode(errors="replace").splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return None


def kill_marked(marker):
    """Cleanup: SIGKILL every host process carrying `marker` (what a failing sandbox leaked)."""
    for pid in host_processes_with(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def wait_until(predicate, timeout, interval=0.05):
    """Polls predicate() until it is truthy or `timeout` seconds passed; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def host_namespaces():
    out = {}
    for ns in ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts"):
        try:
            out[ns] = os.readlink("/proc/self/ns/" + ns)
        except OSError:
            out[ns] = None
    return out


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def errno_name(n):
    return errno.errorcode.get(n, str(n))


# ---------------------------------------------------------------------------------------------
# Test case base


@unittest.skipUnless(IS_ROOT, NEEDS_ROOT)
class SecurityTestCase(ServerTestCase):
    """A class of security tests sharing one server. Markers registered with self.track(marker)
    are used to kill leaked processes after each test, whatever its outcome."""

    maxDiff = None  # the raw facts are the point: show them whole

    def setUp(self):
        super().setUp()
        self._markers = []
        self._host_files = []

    def tearDown(self):
        for m in self._markers:
            kill_marked(m)
        for path in self._host_files:
            try:
                os.remove(path)
            except OSError:
                pass
        super().tearDown()

    def track(self, marker):
        self._markers.append(marker)
        return marker

    def remove_after(self, host_path):
        """A host file a failing sandbox may have let a function create: removed after the test."""
        self._host_files.append(host_path)

    def deploy(self, name, code, kind=PY, **fields):
        self.create_action(name, code, kind=kind, overwrite=True, **fields)
        self.addCleanup(self.api.delete, self.action_path(name))
        return name

    def call(self, name, params=None):
        """A blocking invoke; returns (HTTP status, activation record)."""
        r = self.invoke(name, params or {})
        self.assertIn(r.status, (200, 502), r)
        rec = r.json()
        self.assertIn("response", rec, rec)
        return r.status, rec

    def call_ok(self, name, params=None):
        """A blocking invoke that must succeed; returns the function's result."""
        status, rec = self.call(name, params)
        self.assertEqual(status, 200, "the hostile function itself failed: %r" % (rec,))
        return rec["response"]["result"]

    def delete_action(self, name):
        r = self.api.delete(self.action_path(name))
        self.assertEqual(r.status, 200, r)
