r"""The process a student's code runs in when it is graded.

:class:`Sandbox` (in the grader) starts ``python -m autograder.sandbox`` with
two pipes and a policy, sends it the notebook's code cells one at a time, and
then uses the student's objects through :mod:`autograder.remote` proxies. The
sandbox process, before it runs any student code:

1. limits itself: CPU seconds, address space, size of files written; its
   stdout and stderr go nowhere (a student's print is captured per cell and
   cut to a few thousand characters);
2. imports what the lesson is allowed to use, then takes away what the task
   forbids: a forbidden module is replaced by a stand-in whose every use
   raises :class:`PolicyError` with the task's own words (and tells the
   grader), a forbidden function likewise, in every module that holds it;
3. seals itself with an audit hook (which Python code cannot remove): no
   opening files of the grader, the reference library or the course
   (solutions and hidden tests live there), no importing a forbidden module
   by any name, no network, no subprocesses, no ctypes, no walking the
   garbage collector.

So the forbidden things are not merely watched: they are absent, whatever
route a student's code takes to them. What the student's code can reach it
can change, and none of it is the verdict: the checks, their expected values
and the oracle stay in the grader.
"""
import atexit
import os
import resource
import subprocess
import sys
import time
import types
from typing import NamedTuple

from . import remote
from .own_code import GRADING

#: Modules a build-it-yourself task may never reach (automatic differentiation libraries).
AD_LIBRARIES = ("autodiff_ref", "autograd", "torch", "jax", "jaxlib", "tensorflow", "functorch")


#: Modules of this package that a student's code may use (given material, no checks).
MATERIAL = ("autograder.material", "autograder.own_code")


class PolicyError(RuntimeError):
    """Raised in the sandbox when a student's code uses something its task forbids."""


# ------------------------------------------------------------------------------------------
# the child: python -m autograder.sandbox CONFIG_FD IN_FD OUT_FD
# ------------------------------------------------------------------------------------------

class _Forbidden:
    """Stands in for a forbidden module or function: every use raises and is reported."""

    def __init__(self, name, message):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_message", message)

    def _refuse(self, *args, **kwargs):
        name, message = object.__getattribute__(self, "_name"), object.__getattribute__(self, "_message")
        _report(f"used {name}: {message}")
        raise PolicyError(f"{name} is not available here: {message}")

    __call__ = _refuse

    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        name = object.__getattribute__(self, "_name")
        return _Forbidden(f"{name}.{attr}", object.__getattribute__(self, "_message"))

    def __instancecheck__(self, obj):
        return False

    def __subclasscheck__(self, cls):
        return False

    def __repr__(self):
        return f"<not available: {object.__getattribute__(self, '_name')}>"

    for _m in ("__iter__", "__getitem__", "__len__", "__float__", "__int__", "__bool__",
               "__add__", "__radd__", "__mul__", "__rmul__", "__sub__", "__rsub__", "__truediv__",
               "__rtruediv__", "__pow__", "__neg__", "__array__"):
        locals()[_m] = _refuse
    del _m


class _ForbiddenModule(types.ModuleType):
    def __init__(self, name, message):
        super().__init__(name, f"not available: {message}")
        self.__path__ = []
        self._message = message

    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return _Forbidden(f"{self.__name__}.{attr}", self._message)


class _StandIns:
    """A meta-path finder that gives stand-ins for forbidden packages and their submodules."""

    def __init__(self, prefixes, message):
        self.prefixes, self.message = tuple(prefixes), message

    def find_spec(self, name, path=None, target=None):
        if name in MATERIAL:
            return None
        if any(name == p or name.startswith(p + ".") for p in self.prefixes):
            import importlib.machinery
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        return _ForbiddenModule(spec.name, self.message)

    def exec_module(self, module):
        pass


_channel = None


def _report(text):
    if _channel is not None:
        try:
            _channel.note(text)
        except BaseException:
            pass


def _limit(cpu_seconds, memory_bytes, file_bytes):
    for what, value in ((resource.RLIMIT_CPU, cpu_seconds), (resource.RLIMIT_AS, memory_bytes),
                        (resource.RLIMIT_FSIZE, file_bytes)):
        if value:
            try:
                resource.setrlimit(what, (value, value))
            except (ValueError, OSError):
                pass


