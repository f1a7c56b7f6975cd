# hotrod Python runtime shim (docs/runtimes.md is the contract).
#
# Started by the invoker as `python3.11 -S shim.py` with fd 3 a SOCK_STREAM unix socket carrying
# length-prefixed (4-byte big-endian) JSON frames. Requests and replies strictly alternate:
#   {"op":"init", ...} -> {"ok":true} | {"ok":false,"error":...}      (once)
#   {"op":"run", ...}  -> {"ok":true,"result":{...}} | {"ok":false,...} (many times)
#   {"op":"ping"}      -> {"ok":true}   (any time before init: the shim is up; stem cells)
# Before every run reply the sentinel line is written to stdout and stderr, after everything the
# function wrote, so the invoker can cut the log streams per activation.
#
# Start-up cost matters (cold starts). `import os` and `import json` would cost ~1 ms and ~11 ms
# (json pulls in re and enum), so the shim uses the interpreter's built-in `posix` module and the
# C accelerator `_json` directly (and `_signal`, preloaded, for SIGTERM), and imports anything
# else (`time`, `traceback`, `asyncio`) only where it is needed.
import posix
import sys

SENTINEL = b"XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n"
MAX_FRAME = 64 * 1024 * 1024
CHANNEL = 3
NOT_A_DICT = "The action did not return a dictionary."

# --------------------------------------------------------------------------------------------
# JSON through the C accelerator; falls back to the json module if _json ever changes shape.


class _DecodeContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"NaN": float("nan"), "Infinity": float("inf"),
                      "-Infinity": float("-inf")}.__getitem__


def _unserialisable(o):
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


try:
    import _json

    _scan = _json.make_scanner(_DecodeContext())

    def json_loads(text):
        if text[:1].isspace() or text[-1:].isspace():  # the invoker sends compact JSON
            text = text.strip()
        value, end = _scan(text, 0)
        if end != len(text):
            raise ValueError("extra data after the JSON value")
        return value

    def json_dumps(value):
        # A fresh encoder per call: its circular-reference markers are left behind when
        # encoding fails half-way. allow_nan=False: NaN and Infinity are not JSON.
        encode = _json.make_encoder({}, _unserialisable, _json.encode_basestring_ascii, None,
                                    ":", ",", False, False, False)
        return "".join(encode(value, 0))

    json_dumps({"a": [1, 2.5, "x", None, True]})  # fail here, not at the first run
except Exception:  # pragma: no cover - only if CPython's private API changes
    import json as _json_module

    json_loads = _json_module.loads

    def json_dumps(value):
        return _json_module.dumps(value, allow_nan=False, separators=(",", ":"))

# --------------------------------------------------------------------------------------------
# Framing on fd 3 (blocking reads and writes; one request at a time).


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        n = posix.write(fd, view)
        view = view[n:]


def _read_exact(n):
    parts = []
    while n > 0:
        try:
            chunk = posix.read(CHANNEL, min(n, 1 << 20))
        except OSError:
            return None  # a broken channel ends the instance like a closed one
        if not chunk:
            return None
        parts.append(chunk)
        n -= len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


_pending = b""  # bytes read past the previous frame (the protocol alternates, so rarely any)


def read_frame():
    # One read usually brings header and body together (the invoker writes them at once).
    global _pending
    buf = _pending
    while len(buf) < 4:
        try:
            chunk = posix.read(CHANNEL, 1 << 16)
        except OSError:
            return None  # a broken channel ends the instance like a closed one
        if not chunk:
            return None
        buf += chunk
    n = int.from_bytes(buf[:4], "big")
    if n > MAX_FRAME:
        posix.write(2, b"hotrod shim: request frame exceeds the limit\n")
        posix._exit(70)
    if len(buf) - 4 < n:
        rest = _read_exact(n - (len(buf) - 4))
        if rest is None:
            return None
        buf += rest
    _pending = buf[4 + n:]
    return buf[4:4 + n]


def send(text):
    data = text.encode("utf-8")
    if len(data) > MAX_FRAME:
        data = json_dumps({"ok": False, "error": f"The action produced a result of {len(data)} "
                                                  f"bytes, more than the {MAX_FRAME} allowed."}
                          ).encode("utf-8")
    try:
        _write_all(CHANNEL, len(data).to_bytes(4, "big") + data)
    except OSError:
        posix._exit(0)  # the channel broke: nobody is left to answer


