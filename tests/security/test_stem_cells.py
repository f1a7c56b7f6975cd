"""Stem cells (pre-started instances taken over by a cold call): a specialised stem cell sees
its own action's code, read-only, and nothing of another action's code."""

import os
import time
import unittest

from sec_common import IS_ROOT, NEEDS_ROOT, PY, SecurityTestCase, annotation, new_marker

OWNER_PY = r'''
SECRET = "%(secret)s"

def main(args):
    return {"secret_len": len(SECRET)}
'''

SNOOP_PY = r'''
import ctypes, errno, glob, os

def grep(path, secret):
    try:
        with open(path, "rb") as f:
            return secret.encode() in f.read(1 << 20)
    except OSError:
        return False

def main(args):
    secret = args["secret"]
    candidates = ["/code/source"]
    for root, dirs, files in os.walk("/", topdown=True):
        dirs[:] = [d for d in dirs if not (root == "/" and d in ("proc", "dev", "usr"))]
        candidates += [os.path.join(root, f) for f in files]
    candidates += glob.glob("/proc/[0-9]*/root/code/source")
    found = sorted(set(p for p in candidates if grep(p, secret)))
    try:
        open("/code/source", "a").close()
        write = "ok"
    except OSError as e:
        write = errno.errorcode.get(e.errno, str(e.errno))
    libc = ctypes.CDLL(None, use_errno=True)
    MS_REMOUNT, MS_BIND = 32, 4096
    rc = libc.mount(None, b"/code/source", None, MS_REMOUNT | MS_BIND, None)
    remount = "ok" if rc == 0 else errno.errorcode.get(ctypes.get_errno(), "?")
    return {"found": found, "code": sorted(os.listdir("/code")), "write": write, "remount": remount}
'''


def stem_cells_ready(api, want):
    r = api.request("GET", "/metrics", auth=None)
    for line in r.body.decode().splitlines():
        if line.startswith("hotrod_pool_stem_cells "):
            return float(line.split()[1]) >= want
    return False


@unittest.skipUnless(IS_ROOT, NEEDS_ROOT)
class StemCellIsolationTest(SecurityTestCase):
    server_args = ("--stem-cells", "1")

    def wait_ready(self):
        deadline = time.monotonic() + 20
        while not stem_cells_ready(self.api, 2):
            self.assertLess(time.monotonic(), deadline, "stem cells did not come up")
            time.sleep(0.05)

    def test_specialised_stem_cell_sees_only_its_own_code_read_only(self):
        secret = new_marker("stemsecret")
        self.wait_ready()
        self.deploy("stem-owner", OWNER_PY % {"secret": secret})
        owner = self.invoke("stem-owner").json()
        self.assertIs(annotation(owner, "coldStart")["stemCell"], True, owner)
        self.wait_ready()
        self.deploy("stem-snoop", SNOOP_PY)
        r = self.invoke("stem-snoop", {"secret": secret})
        record = r.json()
        self.assertIs(annotation(record, "coldStart")["stemCell"], True, record)
        facts = record["response"]["result"]
        self.assertEqual(facts["found"], [], "another action's code is visible")
        self.assertEqual(facts["code"], ["source"])
        self.assertIn(facts["write"], ("EROFS", "EACCES", "EPERM"))
        self.assertNotEqual(facts["remount"], "ok")


if __name__ == "__main__":
    unittest.main()
