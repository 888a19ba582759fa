r"""A channel between two processes that lets one use the other's objects.

The grader runs a student's code in a separate process (the sandbox, see
:mod:`autograder.sandbox`) and calls it through this channel. Values that
are plain data cross **by value**: ``None``, ``bool``, ``int``, ``float``,
``complex``, ``str``, ``bytes``, numeric numpy arrays and scalars, and
tuples, lists, dicts and object arrays of these. Anything else stays in the
process that owns it and crosses **by reference**: the other side gets a
:class:`Proxy` whose operations (call, attribute, item, arithmetic, numpy
ufuncs and functions, ``float``/``int``/``bool``/``repr``) are requests that
the owner carries out and answers. Requests nest: while the grader waits for
a student's ``jvp(f, x, v)``, the student's code may call the grader's ``f``,
which may use the student's duals, and so on.

What this buys the grader:

- **The verdict is computed where the student's code never runs.** The
  sandbox sees the inputs of each call, never the expected values or the
  checks; patching numpy, the checks or the comparator there changes nothing
  in the grader.
- **Nothing the sandbox sends can run code in the grader.** Messages are
  pickles of plain builtins read by an unpickler that refuses every class
  but ``complex``; arrays are rebuilt from their bytes with a numeric dtype.
  A proxy compares equal only to itself (its ``==`` is never forwarded, so
  an object that "equals anything" has no way to say so), and the grader's
  own objects answer only calls and public attributes.
- **A student's code cannot hang or kill the grader.** Every wait has a
  deadline; a dead, silent or misbehaving sandbox raises :class:`SandboxLost`,
  a ``BaseException``, so a check's ``except Exception`` around the student's
  call cannot swallow it.
"""
import builtins
import io
import itertools
import operator
import os
import pickle
import select
import struct
import sys
import time

import numpy as np

MAX_MESSAGE = 256 << 20      # bytes: the largest message either side accepts
MAX_ITEMS = 1_000_000        # entries of a list/tuple/dict encoded by value
MAX_DEPTH = 40               # nesting encoded by value; deeper objects cross by reference
MAX_TEXT = 4000              # characters of a repr/str sent back

_HEADER = struct.Struct("!Q")

#: Classes that both processes know and that cross by value, as (module, name) -> fields.
#: A dual number of the reference library is data (value, tangent, level): a grader's test
#: function that receives one computes with a real dual, not with a proxy.
VALUE_TYPES = {("autodiff_ref.dual", "Dual"): ("value", "tangent", "level")}


class ProtocolError(Exception):
    """A message that does not follow the protocol."""


class SandboxLost(BaseException):
    """The other process died, timed out or broke the protocol.

    A ``BaseException`` on purpose: a check's ``except Exception`` around the
    student's code must not turn a timeout into an ordinary wrong answer.
    """

    def __init__(self, why, kind="died"):
        super().__init__(why)
        self.why, self.kind = why, kind


class RemoteError(Exception):
    """Base class of the exceptions raised by the other side's code."""


_remote_types = {}


def remote_exception(name, message):
    """An exception to raise here for ``name: message`` raised over there.

    Builtin exception types keep their meaning (a remote ``ZeroDivisionError``
    is caught by ``except ZeroDivisionError``); ``BaseException``s that are
    not ``Exception``s (``SystemExit``, ``KeyboardInterrupt``) become plain
    remote errors, so the other side cannot stop this process with them.
    """
    name = name if isinstance(name, str) and name.isidentifier() else "RemoteError"
    cls = _remote_types.get(name)
    if cls is None:
        base = getattr(builtins, name, None)
        bases = (RemoteError,)
        if isinstance(base, type) and issubclass(base, Exception) and base is not Exception:
            bases = (base, RemoteError)
        try:
            cls = type(name, bases, {"__module__": "remote"})
        except TypeError:          # a builtin that cannot be subclassed with another base
            cls = type(name, (RemoteError,), {"__module__": "remote"})
        _remote_types[name] = cls
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    return err


class _Unpickler(pickle.Unpickler):
    """Loads plain builtins only: every global but ``complex`` is refused."""

    def find_class(self, module, name):
        if (module, name) == ("builtins", "complex"):
            return complex
        raise ProtocolError(f"refused to load {module}.{name}")

    def persistent_load(self, pid):
        raise ProtocolError("refused a persistent id")


_BINOPS = {name: getattr(operator, name) for name in (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
    "lt", "le", "gt", "ge", "and_", "or_", "xor", "lshift", "rshift")}
