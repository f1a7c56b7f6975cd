"""limits.concurrency against the real server: a Node.js instance takes up to N calls at once
before the action scales out, each record keeps only its own console lines, a timeout ends
every call on the instance, and kinds whose runtime cannot multiplex refuse concurrency > 1."""

import os
import threading
import time
import unittest

from harness import ServerTestCase, annotation, metric

IS_ROOT = os.geteuid() == 0

SLEEPER = r"""
globalThis.instanceId = globalThis.instanceId || Math.random().toString(36).slice(2);
async function main(p) {
  console.log('call ' + p.i + ' starts');
  await new Promise(r => setTimeout(r, p.ms));
  console.error('call ' + p.i + ' ends');
  if (p.exit) process.exit(3);
  return {instance: globalThis.instanceId, i: p.i};
}
"""


@unittest.skipUnless(IS_ROOT, "instances need the sandbox, which needs root")
class ConcurrencyTest(ServerTestCase):
    def call_parallel(self, name, params_list):
        replies = [None] * len(params_list)

        def call(i):
            client = self.server.client()
            try:
                replies[i] = client.post_json(self.action_path(name, "?blocking=true"), params_list[i])
            finally:
                client.close()

        threads = [threading.Thread(target=call, args=(i,)) for i in range(len(params_list))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return replies

    def test_one_instance_takes_n_calls_at_once_with_separate_logs(self):
        body = self.create_action("conc4", SLEEPER, limits={"concurrency": 4, "timeout": 20000})
        self.assertEqual(body["limits"]["concurrency"], 4)
        before = metric(self.api, "hotrod_pool_cold_starts_total")
        replies = self.call_parallel("conc4", [{"i": i, "ms": 500} for i in range(4)])
        self.assertTrue(all(r.status == 200 for r in replies), replies)
        self.assertEqual(metric(self.api, "hotrod_pool_cold_starts_total") - before, 1,
                         "four calls, one instance")
        records = [r.json() for r in replies]
        self.assertEqual(len({rec["response"]["result"]["instance"] for rec in records}), 1, records)
        self.assertEqual(sum(1 for rec in records if annotation(rec, "coldStart", None)), 1)
        self.assertLess(max(rec["start"] for rec in records), min(rec["end"] for rec in records),
                        "the four calls ran at the same time, not one after another")
        for i, rec in enumerate(records):
            self.assertEqual(rec["response"]["result"]["i"], i, rec)
            texts = [line.split(": ", 1)[1] for line in rec["logs"]]
            self.assertEqual(texts, ["call %d starts" % i, "call %d ends" % i], rec["logs"])
            self.assertIn(" stdout: call %d starts" % i, rec["logs"][0])
            self.assertIn(" stderr: call %d ends" % i, rec["logs"][1])
        # Warm now: four more calls still fit on the one instance.
        replies = self.call_parallel("conc4", [{"i": i, "ms": 300} for i in range(4)])
        self.assertTrue(all(r.status == 200 for r in replies), replies)
        self.assertEqual(metric(self.api, "hotrod_pool_cold_starts_total") - before, 1)

    def test_concurrency_one_still_scales_out(self):
        self.create_action("conc1", SLEEPER, limits={"timeout": 20000})
        before = metric(self.api, "hotrod_pool_cold_starts_total")
        replies = self.call_parallel("conc1", [{"i": i, "ms": 1000} for i in range(2)])
        self.assertTrue(all(r.status == 200 for r in replies), replies)
        self.assertEqual(len({r.json()["response"]["result"]["instance"] for r in replies}), 2)
        self.assertEqual(metric(self.api, "hotrod_pool_cold_starts_total") - before, 2)
        for i, r in enumerate(replies):
            texts = [line.split(": ", 1)[1] for line in r.json()["logs"]]
            self.assertEqual(texts, ["call %d starts" % i, "call %d ends" % i])

    def test_a_timeout_ends_every_call_on_the_instance(self):
        # 3 s: the cold start's init counts against the timeout too (as in OpenWhisk), and a
        # loaded 2-core machine has taken over 1 s to boot Node.js.
        self.create_action("conc-timeout", SLEEPER, limits={"concurrency": 2, "timeout": 3000})
        self.assertEqual(self.invoke("conc-timeout", {"i": 0, "ms": 1}).status, 200)  # warm
        slow = {}

        def call_slow():
            client = self.server.client()
            try:
                slow["r"] = client.post_json(self.action_path("conc-timeout", "?blocking=true"),
                                             {"i": 1, "ms": 5000})
            finally:
                client.close()

        t = threading.Thread(target=call_slow)
        t.start()
        time.sleep(0.2)
        other = self.invoke("conc-timeout", {"i": 2, "ms": 4000})
        t.join()
        rec = slow["r"].json()
        self.assertEqual(rec["response"]["status"], "action developer error", rec)
        self.assertIn("exceeded its time limits of 3000 milliseconds", rec["response"]["result"]["error"])
        self.assertEqual([l.split(": ", 1)[1] for l in rec["logs"]], ["call 1 starts"])
        rec = other.json()
        self.assertEqual(rec["response"]["status"], "action developer error", rec)
        self.assertEqual(rec["response"]["result"]["error"],
                         "The action did not produce a valid response and exited unexpectedly.")
        self.assertEqual([l.split(": ", 1)[1] for l in rec["logs"]], ["call 2 starts"])
        # The next call gets a new instance.
        self.assertEqual(self.invoke("conc-timeout", {"i": 3, "ms": 1}).status, 200)

    def test_an_exit_ends_every_call_on_the_instance(self):
        self.create_action("conc-exit", SLEEPER, limits={"concurrency": 3, "timeout": 20000})
        replies = self.call_parallel("conc-exit", [{"i": 0, "ms": 300, "exit": True}, {"i": 1, "ms": 3000}])
        for r in replies:
            rec = r.json()
            self.assertEqual(rec["response"]["result"]["error"],
                             "The action did not produce a valid response and exited unexpectedly.", rec)

    def test_kinds_without_concurrency_support_refuse_more_than_one(self):
        r = self.api.put_json(self.action_path("py-conc"), {
            "exec": {"kind": "python:3.11", "code": "def main(a):\n    return a\n"},
            "limits": {"concurrency": 2}})
        self.assertError(r, 400, contains="does not support concurrency")
        self.assertEqual(self.api.get(self.action_path("py-conc")).status, 404, "nothing stored")
        self.create_action("py-conc", "def main(a):\n    return a\n", kind="python:3.11",
                           limits={"concurrency": 1})
        r = self.api.put_json(self.action_path("node-conc-big"), {
            "exec": {"kind": "nodejs:20", "code": "function main() { return {}; }"},
            "limits": {"concurrency": 501}})
        self.assertError(r, 400, contains="concurrency")


if __name__ == "__main__":
    unittest.main()