def _seal(protected, allowed, hidden, writable, forbidden_modules, message):
    """Install the audit hook. It keeps no state that code could change and calls no code of the student.

    A file under a `protected` folder is not readable unless it is under an
    `allowed` one; a `hidden` file never is (the instructor's modules copied
    next to the student's notebook). Files are written, renamed or removed only
    under `writable` folders (the working folder and a private temporary one), so
    the code cannot change the grader, the library or another lesson's checks for
    later submissions."""
    protected = tuple(os.path.realpath(p) + os.sep for p in protected)
    allowed = tuple(os.path.realpath(p) + os.sep for p in allowed)
    hidden = tuple(os.path.realpath(p) + os.sep for p in hidden)
    writable = tuple(os.path.realpath(p) + os.sep for p in writable)
    own_proc = f"/proc/{os.getpid()}/"
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    path_events = frozenset({"os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.symlink", "os.link",
                             "os.chmod", "os.chown", "os.truncate", "os.utime", "shutil.rmtree",
                             "shutil.copyfile", "shutil.move", "os.chflags", "os.lchown"})
    forbidden = tuple(forbidden_modules)
    refuse_events = frozenset({
        "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo", "socket.sendto",
        "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
        "os.kill", "os.killpg", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "ctypes.addressof",
        "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.addaudithook", "sys.setprofile",
        "sys.settrace", "sys._current_frames", "pty.spawn", "_posixsubprocess.fork_exec",
        "signal.pthread_kill",
    })
    # frames lead to the sandbox's own machinery: the code being graded gets none
    frame_attributes = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back"})
    _str, _bytes, _realpath, _fsdecode = str, bytes, os.path.realpath, os.fsdecode

    def hook(event, args):
        if event == "open":
            path = args[0] if args else None
            if type(path) is _bytes:
                path = _fsdecode(path)
            if type(path) is _str:
                real = _realpath(path) + os.sep
                if real.startswith(hidden) or (real.startswith(protected) and not real.startswith(allowed)):
                    raise PermissionError(f"the grader's files are not readable by the code being graded: {path}")
                if real.startswith("/proc/") and real[6:7].isdigit() and not real.startswith(own_proc):
                    raise PermissionError(f"other processes are not visible to the code being graded: {path}")
                mode = args[1] if len(args) > 1 and type(args[1]) is _str else ""
                flags = args[2] if len(args) > 2 and type(args[2]) is int else 0
                writing = bool(flags & write_flags) or any(c in mode for c in "wax+")
                if writing and not real.startswith(writable):
                    raise PermissionError(f"the code being graded may write only in its own folder: {path}")
        elif event in path_events:
            for arg in args:
                if type(arg) is _bytes:
                    arg = _fsdecode(arg)
                if type(arg) is _str and not (_realpath(arg) + os.sep).startswith(writable):
                    raise PermissionError(f"the code being graded may change files only in its own folder: {arg}")
        elif event == "import":
            name = args[0] if args else None
            if type(name) is _str and any(name == p or name.startswith(p + ".") for p in forbidden):
                _report(f"used {name}: {message}")
                raise ImportError(f"{name} is not available here: {message}")
        elif event == "sys._getframe":
            raise ValueError("frames are not available to the code being graded")
        elif event == "object.__getattr__":
            if len(args) > 1 and type(args[1]) is _str and args[1] in frame_attributes:
                raise AttributeError(f"{args[1]} is not available to the code being graded")
        elif event in refuse_events:
            raise PermissionError(f"{event} is not allowed in the code being graded")
    sys.addaudithook(hook)


