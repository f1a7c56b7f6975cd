"""A cluster on loopback (cluster.py): two controllers and two invokers, each with its own data
directory, sharing a real PostgreSQL and a real nats-server. Calls go in through a controller and
run on the invokers; every accepted call ends with exactly one record, also when an invoker or a
controller is killed with SIGKILL while they run, and PostgreSQL's restart loses nothing
(docs/cluster.md, "No accepted work lost")."""

import json
import subprocess
import threading
import time
import unittest

from cluster import Cluster
from harness import HOTROD_BIN, read_admin_key

ECHO = "function main(p) { return {echo: p.word}; }"
SLEEP = ("function main(p) { return new Promise(r => setTimeout(() => r({slept: p.ms, n: p.n}), p.ms)); }")


class ClusterTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster("it", controllers=2, invokers=2)
        cls.addClassCleanup(cls.cluster.cleanup)
        cls.cluster.start()

    def setUp(self):
        self.api = self.cluster.client()
        self.addCleanup(self.api.close)

    def run(self, result=None):
        bad_before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > bad_before:
            print("\n%s\n----- postgres -----\n%s" % (self.cluster.logs(), self.cluster.pg.log()))
        return out

    def deploy(self, name, code, timeout_ms=60000):
        r = self.api.put_json("/api/v1/namespaces/_/actions/%s?overwrite=true" % name,
                              {"exec": {"kind": "nodejs:20", "code": code}, "limits": {"timeout": timeout_ms}})
        self.assertEqual(r.status, 200, r)

    def sql(self, query):
        return self.cluster.pg.psql("hotrod_it", query)

    def wait_for_records(self, ids, timeout_s=90):
        """The records of `ids` (all of them, or the test fails naming those missing)."""
        records = {}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and len(records) < len(ids):
            for aid in ids:
                if aid in records:
                    continue
                r = self.api.get("/api/v1/namespaces/_/activations/%s" % aid)
                if r.status == 200:
                    records[aid] = r.json()
            time.sleep(0.2)
        missing = [aid for aid in ids if aid not in records]
        self.assertEqual(missing, [], "no record for %d of %d accepted activations" % (len(missing), len(ids)))
        return records

    def test_a_blocking_call_runs_on_an_invoker_and_the_controller_records_it(self):
        self.deploy("echo", ECHO)
        r = self.api.post_json("/api/v1/namespaces/_/actions/echo?blocking=true", {"word": "hi"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["response"]["result"], {"echo": "hi"})
        self.wait_for_records([r.json()["activationId"]])

    def invokers_by_cli(self):
        controller = self.cluster.controllers[0]
        out = subprocess.run([HOTROD_BIN, "admin", "invokers", "--json", "--apihost",
                              "http://127.0.0.1:%d" % controller.port,
                              "--admin-key", read_admin_key(controller.data_dir)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        return {i["id"]: i for i in json.loads(out.stdout)["invokers"]}

    def test_admin_invokers_lists_both_invokers_online_with_their_warm_instances(self):
        self.deploy("echo", ECHO)
        r = self.api.post_json("/api/v1/namespaces/_/actions/echo?blocking=true", {"word": "warm"})
        self.assertEqual(r.status, 200, r)
        # The next heartbeats (every second) carry the warm instance the call left behind.
        deadline = time.monotonic() + 10
        while True:
            seen = self.invokers_by_cli()
            warm = [w for i in seen.values() for w in i["warm"] if w["action"].endswith("/echo")]
            if warm or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        self.assertEqual(sorted(seen), ["inv0", "inv1"])
        for invoker in seen.values():
            self.assertEqual(invoker["state"], "online", invoker)
            self.assertGreater(invoker["memoryMb"], 0)
        self.assertTrue(warm, seen)

    def test_a_blocking_caller_whose_invoker_dies_gets_a_502_naming_it(self):
        self.deploy("slow", SLEEP, timeout_ms=30000)
        answer = {}

        def call():
            api = self.cluster.client()
            try:
                answer["r"] = api.post_json("/api/v1/namespaces/_/actions/slow?blocking=true", {"ms": 20000, "n": 0})
            finally:
                api.close()

        caller = threading.Thread(target=call)
        started = time.monotonic()
        caller.start()
        time.sleep(1.5)  # the call is running on one of the invokers
        for node in self.cluster.invokers:
            node.kill()
        try:
            caller.join(60)
            elapsed = time.monotonic() - started
            self.assertFalse(caller.is_alive(), "no answer within the action's timeout + 5 s")
            r = answer["r"]
            self.assertEqual(r.status, 502, r)
            # The answer is the activation's record: status 3, its error naming the invoker.
            self.assertEqual(r.json()["response"]["status"], "whisk internal error", r)
            error = r.json()["response"]["result"]["error"]
            self.assertRegex(error, r"invoker 'inv[01]'", error)
            # The contract's bound: the action's timeout (30 s) + 5 s (plus slack for a loaded
            # machine); the lost heartbeats normally end it after about 3 s.
            self.assertLess(elapsed, 30 + 5 + 10)
            aid = r.json()["activationId"]
            record = self.wait_for_records([aid])[aid]
            self.assertEqual(record["response"]["status"], "whisk internal error", record)
        finally:
            for node in self.cluster.invokers:
                node.start()
            self.cluster.wait_for_invokers()

    def test_a_controller_killed_after_accepting_loses_nothing_and_the_other_serves_on(self):
        self.deploy("echo", ECHO)
        doomed = self.cluster.controllers[1]
        api = doomed.client()
        ids = []
        try:
            for i in range(20):
                r = api.post_json("/api/v1/namespaces/_/actions/echo", {"word": "c%d" % i})
                self.assertEqual(r.status, 202, r)
                ids.append(r.json()["activationId"])
        finally:
            api.close()
        doomed.kill()
        try:
            # The other controller answers for all of them; the action is the same to it.
            records = self.wait_for_records(ids)
            for i, aid in enumerate(ids):
                self.assertEqual(records[aid]["response"]["result"], {"echo": "c%d" % i})
            r = self.api.post_json("/api/v1/namespaces/_/actions/echo?blocking=true", {"word": "still"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(self.sql("SELECT count(*) FROM pending_activations"), "0")
        finally:
            doomed.start()
            self.cluster.wait_for_invokers()

    def test_while_postgresql_is_down_calls_get_503_and_nothing_accepted_is_lost(self):
        self.deploy("echo", ECHO)
        r = self.api.post_json("/api/v1/namespaces/_/actions/echo", {"word": "before"})
        self.assertEqual(r.status, 202, r)
        before = r.json()["activationId"]
        self.cluster.pg.stop()
        try:
            r = self.api.post_json("/api/v1/namespaces/_/actions/echo", {"word": "down"})
            # Not accepted: the journal could not commit it, and the body says why.
            self.assertEqual(r.status, 503, r)
            self.assertIn("error", r.json())
        finally:
            self.cluster.pg.start()
        # Back by itself: new calls are accepted, and the one accepted before is recorded.
        deadline = time.monotonic() + 30
        while True:
            r = self.api.post_json("/api/v1/namespaces/_/actions/echo", {"word": "after"})
            if r.status == 202 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(r.status, 202, r)
        records = self.wait_for_records([before, r.json()["activationId"]])
        self.assertEqual(records[before]["response"]["result"], {"echo": "before"})

    def test_async_calls_each_end_with_exactly_one_record_written_by_an_invoker(self):
        self.deploy("echo", ECHO)
        before = int(self.sql("SELECT count(*) FROM activations"))
        ids = []
        for i in range(30):
            r = self.api.post_json("/api/v1/namespaces/_/actions/echo", {"word": "w%d" % i})
            self.assertEqual(r.status, 202, r)
            ids.append(r.json()["activationId"])
        records = self.wait_for_records(ids)
        for i, aid in enumerate(ids):
            self.assertEqual(records[aid]["response"]["result"], {"echo": "w%d" % i})
        self.assertEqual(int(self.sql("SELECT count(*) FROM activations")), before + 30)
        # Every record took its journal entry with it.
        self.assertEqual(self.sql("SELECT count(*) FROM pending_activations"), "0")

    def test_an_invoker_killed_mid_call_loses_no_accepted_async_call(self):
        self.deploy("sleepy", SLEEP, timeout_ms=20000)
        before = int(self.sql("SELECT count(*) FROM activations"))
        ids = []
        for i in range(12):
            r = self.api.post_json("/api/v1/namespaces/_/actions/sleepy", {"ms": 1500, "n": i})
            self.assertEqual(r.status, 202, r)
            ids.append(r.json()["activationId"])
        # The invokers fetch at once; 1 s into the 1.5 s calls, kill one without a chance to answer.
        victim = self.cluster.invokers[0]
        time.sleep(1.0)
        victim.kill()
        try:
            records = self.wait_for_records(ids, timeout_s=120)
            for aid in ids:
                self.assertEqual(records[aid]["response"]["status"], "success", records[aid])
            self.assertEqual(int(self.sql("SELECT count(*) FROM activations")), before + len(ids))
            self.assertEqual(self.sql("SELECT count(*) FROM pending_activations"), "0")
        finally:
            victim.start()
            self.cluster.wait_for_invokers()


if __name__ == "__main__":
    unittest.main()
