"""Fail closed: a server without the sandbox's privileges must refuse to run functions.

Starts `hotrod serve` as an unprivileged user (nobody, via setpriv) and checks that it still
serves the API, that an invoke fails with an internal error that says why, and that the code
did not run anywhere (it would have left a marker file behind).
"""

import base64
import http.client
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import unittest

import sec_common  # noqa: F401  (puts the integration harness on sys.path)
import harness

NOBODY = 65534


def _runnable_by_nobody(path):
    """True if every directory down to `path` is searchable and the file executable by others."""
    path = os.path.abspath(path)
    parts = path.split("/")
    for i in range(2, len(parts)):
        if not os.stat("/".join(parts[:i])).st_mode & 0o001:
            return False
    return bool(os.stat(path).st_mode & 0o001)


@unittest.skipUnless(os.geteuid() == 0, "needs root to start the server as another user")
@unittest.skipUnless(shutil.which("setpriv"), "needs setpriv (util-linux)")
class UnprivilegedServerTest(unittest.TestCase):

    def setUp(self):
        if not _runnable_by_nobody(harness.HOTROD_BIN):
            self.skipTest("%s is not reachable by an unprivileged user" % harness.HOTROD_BIN)
        self.root = tempfile.mkdtemp(prefix="hotrod-unpriv-")
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        os.mkdir(self.data)
        os.chown(self.data, NOBODY, NOBODY)
        self.marker = os.path.join("/tmp", "hotrod-unpriv-marker-" + secrets.token_hex(6))
        self.port = harness.free_port()
        self.key = harness.new_guest_key()
        env = {"PATH": "/usr/bin:/bin", "HOME": self.data, "HOTROD_GUEST_KEY": self.key}
        self.log = open(os.path.join(self.root, "server.log"), "wb")
        self.proc = subprocess.Popen(
            ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
             harness.HOTROD_BIN, "serve", "--listen", "127.0.0.1:%d" % self.port,
             "--data-dir", self.data],
            env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self.addCleanup(self._stop)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self._request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        self.fail("server did not start:\n" + self._log_text())

    def _stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if os.path.exists(self.marker):
            os.unlink(self.marker)
        shutil.rmtree(self.root, ignore_errors=True)

    def _log_text(self):
        with open(os.path.join(self.root, "server.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def _request(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": "Basic " + base64.b64encode(self.key.encode()).decode()}
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, json.loads(data) if data else None

    def test_functions_are_refused_with_the_reason_and_never_run(self):
        code = ("const fs = require('fs');\n"
                "function main() { fs.writeFileSync(%s, 'ran'); return {ran: true}; }" % json.dumps(self.marker))
        status, body = self._request("PUT", "/api/v1/namespaces/_/actions/probe",
                                     {"exec": {"kind": "nodejs:20", "code": code}})
        self.assertEqual(status, 200, body)  # the API itself keeps working
        status, record = self._request("POST", "/api/v1/namespaces/_/actions/probe?blocking=true")
        self.assertEqual(status, 502, record)
        self.assertEqual(record["statusCode"], 3, record)
        error = record["response"]["result"]["error"]
        self.assertIn("functions cannot run on this server", error)
        self.assertIn("root", error)  # says what is missing
        self.assertFalse(os.path.exists(self.marker), "the function ran without a sandbox")
        self.assertIn("sandbox is unavailable", self._log_text())


if __name__ == "__main__":
    unittest.main()
