"""Graceful instance stop: at shutdown every instance gets SIGTERM first (the shims handle it, so
a function's own SIGTERM handler runs), SIGKILL only after --instance-stop-grace-ms; a clean stop
still leaves no cgroup and no process. What the function's handler writes lands in the record
of the call it interrupted, whose error says the server stopped it (seen after a restart on the
same data directory)."""

import hashlib
import os
import re
import time
import unittest

from harness import Server, ServerTestCase, metrics, wait_for

IS_ROOT = os.geteuid() == 0

NODE_HANDLER = r"""
process.on('SIGTERM', () => { console.log('node got SIGTERM'); });
function main() { return new Promise((resolve) => setTimeout(() => resolve({late: true}), 30000)); }
"""

PYTHON_HANDLER = r"""
import signal, sys, time

def on_term(signum, frame):
    print("python got SIGTERM", flush=True)
    sys.exit(0)

signal.signal(signal.SIGTERM, on_term)

def main(args):
    time.sleep(30)
    return {"late": True}
"""


def cgroup_dirs(data_dir):
    name = "hotrod-" + hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:12]
    return [os.path.join(root, name) for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids",
                                                  "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/freezer")
            if os.path.isdir(os.path.join(root, name))]


def instance_processes(server_pid):
    found = []
    for task in os.listdir("/proc/%d/task" % server_pid):  # launcher threads are parents too
        with open("/proc/%d/task/%s/children" % (server_pid, task)) as f:
            found += f.read().split()
    return found


@unittest.skipUnless(IS_ROOT, "instances need the sandbox, which needs root")
class InstanceStopTest(ServerTestCase):
    def stop_while_running(self, kind, code, marker, extra_args=()):
        # No drain: the call is still running when the instances are stopped. A long grace:
        # the runtime must exit on SIGTERM itself, well before SIGKILL would come.
        server = Server(extra_args=("--stem-cells", "0", "--drain-timeout-s", "0",
                                    "--instance-stop-grace-ms", "10000") + tuple(extra_args))
        self.extra_servers = [server]
        server.start()
        if "--python-zygote" in extra_args:
            self.assertTrue(wait_for(lambda: re.search(r"python zygote \d+ ready", server.log_text()), timeout=30),
                            "the zygote came up")
        api = server.client()
        r = api.put_json("/api/v1/namespaces/_/actions/term", {"exec": {"kind": kind, "code": code},
                                                                 "limits": {"timeout": 60000}})
        self.assertEqual(r.status, 200, r)
        r = api.post_json("/api/v1/namespaces/_/actions/term", {})
        self.assertEqual(r.status, 202, r)
        aid = r.json()["activationId"]
        busy = lambda: (lambda m: m.get("hotrod_pool_instances", 0) - m.get("hotrod_pool_idle_instances", 0))(
            metrics(api)) >= 1
        self.assertTrue(wait_for(busy), "the call started")
        time.sleep(1.0)  # past the init: the function's handler is installed
        processes = instance_processes(server.proc.pid)
        self.assertTrue(processes)
        self.assertTrue(cgroup_dirs(server.data_dir))
        api.close()
        started = time.monotonic()
        self.assertEqual(server.stop(), 0)
        stop_s = time.monotonic() - started
        self.assertEqual(cgroup_dirs(server.data_dir), [], "a clean stop leaves no cgroup")
        self.assertEqual([p for p in processes if os.path.exists("/proc/%s" % p)], [],
                         "instance processes outlived the server")
        self.assertLess(stop_s, 9.0, "the runtime exited on SIGTERM instead of waiting for SIGKILL")

        again = Server(data_dir=server.data_dir, guest_key=server.key,
                       extra_args=("--stem-cells", "0"))
        self.extra_servers.append(again)
        again.start()
        c = again.client()
        self.addCleanup(c.close)
        r = c.get("/api/v1/namespaces/_/activations/" + aid)
        self.assertEqual(r.status, 200, r)
        record = r.json()
        self.assertTrue(any(line.endswith("stdout: " + marker) for line in record["logs"]), record["logs"])
        self.assertFalse(record["response"]["success"])
        # Past the drain the server cancels what still runs, and the record says so.
        self.assertIn("The server is shutting down", record["response"]["result"].get("error", ""), record)
        if "--python-zygote" in extra_args:
            cold = next(a["value"] for a in record["annotations"] if a["key"] == "coldStart")
            self.assertIs(cold["zygote"], True, cold)
        self.assertNotEqual(record["response"]["result"], {"late": True})

    def test_node_function_gets_sigterm_before_sigkill(self):
        self.stop_while_running("nodejs:20", NODE_HANDLER, "node got SIGTERM")

    def test_python_function_gets_sigterm_before_sigkill(self):
        self.stop_while_running("python:3.11", PYTHON_HANDLER, "python got SIGTERM")

    def test_zygote_born_python_function_gets_sigterm_before_sigkill(self):
        # The instance is a fork of the Python zygote (docs/runtimes.md), signalled through its
        # own pidfd like a launched one.
        self.stop_while_running("python:3.11", PYTHON_HANDLER, "python got SIGTERM", ("--python-zygote", "--sandboxes-ahead", "0"))