_UNOPS = {"neg": operator.neg, "pos": operator.pos, "abs": operator.abs, "invert": operator.invert}
_CONVERSIONS = {"float": float, "int": int, "index": operator.index, "complex": complex, "bool": bool,
                "len": len}


def _numpy_function(module, name):
    """A numpy function named by (module, name), or None (never imports anything)."""
    if not (isinstance(module, str) and isinstance(name, str)) or not (module == "numpy" or module.startswith("numpy.")):
        return None
    mod = sys.modules.get(module)
    fn = getattr(mod, name, None) if mod is not None else None
    return fn if callable(fn) else None


class Channel:
    """One end of the connection: encodes, sends, waits, and serves the other end's requests.

    ``restricted=True`` (the grader's end) limits what the other side may do
    with this side's objects: call them, read their public attributes and
    items, use them in arithmetic; never read or write names with a leading
    underscore (``__globals__``, ``__closure__``, ``_cases``…).
    """

    def __init__(self, fd_in, fd_out, *, restricted=False):
        self.fd_in, self.fd_out, self.restricted = fd_in, fd_out, restricted
        self.exports = {}          # id -> local object the other side holds a Proxy of
        self._export_ids = {}      # id(object) -> export id
        self._ids = itertools.count(1)
        self._rids = itertools.count(1)
        self._proxies = {}         # remote export id -> Proxy (one per remote object)
        self.deadline = None       # time.monotonic() after which a wait gives up
        self.notes = []            # one-way messages from the other side
        self.on_note = None
        self._buffer = b""
        self._levels_seen = set()  # trace levels of the duals received (see _serve)

    # --- framing -------------------------------------------------------------------------
    def _send(self, message):
        data = pickle.dumps(message, protocol=4)
        if len(data) > MAX_MESSAGE:
            raise ValueError(f"a message of {len(data)} bytes is larger than the limit of {MAX_MESSAGE}")
        view = memoryview(_HEADER.pack(len(data)) + data)
        while view:
            try:
                n = os.write(self.fd_out, view)
            except (BrokenPipeError, OSError) as err:
                raise SandboxLost(f"the other process is gone ({err.__class__.__name__})") from None
            view = view[n:]

    def _read_exact(self, n):
        chunks, have = [self._buffer[:n]], len(self._buffer[:n])
        self._buffer = self._buffer[n:]
        while have < n:
            if self.deadline is not None:
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    raise SandboxLost("no answer before the time limit", kind="timeout")
                ready, _, _ = select.select([self.fd_in], [], [], remaining)
                if not ready:
                    raise SandboxLost("no answer before the time limit", kind="timeout")
            try:
                chunk = os.read(self.fd_in, min(1 << 20, n - have))
            except OSError as err:
                raise SandboxLost(f"the connection broke ({err.__class__.__name__})") from None
            if not chunk:
                raise SandboxLost("the other process ended")
            chunks.append(chunk)
            have += len(chunk)
        return b"".join(chunks)

    def _recv(self):
        (size,) = _HEADER.unpack(self._read_exact(_HEADER.size))
        if size > MAX_MESSAGE:
            raise SandboxLost(f"a message of {size} bytes is larger than the limit", kind="protocol")
        data = self._read_exact(size)
        try:
            message = _Unpickler(io.BytesIO(data)).load()
        except ProtocolError as err:
            raise SandboxLost(f"an unreadable message: {err}", kind="protocol") from None
        except Exception as err:   # a damaged pickle
            raise SandboxLost(f"an unreadable message ({type(err).__name__})", kind="protocol") from None
        if not (type(message) is tuple and message and type(message[0]) is str):
            raise SandboxLost("a message that is not a request, an answer or a note", kind="protocol")
        return message

    # --- values --------------------------------------------------------------------------
    def export(self, obj):
        key = id(obj)
        eid = self._export_ids.get(key)
        if eid is None or self.exports.get(eid) is not obj:
            eid = next(self._ids)
            self.exports[eid] = obj
            self._export_ids[key] = eid
        return eid

    def encode(self, x, depth=0):
        t = type(x)
        if x is None or t in (bool, int, float, complex, str, bytes):
            return ("v", x)
        if t is slice:
            return ("s", self.encode(x.start, depth + 1), self.encode(x.stop, depth + 1), self.encode(x.step, depth + 1))
        if x is Ellipsis:
            return ("E",)
        if t is range:
            return ("R", x.start, x.stop, x.step)
        if depth < MAX_DEPTH:
            if t in (tuple, list) and len(x) <= MAX_ITEMS:
                return ("t" if t is tuple else "l", [self.encode(i, depth + 1) for i in x])
            if t is dict and len(x) <= MAX_ITEMS:
                return ("d", [(self.encode(k, depth + 1), self.encode(v, depth + 1)) for k, v in x.items()])
            fields = VALUE_TYPES.get((t.__module__, t.__qualname__))
            if fields is not None:
                return ("vt", t.__module__, t.__qualname__, [self.encode(getattr(x, f), depth + 1) for f in fields])
            if isinstance(x, tuple) and hasattr(t, "_fields") and len(x) <= MAX_ITEMS:   # a NamedTuple
                return ("nt", t.__module__, t.__qualname__, [self.encode(i, depth + 1) for i in x])
            if t is np.ndarray or (isinstance(x, np.generic) and t.__module__ == "numpy"):
                kind = x.dtype.kind
                if kind in "biufc":
                    return ("a", x.dtype.str, tuple(x.shape), x.tobytes(), isinstance(x, np.generic))
                if kind == "O" and t is np.ndarray and x.size <= MAX_ITEMS:
                    return ("o", tuple(x.shape), [self.encode(i, depth + 1) for i in x.ravel()])
        if isinstance(x, Proxy) and object.__getattribute__(x, "_channel") is self:
            return ("y", object.__getattribute__(x, "_id"))
        if t is np.ufunc:
            return ("u", x.__name__)
        name = getattr(x, "__name__", None) if callable(x) else None
        module = getattr(x, "__module__", None) if name else None
        if name and _numpy_function(module, name) is x:
            return ("f", module, name)
        return ("r", self.export(x), t.__name__)

    def decode(self, m, depth=0):
        if type(m) is not tuple or not m or depth > MAX_DEPTH + 2:
            raise SandboxLost("a malformed value", kind="protocol")
        tag = m[0]
        try:
            if tag == "v":
                v = m[1]
                if v is None or type(v) in (bool, int, float, complex, str, bytes):
                    return v
            elif tag in ("t", "l"):
                items = [self.decode(i, depth + 1) for i in m[1]]
                return tuple(items) if tag == "t" else items
            elif tag == "d":
                return {self.decode(k, depth + 1): self.decode(v, depth + 1) for k, v in m[1]}
            elif tag == "nt":
                items = [self.decode(i, depth + 1) for i in m[3]]
                cls = _resolve_namedtuple(m[1], m[2])
                return cls._make(items) if cls is not None and len(items) == len(cls._fields) else tuple(items)
            elif tag == "s":
                return slice(*(self.decode(i, depth + 1) for i in m[1:4]))
            elif tag == "E":
                return Ellipsis
            elif tag == "R" and all(type(i) is int for i in m[1:4]):
                return range(*m[1:4])
            elif tag == "vt":
                fields = VALUE_TYPES.get((m[1], m[2]))
                cls = getattr(sys.modules.get(m[1]), m[2], None) if fields else None
                if isinstance(cls, type) and cls.__qualname__ == m[2] and len(m[3]) == len(fields):
                    obj = cls.__new__(cls)
                    for name, value in zip(fields, m[3]):
                        object.__setattr__(obj, name, self.decode(value, depth + 1))
                    if type(getattr(obj, "level", None)) is int:
                        self._levels_seen.add(obj.level)
                    return obj
            elif tag == "a":
                dtype = np.dtype(m[1])
                if dtype.kind not in "biufc":
                    raise SandboxLost("an array of a non-numeric dtype", kind="protocol")
                shape = tuple(int(s) for s in m[2])
                arr = np.frombuffer(m[3], dtype=dtype).reshape(shape).copy()
                return arr[()] if m[4] else arr
            elif tag == "o":
                shape = tuple(int(s) for s in m[1])
                items = [self.decode(i, depth + 1) for i in m[2]]
                out = np.empty(len(items), dtype=object)
                out[:] = items if items else []
                return out.reshape(shape)
            elif tag == "y":
                return self.exports[m[1]]
            elif tag == "u":
                fn = getattr(np, m[1], None)
                if isinstance(fn, np.ufunc):
                    return fn
            elif tag == "f":
                fn = _numpy_function(m[1], m[2])
                if fn is not None:
                    return fn
            elif tag == "r":
                return self._proxy(m[1], m[2])
        except SandboxLost:
            raise
        except Exception as err:
            raise SandboxLost(f"a malformed value ({type(err).__name__}: {err})", kind="protocol") from None
        raise SandboxLost(f"a malformed value (tag {tag!r})", kind="protocol")

    def _proxy(self, eid, type_name):
        if type(eid) is not int:
            raise SandboxLost("a malformed reference", kind="protocol")
        proxy = self._proxies.get(eid)
        if proxy is None:
            proxy = proxy_class(type_name)._new(self, eid)
            self._proxies[eid] = proxy
        return proxy

    # --- requests ------------------------------------------------------------------------
    def request(self, op, *args):
        """Ask the other side to do `op` with `args`; serve its requests meanwhile."""
        rid = next(self._rids)
        self._send(("q", rid, op, self.encode(args)))
        return self._wait(rid, args)

    def _wait(self, rid, args=()):
        while True:
            message = self._recv()
            kind = message[0]
            if kind == "q":
                self._serve(message)
            elif kind == "a" and len(message) in (3, 4) and message[1] == rid:
                if len(message) == 4:
                    self._write_back(args, message[3])
                return self.decode(message[2])
            elif kind == "e" and len(message) in (4, 5) and message[1] == rid:
                if len(message) == 5:
                    self._write_back(args, message[4])
                name, text = message[2], message[3]
                raise remote_exception(name if type(name) is str else "RemoteError",
                                       text[:MAX_TEXT] if type(text) is str else "")
            elif kind in ("a", "e") and type(message[1]) is int and message[1] < rid:
                continue           # the answer to a question given up on (a check's own time limit)
            elif kind == "n" and len(message) == 2 and type(message[1]) is str:
                self.notes.append(message[1][:MAX_TEXT])
                if self.on_note is not None:
                    self.on_note(message[1][:MAX_TEXT])
            else:
                raise SandboxLost("an answer to a question that was not asked", kind="protocol")

    def note(self, text):
        """A one-way message (the sandbox reports what it refused)."""
        self._send(("n", str(text)[:MAX_TEXT]))

    def serve_forever(self):
        """The sandbox's main loop: answer requests until the grader hangs up."""
        try:
            while True:
                message = self._recv()
                if message[0] == "q":
                    self._serve(message)
        except SandboxLost as lost:
            if lost.kind == "protocol":
                try:
                    self.note(f"protocol: {lost.why}")
                except BaseException:
                    pass
            raise

    def _serve(self, message):
        if len(message) != 4 or type(message[1]) is not int or type(message[2]) is not str:
            raise SandboxLost("a malformed request", kind="protocol")
        _, rid, op, payload = message
        borrowed, watched = (), ()
        try:
            self._levels_seen = set()
            args = self.decode(payload)
            borrowed = _borrow_levels(self._levels_seen)
            if op == "call":
                watched = _watch(args)
            result = self.handle(op, *args)
            reply = ("a", rid, self.encode(result))
        except SandboxLost:
            raise
        except BaseException as err:  # the owner's code failed: report it, keep serving
            if isinstance(err, (KeyboardInterrupt,)) and not self.restricted:
                raise
            try:
                text = str(err)
            except Exception:
                text = "(the exception's message could not be shown)"
            reply = ("e", rid, type(err).__name__, text[:MAX_TEXT])
        finally:
            _return_levels(borrowed)
        changed = _changes(watched)
        if changed:
            reply += (self.encode(changed),)
        self._send(reply)

    def _write_back(self, args, payload):
        """Do to the arguments sent what the call did to its copies (see :func:`_watch`)."""
        changes = self.decode(payload)
        # arrays first, along the paths as they were sent; then the lists' new contents
        for path, value in sorted(changes, key=lambda change: type(change[1]) is list):
            target = _follow(args, path)
            if type(target) is np.ndarray and type(value) is np.ndarray:
                if target.shape == value.shape and target.flags.writeable:
                    np.copyto(target, value, casting="unsafe")
            elif type(target) is list and type(value) is list:
                target[:] = value

    def handle(self, op, target=None, *args):
        """Carry out one request on a local object (overridden by the sandbox for its extra ops)."""
        if op in ("getattr", "setattr", "delattr") and self.restricted:
            if type(args[0]) is not str or args[0].startswith("_"):
                raise AttributeError(f"the grader's objects do not expose {args[0]!r}")
        if op == "call":
            fargs, kwargs = args
            return target(*fargs, **kwargs)
        if op == "getattr":
            return getattr(target, args[0])
        if op == "setattr":
            return setattr(target, args[0], args[1])
        if op == "delattr":
            return delattr(target, args[0])
        if op == "getitem":
            return target[args[0]]
        if op == "setitem":
            target[args[0]] = args[1]
            return None
        if op == "binop":
            return _BINOPS[args[0]](*args[1:3])
        if op == "unop":
            return _UNOPS[args[0]](target)
        if op in _CONVERSIONS:
            value = _CONVERSIONS[op](target)
            return value
        if op in ("repr", "str"):
            text = (repr if op == "repr" else str)(target)
            return text[:MAX_TEXT] if isinstance(text, str) else "?"
        if op == "iterlist":
            return list(itertools.islice(iter(target), MAX_ITEMS))
        if op == "contains":
            return args[0] in target
        if op == "isinstance":
            return isinstance(args[0], target)
        if op == "issubclass":
            return issubclass(args[0], target)
        if op == "array":
            return np.asarray(target) if args[0] is None else np.asarray(target, dtype=args[0])
        if op == "ufunc":
            fn = getattr(np, args[0], None)
            if not isinstance(fn, np.ufunc):
                raise TypeError(f"{args[0]!r} is not a numpy ufunc")
            return fn(*args[1], **args[2])
        if op == "npfunc":
            fn = _numpy_function(args[0], args[1])
            if fn is None:
                raise TypeError(f"{args[0]}.{args[1]} is not a numpy function")
            return fn(*args[2], **args[3])
        raise ValueError(f"unknown request {op!r}")


