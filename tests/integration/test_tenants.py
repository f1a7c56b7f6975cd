"""Tenants: namespaces and keys through the admin API and `hotrod admin` on the data directory;
one tenant never reaches another's entities; revoked keys stop working."""

import json
import os
import subprocess
import time
import unittest
import uuid

from harness import HOTROD_BIN, KEY_RE, ServerTestCase, basic_auth, read_admin_key

NOT_FOUND = "The requested resource does not exist."
HELLO = "function main(p) { return {hello: p.name || 'world'} }"


class TenantsTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin_key = read_admin_key(cls.server.data_dir)
        cls.admin = cls.server.client(cls.admin_key)


    @classmethod
    def tearDownClass(cls):
        cls.admin.close()
        super().tearDownClass()

    def client_for(self, key):
        c = self.server.client(key)
        self.addCleanup(c.close)
        return c
    def new_ns(self, prefix):
        ns = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
        r = self.admin.request("PUT", "/api/v1/admin/namespaces/" + ns)
        self.assertEqual(r.status, 200, r)
        return ns

    def new_key(self, ns):
        r = self.admin.request("POST", "/api/v1/admin/namespaces/%s/keys" % ns)
        self.assertEqual(r.status, 200, r)
        key = r.json()["key"]
        self.assertRegex(key, KEY_RE)
        self.assertTrue(key.startswith(r.json()["uuid"] + ":"))
        return key

    def cli(self, *args, env_extra=None):
        env = dict(os.environ)
        env.pop("HOTROD_ADMIN_KEY", None)
        env.update(env_extra or {})
        return subprocess.run([HOTROD_BIN] + list(args), capture_output=True, text=True, env=env, timeout=60)

    # ---- admin API

    def test_admin_key_file_is_private(self):
        mode = os.stat(os.path.join(self.server.data_dir, "admin.key")).st_mode & 0o777
        self.assertEqual(mode, 0o600)

    def test_admin_api_needs_the_admin_key(self):
        for auth in (None, basic_auth(self.server.key), basic_auth(self.admin_key + "x")):
            with self.subTest(auth=auth):
                self.assertError(self.api.request("GET", "/api/v1/admin/namespaces", auth=auth), 401)
        r = self.admin.request("GET", "/api/v1/admin/namespaces")
        self.assertEqual(r.status, 200, r)
        self.assertIn("guest", r.json())
        # The admin key is not a namespace key.
        self.assertError(self.admin.request("GET", "/api/v1/namespaces/_/actions"), 401)

    def test_namespace_create_conflict_and_bad_names(self):
        ns = self.new_ns("dup")
        self.assertError(self.admin.request("PUT", "/api/v1/admin/namespaces/" + ns), 409, "already exists")
        for bad in ("_", "-x", "a%20b"):
            with self.subTest(name=bad):
                self.assertError(self.admin.request("PUT", "/api/v1/admin/namespaces/" + bad), 400)
        self.assertError(self.admin.request("POST", "/api/v1/admin/namespaces/nope-%s/keys" % uuid.uuid4().hex[:6]),
                         404)

    def test_two_tenants_cannot_see_each_other(self):
        a_ns, b_ns = self.new_ns("alpha"), self.new_ns("beta")
        a = self.client_for(self.new_key(a_ns))
        b = self.client_for(self.new_key(b_ns))
        self.create_action("secret", HELLO, client=a)
        r = a.post_json("/api/v1/namespaces/_/actions/secret?blocking=true&result=true", {})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"hello": "world"})
        # B names A's namespace explicitly: every route answers as if it did not exist.
        for method, path in (("GET", "/api/v1/namespaces/%s/actions" % a_ns),
                             ("GET", "/api/v1/namespaces/%s/actions/secret" % a_ns),
                             ("POST", "/api/v1/namespaces/%s/actions/secret?blocking=true" % a_ns),
                             ("DELETE", "/api/v1/namespaces/%s/actions/secret" % a_ns),
                             ("GET", "/api/v1/namespaces/%s/activations" % a_ns),
                             ("GET", "/api/v1/namespaces/%s/limits" % a_ns)):
            with self.subTest(method=method, path=path):
                self.assertError(b.request(method, path), 404, NOT_FOUND)
        # Same answer as for a namespace that does not exist at all.
        self.assertError(b.get("/api/v1/namespaces/no-such-ns/actions/secret"), 404, NOT_FOUND)
        self.assertEqual(b.get("/api/v1/namespaces/_/actions").json(), [])
        self.assertEqual(b.get("/api/v1/namespaces").json(), [b_ns])
        self.assertEqual(a.get("/api/v1/namespaces").json(), [a_ns])
        # A's action is untouched.
        self.assertEqual(a.get("/api/v1/namespaces/_/actions/secret").status, 200)

    def test_several_keys_list_without_secrets_and_revoke_at_once(self):
        ns = self.new_ns("keys")
        k1, k2 = self.new_key(ns), self.new_key(ns)
        r = self.admin.get("/api/v1/admin/namespaces/%s/keys" % ns)
        self.assertEqual(r.status, 200, r)
        listed = r.json()
        self.assertEqual(sorted(k["uuid"] for k in listed), sorted([k1.split(":")[0], k2.split(":")[0]]))
        for k in listed:
            self.assertGreater(k["created"], 1.6e12)
            self.assertNotIn("key", k)
        self.assertNotIn(k1.split(":")[1].encode(), r.body)
        c1, c2 = self.client_for(k1), self.client_for(k2)
        self.assertEqual(c1.get("/api/v1/namespaces/_/actions").status, 200)
        self.assertEqual(c2.get("/api/v1/namespaces/_/actions").status, 200)
        r = self.admin.delete("/api/v1/admin/namespaces/%s/keys/%s" % (ns, k1.split(":")[0]))
        self.assertEqual(r.status, 200, r)
        self.assertError(c1.get("/api/v1/namespaces/_/actions"), 401)
        self.assertEqual(c2.get("/api/v1/namespaces/_/actions").status, 200, "the other key still works")
        self.assertError(self.admin.delete("/api/v1/admin/namespaces/%s/keys/%s" % (ns, k1.split(":")[0])), 404)

    def test_delete_namespace_refuses_with_entities_unless_forced(self):
        ns = self.new_ns("del")
        key = self.new_key(ns)
        c = self.client_for(key)
        self.create_action("f", HELLO, client=c)
        self.assertError(self.admin.delete("/api/v1/admin/namespaces/" + ns), 409, "still has 1 entity")
        self.assertEqual(c.get("/api/v1/namespaces/_/actions/f").status, 200, "a refused delete changes nothing")
        r = self.admin.delete("/api/v1/admin/namespaces/%s?force=true" % ns)
        self.assertEqual(r.status, 200, r)
        self.assertError(c.get("/api/v1/namespaces/_/actions"), 401)
        self.assertNotIn(ns, self.admin.get("/api/v1/admin/namespaces").json())
        self.assertError(self.admin.delete("/api/v1/admin/namespaces/" + ns), 404)

    # ---- hotrod admin on the data directory (next to the running server)

    def test_cli_on_data_dir_creates_keys_that_work_and_revocation_reaches_the_server(self):
        d = ["--data-dir", self.server.data_dir]
        ns = "cli-%s" % uuid.uuid4().hex[:8]
        r = self.cli("admin", "namespace", "create", ns, *d)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(ns, r.stdout)
        r = self.cli("admin", "namespace", "create", ns, *d)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("already exists", r.stderr)
        self.assertIn(ns, self.cli("admin", "namespace", "list", *d).stdout.split())
        r = self.cli("admin", "key", "create", ns, *d)
        self.assertEqual(r.returncode, 0, r.stderr)
        key = r.stdout.strip()
        self.assertRegex(key, KEY_RE)
        c = self.client_for(key)
        self.assertEqual(c.get("/api/v1/namespaces").json(), [ns])
        listed = self.cli("admin", "key", "list", ns, *d)
        self.assertIn(key.split(":")[0], listed.stdout)
        self.assertNotIn(key.split(":")[1], listed.stdout, "keys are never shown again")
        r = self.cli("admin", "key", "revoke", ns, key.split(":")[0], *d)
        self.assertEqual(r.returncode, 0, r.stderr)
        # The server re-validates cached keys after a short bound (1 s); poll generously.
        deadline = time.monotonic() + 15
        while c.get("/api/v1/namespaces/_/actions").status == 200:
            self.assertLess(time.monotonic(), deadline, "revoked key still accepted")
            time.sleep(0.1)
        self.assertError(c.get("/api/v1/namespaces/_/actions"), 401)

    def test_cli_over_http_with_admin_key(self):
        host = "http://127.0.0.1:%d" % self.server.port
        ns = "http-%s" % uuid.uuid4().hex[:8]
        r = self.cli("admin", "namespace", "create", ns, "--apihost", host, "--admin-key", self.admin_key)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.cli("admin", "key", "create", ns, "--apihost", host, env_extra={"HOTROD_ADMIN_KEY": self.admin_key})
        self.assertEqual(r.returncode, 0, r.stderr)
        key = r.stdout.strip()
        c = self.client_for(key)
        self.assertEqual(c.get("/api/v1/namespaces/_/actions").status, 200)
        r = self.cli("admin", "key", "list", ns, "--apihost", host, "--admin-key", self.admin_key, "--json")
        self.assertEqual([k["uuid"] for k in json.loads(r.stdout)], [key.split(":")[0]])
        r = self.cli("admin", "key", "revoke", ns, key.split(":")[0], "--apihost", host, "--admin-key", self.admin_key)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertError(c.get("/api/v1/namespaces/_/actions"), 401, msg="immediate through the admin API")
        r = self.cli("admin", "namespace", "list", "--apihost", host, "--admin-key", "00000000-0000-0000-0000-000000000000:bad")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("authentication", r.stderr.lower())

    def test_cli_delete_refuses_then_forces(self):
        d = ["--data-dir", self.server.data_dir]
        ns = self.new_ns("clidel")
        c = self.client_for(self.new_key(ns))
        self.create_action("g", HELLO, client=c)
        r = self.cli("admin", "namespace", "delete", ns, *d)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("still has 1 entity", r.stderr)
        r = self.cli("admin", "namespace", "delete", ns, "--force", *d)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(ns, self.cli("admin", "namespace", "list", *d).stdout.split())


if __name__ == "__main__":
    unittest.main()
