"""`hotrod serve --store postgresql://...`: the server keeps its state in a real PostgreSQL
(postgres.py starts one): an action and its activation record survive a restart of hotrod, and
survive PostgreSQL restarting under a running server. A bad --store URL stops the server before
it starts, naming the flag."""

import os
import subprocess
import time
import unittest

from harness import HOTROD_BIN, Server
from postgres import PostgresServer

ECHO = "function main(p) { return {echo: p.word}; }"


class PostgresStoreTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.pg = PostgresServer()
        cls.addClassCleanup(cls.pg.cleanup)
        cls.pg.start()

    def setUp(self):
        self.db = "hotrod_%s" % self._testMethodName.lower()
        self.url = self.pg.create_database(self.db)
        self.server = Server(extra_args=("--store", self.url))
        self.addCleanup(self.server.cleanup)
        self.server.start()
        self.api = self.server.client()
        self.addCleanup(lambda: self.api.close())

    def run(self, result=None):
        bad_before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > bad_before:
            print("\n----- hotrod log -----\n%s\n----- postgres log -----\n%s\n-----"
                  % (self.server.log_text(), self.pg.log()))
        return out

    def restart_hotrod(self):
        self.api.close()
        self.assertEqual(self.server.stop(), 0)
        self.server.start()
        self.api = self.server.client()

    def test_action_and_record_survive_a_restart(self):
        r = self.api.put_json("/api/v1/namespaces/_/actions/echo", {"exec": {"kind": "nodejs:20", "code": ECHO}})
        self.assertEqual(r.status, 200, r)
        r = self.api.post_json("/api/v1/namespaces/_/actions/echo?blocking=true", {"word": "kept"})
        self.assertEqual(r.status, 200, r)
        aid = r.json()["activationId"]
        self.assertEqual(r.json()["response"]["result"], {"echo": "kept"})

        # The state is in PostgreSQL, not in a SQLite file of the data directory.
        self.assertFalse(os.path.exists(os.path.join(self.server.data_dir, "hotrod.db")))
        self.assertEqual(self.pg.psql(self.db, "SELECT name FROM actions"), "echo")

        self.restart_hotrod()
        r = self.api.get("/api/v1/namespaces/_/actions/echo")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["name"], "echo")
        r = self.api.get("/api/v1/namespaces/_/activations/%s" % aid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["response"]["result"], {"echo": "kept"})
        # And the action still runs (its code is on this node's disk).
        r = self.api.post_json("/api/v1/namespaces/_/actions/echo?blocking=true", {"word": "again"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["response"]["result"], {"echo": "again"})
        # Records are written behind the reply (the activation log's batch): wait for the row.
        deadline = time.monotonic() + 10
        count = lambda: self.pg.psql(self.db, "SELECT count(*) FROM activations WHERE name = 'echo'")
        while count() != "2" and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(count(), "2")

    def test_postgres_restart_under_a_running_server(self):
        r = self.api.put_json("/api/v1/namespaces/_/actions/echo", {"exec": {"kind": "nodejs:20", "code": ECHO}})
        self.assertEqual(r.status, 200, r)
        self.pg.stop()
        # A write while the database is down: 503 with the plain storage message, no crash.
        r = self.api.put_json("/api/v1/namespaces/_/actions/other", {"exec": {"kind": "nodejs:20", "code": ECHO}})
        self.assertEqual(r.status, 503, r)
        self.assertIn("storage", r.json()["error"].lower(), r)
        self.assertTrue(self.server.alive())
        self.pg.start()
        # Recovery is automatic: the next calls reconnect.
        deadline = time.monotonic() + 20
        while True:
            r = self.api.put_json("/api/v1/namespaces/_/actions/other",
                                  {"exec": {"kind": "nodejs:20", "code": ECHO}})
            if r.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(r.status, 200, r)
        r = self.api.post_json("/api/v1/namespaces/_/actions/other?blocking=true", {"word": "back"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["response"]["result"], {"echo": "back"})


class StoreFlagTest(unittest.TestCase):

    def test_bad_store_url_is_refused_naming_the_flag(self):
        for url in ("mysql://x", "postgresql://h/db?nonsense=1"):
            p = subprocess.run([HOTROD_BIN, "serve", "--store", url, "--listen", "127.0.0.1:0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            self.assertNotEqual(p.returncode, 0, url)
            self.assertIn(b"--store", p.stderr, (url, p.stderr))

    def test_unreachable_database_fails_the_start_clearly(self):
        server = Server(extra_args=("--store", "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2"))
        self.addCleanup(server.cleanup)
        with self.assertRaises(RuntimeError) as caught:
            server.start()
        self.assertIn("cannot connect", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
