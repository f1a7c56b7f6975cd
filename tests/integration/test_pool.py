"""The instance pool against the real server: stem cells, scale-out, the memory budget and its
bounded queue (503), /metrics, and a clean stop (no cgroup, no process left)."""

import base64
import hashlib
import os
import signal
import threading
import time
import unittest

from harness import Server, ServerTestCase, annotation, zip_bytes, metrics, wait_for

IS_ROOT = os.geteuid() == 0

# Reports who it is and what it sees, so the test can check the take-over from the outside.
NODE_WHOAMI = r"""
const fs = require('fs');
globalThis.instanceId = globalThis.instanceId || Math.random().toString(36).slice(2);
function main(p) {
  return {
    instance: globalThis.instanceId,
    action: process.env.__OW_ACTION_NAME,
    ns: process.env.__OW_NAMESPACE,
    code: fs.readdirSync('/code'),
  };
}
"""

SLEEPER = r"""
globalThis.instanceId = globalThis.instanceId || Math.random().toString(36).slice(2);
function main(p) {
  return new Promise(r => setTimeout(() => r({instance: globalThis.instanceId}), p.ms || 0));
}
"""

PY_WHOAMI = r"""
import os
def main(args):
    return {"action": os.environ.get("__OW_ACTION_NAME"), "code": sorted(os.listdir("/code")),
            "file": __file__ if "__file__" in globals() else None}
"""


@unittest.skipUnless(IS_ROOT, "stem cells need the sandbox, which needs root")
class StemCellTest(ServerTestCase):
    server_args = ("--stem-cells", "1")

    def stem_cells_ready(self):
        return metrics(self.api).get("hotrod_pool_stem_cells", 0) >= 2  # node + python

    def test_cold_call_takes_over_a_stem_cell_and_says_so(self):
        self.assertTrue(wait_for(self.stem_cells_ready), metrics(self.api))
        self.create_action("stem-node", NODE_WHOAMI, limits={"memory": 128})
        r = self.invoke("stem-node")
        self.assertEqual(r.status, 200, r)
        record = r.json()
        result = record["response"]["result"]
        self.assertEqual(result["action"], "/guest/stem-node")
        self.assertEqual(result["ns"], "guest")
        self.assertEqual(result["code"], ["source"])
        cold = annotation(record, "coldStart")
        self.assertIs(cold["stemCell"], True, cold)
        self.assertEqual(cold["bootUs"], 0, cold)
        for key in ("queueUs", "sandboxUs", "codeLoadUs"):
            self.assertIsInstance(cold[key], int, cold)
            self.assertGreaterEqual(cold[key], 0, cold)
        self.assertIsInstance(annotation(record, "initTime"), int)
        # Warm now: same instance, no cold-start annotation.
        again = self.invoke("stem-node").json()
        self.assertEqual(again["response"]["result"]["instance"], result["instance"])
        self.assertIsNone(annotation(again, "coldStart", None))
        self.assertIsNone(annotation(again, "initTime", None))
        # The taken stem cell is replaced in the background.
        self.assertTrue(wait_for(self.stem_cells_ready), metrics(self.api))
        self.assertGreaterEqual(metrics(self.api)["hotrod_pool_stem_cell_starts_total"], 1)

    def test_python_and_zip_actions_take_over_stem_cells(self):
        self.assertTrue(wait_for(self.stem_cells_ready), metrics(self.api))
        self.create_action("stem-py", PY_WHOAMI, kind="python:3.11")
        record = self.invoke("stem-py").json()
        self.assertEqual(record["response"]["result"]["action"], "/guest/stem-py", record)
        self.assertIs(annotation(record, "coldStart")["stemCell"], True)

        self.assertTrue(wait_for(self.stem_cells_ready), metrics(self.api))
        code = zip_bytes({"index.js": "exports.main = () => ({files: require('fs').readdirSync('/code').sort()});",
                          "package.json": '{"main": "index.js"}', "data.txt": "x"})
        self.create_action("stem-zip", base64.b64encode(code).decode())
        record = self.invoke("stem-zip").json()
        self.assertEqual(record["response"]["result"]["files"], ["data.txt", "index.js", "package.json"], record)
        self.assertIs(annotation(record, "coldStart")["stemCell"], True)

