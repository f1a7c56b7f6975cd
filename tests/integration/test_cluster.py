"""A cluster on loopback (cluster.py): one controller and two invokers, each with its own data
directory, sharing a real PostgreSQL and a real nats-server. Calls go in through the controller
and run on the invokers; every accepted call ends with exactly one record, also when an invoker is
killed with SIGKILL while it runs them (docs/cluster.md, "No accepted work lost")."""

import time
import unittest

from cluster import Cluster

ECHO = "function main(p) { return {echo: p.word}; }"
SLEEP = ("function main(p) { return new Promise(r => setTimeout(() => r({slept: p.ms, n: p.n}), p.ms)); }")


class ClusterTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster("it", controllers=1, invokers=2)
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


if __name__ == "__main__":
    unittest.main()
