"""Shared harness for hotrod's integration tests (Python 3 standard library only).

Starts the real `hotrod serve` on a free loopback port with a temporary data directory, speaks
raw HTTP/1.1 to it over keep-alive connections and prints the server's log when a test fails.

Environment:
  HOTROD_BIN      the hotrod binary (default: <repo>/build/hotrod)
  HOTROD_IT_KEEP  when set, temporary data directories are kept (their paths are printed)
  HOTROD_SANITIZED  1 when HOTROD_BIN is an ASan/UBSan build (set by CMake): memory bounds,
                  which ASan's shadow memory and quarantine inflate, are not asserted

A server built with ASan/UBSan (`make test-sanitize`) writes its reports to stderr, which is its
log: a Server whose log holds one fails the test when it is stopped or cleaned up, even where the
finding did not change what the test saw (a report in a thread the test never waits for).
"""

import base64
import ctypes
import http.client
import io
import json
import os
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOTROD_BIN = os.environ.get("HOTROD_BIN") or os.path.join(REPO, "build", "hotrod")
SANITIZED = os.environ.get("HOTROD_SANITIZED") == "1"

ACTIVATION_ID_RE = re.compile(r"^[0-9a-f]{32}$")
LOG_LINE_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z) (stdout|stderr): (.*)$", re.S)
KEY_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[A-Za-z0-9]+$")

START_TIMEOUT_S = 20
STOP_TIMEOUT_S = 15
# The first line of every ASan/LSan report ("==123==ERROR: AddressSanitizer: ...") and the last
# line of every report, UBSan's included ("SUMMARY: UndefinedBehaviorSanitizer: ...").
SANITIZER_REPORT_RE = re.compile(rb"^(==\d+==ERROR: \w+Sanitizer|SUMMARY: \w+Sanitizer)", re.M)


def _die_with_parent():
    """In the child before exec: SIGKILL when the test runner dies (e.g. a CTest timeout), so no
    server outlives its tests."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def new_guest_key():
    """A fresh key in OpenWhisk's format: <uuid>:<64 alphanumerics>."""
    return "%s:%s" % (uuid.uuid4(), secrets.token_hex(32))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def basic_auth(key):
    return "Basic " + base64.b64encode(key.encode()).decode()