@unittest.skipUnless(IS_ROOT, "instances need the sandbox, which needs root")
class ScaleOutAndBudgetTest(ServerTestCase):
    # Room for exactly two 128 MB instances; nobody may wait.
    server_args = ("--stem-cells", "0", "--memory-budget-mb", "256", "--max-queue", "0")

    def call_parallel(self, name, n, ms):
        replies = [None] * n

        def call(i):
            client = self.server.client()
            try:
                replies[i] = client.post_json(self.action_path(name, "?blocking=true"), {"ms": ms})
            finally:
                client.close()

        threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
            time.sleep(0.05)
        for t in threads:
            t.join()
        return replies

    def test_cold_start_without_stem_cells_shows_the_boot(self):
        self.create_action("booted", SLEEPER, limits={"memory": 128})
        record = self.invoke("booted").json()
        cold = annotation(record, "coldStart")
        self.assertIs(cold["stemCell"], False, cold)
        self.assertGreater(cold["bootUs"], 0, cold)
        self.assertGreater(cold["sandboxUs"], 0, cold)
        self.assertGreater(cold["codeLoadUs"], 0, cold)

    def test_parallel_slow_calls_scale_out(self):
        self.create_action("slow-scale", SLEEPER, limits={"memory": 128, "timeout": 20000})
        replies = self.call_parallel("slow-scale", 2, 1500)
        self.assertTrue(all(r.status == 200 for r in replies), replies)
        instances = {r.json()["response"]["result"]["instance"] for r in replies}
        self.assertEqual(len(instances), 2, "two busy calls ran on two instances")

    def test_call_beyond_the_budget_gets_503_with_a_clear_body(self):
        self.create_action("slow-budget", SLEEPER, limits={"memory": 128, "timeout": 20000})
        replies = self.call_parallel("slow-budget", 3, 2500)
        statuses = sorted(r.status for r in replies)
        self.assertEqual(statuses, [200, 200, 503], replies)
        refused = [r for r in replies if r.status == 503][0]
        body = self.assertError(refused, 503, "no capacity to run the action now")
        self.assertEqual(body["error"], "no capacity to run the action now: 0 calls waiting")
        self.assertGreaterEqual(metrics(self.api)["hotrod_pool_rejected_total"], 1)
        # Once they finished, idle instances make room (LRU eviction) for other actions.
        self.create_action("after-budget", SLEEPER, limits={"memory": 256, "timeout": 5000})
        r = self.invoke("after-budget")
        self.assertEqual(r.status, 200, r)
        self.assertGreaterEqual(metrics(self.api)["hotrod_pool_evictions_total"], 2)

    def test_sequence_and_web_calls_without_capacity_also_get_503(self):
        # Two slow calls fill the budget; a sequence over the same action and a web call of it
        # cannot be placed either, and say so the same way as an invoke.
        self.create_action("slow-full", SLEEPER, limits={"memory": 128, "timeout": 20000})
        r = self.api.put_json(self.action_path("slow-seq"),
                              {"exec": {"kind": "sequence", "components": ["/_/slow-full"]}})
        self.assertEqual(r.status, 200, r)
        r = self.api.put_json(self.action_path("slow-web"),
                              {"exec": {"kind": "nodejs:20", "code": SLEEPER}, "limits": {"memory": 256},
                               "annotations": [{"key": "web-export", "value": True}]})
        self.assertEqual(r.status, 200, r)
        busy = threading.Thread(target=self.call_parallel, args=("slow-full", 2, 2500))
        busy.start()
        time.sleep(0.8)
        try:
            r = self.api.post_json(self.action_path("slow-seq", "?blocking=true"), {"ms": 0})
            self.assertError(r, 503, "no capacity to run the action now")
            r = self.api.request("GET", "/api/v1/web/guest/default/slow-web.json", auth=None)
            self.assertError(r, 503, "no capacity to run the action now")
        finally:
            busy.join()


NODE_EXECARGV = r"""
globalThis.instanceId = globalThis.instanceId || Math.random().toString(36).slice(2);
function main() { return {instance: globalThis.instanceId, execArgv: process.execArgv}; }
"""

PY_INSTANCE = r"""
import random
INSTANCE = str(random.random())
def main(args):
    return {"instance": INSTANCE}
"""