def reply(obj):
    send(json_dumps(obj))


# --------------------------------------------------------------------------------------------
# Environment: os.environ when the user imported os, else posix.environ (which os.environ is
# built from when os is imported later) plus putenv for child processes.


def set_env(env):
    if not isinstance(env, dict):
        return
    os_mod = sys.modules.get("os")
    for k, v in env.items():
        v = v if isinstance(v, str) else json_dumps(v)
        try:
            if os_mod is not None:
                os_mod.environ[k] = v
            else:
                posix.putenv(k, v)
                posix.environ[k.encode("utf-8", "surrogateescape")] = \
                    v.encode("utf-8", "surrogateescape")
        except (ValueError, TypeError):
            pass  # a name putenv refuses ("=", NUL): skip it rather than fail the call


def getenv(name):
    os_mod = sys.modules.get("os")
    if os_mod is not None:
        return os_mod.environ.get(name, "")
    value = posix.environ.get(name.encode("utf-8"))
    return value.decode("utf-8", "surrogateescape") if value is not None else ""


# --------------------------------------------------------------------------------------------
# init


class Context:
    """Lambda-like context handed to functions with two or more parameters."""

    __slots__ = ("function_name", "function_version", "activation_id", "aws_request_id",
                 "namespace", "deadline")

    def __init__(self):
        self.function_name = getenv("__OW_ACTION_NAME")
        self.function_version = getenv("__OW_ACTION_VERSION")
        self.activation_id = getenv("__OW_ACTIVATION_ID")
        self.aws_request_id = self.activation_id
        self.namespace = getenv("__OW_NAMESPACE")
        try:
            self.deadline = int(getenv("__OW_DEADLINE") or 0)
        except ValueError:
            self.deadline = 0

    def get_remaining_time_in_millis(self):
        if not self.deadline:
            return 0
        import time  # only here: a no-op function never needs it at start

        return max(0, self.deadline - int(time.time() * 1000))


def _is_dir(path):
    try:
        return (posix.stat(path).st_mode & 0o170000) == 0o040000
    except OSError:
        return False


def _arity(fn):
    """How many positional arguments fn takes (2 for *args), without importing inspect."""
    target, bound = fn, 0
    if not hasattr(target, "__code__"):
        if hasattr(target, "__func__"):  # bound method
            target, bound = target.__func__, 1
        elif hasattr(type(target), "__call__") and hasattr(type(target).__call__, "__code__"):
            target, bound = type(target).__call__, 1  # callable object
    code = getattr(target, "__code__", None)
    if code is None:
        return 1
    if code.co_flags & 0x04:  # CO_VARARGS
        return 2
    return code.co_argcount - bound


def describe(e):
    return f"{type(e).__name__}: {e}"


def log_exception(e, skip_shim_frame=True):
    import traceback  # only on failures: it is not cheap to import

    tb = e.__traceback__.tb_next if skip_shim_frame and e.__traceback__ else e.__traceback__
    traceback.print_exception(type(e), e, tb, file=sys.stderr)


entry = None
entry_arity = 1


def load_module(path):
    with open(path, "rb") as f:
        source = f.read()
    code = compile(source, path, "exec")  # PEP 263 coding cookies apply to bytes
    # Not "__main__": `if __name__ == "__main__": main({})` must not run at init (as on
    # OpenWhisk, which imports actions as "main__").
    module = type(sys)("main__")
    module.__file__ = path
    module.__builtins__ = __builtins__
    sys.modules["main__"] = module  # dataclasses, pickle and friends look classes up here
    exec(code, module.__dict__)
    return module


