"""A hotrod cluster on loopback for integration tests: a real PostgreSQL (postgres.py), a real
nats-server with JetStream (Debian package `nats-server`), controllers (`hotrod serve --role
controller`) and invokers (`--role invoker`), each node with its own data directory, as on
separate machines. Every process is a child of the test (it dies with it) and is stopped by pid.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from harness import HOTROD_BIN, Server, _die_with_parent, free_port, new_guest_key, read_admin_key
from postgres import PostgresServer

NATS_MISSING = ("nats-server not found ($HOTROD_NATS_SERVER, PATH, /usr/sbin, /usr/bin): install the "
                "Debian package `nats-server` (apt-get install nats-server, or `make deps`)")


def nats_binary():
    """Where nats-server is, found as the C++ tests find it (nats_server_test_util.h)."""
    for candidate in (os.environ.get("HOTROD_NATS_SERVER"), shutil.which("nats-server"),
                      "/usr/sbin/nats-server", "/usr/bin/nats-server"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(NATS_MISSING)
READY_TIMEOUT_S = 20


class NatsServer:
    """nats-server -js on a free loopback port, its JetStream store in a temporary directory."""

    def __init__(self):
        self.binary = nats_binary()
        self.dir = tempfile.mkdtemp(prefix="hotrod-nats-", dir="/tmp")
        self.port = free_port()
        self.proc = None
        self.log_path = os.path.join(self.dir, "nats.log")

    @property
    def url(self):
        return "nats://127.0.0.1:%d" % self.port

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port),
                                      "-sd", os.path.join(self.dir, "js")],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent)
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while "Server is ready" not in self.log():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("nats-server did not start; log:\n%s" % self.log())
            time.sleep(0.02)
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-8000:]
        except OSError:
            return ""


class InvokerNode(Server):
    """`hotrod serve --role invoker`: no API of its own; ready once it says it takes activations."""

    READY = re.compile(r"hotrod invoker \S+ ready on ")

    def start(self):
        assert self.proc is None, "already running"
        if not os.path.exists(HOTROD_BIN):
            raise RuntimeError("hotrod binary not found at %s (set HOTROD_BIN)" % HOTROD_BIN)
        self.port = free_port()  # unused by an invoker; kept so that logs name the node
        since = self.log_size()
        self.log_file = open(self.log_path, "ab")
        self.starts += 1
        self.log_file.write(b"\n===== hotrod invoker start #%d =====\n" % self.starts)
        self.log_file.flush()
        env = dict(os.environ)
        env.pop("HOTROD_GUEST_KEY", None)
        cmd = [HOTROD_BIN, "serve", "--role", "invoker", "--listen", "127.0.0.1:%d" % self.port,
               "--data-dir", self.data_dir] + self.extra_args
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self.READY.search(self.log_text(since=since)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("hotrod invoker did not start; log:\n%s" % self.log_text(since=since))
            time.sleep(0.02)
        return self


class Cluster:
    """PostgreSQL + NATS + `controllers` controllers + `invokers` invokers (each its own data
    directory). cleanup() stops everything by pid."""

    def __init__(self, name, controllers=1, invokers=2, invoker_args=(), controller_args=()):
        self.key = new_guest_key()
        self.pg = PostgresServer()
        self.nats = NatsServer()
        self.name = name
        self.controller_args = list(controller_args)
        self.invoker_args = list(invoker_args)
        self.controllers = []
        self.invokers = []
        self.n_controllers = controllers
        self.n_invokers = invokers
        self.store = None

    def start(self):
        self.pg.start()
        self.store = self.pg.create_database("hotrod_%s" % self.name)
        self.nats.start()
        for i in range(self.n_invokers):
            self.add_invoker("inv%d" % i)
        for _ in range(self.n_controllers):
            self.add_controller()
        self.wait_for_invokers()
        return self

    def invokers_seen(self, controller=0):
        """GET /api/v1/admin/invokers of a controller: {id: invoker}."""
        c = self.controllers[controller]
        api = c.client(read_admin_key(c.data_dir))
        try:
            r = api.get("/api/v1/admin/invokers")
            if r.status != 200:
                raise RuntimeError("admin/invokers: %s" % r)
            return {i["id"]: i for i in r.json()["invokers"]}
        finally:
            api.close()

    def wait_for_invokers(self, timeout_s=READY_TIMEOUT_S):
        """Until every controller sees every running invoker online (their heartbeats come every
        second): what a client needs before its calls can be placed."""
        running = sorted(n.invoker_id for n in self.invokers if n.alive())
        deadline = time.monotonic() + timeout_s
        for i in range(len(self.controllers)):
            while True:
                seen = self.invokers_seen(i)
                online = sorted(k for k, v in seen.items() if v["state"] == "online")
                if all(k in online for k in running):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("controller %d sees %s online, not %s" % (i, online, running))
                time.sleep(0.1)

    def common_args(self):
        return ["--store", self.store, "--bus", self.nats.url]

    def add_controller(self):
        c = Server(guest_key=self.key,
                   extra_args=["--role", "controller"] + self.common_args() + self.controller_args)
        self.controllers.append(c)
        c.start()
        return c

    def add_invoker(self, invoker_id):
        node = InvokerNode(extra_args=self.common_args() + ["--invoker-id", invoker_id] + self.invoker_args)
        node.invoker_id = invoker_id
        self.invokers.append(node)
        node.start()
        return node

    def client(self, i=0):
        return self.controllers[i].client()

    def logs(self):
        parts = []
        for c in self.controllers:
            parts.append("----- controller :%s -----\n%s" % (c.port, c.log_text(max_bytes=16 << 10)))
        for n in self.invokers:
            parts.append("----- invoker -----\n%s" % n.log_text(max_bytes=16 << 10))
        parts.append("----- nats -----\n%s" % self.nats.log())
        return "\n".join(parts)

    def cleanup(self):
        for node in self.controllers + self.invokers:
            try:
                node.cleanup()
            except Exception as e:  # keep stopping the others
                print("cleanup: %s" % e)
        self.nats.cleanup()
        self.pg.cleanup()


def main():
    """`make cluster`: a local cluster to try (3 invokers, 1 controller, its own PostgreSQL and
    NATS in temporary directories), until Ctrl-C; then everything stops and is removed."""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--invokers", type=int, default=3)
    parser.add_argument("--controllers", type=int, default=1)
    args = parser.parse_args()
    cluster = Cluster("local", controllers=args.controllers, invokers=args.invokers)
    try:
        cluster.start()
        print("hotrod cluster: %d controller(s), %d invoker(s), PostgreSQL %s, NATS %s"
              % (args.controllers, args.invokers, cluster.store, cluster.nats.url))
        for c in cluster.controllers:
            print("  controller http://127.0.0.1:%d (log %s)" % (c.port, c.log_path))
        for n in cluster.invokers:
            print("  invoker (log %s)" % n.log_path)
        print("guest key: %s" % cluster.key)
        print("try:  build/hotrod --apihost http://127.0.0.1:%d --auth %s action list"
              % (cluster.controllers[0].port, cluster.key))
        print("Ctrl-C stops the cluster and removes its data.")
        sys.stdout.flush()
        signal.sigwait([signal.SIGINT, signal.SIGTERM])
    finally:
        cluster.cleanup()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT, signal.SIGTERM])
    main()
