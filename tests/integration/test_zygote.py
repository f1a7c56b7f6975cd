"""Python zygote (serve --python-zygote): cold starts of Python actions forked from a
pre-initialised zygote behave exactly like any other cold start: params, env, logs, zip code,
limits, warm reuse; and the record says how the instance was made."""

import os
import re
import signal
import time
import unittest

from harness import ServerTestCase, annotation, b64, metric, wait_for, zip_bytes

IS_ROOT = os.geteuid() == 0

PROBE_PY = r'''
import sys
print("hello from", "stdout")
print("and from stderr", file=sys.stderr)

def main(args):
    import os
    print("run", args.get("n"))
    return {"params": args, "name": os.environ.get("__OW_ACTION_NAME"), "pid": os.getpid(),
            "uid": os.getuid(), "tmp_writable": os.access("/tmp", os.W_OK)}
'''

HOG_PY = r'''
def main(args):
    hog = []
    for _ in range(args.get("mb", 400)):
        hog.append(bytearray(1 << 20))
    return {"held_mb": len(hog)}
'''


def wait_zygote_ready(server, timeout=30):
    deadline = time.monotonic() + timeout
    while not re.search(r"python zygote \d+ ready", server.log_text()):
        if time.monotonic() > deadline:
            raise AssertionError("the python zygote did not come up:\n" + server.log_text())
        time.sleep(0.05)


@unittest.skipUnless(IS_ROOT, "the zygote runs in the namespace sandbox, which needs root")
class ZygoteColdStartTest(ServerTestCase):
    # No stem cells: every Python cold start goes through the zygote.
    server_args = ("--python-zygote", "--stem-cells", "0", "--sandboxes-ahead", "0")

    def setUp(self):
        super().setUp()
        wait_zygote_ready(self.server)

    def deploy(self, name, code, **fields):
        self.create_action(name, code, kind="python:3.11", overwrite=True, **fields)
        self.addCleanup(self.api.delete, self.action_path(name))

    def test_cold_start_through_the_zygote_gets_params_env_and_logs(self):
        self.deploy("zprobe", PROBE_PY)
        r = self.invoke("zprobe", {"n": 1})
        self.assertEqual(r.status, 200, r)
        rec = r.json()
        cold = annotation(rec, "coldStart")
        self.assertIs(cold["zygote"], True, rec)
        self.assertIs(cold["stemCell"], False, rec)
        self.assertEqual(cold["bootUs"], 0, cold)  # the interpreter was already up
        result = rec["response"]["result"]
        self.assertEqual(result["params"], {"n": 1})
        self.assertEqual(result["name"], "/guest/zprobe")
        self.assertEqual(result["pid"], 2)  # the child of its own pid namespace's init (hotrod-init)
        self.assertNotEqual(result["uid"], 0)
        self.assertIs(result["tmp_writable"], True)
        logs = [l.split(": ", 1)[1] for l in rec["logs"]]
        self.assertEqual(sorted(logs), sorted(["hello from stdout", "and from stderr", "run 1"]), rec["logs"])
        # The next call is warm, on the same instance, with only its own log line.
        r2 = self.invoke("zprobe", {"n": 2})
        rec2 = r2.json()
        self.assertIsNone(annotation(rec2, "coldStart", None), rec2)
        self.assertEqual(rec2["response"]["result"]["params"], {"n": 2})
        self.assertEqual([l.split(": ", 1)[1] for l in rec2["logs"]], ["run 2"])

    def test_zip_action_through_the_zygote(self):
        code = zip_bytes({"__main__.py": "import helper\ndef main(a):\n    return {'v': helper.V}\n",
                          "helper.py": "V = 42\n"})
        self.create_action("zzip", b64(code), kind="python:3.11", overwrite=True)
        self.addCleanup(self.api.delete, self.action_path("zzip"))
        rec = self.invoke("zzip").json()
        self.assertIs(annotation(rec, "coldStart")["zygote"], True, rec)
        self.assertEqual(rec["response"]["result"], {"v": 42})

    def test_memory_limit_is_the_actions_own(self):
        self.deploy("zhog", HOG_PY, limits={"memory": 128})
        r = self.invoke("zhog", {"mb": 400})
        rec = r.json()
        self.assertIs(annotation(rec, "coldStart")["zygote"], True, rec)
        self.assertEqual(rec["response"]["status"], "action developer error", rec)
        self.assertIn("memory limit of 128 MB", rec["response"]["result"]["error"])
        # Under the limit the same code runs (the limit is the action's, not the zygote's).
        self.deploy("zfits", HOG_PY, limits={"memory": 256})
        ok = self.invoke("zfits", {"mb": 64}).json()
        self.assertEqual(ok["response"]["result"], {"held_mb": 64}, ok)

    def test_init_error_is_reported_and_the_next_cold_start_works(self):
        self.deploy("zbroken", "def main(args):\n    return {\n")
        rec = self.invoke("zbroken").json()
        self.assertIs(annotation(rec, "coldStart")["zygote"], True, rec)
        self.assertIn("SyntaxError", rec["response"]["result"]["error"])
        self.deploy("zfine", "def main(args):\n    return {'ok': True}\n")
        self.assertEqual(self.invoke("zfine").json()["response"]["result"], {"ok": True})

    def test_many_cold_starts_each_get_a_distinct_uid(self):
        uids = set()
        for i in range(4):
            self.deploy("zmany%d" % i, PROBE_PY)
            rec = self.invoke("zmany%d" % i).json()
            self.assertIs(annotation(rec, "coldStart")["zygote"], True, rec)
            uids.add(rec["response"]["result"]["uid"])
        self.assertEqual(len(uids), 4, uids)


