"""Malformed and unsupported HTTP: each gets its status with the usual JSON error body, then the
connection closes (docs/api.md, "Errors")."""

import http.client
import json
import socket
import unittest

from harness import ServerTestCase, basic_auth


class MalformedHttpTest(ServerTestCase):

    def exchange(self, data, expect_close=True):
        """Sends raw bytes, reads one response; returns (status, headers, parsed JSON body) and
        checks that the server then closes the connection (or keeps it, when expect_close is
        False)."""
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(data)
            r = http.client.HTTPResponse(s)
            r.begin()
            body = r.read()
            headers = {k.lower(): v for k, v in r.getheaders()}
            self.assertEqual(headers.get("content-type"), "application/json", body)
            parsed = json.loads(body)
            self.assertIsInstance(parsed.get("error"), str, parsed)
            self.assertIsInstance(parsed.get("code"), str, parsed)
            if expect_close:
                self.assertEqual((headers.get("connection") or "").lower(), "close", headers)
                s.settimeout(10)
                try:
                    rest = s.recv(4096)
                except ConnectionResetError:
                    rest = b""
                self.assertEqual(rest, b"", "the connection stayed open after a refusal")
            else:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                r2 = http.client.HTTPResponse(s)
                r2.begin()
                r2.read()
                self.assertEqual(r2.status, 200)
            return r.status, headers, parsed

    def test_bad_request_line_is_400(self):
        for line in (b"GARBAGE\r\n\r\n", b"G@T /healthz HTTP/1.1\r\n\r\n", b"GET  HTTP/1.1\r\n\r\n",
                     b"GET /healthz HTTX/1.1\r\n\r\n"):
            with self.subTest(line=line):
                status, _, body = self.exchange(line)
                self.assertEqual(status, 400, body)
                self.assertIn("not valid HTTP/1.1", body["error"])

    def test_bad_header_syntax_is_400(self):
        for header in (b"No colon here\r\n", b"X-Ctl: a\x01b\r\n", b"Content-Length: 1x\r\n",
                       b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"):
            with self.subTest(header=header):
                status, _, body = self.exchange(b"POST /healthz HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n")
                self.assertEqual(status, 400, body)

    def test_bad_chunk_is_400(self):
        status, _, body = self.exchange(
            b"PUT /api/v1/namespaces/_/actions/chunky HTTP/1.1\r\nHost: x\r\nAuthorization: "
            + basic_auth(self.server.key).encode()
            + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
        self.assertEqual(status, 400, body)

    def test_oversized_header_is_431(self):
        status, _, body = self.exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (70 << 10) + b"\r\n\r\n")
        self.assertEqual(status, 431, body)
        self.assertIn("65536", body["error"])

    def test_unknown_method_is_501_and_a_known_one_the_routers_405(self):
        status, _, body = self.exchange(b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(status, 501, body)
        self.assertIn("BREW", body["error"])
        # A method hotrod knows but the route does not allow: the router's 405, and the
        # connection stays usable (the request was well-formed).
        status, _, body = self.exchange(b"DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n", expect_close=False)
        self.assertEqual(status, 405, body)

    def test_unsupported_version_is_400(self):
        status, _, body = self.exchange(b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n")
        self.assertEqual(status, 400, body)
        self.assertIn("bad version", body["error"])

    def test_transfer_encoding_other_than_chunked_is_501_and_not_read(self):
        action = {"exec": {"kind": "nodejs:20", "code": "function main() { return {}; }"}}
        payload = json.dumps(action).encode()
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
        for name, coding, body in (("te-gzip-chunked", b"gzip, chunked", chunked),
                                   ("te-gzip", b"gzip", payload),
                                   ("te-twice", b"chunked\r\nTransfer-Encoding: chunked", chunked)):
            with self.subTest(coding=coding):
                path = "/api/v1/namespaces/_/actions/%s" % name
                status, _, err = self.exchange(
                    b"PUT " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: "
                    + basic_auth(self.server.key).encode()
                    + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: " + coding + b"\r\n\r\n" + body)
                self.assertEqual(status, 501, err)
                self.assertIn("chunked", err["error"])
                # The body was not taken as plain chunked data (nor as a request of its own).
                self.assertEqual(self.api.get(path).status, 404)
        # Plain `chunked` still works.
        path = "/api/v1/namespaces/_/actions/te-chunked"
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(b"PUT " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: "
                      + basic_auth(self.server.key).encode()
                      + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
            r = http.client.HTTPResponse(s)
            r.begin()
            self.assertEqual(r.status, 200, r.read())


if __name__ == "__main__":
    unittest.main()
