"""Packages, bindings, actions in packages, parameter merge order and `final` (OpenWhisk API)."""

import unittest

from harness import ServerTestCase, annotation
from packages_util import add_namespace

ECHO = "function main(params) { return {params: params}; }"
PY_ECHO = "def main(args):\n    return {'params': args}\n"


class PackagesTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_key = add_namespace(cls.server, "other")
        cls.other = cls.server.client(cls.other_key)

    @classmethod
    def tearDownClass(cls):
        cls.other.close()
        super().tearDownClass()

    def pkg_path(self, name="", query="", ns="_"):
        return "/api/v1/namespaces/%s/packages%s%s" % (ns, "/" + name if name else "", query)

    def put_pkg(self, name, body=None, client=None, ns="_", query="", status=200):
        r = (client or self.api).put_json(self.pkg_path(name, query, ns), body or {})
        self.assertEqual(r.status, status, r)
        return r

    # ---- CRUD

    def test_create_get_update_list_delete(self):
        r = self.put_pkg("crud", {"parameters": [{"key": "p", "value": 1}],
                                  "annotations": [{"key": "description", "value": "d"}]})
        p = r.json()
        self.assertEqual(p["namespace"], "guest")
        self.assertEqual(p["name"], "crud")
        self.assertEqual(p["version"], "0.0.1")
        self.assertIs(p["publish"], False)
        self.assertEqual(p["binding"], {})
        self.assertEqual(p["parameters"], [{"key": "p", "value": 1}])
        self.assertIsInstance(p["updated"], int)
        # Again without overwrite: 409; with overwrite: version bump, omitted fields kept.
        self.assertError(self.api.put_json(self.pkg_path("crud"), {}), 409, "already exists")
        r = self.put_pkg("crud", {"publish": True}, query="?overwrite=true")
        self.assertEqual(r.json()["version"], "0.0.2")
        self.assertIs(r.json()["publish"], True)
        self.assertEqual(r.json()["parameters"], [{"key": "p", "value": 1}])
        self.create_action("crud/a", ECHO)
        g = self.api.get(self.pkg_path("crud"))
        self.assertEqual(g.status, 200, g)
        body = g.json()
        self.assertEqual([a["name"] for a in body["actions"]], ["a"])
        self.assertEqual(body["actions"][0]["version"], "0.0.1")
        self.assertEqual(annotation(body["actions"][0], "exec"), "nodejs")
        names = [p["name"] for p in self.api.get(self.pkg_path()).json()]
        self.assertIn("crud", names)
        self.assertEqual(names, sorted(names))
        # A package with actions cannot go (OpenWhisk's message); once empty it can.
        self.assertError(self.api.delete(self.pkg_path("crud")), 409, "Package not empty (contains 1 entity)")
        self.assertEqual(self.api.delete(self.action_path("crud/a")).status, 200)
        d = self.api.delete(self.pkg_path("crud"))
        self.assertEqual(d.status, 200, d)
        self.assertEqual(d.json()["name"], "crud")
        self.assertError(self.api.get(self.pkg_path("crud")), 404, "does not exist")
        self.assertError(self.api.delete(self.pkg_path("crud")), 404)

    def test_list_skip_limit(self):
        for n in ("ls1", "ls2", "ls3"):
            self.put_pkg(n)
        all_names = [p["name"] for p in self.api.get(self.pkg_path(query="?limit=0")).json()]
        page = [p["name"] for p in self.api.get(self.pkg_path(query="?skip=1&limit=1")).json()]
        self.assertEqual(page, all_names[1:2])
        self.assertError(self.api.get(self.pkg_path(query="?limit=500")), 400, "limit")

    def test_bad_input(self):
        self.assertError(self.api.put_json(self.pkg_path("default"), {}), 400, "Package name 'default' is reserved.")
        self.assertError(self.api.put_json(self.pkg_path("bad"), {"parameters": {"a": 1}}), 400, "parameters")
        self.assertError(self.api.put_json(self.pkg_path("bad"), {"publish": "yes"}), 400, "publish")
        self.assertError(self.api.put_json(self.pkg_path("bad"), {"binding": {"namespace": "guest", "name": "nope"}}),
                         400, "Binding references a package that does not exist.")
        self.assertEqual(self.api.get(self.pkg_path("bad")).status, 404)

    # ---- actions in packages

    def test_actions_in_packages(self):
        self.put_pkg("inpkg")
        a = self.create_action("inpkg/echo", ECHO)
        self.assertEqual(a["namespace"], "guest/inpkg")
        self.assertEqual(a["name"], "echo")
        r = self.invoke("inpkg/echo", {"x": 1})
        self.assertEqual(r.status, 200, r)
        rec = r.json()
        self.assertEqual(rec["name"], "echo")
        self.assertEqual(rec["namespace"], "guest")
        self.assertEqual(annotation(rec, "path"), "guest/inpkg/echo")
        # The namespace's action list shows packaged actions with namespace ns/pkg.
        listed = self.api.get(self.action_path("", "?limit=0").rstrip("/")).json()
        self.assertIn(("guest/inpkg", "echo"), [(x["namespace"], x["name"]) for x in listed])
        # A missing package: 404; the 3-segment path is no longer refused.
        r = self.api.put_json(self.action_path("nopkg/echo"), {"exec": {"kind": "nodejs:20", "code": ECHO}})
        self.assertError(r, 404, "does not exist")
        self.assertError(self.api.get(self.action_path("inpkg/none")), 404)
        self.assertEqual(self.api.delete(self.action_path("inpkg/echo")).status, 200)
        self.assertEqual(self.api.get(self.action_path("inpkg/echo")).status, 404)

    def test_merge_order_package_binding_action_body(self):
        self.put_pkg("mo", {"parameters": [{"key": k, "value": "package"} for k in ("p", "b", "a", "i")]})
        self.create_action("mo/echo", ECHO, parameters=[{"key": k, "value": "action"} for k in ("a", "i")])
        self.put_pkg("mobind", {"binding": {"namespace": "_", "name": "mo"},
                                "parameters": [{"key": k, "value": "binding"} for k in ("b", "a", "i")]})
        r = self.invoke("mobind/echo", {"i": "invoke"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["response"]["result"]["params"],
                         {"p": "package", "b": "binding", "a": "action", "i": "invoke"})
        self.assertEqual(annotation(r.json(), "path"), "guest/mo/echo")
        self.assertEqual(annotation(r.json(), "binding"), "guest/mobind")
        # Through the package itself: no binding layer.
        r = self.invoke("mo/echo", {})
        self.assertEqual(r.json()["response"]["result"]["params"],
                         {"p": "package", "b": "package", "a": "action", "i": "action"})
        # GET of the action through the binding shows the merged defaults; GET of the binding
        # lists the bound package's actions with merged parameters.
        got = self.api.get(self.action_path("mobind/echo")).json()
        self.assertEqual({p["key"]: p["value"] for p in got["parameters"]},
                         {"p": "package", "b": "binding", "a": "action", "i": "action"})
        b = self.api.get(self.pkg_path("mobind")).json()
        self.assertEqual(b["binding"], {"namespace": "guest", "name": "mo"})
        self.assertEqual([a["name"] for a in b["actions"]], ["echo"])
        self.assertEqual({p["key"]: p["value"] for p in b["parameters"]},
                         {"p": "package", "b": "binding", "a": "binding", "i": "binding"})
        self.assertEqual(annotation(b, "binding"), {"namespace": "guest", "name": "mo"})

    def test_bindings_rules(self):
        self.put_pkg("base")
        self.put_pkg("bnd", {"binding": {"namespace": "guest", "name": "base"}})
        # No actions in a binding; no binding of a binding; a package cannot become a binding.
        r = self.api.put_json(self.action_path("bnd/x"), {"exec": {"kind": "nodejs:20", "code": ECHO}})
        self.assertError(r, 400, "Operation not permitted on package binding.")
        self.assertError(self.api.put_json(self.pkg_path("bnd2"), {"binding": {"namespace": "_", "name": "bnd"}}),
                         400, "Cannot bind to another package binding.")
        self.assertError(self.api.put_json(self.pkg_path("base", "?overwrite=true"),
                                           {"binding": {"namespace": "_", "name": "bnd"}}),
                         409, "cannot be converted into a binding")
        # A binding can be deleted while its package has actions; the package cannot.
        self.create_action("base/a", ECHO)
        self.assertEqual(self.api.delete(self.pkg_path("bnd")).status, 200)
        self.assertError(self.api.delete(self.pkg_path("base")), 409, "Package not empty")

    def test_final_parameters(self):
        self.put_pkg("fin", {"parameters": [{"key": "fromPkg", "value": 1}]})
        self.create_action("fin/echo", ECHO, parameters=[{"key": "own", "value": 2}],
                           annotations=[{"key": "final", "value": True}])
        msg = "Request defines parameters that are not allowed (e.g., reserved properties)."
        self.assertError(self.invoke("fin/echo", {"own": 9}), 400, msg)
        # Inherited (package) parameters are final too.
        self.assertError(self.invoke("fin/echo", {"fromPkg": 9}), 400, msg)
        r = self.invoke("fin/echo", {"free": 3})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["response"]["result"]["params"], {"fromPkg": 1, "own": 2, "free": 3})
        # Without `final`, the body wins.
        self.create_action("fin/open", ECHO, parameters=[{"key": "own", "value": 2}])
        r = self.invoke("fin/open", {"own": 9})
        self.assertEqual(r.json()["response"]["result"]["params"]["own"], 9)

    # ---- across namespaces

    def test_shared_package_across_namespaces(self):
        # "other" publishes a package with a Python action; guest reads, binds and invokes it.
        r = self.other.put_json(self.pkg_path("shared", ns="_"),
                                {"publish": True, "parameters": [{"key": "owner", "value": "other"}]})
        self.assertEqual(r.status, 200, r)
        r = self.other.put_json(self.action_path("shared/py"), {"exec": {"kind": "python:3.11", "code": PY_ECHO}})
        self.assertEqual(r.status, 200, r)
        self.other.put_json(self.pkg_path("private"), {})
        self.other.put_json(self.action_path("private/py"), {"exec": {"kind": "python:3.11", "code": PY_ECHO}})

        g = self.api.get(self.pkg_path("shared", ns="other"))
        self.assertEqual(g.status, 200, g)
        self.assertEqual([a["name"] for a in g.json()["actions"]], ["py"])
        listed = [p["name"] for p in self.api.get(self.pkg_path(ns="other")).json()]
        self.assertEqual(listed, ["shared"])  # private packages are not listed to others
        self.assertEqual(self.api.get("/api/v1/namespaces/other/actions/shared/py").status, 200)
        r = self.api.post_json("/api/v1/namespaces/other/actions/shared/py?blocking=true", {"x": 1})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["response"]["result"]["params"], {"owner": "other", "x": 1})
        self.assertEqual(r.json()["namespace"], "guest")  # the invoker's record
        self.assertEqual(annotation(r.json(), "path"), "other/shared/py")

        # Private package: not visible at all (404), not bindable (403, OpenWhisk's entitlement).
        self.assertError(self.api.get(self.pkg_path("private", ns="other")), 404)
        self.assertError(self.api.post_json("/api/v1/namespaces/other/actions/private/py?blocking=true", {}), 404)
        self.assertError(self.api.get("/api/v1/namespaces/other/actions/private/py"), 404)
        self.assertError(self.api.put_json(self.pkg_path("tp"), {"binding": {"namespace": "other", "name": "private"}}),
                         403)
        # Writes in another namespace stay refused, whatever the package.
        r = self.api.put_json("/api/v1/namespaces/other/actions/shared/evil", {"exec": {"kind": "nodejs:20", "code": ECHO}})
        self.assertIn(r.status, (403, 404), r)
        self.assertIn(self.api.delete(self.pkg_path("shared", ns="other")).status, (403, 404))

        # A binding to the shared package: its parameters go over the package's.
        self.put_pkg("mine", {"binding": {"namespace": "other", "name": "shared"},
                              "parameters": [{"key": "owner", "value": "guest"}]})
        r = self.invoke("mine/py", {"y": 2})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["response"]["result"]["params"], {"owner": "guest", "y": 2})
        self.assertEqual(annotation(r.json(), "binding"), "guest/mine")
        # Unpublishing the package cuts existing bindings off.
        self.other.put_json(self.pkg_path("shared", "?overwrite=true"), {"publish": False})
        self.assertError(self.invoke("mine/py", {}), 404)


if __name__ == "__main__":
    unittest.main()
