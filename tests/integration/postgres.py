"""A real PostgreSQL server for integration tests, started the way the C++ store tests start
theirs (src/store/postgres/pg_test_util.h): Debian's initdb and pg_ctl (package `postgresql`,
version 15) in a fresh temporary directory, on a free loopback port, trusting local connections.

PostgreSQL refuses to run as root: as root the binaries run as the `postgres` user (runuser) in a
directory that user owns. Missing binaries raise an error naming the package to install (the
test fails; it does not skip).
"""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile

from harness import free_port

BIN_DIR = "/usr/lib/postgresql/15/bin"
MISSING = ("PostgreSQL 15 is not installed (no %s/initdb): install the Debian package "
           "`postgresql` (apt-get install postgresql, or `make deps`)" % BIN_DIR)


class PostgresServer:
    """initdb + pg_ctl start; stop() stops it by its postmaster pid and removes the directory."""

    def __init__(self):
        if not os.path.exists(os.path.join(BIN_DIR, "initdb")):
            raise RuntimeError(MISSING)
        self.dir = tempfile.mkdtemp(prefix="hotrod-pg-", dir="/tmp")
        self.data = os.path.join(self.dir, "data")
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(MISSING)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.port = free_port()
        self.pid = None

    def _run(self, *args):
        cmd = [os.path.join(BIN_DIR, args[0])] + list(args[1:])
        if self.as_postgres:
            cmd = ["/usr/sbin/runuser", "-u", "postgres", "--"] + cmd
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.dir)
        if p.returncode != 0:
            raise RuntimeError("%s failed (%d): %s\nserver log:\n%s"
                               % (args[0], p.returncode, p.stdout.decode(errors="replace"), self.log()))
        return p.stdout.decode(errors="replace")

    def start(self):
        if not os.path.exists(self.data):
            self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                      "--locale=C", "--no-sync", "--no-instructions")
        options = ("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off"
                   % (self.port, self.dir))
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"), "-w", "-t", "60",
                  "-o", options, "start")
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            self.pid = int(f.readline())
        return self

    def stop(self):
        if self.pid is None:
            return
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "-t", "30", "stop")
        finally:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, db):
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, db)

    def psql(self, db, sql):
        """Runs one SQL command; returns its output, unaligned and without headers."""
        return self._run("psql", "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", str(self.port),
                         "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-c", sql).strip()

    def create_database(self, db):
        self.psql("postgres", "CREATE DATABASE %s" % db)
        return self.url(db)

    def log(self):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return f.read()[-8000:]
        except OSError:
            return ""
