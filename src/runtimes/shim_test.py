#!/usr/bin/python3
"""Protocol tests of the runtime shims (docs/runtimes.md), stdlib only.

Each instance is started exactly as the invoker starts it: the interpreter, its arguments and the
shim path come from manifest.json; fd 0 is /dev/null, fds 1 and 2 are pipes, fd 3 is one end of
a SOCK_STREAM socketpair, and the environment is minimal and explicit.
"""
import fcntl
import json
import os
import socket
import struct
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
NOT_A_DICT = "The action did not return a dictionary."
ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
TIMEOUT = 10.0

with open(os.path.join(HERE, "manifest.json"), encoding="utf-8") as f:
    RUNTIMES = {r["kind"]: r for r in json.load(f)["runtimes"]}
NODE = "nodejs:20"
PYTHON = "python:3.11"


class LogStream:
    """Reads one log pipe on a thread and hands out the lines of each activation."""

    def __init__(self, fd):
        self.fd = fd
        self.lines = []      # complete lines read so far
        self.consumed = 0    # lines already returned by take()
        self.partial = b""
        self.eof = False
        self.cond = threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        while True:
            chunk = os.read(self.fd, 65536)
            with self.cond:
                if not chunk:
                    self.eof = True
                    self.cond.notify_all()
                    os.close(self.fd)
                    return
                data = self.partial + chunk
                *complete, self.partial = data.split(b"\n")
                self.lines.extend(line.decode("utf-8", "replace") for line in complete)
                self.cond.notify_all()

    def take(self, timeout=TIMEOUT):
        """Lines up to the next sentinel (excluded); fails if no sentinel arrives in time."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(self.consumed, len(self.lines)):
                    if self.lines[i].endswith(SENTINEL):
                        out = self.lines[self.consumed:i]
                        head = self.lines[i][: -len(SENTINEL)]
                        if head:  # output without a final newline shares the sentinel's line
                            out.append(head)
                        self.consumed = i + 1
                        return out
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    raise AssertionError(f"no sentinel; lines: {self.lines[self.consumed:]!r}")
                self.cond.wait(left)

    def pending(self):
        with self.cond:
            return self.lines[self.consumed:]


def move_high(fd):
    """Moves fd to a number above 3 so that the spawn's dup2(fd, 3) clears close-on-exec."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Instance:
    def __init__(self, kind, non_blocking=False):
        spec = RUNTIMES[kind]
        self.kind = kind
        shim = os.path.join(HERE, spec["shim"])
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        child_fd = move_high(child.detach())
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        if non_blocking:  # what an invoker using pipe2(O_NONBLOCK) would hand over
            for fd in (child_fd, out_w, err_w):
                os.set_blocking(fd, False)
        argv = [spec["interpreter"], *spec["args"], shim]
        self.pid = os.posix_spawn(argv[0], argv, ENV, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out_w, 1),
            (os.POSIX_SPAWN_DUP2, err_w, 2),
            (os.POSIX_SPAWN_DUP2, child_fd, 3),
        ])
        for fd in (child_fd, out_w, err_w):
            os.close(fd)
        self.sock = parent
        self.sock.settimeout(TIMEOUT)
        self.stdout = LogStream(out_r)
        self.stderr = LogStream(err_r)

    def send(self, obj):
        data = json.dumps(obj).encode()
        self.sock.sendall(struct.pack(">I", len(data)) + data)

    def recv(self):
        header = self._recv_exact(4)
        (n,) = struct.unpack(">I", header)
        return json.loads(self._recv_exact(n))

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise AssertionError("the shim closed the channel; stderr: "
                                     f"{self.stderr.pending()!r}")
            buf += chunk
        return bytes(buf)

    def init(self, code_path, main="", binary=False, env=None):
        self.send({"op": "init", "kind": self.kind, "main": main, "binary": binary,
                   "code_path": code_path, "env": env or {}})
        return self.recv()

    def run(self, params=None, env=None):
        """Returns (reply, stdout lines, stderr lines) of one activation."""
        env = dict(env or {})
        env.setdefault("__OW_ACTIVATION_ID", os.urandom(16).hex())
        env.setdefault("__OW_DEADLINE", str(int(time.time() * 1000) + 60000))
        self.send({"op": "run", "params": params if params is not None else {}, "env": env})
        reply = self.recv()
        return reply, self.stdout.take(), self.stderr.take()

    def close(self):
        """Closes the channel; the shim must exit on its own. Returns its exit code."""
        self.sock.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.005)
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        raise AssertionError("the shim did not exit when the channel closed")


