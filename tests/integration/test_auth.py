"""Authentication, the unauthenticated endpoints, routing errors and the guest key's life."""

import base64
import http.client
import json
import os
import socket
import stat
import unittest

from harness import (KEY_RE, Client, Server, ServerTestCase, basic_auth, new_guest_key)

INVALID_AUTH = "The supplied authentication is invalid"


class _Unclosable:
    """A buffered reader that HTTPResponse may "close" after each reply without closing it."""

    def __init__(self, f):
        self.f = f

    def __getattr__(self, name):
        return getattr(self.f, name)

    def close(self):
        pass


class _ReaderSocket:
    def __init__(self, reader):
        self.reader = reader

    def makefile(self, mode):
        return self.reader


class AuthTest(ServerTestCase):

    def test_info_needs_no_auth(self):
        r = self.api.get("/api/v1", auth=None)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("content-type").startswith("application/json"))
        info = r.json()
        self.assertIsInstance(info.get("description"), str)
        self.assertEqual(info.get("api_paths"), ["/api/v1"])
        runtimes = info["runtimes"]
        node = {k["kind"]: k for k in runtimes["nodejs"]}
        self.assertIn("nodejs:20", node)
        self.assertIs(node["nodejs:20"].get("default"), True)
        python = {k["kind"]: k for k in runtimes["python"]}
        self.assertIn("python:3.11", python)
        self.assertIs(python["python:3.11"].get("default"), True)

    def test_healthz_needs_no_auth(self):
        r = self.api.get("/healthz", auth=None)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("content-type").startswith("application/json"))
        self.assertEqual(r.json(), {"status": "ok"})

    def test_namespaces_lists_guest(self):
        r = self.api.get("/api/v1/namespaces")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), ["guest"])

    def test_no_authorization_header_is_401(self):
        for path in ("/api/v1/namespaces", "/api/v1/namespaces/_/actions",
                     "/api/v1/namespaces/guest/activations"):
            with self.subTest(path=path):
                self.assertError(self.api.get(path, auth=None), 401, INVALID_AUTH)

    def test_malformed_authorization_header_is_401(self):
        for value in ("Basic",
                      "Basic !!!not-base64!!!",
                      "Basic " + base64.b64encode(b"no-colon-here").decode(),
                      "Basic " + base64.b64encode(b":").decode(),
                      "Bearer " + self.server.key,
                      basic_auth(self.server.key)[len("Basic "):],  # scheme missing
                      "Digest username=x"):
            with self.subTest(header=value):
                self.assertError(self.api.get("/api/v1/namespaces/_/actions", auth=value), 401,
                                 INVALID_AUTH)

    def test_wrong_key_is_401(self):
        uuid_part, key_part = self.server.key.split(":", 1)
        other_uuid = new_guest_key().split(":", 1)[0]
        for key in (uuid_part + ":" + key_part[:-1] + ("0" if key_part[-1] != "0" else "1"),
                    uuid_part + ":",
                    other_uuid + ":" + key_part,
                    new_guest_key()):
            with self.subTest(key=key):
                r = self.api.get("/api/v1/namespaces/_/actions", auth=basic_auth(key))
                self.assertError(r, 401, INVALID_AUTH)

    def test_right_key_opens_own_namespace_by_name_and_underscore(self):
        for ns in ("_", "guest"):
            with self.subTest(ns=ns):
                r = self.api.get("/api/v1/namespaces/%s/actions" % ns)
                self.assertEqual(r.status, 200, r)
                self.assertIsInstance(r.json(), list)

    def test_other_namespace_is_404_so_existence_does_not_leak(self):
        for path in ("/api/v1/namespaces/someone-else/actions",
                     "/api/v1/namespaces/someone-else/actions/x",
                     "/api/v1/namespaces/someone-else/activations"):
            with self.subTest(path=path):
                self.assertError(self.api.get(path), 404, "The requested resource does not exist.")
        r = self.api.put_json("/api/v1/namespaces/someone-else/actions/x",
                              {"exec": {"kind": "nodejs:20", "code": "function main(){return {}}"}})
        self.assertError(r, 404, "The requested resource does not exist.")
        r = self.api.post_json("/api/v1/namespaces/someone-else/actions/x?blocking=true", {})
        self.assertError(r, 404, "The requested resource does not exist.")

    def test_unknown_route_is_404_json(self):
        for path in ("/nope", "/api/v2", "/api/v1/nope", "/api/v1/namespaces/_/nothings"):
            with self.subTest(path=path):
                self.assertError(self.api.get(path), 404)

    def test_unknown_action_is_404_with_openwhisk_message(self):
        r = self.api.get("/api/v1/namespaces/_/actions/does-not-exist")
        self.assertError(r, 404, "The requested resource does not exist.")

    def test_wrong_method_is_405_json(self):
        cases = [("DELETE", "/api/v1/namespaces/_/actions"),
                 ("PATCH", "/api/v1/namespaces/_/actions/x"),
                 ("PUT", "/api/v1/namespaces/_/activations"),
                 ("POST", "/api/v1/namespaces/_/activations/0123456789abcdef0123456789abcdef"),
                 ("DELETE", "/healthz")]
        for method, path in cases:
            with self.subTest(method=method, path=path):
                self.assertError(self.api.request(method, path), 405)

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        c = self.server.client()
        try:
            for _ in range(20):
                self.assertEqual(c.get("/api/v1/namespaces/_/actions").status, 200)
                self.assertEqual(c.get("/healthz", auth=None).status, 200)
            self.assertEqual(c.connects, 1, "the server closed a keep-alive connection")
        finally:
            c.close()


    def test_pipelined_requests_are_answered_in_order(self):
        auth = basic_auth(self.server.key)
        reqs = b"".join(
            ("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n" % (p, auth)).encode()
            for p in ("/healthz", "/api/v1/namespaces", "/api/v1/namespaces/_/actions/nope",
                      "/api/v1"))
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(reqs)
            reader = _Unclosable(s.makefile("rb"))
            statuses = []
            for _ in range(4):
                r = http.client.HTTPResponse(_ReaderSocket(reader), method="GET")
                r.begin()
                statuses.append((r.status, json.loads(r.read())))
        self.assertEqual([st for st, _ in statuses], [200, 200, 404, 200])
        self.assertEqual(statuses[0][1], {"status": "ok"})
        self.assertEqual(statuses[1][1], ["guest"])
        self.assertIn("api_paths", statuses[3][1])

    def test_http_1_0_request_is_answered_and_closed(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break  # the server closed: HTTP/1.0 without keep-alive
                data += chunk
        self.assertRegex(data.split(b"\r\n", 1)[0], rb"^HTTP/1\.[01] 200 ")
        self.assertTrue(data.endswith(b'{"status":"ok"}') or b'"ok"' in data.split(b"\r\n\r\n")[1])

    def test_malformed_target_is_400_json(self):
        for path in ("/api/v1/namespaces/_/actions/%zz", "/api/v1/namespaces/_/actions/a%"):
            with self.subTest(path=path):
                self.assertError(self.api.get(path), 400)


class GuestKeyTest(ServerTestCase):
    """Servers started with and without HOTROD_GUEST_KEY (each test runs its own)."""

    @classmethod
    def setUpClass(cls):
        cls.server = None

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.extra_servers = []

    def start(self, **kw):
        s = Server(**kw)
        self.extra_servers.append(s)
        return s.start()

    def stop(self, s):
        self.assertEqual(s.stop(), 0, "hotrod serve should exit 0 on SIGTERM")

    def get_with_key(self, server, key):
        c = Client(server.port, key)
        try:
            return c.get("/api/v1/namespaces/_/actions")
        finally:
            c.close()

    def assert_key_opens(self, server, key):
        r = self.get_with_key(server, key)
        self.assertEqual(r.status, 200, "key %s: %r" % (key, r))

    def read_key_file(self, data_dir):
        path = os.path.join(data_dir, "guest.key")
        self.assertTrue(os.path.isfile(path), "no %s" % path)
        mode = stat.S_IMODE(os.stat(path).st_mode)
        self.assertEqual(mode, 0o600, "guest.key mode is %o" % mode)
        with open(path) as f:
            key = f.read().strip()
        self.assertRegex(key, KEY_RE)
        return key

    def test_generated_key_is_stored_printed_and_kept_across_restarts(self):
        s = self.start(use_env_key=False)
        key = self.read_key_file(s.data_dir)
        self.assertIn(key, s.log_text(), "the generated key should be printed at start-up")
        self.assert_key_opens(s, key)
        self.assertError(self.get_with_key(s, new_guest_key()), 401, INVALID_AUTH)
        self.stop(s)

        s.start()
        self.assertEqual(self.read_key_file(s.data_dir), key, "restart changed the guest key")
        self.assert_key_opens(s, key)
        self.stop(s)

    def test_two_data_dirs_get_different_keys(self):
        a = self.start(use_env_key=False)
        b = self.start(use_env_key=False)
        ka, kb = self.read_key_file(a.data_dir), self.read_key_file(b.data_dir)
        self.assertNotEqual(ka, kb)
        self.assertError(self.get_with_key(a, kb), 401, INVALID_AUTH)
        self.stop(a)
        self.stop(b)

    def test_env_key_is_used(self):
        key = new_guest_key()
        s = self.start(guest_key=key)
        self.assert_key_opens(s, key)
        self.assertError(self.get_with_key(s, new_guest_key()), 401, INVALID_AUTH)
        self.stop(s)


if __name__ == "__main__":
    unittest.main()
