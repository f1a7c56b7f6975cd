"""Invoking actions: blocking and non-blocking replies, the activation record, failures."""

import threading
import time
import unittest

from harness import (ACTIVATION_ID_RE, LOG_LINE_RE, ServerTestCase, annotation)

ECHO = "function main(params) { console.log('echo'); return {params: params}; }"
SLEEP = ("function main(p) { return new Promise(r => setTimeout(() => r({slept: p.ms}), p.ms)); }")


class InvokeTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api.put_json("/api/v1/namespaces/_/actions/echo",
                         {"exec": {"kind": "nodejs:20", "code": ECHO},
                          "parameters": [{"key": "a", "value": 1}, {"key": "b", "value": "dflt"}],
                          "limits": {"timeout": 5000, "memory": 256, "logs": 10,
                                     "concurrency": 1}})
        cls.api.put_json("/api/v1/namespaces/_/actions/sleep",
                         {"exec": {"kind": "nodejs:20", "code": SLEEP},
                          "limits": {"timeout": 10000}})

    def assert_activation_header(self, r):
        aid = r.header("x-openwhisk-activation-id")
        self.assertIsNotNone(aid, "no x-openwhisk-activation-id header on %r" % r)
        self.assertRegex(aid, ACTIVATION_ID_RE)
        return aid

    def test_blocking_record_has_openwhisk_shape(self):
        self.create_action("shape", "function main(p) { console.log('hello'); "
                                    "console.error('oops'); return {payload: 'hi'}; }")
        t0 = int(time.time() * 1000)
        r = self.invoke("shape", {"x": 1})
        t1 = int(time.time() * 1000)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("content-type").startswith("application/json"))
        aid = self.assert_activation_header(r)
        rec = r.json()
        self.assertEqual(rec["activationId"], aid)
        self.assertEqual(rec["namespace"], "guest")
        self.assertEqual(rec["name"], "shape")
        self.assertEqual(rec["version"], "0.0.1")
        self.assertEqual(rec["subject"], "guest")
        self.assertIs(rec["publish"], False)
        for k in ("start", "end", "duration"):
            self.assertIsInstance(rec[k], int, k)
        self.assertLessEqual(t0 - 5, rec["start"])
        self.assertLessEqual(rec["start"], rec["end"])
        self.assertLessEqual(rec["end"], t1 + 5)
        self.assertEqual(rec["duration"], rec["end"] - rec["start"])
        self.assertEqual(rec["statusCode"], 0)
        self.assertEqual(rec["response"], {"status": "success", "statusCode": 0, "success": True,
                                           "result": {"payload": "hi"}})
        self.assertEqual(len(rec["logs"]), 2, rec["logs"])
        parsed = [LOG_LINE_RE.match(line) for line in rec["logs"]]
        self.assertTrue(all(parsed), rec["logs"])
        self.assertEqual(sorted((m.group(3), m.group(4)) for m in parsed),
                         [("stderr", "oops"), ("stdout", "hello")])
        self.assertEqual(annotation(rec, "path"), "guest/shape")
        self.assertEqual(annotation(rec, "kind"), "nodejs:20")
        self.assertIs(annotation(rec, "timeout"), False)
        self.assertEqual(annotation(rec, "limits"),
                         {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1})
        self.assertIsInstance(annotation(rec, "waitTime"), int)
        self.assertIsInstance(annotation(rec, "initTime"), int, "a cold call reports initTime")
        # The record is stored as it was returned.
        stored = self.wait_activation(aid)
        self.assertEqual(stored["response"], rec["response"])
        self.assertEqual(stored["logs"], rec["logs"])
        self.assertEqual(stored["start"], rec["start"])
        # A warm call has no initTime.
        r = self.invoke("shape")
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(annotation(r.json(), "initTime", None),
                          "a warm call should not report initTime")
        self.assertNotEqual(r.json()["activationId"], aid)

    def test_result_true_returns_only_the_result(self):
        r = self.invoke("echo", {"b": "mine", "c": [1, 2]}, query="?blocking=true&result=true")
        self.assertEqual(r.status, 200, r)
        self.assert_activation_header(r)
        self.assertEqual(r.json(), {"params": {"a": 1, "b": "mine", "c": [1, 2]}})

    def test_empty_body_means_no_parameters(self):
        r = self.api.request("POST", self.action_path("echo", "?blocking=true&result=true"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"params": {"a": 1, "b": "dflt"}})

    def test_invoke_body_must_be_a_json_object(self):
        for body in (b"{nope", b"[1,2]", b'"str"', b"12"):
            with self.subTest(body=body):
                r = self.api.request("POST", self.action_path("echo", "?blocking=true"),
                                     body=body, headers={"Content-Type": "application/json"})
                self.assertError(r, 400)

    def test_invoke_with_non_json_content_type_is_415(self):
        r = self.api.request("POST", self.action_path("echo", "?blocking=true"), body=b"a=1",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertError(r, 415)

    def test_invoke_unknown_action_is_404(self):
        self.assertError(self.invoke("no-such-action"), 404)
        self.assertError(self.invoke("no-such-action", query=""), 404)

    def test_non_blocking_is_202_then_record_appears(self):
        r = self.invoke("echo", {"n": 1}, query="")
        self.assertEqual(r.status, 202, r)
        aid = self.assert_activation_header(r)
        self.assertEqual(r.json(), {"activationId": aid})
        rec = self.wait_activation(aid)
        self.assertEqual(rec["activationId"], aid)
        self.assertEqual(rec["response"]["result"], {"params": {"a": 1, "b": "dflt", "n": 1}})
        r = self.invoke("echo", query="?blocking=false")
        self.assertEqual(r.status, 202, r)

    def test_blocking_wait_shorter_than_the_call_gives_202_and_the_record_later(self):
        t0 = time.monotonic()
        r = self.invoke("sleep", {"ms": 2500}, query="?blocking=true&timeout=300")
        waited = time.monotonic() - t0
        self.assertEqual(r.status, 202, r)
        aid = self.assert_activation_header(r)
        self.assertEqual(r.json(), {"activationId": aid})
        self.assertLess(waited, 2.4, "the server waited for the call instead of the given timeout")
        rec = self.wait_activation(aid, timeout=15)
        self.assertEqual(rec["response"]["result"], {"slept": 2500})
        self.assertEqual(rec["statusCode"], 0)

    def test_application_error_is_502_status_code_1(self):
        self.create_action("app-err", "function main() { return {error: {reason: 'nope'}}; }")
        r = self.invoke("app-err")
        self.assertEqual(r.status, 502, r)
        aid = self.assert_activation_header(r)
        rec = r.json()
        self.assertEqual(rec["activationId"], aid)
        self.assertEqual(rec["statusCode"], 1)
        self.assertEqual(rec["response"], {"status": "application error", "statusCode": 1,
                                           "success": False,
                                           "result": {"error": {"reason": "nope"}}})
        r = self.invoke("app-err", query="?blocking=true&result=true")
        self.assertEqual(r.status, 502, r)
        self.assert_activation_header(r)
        self.assertEqual(r.json(), {"error": {"reason": "nope"}})

    def test_rejected_promise_is_application_error(self):
        self.create_action("reject", "function main() { return Promise.reject(new Error('bad')); }")
        r = self.invoke("reject")
        self.assertEqual(r.status, 502, r)
        rec = r.json()
        self.assertEqual(rec["response"]["statusCode"], 1)
        self.assertEqual(rec["response"]["result"], {"error": "bad"})

    def test_thrown_error_is_502_developer_error(self):
        self.create_action("throws", "function main() { throw new Error('boom-42'); }")
        r = self.invoke("throws")
        self.assertEqual(r.status, 502, r)
        self.assert_activation_header(r)
        rec = r.json()
        self.assertEqual(rec["statusCode"], 2)
        self.assertEqual(rec["response"]["status"], "action developer error")
        self.assertEqual(rec["response"]["statusCode"], 2)
        self.assertIs(rec["response"]["success"], False)
        self.assertIn("boom-42", rec["response"]["result"]["error"])

    def test_non_object_result_is_developer_error(self):
        self.create_action("returns-num", "function main() { return 5; }")
        r = self.invoke("returns-num")
        self.assertEqual(r.status, 502, r)
        rec = r.json()
        self.assertEqual(rec["response"]["statusCode"], 2)
        self.assertEqual(rec["response"]["result"],
                         {"error": "The action did not return a dictionary."})

    def test_syntax_error_is_developer_error_and_fixing_it_works(self):
        self.create_action("syntax", "function main( { return {} }")
        r = self.invoke("syntax")
        self.assertEqual(r.status, 502, r)
        self.assertEqual(r.json()["response"]["statusCode"], 2)
        self.assertTrue(r.json()["response"]["result"]["error"])
        self.create_action("syntax", "function main() { return {fixed: true}; }", overwrite=True)
        r = self.invoke("syntax", query="?blocking=true&result=true")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"fixed": True})

    def test_python_main_and_handler(self):
        self.create_action("py-main", "def main(args):\n    return {'got': args}\n",
                           kind="python:3.11")
        r = self.invoke("py-main", {"k": "v"}, query="?blocking=true&result=true")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"got": {"k": "v"}})
        self.create_action("py-handler",
                           "def handler(event, context):\n"
                           "    return {'id': context.activation_id, 'e': event}\n",
                           kind="python:3.11")
        r = self.invoke("py-handler", {"k": 2})
        self.assertEqual(r.status, 200, r)
        rec = r.json()
        self.assertEqual(rec["response"]["result"], {"id": rec["activationId"], "e": {"k": 2}})
        self.assertEqual(annotation(rec, "kind"), "python:3.11")

    def test_lambda_and_callback_handler_styles(self):
        self.create_action("lambda-style",
                           "exports.handler = async (event, context) => "
                           "({id: context.activationId, left: context.getRemainingTimeInMillis() > 0,"
                           " e: event});", main="handler")
        r = self.invoke("lambda-style", {"k": 1})
        self.assertEqual(r.status, 200, r)
        rec = r.json()
        self.assertEqual(rec["response"]["result"],
                         {"id": rec["activationId"], "left": True, "e": {"k": 1}})
        self.create_action("callback-style",
                           "exports.main = function (event, context, callback) {"
                           " setTimeout(() => callback(null, {payload: event.x * 2}), 10); };")
        r = self.invoke("callback-style", {"x": 21}, query="?blocking=true&result=true")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"payload": 42})
        self.create_action("callback-err",
                           "exports.main = (e, c, cb) => cb(new Error('cb failed'));")
        r = self.invoke("callback-err", query="?blocking=true&result=true")
        self.assertEqual(r.status, 502, r)
        self.assertEqual(r.json(), {"error": "cb failed"})

    def test_function_sees_its_activation_id_and_names(self):
        self.create_action("env", "function main() { return {id: process.env.__OW_ACTIVATION_ID,"
                                  " ns: process.env.__OW_NAMESPACE,"
                                  " name: process.env.__OW_ACTION_NAME}; }")
        r = self.invoke("env")
        self.assertEqual(r.status, 200, r)
        rec = r.json()
        self.assertEqual(rec["response"]["result"],
                         {"id": rec["activationId"], "ns": "guest", "name": "/guest/env"})

    def test_concurrent_invokes_all_succeed_with_their_own_results(self):
        self.create_action("conc", "function main(p) { return new Promise(r => "
                                   "setTimeout(() => r({i: p.i}), 50)); }")
        n = 20
        results = [None] * n
        errors = []

        def call(i):
            c = self.server.client()
            try:
                results[i] = self.invoke("conc", {"i": i}, client=c)
            except Exception as e:  # reported below, in the main thread
                errors.append((i, repr(e)))
            finally:
                c.close()

        threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        ids = set()
        for i, r in enumerate(results):
            self.assertIsNotNone(r, i)
            self.assertEqual(r.status, 200, (i, r))
            self.assertEqual(r.json()["response"]["result"], {"i": i})
            ids.add(r.json()["activationId"])
        self.assertEqual(len(ids), n, "activation ids must be unique")


if __name__ == "__main__":
    unittest.main()
