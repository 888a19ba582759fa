r"""Building on your own code: a lesson uses what the student wrote in an earlier one.

Lesson 2 runs on the student's lesson-1 ``Dual``, lesson 4 compares the student's
lesson-2 ``jvp`` and lesson-3 ``grad`` with the library's. One given cell near the
top of the lesson says which::

    Dual = own_code.yours("lesson1_dual_numbers", "Dual", tasks=("1.1", "1.2", "1.3"),
                          reference=RefDual)
    # yours(..., use_yours=False) switches to the reference

:func:`yours` finds the earlier notebook next to this one
(``../lesson1_dual_numbers/lesson1_dual_numbers.ipynb``: ``python -m autograder lab``
and nbgrader put a student's lessons side by side, and a kernel runs in its
notebook's folder), runs its definitions in a fresh module, runs the earlier
notebook's visible checks of the named tasks there, and returns the student's objects
when every one of them passes, else the reference. A load is cached until that notebook,
or one it loaded in turn, is saved again. It prints one line saying which,
and why. Nothing that goes wrong while loading breaks the lesson: the line says what
happened and the reference is used.

Only definitions are run, statement by statement: imports, ``def``, ``class``, and
assignments — every assignment of a solution cell (the student's own work), and in
the given cells only those that call nothing (``Dual.__truediv__ = dual_truediv``),
so plots, widgets, loops and timing demos are skipped (a given statement that fails
because it needed a skipped one is passed over; a solution cell that raises is
reported). Output is captured and ``plt.show`` does nothing while they run.

**Grading.** A lesson's grade depends on that lesson's work only, and the grading
sandbox cannot read the course folder: there (:data:`GRADING` is set in its
environment by :mod:`autograder.sandbox`) :func:`yours` always returns the reference
and says so.

:func:`with_numpy` teaches a class the ufunc protocol (``np.sin(d)`` calls
``type(d).__array_ufunc__``) from a table of functions, for a lesson-1 ``Dual``
that does not have it.
"""
import ast
import contextlib
import io
import os
import re
import sys
import types

#: Set (to "1") in the grading sandbox's environment: :func:`yours` then takes the reference.
GRADING = "AUTODIFF_GRADING"

_cache = {}        # (path, tasks) -> _Loaded, valid while the notebooks it read keep their mtimes
_loading = set()   # paths being loaded (a notebook that loads itself gets the reference)
_reading = []      # [(path, mtime_ns)] read by each load in progress, innermost last


#: How long loading an earlier notebook (definitions and checks) may take, in seconds.
LIMIT_SECONDS = 60

#: What a line about a problem in the student's earlier notebook ends with.
FIX = " Fix it there and rerun this cell to use yours."


class _Loaded:
    """What one load found: the earlier notebook's namespace, or why it is not used."""

    def __init__(self, namespace=None, problem=None):
        self.namespace, self.problem = namespace, problem
        self.depends = []        # (path, mtime_ns) of every notebook this load read


def yours(lesson, names, *, tasks, reference, use_yours=True, folder=None):
    """The student's `names` from the earlier notebook `lesson`, if its checks of `tasks` pass; else `reference`.

    `names` is one name (then one object is returned) or a tuple of names (then a
    tuple, in the same order); `reference` has the same form, or is None when the lesson
    has no drop-in replacement and does something else instead (then None stands for
    each name, and the line says why yours is not used). `tasks` are the earlier
    notebook's task labels ("1.1" or "Task 1.1") whose visible checks must pass.
    `folder` is where the lesson folders are (default: the parent of the current
    folder). Prints one line saying which objects are used and why.
    """
    single = isinstance(names, str)
    names = (names,) if single else tuple(names)
    instead = reference is None           # no drop-in reference: the lesson uses something else
    reference = (None,) * len(names) if instead else (reference,) if single else reference
    if not isinstance(reference, tuple) or len(reference) != len(names):
        raise ValueError(f"yours: {len(names)} names {names}; give a tuple of one reference object per name")
    tasks = tuple(t if str(t).startswith("Task") else f"Task {t}" for t in tasks)
    if not tasks:
        raise ValueError("yours: name the earlier tasks whose checks must pass, e.g. tasks=('1.1', '1.2')")
    yours_label, ref_label = _and(names), _and([_name_of(r) for r in reference])
    earlier = _lesson_label(lesson)

    def fallback(why):
        print(f"Not using your {yours_label}: {why}" if instead else f"Using the reference {ref_label}: {why}")
        return reference[0] if single else reference

    if os.environ.get(GRADING):
        return fallback(f"graded with the reference {'instead' if instead else yours_label} so that this "
                        "lesson's grade depends on this lesson only.")
    if not use_yours:
        return fallback("this cell asks for it (its switch is set to the reference).")
    base = folder if folder is not None else os.pardir
    path = os.path.join(base, lesson, f"{lesson}.ipynb")
    if not os.path.isfile(path):
        return fallback(f"{path} not found.")
    loaded = _load(path, tasks)
    missing = [n for n in names if loaded.namespace is not None and n not in loaded.namespace]
    if loaded.problem or missing:
        problem = loaded.problem or f"{{earlier}} does not define {_and(missing)}."
        return fallback(problem.replace("{earlier}", f"your {earlier}"))   # not format: messages hold braces
    print(f"Using your {yours_label} from {earlier} (it passes the checks of {_tasks_label(tasks)}).")
    objects = tuple(loaded.namespace[n] for n in names)
    return objects[0] if single else objects


