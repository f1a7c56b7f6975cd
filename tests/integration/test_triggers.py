"""Triggers and rules: CRUD, firing (202 with the trigger's activation, 204 without an active
rule), the trigger's activation record and the activations it caused."""

import json
import threading
import time

from harness import ACTIVATION_ID_RE, ServerTestCase, annotation

ECHO = "function main(params) { return {got: params}; }"


class TriggersTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name in ("echo", "echo2"):
            r = cls.api.put_json("/api/v1/namespaces/_/actions/%s" % name,
                                 {"exec": {"kind": "nodejs:20", "code": ECHO},
                                  "parameters": [{"key": "fromAction", "value": name}]})
            assert r.status == 200, r

    def path(self, collection, name="", query=""):
        return "%s/%s%s%s" % (self.ns_path, collection, "/" + name if name else "", query)

    def put_trigger(self, name, body=None, query=""):
        return self.api.put_json(self.path("triggers", name, query), body or {})

    def put_rule(self, name, trigger, action, query=""):
        return self.api.put_json(self.path("rules", name, query), {"trigger": trigger, "action": action})

    def fire(self, name, event):
        return self.api.post_json(self.path("triggers", name), event)

    def test_trigger_crud_versions_and_list(self):
        r = self.put_trigger("crud", {"parameters": [{"key": "p", "value": 1}],
                                      "annotations": [{"key": "note", "value": "x"}]})
        self.assertEqual(r.status, 200, r)
        t = r.json()
        self.assertEqual((t["namespace"], t["name"], t["version"]), ("guest", "crud", "0.0.1"))
        self.assertEqual(t["parameters"], [{"key": "p", "value": 1}])
        self.assertError(self.put_trigger("crud"), 409)
        r = self.put_trigger("crud", {"parameters": [{"key": "p", "value": 2}]}, "?overwrite=true")
        self.assertEqual(r.json()["version"], "0.0.2")
        self.assertEqual(r.json()["annotations"], [{"key": "note", "value": "x"}])  # kept
        got = self.api.get(self.path("triggers", "crud")).json()
        self.assertEqual(got["parameters"], [{"key": "p", "value": 2}])
        self.assertEqual(got["rules"], {})
        self.put_trigger("crud2")
        names = [t["name"] for t in self.api.get(self.path("triggers", query="?limit=200")).json()]
        self.assertIn("crud", names)
        self.assertIn("crud2", names)
        one = self.api.get(self.path("triggers", query="?limit=1&skip=1")).json()
        self.assertEqual(len(one), 1)
        self.assertEqual(self.api.delete(self.path("triggers", "crud")).status, 200)
        self.assertError(self.api.get(self.path("triggers", "crud")), 404)
        self.assertError(self.api.delete(self.path("triggers", "crud")), 404)
        self.assertError(self.put_trigger("bad%20name%21"), 400)
        self.assertError(self.put_trigger("p", {"parameters": {"not": "an array"}}), 400, "parameters")

    def test_fire_without_rules_is_204_and_records_nothing(self):
        self.put_trigger("lonely")
        r = self.fire("lonely", {"x": 1})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.body, b"")
        self.assertError(self.fire("no-such-trigger", {}), 404)

    def test_rule_lifecycle_and_errors(self):
        self.put_trigger("rt")
        self.assertError(self.put_rule("r-missing-action", "/_/rt", "/_/nope"), 404, "nope")
        self.assertError(self.put_rule("r-missing-trigger", "/_/nope", "/_/echo"), 404, "nope")
        self.assertError(self.api.put_json(self.path("rules", "r-no-body"), {}), 400, "trigger")
        self.assertError(self.put_rule("r-bad", "/_/rt", "/a/b/c/d"), 400)
        r = self.put_rule("r1", "/_/rt", "/guest/echo")
        self.assertEqual(r.status, 200, r)
        rule = r.json()
        self.assertEqual(rule["status"], "active")
        self.assertEqual(rule["trigger"], {"namespace": "guest", "name": "rt"})
        self.assertEqual(rule["action"], {"namespace": "guest", "name": "echo"})
        self.assertError(self.put_rule("r1", "/_/rt", "/_/echo"), 409)
        r = self.api.post_json(self.path("rules", "r1"), {"status": "inactive"})
        self.assertEqual(r.json()["status"], "inactive")
        self.assertEqual(self.api.get(self.path("rules", "r1")).json()["status"], "inactive")
        self.assertEqual(self.fire("rt", {}).status, 204)  # the only rule is inactive
        self.assertError(self.api.post_json(self.path("rules", "r1"), {"status": "paused"}), 400, "status")
        r = self.api.post_json(self.path("rules", "r1"), {"status": "active"})
        self.assertEqual(r.json()["status"], "active")
        r = self.put_rule("r1", "rt", "echo2", "?overwrite=true")
        self.assertEqual(r.json()["version"], "0.0.2")
        self.assertEqual(r.json()["action"]["name"], "echo2")
        rules = self.api.get(self.path("rules", query="?limit=200")).json()
        self.assertIn("r1", [x["name"] for x in rules])
        self.assertEqual(self.api.delete(self.path("rules", "r1")).status, 200)
        self.assertError(self.api.get(self.path("rules", "r1")), 404)

    def test_fire_runs_every_active_rule_with_cause_and_logs(self):
        self.put_trigger("multi", {"parameters": [{"key": "d", "value": "default"},
                                                  {"key": "x", "value": "overridden"}]})
        self.put_rule("m1", "/_/multi", "/_/echo")
        self.put_rule("m2", "/_/multi", "/_/echo2")
        self.put_rule("m3", "/_/multi", "/_/echo")
        self.api.post_json(self.path("rules", "m3"), {"status": "inactive"})
        r = self.fire("multi", {"x": 1})
        self.assertEqual(r.status, 202, r)
        tid = r.json()["activationId"]
        self.assertRegex(tid, ACTIVATION_ID_RE)
        rec = self.wait_activation(tid)
        self.assertEqual(rec["name"], "multi")
        self.assertEqual(rec["response"]["result"], {"d": "default", "x": 1})
        self.assertEqual(annotation(rec, "path"), "guest/multi")
        self.assertIsNone(annotation(rec, "kind", None))
        lines = [json.loads(l) for l in rec["logs"]]
        self.assertEqual(len(lines), 2, rec["logs"])
        by_rule = {l["rule"]: l for l in lines}
        self.assertEqual(set(by_rule), {"guest/m1", "guest/m2"})
        self.assertEqual(by_rule["guest/m1"]["action"], "guest/echo")
        for l in lines:
            self.assertEqual((l["statusCode"], l["success"]), (0, True))
            self.assertEqual(list(l.keys()), ["statusCode", "success", "activationId", "rule", "action"])
            caused = self.wait_activation(l["activationId"])
            self.assertEqual(caused["cause"], tid)
            got = caused["response"]["result"]["got"]
            self.assertEqual(got["x"], 1)
            self.assertEqual(got["d"], "default")
            self.assertEqual(got["fromAction"], l["action"].split("/")[-1])
        trig = self.api.get(self.path("triggers", "multi")).json()
        self.assertEqual(trig["rules"]["guest/m3"]["status"], "inactive")
        self.assertEqual(trig["rules"]["guest/m1"]["action"], {"namespace": "guest", "name": "echo"})

    def test_rule_whose_action_was_deleted_logs_a_failure(self):
        self.put_trigger("dangling")
        self.api.put_json(self.action_path("gone"), {"exec": {"kind": "nodejs:20", "code": ECHO}})
        self.put_rule("dr", "dangling", "gone")
        self.api.delete(self.action_path("gone"))
        r = self.fire("dangling", {})
        self.assertEqual(r.status, 202, r)
        rec = self.wait_activation(r.json()["activationId"])
        line = json.loads(rec["logs"][0])
        self.assertEqual(line["success"], False)
        self.assertEqual(line["action"], "guest/gone")
        self.assertIn("error", line)

    def test_rule_runs_a_packaged_action_through_a_binding_with_its_defaults(self):
        # Rules resolve actions like an invoke does: package < binding < action < event.
        self.assertEqual(self.api.put_json(self.path("packages", "tools"),
                                           {"parameters": [{"key": "pkg", "value": "p"},
                                                           {"key": "over", "value": "package"}]}).status, 200)
        self.assertEqual(self.api.put_json(self.path("packages", "tb"),
                                           {"binding": {"namespace": "_", "name": "tools"},
                                            "parameters": [{"key": "over", "value": "binding"}]}).status, 200)
        self.assertEqual(self.api.put_json(self.action_path("tools/pecho"),
                                           {"exec": {"kind": "nodejs:20", "code": ECHO}}).status, 200)
        self.put_trigger("ptrig")
        self.assertEqual(self.put_rule("prule", "ptrig", "/_/tb/pecho").status, 200)
        r = self.fire("ptrig", {"x": 7})
        self.assertEqual(r.status, 202, r)
        rec = self.wait_activation(r.json()["activationId"])
        line = json.loads(rec["logs"][0])
        self.assertTrue(line["success"], line)
        caused = self.wait_activation(line["activationId"])
        self.assertEqual(caused["cause"], rec["activationId"])
        self.assertEqual(caused["response"]["result"]["got"], {"pkg": "p", "over": "binding", "x": 7})

    def test_an_event_cannot_override_a_final_actions_parameters(self):
        # A rule's event is an invoke body: `final` holds as it does for a direct invoke (400).
        r = self.api.put_json(self.action_path("locked"),
                              {"exec": {"kind": "nodejs:20", "code": ECHO},
                               "parameters": [{"key": "secret", "value": "s"}],
                               "annotations": [{"key": "final", "value": True}]})
        self.assertEqual(r.status, 200, r)
        self.put_trigger("ftrig")
        self.put_rule("frule", "ftrig", "locked")
        r = self.fire("ftrig", {"secret": "override"})
        self.assertEqual(r.status, 202, r)
        line = json.loads(self.wait_activation(r.json()["activationId"])["logs"][0])
        self.assertFalse(line["success"], line)
        self.assertIn("not allowed", line["error"])
        r = self.fire("ftrig", {"other": 1})
        line = json.loads(self.wait_activation(r.json()["activationId"])["logs"][0])
        self.assertTrue(line["success"], line)
        self.assertEqual(self.wait_activation(line["activationId"])["response"]["result"]["got"]["secret"], "s")

    def test_concurrent_fires_each_run_once(self):
        self.put_trigger("busy")
        self.put_rule("busy-echo", "busy", "echo")
        ids, errors = [], []

        def worker(n):
            c = self.server.client()
            try:
                for i in range(15):
                    r = c.post_json(self.path("triggers", "busy"), {"worker": n, "i": i})
                    if r.status != 202:
                        errors.append(r)
                    else:
                        ids.append(r.json()["activationId"])
            finally:
                c.close()

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(set(ids)), 60)
        seen = set()
        for tid in ids:
            line = json.loads(self.wait_activation(tid)["logs"][0])
            caused = self.wait_activation(line["activationId"], timeout=60)
            self.assertEqual(caused["cause"], tid)
            got = caused["response"]["result"]["got"]
            seen.add((got["worker"], got["i"]))
        self.assertEqual(len(seen), 60)

    def test_other_namespace_is_refused(self):
        self.put_trigger("mine")
        self.assertError(self.put_rule("cross", "/_/mine", "/someone.else/echo"), 403)
        self.assertError(self.api.get("/api/v1/namespaces/someone.else/triggers"), 404)  # another tenant: as if it did not exist
        self.assertError(self.api.get(self.path("triggers"), auth=None), 401)


if __name__ == "__main__":
    import unittest
    unittest.main()
