"""What happens when functions misbehave: time limits, crashes, floods of logs, huge results."""

import re
import unittest

from harness import LOG_LINE_RE, ServerTestCase, annotation

# Each instance draws a random id when it loads (a pid says nothing inside a pid namespace).
LOOP = ("const instance = Math.random().toString(36).slice(2);\n"
        "function main(p) { if (p.loop) { while (true) {} } return {ok: true, instance}; }")
EXIT_NODE = "function main(p) { if (p.exit) { process.exit(1); } return {ok: true}; }"
EXIT_PY = ("import os\n\ndef main(args):\n    if args.get('exit'):\n        os._exit(1)\n"
           "    return {'ok': True}\n")


class TimeLimitTest(ServerTestCase):

    def assert_healthy_call(self, name):
        r = self.invoke(name, query="?blocking=true&result=true")
        self.assertEqual(r.status, 200, "the call after a failure: %r" % r)
        self.assertEqual(r.json().get("ok"), True)
        return r.json()

    def test_action_timeout_is_enforced_and_instance_replaced(self):
        self.create_action("loop", LOOP, limits={"timeout": 500})
        first = self.assert_healthy_call("loop")
        r = self.invoke("loop", {"loop": True})
        self.assertEqual(r.status, 502, r)
        rec = r.json()
        self.assertEqual(rec["statusCode"], 2)
        self.assertEqual(rec["response"]["status"], "action developer error")
        self.assertEqual(rec["response"]["result"],
                         {"error": "The action exceeded its time limits of 500 milliseconds."})
        self.assertIs(annotation(rec, "timeout"), True)
        self.assertGreaterEqual(rec["duration"], 500)
        self.assertEqual(r.header("x-openwhisk-activation-id"), rec["activationId"])
        after = self.assert_healthy_call("loop")
        self.assertNotEqual(after["instance"], first["instance"],
                            "the instance stuck in a loop should have been replaced")
        # The stored record says the same.
        stored = self.wait_activation(rec["activationId"])
        self.assertEqual(stored["response"], rec["response"])

    def test_python_timeout(self):
        self.create_action("py-loop", "def main(args):\n    while args.get('loop'):\n"
                                      "        pass\n    return {'ok': True}\n",
                           kind="python:3.11", limits={"timeout": 500})
        r = self.invoke("py-loop", {"loop": True})
        self.assertEqual(r.status, 502, r)
        self.assertEqual(r.json()["response"]["result"],
                         {"error": "The action exceeded its time limits of 500 milliseconds."})
        self.assert_healthy_call("py-loop")

    def test_node_process_exit_is_reported_and_next_call_works(self):
        self.create_action("exit-node", EXIT_NODE)
        self.assert_healthy_call("exit-node")
        r = self.invoke("exit-node", {"exit": True})
        self.assert_crash_record(r)
        self.assert_healthy_call("exit-node")

    def test_python_os_exit_is_reported_and_next_call_works(self):
        self.create_action("exit-py", EXIT_PY, kind="python:3.11")
        self.assert_healthy_call("exit-py")
        r = self.invoke("exit-py", {"exit": True})
        self.assert_crash_record(r)
        self.assert_healthy_call("exit-py")

    def test_exit_during_init_is_reported(self):
        self.create_action("exit-init", "process.exit(3);\nfunction main() { return {}; }")
        r = self.invoke("exit-init")
        self.assert_crash_record(r)

    def assert_crash_record(self, r):
        self.assertEqual(r.status, 502, r)
        rec = r.json()
        self.assertEqual(rec["statusCode"], 2, rec)
        self.assertEqual(rec["response"]["status"], "action developer error")
        err = rec["response"]["result"].get("error")
        self.assertIsInstance(err, str)
        self.assertRegex(err, re.compile(r"exit|crash", re.I),
                         "the error should say the instance exited/crashed")


