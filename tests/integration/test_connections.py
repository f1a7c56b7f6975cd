"""Connections: the fd limit, the connection cap and shedding, the per-address cap, the header
timeout, and a flood of 1,000 idle and slow connections against a server with a 1,024 fd limit
while a client keeps calling an action (docs/operations.md, "Connections")."""

import http.client
import json
import os
import selectors
import socket
import threading
import time
import unittest

from harness import Server, ServerTestCase, basic_auth, wait_for

HELLO = "function main(p) { return {hello: p.name || 'world'}; }"


def open_idle(port, request=True):
    """A keep-alive connection that made one request (GET /healthz) and now sits idle."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if request:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        r = http.client.HTTPResponse(s)
        r.begin()
        r.read()
        assert r.status == 200, r.status
    return s


def closed_by_peer(s, timeout):
    """True when the server closes `s` (EOF or reset) within `timeout` seconds."""
    s.settimeout(timeout)
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def get_on(s, path="/healthz"):
    """One GET on an open connection; returns the status (None when the server closed it)."""
    s.settimeout(30)
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        r = http.client.HTTPResponse(s)
        r.begin()
        r.read()
        return r.status
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
        return None


class Flood:
    """n connections that never finish a request, held open from a thread: a third connect and
    send nothing, a third trickle one header line a second (slowloris), a third made one request
    and sit idle on keep-alive. A connection the server closes is opened again after a pause,
    so the pressure stays on. Counts what the server closed."""

    KINDS = ("silent", "slowloris", "idle")

    def __init__(self, port, n, reopen_after=0.5):
        self.port = port
        self.n = n
        self.reopen_after = reopen_after
        self.sel = selectors.DefaultSelector()
        self.stop_event = threading.Event()
        self.first_generation = set()  # sockets opened at the start still open
        self.closed = 0                # connections the server closed
        self.connect_failures = 0
        self.thread = None
        self.ready = threading.Event()

    def _open(self, kind):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            if kind == "slowloris":
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            elif kind == "idle":
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # the reply is drained below
            s.setblocking(False)
        except OSError:
            self.connect_failures += 1
            return None
        self.sel.register(s, selectors.EVENT_READ, kind)
        return s

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(120):
            raise AssertionError("the flood did not open its connections within 120 s")

    def stop(self):
        self.stop_event.set()
        self.thread.join(30)
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()

    def _run(self):
        for i in range(self.n):
            s = self._open(self.KINDS[i % 3])
            if s is not None:
                self.first_generation.add(s)
        self.ready.set()
        to_reopen = []  # (when, kind)
        next_trickle = time.monotonic() + 1
        while not self.stop_event.is_set():
            for key, _ in self.sel.select(timeout=0.1):
                s = key.fileobj
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    continue  # the idle kind's one reply
                self.sel.unregister(s)
                s.close()
                self.first_generation.discard(s)
                self.closed += 1
                to_reopen.append((time.monotonic() + self.reopen_after, key.data))
            now = time.monotonic()
            due = [k for when, k in to_reopen if when <= now]
            to_reopen = [(when, k) for when, k in to_reopen if when > now]
            for kind in due:
                self._open(kind)
            if now >= next_trickle:
                next_trickle = now + 1
                for key in list(self.sel.get_map().values()):
                    if key.data == "slowloris":
                        try:
                            key.fileobj.send(b"X-Slow: 1\r\n")
                        except OSError:
                            pass  # closed: the select above sees it


class ConnectionTestCase(ServerTestCase):
    """Each test starts its own servers (with its own flags), so that no other connection of the
    harness counts against the caps."""

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.extra_servers = []

    def start_server(self, *args, prefix=()):
        s = Server(extra_args=args, command_prefix=prefix)
        self.extra_servers.append(s)
        s.start()
        return s

    def stop_server(self, s):
        self.assertEqual(s.stop(), 0, "hotrod serve did not exit 0 on SIGTERM")


class FdLimitTest(ConnectionTestCase):

    def test_soft_fd_limit_is_raised_to_the_hard_limit(self):
        s = self.start_server()
        with open("/proc/%d/limits" % s.proc.pid) as f:
            line = next(l for l in f if l.startswith("Max open files"))
        soft, hard = line.split()[3:5]
        self.assertEqual(soft, hard, line)
        self.assertIn("file descriptor limit", s.log_text())
        self.stop_server(s)


class ConnectionCapTest(ConnectionTestCase):

    def test_at_the_cap_the_connection_idle_longest_is_shed(self):
        s = self.start_server("--max-connections", "4", "--header-timeout-s", "60")
        idle = []
        for _ in range(4):
            idle.append(open_idle(s.port))
            time.sleep(0.05)  # distinct idle times: idle[0] has been idle longest
        newcomer = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        self.assertEqual(get_on(newcomer), 200)
        self.assertTrue(closed_by_peer(idle[0], 10), "the connection idle longest was not shed")
        # The others are still open and usable without reconnecting.
        for c in idle[1:]:
            self.assertEqual(get_on(c), 200)
        for c in idle + [newcomer]:
            c.close()
        self.stop_server(s)

    def test_an_idle_connection_goes_before_a_slow_header(self):
        s = self.start_server("--max-connections", "3", "--header-timeout-s", "60")
        slow = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        slow.sendall(b"GET /healthz HTTP/1.1\r\n")  # started first, still sending its header
        time.sleep(0.2)
        idle = [open_idle(s.port) for _ in range(2)]
        newcomer = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        self.assertEqual(get_on(newcomer), 200)
        self.assertTrue(closed_by_peer(idle[0], 10), "an idle connection should be shed first")
        # The slow one was not shed: finishing its header still works.
        slow.sendall(b"Host: x\r\n\r\n")
        r = http.client.HTTPResponse(slow)
        r.begin()
        self.assertEqual(r.status, 200)
        for c in idle + [slow, newcomer]:
            c.close()
        self.stop_server(s)

    def test_a_slow_body_is_shed_after_slow_headers_oldest_first(self):
        s = self.start_server("--max-connections", "3", "--header-timeout-s", "60")
        path = "/api/v1/namespaces/_/actions/slow"
        slow = []
        for _ in range(3):
            # A body still on its way (1 of 100 bytes): a slow POST, not yet a running request.
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(("PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: 100\r\n\r\n{" % (path, basic_auth(s.key))).encode())
            slow.append(c)
            time.sleep(0.1)  # distinct start times: slow[0] has been sending longest
        time.sleep(0.5)  # the server has read their headers
        newcomer = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        self.assertEqual(get_on(newcomer), 200)
        self.assertTrue(closed_by_peer(slow[0], 10), "the oldest slow body was not shed")
        for c in slow[1:]:
            self.assertFalse(closed_by_peer(c, 0.2), "a newer slow body was shed too")
        for c in slow + [newcomer]:
            c.close()
        self.stop_server(s)

    def test_running_requests_are_not_shed_and_a_newcomer_gets_503(self):
        s = self.start_server("--max-connections", "3", "--header-timeout-s", "60")
        api = s.client()
        r = api.put_json("/api/v1/namespaces/_/actions/nap", {"exec": {
            "kind": "nodejs:20",
            "code": "function main() { return new Promise(r => setTimeout(() => r({slept: true}), 3000)); }"}})
        self.assertEqual(r.status, 200, r.body)
        api.close()  # at the cap below it is the first to go, if the server still holds it
        running = []
        for _ in range(3):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
            c.sendall(("POST /api/v1/namespaces/_/actions/nap?blocking=true&result=true HTTP/1.1\r\nHost: x\r\n"
                       "Authorization: %s\r\nContent-Length: 0\r\n\r\n" % basic_auth(s.key)).encode())
            running.append(c)
        time.sleep(0.5)  # the server has read them and is running them
        newcomer = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        newcomer.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        r = http.client.HTTPResponse(newcomer)
        r.begin()
        self.assertEqual(r.status, 503)
        self.assertIn("connection limit", json.loads(r.read())["error"])
        self.assertTrue(closed_by_peer(newcomer, 10))
        newcomer.close()
        for c in running:  # each still gets its answer
            r = http.client.HTTPResponse(c)
            r.begin()
            self.assertEqual(r.status, 200)
            self.assertEqual(json.loads(r.read()), {"slept": True})
            c.close()
        self.stop_server(s)

    def test_per_address_cap_answers_503_and_frees_with_a_close(self):
        s = self.start_server("--max-connections-per-address", "3", "--header-timeout-s", "60")
        held = [open_idle(s.port) for _ in range(3)]
        extra = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        r = http.client.HTTPResponse(extra)
        r.begin()
        self.assertEqual(r.status, 503)
        self.assertEqual(r.getheader("Content-Type"), "application/json")
        body = json.loads(r.read())
        self.assertIn("Too many connections from 127.0.0.1", body["error"])
        self.assertIsInstance(body["code"], str)
        self.assertTrue(closed_by_peer(extra, 10))
        extra.close()
        # The held connections are untouched, and a close makes room for another.
        self.assertEqual(get_on(held[0]), 200)
        held.pop().close()

        def served():
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            try:
                return get_on(c) == 200
            finally:
                c.close()
        self.assertTrue(wait_for(served, timeout=10), "no room after a connection closed")
        for c in held:
            c.close()
        self.stop_server(s)


class HeaderTimeoutTest(ConnectionTestCase):

    def test_slowloris_is_closed_but_idle_keep_alive_is_not(self):
        s = self.start_server("--header-timeout-s", "2")
        # Idle keep-alive: it outlives the header timeout (the idle timeout is 60 s).
        idle = open_idle(s.port)
        # A header trickled a line every 0.5 s never completes: closed at the header timeout,
        # long before the 60 s idle timeout would apply.
        slow = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        slow.sendall(b"GET /healthz HTTP/1.1\r\n")
        deadline = time.monotonic() + 30
        closed = False
        slow.settimeout(0.5)
        while time.monotonic() < deadline and not closed:
            try:
                slow.sendall(b"X-Slow: 1\r\n")
                closed = slow.recv(4096) == b""
            except socket.timeout:
                pass
            except (ConnectionResetError, BrokenPipeError):
                closed = True
        self.assertTrue(closed, "a header trickled for 30 s was not cut off by --header-timeout-s 2")
        slow.close()
        # A connection accepted but silent is closed too.
        silent = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        self.assertTrue(closed_by_peer(silent, 30))
        silent.close()
        # The idle one (idle for more than twice the header timeout by now) still serves.
        self.assertEqual(get_on(idle), 200)
        idle.close()
        # A header slower than nothing but within the timeout is served.
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        for line in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
            c.sendall(line)
            time.sleep(0.3)
        r = http.client.HTTPResponse(c)
        r.begin()
        self.assertEqual(r.status, 200)
        c.close()
        self.stop_server(s)


class FloodTest(ConnectionTestCase):
    """1,000 idle and slow unauthenticated connections against a server whose fd limit is 1,024
    (soft and hard, so raising it to the hard limit cannot help) while a client keeps calling
    an action on a fresh connection each time: every call must be served."""

    FLOOD = 1000
    CALLS = 20
    CALL_TIMEOUT_S = 60  # generous: a call either gets through or the test fails
    HEADER_TIMEOUT_S = 3

    def test_client_is_served_during_a_flood(self):
        s = self.flood_and_call()
        self.assertIn("shed", s.log_text())
        self.stop_server(s)

    def test_out_of_fds_despite_the_cap_sheds_and_warns_rarely(self):
        # A cap above the fd limit: accept() itself fails with EMFILE. The server frees an fd
        # by shedding an idle or slow connection, and says so at most every 10 s (it used to
        # log ten lines a second).
        s = self.flood_and_call("--max-connections", "100000")
        log = s.log_text()
        warnings = log.count("accept failed")
        self.assertGreater(warnings, 0, "the flood did not exhaust the fds")
        self.assertLessEqual(warnings, 1 + (time.monotonic() - self.flood_started) / 10 + 1, log[-4000:])
        self.stop_server(s)

    def flood_and_call(self, *extra_args):
        s = self.start_server("--header-timeout-s", str(self.HEADER_TIMEOUT_S), *extra_args,
                              prefix=("prlimit", "--nofile=1024:1024", "--"))
        self.assertIn("file descriptor limit: 1024", s.log_text())
        api = s.client()
        r = api.put_json("/api/v1/namespaces/_/actions/hello", {"exec": {"kind": "nodejs:20", "code": HELLO}})
        self.assertEqual(r.status, 200, r)
        r = api.post_json("/api/v1/namespaces/_/actions/hello?blocking=true&result=true", {"name": "warm"})
        self.assertEqual(r.status, 200, r)
        api.close()

        self.flood_started = time.monotonic()
        flood = Flood(s.port, self.FLOOD)
        flood.start()
        try:
            self.assertEqual(flood.connect_failures, 0)
            ok, failures = 0, []
            for i in range(self.CALLS):
                conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=self.CALL_TIMEOUT_S)
                try:
                    conn.request("POST", "/api/v1/namespaces/_/actions/hello?blocking=true&result=true",
                                 body=json.dumps({"name": "c%d" % i}),
                                 headers={"Authorization": basic_auth(s.key),
                                          "Content-Type": "application/json"})
                    resp = conn.getresponse()
                    body = resp.read()
                    if resp.status == 200 and json.loads(body) == {"hello": "c%d" % i}:
                        ok += 1
                    else:
                        failures.append("call %d: %d %r" % (i, resp.status, body[:200]))
                except (OSError, http.client.HTTPException) as e:
                    failures.append("call %d: %r" % (i, e))
                finally:
                    conn.close()
                time.sleep(0.25)
            print("\nflood of %d: %d of %d calls served; the server closed %d flood connections"
                  % (self.FLOOD, ok, self.CALLS, flood.closed))
            self.assertEqual(failures, [], "%d of %d calls served" % (ok, self.CALLS))
            # Every connection of the first wave (silent, slowloris or idle) was closed: by
            # the header timeout or to make room. None holds an fd for good.
            self.assertTrue(wait_for(lambda: not flood.first_generation, timeout=60),
                            "%d flood connections still open" % len(flood.first_generation))
        finally:
            flood.stop()
        return s


if __name__ == "__main__":
    unittest.main()
