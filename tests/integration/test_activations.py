"""Activation records: listing and its filters, logs and result, persistence across restarts."""

import secrets
import threading
import time
import unittest

from harness import ACTIVATION_ID_RE, Response, Server, ServerTestCase

ACT = ("function main(p) { console.log('run ' + p.i); return {i: p.i}; }")


class ActivationListTest(ServerTestCase):
    """One set of activations made up front: a, b, a, a, b (oldest first)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name in ("act-a", "act-b"):
            r = cls.api.put_json("/api/v1/namespaces/_/actions/" + name,
                                 {"exec": {"kind": "nodejs:20", "code": ACT}})
            assert r.status == 200, r
        cls.made = []  # (name, record), oldest first
        for i, name in enumerate(("act-a", "act-b", "act-a", "act-a", "act-b")):
            r = cls.api.post_json("/api/v1/namespaces/_/actions/%s?blocking=true" % name,
                                  {"i": i})
            assert r.status == 200, r
            cls.made.append((name, r.json()))
            time.sleep(0.02)  # distinct start times, at least a few ms apart
        cls.ids = [rec["activationId"] for _, rec in cls.made]

    def list(self, query=""):
        r = self.api.get("%s/activations%s" % (self.ns_path, query))
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.json(), list)
        return r.json()

    def test_list_is_newest_first_without_result_and_logs(self):
        listed = self.list("?limit=200")
        ids = [a["activationId"] for a in listed if a["activationId"] in self.ids]
        self.assertEqual(ids, list(reversed(self.ids)))
        starts = [a["start"] for a in listed]
        self.assertEqual(starts, sorted(starts, reverse=True))
        for a in listed:
            self.assertRegex(a["activationId"], ACTIVATION_ID_RE)
            self.assertNotIn("logs", a)
            self.assertNotIn("result", a.get("response", {}))
            for k in ("namespace", "name", "version", "start", "end", "duration"):
                self.assertIn(k, a)

    def test_default_limit_is_30(self):
        # 5 made up front; add 30 more to another action.
        self.create_action("act-many", "function main() { return {}; }")
        for _ in range(30):
            self.assertEqual(self.invoke("act-many", query="?blocking=true&result=true").status,
                             200)
        self.assertEqual(len(self.list()), 30)
        self.assertEqual(len(self.list("?limit=200")), 35)
        self.assertEqual(len(self.list("?name=act-many&limit=200")), 30)

    def test_name_filter(self):
        listed = self.list("?name=act-a")
        self.assertEqual([a["activationId"] for a in listed],
                         [rec["activationId"] for n, rec in reversed(self.made) if n == "act-a"])
        self.assertTrue(all(a["name"] == "act-a" for a in listed))
        self.assertEqual(self.list("?name=nobody"), [])

    def test_limit_and_skip(self):
        listed = self.list("?name=act-a&limit=2")
        a_ids = [rec["activationId"] for n, rec in reversed(self.made) if n == "act-a"]
        self.assertEqual([a["activationId"] for a in listed], a_ids[:2])
        listed = self.list("?name=act-a&limit=2&skip=1")
        self.assertEqual([a["activationId"] for a in listed], a_ids[1:3])
        self.assertEqual(self.list("?name=act-a&skip=3"), [])

    def test_since_and_upto(self):
        starts = [rec["start"] for _, rec in self.made]
        self.assertEqual(starts, sorted(starts))
        self.assertTrue(all(b - a >= 2 for a, b in zip(starts, starts[1:])),
                        "starts should be a few ms apart: %r" % starts)
        q = "?since=%d&upto=%d" % (starts[1] - 1, starts[3] + 1)
        self.assertEqual([a["activationId"] for a in self.list(q)], self.ids[3:0:-1])
        q = "?name=act-b&since=%d" % (starts[1] + 1)
        self.assertEqual([a["activationId"] for a in self.list(q)], [self.ids[4]])
        q = "?upto=%d" % (starts[0] - 1)
        self.assertNotIn(self.ids[0], [a["activationId"] for a in self.list(q)])

    def test_docs_true_includes_result_and_logs(self):
        listed = self.list("?name=act-b&docs=true")
        self.assertEqual(len(listed), 2)
        for a, (_, rec) in zip(listed, [m for m in reversed(self.made) if m[0] == "act-b"]):
            self.assertEqual(a["activationId"], rec["activationId"])
            self.assertEqual(a["response"], rec["response"])
            self.assertEqual(a["logs"], rec["logs"])

    def test_get_logs_and_result(self):
        name, rec = self.made[2]
        aid = rec["activationId"]
        r = self.api.get("%s/activations/%s" % (self.ns_path, aid))
        self.assertEqual(r.status, 200, r)
        full = r.json()
        for k in ("activationId", "name", "start", "end", "duration", "response", "logs",
                  "annotations", "namespace", "subject", "version"):
            self.assertEqual(full[k], rec[k], k)
        self.assertEqual(full["response"]["result"], {"i": 2})
        r = self.api.get("%s/activations/%s/logs" % (self.ns_path, aid))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"logs": rec["logs"]})
        self.assertTrue(r.json()["logs"][0].endswith(" stdout: run 2"), r.json())
        r = self.api.get("%s/activations/%s/result" % (self.ns_path, aid))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"status": "success", "statusCode": 0, "success": True,
                                    "result": {"i": 2}})

    def test_unknown_activation_is_404(self):
        unknown = secrets.token_hex(16)
        for suffix in ("", "/logs", "/result"):
            with self.subTest(suffix=suffix):
                r = self.api.get("%s/activations/%s%s" % (self.ns_path, unknown, suffix))
                self.assertError(r, 404, "The requested resource does not exist.")
        self.assertIn(self.api.get("%s/activations/not-an-id" % self.ns_path).status, (400, 404))

    def test_activations_need_auth_and_own_namespace(self):
        aid = self.ids[0]
        self.assertError(self.api.get("%s/activations/%s" % (self.ns_path, aid), auth=None), 401)
        self.assertError(self.api.get("/api/v1/namespaces/other/activations/%s" % aid), 404)


class ActivationPersistenceTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.addClassCleanup(cls.server.cleanup)

    @classmethod
    def tearDownClass(cls):
        pass

    def test_records_survive_a_restart(self):
        s = self.server
        s.start()
        api = s.client()
        r = api.put_json(self.action_path("persist"), {"exec": {"kind": "nodejs:20", "code": ACT}})
        self.assertEqual(r.status, 200, r)
        records = []
        for i in range(5):
            r = api.post_json(self.action_path("persist", "?blocking=true"), {"i": i})
            self.assertEqual(r.status, 200, r)
            records.append(r.json())
            time.sleep(0.005)  # distinct start times: the order of equal starts is not specified
        r = api.post_json(self.action_path("persist"), {"i": 99})  # non-blocking
        self.assertEqual(r.status, 202, r)
        pending = r.json()["activationId"]
        self.wait_activation(pending, client=api)
        api.close()
        # Stop at once: the records must be flushed on the way out.
        self.assertEqual(s.stop(), 0, "hotrod serve should exit 0 on SIGTERM")

        s.start()
        api = s.client()
        try:
            r = api.get("%s/activations?name=persist&limit=200" % self.ns_path)
            self.assertEqual(r.status, 200, r)
            listed = [a["activationId"] for a in r.json()]
            self.assertEqual(listed, [pending] + [rec["activationId"] for rec in reversed(records)])
            for rec in records:
                r = api.get("%s/activations/%s" % (self.ns_path, rec["activationId"]))
                self.assertEqual(r.status, 200, r)
                got = r.json()
                for k in ("response", "logs", "start", "end", "duration", "annotations"):
                    self.assertEqual(got[k], rec[k], k)
            # The action survived too and still runs.
            r = api.post_json(self.action_path("persist", "?blocking=true&result=true"), {"i": 7})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json(), {"i": 7})
        finally:
            api.close()
            self.assertEqual(s.stop(), 0, "hotrod serve should exit 0 on SIGTERM")

    def test_sigterm_during_a_blocking_call_answers_it_and_exits_0(self):
        s = self.server
        s.start()
        api = s.client()
        r = api.put_json(self.action_path("drain"),
                         {"exec": {"kind": "nodejs:20",
                                   "code": "function main(p) { return new Promise(r => "
                                           "setTimeout(() => r({done: true}), 1500)); }"}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(api.post_json(self.action_path("drain", "?blocking=true&result=true"),
                                       {}).status, 200)  # warm
        api.close()
        replies = []

        def call():
            c = s.client()
            try:
                replies.append(c.post_json(self.action_path("drain", "?blocking=true"), {}))
            except Exception as e:  # checked below
                replies.append(e)
            finally:
                c.close()

        t = threading.Thread(target=call)
        t.start()
        time.sleep(0.4)
        self.assertEqual(s.stop(), 0, "hotrod serve should exit 0 on SIGTERM")
        t.join(30)
        self.assertEqual(len(replies), 1)
        r = replies[0]
        self.assertIsInstance(r, Response, "the in-flight call got no HTTP reply: %r" % (r,))
        self.assertIn(r.status, (200, 503), r)
        if r.status == 200:
            # It was answered, so its record must have been kept.
            aid = r.json()["activationId"]
            s.start()
            api = s.client()
            try:
                got = api.get("%s/activations/%s" % (self.ns_path, aid))
                self.assertEqual(got.status, 200, got)
                self.assertEqual(got.json()["response"]["result"], {"done": True})
            finally:
                api.close()
                self.assertEqual(s.stop(), 0, "hotrod serve should exit 0 on SIGTERM")


if __name__ == "__main__":
    unittest.main()