@unittest.skipUnless(IS_ROOT, "instances need the sandbox, which needs root")
class RuntimeUpdateTest(ServerTestCase):
    """SIGHUP re-reads the manifest file: instances of a changed runtime retire, others stay."""

    @classmethod
    def setUpClass(cls):
        import json
        import tempfile
        repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(os.path.join(repo, "src", "runtimes", "manifest.json")) as f:
            cls.manifest = json.load(f)
        fd, cls.manifest_path = tempfile.mkstemp(prefix="hotrod-manifest-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(cls.manifest, f)
        cls.addClassCleanup(os.remove, cls.manifest_path)
        cls.server_args = ("--stem-cells", "1", "--runtimes", cls.manifest_path, "--runtime-update-window-s", "5")
        super().setUpClass()

    def call(self, name):
        r = self.invoke(name)
        self.assertEqual(r.status, 200, r)
        return r.json()["response"]["result"]

    def test_sighup_with_a_changed_manifest_starts_new_instances(self):
        import json
        self.create_action("rt-node", NODE_EXECARGV)
        self.create_action("rt-py", PY_INSTANCE, kind="python:3.11")
        node_before, py_before = self.call("rt-node"), self.call("rt-py")
        self.assertEqual(node_before["execArgv"], [])
        for rt in self.manifest["runtimes"]:
            if rt["kind"] == "nodejs:20":
                rt["args"] = ["--no-warnings"]
        with open(self.manifest_path, "w") as f:
            json.dump(self.manifest, f)
        self.server.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "runtime update" in self.server.log_text()), self.server.log_text())
        node_after, py_after = self.call("rt-node"), self.call("rt-py")
        self.assertEqual(node_after["execArgv"], ["--no-warnings"])
        self.assertNotEqual(node_after["instance"], node_before["instance"])
        self.assertEqual(py_after["instance"], py_before["instance"], "python's runtime did not change")
        # A manifest that does not parse changes nothing and is reported.
        with open(self.manifest_path, "w") as f:
            f.write("{not json")
        self.server.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "not reloaded" in self.server.log_text()))
        self.assertEqual(self.call("rt-node")["instance"], node_after["instance"])


@unittest.skipUnless(IS_ROOT, "instances need the sandbox, which needs root")
class CleanStopTest(ServerTestCase):
    server_args = ("--stem-cells", "1")

    def cgroup_dirs(self, data_dir):
        name = "hotrod-" + hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:12]
        found = []
        for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpu",
                     "/sys/fs/cgroup/freezer"):
            path = os.path.join(root, name)
            if os.path.isdir(path):
                found.append(path)
        return found

    def test_sigterm_leaves_no_cgroup_and_no_instance_process(self):
        server = Server(extra_args=("--stem-cells", "1"))
        self.extra_servers = [server]
        server.start()
        api = server.client()
        self.assertTrue(wait_for(lambda: metrics(api).get("hotrod_pool_stem_cells", 0) >= 2))
        r = api.put_json(self.action_path("stop-me"), {"exec": {"kind": "nodejs:20", "code": SLEEPER}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(api.post_json(self.action_path("stop-me", "?blocking=true"), {}).status, 200)
        self.assertTrue(self.cgroup_dirs(server.data_dir), "instances live in the server's cgroup subtree")
        pid = server.proc.pid
        children = []
        for task in os.listdir("/proc/%d/task" % pid):  # the stem-cell launcher thread's too
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                children += f.read().split()
        self.assertTrue(children)
        api.close()
        self.assertEqual(server.stop(), 0)
        self.assertEqual(self.cgroup_dirs(server.data_dir), [])
        # Nothing tore a cgroup down twice or raced the subtree's removal (the sandboxes prepared
        # ahead and the reaper's queued teardowns finish before it).
        self.assertNotIn("cgroup cleanup", server.log_text())
        self.assertNotIn("freeze incomplete", server.log_text())
        alive = [c for c in children if os.path.exists("/proc/%s" % c)]
        self.assertEqual(alive, [], "instance processes outlived the server")

    def test_a_crashed_servers_cgroups_are_removed_by_the_next_server(self):
        crashed = Server(extra_args=("--stem-cells", "1"))
        self.extra_servers = [crashed]
        crashed.start()
        probe = crashed.client()
        self.addCleanup(probe.close)
        self.assertTrue(wait_for(lambda: metrics(probe).get("hotrod_pool_stem_cells", 0) >= 2))
        self.assertTrue(self.cgroup_dirs(crashed.data_dir))
        crashed.kill()  # SIGKILL: no clean-up of its own
        self.assertTrue(self.cgroup_dirs(crashed.data_dir), "a killed server leaves its cgroups")
        other = Server(extra_args=("--stem-cells", "0"))  # another data directory
        self.extra_servers.append(other)
        other.start()
        self.assertEqual(self.cgroup_dirs(crashed.data_dir), [])
        self.assertIn("left by dead server", other.log_text())


if __name__ == "__main__":
    unittest.main()
