# pooltop's Python runner: one per worker, started by the worker on its
# first `py` task as `python -c <this> PATH0 INIT CAP` and kept for the next.
#
# Standard library only, Python 3.8 or newer. It talks to its worker over
# the pipes it was started with, which it moves off fds 0 and 1 at once
# (onto private fds that child processes do not inherit), so that nothing a
# task prints, at the Python or the C level, can reach the protocol: fds 0
# and 1 become /dev/null, and sys.stdout/sys.stderr are redirected into
# per-task buffers around each call.
#
# Protocol, one JSON object per line each way:
#   ready   {"ready": PID, "version": "3.11.2"}
#   request {"id": TASK, "m": MODULE, "f": FUNCTION, "a": [ARG, ...]}
#   reply   {"ok": BOOL, "v": VALUE_OR_MESSAGE, "o": STDOUT, "ot": DROPPED,
#            "e": STDERR, "et": DROPPED, "c": CPU_NS, "m": MAX_RSS_BYTES}
# VALUE is the result as JSON text (its repr when it is not JSON); the
# captured streams keep their last CAP bytes, DROPPED counting the rest.
# CPU_NS is the interpreter's user + system time spent in the call, and
# MAX_RSS_BYTES its peak resident size so far (ru_maxrss), both from
# getrusage: the worker does not wait for the interpreter per task.
#
# Requests that arrive together (a chunk the worker sent ahead) are answered
# together, in one write, unless one takes long (see _HOLD_AT_MOST).
import os
import sys

if sys.version_info < (3, 8):
    sys.stderr.write("pooltop needs Python 3.8 or newer, this is %s\n" % sys.version.split()[0])
    sys.exit(2)

import importlib.util
import json
import resource
import time
import traceback

_requests = os.fdopen(os.dup(0), "rb")
_replies = os.fdopen(os.dup(1), "wb", buffering=0)
_null = os.open(os.devnull, os.O_RDWR)
os.dup2(_null, 0)
os.dup2(_null, 1)

_path0, _init, _cap = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.argv = [""]
# `python -c` puts the current folder first; the task file's folder goes
# first instead (as `python script.py` would), then the current folder.
_here = os.getcwd()
sys.path[0:1] = [_path0, _here] if _path0 and _path0 != _here else [_here]