#: How deep :func:`_watch` looks into the arguments of a call (args, then the positional tuple).
WATCH_DEPTH = 5


def _watch(args, path=(), depth=0, out=None):
    """Snapshots of the numeric arrays and lists among a call's by-value arguments.

    Arguments cross by value, so a function that changes an argument in place changes
    only its own copy. To keep the meaning of a call in one process (the caller sees
    ``x -= 1`` or ``params[0] = …``), the answer carries what changed (:func:`_changes`)
    and the caller does the same to what it sent (:meth:`Channel._write_back`): only
    data it sent, only in place, and only plain numbers and lists."""
    out = [] if out is None else out
    t = type(args)
    if t is np.ndarray and args.dtype.kind in "biufc":
        out.append((path, args, args.copy()))
    elif depth < WATCH_DEPTH and t in (list, tuple):
        if t is list:
            out.append((path, args, list(args)))
        for i, item in enumerate(args):
            _watch(item, path + (i,), depth + 1, out)
    elif depth < WATCH_DEPTH and t is dict:
        for key, item in args.items():
            if type(key) in (str, int):
                _watch(item, path + (key,), depth + 1, out)
    return out


def _changes(watched):
    """``[(path, new value)]`` for the snapshots of :func:`_watch` whose object changed."""
    changed = []
    for path, obj, before in watched:
        if type(obj) is np.ndarray:
            if obj.shape != before.shape or not np.array_equal(obj, before, equal_nan=obj.dtype.kind in "fc"):
                changed.append((list(path), obj))
        elif len(obj) != len(before) or any(a is not b for a, b in zip(obj, before)):
            changed.append((list(path), obj))
    return changed


