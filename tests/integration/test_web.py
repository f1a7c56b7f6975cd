"""Web actions: /api/v1/web/{ns}/{pkg}/{action}.{ext} without credentials, OpenWhisk's mapping of
requests to arguments and of results to responses, CORS, require-whisk-auth."""

import base64
import json
import unittest

from harness import ServerTestCase, basic_auth

NOT_FOUND = "The requested resource does not exist."
PNG = bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0xFF, 0x10])

ECHO = "function main(p) { return {body: p} }"  # .json returns {body: args}
HTTP = """function main(p) {
  if (p.kind === 'png') return {headers: {'Content-Type': 'image/png'}, body: '%s'};
  if (p.kind === 'json') return {statusCode: 201, headers: {'X-Hotrod': 7}, body: {n: 1}};
  if (p.kind === 'empty') return {statusCode: 302, headers: {Location: '/elsewhere'}};
  if (p.kind === 'bad') return {statusCode: 'nope'};
  if (p.kind === 'fail') return {error: {statusCode: 418, body: 'teapot'}};
  if (p.kind === 'crash') throw new Error('boom');
  return {body: '<h1>' + (p.name || 'hi') + '</h1>'};
}""" % base64.b64encode(PNG).decode()


class WebActionsTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ns = cls.api.get("/api/v1/namespaces").json()[0]

    def web_action(self, name, code, **annotations):
        ann = {"web-export": True}
        ann.update(annotations)
        r = self.api.put_json(self.action_path(name, "?overwrite=true"),
                              {"exec": {"kind": "nodejs:20", "code": code},
                               "annotations": [{"key": k.replace("_", "-"), "value": v} for k, v in ann.items()]})
        self.assertEqual(r.status, 200, r)

    def web(self, method, path, body=None, headers=None):
        return self.api.request(method, "/api/v1/web/%s/default/%s" % (self.ns, path), body=body, headers=headers,
                                auth=None)

    def test_json_extension_passes_request_context_and_merged_parameters(self):
        self.web_action("echo", ECHO)
        r = self.web("POST", "echo.json/some/path?a=1&b=q", body=json.dumps({"b": "body", "c": [1]}),
                     headers={"Content-Type": "application/json", "X-Custom": "yes"})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("content-type").startswith("application/json"))
        self.assertEqual(r.header("access-control-allow-origin"), "*")
        self.assertRegex(r.header("x-openwhisk-activation-id"), "^[0-9a-f]{32}$")
        args = r.json()["body"]
        self.assertEqual(args["__ow_method"], "post")
        self.assertEqual(args["__ow_path"], "/some/path")
        self.assertEqual(args["__ow_headers"]["x-custom"], "yes")
        self.assertEqual((args["a"], args["b"], args["c"]), ("1", "body", [1]))
        self.assertNotIn("__ow_user", args)
        # A form body is merged too.
        r = self.web("POST", "echo.json", body="x=1&y=two+words",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((r.json()["body"]["x"], r.json()["body"]["y"]), ("1", "two words"))

    def test_action_in_a_package_gets_the_package_defaults_and_final_holds(self):
        # Web paths name {pkg}/{action}; the action resolves like an invoke (package < action).
        self.assertEqual(self.api.put_json("/api/v1/namespaces/_/packages/webpkg?overwrite=true",
                                           {"parameters": [{"key": "fromPackage", "value": "yes"}]}).status, 200)
        r = self.api.put_json(self.action_path("webpkg/echo", "?overwrite=true"),
                              {"exec": {"kind": "nodejs:20", "code": ECHO},
                               "annotations": [{"key": "web-export", "value": True},
                                               {"key": "final", "value": True}]})
        self.assertEqual(r.status, 200, r)
        r = self.api.request("GET", "/api/v1/web/%s/webpkg/echo.json?a=1" % self.ns, auth=None)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["body"]["fromPackage"], "yes")
        self.assertEqual(r.json()["body"]["a"], "1")
        # final: the inherited package parameter cannot be overridden by the request.
        r = self.api.request("GET", "/api/v1/web/%s/webpkg/echo.json?fromPackage=no" % self.ns, auth=None)
        self.assertError(r, 400, "not allowed")

    def test_http_is_the_default_extension_and_maps_the_response(self):
        self.web_action("page", HTTP)
        r = self.web("GET", "page?name=you")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("content-type").startswith("text/html"))
        self.assertEqual(r.body, b"<h1>you</h1>")
        self.assertEqual(self.web("GET", "page.http?name=me").body, b"<h1>me</h1>")
        head = self.web("HEAD", "page?name=you")
        self.assertEqual((head.status, head.body, head.header("content-length")), (200, b"", "12"))
        self.assertEqual(self.web("GET", "page?name=again").body, b"<h1>again</h1>", "the connection stays usable")
        r = self.web("GET", "page?kind=json")
        self.assertEqual(r.status, 201)
        self.assertEqual(r.json(), {"n": 1})
        self.assertEqual(r.header("x-hotrod"), "7")
        r = self.web("GET", "page?kind=empty")
        self.assertEqual((r.status, r.header("location"), r.body), (302, "/elsewhere", b""))
        self.assertError(self.web("GET", "page?kind=bad"), 400, "Response is not valid 'message/http'.")

    def test_binary_body_is_base64_decoded(self):
        self.web_action("png", HTTP)
        r = self.web("GET", "png.http?kind=png")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("content-type"), "image/png")
        self.assertEqual(r.body, PNG)

    def test_binary_request_body_arrives_base64(self):
        self.web_action("bin", "function main(p) { return {body: {b: p.__ow_body}} }")
        r = self.web("POST", "bin.json", body=PNG, headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(base64.b64decode(r.json()["body"]["b"]), PNG)

    def test_html_svg_text(self):
        self.web_action("formats", "function main(p) { return {body: p.v || '<svg/>', text: 't'} }")
        r = self.web("GET", "formats.html?v=%3Cp%3Eok%3C/p%3E")
        self.assertEqual((r.status, r.body), (200, b"<p>ok</p>"))
        self.assertTrue(r.header("content-type").startswith("text/html"))
        r = self.web("GET", "formats.svg")
        self.assertEqual((r.status, r.header("content-type"), r.body), (200, "image/svg+xml", b"<svg/>"))
        r = self.web("GET", "formats.text?v=plain")
        self.assertEqual((r.status, r.body), (200, b"plain"))
        self.assertTrue(r.header("content-type").startswith("text/plain"))
        self.web_action("nohtml", "function main() { return {n: 1} }")
        self.assertError(self.web("GET", "nohtml.html"), 400, "Response is not valid 'text/html'.")

    def test_raw_http_keeps_query_and_body(self):
        self.web_action("raw", "function main(p) { return {body: {q: p.__ow_query, b: p.__ow_body, a: p.a || null}} }",
                        raw_http=True)
        r = self.web("POST", "raw.json?a=1&a=2", body="plain text", headers={"Content-Type": "text/plain"})
        self.assertEqual(r.json()["body"], {"q": "a=1&a=2", "b": "plain text", "a": None})

    def test_options_gets_cors_unless_the_action_answers_it(self):
        self.web_action("cors", ECHO)
        r = self.web("OPTIONS", "cors.json", headers={"Access-Control-Request-Headers": "X-Foo"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("access-control-allow-origin"), "*")
        self.assertIn("POST", r.header("access-control-allow-methods"))
        self.assertEqual(r.header("access-control-allow-headers"), "X-Foo")
        self.web_action("custom", "function main(p) { return {statusCode: 200, headers: "
                        "{'Access-Control-Allow-Origin': 'https://example.com', 'X-Method': p.__ow_method}} }",
                        web_custom_options=True)
        r = self.web("OPTIONS", "custom")
        self.assertEqual(r.header("x-method"), "options")
        self.assertEqual(r.header("access-control-allow-origin"), "https://example.com")
        self.assertIsNone(r.header("access-control-allow-methods"))

    def test_not_exported_or_missing_is_404(self):
        r = self.api.put_json(self.action_path("private", "?overwrite=true"),
                              {"exec": {"kind": "nodejs:20", "code": ECHO}})
        self.assertEqual(r.status, 200)
        for path in ("private.json", "missing.json"):
            with self.subTest(path=path):
                self.assertError(self.web("GET", path), 404, NOT_FOUND)
        self.assertError(self.api.request("GET", "/api/v1/web/nobody/default/x.json", auth=None), 404, NOT_FOUND)
        self.assertError(self.api.request("GET", "/api/v1/web/%s/default" % self.ns, auth=None), 404)

    def test_require_whisk_auth(self):
        self.web_action("secret", ECHO, require_whisk_auth="s3cret")
        self.assertError(self.web("GET", "secret.json"), 401)
        self.assertError(self.web("GET", "secret.json", headers={"X-Require-Whisk-Auth": "wrong"}), 401)
        r = self.web("GET", "secret.json", headers={"X-Require-Whisk-Auth": "s3cret"})
        self.assertEqual(r.status, 200, r)
        self.web_action("members", ECHO, require_whisk_auth=True)
        self.assertError(self.web("GET", "members.json"), 401)
        r = self.web("GET", "members.json", headers={"Authorization": basic_auth(self.server.key)})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["body"]["__ow_user"], self.ns)

    def test_reserved_and_final_parameters_cannot_be_overridden(self):
        self.web_action("guarded", ECHO, final=True)
        r = self.api.put_json(self.action_path("guarded", "?overwrite=true"),
                              {"exec": {"kind": "nodejs:20", "code": ECHO}, "parameters": [{"key": "role", "value": "user"}],
                               "annotations": [{"key": "web-export", "value": True}, {"key": "final", "value": True}]})
        self.assertEqual(r.status, 200, r)
        msg = "Request defines parameters that are not allowed (e.g., reserved properties)."
        self.assertError(self.web("GET", "guarded.json?role=admin"), 400, msg)
        self.assertError(self.web("GET", "guarded.json?__ow_method=get"), 400, msg)
        r = self.web("GET", "guarded.json?other=1")
        self.assertEqual(r.json()["body"]["role"], "user")

    def test_errors_of_the_action(self):
        self.web_action("errs", HTTP)
        r = self.web("GET", "errs?kind=fail")
        self.assertEqual((r.status, r.body), (418, b"teapot"), "an application error renders its error field")
        self.assertError(self.web("GET", "errs?kind=crash"), 400, "There was an error processing your request.")


if __name__ == "__main__":
    unittest.main()