class _Capture:
    """A text stream that keeps the last `cap` bytes written to it."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, cap):
        self.cap = cap
        self.parts = []
        self.size = 0
        self.dropped = 0

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        b = s.encode("utf-8", "replace")
        self.parts.append(b)
        self.size += len(b)
        if self.size > 2 * self.cap + 65536:
            self._trim()
        return len(s)

    def _trim(self):
        data = b"".join(self.parts)
        cut = len(data) - self.cap
        if cut > 0:
            data = data[cut:]
            # A character cut in half at the start is dropped whole.
            while data and 0x80 <= data[0] < 0xC0:
                data = data[1:]
                cut += 1
            self.dropped += cut
        self.parts = [data]
        self.size = len(data)

    def reset(self):
        self.parts = []
        self.size = 0
        self.dropped = 0

    def text(self):
        if not self.parts:
            return ""
        self._trim()
        return self.parts[0].decode("utf-8", "replace")

    def flush(self):
        pass

    def isatty(self):
        return False

    def writable(self):
        return True


# Encoders and a decoder made once: json.dumps with options builds a new
# encoder on every call, which costs as much as a trivial task.
_to_json = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
_reply_json = json.JSONEncoder(ensure_ascii=False).encode
_from_json = json.JSONDecoder().decode

_modules = {}  # what a task names -> the imported module
_callables = {}  # (module, function) -> the function, once found
_failures = {}  # what failed to load -> (task id, message)
_init_failure = None  # (task id, message) when the initializer failed


def _load(name, task):
    """The module `name` (a module name or a path to a .py file)."""
    module = _modules.get(name)
    if module is not None:
        return module
    if name.endswith(".py") or "/" in name:
        path = os.path.abspath(name)
        # Already imported under its own name (`mod` and `mod.py` are one module)?
        for loaded in list(sys.modules.values()):
            if getattr(loaded, "__file__", None) == path:
                _modules[name] = loaded
                return loaded
        stem = os.path.splitext(os.path.basename(path))[0]
        # Any name but __main__, so that the script's main block does not
        # run; its own name when that is free, so `import stem` finds it.
        alias = stem if stem.isidentifier() and stem not in sys.modules else "_pooltop_%d" % len(_modules)
        spec = importlib.util.spec_from_file_location(alias, path)
        if spec is None or spec.loader is None:
            raise ImportError("%s is not a Python file" % path)
        if not os.path.isfile(path):
            raise FileNotFoundError("no such file: %s" % path)
        folder = os.path.dirname(path)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        module = importlib.util.module_from_spec(spec)
        sys.modules[alias] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[alias]
            raise
    else:
        module = importlib.import_module(name)
    _modules[name] = module
    return module


def _function(module_name, function, task):
    """The callable `module_name:function`; raises _Refused when it cannot be had."""
    key = module_name + ":" + function
    failed = _failures.get(module_name) or _failures.get(key)
    if failed is not None:
        raise _Refused("%s (the same error as task #%d)" % (failed[1], failed[0]), "")
    try:
        module = _load(module_name, task)
    except BaseException as e:
        message = "cannot import `%s`: %s (sys.path: %r)" % (module_name, _describe(e), sys.path)
        _failures[module_name] = (task, message)
        raise _Refused(message, _traceback(e))
    target = module
    try:
        for part in function.split("."):
            target = getattr(target, part)
    except AttributeError:
        where = getattr(module, "__file__", None) or module_name
        message = "`%s` has no function `%s` (module from %s; sys.path: %r)" % (
            module_name, function, where, sys.path)
        _failures[key] = (task, message)
        raise _Refused(message, "")
    if not callable(target):
        message = "`%s` is not a function but a %s" % (key, type(target).__name__)
        _failures[key] = (task, message)
        raise _Refused(message, "")
    return target


class _Refused(Exception):
    """A task that cannot run: its message and the traceback that explains it."""

    def __init__(self, message, trace):
        Exception.__init__(self, message)
        self.message = message
        self.trace = trace


def _describe(e):
    text = str(e)
    return "%s: %s" % (type(e).__name__, text) if text else type(e).__name__


_importlib_dir = os.path.dirname(importlib.__file__)


def _traceback(e):
    """The traceback of `e` without the runner's frames and importlib's."""
    frames = traceback.StackSummary.from_list([
        f for f in traceback.extract_tb(e.__traceback__)
        if f.filename != "<string>" and not f.filename.startswith(("<frozen importlib", _importlib_dir))
    ])
    head = "Traceback (most recent call last):\n" if frames else ""
    return head + "".join(frames.format()) + "".join(traceback.format_exception_only(type(e), e))


def _result(value):
    try:
        text = _to_json(value)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    size = len(text.encode("utf-8", "replace")) if len(text) * 4 > _cap else len(text)
    if size > _cap:
        raise _Refused("the result is %d bytes, more than the output cap of %d bytes (--output-cap)" % (size, _cap), "")
    return text


def _run_init(task):
    global _init, _init_failure
    if _init_failure is not None:
        raise _Refused("%s (the same error as task #%d)" % (_init_failure[1], _init_failure[0]), "")
    if not _init:
        return
    module_name, _, function = _init.rpartition(":")
    try:
        fn = _function(module_name, function, task)
        fn()
    except _Refused as e:
        _init_failure = (task, "--py-init %s: %s" % (_init, e.message))
        raise _Refused(_init_failure[1], e.trace)
    except BaseException as e:
        _init_failure = (task, "--py-init %s failed: %s" % (_init, _describe(e)))
        raise _Refused(_init_failure[1], _traceback(e))
    _init = ""


_out = _Capture(_cap)
_err = _Capture(_cap)
_getrusage = resource.getrusage
_SELF = resource.RUSAGE_SELF


def _call(request):
    """Runs one request; returns the reply."""
    task = request["id"]
    out, err = _out, _err
    out.reset()
    err.reset()
    before = _getrusage(_SELF)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        if _init or _init_failure is not None:
            _run_init(task)
        key = (request["m"], request["f"])
        fn = _callables.get(key)
        if fn is None:
            fn = _callables[key] = _function(key[0], key[1], task)
        ok, value = True, _result(fn(*request["a"]))
    except _Refused as e:
        ok, value = False, e.message
        err.write(e.trace)
    except BaseException as e:
        ok, value = False, _describe(e)
        err.write(_traceback(e))
    finally:
        sys.stdout, sys.stderr = saved
    after = _getrusage(_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"ok": ok, "v": value, "o": out.text(), "ot": out.dropped, "e": err.text(), "et": err.dropped,
            "c": max(0, int(cpu * 1e9)), "m": after.ru_maxrss * 1024}


def _write_all(data):
    view = memoryview(data)
    while view:
        view = view[_replies.write(view):]


def _send(reply):
    _write_all((_reply_json(reply) + "\n").encode("utf-8", "replace"))


# Replies held for one write are sent anyway once the first of them has
# waited this long (seconds), so a slow call in a chunk does not hold back
# the results of the quick ones before it.
_HOLD_AT_MOST = 0.0005


def _main():
    _send({"ready": os.getpid(), "version": sys.version.split()[0]})
    # From here on nothing may write to the worker's stderr pipe.
    os.dup2(_null, 2)
    fd = _requests.fileno()
    clock = time.perf_counter
    rest = b""
    while True:
        data = os.read(fd, 1 << 16)
        if not data:
            return
        lines = (rest + data).split(b"\n")
        rest = lines.pop()
        held, since = [], 0.0
        for line in lines:
            held.append(_reply_json(_call(_from_json(line.decode("utf-8", "replace")))))
            if len(held) == 1:
                since = clock()
            elif clock() - since > _HOLD_AT_MOST:
                _write_all(("\n".join(held) + "\n").encode("utf-8", "replace"))
                held = []
        if held:
            _write_all(("\n".join(held) + "\n").encode("utf-8", "replace"))


_main()