def _load(path, tasks):
    """The cached load of `path`, run again when it or a notebook it loaded has changed."""
    real = os.path.realpath(path)
    try:
        mtime = os.stat(real).st_mtime_ns
    except OSError as err:
        return _Loaded(problem=f"{{earlier}} could not be read ({err}).")
    cached = _cache.get((real, tasks))
    if cached is None or not all(_mtime(p) == m for p, m in cached.depends):
        if real in _loading:
            return _Loaded(problem="{earlier} loads itself.")
        _loading.add(real)
        _reading.append([(real, mtime)])
        try:
            cached = _run(real, tasks)
        except Exception as err:      # whatever goes wrong here must not break the lesson
            cached = _Loaded(problem=f"{{earlier}} could not be loaded ({_first_line(err)}).")
        finally:
            _loading.discard(real)
            cached.depends = _reading.pop()
        _cache[(real, tasks)] = cached
    for depends in _reading:          # the loads this one runs inside depend on it too
        depends.extend(cached.depends)
    return cached


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _run(path, tasks):
    """Run the definitions of the notebook at `path`, then its checks of `tasks`."""
    from . import notebooks
    from .policy import task_of
    try:
        nb = notebooks.read(path)
    except ValueError as err:
        return _Loaded(problem=f"{{earlier}} is not a readable notebook ({_first_line(err)}).")
    module = types.ModuleType(os.path.splitext(os.path.basename(path))[0])
    module.__file__ = path
    namespace = module.__dict__
    checks = {t: [] for t in tasks}
    with _quiet(), _in_folder(os.path.dirname(path)), _time_limit(LIMIT_SECONDS):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            source = notebooks.strip_magics(notebooks.source_text(cell))
            if notebooks.is_graded(cell) and not notebooks.is_solution(cell):
                task = task_of(source)
                if task in checks:
                    checks[task].append(notebooks.strip_hidden_tests(source))
                continue
            problem = _define(source, namespace, index, notebooks.is_solution(cell))
            if problem:
                return _Loaded(problem=problem)
        for task in tasks:
            if not checks[task]:
                return _Loaded(problem=f"{{earlier}} has no check of {task}.")
            for source in checks[task]:
                try:
                    exec(compile(source, f"<check of {task}>", "exec"), namespace)
                except BaseException as err:  # a failing check, or the student's code raising in it
                    if isinstance(err, KeyboardInterrupt):
                        raise
                    return _Loaded(problem=f"{{earlier}} fails {task}'s check ({_first_line(err)}).{FIX}")
    return _Loaded(namespace=namespace)


def _define(source, namespace, index, solution):
    """Run the definitions among the top-level statements of one cell; a problem text or None."""
    try:
        tree = ast.parse(source, f"<cell {index}>")
    except SyntaxError as err:
        return f"{{earlier}} has a syntax error in cell {index} (line {err.lineno}: {err.msg}).{FIX}"
    for stmt in tree.body:
        if not _is_definition(stmt, solution):
            continue
        try:
            exec(compile(ast.Module([stmt], []), f"<cell {index}>", "exec"), namespace)
        except BaseException as err:
            if isinstance(err, (KeyboardInterrupt, _TooLong)):
                raise
            if not solution:      # a given statement that needed a skipped one: not the student's doing
                continue
            return (f"{{earlier}} raises in cell {index}, line {stmt.lineno} "
                    f"({_first_line(err)}).{FIX}")
    return None


def _is_definition(stmt, solution):
    """Imports, defs, classes; assignments of the student's own cells; given assignments that call nothing."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        if solution or stmt.value is None:
            return True
        return all(_is_own_code_call(c) for c in _calls(stmt.value))
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and _is_own_code_call(stmt.value)


def _calls(node):
    """The calls an expression makes when it is evaluated (not those inside a lambda's body,
    which run only when the lambda is called: a table of ``lambda x: np.reshape(x, s)``)."""
    todo = [node]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Call):
            yield node
        if isinstance(node, ast.Lambda):
            todo.extend(node.args.defaults + [d for d in node.args.kw_defaults if d is not None])
        else:
            todo.extend(ast.iter_child_nodes(node))


def _is_own_code_call(call):
    """``own_code.yours(…)`` / ``own_code.with_numpy(…)``: an earlier lesson's own building on its earlier work."""
    func = call.func
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "own_code"


class _TooLong(Exception):
    """Loading took longer than :data:`LIMIT_SECONDS`."""


@contextlib.contextmanager
def _time_limit(seconds):
    """Raise _TooLong after `seconds` (a loop in the earlier notebook must not hang this one).
    Only where an alarm is free to use: the main thread, no handler of SIGALRM installed."""
    import signal
    import threading
    usable = (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
              and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None))
    if not usable:
        yield
        return

    def stop(signum, frame):
        raise _TooLong(f"it ran longer than {seconds:g} s: a loop that never ends?")
    signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


