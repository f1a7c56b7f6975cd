"""Instances of different actions cannot see each other: /tmp and code are private."""

import os
import unittest

from sec_common import PY, SecurityTestCase, new_marker

# Action A: its code carries a secret; it leaves a marker file in its /tmp.
OWNER_PY = r'''
import os
SECRET = "%(secret)s"

def main(args):
    path = "/tmp/hotrod-sec-" + SECRET
    with open(path, "w") as f:
        f.write(SECRET)
    return {"tmp_file": path, "code_file": main.__code__.co_filename, "pid": os.getpid()}
'''

# Action B: looks for A's marker everywhere it can think of. Reports what it could read that
# contains the secret, and what it saw of /tmp.
SNOOP_PY = r'''
import glob, os

def grep(path, secret):
    try:
        with open(path, "rb") as f:
            return secret.encode() in f.read(1 << 20)
    except OSError:
        return False

def main(args):
    secret = args["secret"]
    candidates = list(args["paths"])
    candidates += glob.glob("/proc/[0-9]*/root/tmp/hotrod-sec-" + secret)
    candidates += glob.glob("/proc/[0-9]*/cwd/hotrod-sec-" + secret)
    for pid_dir in glob.glob("/proc/[0-9]*"):
        for p in args["paths"]:
            candidates.append(pid_dir + "/root" + p)
    found = sorted(set(p for p in candidates if grep(p, secret)))
    try:
        tmp = sorted(n for n in os.listdir("/tmp") if n.startswith("hotrod-sec-"))
    except OSError as e:
        tmp = ["error:%d" % e.errno]
    return {"found": found, "tmp_entries": tmp, "code_file": main.__code__.co_filename}
'''


def host_files_containing(root, needle):
    hits = []
    for d, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            try:
                with open(p, "rb") as fh:
                    if needle.encode() in fh.read(1 << 20):
                        hits.append(p)
            except OSError:
                pass
    return hits


class IsolationTest(SecurityTestCase):

    def test_other_actions_tmp_and_code_invisible(self):
        secret = new_marker()
        self.remove_after("/tmp/hotrod-sec-" + secret)  # where it lands without a sandbox
        owner = self.deploy("sec-owner", OWNER_PY % {"secret": secret})
        snoop = self.deploy("sec-snoop", SNOOP_PY)
        a = self.call_ok(owner)
        # The owner's code as stored by the server (the code store under the data directory).
        host_code = host_files_containing(self.server.data_dir, secret)
        self.assertTrue(host_code, "the owner's code was not found in the data directory")
        paths = sorted(set([a["tmp_file"], a["code_file"]] + host_code))
        b = self.call_ok(snoop, {"secret": secret, "paths": paths})
        self.assertEqual(b["found"], [], "action B read action A's files: %r" % b)
        self.assertEqual(b["tmp_entries"], [], "action B sees A's /tmp entries: %r" % b)
        # Both still work, and A still sees its own file (the instance was warm).
        self.assertEqual(self.call_ok(owner)["tmp_file"], a["tmp_file"])


if __name__ == "__main__":
    unittest.main()
