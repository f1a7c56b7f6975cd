"""Durable activations: an activation whose id a client got (a non-blocking 202, a blocking
invoke that timed out into 202, a trigger fire) runs and leaves its record under that id even
when the server is killed (SIGKILL) before it finished."""

import json
import os
import sqlite3
import time
import unittest

from harness import ACTIVATION_ID_RE, Server

SLOW = ("function main(p) { return new Promise(r => setTimeout(() => r({done: p.tag}), p.ms || 3000)); }")


class JournalTest(unittest.TestCase):

    def setUp(self):
        self.server = Server()
        self.addCleanup(self.server.cleanup)
        self.server.start()
        self.api = self.server.client()
        self.addCleanup(lambda: self.api.close())
        r = self.api.put_json("/api/v1/namespaces/_/actions/slow",
                              {"exec": {"kind": "nodejs:20", "code": SLOW}, "limits": {"timeout": 20000}})
        self.assertEqual(r.status, 200, r)

    def run(self, result=None):
        bad_before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > bad_before:
            print("\n----- hotrod log -----\n%s\n-----" % self.server.log_text())
        return out

    def restart_after_kill(self):
        self.api.close()
        self.server.kill()  # SIGKILL: no drain, no flush
        self.server.start()
        self.api = self.server.client()

    def wait_record(self, aid, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.api.get("/api/v1/namespaces/_/activations/%s" % aid)
            if r.status == 200:
                return r.json()
            self.assertEqual(r.status, 404, r)
            time.sleep(0.1)
        self.fail("activation %s has no record %ss after the restart" % (aid, timeout))

    def test_nonblocking_invoke_survives_kill(self):
        r = self.api.post_json("/api/v1/namespaces/_/actions/slow", {"tag": "nb", "ms": 3000})
        self.assertEqual(r.status, 202, r)
        aid = r.json()["activationId"]
        self.assertRegex(aid, ACTIVATION_ID_RE)
        time.sleep(0.3)  # running, far from done
        self.restart_after_kill()
        rec = self.wait_record(aid)
        self.assertEqual(rec["activationId"], aid)
        self.assertEqual(rec["response"]["result"], {"done": "nb"})
        # Exactly one record under that id, and the journal does not run it again on a restart.
        self.api.close()
        self.server.stop()
        self.server.start()
        self.api = self.server.client()
        time.sleep(1)
        recs = self.api.get("/api/v1/namespaces/_/activations?name=slow&limit=50").json()
        self.assertEqual([a["activationId"] for a in recs].count(aid), 1)
        self.assertEqual(len(recs), 1, recs)

    def test_200_accepted_async_calls_are_each_recorded_once_after_kill(self):
        import collections
        accepted, statuses = {}, collections.Counter()  # activation id -> tag
        for i in range(200):
            r = self.api.post_json("/api/v1/namespaces/_/actions/slow", {"tag": str(i), "ms": 300})
            statuses[r.status] += 1
            if r.status == 202:
                accepted[r.json()["activationId"]] = str(i)
        self.assertGreater(len(accepted), 0, statuses)
        self.restart_after_kill()  # most are queued or running: no drain, no flush
        for aid in accepted:
            self.wait_record(aid, timeout=120)
        records, skip = [], 0
        while True:
            page = self.api.get("/api/v1/namespaces/_/activations?name=slow&docs=true&limit=200&skip=%d" % skip).json()
            records += page
            if len(page) < 200:
                break
            skip += 200
        counts = collections.Counter(a["activationId"] for a in records)
        print("\nSIGKILL with async calls: statuses %s, accepted %d, recorded once %d, records %d"
              % (dict(statuses), len(accepted), sum(1 for a in accepted if counts[a] == 1), len(records)))
        self.assertEqual([a for a in accepted if counts[a] != 1], [])
        self.assertEqual(len(records), len(accepted))  # nothing ran that was not accepted
        for a in records:  # each ran with its own body
            self.assertEqual(a["response"]["result"], {"done": accepted[a["activationId"]]})

    def test_blocking_invoke_that_times_out_into_202_survives_kill(self):
        r = self.api.post_json("/api/v1/namespaces/_/actions/slow?blocking=true&timeout=200",
                               {"tag": "late", "ms": 3000})
        self.assertEqual(r.status, 202, r)
        aid = r.json()["activationId"]
        self.restart_after_kill()
        rec = self.wait_record(aid)
        self.assertEqual(rec["response"]["result"], {"done": "late"})

    def test_trigger_caused_activation_survives_kill_with_its_cause(self):
        self.api.put_json("/api/v1/namespaces/_/triggers/t", {})
        self.api.put_json("/api/v1/namespaces/_/rules/r", {"trigger": "/_/t", "action": "/_/slow"})
        r = self.api.post_json("/api/v1/namespaces/_/triggers/t", {"tag": "fired", "ms": 3000})
        self.assertEqual(r.status, 202, r)
        tid = r.json()["activationId"]
        time.sleep(0.3)  # the trigger's own record is written behind (~20 ms)
        trigger_rec = self.api.get("/api/v1/namespaces/_/activations/%s" % tid).json()
        caused = json.loads(trigger_rec["logs"][0])["activationId"]
        self.restart_after_kill()
        rec = self.wait_record(caused)
        self.assertEqual(rec["cause"], tid)
        self.assertEqual(rec["response"]["result"], {"done": "fired"})

    def pending_rows(self):
        db = sqlite3.connect(os.path.join(self.server.data_dir, "hotrod.db"), timeout=10)
        try:
            return db.execute("SELECT activation_id FROM pending_activations").fetchall()
        finally:
            db.close()

    def test_journal_empties_as_records_are_written(self):
        ids = [self.api.post_json("/api/v1/namespaces/_/actions/slow", {"tag": str(i), "ms": 2000}).json()["activationId"]
               for i in range(5)]
        self.assertEqual(len(self.pending_rows()), 5)  # journaled before the 202s
        for aid in ids:
            self.wait_record(aid)
        deadline = time.monotonic() + 5
        while self.pending_rows() and time.monotonic() < deadline:
            time.sleep(0.05)  # records are written in batches (~20 ms)
        self.assertEqual(self.pending_rows(), [])

    def test_completed_activation_is_not_run_again(self):
        r = self.api.post_json("/api/v1/namespaces/_/actions/slow", {"tag": "quick", "ms": 1})
        aid = r.json()["activationId"]
        self.wait_record(aid)
        time.sleep(0.2)  # let the record's batch commit (it removes the journal entry)
        self.restart_after_kill()
        time.sleep(1)
        recs = self.api.get("/api/v1/namespaces/_/activations?name=slow&limit=50").json()
        self.assertEqual([a["activationId"] for a in recs], [aid])


if __name__ == "__main__":
    unittest.main()
