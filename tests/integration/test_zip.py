"""Zip actions, hostile archives and the request size limits of action PUTs."""

import base64
import io
import json
import os
import socket
import stat
import struct
import unittest
import uuid
import zipfile

from harness import (ServerTestCase, b64, basic_auth, dir_size, send_streaming,
                     zip_bytes)

MB = 1 << 20


def zip_with(entries):
    """entries: list of (ZipInfo or name, data)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in entries:
            z.writestr(info, data)
    return buf.getvalue()


_zeros_cache = {}


def zeros_zip(name, size):
    """A zip with one entry of `size` zero bytes, written in chunks (a few hundred KB)."""
    if (name, size) in _zeros_cache:
        return _zeros_cache[(name, size)]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w") as f:
            chunk = bytes(MB)
            for _ in range(size // MB):
                f.write(chunk)
    _zeros_cache[(name, size)] = buf.getvalue()
    return buf.getvalue()


def lie_about_sizes(data, fake_size):
    """Rewrites every local and central header's uncompressed size to `fake_size`: a bomb whose
    headers look harmless (the archive has no zip64 fields)."""
    b = bytearray(data)
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = b.find(sig)
        while i >= 0:
            b[i + off:i + off + 4] = struct.pack("<I", fake_size)
            i = b.find(sig, i + 4)
    return bytes(b)


class ZipActionTest(ServerTestCase):

    def test_node_zip_without_binary_flag_reads_back_binary(self):
        z = zip_bytes({
            "package.json": json.dumps({"name": "app", "main": "src/app.js"}),
            "src/app.js": "const h = require('./helper');\n"
                          "exports.main = (p) => ({from: 'zip', helper: h.value, n: p.n});\n",
            "src/helper.js": "exports.value = 42;\n",
        })
        r = self.api.put_json(self.action_path("zip-node"),
                              {"exec": {"kind": "nodejs:20", "code": b64(z)}})
        self.assertEqual(r.status, 200, r)
        self.assertIs(r.json()["exec"]["binary"], True)
        a = self.api.get(self.action_path("zip-node")).json()
        self.assertIs(a["exec"]["binary"], True)
        self.assertEqual(base64.b64decode(a["exec"]["code"]), z,
                         "GET should return the archive that was sent, in base64")
        r = self.invoke("zip-node", {"n": 7}, query="?blocking=true&result=true")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"from": "zip", "helper": 42, "n": 7})

    def test_node_zip_index_js_and_node_modules(self):
        z = zip_bytes({
            "index.js": "const dep = require('dep');\nexports.main = () => ({dep: dep()});\n",
            "node_modules/dep/index.js": "module.exports = () => 'from node_modules';\n",
        })
        r = self.api.put_json(self.action_path("zip-node-index"),
                              {"exec": {"kind": "nodejs:20", "code": b64(z), "binary": True}})
        self.assertEqual(r.status, 200, r)
        r = self.invoke("zip-node-index", query="?blocking=true&result=true")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"dep": "from node_modules"})

    def test_python_zip_runs_main_py(self):
        z = zip_bytes({
            "__main__.py": "import helper\n\ndef main(args):\n"
                           "    return {'from': 'zip', 'helper': helper.VALUE}\n",
            "helper.py": "VALUE = 'py-helper'\n",
        })
        r = self.api.put_json(self.action_path("zip-py"),
                              {"exec": {"kind": "python:3.11", "code": b64(z)}})
        self.assertEqual(r.status, 200, r)
        self.assertIs(r.json()["exec"]["binary"], True)
        r = self.invoke("zip-py", query="?blocking=true&result=true")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"from": "zip", "helper": "py-helper"})

    def test_corrupt_zip_is_400(self):
        z = zip_bytes({"index.js": "exports.main = () => ({});\n" + "//" + "y" * 5000})
        r = self.api.put_json(self.action_path("zip-corrupt"),
                              {"exec": {"kind": "nodejs:20", "code": b64(z[:len(z) // 2]),
                                        "binary": True}})
        self.assertError(r, 400)
        self.assertError(self.api.get(self.action_path("zip-corrupt")), 404)

    def test_binary_true_with_code_that_is_not_base64_zip_is_400(self):
        r = self.api.put_json(self.action_path("zip-notzip"),
                              {"exec": {"kind": "nodejs:20", "code": "function main(){}",
                                        "binary": True}})
        self.assertError(r, 400)


class HostileZipTest(ServerTestCase):

    def setUp(self):
        self.marker = "hotrod-it-%s" % uuid.uuid4().hex

    def put_zip(self, name, data, kind="nodejs:20"):
        return self.api.put_json(self.action_path(name),
                                 {"exec": {"kind": kind, "code": b64(data)}})

    def assert_refused(self, name, resp, mentions):
        body = self.assertError(resp, 400)
        self.assertTrue(any(m.lower() in body["error"].lower() for m in mentions),
                        "error %r should say what is wrong (one of %r)" % (body["error"], mentions))
        self.assertError(self.api.get(self.action_path(name)), 404)
        # Nothing was written outside the data directory.
        for d in ("/tmp", os.path.dirname(self.server.data_dir),
                  os.path.dirname(os.path.dirname(self.server.data_dir)), "/"):
            self.assertFalse(os.path.lexists(os.path.join(d, self.marker)),
                             "zip entry escaped to %s" % d)

    def test_zip_slip_is_400(self):
        entry = "../../../../../../../../tmp/" + self.marker
        z = zip_with([("index.js", "exports.main = () => ({});"), (entry, "pwned")])
        self.assert_refused("hz-slip", self.put_zip("hz-slip", z), [entry, "..", "path"])
        z = zip_with([("index.js", "exports.main = () => ({});"), ("../" + self.marker, "x")])
        self.assert_refused("hz-slip1", self.put_zip("hz-slip1", z), ["../" + self.marker, ".."])
        z = zip_with([("index.js", "exports.main = () => ({});"),
                      ("a/../../" + self.marker, "x")])
        self.assert_refused("hz-slip2", self.put_zip("hz-slip2", z), [self.marker, ".."])

    def test_absolute_path_is_400(self):
        entry = "/tmp/" + self.marker
        z = zip_with([("index.js", "exports.main = () => ({});"), (entry, "pwned")])
        self.assert_refused("hz-abs", self.put_zip("hz-abs", z), [entry, "absolute", "path"])

    def test_symlink_entry_is_400(self):
        link = zipfile.ZipInfo("passwd")
        link.create_system = 3  # unix
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z = zip_with([("index.js", "exports.main = () => require('fs').readFileSync("
                                   "__dirname + '/passwd', 'utf8');"),
                      (link, "/etc/passwd")])
        self.assert_refused("hz-link", self.put_zip("hz-link", z), ["passwd", "symlink",
                                                                    "symbolic", "link"])

    def test_relative_symlink_out_of_the_archive_is_400(self):
        link = zipfile.ZipInfo("passwd")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z = zip_with([("index.js", "exports.main = () => ({});"),
                      (link, "../../../../../../../../../etc/passwd")])
        self.assert_refused("hz-rel-link", self.put_zip("hz-rel-link", z),
                            ["passwd", "symlink", "symbolic", "link"])
        d = zipfile.ZipInfo("d")
        d.create_system = 3
        d.external_attr = (stat.S_IFLNK | 0o777) << 16
        z = zip_with([("index.js", "exports.main = () => ({});"),
                      (d, "../../../../../../../../../tmp"), ("d/" + self.marker, "pwned")])
        self.assert_refused("hz-rel-linkdir", self.put_zip("hz-rel-linkdir", z),
                            ["symlink", "symbolic", "link", "d/" + self.marker])

    def test_symlinked_directory_then_file_through_it_is_400(self):
        link = zipfile.ZipInfo("d")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z = zip_with([("index.js", "exports.main = () => ({});"), (link, "/tmp"),
                      ("d/" + self.marker, "pwned")])
        self.assert_refused("hz-linkdir", self.put_zip("hz-linkdir", z),
                            ["symlink", "symbolic", "link", "d/" + self.marker])

    def test_zip_bomb_is_refused_without_filling_the_disk(self):
        z = zeros_zip("index.js", 300 * MB)
        self.assertLess(len(z), 2 * MB)
        before = dir_size(self.server.data_dir)
        r = self.put_zip("hz-bomb", z)
        self.assertIn(r.status, (400, 413), r)
        self.assertError(r, r.status)
        self.assertError(self.api.get(self.action_path("hz-bomb")), 404)
        self.assertLess(dir_size(self.server.data_dir) - before, 64 * MB,
                        "the bomb was unpacked into the data directory")
        self.assertEqual(self.api.get("/healthz", auth=None).status, 200)

    def test_zip_bomb_with_lying_headers_is_refused(self):
        z = lie_about_sizes(zeros_zip("index.js", 300 * MB), 1000)
        before = dir_size(self.server.data_dir)
        r = self.put_zip("hz-liar", z)
        self.assertIn(r.status, (400, 413), r)
        self.assertError(r, r.status)
        self.assertError(self.api.get(self.action_path("hz-liar")), 404)
        self.assertLess(dir_size(self.server.data_dir) - before, 64 * MB,
                        "the bomb was unpacked into the data directory")
        self.assertEqual(self.api.get("/healthz", auth=None).status, 200)

    def test_many_entries_bomb_is_refused(self):
        # 200 entries of 2 MB of zeros each: 400 MB unpacked, small on the wire.
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("index.js", "exports.main = () => ({});")
            chunk = bytes(2 * MB)
            for i in range(200):
                zf.writestr("f%03d" % i, chunk)
        before = dir_size(self.server.data_dir)
        r = self.put_zip("hz-many", buf.getvalue())
        self.assertIn(r.status, (400, 413), r)
        self.assertError(r, r.status)
        self.assertLess(dir_size(self.server.data_dir) - before, 64 * MB)


class RequestSizeTest(ServerTestCase):

    def assert_healthy(self):
        r = self.api.get("/healthz", auth=None)
        self.assertEqual(r.status, 200, r)
        a = self.create_action("size-after", "function main(){return {ok: true}}", overwrite=True)
        self.assertEqual(a["name"], "size-after")

    def test_action_put_over_48mb_is_413_before_the_body_is_sent(self):
        declared = 64 * MB
        status, headers, body, sent, finished = send_streaming(
            self.server.port, "PUT", self.action_path("size-huge"),
            {"Authorization": basic_auth(self.server.key), "Content-Type": "application/json"},
            declared_length=declared, total=8 * MB, pace=0.01,
            prefix=b'{"exec": {"kind": "nodejs:20", "code": "')
        self.assertEqual(status, 413, "no 413 after sending %d of %d bytes (got %r %r)"
                         % (sent, declared, status, body[:200]))
        self.assertFalse(finished, "the 413 should arrive before 8 MB of the body were sent")
        self.assertTrue(headers.get("content-type", "").startswith("application/json"))
        err = json.loads(body)
        self.assertIsInstance(err.get("error"), str)
        self.assertIsInstance(err.get("code"), str)
        self.assert_healthy()

    def expect_continue(self, name, declared, body=None):
        """Sends a PUT with `Expect: 100-continue` and only the headers; returns the first reply
        line, and (when it is a 100 and `body` is given) the status after sending the body."""
        head = ("PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n"
                "Expect: 100-continue\r\n\r\n"
                % (self.action_path(name), basic_auth(self.server.key), declared))
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(head.encode())
            f = s.makefile("rb")
            first = f.readline()
            if not first.startswith(b"HTTP/1.1 100") or body is None:
                return first, None
            while f.readline() not in (b"\r\n", b""):
                pass
            s.sendall(body)
            return first, f.readline()

    def test_expect_100_continue_is_answered(self):
        body = json.dumps({"exec": {"kind": "nodejs:20",
                                    "code": "function main(){return {}}"}}).encode()
        first, final = self.expect_continue("size-expect", len(body), body)
        self.assertTrue(first.startswith(b"HTTP/1.1 100"), first)
        self.assertTrue(final.startswith(b"HTTP/1.1 200"), final)
        self.assertEqual(self.api.get(self.action_path("size-expect")).status, 200)

    def test_expect_100_continue_over_the_limit_gets_413_instead_of_100(self):
        first, _ = self.expect_continue("size-expect-big", 64 * MB)
        self.assertTrue(first.startswith(b"HTTP/1.1 413"), first)
        self.assert_healthy()

    def test_chunked_action_put_over_48mb_is_413(self):
        status, headers, body, sent, finished = send_streaming(
            self.server.port, "PUT", self.action_path("size-chunked"),
            {"Authorization": basic_auth(self.server.key), "Content-Type": "application/json"},
            chunked=True, total=56 * MB, chunk_size=MB,
            prefix=b'{"exec": {"kind": "nodejs:20", "code": "')
        self.assertEqual(status, 413, "after %d bytes chunked: got %r %r" % (sent, status, body))
        self.assertError(self.api.get(self.action_path("size-chunked")), 404)
        self.assert_healthy()

    def test_invoke_body_over_1mb_is_413(self):
        self.create_action("size-echo", "function main(p){return {len: (p.s || '').length}}")
        prefix = b'{"s": "'
        status, headers, body, sent, finished = send_streaming(
            self.server.port, "POST", self.action_path("size-echo", "?blocking=true"),
            {"Authorization": basic_auth(self.server.key), "Content-Type": "application/json"},
            declared_length=2 * MB, total=2 * MB, prefix=prefix)
        self.assertEqual(status, 413, "got %r %r" % (status, body[:200]))
        self.assertTrue(headers.get("content-type", "").startswith("application/json"))
        # Just under the limit is fine.
        s = "x" * (1000 * 1000 - 100)
        r = self.invoke("size-echo", {"s": s}, query="?blocking=true&result=true")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"len": len(s)})


if __name__ == "__main__":
    unittest.main()