def _take_away(names, message):
    """Replace each dotted name (``pkg.mod.func``) by a stand-in in every loaded module that holds the object."""
    targets = []
    for dotted in names:
        module_name, _, attr = dotted.rpartition(".")
        mod = sys.modules.get(module_name)
        if mod is None:
            try:
                __import__(module_name)
                mod = sys.modules[module_name]
            except Exception:
                continue
        obj = getattr(mod, attr, None)
        if obj is not None:
            targets.append((dotted, obj))
    root_names = {d.split(".")[0] for d, _ in targets}
    needed = _needed_by_allowed(root_names, {id(obj) for _, obj in targets})
    for dotted, obj in targets:
        if id(obj) in needed:      # an allowed function cannot work without it
            continue
        stand_in = _Forbidden(dotted, message)
        for name, mod in list(sys.modules.items()):
            if mod is None or name.split(".")[0] not in root_names:
                continue
            namespace = getattr(mod, "__dict__", {})
            for key, value in list(namespace.items()):
                if value is obj:
                    namespace[key] = stand_in
                elif type(value) in (dict, list) and any(v is obj for v in (value.values() if type(value) is dict else value)):
                    if type(value) is dict:
                        for k, v in list(value.items()):
                            if v is obj:
                                value[k] = stand_in
                    else:
                        value[:] = [stand_in if v is obj else v for v in value]


