"""Actions: create, read, list, update, delete and the validation of what is sent."""

import time
import unittest

from harness import ServerTestCase, annotation

HELLO = "function main(params) { return {payload: 'hello ' + (params.name || 'world')}; }"
HELLO_PY = "def main(args):\n    return {'payload': 'hello ' + args.get('name', 'world')}\n"
DEFAULT_LIMITS = {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1}


class ActionCrudTest(ServerTestCase):

    def test_create_returns_the_action_without_code(self):
        before = int(time.time() * 1000)
        a = self.create_action("crud-create", HELLO)
        self.assertEqual(a["namespace"], "guest")
        self.assertEqual(a["name"], "crud-create")
        self.assertEqual(a["version"], "0.0.1")
        self.assertIs(a["publish"], False)
        self.assertEqual(a["exec"]["kind"], "nodejs:20")
        self.assertIs(a["exec"]["binary"], False)
        self.assertNotIn("code", a["exec"])
        self.assertEqual(a["parameters"], [])
        self.assertEqual(annotation(a, "exec"), "nodejs")
        self.assertEqual(a["limits"], DEFAULT_LIMITS)
        self.assertIsInstance(a["updated"], int)
        self.assertGreaterEqual(a["updated"], before - 1000)
        self.assertLessEqual(a["updated"], int(time.time() * 1000) + 1000)

    def test_get_returns_code_unless_code_false(self):
        self.create_action("crud-get", HELLO, parameters=[{"key": "name", "value": "x"}],
                           annotations=[{"key": "owner", "value": "me"}],
                           limits={"timeout": 1000, "memory": 128, "logs": 1, "concurrency": 2})
        r = self.api.get(self.action_path("crud-get"))
        self.assertEqual(r.status, 200, r)
        a = r.json()
        self.assertEqual(a["exec"]["code"], HELLO)
        self.assertEqual(a["parameters"], [{"key": "name", "value": "x"}])
        self.assertEqual(annotation(a, "owner"), "me")
        self.assertEqual(a["limits"], {"timeout": 1000, "memory": 128, "logs": 1, "concurrency": 2})
        r = self.api.get(self.action_path("crud-get", "?code=false"))
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("code", r.json()["exec"])
        # Also addressable through the namespace's own name.
        r = self.api.get("/api/v1/namespaces/guest/actions/crud-get")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["name"], "crud-get")

    def test_default_kinds_resolve(self):
        a = self.create_action("crud-node-default", HELLO, kind="nodejs:default")
        self.assertEqual(a["exec"]["kind"], "nodejs:20")
        a = self.create_action("crud-py-default", HELLO_PY, kind="python:default")
        self.assertEqual(a["exec"]["kind"], "python:3.11")
        self.assertEqual(annotation(a, "exec"), "python")

    def test_create_existing_without_overwrite_is_409(self):
        self.create_action("crud-dup", HELLO)
        r = self.api.put_json(self.action_path("crud-dup"),
                              {"exec": {"kind": "nodejs:20", "code": "function main(){return {}}"}})
        self.assertError(r, 409, "resource already exists")
        r = self.api.get(self.action_path("crud-dup"))
        self.assertEqual(r.json()["exec"]["code"], HELLO, "a refused PUT changed the code")
        self.assertEqual(r.json()["version"], "0.0.1")

    def test_overwrite_without_exec_keeps_code_and_bumps_version(self):
        self.create_action("crud-upd", HELLO, parameters=[{"key": "name", "value": "a"}],
                           annotations=[{"key": "owner", "value": "me"}],
                           limits={"timeout": 2000, "memory": 512, "logs": 2, "concurrency": 1})
        r = self.api.put_json(self.action_path("crud-upd", "?overwrite=true"),
                              {"parameters": [{"key": "name", "value": "b"}]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["version"], "0.0.2")
        a = self.api.get(self.action_path("crud-upd")).json()
        self.assertEqual(a["version"], "0.0.2")
        self.assertEqual(a["exec"]["code"], HELLO)
        self.assertEqual(a["exec"]["kind"], "nodejs:20")
        self.assertEqual(a["parameters"], [{"key": "name", "value": "b"}])
        self.assertEqual(annotation(a, "owner"), "me")
        self.assertEqual(a["limits"], {"timeout": 2000, "memory": 512, "logs": 2, "concurrency": 1})
        # The kept code still runs, with the new default parameter.
        r = self.invoke("crud-upd", query="?blocking=true&result=true")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"payload": "hello b"})
        # A second update bumps again and replaces the code.
        r = self.api.put_json(self.action_path("crud-upd", "?overwrite=true"),
                              {"exec": {"kind": "nodejs:20",
                                        "code": "function main(){return {v: 3}}"}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["version"], "0.0.3")
        r = self.invoke("crud-upd", query="?blocking=true&result=true")
        self.assertEqual(r.json(), {"v": 3}, "the update's new code did not run")

    def test_overwrite_of_one_limit_keeps_the_others(self):
        self.create_action("crud-limits", HELLO,
                           limits={"timeout": 2000, "memory": 512, "logs": 2, "concurrency": 3})
        r = self.api.put_json(self.action_path("crud-limits", "?overwrite=true"),
                              {"limits": {"timeout": 3000}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["limits"],
                         {"timeout": 3000, "memory": 512, "logs": 2, "concurrency": 3})

    def test_overwrite_of_missing_action_creates_it(self):
        r = self.api.put_json(self.action_path("crud-upsert", "?overwrite=true"),
                              {"exec": {"kind": "nodejs:20", "code": HELLO}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["version"], "0.0.1")

    def test_list_is_sorted_by_name_without_code_and_pages(self):
        names = ["list-c", "list-a", "list-b", "list-e", "list-d"]
        for n in names:
            self.create_action(n, HELLO)
        r = self.api.get("%s/actions?limit=0" % self.ns_path)
        self.assertEqual(r.status, 200, r)
        listed = r.json()
        all_names = [a["name"] for a in listed]
        self.assertEqual(all_names, sorted(all_names))
        mine = [n for n in all_names if n.startswith("list-")]
        self.assertEqual(mine, sorted(names))
        for a in listed:
            self.assertNotIn("code", a.get("exec", {}), a["name"])
            self.assertEqual(a["namespace"], "guest")
        start = all_names.index("list-a")
        r = self.api.get("%s/actions?limit=2&skip=%d" % (self.ns_path, start + 1))
        self.assertEqual([a["name"] for a in r.json()], ["list-b", "list-c"])

    def test_list_limit_out_of_range_is_400(self):
        for q in ("limit=201", "limit=-1", "skip=-1", "limit=abc"):
            with self.subTest(q=q):
                self.assertError(self.api.get("%s/actions?%s" % (self.ns_path, q)), 400)

    def test_delete_returns_the_action_then_404(self):
        self.create_action("crud-del", HELLO)
        r = self.api.delete(self.action_path("crud-del"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["name"], "crud-del")
        self.assertError(self.api.get(self.action_path("crud-del")), 404)
        self.assertError(self.api.delete(self.action_path("crud-del")), 404)
        self.assertError(self.invoke("crud-del"), 404)
        names = [a["name"] for a in self.api.get("%s/actions?limit=0" % self.ns_path).json()]
        self.assertNotIn("crud-del", names)
        # The name is free again: a PUT without overwrite creates version 0.0.1.
        self.assertEqual(self.create_action("crud-del", HELLO)["version"], "0.0.1")

    def test_deleted_action_stops_running_old_code(self):
        self.create_action("crud-del-run", "function main(){return {v: 1}}")
        self.assertEqual(self.invoke("crud-del-run", query="?blocking=true&result=true").json(),
                         {"v": 1})
        self.api.delete(self.action_path("crud-del-run"))
        self.create_action("crud-del-run", "function main(){return {v: 2}}")
        self.assertEqual(self.invoke("crud-del-run", query="?blocking=true&result=true").json(),
                         {"v": 2}, "a warm instance of the deleted action answered")


class ActionValidationTest(ServerTestCase):

    def put_raw(self, name, body, ctype="application/json", query=""):
        return self.api.request("PUT", self.action_path(name, query), body=body,
                                headers={"Content-Type": ctype})

    def test_invalid_json_is_400(self):
        for body in (b"{not json", b'{"exec": ', b"", b"\xff\xfe"):
            with self.subTest(body=body):
                self.assertError(self.put_raw("val-json", body), 400)
        self.assertError(self.api.get(self.action_path("val-json")), 404)

    def test_json_that_is_not_an_action_is_400(self):
        for body in ([], "x", 1, {"exec": "code"}, {"exec": {"kind": "nodejs:20"}},
                     {"exec": {"kind": "nodejs:20", "code": 5}}, {},
                     {"exec": {"kind": "nodejs:20", "code": HELLO}, "parameters": {"a": 1}},
                     {"exec": {"kind": "nodejs:20", "code": HELLO}, "limits": {"timeout": "x"}}):
            with self.subTest(body=body):
                self.assertError(self.api.put_json(self.action_path("val-shape"), body), 400)
        self.assertError(self.api.get(self.action_path("val-shape")), 404)

    def test_non_json_content_type_is_415(self):
        body = b'{"exec": {"kind": "nodejs:20", "code": "function main(){return {}}"}}'
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/zip"):
            with self.subTest(ctype=ctype):
                self.assertError(self.put_raw("val-ctype", body, ctype), 415)
        self.assertError(self.api.get(self.action_path("val-ctype")), 404)
        r = self.put_raw("val-ctype", body, "application/json; charset=utf-8")
        self.assertEqual(r.status, 200, r)

    def test_unknown_kind_is_400_naming_it(self):
        for kind in ("nodejs:99", "cobol:1", ""):
            with self.subTest(kind=kind):
                r = self.api.put_json(self.action_path("val-kind"),
                                      {"exec": {"kind": kind, "code": HELLO}})
                body = self.assertError(r, 400)
                if kind:
                    self.assertIn(kind, body["error"])

    def test_limits_outside_the_ranges_are_400(self):
        bad = [("timeout", 99), ("timeout", 300001), ("memory", 127), ("memory", 2049),
               ("logs", -1), ("logs", 11), ("concurrency", 0), ("concurrency", 501),
               ("timeout", 1.5)]
        for key, value in bad:
            with self.subTest(limit=key, value=value):
                r = self.api.put_json(self.action_path("val-limits"),
                                      {"exec": {"kind": "nodejs:20", "code": HELLO},
                                       "limits": {key: value}})
                self.assertError(r, 400, key)
        self.assertError(self.api.get(self.action_path("val-limits")), 404)

    def test_limits_at_the_bounds_are_accepted(self):
        for i, limits in enumerate(({"timeout": 100, "memory": 128, "logs": 0, "concurrency": 1},
                                    {"timeout": 300000, "memory": 2048, "logs": 10,
                                     "concurrency": 500})):
            a = self.create_action("val-bounds-%d" % i, HELLO, limits=limits)
            self.assertEqual(a["limits"], limits)

    def test_bad_names_are_400(self):
        # ("pkg/name" is an action in package pkg now: test_packages covers it.)
        for name in ("%20lead-space", ".lead-dot", "a$b", "a%22b", "x" * 257,
                     "a%2Fb", "pkg%2Fname", "tab%09x", "pkg/.dot", "pkg/a$b"):
            with self.subTest(name=name):
                r = self.api.put_json(self.action_path(name),
                                      {"exec": {"kind": "nodejs:20", "code": HELLO}})
                self.assertError(r, 400)

    def test_good_names_are_accepted(self):
        for name in ("a", "A_b-c.d@e", "with%20space", "x" * 256, "0digit"):
            with self.subTest(name=name):
                r = self.api.put_json(self.action_path(name),
                                      {"exec": {"kind": "nodejs:20", "code": HELLO}})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(self.api.get(self.action_path(name)).status, 200)

    def test_large_source_under_the_limit_is_accepted(self):
        code = HELLO + "\n//" + "x" * (30 << 20) + "\n"
        r = self.api.put_json(self.action_path("val-big"),
                              {"exec": {"kind": "nodejs:20", "code": code}})
        self.assertEqual(r.status, 200, r)
        r = self.api.get(self.action_path("val-big"))
        self.assertEqual(len(r.json()["exec"]["code"]), len(code))
        self.assertEqual(self.api.delete(self.action_path("val-big")).status, 200)


if __name__ == "__main__":
    unittest.main()