def init(msg):
    global entry, entry_arity
    if entry is not None:
        return {"ok": False, "error": "Cannot initialize the action more than once."}
    code_path = msg.get("code_path")
    if not isinstance(code_path, str) or not code_path:
        return {"ok": False, "error": "Initialization has failed due to: no code_path."}
    set_env(msg.get("env"))
    wanted = msg.get("main") or "main"
    names = ["main", "handler"] if wanted == "main" else [wanted]
    if msg.get("binary"):
        code_dir = code_path.rstrip("/") or "/"
        main_file = code_dir + "/__main__.py"
        try:
            posix.stat(main_file)
        except OSError:
            return {"ok": False, "error": "Initialization has failed due to: "
                                          "the zip file does not include __main__.py."}
        # The shim's own directory is sys.path[0]; the user's code takes its place.
        sys.path[0] = code_dir
        venv = code_dir + "/virtualenv/lib/python%d.%d/site-packages" % sys.version_info[:2]
        if _is_dir(venv):
            sys.path.insert(1, venv)
        try:
            posix.chdir(code_dir)  # functions read bundled files relative to their code
        except OSError:
            pass
    else:
        main_file = code_path
        sys.path[0] = code_path.rpartition("/")[0] or "/"
    try:
        module = load_module(main_file)
    except SyntaxError as e:
        log_exception(e, skip_shim_frame=False)
        where = f" (line {e.lineno})" if e.lineno else ""
        return {"ok": False, "error": f"Initialization has failed due to: "
                                      f"SyntaxError: {e.msg}{where}"}
    except Exception as e:
        log_exception(e)
        return {"ok": False, "error": f"Initialization has failed due to: {describe(e)}"}
    for name in names:
        fn = getattr(module, name, None)
        if callable(fn):
            entry, entry_arity = fn, _arity(fn)
            return {"ok": True}
    return {"ok": False, "error": f"Action entrypoint '{wanted}' is not a function."}


# --------------------------------------------------------------------------------------------
# run


def _flush_logs():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass  # a closed or replaced stream must not cost the reply


def run(msg):
    if entry is None:
        return json_dumps({"ok": False, "error": "The action has not been initialized."})
    set_env(msg.get("env"))
    params = msg.get("params")
    if not isinstance(params, dict):
        params = {}
    try:
        result = entry(params, Context()) if entry_arity >= 2 else entry(params)
        if hasattr(result, "__await__"):  # async def main: a convenience, OpenWhisk has none
            import asyncio

            result = asyncio.run(result)
    except Exception as e:
        log_exception(e)
        return json_dumps({"ok": False, "error": f"An error has occurred: {describe(e)}"})
    if not isinstance(result, dict):
        return json_dumps({"ok": False, "error": NOT_A_DICT})
    try:
        text = json_dumps(result)
    except Exception as e:
        return json_dumps({"ok": False, "error": "The action returned a result that could not "
                                                 f"be serialised: {describe(e)}"})
    return '{"ok":true,"result":' + text + "}"


def _on_sigterm(signum, frame):
    # Graceful stop (docs/runtimes.md): the invoker sends SIGTERM, closes the channel and
    # SIGKILLs what is left after a grace period. A function that installs its own SIGTERM
    # handler replaces this one (and the end of the channel then ends the shim).
    _flush_logs()
    posix._exit(0)


def main():
    # SIGTERM (forwarded by the instance's init) flushes the logs before the shim exits.
    try:
        import _signal  # built in and already loaded: `signal` would import enum

        _signal.signal(_signal.SIGTERM, _on_sigterm)
    except Exception:  # pragma: no cover - an interpreter without signals
        pass
    # The channel and the log pipes must block: a non-blocking end handed over by the invoker
    # would turn a full pipe into an exception inside print().
    for fd in (CHANNEL, 1, 2):
        try:
            posix.set_blocking(fd, True)
        except OSError:
            pass
    while True:
        frame = read_frame()
        if frame is None:
            # The invoker closed the channel: the instance is being discarded. _exit, so that
            # threads the function left running cannot keep the process alive.
            _flush_logs()
            posix._exit(0)
        try:
            msg = json_loads(frame.decode("utf-8"))
        except Exception:  # the C scanner's errors are not descriptive anyway
            msg = None
        if not isinstance(msg, dict):
            reply({"ok": False, "error": "Malformed request: not a JSON object."})
            continue
        op = msg.get("op")
        if op == "run":
            text = run(msg)
            _flush_logs()
            for fd in (1, 2):
                try:
                    _write_all(fd, SENTINEL)
                except OSError:
                    pass  # a broken log pipe loses logs, not the reply
            send(text)
        elif op == "init":
            reply(init(msg))
        elif op == "ping":
            reply({"ok": True})
        else:
            reply({"ok": False, "error": f"Unknown op {op!r}."})


if __name__ == "__main__":
    main()