def _follow(args, path):
    """The object at `path` (a list of indices and keys) inside `args`, or None."""
    for step in path if type(path) is list else ():
        if type(args) in (list, tuple) and type(step) is int and -len(args) <= step < len(args):
            args = args[step]
        elif type(args) is dict and type(step) in (str, int) and step in args:
            args = args[step]
        else:
            return None
    return args


def _borrow_levels(levels):
    """A dual received from the other side belongs to a transformation running there: while the
    request that carries it is served, its level counts as live here too (autodiff_ref refuses
    tracers of finished transformations)."""
    core = sys.modules.get("autodiff_ref.core")
    live = getattr(core, "_live_levels", None)
    if not levels or not isinstance(live, set):
        return ()
    borrowed = tuple(level for level in levels if level not in live)
    live.update(borrowed)
    return borrowed


def _return_levels(borrowed):
    core = sys.modules.get("autodiff_ref.core")
    live = getattr(core, "_live_levels", None)
    if isinstance(live, set):
        live.difference_update(borrowed)


def _resolve_namedtuple(module, qualname):
    """A NamedTuple class by name, only from a module that is already imported here."""
    if not (isinstance(module, str) and isinstance(qualname, str)):
        return None
    obj = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None) if obj is not None and not part.startswith("_") else None
    if isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields") and hasattr(obj, "_make"):
        return obj
    return None


