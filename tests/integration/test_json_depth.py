"""Deeply nested JSON: request bodies, function results and stored records up to 512 levels
(src/common/json_limits.h), and the limit named in the error beyond it."""

import json
import sys
import unittest

from harness import ServerTestCase

LIMIT = 512

# Return a dictionary nested p.depth levels deep: {"d": {"d": ... {} ...}}.
NODE_DEEP = """
function main(p) {
  let v = {};
  for (let i = 1; i < p.depth; i++) v = {d: v};
  return v;
}
"""
PY_DEEP = """
def main(args):
    v = {}
    for _ in range(args["depth"] - 1):
        v = {"d": v}
    return v
"""
# Echo the parameter `doc` back, as deep as it came.
NODE_ECHO = "function main(p) { return {doc: p.doc}; }"


def nested(depth):
    """A dictionary `depth` levels deep, built without recursion."""
    v = {}
    for _ in range(depth - 1):
        v = {"d": v}
    return v


def depth_of(v):
    d = 0
    while isinstance(v, dict):
        d += 1
        v = v.get("d")
    return d


def body_text(depth):
    """The JSON text of nested(depth), without the recursion json.dumps needs."""
    return '{"d":' * (depth - 1) + "{}" + "}" * (depth - 1)


def loads_deep(text):
    """json.loads for documents deeper than the default recursion limit allows."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10000))
    try:
        return json.loads(text)
    finally:
        sys.setrecursionlimit(old)


class JsonDepthTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api.put_json("/api/v1/namespaces/_/actions/deepnode",
                         {"exec": {"kind": "nodejs:20", "code": NODE_DEEP}})
        cls.api.put_json("/api/v1/namespaces/_/actions/deeppy",
                         {"exec": {"kind": "python:3.11", "code": PY_DEEP}})
        cls.api.put_json("/api/v1/namespaces/_/actions/echodoc",
                         {"exec": {"kind": "nodejs:20", "code": NODE_ECHO}})

    def invoke_raw(self, name, text, query="?blocking=true"):
        return self.api.request("POST", self.action_path(name, query), body=text.encode(),
                                headers={"Content-Type": "application/json"})

    def test_deep_results_round_trip_through_the_api_and_the_record(self):
        for action in ("deepnode", "deeppy"):
            for depth in (40, 500, LIMIT):
                with self.subTest(action=action, depth=depth):
                    r = self.invoke(action, {"depth": depth})
                    self.assertEqual(r.status, 200, r)
                    rec = loads_deep(r.body)
                    self.assertEqual(rec["response"]["status"], "success", str(rec)[:300])
                    self.assertEqual(depth_of(rec["response"]["result"]), depth)
                    stored = loads_deep(self.api.get(
                        f"{self.ns_path}/activations/{rec['activationId']}").body)
                    self.assertEqual(stored["response"], rec["response"])
                    result = loads_deep(self.api.get(
                        f"{self.ns_path}/activations/{rec['activationId']}/result").body)
                    self.assertEqual(depth_of(result["result"]), depth)

    def test_result_deeper_than_the_limit_says_the_limit(self):
        for action in ("deepnode", "deeppy"):
            with self.subTest(action=action):
                r = self.invoke(action, {"depth": LIMIT + 1})
                self.assertEqual(r.status, 502, r)
                rec = r.json()
                self.assertEqual(rec["response"]["status"], "action developer error")
                self.assertEqual(rec["response"]["result"]["error"],
                                 "The action did not produce a valid JSON response: "
                                 "nested deeper than 512 levels.")
                # The next call still works (a fresh instance if that one was discarded).
                r = self.invoke(action, {"depth": 2})
                self.assertEqual(r.status, 200, r)

    def test_request_body_at_the_limit_reaches_the_function(self):
        # The body is one level above the parameter: doc is LIMIT - 1 deep, echoed inside {doc: }.
        text = '{"doc":' + body_text(LIMIT - 1) + "}"
        r = self.invoke_raw("echodoc", text, "?blocking=true&result=true")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(depth_of(loads_deep(r.body)["doc"]), LIMIT - 1)

    def test_request_body_600_deep_is_refused_with_the_limit(self):
        r = self.invoke_raw("echodoc", body_text(600))
        self.assertError(r, 400, "nested deeper than 512 levels")
        self.assertIn("The request content was malformed", r.json()["error"])
        # Action PUTs use the same parser.
        r = self.api.request("PUT", "/api/v1/namespaces/_/actions/deepput",
                             body=('{"exec":{"kind":"nodejs:20","code":"x"},"parameters":[{"key":"k","value":'
                                   + body_text(600) + "}]}").encode(),
                             headers={"Content-Type": "application/json"})
        self.assertError(r, 400, "nested deeper than 512 levels")

    def test_hostile_depth_is_refused_and_the_server_lives(self):
        # 100,000 levels in 200 KB: under the body size limit, refused at level 513.
        r = self.invoke_raw("echodoc", "[" * 100000 + "]" * 100000)
        self.assertError(r, 400, "nested deeper than 512 levels")
        r = self.invoke("deepnode", {"depth": 3})
        self.assertEqual(r.status, 200, r)

    def test_numbers_beyond_double_in_a_result_are_refused(self):
        self.create_action("huge", "def main(args):\n    return {'n': 10 ** 400}",
                           kind="python:3.11")
        r = self.invoke("huge")
        self.assertEqual(r.status, 502, r)
        self.assertEqual(r.json()["response"]["result"]["error"],
                         "The action did not produce a valid JSON response: "
                         "a number is beyond the range of a double.")


if __name__ == "__main__":
    unittest.main()