def _needed_by_allowed(roots, forbidden_ids):
    """ids of the objects the allowed public functions of `roots` use, directly or not."""
    def code_names(code):
        names = set(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                names |= code_names(const)
        return names

    needed, todo = set(), []
    for root in roots:
        package = sys.modules.get(root)
        for name in getattr(package, "__all__", ()):
            obj = getattr(package, name, None)
            if obj is not None and id(obj) not in forbidden_ids:
                todo.append(obj)
    while todo:
        obj = todo.pop()
        if id(obj) in needed:
            continue
        needed.add(id(obj))
        functions = [obj] if isinstance(obj, types.FunctionType) else (
            [v for v in vars(obj).values() if isinstance(v, types.FunctionType)] if isinstance(obj, type) else [])
        for fn in functions:
            for name in code_names(fn.__code__):
                ref = fn.__globals__.get(name)
                if (isinstance(ref, (types.FunctionType, type))
                        and getattr(ref, "__module__", "").split(".")[0] in roots):
                    todo.append(ref)
    return needed


class _CappedText:
    """sys.stdout/sys.stderr of the sandbox: keeps the first `limit` characters written."""

    def __init__(self, limit=4000):
        self.limit, self.parts, self.size, self.dropped = limit, [], 0, 0

    def write(self, text):
        text = str(text)
        room = self.limit - self.size
        if room > 0:
            self.parts.append(text[:room])
        self.size += min(len(text), max(room, 0))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def take(self):
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n… ({self.dropped} more characters of output not shown)"
        self.parts, self.size, self.dropped = [], 0, 0
        return text


class _SandboxChannel(remote.Channel):
    """The sandbox's end: the grader's requests plus running cells and looking up names."""

    def __init__(self, fd_in, fd_out, namespace, out):
        super().__init__(fd_in, fd_out)
        self.namespace, self.out = namespace, out

    def handle(self, op, target=None, *args):
        if op == "exec":
            return self._exec(*args)
        if op == "lookup":
            name = args[0]
            if name in self.namespace:
                return ("found", self.namespace[name])
            return ("missing", None)
        return super().handle(op, target, *args)

    def _exec(self, source, label, statement_by_statement=False):
        """Run one cell's code; (stdout text, error or None). The error is (name, message, lines).

        An instructor's setup cell runs statement by statement: an import that
        the task's policy takes away must not keep the next imports from running.
        """
        import ast
        self.out.take()
        filename = f"<{label}>"
        try:
            if statement_by_statement:
                error = None
                for stmt in ast.parse(source, filename).body:
                    try:
                        exec(compile(ast.Module([stmt], []), filename, "exec"), self.namespace)
                    except Exception as err:
                        error = error or (type(err).__name__, str(err)[:remote.MAX_TEXT], [])
                return (self.out.take(), error)
            code = compile(source, filename, "exec")
            exec(code, self.namespace)
            error = None
        except PolicyError as err:
            error = ("PolicyError", str(err), [])
        except BaseException as err:  # the cell's own failure: reported, grading goes on
            # (no traceback: frames are sealed off; the line of the cell is enough)
            lines, tb, cell_lines = [], err.__traceback__, source.split("\n")
            while tb is not None:
                lineno, tb = tb.tb_lineno, tb.tb_next
            if getattr(err, "lineno", None) and isinstance(err, SyntaxError):
                lineno = err.lineno
            if 0 < lineno <= len(cell_lines):
                lines.append(f"line {lineno}: {cell_lines[lineno - 1].strip()}")
            try:
                text = str(err)
            except Exception:
                text = ""
            error = (type(err).__name__, text[:remote.MAX_TEXT], lines)
        return (self.out.take(), error)


def child_main(argv):
    """The sandbox process: preload, then wait for the policy, apply it, seal, serve.

    The imports come first, before the policy is known, so that a sandbox can be
    started ahead of need (:func:`_spawn`) and its slowest part done while the
    grader is busy elsewhere."""
    import json
    config_fd, fd_in, fd_out = (int(a) for a in argv[:3])
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    for name in argv[3:]:       # what a lesson may use, imported while its files are still readable
        try:
            __import__(name)
        except Exception:
            pass
    with os.fdopen(config_fd, "r") as f:
        text = f.read()
    if not text:                # the grader went away before it needed this sandbox
        os._exit(0)
    config = json.loads(text)
    _limit(config.get("cpu_seconds"), config.get("memory_bytes"), config.get("file_bytes"))
    os.chdir(config["cwd"])
    sys.path[:] = [config["cwd"]] + [p for p in sys.path if p and os.path.realpath(p) != os.path.realpath(config["repo"])] \
        + [config["repo"]]

    message = config["message"]
    forbidden_modules = list(config["forbid_modules"])
    for name in list(sys.modules):
        if any(name == p or name.startswith(p + ".") for p in forbidden_modules):
            del sys.modules[name]
    _take_away(config["forbid_names"], message)
    stand_ins = _StandIns(forbidden_modules + list(config["stand_in_modules"]), message)
    sys.meta_path.insert(0, stand_ins)
    for name in forbidden_modules:     # `from autodiff_ref import Dual` binds a stand-in that reports its use
        sys.modules[name] = _ForbiddenModule(name, message)
    for name in list(sys.modules):
        if any(name == p or name.startswith(p + ".") for p in config["stand_in_modules"]):
            if name not in ("autograder", "autograder.sandbox", "autograder.remote") + MATERIAL:
                del sys.modules[name]

    out = _CappedText()
    sys.stdout = sys.stderr = out
    main_module = types.ModuleType("__main__")
    sys.modules["__main__"] = main_module
    namespace = main_module.__dict__
    namespace["__builtins__"] = __builtins__
    global _channel
    _channel = _SandboxChannel(fd_in, fd_out, namespace, out)
    _seal(config["protected"], config["allowed"], config["hidden"], config["writable"], forbidden_modules, message)
    try:
        _channel.serve_forever()
    except remote.SandboxLost:
        pass
    os._exit(0)


# ------------------------------------------------------------------------------------------
# the parent: the grader's handle on one sandbox process
# ------------------------------------------------------------------------------------------

#: Limits of one sandbox (one notebook, one policy).
LIMITS = {"cpu_seconds": 600, "memory_bytes": 6 << 30, "file_bytes": 64 << 20}


class _Spawned(NamedTuple):
    """A sandbox process that has started and preloads, waiting for its policy on `config_w`."""
    proc: subprocess.Popen
    tmp: str
    config_w: int
    to_child_w: int
    from_child_r: int


_ready = {}     # (preload, env) -> a _Spawned started ahead of need


def _spawn(preload, env):
    import tempfile
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tmp = tempfile.mkdtemp(prefix="autodiff-sandbox-")
    config_r, config_w = os.pipe()
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    child_env = dict(env if env is not None else os.environ)
    child_env.update({"MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                      "TMPDIR": tmp, "MPLCONFIGDIR": tmp, "HOME": tmp,
                      "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
                      GRADING: "1",     # own_code.yours takes the reference: a grade depends on its lesson only
                      "PYTHONPATH": os.pathsep.join([repo] + [p for p in child_env.get("PYTHONPATH", "").split(os.pathsep) if p])})
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograder.sandbox", str(config_r), str(to_child_r), str(from_child_w), *preload],
        pass_fds=(config_r, to_child_r, from_child_w), env=child_env, cwd=tmp,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    for fd in (config_r, to_child_r, from_child_w):
        os.close(fd)
    return _Spawned(proc, tmp, config_w, to_child_w, from_child_r)


def _discard(spawned):
    """Close a sandbox that was never used: without its policy it exits on its own."""
    import shutil
    for fd in (spawned.config_w, spawned.to_child_w, spawned.from_child_r):
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        spawned.proc.wait(5)
    except subprocess.TimeoutExpired:
        spawned.proc.kill()
        spawned.proc.wait()
    shutil.rmtree(spawned.tmp, ignore_errors=True)


@atexit.register
def _stop_ready():
    for spawned in _ready.values():
        _discard(spawned)
    _ready.clear()


class Sandbox:
    """A fresh process running one student's code under one task policy.

    ``policy`` is an :class:`autograder.policy.Policy`; ``cwd`` the folder the
    student's code runs in (a copy of the assignment's files).
    """

    def __init__(self, policy, cwd, *, preload=(), protected=(), allow=(), hidden_modules=(), env=None,
                 startup_timeout=60):
        self.policy, self.cwd = policy, cwd
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        config = {
            "cwd": str(cwd), "repo": repo,
            "forbid_modules": list(policy.forbid_modules),
            "forbid_names": list(policy.forbid_names),
            "stand_in_modules": ["autograder", *hidden_modules],
            "hidden": [os.path.join(str(cwd), name + ".py") for name in hidden_modules],
            "message": policy.message,
            "protected": [str(p) for p in protected],
            "allowed": [str(p) for p in allow] + [str(cwd)],
            **LIMITS,
        }
        import json
        key = (tuple(preload), tuple(sorted((env if env is not None else os.environ).items())))
        spawned = _ready.pop(key, None)
        if spawned is not None and spawned.proc.poll() is not None:      # it died waiting
            _discard(spawned)
            spawned = None
        if spawned is None:
            spawned = _spawn(preload, env)
        _ready[key] = _spawn(preload, env)          # the next sandbox preloads while this one works
        self.proc, self._tmp = spawned.proc, spawned.tmp
        config["writable"] = [str(cwd), self._tmp]
        with os.fdopen(spawned.config_w, "w") as f:
            json.dump(config, f)
        from_child_r, to_child_w = spawned.from_child_r, spawned.to_child_w
        self.channel = remote.Channel(from_child_r, to_child_w, restricted=True)
        self.violations = []
        self.channel.on_note = self.violations.append
        self._fds = (from_child_r, to_child_w)
        self.startup_timeout = startup_timeout

    def run_cell(self, source, label, timeout, statement_by_statement=False):
        """Run a cell's code in the sandbox: (stdout, error tuple or None). Raises SandboxLost."""
        self.channel.deadline = time.monotonic() + timeout + (self.startup_timeout if not getattr(self, "_started", False) else 0)
        try:
            out, error = self.channel.request("exec", None, source, label, statement_by_statement)
        finally:
            self.channel.deadline = None
        self._started = True
        return out, error

    def lookup(self, name):
        found, value = self.channel.request("lookup", None, name)
        if found != "found":
            raise NameError(f"name {name!r} is not defined")
        return value

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except OSError:
                self.proc.kill()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        import shutil
        shutil.rmtree(self._tmp, ignore_errors=True)

    def exit_reason(self):
        try:       # the pipe closes a moment before the process is gone: wait for its exit code
            code = self.proc.wait(2)
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            return "still running"
        if code < 0:
            import signal
            sig = -code
            if sig == signal.SIGXCPU:
                return "it used more CPU time than allowed"
            if sig == signal.SIGKILL:
                return "it was stopped (time or memory limit)"
            return f"it was killed by signal {signal.Signals(sig).name}"
        return f"the process exited with code {code} (os._exit or sys.exit?)"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


if __name__ == "__main__":
    child_main(sys.argv[1:])