@contextlib.contextmanager
def _in_folder(folder):
    """Run in the earlier notebook's folder, as its own kernel would."""
    here = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(here)


@contextlib.contextmanager
def _quiet():
    """Capture output; plt.show does nothing, and figures made meanwhile are closed."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    before = set(pyplot.get_fignums()) if pyplot else set()
    show = pyplot.show if pyplot else None
    if pyplot:
        pyplot.show = lambda *args, **kwargs: None
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot:
            if show is not None:
                pyplot.show = show
            for number in set(pyplot.get_fignums()) - before:
                pyplot.close(number)


def _first_line(err):
    text = str(err).strip()
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    line = line.lstrip("✗ ").strip()
    if isinstance(err, (AssertionError, _TooLong)) and line:     # the message says it all
        return line
    return f"{type(err).__name__}: {line}" if line else type(err).__name__


def _name_of(obj):
    """'autodiff_ref.Dual', 'numpy.sin': where the student would import it from."""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)
    module = getattr(obj, "__module__", None) or ("numpy" if type(obj).__name__ == "ufunc" else "")
    if module == "__main__":        # defined in the notebook itself
        return name
    top = module.split(".")[0]
    if top and getattr(sys.modules.get(top), name, None) is obj:
        module = top
    return f"{module}.{name}" if module else name


def _and(items):
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _lesson_label(lesson):
    m = re.match(r"lesson(\d+[a-z]?)", lesson)
    return f"lesson {m.group(1)}" if m else lesson


def _tasks_label(tasks):
    numbers = [t.split()[-1] for t in tasks]
    if len(numbers) == 1:
        return f"Task {numbers[0]}"
    if len(numbers) > 2 and _consecutive(numbers):
        return f"Tasks {numbers[0]}–{numbers[-1]}"
    return "Tasks " + _and(numbers)


def _consecutive(numbers):
    try:
        parts = [tuple(int(p) for p in n.split(".")) for n in numbers]
    except ValueError:
        return False
    return all(a[0] == b[0] and b[1] == a[1] + 1 for a, b in zip(parts, parts[1:]))


# ------------------------------------------------------------------------------------------
# numpy functions on a student's Dual
# ------------------------------------------------------------------------------------------

#: numpy's arithmetic ufuncs and the methods of the dual they stand for (``np.float64(2) * d``
#: reaches ``d.__array_ufunc__`` with ``np.multiply``): (the dual on the left, on the right).
ARITHMETIC = {"add": ("__add__", "__radd__"), "subtract": ("__sub__", "__rsub__"),
              "multiply": ("__mul__", "__rmul__"), "true_divide": ("__truediv__", "__rtruediv__"),
              "power": ("__pow__", "__rpow__"), "negative": ("__neg__", None), "positive": ("__pos__", None)}


def with_numpy(cls, rules):
    r"""Give `cls` an ``__array_ufunc__`` that sends each numpy function in `rules` to its rule.

    ``np.sin(d)`` for an object `d` that is not an array asks ``type(d).__array_ufunc__(d,
    np.sin, "__call__", d)``; this one looks ``np.sin`` up in ``rules`` (a dict
    ``{np.sin: sin, …}`` of the student's functions of a ``Dual``) and calls the rule. numpy's
    arithmetic ufuncs go to the class's own operators, so ``np.float64(2.0) * d`` works too. A
    function with no rule gives numpy's own TypeError naming it. A class that already has
    ``__array_ufunc__`` (the reference ``Dual``) is left as it is. Returns `cls`.
    """
    import numpy as np
    if getattr(cls, "__array_ufunc__", None) is not None:
        print(f"{cls.__name__} already has __array_ufunc__: numpy functions use it.")
        return cls
    for ufunc, rule in rules.items():
        if not isinstance(ufunc, np.ufunc) or not callable(rule):
            raise TypeError(f"with_numpy: rules maps numpy ufuncs to functions of a {cls.__name__}, "
                            f"e.g. {{np.sin: sin}}; got {ufunc!r}: {rule!r}")
    table, methods = dict(rules), {getattr(np, name): pair for name, pair in ARITHMETIC.items()}

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or kwargs:
            return NotImplemented      # numpy then raises a TypeError naming the ufunc
        inputs = [float(x) if isinstance(x, np.generic) else x for x in inputs]
        if ufunc in table:
            return table[ufunc](*inputs)
        if ufunc in methods:
            left, right = methods[ufunc]
            if isinstance(inputs[0], cls):
                op = getattr(inputs[0], left, None)
                return op(*inputs[1:]) if op is not None else NotImplemented
            op = getattr(inputs[1], right, None) if right else None
            return op(inputs[0]) if op is not None else NotImplemented
        return NotImplemented

    cls.__array_ufunc__ = __array_ufunc__
    print(f"numpy functions now reach your {cls.__name__}: "
          + ", ".join(f"np.{u.__name__}" for u in rules) + " (and numpy's + − × ÷ **).")
    return cls