def zygote_pid(server):
    """The zygote: the server's child running zygote.py (its instances are the zygote's children)."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/stat" % name) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == server.proc.pid and b"/runtime/python/zygote.py" in cmd:
            return int(name)
    return None


@unittest.skipUnless(IS_ROOT, "the zygote runs in the namespace sandbox, which needs root")
class ZygoteRestartTest(ServerTestCase):
    server_args = ("--python-zygote", "--stem-cells", "0", "--sandboxes-ahead", "0")

    def test_a_killed_zygote_costs_no_call_and_is_replaced(self):
        wait_zygote_ready(self.server)
        first = zygote_pid(self.server)
        self.assertIsNotNone(first)
        os.kill(first, signal.SIGKILL)
        # Calls go on (a fresh sandbox while no zygote is up), and a new zygote comes up.
        self.create_action("zafter", "def main(a):\n    return {'ok': 1}\n", kind="python:3.11")
        rec = self.invoke("zafter").json()
        self.assertEqual(rec["response"]["result"], {"ok": 1}, rec)
        deadline = time.monotonic() + 30
        while len(re.findall(r"python zygote \d+ ready", self.server.log_text())) < 2:
            self.assertLess(time.monotonic(), deadline, self.server.log_text())
            time.sleep(0.05)
        second = zygote_pid(self.server)
        self.assertNotIn(second, (None, first))
        self.create_action("zlater", "def main(a):\n    return {'ok': 2}\n", kind="python:3.11")
        rec = self.invoke("zlater").json()
        self.assertIs(annotation(rec, "coldStart")["zygote"], True, rec)
        self.assertEqual(rec["response"]["result"], {"ok": 2})


@unittest.skipUnless(IS_ROOT, "the zygote runs in the namespace sandbox, which needs root")
class ZygotePreparedSandboxFirstTest(ServerTestCase):
    # Sandboxes prepared ahead (the default 2) are faster than a fork per call
    # (docs/performance.md): while one is ready, a cold Python call launches into it; the zygote
    # forks for a call only when none is.
    server_args = ("--python-zygote", "--stem-cells", "0")

    def test_a_ready_prepared_sandbox_wins_over_a_fork(self):
        wait_zygote_ready(self.server)
        self.assertTrue(wait_for(lambda: metric(self.api, "hotrod_sandboxes_ready_ahead") >= 1),
                        "no sandbox was prepared ahead")
        self.create_action("zahead", "def main(a):\n    return {'ok': True}\n", kind="python:3.11")
        rec = self.invoke("zahead").json()
        self.assertEqual(rec["response"]["result"], {"ok": True}, rec)
        cold = annotation(rec, "coldStart")
        self.assertIs(cold["zygote"], False, rec)
        self.assertIs(cold["stemCell"], False, rec)


@unittest.skipUnless(IS_ROOT, "the zygote runs in the namespace sandbox, which needs root")
class ZygoteOffByDefaultTest(ServerTestCase):
    server_args = ("--stem-cells", "0")

    def test_without_the_flag_cold_starts_are_fresh(self):
        self.create_action("zoff", "def main(a):\n    return {}\n", kind="python:3.11")
        rec = self.invoke("zoff").json()
        cold = annotation(rec, "coldStart")
        self.assertIs(cold["zygote"], False, rec)
        self.assertIs(cold["stemCell"], False, rec)
        self.assertNotIn("python zygote", self.server.log_text())


if __name__ == "__main__":
    unittest.main()