def zip_bytes(files):
    """A zip archive from {name: str|bytes}; returns its bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def b64(data):
    return base64.b64encode(data).decode()


def dir_size(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # {lower-case name: value}
        self.body = body
        self._json = None

    def json(self):
        if self._json is None:
            try:
                self._json = json.loads(self.body)
            except ValueError as e:
                raise AssertionError("response body is not JSON (%s): %r" % (e, self.body[:500]))
        return self._json

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<HTTP %d %r>" % (self.status, self.body[:300])


class Client:
    """One keep-alive HTTP/1.1 connection to the server. Not thread-safe: one per thread."""

    DEFAULT = object()

    def __init__(self, port, key=None, timeout=90):
        self.port = port
        self.key = key
        self.timeout = timeout
        self.conn = None
        self.connects = 0  # how many TCP connections this client opened

    def _connect(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        self.conn.connect()
        self.connects += 1

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, headers=None, auth=DEFAULT, json_body=DEFAULT):
        """Sends one request and reads the whole reply.

        auth: DEFAULT uses the client's key; None sends no Authorization header; a str is sent as
        the header's value. json_body: serialised and sent with Content-Type application/json.
        """
        hdrs = {}
        if auth is Client.DEFAULT:
            if self.key is not None:
                hdrs["Authorization"] = basic_auth(self.key)
        elif auth is not None:
            hdrs["Authorization"] = auth
        if json_body is not Client.DEFAULT:
            body = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        if isinstance(body, str):
            body = body.encode()
        if headers:
            hdrs.update(headers)
        # A reused connection may have been closed by the server in between: retry once, on a
        # new connection, only when the failure happened on a reused one.
        for attempt in (0, 1):
            fresh = self.conn is None
            if fresh:
                self._connect()
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                r = self.conn.getresponse()
                data = r.read()
                resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
                if r.will_close:
                    self.close()
                return resp
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                self.close()
                if fresh or attempt == 1:
                    raise

    # Shorthands.
    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def put_json(self, path, obj, **kw):
        return self.request("PUT", path, json_body=obj, **kw)

    def post_json(self, path, obj, **kw):
        return self.request("POST", path, json_body=obj, **kw)


def send_streaming(port, method, path, headers, declared_length=None, chunked=False,
                   total=8 << 20, chunk_size=64 << 10, fill=b"x", prefix=b"", pace=0.0,
                   timeout=15):
    """Sends a request whose body is streamed in chunks and stops as soon as the server answers.

    pace: seconds to sleep between chunks, so that a reply sent after the headers is noticed
    before the whole body went out. Returns (status, headers, body, bytes_of_body_sent,
    finished_sending); status is None when no reply arrived within `timeout` seconds after the
    last byte sent.
    """
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (method, path, port)
        for k, v in headers.items():
            head += "%s: %s\r\n" % (k, v)
        if chunked:
            head += "Transfer-Encoding: chunked\r\n"
        else:
            head += "Content-Length: %d\r\n" % declared_length
        head += "\r\n"
        s.sendall(head.encode())
        sent = 0
        finished = False
        pending = prefix
        s.settimeout(2)
        while True:
            readable, _, _ = select.select([s], [], [], 0)
            if readable:
                break
            if sent >= total:
                finished = True
                if chunked:
                    try:
                        s.sendall(b"0\r\n\r\n")
                    except OSError:
                        pass
                break
            n = min(chunk_size, total - sent)
            data = pending[:n]
            pending = pending[n:]
            data += fill * (n - len(data))
            if chunked:
                data = b"%x\r\n" % len(data) + data + b"\r\n"
            try:
                s.sendall(data)
            except socket.timeout:
                # The server stopped reading: see whether it answered.
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += n
            if pace:
                time.sleep(pace)
        s.settimeout(timeout)
        r = http.client.HTTPResponse(s, method=method)
        try:
            r.begin()
        except (socket.timeout, http.client.RemoteDisconnected, ConnectionResetError):
            return None, {}, b"", sent, finished
        try:
            body = r.read()
        except (ConnectionResetError, http.client.IncompleteRead) as e:
            body = getattr(e, "partial", b"")
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body, sent, finished
    finally:
        s.close()


class Server:
    """One `hotrod serve` process on a free port with its own data directory and log file."""

    def __init__(self, data_dir=None, guest_key=None, use_env_key=True, extra_args=(), command_prefix=()):
        """guest_key: the key passed as HOTROD_GUEST_KEY (a fresh one when None); with
        use_env_key=False the variable is removed so the server generates or loads its own.
        command_prefix: a command that execs the server (e.g. prlimit with its options)."""
        self.owns_dir = data_dir is None
        self.root = tempfile.mkdtemp(prefix="hotrod-it-")
        self.data_dir = data_dir or os.path.join(self.root, "data")
        self.use_env_key = use_env_key
        self.key = (guest_key or new_guest_key()) if use_env_key else None
        self.extra_args = list(extra_args)
        self.command_prefix = list(command_prefix)
        self.port = None
        self.proc = None
        self.log_path = os.path.join(self.root, "server.log")
        self.log_file = None
        self.starts = 0
        self.sanitizer_checked = 0  # log bytes already checked for sanitizer reports

    # ---- lifecycle

    def start(self):
        assert self.proc is None, "already running"
        if not os.path.exists(HOTROD_BIN):
            raise RuntimeError("hotrod binary not found at %s (set HOTROD_BIN)" % HOTROD_BIN)
        env = dict(os.environ)
        env.pop("HOTROD_GUEST_KEY", None)
        if self.use_env_key:
            env["HOTROD_GUEST_KEY"] = self.key
        self.port = free_port()
        self.log_file = open(self.log_path, "ab")
        self.starts += 1
        self.log_file.write(b"\n===== hotrod start #%d =====\n" % self.starts)
        self.log_file.flush()
        cmd = self.command_prefix + [HOTROD_BIN, "serve", "--listen", "127.0.0.1:%d" % self.port,
               "--data-dir", self.data_dir] + self.extra_args
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                raise RuntimeError("hotrod serve exited with %s during start-up; log:\n%s"
                                   % (rc, self.log_text()))
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    c.close()
                    break
                c.close()
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("hotrod serve did not answer /healthz within %ds; log:\n%s"
                                   % (START_TIMEOUT_S, self.log_text()))
            time.sleep(0.02)
        return self

    def stop(self):
        """SIGTERM, wait, SIGKILL as a fallback. Returns the exit code (None if it had to be
        killed)."""
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self.proc = None
        self.log_file.close()
        self.check_sanitizers()
        return rc

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.log_file.close()

    def cleanup(self):
        self.kill()
        try:
            self.check_sanitizers()
        finally:
            self.cleanup_files()

    def cleanup_files(self):
        if os.environ.get("HOTROD_IT_KEEP"):
            print("kept hotrod test directory %s" % self.root, file=sys.stderr)
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_sanitizers(self):
        """Raises AssertionError when the log written since the last check holds a sanitizer
        report (only a sanitizer build writes one)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.sanitizer_checked)
                data = f.read()
        except OSError:
            return
        start = self.sanitizer_checked
        self.sanitizer_checked += len(data)
        m = SANITIZER_REPORT_RE.search(data)
        if m:
            raise AssertionError("sanitizer report in the log of hotrod serve (port %s):\n%s"
                                 % (self.port, self.log_text(since=start + max(0, m.start() - 4096))))

    # ---- logs

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_text(self, since=0, max_bytes=64 << 10):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                data = f.read()
        except OSError:
            return ""
        if len(data) > max_bytes:
            data = b"...[%d bytes cut]...\n" % (len(data) - max_bytes) + data[-max_bytes:]
        return data.decode("utf-8", "replace")

    def client(self, key=Client.DEFAULT):
        return Client(self.port, self.key if key is Client.DEFAULT else key)


