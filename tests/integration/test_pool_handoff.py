"""Calls queued behind a busy instance are handed the instance one by one (a
freed lease wakes the oldest waiting call of its action), through the real server: none is lost
or stuck, each gets its own result and its own log lines."""

import os
import threading
import time
import unittest

from harness import ServerTestCase

IS_ROOT = os.geteuid() == 0

# Logs and returns its own tag after a short sleep, so a queued call's record can be told apart.
TAGGED_SLEEPER = r"""
function main(p) {
  console.log('run ' + p.tag);
  return new Promise(r => setTimeout(() => r({tag: p.tag, pid: process.pid}), p.ms));
}
"""


@unittest.skipUnless(IS_ROOT, "instances need the sandbox, which needs root")
class QueueHandOffTest(ServerTestCase):
    # One instance per action and room to wait: every call but one queues behind it.
    server_args = ("--stem-cells", "0", "--max-per-action", "1", "--max-queue", "16")

    def test_queued_calls_each_get_the_instance_in_turn_with_their_own_result_and_logs(self):
        self.create_action("handoff", TAGGED_SLEEPER, limits={"memory": 128, "timeout": 20000})
        self.assertEqual(self.invoke("handoff", {"tag": "warm", "ms": 0}).status, 200)  # warm
        n, ms = 6, 200
        replies = [None] * n

        def call(i):
            client = self.server.client()
            try:
                replies[i] = client.post_json(self.action_path("handoff", "?blocking=true"),
                                              {"tag": f"t{i}", "ms": ms})
            finally:
                client.close()

        started = time.monotonic()
        threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        self.assertTrue(all(r is not None and r.status == 200 for r in replies), replies)
        records = [r.json() for r in replies]
        for i, record in enumerate(records):
            self.assertEqual(record["response"]["result"]["tag"], f"t{i}", record)
            self.assertEqual(len(record["logs"]), 1, record["logs"])
            self.assertTrue(record["logs"][0].endswith(f"stdout: run t{i}"), record["logs"])
        self.assertEqual(len({rec["response"]["result"]["pid"] for rec in records}), 1,
                         "one instance served every call")
        self.assertGreaterEqual(elapsed, n * ms / 1000 * 0.9, "the calls ran one after another")


if __name__ == "__main__":
    unittest.main()