# --- proxies -----------------------------------------------------------------------------

class Proxy:
    """An object that lives in the other process. Its operations are requests.

    ``==`` and ``hash`` are identity, never forwarded: a remote object cannot
    claim to equal a value it has not been shown.
    """
    __slots__ = ("_channel", "_id", "__weakref__")

    @classmethod
    def _new(cls, channel, eid):
        self = object.__new__(cls)
        object.__setattr__(self, "_channel", channel)
        object.__setattr__(self, "_id", eid)
        return self

    def _ask(self, op, *args):
        return object.__getattribute__(self, "_channel").request(op, self, *args)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._ask("getattr", name)

    def __setattr__(self, name, value):
        self._ask("setattr", name, value)

    def __delattr__(self, name):
        self._ask("delattr", name)

    def __call__(self, *args, **kwargs):
        return self._ask("call", args, kwargs)

    def __getitem__(self, key):
        return self._ask("getitem", key)

    def __setitem__(self, key, value):
        self._ask("setitem", key, value)

    def __len__(self):
        return _checked(self._ask("len"), int, "len")

    def __iter__(self):
        return iter(self._ask("iterlist"))

    def __contains__(self, item):
        return bool(_checked(self._ask("contains", item), bool, "in"))

    def __float__(self):
        return _checked(self._ask("float"), float, "float")

    def __int__(self):
        return _checked(self._ask("int"), int, "int")

    def __index__(self):
        return _checked(self._ask("index"), int, "index")

    def __complex__(self):
        return _checked(self._ask("complex"), complex, "complex")

    def __bool__(self):
        return _checked(self._ask("bool"), bool, "bool")

    def __repr__(self):
        try:
            text = self._ask("repr")
        except Exception:
            text = None
        return text if type(text) is str else f"<{type(self).__name__} object>"

    def __str__(self):
        try:
            text = self._ask("str")
        except Exception:
            text = None
        return text if type(text) is str else f"<{type(self).__name__} object>"

    def __format__(self, spec):
        return format(str(self), spec) if not spec else format(float(self), spec)

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    def __hash__(self):
        return id(self)

    def __instancecheck__(self, obj):
        return bool(_checked(self._ask("isinstance", obj), bool, "isinstance"))

    def __subclasscheck__(self, cls):
        return bool(_checked(self._ask("issubclass", cls), bool, "issubclass"))

    def __array__(self, dtype=None, copy=None):
        out = self._ask("array", None if dtype is None else np.dtype(dtype).str)
        if not isinstance(out, np.ndarray):
            out = np.asarray(out)
        return out if dtype is None else out.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or "out" in kwargs:
            return NotImplemented
        return object.__getattribute__(self, "_channel").request("ufunc", None, ufunc.__name__, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if _numpy_function(func.__module__, func.__name__) is not func:
            return NotImplemented
        return object.__getattribute__(self, "_channel").request(
            "npfunc", None, func.__module__, func.__name__, args, kwargs)


def _checked(value, kind, what):
    if kind is int and type(value) is bool:
        return int(value)
    if type(value) is not kind and not (kind is float and isinstance(value, np.floating)):
        raise TypeError(f"{what}() of a remote object returned {type(value).__name__}, not {kind.__name__}")
    return kind(value)


def _binop(name, reflected):
    def method(self, other):
        args = (other, self) if reflected else (self, other)
        return object.__getattribute__(self, "_channel").request("binop", None, name, *args)
    return method


def _unop(name):
    def method(self):
        return self._ask("unop", name)
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lshift", "rshift"):
    _op = _name + "_" if _name in ("and", "or") else _name
    setattr(Proxy, f"__{_name}__", _binop(_op, False))
    setattr(Proxy, f"__r{_name}__", _binop(_op, True))
for _name in ("lt", "le", "gt", "ge"):
    setattr(Proxy, f"__{_name}__", _binop(_name, False))
for _name in _UNOPS:
    setattr(Proxy, f"__{_name}__", _unop(_name))

_proxy_classes = {}


def proxy_class(type_name):
    """A Proxy subclass named like the remote type, so messages say ``Dual``, not ``Proxy``."""
    name = type_name if isinstance(type_name, str) and type_name.isidentifier() else "RemoteObject"
    cls = _proxy_classes.get(name)
    if cls is None:
        cls = _proxy_classes[name] = type(name, (Proxy,), {"__slots__": (), "__module__": "sandbox"})
    return cls