class ServerTestCase(unittest.TestCase):
    """A test class sharing one server. On a failing test, prints the server log written during
    that test; at the end checks that the server exits 0 on SIGTERM. Servers a test starts itself
    go in self.extra_servers: their logs are printed on failure, then they are cleaned up."""

    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.server = Server(extra_args=cls.server_args)
        # Class cleanups run even when a subclass's setUpClass fails after this point.
        cls.addClassCleanup(cls.server.cleanup)
        cls.server.start()
        cls.api = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        rc = cls.server.stop()
        log = cls.server.log_text()
        if rc != 0:
            raise AssertionError("hotrod serve exited with %r on SIGTERM (expected 0); log:\n%s"
                                 % (rc, log))

    def run(self, result=None):
        if result is None:
            return super().run(result)
        server = getattr(type(self), "server", None)
        offset = server.log_size() if server is not None else 0
        bad_before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > bad_before:
            logs = [(server, offset)] if server is not None else []
            logs += [(s, 0) for s in getattr(self, "extra_servers", [])]
            for s, off in logs:
                sys.stderr.write("\n----- hotrod log (port %s) during %s -----\n%s\n-----\n"
                                 % (s.port, self.id(), s.log_text(off)))
        for s in getattr(self, "extra_servers", []):
            try:
                s.cleanup()
            except AssertionError:
                result.addFailure(self, sys.exc_info())
        return out

    # ---- helpers shared by the tests

    ns_path = "/api/v1/namespaces/_"

    def action_path(self, name, query=""):
        return "%s/actions/%s%s" % (self.ns_path, name, query)

    def assertError(self, resp, status, contains=None, msg=None):
        """An error reply: the status, a JSON body {"error": str, "code": str}."""
        self.assertEqual(resp.status, status, msg or resp)
        ctype = resp.header("content-type") or ""
        self.assertTrue(ctype.startswith("application/json"),
                        "error reply Content-Type is %r, body %r" % (ctype, resp.body[:200]))
        body = resp.json()
        self.assertIsInstance(body, dict, resp)
        self.assertIsInstance(body.get("error"), str, resp)
        self.assertTrue(body["error"], resp)
        self.assertIsInstance(body.get("code"), str, resp)
        if contains is not None:
            self.assertIn(contains.lower(), body["error"].lower(),
                          "error %r should mention %r" % (body["error"], contains))
        return body

    def create_action(self, name, code, kind="nodejs:20", client=None, overwrite=False, **fields):
        body = {"exec": {"kind": kind, "code": code}}
        if "main" in fields:
            body["exec"]["main"] = fields.pop("main")
        body.update(fields)
        c = client or self.api
        r = c.put_json(self.action_path(name, "?overwrite=true" if overwrite else ""), body)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def invoke(self, name, params=None, query="?blocking=true", client=None):
        c = client or self.api
        return c.post_json(self.action_path(name, query), params if params is not None else {})

    def wait_activation(self, aid, timeout=20, client=None):
        """Polls GET activations/{id} until the record exists."""
        c = client or self.api
        deadline = time.monotonic() + timeout
        while True:
            r = c.get("%s/activations/%s" % (self.ns_path, aid))
            if r.status == 200:
                return r.json()
            self.assertEqual(r.status, 404, r)
            if time.monotonic() > deadline:
                self.fail("activation %s did not appear within %ss" % (aid, timeout))
            time.sleep(0.05)


def annotation(record, key, default=KeyError):
    for a in record.get("annotations", []):
        if a.get("key") == key:
            return a.get("value")
    if default is KeyError:
        raise AssertionError("no annotation %r in %r" % (key, record.get("annotations")))
    return default


def metrics(client):
    """GET /metrics as {name: value}."""
    r = client.request("GET", "/metrics", auth=None)
    assert r.status == 200, r
    values = {}
    for line in r.body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split(" ", 1)
            values[name] = float(value)
    return values


def metric(client, name):
    """One value of GET /metrics; fails the test when the server does not export it."""
    values = metrics(client)
    if name not in values:
        raise AssertionError("no metric %s" % name)
    return values[name]


def wait_for(predicate, timeout=30, interval=0.05):
    """Polls predicate until it is true (True) or timeout seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def read_admin_key(data_dir):
    """The admin key the server wrote under its data directory (DATA_DIR/admin.key)."""
    with open(os.path.join(data_dir, "admin.key")) as f:
        return f.read().strip()