class LogsTest(ServerTestCase):

    def test_lines_in_order_and_labelled(self):
        self.create_action("logs-order",
                           "function main() {\n"
                           "  for (let i = 0; i < 50; i++) { console.log('out ' + i);"
                           " console.error('err ' + i); }\n"
                           "  return {};\n}")
        r = self.invoke("logs-order")
        self.assertEqual(r.status, 200, r)
        logs = r.json()["logs"]
        parsed = [LOG_LINE_RE.match(l) for l in logs]
        self.assertTrue(all(parsed), [l for l, m in zip(logs, parsed) if not m][:5])
        out = [m.group(4) for m in parsed if m.group(3) == "stdout"]
        err = [m.group(4) for m in parsed if m.group(3) == "stderr"]
        self.assertEqual(out, ["out %d" % i for i in range(50)])
        self.assertEqual(err, ["err %d" % i for i in range(50)])
        times = [m.group(1) for m in parsed]
        self.assertEqual(times, sorted(times), "log timestamps go backwards")
        self.assertFalse(any("XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX" in l for l in logs))

    def test_output_without_final_newline_is_kept(self):
        self.create_action("logs-nonl", "function main() { process.stdout.write('a\\nno newline');"
                                        " return {done: true}; }", limits={"timeout": 5000})
        for _ in range(2):  # and the instance still serves the next call
            r = self.invoke("logs-nonl")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["response"]["result"], {"done": True})
            lines = [LOG_LINE_RE.match(l).group(4) for l in r.json()["logs"]]
            self.assertEqual(lines, ["a", "no newline"])

    def test_logs_of_consecutive_activations_do_not_mix(self):
        self.create_action("logs-mix", "def main(args):\n    for i in range(20):\n"
                                       "        print('call', args['n'], i)\n    return {}\n",
                           kind="python:3.11")
        for n in range(3):
            r = self.invoke("logs-mix", {"n": n})
            self.assertEqual(r.status, 200, r)
            lines = [LOG_LINE_RE.match(l).group(4) for l in r.json()["logs"]]
            self.assertEqual(lines, ["call %d %d" % (n, i) for i in range(20)])
            stored = self.api.get("%s/activations/%s/logs"
                                  % (self.ns_path, r.json()["activationId"]))
            self.assertEqual(stored.status, 200, stored)
            self.assertEqual(stored.json(), {"logs": r.json()["logs"]})

    def test_output_of_init_belongs_to_the_first_activation(self):
        self.create_action("logs-init", "console.log('loading');\n"
                                        "function main() { console.log('running'); return {}; }")
        r = self.invoke("logs-init")
        lines = [LOG_LINE_RE.match(l).group(4) for l in r.json()["logs"]]
        self.assertEqual(lines, ["loading", "running"])
        r = self.invoke("logs-init")
        lines = [LOG_LINE_RE.match(l).group(4) for l in r.json()["logs"]]
        self.assertEqual(lines, ["running"])

    def test_huge_log_is_truncated_and_server_stays_healthy(self):
        # 20 MB of output against a 1 MB cap; the function must still finish in time.
        self.create_action("logs-flood",
                           "import sys\n\ndef main(args):\n    line = 'x' * 999\n"
                           "    for i in range(20000):\n        print(line)\n"
                           "    sys.stderr.write('done\\n')\n    return {'ok': True}\n",
                           kind="python:3.11",
                           limits={"timeout": 30000, "memory": 256, "logs": 1, "concurrency": 1})
        r = self.invoke("logs-flood")
        self.assertEqual(r.status, 200, r)
        rec = r.json()
        self.assertEqual(rec["response"]["result"], {"ok": True})
        logs = rec["logs"]
        total = sum(len(l) for l in logs)
        self.assertLessEqual(total, (1 << 20) + 128 * 1024, "logs not capped at 1 MB")
        self.assertGreaterEqual(total, 512 * 1024, "logs cut far below the 1 MB cap")
        self.assertRegex(logs[-1], re.compile("truncat", re.I),
                         "the last line should say the logs were truncated")
        self.assertEqual(self.api.get("/healthz", auth=None).status, 200)
        r = self.invoke("logs-flood", query="")
        self.assertEqual(r.status, 202, r)
        self.wait_activation(r.json()["activationId"], timeout=40)
        # Logs limit 0: nothing but (at most) the truncation line.
        self.create_action("logs-zero", "function main() { console.log('hidden'); return {}; }",
                           limits={"logs": 0})
        r = self.invoke("logs-zero")
        self.assertEqual(r.status, 200, r)
        self.assertFalse(any(l.endswith("hidden") for l in r.json()["logs"]), r.json()["logs"])


class ResultSizeTest(ServerTestCase):

    def test_result_over_1mb_is_developer_error_naming_the_limit(self):
        self.create_action("big-result", "function main(p) { return {s: 'x'.repeat(p.n)}; }")
        r = self.invoke("big-result", {"n": 900 * 1000}, query="?blocking=true&result=true")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json()["s"]), 900 * 1000)
        r = self.invoke("big-result", {"n": 2 * 1024 * 1024})
        self.assertEqual(r.status, 502, r)
        rec = r.json()
        self.assertEqual(rec["response"]["statusCode"], 2)
        self.assertIn("exceeded the allowed length", rec["response"]["result"]["error"])
        r = self.invoke("big-result", {"n": 10}, query="?blocking=true&result=true")
        self.assertEqual(r.status, 200, r)


if __name__ == "__main__":
    unittest.main()
