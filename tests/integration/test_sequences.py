"""Sequences: validation at create time, chaining results, failures, records and components
across packages and namespaces (OpenWhisk API)."""

import time
import unittest

from harness import ACTIVATION_ID_RE, ServerTestCase, annotation
from packages_util import add_namespace

INC_NODE = "function main(p) { return {n: (p.n || 0) + 1, step: p.step, trail: (p.trail || '') + 'N'}; }"
DOUBLE_PY = ("def main(a):\n"
             "    return {'n': a.get('n', 0) * 2, 'trail': a.get('trail', '') + 'P', 'k': a.get('k')}\n")
FAIL_NODE = "function main(p) { return {error: 'stop here at ' + p.n}; }"


class SequencesTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_key = add_namespace(cls.server, "seqother")
        cls.other = cls.server.client(cls.other_key)
        api = cls.api
        api.put_json("/api/v1/namespaces/_/actions/inc", {"exec": {"kind": "nodejs:20", "code": INC_NODE}})
        api.put_json("/api/v1/namespaces/_/packages/math", {"parameters": [{"key": "k", "value": "pkg"}]})
        api.put_json("/api/v1/namespaces/_/actions/math/double",
                     {"exec": {"kind": "python:3.11", "code": DOUBLE_PY}})
        api.put_json("/api/v1/namespaces/_/actions/fail", {"exec": {"kind": "nodejs:20", "code": FAIL_NODE}})

    @classmethod
    def tearDownClass(cls):
        cls.other.close()
        super().tearDownClass()

    def create_seq(self, name, components, client=None, status=200, query=""):
        r = (client or self.api).put_json(self.action_path(name, query),
                                          {"exec": {"kind": "sequence", "components": components}})
        self.assertEqual(r.status, status, r)
        return r

    def test_chain_of_node_and_python_components(self):
        r = self.create_seq("chain", ["/_/inc", "/guest/math/double", "/_/inc"])
        a = r.json()
        self.assertEqual(a["exec"], {"kind": "sequence",
                                     "components": ["/guest/inc", "/guest/math/double", "/guest/inc"]})
        self.assertEqual(annotation(a, "exec"), "sequence")
        got = self.api.get(self.action_path("chain")).json()
        self.assertEqual(got["exec"]["components"], a["exec"]["components"])
        self.assertNotIn("code", got["exec"])

        r = self.invoke("chain", {"n": 1})
        self.assertEqual(r.status, 200, r)
        rec = r.json()
        # (1+1)*2+1 = 5; each component saw the previous result; the package default reached
        # the packaged component.
        self.assertEqual(rec["response"]["result"], {"n": 5, "trail": "NPN"})
        self.assertEqual(rec["name"], "chain")
        self.assertEqual(annotation(rec, "kind"), "sequence")
        self.assertIs(annotation(rec, "topmost"), True)
        self.assertEqual(annotation(rec, "path"), "guest/chain")
        self.assertEqual(len(rec["logs"]), 3)
        total = 0
        for i, aid in enumerate(rec["logs"]):
            self.assertRegex(aid, ACTIVATION_ID_RE)
            comp = self.wait_activation(aid)
            self.assertEqual(comp["cause"], rec["activationId"])
            self.assertEqual(annotation(comp, "causedBy"), "sequence")
            total += comp["duration"]
        self.assertEqual(rec["duration"], total)
        second = self.wait_activation(rec["logs"][1])
        self.assertEqual(second["name"], "double")
        self.assertEqual(annotation(second, "path"), "guest/math/double")
        self.assertEqual(second["response"]["result"], {"n": 4, "trail": "NP", "k": "pkg"})

    def test_error_stops_the_chain(self):
        self.create_seq("stops", ["/_/inc", "/_/fail", "/_/inc"])
        r = self.invoke("stops", {"n": 1})
        self.assertEqual(r.status, 502, r)
        rec = r.json()
        self.assertEqual(rec["response"]["statusCode"], 1)
        self.assertEqual(rec["response"]["result"], {"error": "stop here at 2"})
        self.assertEqual(len(rec["logs"]), 2)  # the third component never ran

    def test_non_blocking_and_result_only(self):
        self.create_seq("nb", ["/_/inc", "/_/inc"])
        r = self.invoke("nb", {"n": 10}, query="")
        self.assertEqual(r.status, 202, r)
        rec = self.wait_activation(r.json()["activationId"])
        self.assertEqual(rec["response"]["result"]["n"], 12)
        r = self.invoke("nb", {"n": 0}, query="?blocking=true&result=true")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["n"], 2)

    def test_validation_messages(self):
        r = self.create_seq("bad1", [], status=400)
        self.assertError(r, 400, "No component specified for the sequence.")
        self.assertError(self.create_seq("bad2", ["/_/nope"], status=400), 400, "Sequence component does not exist.")
        self.assertError(self.create_seq("bad3", ["inc"], status=400), 400,
                         "The fully qualified name of the entity must contain at least the namespace")
        self.assertError(self.create_seq("bad4", ["/_/inc"] * 51, status=400), 400, "Too many actions in the sequence.")
        self.assertError(self.create_seq("self", ["/_/self"], status=400), 400, "Sequence may not refer to itself.")
        # An existing action updated into a sequence that names itself, directly or nested.
        self.create_seq("outer", ["/_/inc"])
        self.create_seq("wrap", ["/_/outer"])
        self.assertError(self.create_seq("outer", ["/_/wrap"], status=400, query="?overwrite=true"), 400,
                         "Sequence may not refer to itself.")
        # 30 + 30 atomic actions once nested sequences are inlined.
        self.create_seq("thirty", ["/_/inc"] * 30)
        self.assertError(self.create_seq("sixty", ["/_/thirty", "/_/thirty"], status=400), 400,
                         "Too many actions in the sequence.")
        for n in ("bad1", "bad2", "bad3", "bad4", "self", "sixty"):
            self.assertEqual(self.api.get(self.action_path(n)).status, 404, n)

    def test_nested_sequence(self):
        self.create_seq("inner", ["/_/inc", "/_/inc"])
        self.create_seq("outer2", ["/_/inner", "/_/math/double"])
        r = self.invoke("outer2", {"n": 0})
        self.assertEqual(r.status, 200, r)
        rec = r.json()
        self.assertEqual(rec["response"]["result"]["n"], 4)
        inner = self.wait_activation(rec["logs"][0])
        self.assertEqual(annotation(inner, "kind"), "sequence")
        self.assertIs(annotation(inner, "topmost"), False)
        self.assertEqual(inner["cause"], rec["activationId"])
        self.assertEqual(len(inner["logs"]), 2)

    def test_component_deleted_after_create(self):
        self.api.put_json(self.action_path("tmp"), {"exec": {"kind": "nodejs:20", "code": INC_NODE}})
        self.create_seq("dangling", ["/_/inc", "/_/tmp"])
        self.assertEqual(self.api.delete(self.action_path("tmp")).status, 200)
        r = self.invoke("dangling", {"n": 0})
        self.assertEqual(r.status, 502, r)
        self.assertEqual(r.json()["response"]["result"], {"error": "Sequence component does not exist."})
        self.assertEqual(len(r.json()["logs"]), 1)

    def test_components_in_shared_package_of_another_namespace(self):
        self.other.put_json("/api/v1/namespaces/_/packages/lib", {"publish": True})
        self.other.put_json("/api/v1/namespaces/_/actions/lib/inc", {"exec": {"kind": "nodejs:20", "code": INC_NODE}})
        self.other.put_json("/api/v1/namespaces/_/packages/hidden", {})
        self.other.put_json("/api/v1/namespaces/_/actions/hidden/inc",
                            {"exec": {"kind": "nodejs:20", "code": INC_NODE}})
        self.create_seq("xns", ["/seqother/lib/inc", "/_/math/double"])
        r = self.invoke("xns", {"n": 1})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["response"]["result"]["n"], 4)
        self.assertError(self.create_seq("xhidden", ["/seqother/hidden/inc"], status=400), 400,
                         "Sequence component does not exist.")

    def test_component_timeout_stops_the_sequence(self):
        self.api.put_json(self.action_path("slow"),
                          {"exec": {"kind": "nodejs:20",
                                    "code": "function main(p) { return new Promise(r => setTimeout(() => r(p), 3000)); }"},
                           "limits": {"timeout": 300}})
        self.create_seq("slowseq", ["/_/inc", "/_/slow", "/_/inc"])
        r = self.invoke("slowseq", {"n": 0})
        self.assertEqual(r.status, 502, r)
        rec = r.json()
        self.assertEqual(rec["response"]["statusCode"], 2)
        self.assertIn("exceeded its time limits of 300 milliseconds", rec["response"]["result"]["error"])
        self.assertEqual(len(rec["logs"]), 2)
        self.assertIs(annotation(self.wait_activation(rec["logs"][1]), "timeout"), True)

    def test_blocking_wait_shorter_than_the_sequence_gives_202(self):
        self.api.put_json(self.action_path("nap"),
                          {"exec": {"kind": "nodejs:20",
                                    "code": "function main(p) { return new Promise(r => setTimeout(() => r(p), 700)); }"}})
        self.create_seq("napseq", ["/_/nap", "/_/inc"])
        r = self.invoke("napseq", {"n": 1}, query="?blocking=true&timeout=200")
        self.assertEqual(r.status, 202, r)
        rec = self.wait_activation(r.json()["activationId"])
        self.assertEqual(rec["response"]["result"]["n"], 2)

    def test_sequence_in_package_and_update_to_code(self):
        self.create_seq("math/seq", ["/_/inc"])
        r = self.invoke("math/seq", {"n": 1})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(annotation(r.json(), "path"), "guest/math/seq")
        self.assertEqual(r.json()["response"]["result"]["n"], 2)
        # A sequence can become a code action again; its `_actions` parameter does not stay.
        r = self.api.put_json(self.action_path("math/seq", "?overwrite=true"),
                              {"exec": {"kind": "nodejs:20", "code": "function main(p){return {p: p};}"}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["parameters"], [])
        r = self.invoke("math/seq", {})
        self.assertEqual(r.json()["response"]["result"], {"p": {"k": "pkg"}})


if __name__ == "__main__":
    unittest.main()
