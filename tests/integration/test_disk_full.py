"""A data directory on a small tmpfs (64 MB), filled and freed (docs/operations.md, "Disk full").

Counts what the API accepted against what was recorded: every call answered 200/202 ends with
exactly one record, also when the disk filled up under it and after a clean stop and a restart
on the full disk. Writes get 507 with a plain JSON body while space is short, reads keep
working, memory stays bounded, and deleting actions gives their code's space back.

Needs root (mount); run as a normal user the tests are reported as skipped.
"""

import collections
import os
import subprocess
import tempfile
import threading
import unittest

import harness
from harness import ACTIVATION_ID_RE, Server

MOUNT_SIZE = 64 << 20
# ~10 MB of logs (the default log limit): 1000 lines of 10 KB.
LOUD = ("function main(p) { const s = 'x'.repeat(10000);"
        " for (let i = 0; i < 1000; i++) console.log(i + ' ' + s); return {ok: true, n: p.n}; }")
QUICK = "function main(p) { return {n: p.n}; }"
MARKER = "[hotrod: logs truncated: the disk was full]"


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


class DiskFullTest(unittest.TestCase):

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        self.mnt = tempfile.mkdtemp(prefix="hotrod-disk-")
        subprocess.check_call(["mount", "-t", "tmpfs", "-o", "size=%d" % MOUNT_SIZE, "tmpfs", self.mnt])
        self.addCleanup(self.unmount)  # runs last: after the server's cleanup below
        self.data = os.path.join(self.mnt, "data")
        self.server = Server(data_dir=self.data)
        self.addCleanup(self.server.cleanup)
        self.server.start()
        self.api = self.server.client()
        self.addCleanup(lambda: self.api.close())

    def unmount(self):
        subprocess.call(["umount", "-l", self.mnt])
        os.rmdir(self.mnt)

    def run(self, result=None):
        bad_before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > bad_before and hasattr(self, "server"):
            print("\n----- hotrod log -----\n%s\n-----" % self.server.log_text())
        return out

    # ---- helpers

    def free(self):
        s = os.statvfs(self.mnt)
        return s.f_bavail * s.f_frsize

    def fill(self, leave):
        """A big file that leaves about `leave` bytes free (0: as full as it gets)."""
        path = os.path.join(self.mnt, "big-%d" % len(os.listdir(self.mnt)))
        with open(path, "ab") as f:
            try:
                while self.free() > leave:
                    f.write(b"\0" * min(1 << 20, max(4096, self.free() - leave)))
                    f.flush()
            except OSError:
                pass  # ENOSPC: as full as it gets
        return path

    def put_action(self, name, code, client=None):
        return (client or self.api).put_json("/api/v1/namespaces/_/actions/%s?overwrite=true" % name,
                                             {"exec": {"kind": "nodejs:20", "code": code}})

    def assert_plain_507(self, r):
        self.assertEqual(r.status, 507, r)
        body = r.json()
        self.assertIsInstance(body.get("error"), str, r)
        self.assertIsInstance(body.get("code"), str, r)
        self.assertIn("disk space", body["error"])
        for leak in (self.mnt, "/tmp", "sqlite", "No space left"):
            self.assertNotIn(leak, r.body.decode(), r)

    def all_records(self):
        records, skip = [], 0
        while True:
            page = self.api.get("/api/v1/namespaces/_/activations?limit=200&skip=%d" % skip)
            self.assertEqual(page.status, 200, page)
            records += page.json()
            if len(page.json()) < 200:
                return records
            skip += 200

    def restart(self):
        self.api.close()
        self.assertEqual(self.server.stop(), 0, "hotrod serve did not exit 0 on SIGTERM")
        self.server.start()
        self.api = self.server.client()

    # ---- tests

    def test_every_served_call_is_recorded_once_when_the_disk_fills(self):
        for name, code in (("loud", LOUD), ("quick", QUICK)):
            self.assertEqual(self.put_action(name, code).status, 200)
        self.fill(14 << 20)
        accepted = {}  # activation id -> action
        statuses = collections.Counter()
        lock = threading.Lock()

        def call(n):
            c = self.server.client()
            try:
                r = c.post_json("/api/v1/namespaces/_/actions/loud?blocking=true", {"n": n})
            finally:
                c.close()
            with lock:
                statuses["loud %d" % r.status] += 1
                if r.status in (200, 202):
                    accepted[r.json()["activationId"]] = "loud"
                else:
                    self.assert_plain_507(r)

        # Four at once, then twenty one after the other: there is room for the calls, not for
        # 10 MB of logs each (SQLite needs about twice a record: the log, then the checkpoint).
        threads = [threading.Thread(target=call, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for n in range(4, 24):
            call(n)
        rss_after_loud = rss_mb(self.server.proc.pid)
        for n in range(200):
            r = self.api.post_json("/api/v1/namespaces/_/actions/quick", {"n": n})
            statuses["quick %d" % r.status] += 1
            self.assertEqual(r.status, 202, r)
            accepted[r.json()["activationId"]] = "quick"
        self.assertEqual(statuses["loud 200"], 24, statuses)
        if not harness.SANITIZED:
            self.assertLess(rss_after_loud, 200, "RSS after 24 calls logging 10 MB each")

        # Below the reserve: every write is refused, whatever it is.
        self.fill(2 << 20)
        for n in range(24, 28):
            call(n)
        for n in range(200, 220):
            r = self.api.post_json("/api/v1/namespaces/_/actions/quick", {"n": n})
            statuses["quick %d" % r.status] += 1
            self.assert_plain_507(r)
        print("\ndisk full: statuses %s, accepted %d, RSS after 24 loud calls %d MB, free %d KB"
              % (dict(statuses), len(accepted), rss_after_loud, self.free() >> 10))
        self.assertEqual(statuses["loud 507"], 4, statuses)

        # Writes are refused with a plain 507; reads work.
        self.assert_plain_507(self.put_action("another", QUICK))
        self.assert_plain_507(self.api.put_json("/api/v1/namespaces/_/triggers/t", {}))
        self.assertEqual(self.api.get("/api/v1/namespaces/_/actions/loud").status, 200)
        self.assertEqual(self.api.get("/api/v1/namespaces/_/activations?limit=5").status, 200)

        # A clean stop keeps every served record, and the server starts again on the full disk.
        self.restart()
        self.assertNotIn("giving up", self.server.log_text(max_bytes=1 << 22))
        records = self.all_records()
        counts = collections.Counter(a["activationId"] for a in records)
        recorded = sum(1 for aid in accepted if counts[aid] == 1)
        print("disk full: accepted %d, recorded once %d, missing %d, duplicated %d"
              % (len(accepted), recorded, sum(1 for a in accepted if counts[a] == 0),
                 sum(1 for a in accepted if counts[a] > 1)))
        self.assertEqual(recorded, len(accepted))

        # The loud records keep their results; those that did not fit lost their logs, saying so.
        cut = 0
        for a in records:
            if a["name"] != "loud":
                continue
            rec = self.api.get("/api/v1/namespaces/_/activations/%s" % a["activationId"]).json()
            self.assertEqual(rec["response"]["result"]["ok"], True, a["activationId"])
            full = rec["logs"]
            if any(MARKER in line for line in full):
                cut += 1
            else:
                self.assertGreaterEqual(len(full), 1000)
        self.assertGreaterEqual(cut, 1, "no record was too big for the space left")

        # Freed: writes work again.
        for name in os.listdir(self.mnt):
            if name.startswith("big-"):
                os.unlink(os.path.join(self.mnt, name))
        self.assertEqual(self.put_action("another", QUICK).status, 200)
        r = self.api.post_json("/api/v1/namespaces/_/actions/quick?blocking=true", {"n": -1})
        self.assertEqual(r.status, 200, r)

    def test_start_on_a_full_disk_frees_garbage_first(self):
        self.assertEqual(self.put_action("quick", QUICK).status, 200)
        self.api.close()
        self.assertEqual(self.server.stop(), 0)
        # Garbage a crash could leave: code no action uses, temp files of a dead process.
        orphan = os.path.join(self.data, "code", "blobs", "ab" * 32)
        with open(orphan, "wb") as f:
            f.write(os.urandom(2 << 20))
        stale_temp = os.path.join(self.data, "code", "tmp", "999999999-deadbeef")
        with open(stale_temp, "wb") as f:
            f.write(os.urandom(1 << 20))
        stale_shim = os.path.join(self.data, "runtimes", "node", "shim.js.tmp.999999999.0")
        with open(stale_shim, "w") as f:
            f.write("half a shim")
        self.fill(0)
        self.assertLess(self.free(), 64 << 10)
        self.server.start()  # raises (with the log) if the server cannot start
        self.api = self.server.client()
        for path in (orphan, stale_temp, stale_shim):
            self.assertFalse(os.path.exists(path), path)
        self.assertEqual(self.api.get("/api/v1/namespaces/_/actions/quick").status, 200)
        self.assert_plain_507(self.put_action("new", QUICK))

    def test_deleting_and_updating_actions_frees_their_code(self):
        def big_code(tag):  # ~4 MB of source each, all different
            return "// %s\n// %s\nfunction main() { return {}; }" % (tag, os.urandom(2 << 20).hex())

        before = self.free()
        for i in range(4):
            self.assertEqual(self.put_action("big%d" % i, big_code(i)).status, 200)
        self.assertLess(self.free(), before - (14 << 20))
        # The same code under two names is stored once and stays while one of them uses it.
        shared = big_code("shared")
        self.assertEqual(self.put_action("twin1", shared).status, 200)
        self.assertEqual(self.put_action("twin2", shared).status, 200)
        self.assertEqual(self.api.delete("/api/v1/namespaces/_/actions/twin1").status, 200)
        r = self.api.post_json("/api/v1/namespaces/_/actions/twin2?blocking=true", {})
        self.assertEqual(r.status, 200, r)

        with_code = self.free()
        for i in range(2):
            self.assertEqual(self.api.delete("/api/v1/namespaces/_/actions/big%d" % i).status, 200)
        self.assertGreater(self.free(), with_code + (7 << 20), "deleting two 4 MB actions")
        updated = self.free()
        self.assertEqual(self.put_action("big2", QUICK).status, 200)  # new code: the old goes
        self.assertGreater(self.free(), updated + (3 << 20), "replacing 4 MB of code")

        # While full, a delete still works and gives the space back.
        big = self.fill(1 << 20)
        self.assert_plain_507(self.put_action("big9", QUICK))
        self.assertEqual(self.api.delete("/api/v1/namespaces/_/actions/big3").status, 200)
        os.unlink(big)
        self.assertEqual(self.put_action("big9", QUICK).status, 200)
        self.assertEqual(self.api.get("/api/v1/namespaces/_/actions/twin2").status, 200)


if __name__ == "__main__":
    unittest.main()