class ShimTestBase(unittest.TestCase):
    KIND = None

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.instances = []

    def tearDown(self):
        for inst in self.instances:
            self.assertEqual(inst.close(), 0)
        self.tmp.cleanup()

    def write(self, rel, text):
        path = os.path.join(self.tmp.name, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def start(self, non_blocking=False):
        inst = Instance(self.KIND, non_blocking)
        self.instances.append(inst)
        return inst

    def action(self, code, main="", env=None):
        """An initialised instance running inline code (a file without an extension)."""
        inst = self.start()
        reply = inst.init(self.write("code/action", code), main=main, env=env)
        self.assertEqual(reply, {"ok": True}, inst.stderr.pending())
        return inst

    def init_error(self, code, main=""):
        inst = self.start()
        reply = inst.init(self.write("code/action", code), main=main)
        self.assertFalse(reply["ok"])
        return reply["error"]

    def result(self, inst, params=None, env=None):
        reply, _, _ = inst.run(params, env)
        self.assertTrue(reply["ok"], reply)
        return reply["result"]

    def dev_error(self, inst, params=None):
        reply, out, err = inst.run(params)
        self.assertFalse(reply["ok"], reply)
        return reply["error"], out, err

    def check_large(self, code):
        inst = self.action(code)
        big = "x" * (5 * 1024 * 1024)
        result = self.result(inst, {"n": 5 * 1024 * 1024, "echo": big})
        self.assertEqual(len(result["data"]), 5 * 1024 * 1024)
        self.assertEqual(result["echo"], big)
        self.assertEqual(self.result(inst, {"n": 1, "echo": ""})["data"], "x")

    def check_many_runs(self, inst, count=200):
        for i in range(count):
            aid = f"{i:032x}"
            reply, out, err = inst.run({"i": i}, {"__OW_ACTIVATION_ID": aid})
            self.assertEqual(reply, {"ok": True, "result": {"i": i, "calls": i + 1, "id": aid}})
            self.assertEqual(out, [f"call {i}"])
            self.assertEqual(err, [])

    def check_non_blocking_descriptors(self, code):
        inst = self.start(non_blocking=True)
        self.assertEqual(inst.init(self.write("code/action", code)), {"ok": True})
        for n in (10, 300000, 10):  # 300 kB of logs fill the pipes
            reply, out, err = inst.run({"n": n})
            self.assertEqual(reply, {"ok": True, "result": {"n": n}})
            self.assertEqual(out, ["o" * n])
            self.assertEqual(err, ["e" * n])

    def check_protocol_errors(self, inst):
        reply, out, err = inst.run({})
        self.assertEqual(reply["ok"], False)
        self.assertIn("not been initialized", reply["error"])
        inst.send({"op": "bogus"})
        self.assertFalse(inst.recv()["ok"])
        inst.sock.sendall(struct.pack(">I", 4) + b"{bad")
        self.assertIn("Malformed request", inst.recv()["error"])
        inst.sock.sendall(struct.pack(">I", 2) + b"[]")
        self.assertIn("Malformed request", inst.recv()["error"])
        self.assertIn("not been initialized", inst.run({})[0]["error"])  # still serving


class NodeShimTest(ShimTestBase):
    KIND = NODE

    def test_openwhisk_main_not_exported(self):
        inst = self.action("function main(params) {\n  return {greeting: 'hello ' + params.name};\n}\n")
        self.assertEqual(self.result(inst, {"name": "ada"}), {"greeting": "hello ada"})

    def test_exports_main_and_module_exports(self):
        inst = self.action("exports.main = (p) => ({via: 'exports.main', x: p.x});")
        self.assertEqual(self.result(inst, {"x": 1}), {"via": "exports.main", "x": 1})
        inst = self.action("module.exports = function (p) { return {via: 'module.exports'}; };")
        self.assertEqual(self.result(inst), {"via": "module.exports"})

    def test_lambda_async_handler(self):
        inst = self.action(
            "exports.handler = async (event, context) => {\n"
            "  await new Promise((r) => setTimeout(r, 20));\n"
            "  return {statusCode: 200, id: context.awsRequestId, name: context.functionName};\n"
            "};\n", env={"__OW_ACTION_NAME": "/guest/fn"})
        aid = "ab" * 16
        self.assertEqual(self.result(inst, {}, {"__OW_ACTIVATION_ID": aid}),
                         {"statusCode": 200, "id": aid, "name": "/guest/fn"})

    def test_callback_style(self):
        inst = self.action(
            "exports.handler = function (event, context, callback) {\n"
            "  setTimeout(() => callback(null, {payload: event.v}), 5);\n"
            "};\n")
        self.assertEqual(self.result(inst, {"v": 7}), {"payload": 7})
        inst = self.action("exports.handler = (e, c, cb) => cb(new Error('nope'));")
        self.assertEqual(self.result(inst), {"error": "nope"})

    def test_named_entry_and_handler_fallback(self):
        inst = self.action("function other() { return {n: 1}; }\nfunction myEntry() { return {n: 2}; }",
                           main="myEntry")
        self.assertEqual(self.result(inst), {"n": 2})
        inst = self.action("function handler(e) { return {fallback: true}; }")
        self.assertEqual(self.result(inst), {"fallback": True})

    def test_inline_code_variants(self):
        inst = self.action("#!/usr/bin/env node\n'use strict';\n"
                           "const main = async (p) => ({strict: (function () { return this === undefined; })()});\n")
        self.assertEqual(self.result(inst), {"strict": True})
        inst = self.action("let handler = (e) => { return {let: true}; }\n// trailing comment")
        self.assertEqual(self.result(inst), {"let": True})

    def test_commonjs_environment_in_inline_code(self):
        inst = self.action(
            "const path = require('path');\n"
            "function main() {\n"
            "  return {base: path.basename(__filename), dir: __dirname === path.dirname(__filename),\n"
            "          same: module.exports === exports, resolve: typeof require.resolve};\n"
            "}\n")
        self.assertEqual(self.result(inst), {"base": "action", "dir": True, "same": True,
                                             "resolve": "function"})

    def test_init_errors(self):
        err = self.init_error("function main() {\n  return {a: };\n}\n")
        self.assertIn("SyntaxError", err)
        self.assertIn("line 2", err)
        self.assertIn("'main' is not a function", self.init_error("function mian() {}"))
        self.assertIn("'nope' is not a function",
                      self.init_error("function main() { return {}; }", main="nope"))
        self.assertIn("boom at load", self.init_error("throw new Error('boom at load');"))
        inst = self.action("function main() { return {}; }")
        self.assertIn("more than once", inst.init(self.write("code/action", ""))["error"])

    def test_thrown_error_is_developer_error(self):
        inst = self.action("function main() { throw new TypeError('bad thing'); }")
        error, _, err = self.dev_error(inst)
        self.assertEqual(error, "An error has occurred: TypeError: bad thing")
        self.assertTrue(any("TypeError: bad thing" in line for line in err), err)
        self.assertEqual(self.result(self.action("function main() { return {fine: 1}; }")), {"fine": 1})

    def test_non_dictionary_results(self):
        for value in ["'text'", "42", "[1, 2]", "null", "undefined", "true",
                      "Promise.resolve([1])", "new Date(0)"]:
            inst = self.action(f"function main() {{ return {value}; }}")
            self.assertEqual(self.dev_error(inst)[0], NOT_A_DICT, value)
        inst = self.action("function main() { const o = {}; o.self = o; return o; }")
        self.assertIn("could not be serialised", self.dev_error(inst)[0])

    def test_rejected_promise_is_application_error(self):
        inst = self.action("async function main() { throw new Error('rejected'); }")
        self.assertEqual(self.result(inst), {"error": "rejected"})
        inst = self.action("function main() { return Promise.reject({code: 42}); }")
        self.assertEqual(self.result(inst), {"error": {"code": 42}})
        inst = self.action("function main() { return Promise.reject('plain'); }")
        self.assertEqual(self.result(inst), {"error": "plain"})

    def test_async_results(self):
        inst = self.action(
            "function main(p) {\n"
            "  return new Promise((resolve) => setTimeout(() => resolve({late: p.n * 2}), 30));\n"
            "}\n")
        self.assertEqual(self.result(inst, {"n": 21}), {"late": 42})
        self.assertEqual(self.result(inst, {"n": 1}), {"late": 2})

    def test_remaining_time(self):
        inst = self.action(
            "exports.handler = async (e, ctx) => ({left: ctx.getRemainingTimeInMillis(),\n"
            "                                     deadline: ctx.deadline});")
        deadline = int(time.time() * 1000) + 5000
        result = self.result(inst, {}, {"__OW_DEADLINE": str(deadline)})
        self.assertEqual(result["deadline"], deadline)
        self.assertTrue(3000 < result["left"] <= 5000, result)
        result = self.result(inst, {}, {"__OW_DEADLINE": str(int(time.time() * 1000) - 10)})
        self.assertEqual(result["left"], 0)

    def test_env_per_run_and_init_env(self):
        inst = self.action(
            "function main() { return {id: process.env.__OW_ACTIVATION_ID,\n"
            "                          ns: process.env.__OW_NAMESPACE}; }",
            env={"__OW_NAMESPACE": "guest"})
        for aid in ("1" * 32, "2" * 32):
            self.assertEqual(self.result(inst, {}, {"__OW_ACTIVATION_ID": aid}),
                             {"id": aid, "ns": "guest"})

    def test_many_runs_on_one_instance(self):
        inst = self.action(
            "let calls = 0;\n"
            "function main(p) { calls++; console.log('call ' + p.i);\n"
            "  return {i: p.i, calls, id: process.env.__OW_ACTIVATION_ID}; }\n")
        self.check_many_runs(inst)

    def test_logs_before_sentinel_in_order(self):
        inst = self.action(
            "console.log('loaded');\n"
            "function main(p) {\n"
            "  console.log('one'); console.error('e1'); process.stdout.write('two\\n');\n"
            "  console.error('e2'); console.log('x'.repeat(p.big));\n"
            "  return {};\n"
            "}\n")
        reply, out, err = inst.run({"big": 10})
        self.assertEqual(reply, {"ok": True, "result": {}})
        self.assertEqual(out, ["loaded", "one", "two", "x" * 10])  # init output: first activation
        self.assertEqual(err, ["e1", "e2"])
        # 2 MB overflows the pipe: the sentinel and reply must wait for it.
        reply, out, err = inst.run({"big": 2 * 1024 * 1024})
        self.assertTrue(reply["ok"])
        self.assertEqual(out, ["one", "two", "x" * 2 * 1024 * 1024])
        self.assertEqual(err, ["e1", "e2"])

    def test_sentinel_survives_patched_streams_and_partial_lines(self):
        inst = self.action(
            "const write = process.stdout.write.bind(process.stdout);\n"
            "process.stdout.write = (s, ...rest) => write('[app] ' + s, ...rest);\n"
            "function main(p) { console.log('hi'); process.stderr.write('no newline'); return {}; }\n")
        reply, out, err = inst.run()
        self.assertTrue(reply["ok"])
        self.assertEqual(out, ["[app] hi"])
        self.assertEqual(err, ["no newline"])  # the sentinel shares the unterminated line

    def test_escaped_errors_end_the_run_not_the_instance(self):
        inst = self.action(
            "function main(p) {\n"
            "  if (p.kind === 'timer') return new Promise(() => setTimeout(() => { throw new Error('late'); }, 5));\n"
            "  if (p.kind === 'rejection') { Promise.reject(new Error('forgotten')); return new Promise(() => {}); }\n"
            "  return {fine: true};\n"
            "}\n")
        self.assertIn("late", self.dev_error(inst, {"kind": "timer"})[0])
        self.assertIn("forgotten", self.dev_error(inst, {"kind": "rejection"})[0])
        self.assertEqual(self.result(inst), {"fine": True})

    def concurrent_action(self, code, n=3):
        inst = self.start()
        inst.send({"op": "init", "kind": self.KIND, "main": "", "binary": False,
                   "code_path": self.write("code/action", code), "env": {}, "concurrency": n})
        self.assertEqual(inst.recv(), {"ok": True}, inst.stderr.pending())
        return inst

    def wait_lines(self, stream, count):
        deadline = time.monotonic() + TIMEOUT
        with stream.cond:
            while len(stream.lines) < count and time.monotonic() < deadline:
                stream.cond.wait(0.05)
            return list(stream.lines)

    def test_concurrency_runs_overlap_replies_carry_ids_and_console_lines_are_tagged(self):
        inst = self.concurrent_action(
            "async function main(p) {\n"
            "  console.log('start', p.i);\n"
            "  await new Promise(r => setTimeout(r, p.ms));\n"
            "  console.error('end %d', p.i);\n"
            "  process.stdout.write('untagged ' + p.i + '\\n');\n"
            "  return {i: p.i};\n"
            "}\n")
        for i, ms in ((0, 600), (1, 300), (2, 10)):
            inst.send({"op": "run", "id": 100 + i, "params": {"i": i, "ms": ms},
                       "env": {"__OW_ACTIVATION_ID": "a%d" % i}})
        replies = [inst.recv() for _ in range(3)]
        self.assertEqual(replies, [{"id": 102, "ok": True, "result": {"i": 2}},
                                   {"id": 101, "ok": True, "result": {"i": 1}},
                                   {"id": 100, "ok": True, "result": {"i": 0}}],
                         "completion order: the shorter runs did not wait for the longer")
        out = self.wait_lines(inst.stdout, 6)
        err = self.wait_lines(inst.stderr, 3)
        for i in range(3):
            self.assertIn("\x1e%d\x1fstart %d" % (100 + i, i), out)
            self.assertIn("untagged %d" % i, out)
            self.assertIn("\x1e%d\x1fend %d" % (100 + i, i), err)
        self.assertNotIn(SENTINEL, out + err)

    def test_concurrency_escaped_error_ends_every_run_in_flight(self):
        inst = self.concurrent_action(
            "function main(p) {\n"
            "  if (p.boom) setTimeout(() => { throw new Error('boom'); }, 100);\n"
            "  return new Promise(() => {});\n"
            "}\n")
        inst.send({"op": "run", "id": 1, "params": {}, "env": {}})
        inst.send({"op": "run", "id": 2, "params": {"boom": True}, "env": {}})
        replies = sorted((inst.recv() for _ in range(2)), key=lambda r: r["id"])
        for r, want in zip(replies, (1, 2)):
            self.assertEqual(r["id"], want)
            self.assertFalse(r["ok"])
            self.assertIn("boom", r["error"])
        err = self.wait_lines(inst.stderr, 8)  # two 4-line stacks
        self.assertTrue(any(l.startswith("\x1e1\x1fError: boom") for l in err), err)
        self.assertTrue(any(l.startswith("\x1e2\x1fError: boom") for l in err), err)

    def test_zip_directory_with_package_json_and_node_modules(self):
        root = os.path.join(self.tmp.name, "unpacked")
        self.write("unpacked/package.json", json.dumps({"name": "fn", "main": "lib/entry.js"}))
        self.write("unpacked/lib/entry.js",
                   "const dep = require('dep');\nconst fs = require('fs');\n"
                   "exports.main = (p) => ({dep: dep.hello(p.who),\n"
                   "                        data: fs.readFileSync('data.txt', 'utf8').trim()});\n")
        self.write("unpacked/data.txt", "bundled\n")
        self.write("unpacked/node_modules/dep/package.json", json.dumps({"name": "dep"}))
        self.write("unpacked/node_modules/dep/index.js",
                   "exports.hello = (w) => 'hello ' + w;\n")
        inst = self.start()
        self.assertEqual(inst.init(root, binary=True), {"ok": True})
        self.assertEqual(self.result(inst, {"who": "zip"}), {"dep": "hello zip", "data": "bundled"})
        # Without "main", index.js; an ES module package is imported.
        self.write("esm/package.json", json.dumps({"type": "module"}))
        self.write("esm/index.js", "export async function main(p) { return {esm: true}; }\n")
        inst = self.start()
        self.assertEqual(inst.init(os.path.join(self.tmp.name, "esm"), binary=True), {"ok": True})
        self.assertEqual(self.result(inst), {"esm": True})

    def test_exits_when_the_channel_closes(self):
        inst = self.action("setInterval(() => {}, 1000);\nfunction main() { return {}; }")
        self.assertTrue(inst.run()[0]["ok"])  # tearDown checks the exit

    def test_non_blocking_descriptors(self):
        self.check_non_blocking_descriptors(
            "function main(p) { console.log('o'.repeat(p.n)); console.error('e'.repeat(p.n));\n"
            "  return {n: p.n}; }")

    def test_large_frames(self):
        self.check_large("function main(p) { return {data: 'x'.repeat(p.n), echo: p.echo}; }")

    def test_protocol_errors(self):
        self.check_protocol_errors(self.start())


class PythonShimTest(ShimTestBase):
    KIND = PYTHON

    def test_main_args(self):
        inst = self.action("def main(args):\n    return {'greeting': 'hello ' + args['name']}\n")
        self.assertEqual(self.result(inst, {"name": "ada"}), {"greeting": "hello ada"})

    def test_handler_event_context(self):
        inst = self.action(
            "def handler(event, context):\n"
            "    return {'id': context.aws_request_id, 'name': context.function_name,\n"
            "            'version': context.function_version, 'ns': context.namespace,\n"
            "            'v': event['v']}\n",
            env={"__OW_ACTION_NAME": "/guest/fn", "__OW_ACTION_VERSION": "0.0.1",
                 "__OW_NAMESPACE": "guest"})
        aid = "cd" * 16
        self.assertEqual(self.result(inst, {"v": 3}, {"__OW_ACTIVATION_ID": aid}),
                         {"id": aid, "name": "/guest/fn", "version": "0.0.1", "ns": "guest",
                          "v": 3})

    def test_named_entry_and_callables(self):
        inst = self.action("def other(a):\n    return {'n': 1}\n"
                           "def entry(a, ctx=None):\n    return {'ctx': ctx is not None}\n",
                           main="entry")
        self.assertEqual(self.result(inst), {"ctx": True})
        inst = self.action("class F:\n    def __call__(self, a):\n        return {'obj': 1}\n"
                           "main = F()\n")
        self.assertEqual(self.result(inst), {"obj": 1})
        inst = self.action("async def main(a):\n    return {'async': True}\n")
        self.assertEqual(self.result(inst), {"async": True})

    def test_not_run_as_main_script(self):
        inst = self.action("def main(a):\n    return {'name': __name__}\n"
                           "if __name__ == '__main__':\n    raise SystemExit('ran as script')\n")
        self.assertEqual(self.result(inst), {"name": "main__"})

    def test_init_errors(self):
        err = self.init_error("def main(args):\n    return {'a': }\n")
        self.assertIn("SyntaxError", err)
        self.assertIn("line 2", err)
        self.assertIn("'main' is not a function", self.init_error("def mian(a):\n    pass\n"))
        self.assertIn("'main' is not a function", self.init_error("main = 3\n"))
        self.assertIn("ModuleNotFoundError", self.init_error("import no_such_module_here\n"))
        inst = self.action("def main(a):\n    return {}\n")
        self.assertIn("more than once", inst.init(self.write("code/action", ""))["error"])

    def test_thrown_error_is_developer_error(self):
        inst = self.action("def main(a):\n    raise ValueError('bad thing')\n")
        error, _, err = self.dev_error(inst)
        self.assertEqual(error, "An error has occurred: ValueError: bad thing")
        self.assertIn("ValueError: bad thing", err)
        self.assertTrue(any("Traceback" in line for line in err), err)
        self.assertFalse(any("shim.py" in line for line in err), err)

    def test_non_dictionary_results(self):
        for value in ["'text'", "42", "[1, 2]", "None", "True"]:
            inst = self.action(f"def main(a):\n    return {value}\n")
            self.assertEqual(self.dev_error(inst)[0], NOT_A_DICT, value)
        inst = self.action("def main(a):\n    return {'x': float('nan')}\n")
        self.assertIn("could not be serialised", self.dev_error(inst)[0])
        inst = self.action("def main(a):\n    return {'x': object()} if a.get('bad') else {'ok': [1]}\n")
        self.assertIn("could not be serialised", self.dev_error(inst, {"bad": True})[0])
        self.assertEqual(self.result(inst), {"ok": [1]})  # a failed encoding leaves no state
        inst = self.action("def main(a):\n    d = {}\n    d['self'] = d\n    return d\n")
        self.assertIn("Circular reference", self.dev_error(inst)[0])

    def test_remaining_time(self):
        inst = self.action("def main(a, ctx):\n"
                           "    return {'left': ctx.get_remaining_time_in_millis(),\n"
                           "            'deadline': ctx.deadline}\n")
        deadline = int(time.time() * 1000) + 5000
        result = self.result(inst, {}, {"__OW_DEADLINE": str(deadline)})
        self.assertEqual(result["deadline"], deadline)
        self.assertTrue(3000 < result["left"] <= 5000, result)

    def test_env_per_run(self):
        # os imported after the env was set (inside main) and before (at top level).
        late = self.action("def main(a):\n    import os\n"
                           "    return {'id': os.environ['__OW_ACTIVATION_ID'],\n"
                           "            'ns': os.environ['__OW_NAMESPACE']}\n",
                           env={"__OW_NAMESPACE": "guest"})
        early = self.action("import os, subprocess\n"
                            "def main(a):\n"
                            "    child = subprocess.run(['/bin/sh', '-c', 'echo $__OW_ACTIVATION_ID'],\n"
                            "                           capture_output=True, text=True).stdout.strip()\n"
                            "    return {'id': os.environ['__OW_ACTIVATION_ID'], 'child': child}\n")
        for aid in ("1" * 32, "2" * 32):
            env = {"__OW_ACTIVATION_ID": aid}
            self.assertEqual(self.result(late, {}, env), {"id": aid, "ns": "guest"})
            self.assertEqual(self.result(early, {}, env), {"id": aid, "child": aid})

    def test_many_runs_on_one_instance(self):
        inst = self.action(
            "import os\ncalls = 0\n"
            "def main(p):\n    global calls\n    calls += 1\n    print('call', p['i'])\n"
            "    return {'i': p['i'], 'calls': calls, 'id': os.environ['__OW_ACTIVATION_ID']}\n")
        self.check_many_runs(inst)

    def test_logs_before_sentinel_in_order(self):
        inst = self.action(
            "import sys, os\nprint('loaded')\n"
            "def main(p):\n"
            "    print('one'); print('e1', file=sys.stderr); sys.stdout.write('two\\n')\n"
            "    os.write(2, b'e2\\n'); print('x' * p['big'])\n"
            "    return {}\n")
        reply, out, err = inst.run({"big": 10})
        self.assertEqual(reply, {"ok": True, "result": {}})
        self.assertEqual(out, ["loaded", "one", "two", "x" * 10])
        self.assertEqual(err, ["e1", "e2"])
        reply, out, err = inst.run({"big": 2 * 1024 * 1024})
        self.assertTrue(reply["ok"])
        self.assertEqual(out, ["one", "two", "x" * 2 * 1024 * 1024])

    def test_sentinel_survives_replaced_streams_and_partial_lines(self):
        inst = self.action("import io, sys\n"
                           "def main(p):\n"
                           "    sys.stdout.write('no newline')\n"
                           "    sys.stderr = io.StringIO()\n"
                           "    print('swallowed', file=sys.stderr)\n"
                           "    return {}\n")
        reply, out, err = inst.run()
        self.assertTrue(reply["ok"])
        self.assertEqual(out, ["no newline"])
        self.assertEqual(err, [])

    def test_zip_directory_with_main_and_package(self):
        root = os.path.join(self.tmp.name, "unpacked")
        self.write("unpacked/__main__.py",
                   "from helper import greet\n"
                   "def main(args):\n"
                   "    with open('data.txt') as f:\n"
                   "        return {'msg': greet(args['who']), 'data': f.read().strip()}\n")
        self.write("unpacked/helper/__init__.py", "from .impl import greet\n")
        self.write("unpacked/helper/impl.py", "def greet(w):\n    return 'hello ' + w\n")
        self.write("unpacked/data.txt", "bundled\n")
        inst = self.start()
        self.assertEqual(inst.init(root, binary=True), {"ok": True})
        self.assertEqual(self.result(inst, {"who": "zip"}), {"msg": "hello zip", "data": "bundled"})
        self.write("empty/README", "no main here\n")
        inst = self.start()
        reply = inst.init(os.path.join(self.tmp.name, "empty"), binary=True)
        self.assertFalse(reply["ok"])
        self.assertIn("__main__.py", reply["error"])

    def test_exits_when_the_channel_closes(self):
        inst = self.action("import threading, time\n"
                           "threading.Thread(target=time.sleep, args=(3600,)).start()\n"
                           "def main(a):\n    return {}\n")
        self.assertTrue(inst.run()[0]["ok"])  # tearDown checks the exit

    def test_non_blocking_descriptors(self):
        self.check_non_blocking_descriptors(
            "import sys\n"
            "def main(p):\n    print('o' * p['n'])\n    print('e' * p['n'], file=sys.stderr)\n"
            "    return {'n': p['n']}\n")

    def test_large_frames(self):
        self.check_large("def main(p):\n    return {'data': 'x' * p['n'], 'echo': p['echo']}\n")

    def test_protocol_errors(self):
        self.check_protocol_errors(self.start())

    def test_unicode_round_trip(self):
        inst = self.action("def main(p):\n    print('héllo ✓')\n    return {'s': p['s'] + ' ✓'}\n")
        reply, out, _ = inst.run({"s": "ünï"})
        self.assertEqual(reply["result"], {"s": "ünï ✓"})
        self.assertEqual(out, ["héllo ✓"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
