"""The per-namespace instance maximum is a namespace limit (`maxInstances`), with
`hotrod serve --max-per-namespace` as its default; an admin overrides it per namespace (admin API
or `hotrod admin namespace limits --max-instances`), and the pool holds each namespace to its own."""

import os
import subprocess
import threading
import uuid

from harness import HOTROD_BIN, ServerTestCase, read_admin_key

SLEEPY = "function main(p) { return new Promise(r => setTimeout(() => r({slept: true}), 1000)) }"


class NamespaceInstancesTest(ServerTestCase):
    server_args = ("--max-per-namespace", "6", "--stem-cells", "0")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.server.client(read_admin_key(cls.server.data_dir))

    @classmethod
    def tearDownClass(cls):
        cls.admin.close()
        super().tearDownClass()

    def tenant(self, **limits):
        ns = "inst-%s" % uuid.uuid4().hex[:8]
        self.assertEqual(self.admin.request("PUT", "/api/v1/admin/namespaces/" + ns).status, 200)
        key = self.admin.request("POST", "/api/v1/admin/namespaces/%s/keys" % ns).json()["key"]
        if limits:
            r = self.admin.request("PUT", "/api/v1/admin/namespaces/%s/limits" % ns, json_body=limits)
            self.assertEqual(r.status, 200, r)
        return ns, key

    def run_two_at_once(self, key):
        """Creates two sleeping actions and invokes both at the same time; returns their records."""
        setup = self.server.client(key)
        self.addCleanup(setup.close)
        for name in ("a", "b"):
            self.create_action(name, SLEEPY, client=setup)
        records = {}

        def call(name):
            c = self.server.client(key)
            try:
                r = c.post_json("/api/v1/namespaces/_/actions/%s?blocking=true" % name, {})
                records[name] = (r.status, r.json())
            finally:
                c.close()

        threads = [threading.Thread(target=call, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for name in ("a", "b"):
            status, record = records[name]
            self.assertEqual(status, 200, record)
            self.assertEqual(record["response"]["result"], {"slept": True})
        return records["a"][1], records["b"][1]

    def test_limit_shows_the_serve_default_and_an_override(self):
        _, key = self.tenant()
        c = self.server.client(key)
        self.addCleanup(c.close)
        self.assertEqual(c.get("/api/v1/namespaces/_/limits").json()["maxInstances"], 6)
        ns, key = self.tenant(maxInstances=2)
        c2 = self.server.client(key)
        self.addCleanup(c2.close)
        self.assertEqual(c2.get("/api/v1/namespaces/_/limits").json()["maxInstances"], 2)
        r = self.admin.request("PUT", "/api/v1/admin/namespaces/%s/limits" % ns, json_body={"maxInstances": 0})
        self.assertError(r, 400, "maxInstances must be an integer between 1 and 100000, got 0.")
        r = self.admin.request("PUT", "/api/v1/admin/namespaces/%s/limits" % ns, json_body={"maxInstances": None})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["effective"]["maxInstances"], 6)

    def test_a_namespace_limited_to_one_instance_runs_its_calls_one_after_the_other(self):
        _, key = self.tenant(maxInstances=1)
        a, b = self.run_two_at_once(key)
        first, second = sorted((a, b), key=lambda r: r["start"])
        self.assertGreaterEqual(second["start"], first["end"],
                                "with one instance allowed, the second call starts after the first ended")

    def test_a_namespace_at_the_default_runs_them_side_by_side(self):
        _, key = self.tenant()
        a, b = self.run_two_at_once(key)
        self.assertLess(max(a["start"], b["start"]), min(a["end"], b["end"]), "two instances ran at once")

    def test_cli_sets_max_instances_on_the_data_directory(self):
        ns, _ = self.tenant()
        env = dict(os.environ, HOME=self.server.data_dir)
        env.pop("HOTROD_ADMIN_KEY", None)
        out = subprocess.run([HOTROD_BIN, "admin", "namespace", "limits", ns, "--max-instances", "3",
                              "--data-dir", self.server.data_dir], capture_output=True, text=True, env=env,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("maxInstances: 3 (set for this namespace)", out.stdout)
        r = self.admin.request("GET", "/api/v1/admin/namespaces/%s/limits" % ns)
        self.assertEqual(r.json()["overrides"]["maxInstances"], 3)
