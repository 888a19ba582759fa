r"""The check kernel every lesson check is built on: one comparator, one tolerance
table, one way to call student code, one failure message.

A check calls the student's code on inputs chosen from an explicit domain,
compares with `autodiff_ref` (the oracle) and, on the first disagreement,
raises :class:`CheckFailure` naming the input, the expected value, the value
that came back and a hint at the likely misconception. Cases are tried
simplest first, so the input reported is the smallest one that fails.

The numerical helpers are bound here, at import, before any student cell runs:
rebinding ``numpy.allclose`` (or any other ``numpy`` name) in a solution cell
does not change what these checks compute.
"""
import math

import numpy as _np

# Bound once at import: later rebinding of numpy's attributes cannot reach us.
_asarray = _np.asarray
_isfinite = _np.isfinite
_abs = _np.abs
_shape = _np.shape
_broadcast_shapes = _np.broadcast_shapes
_array2string = _np.array2string
_ndarray = _np.ndarray
_max = _np.max
_all = _np.all
_any = _np.any
_isnan = _np.isnan
_isclose = math.isclose

#: Tolerances, one table for every check: name -> (relative, absolute). A check
#: names its row; no check writes its own numbers.
TOLERANCES = {
    "exact": (1e-12, 1e-12),      # the same formula as the oracle, evaluated the same way
    "rounding": (1e-9, 1e-12),    # the same mathematics in another order of operations
    "iterative": (1e-7, 1e-12),   # fixed points and ODE solves converged far below this
    "solver": (1e-8, 1e-10),      # iterative solvers converged to 1e-10
    "numerical": (1e-5, 1e-7),    # central differences against exact derivatives
    "recognise": (1e-6, 1e-9),    # matching a wrong answer against a known misconception
}

#: The longest check message a student sees (inputs and arrays are abbreviated first).
MESSAGE_LIMIT = 2000
NOT_DONE_HINT = "this task is not done yet: replace `raise NotImplementedError()` with your code"


class CheckFailure(AssertionError):
    """A failed check, formatted for a student: what, input, expected, got, hint."""

    def __init__(self, what, *, inputs=None, expected=None, got=None, hint=None):
        self.what, self.inputs, self.expected, self.got = what, inputs, expected, got
        expected, got, hint = distinguishable(expected, got, hint)
        self.hint = hint
        lines = [f"✗ {_cut(str(what), 300)}"]
        if inputs is not None:
            lines.append(f"  input:    {_cut(show(inputs), 500)}")
        if expected is not None or got is not None:
            lines.append(f"  expected: {_cut(show(expected), 400)}")
            lines.append(f"  got:      {_cut(show(got), 400)}")
        if hint:
            lines.append(f"  hint:     {_cut(str(hint), 500)}")
        super().__init__("\n".join(lines)[:MESSAGE_LIMIT])


#: Closer than this (relative), six printed digits show at most a difference in the last one.
NEAR = 1e-5


class Digits:
    """A number or array shown with `digits` significant digits."""

    def __init__(self, value, digits):
        self.value, self.digits = _asarray(value, dtype=float), digits

    def __repr__(self):
        fmt = f"{{:.{self.digits}g}}".format
        if self.value.ndim == 0:
            return fmt(float(self.value))
        return _array2string(self.value, formatter={"float_kind": fmt}, threshold=12, edgeitems=3,
                             separator=", ")


def distinguishable(expected, got, hint):
    """``(expected, got, hint)`` as a failure shows them: unchanged, unless both are numbers of
    the same shape that differ but print alike (or agree to more than five digits); then with
    enough digits to tell them apart, and the hint led by the relative error."""
    e, g = as_floats(expected), as_floats(got)
    if e is None or g is None or e.shape != g.shape:
        return expected, got, hint
    err = relative_error(got, expected)
    if not 0 < err < math.inf or (err >= NEAR and show(expected) != show(got)):
        return expected, got, hint
    digits = min(17, max(8, math.ceil(-math.log10(err)) + 2))
    gap = float(_max(_abs(g - e))) if e.size else 0.0
    note = (f"expected and got agree to about {max(0, math.floor(-math.log10(err)))} digits: "
            f"relative error {err:.2e}, largest difference {gap:.2e}")
    return Digits(e, digits), Digits(g, digits), note + (f". {hint}" if hint else "")


def show(value):
    """A short, readable rendering of a value (arrays are abbreviated)."""
    if isinstance(value, _ndarray):
        return _array2string(value, precision=6, threshold=12, edgeitems=3, separator=", ")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={show(v)}" for k, v in value.items())
    if isinstance(value, tuple):
        return "(" + ", ".join(show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def _cut(text, limit):
    return text if len(text) <= limit else text[:limit - 2] + " …"


def is_close(got, expected, rtol, atol):
    """True when `got` has `expected`'s shape and every finite entry is within
    ``atol + rtol·|expected|``; a non-finite entry matches only itself
    (NaN matches NaN, +inf matches +inf, −inf matches −inf)."""
    try:
        g = _asarray(got, dtype=float)
        e = _asarray(expected, dtype=float)
    except (TypeError, ValueError):
        return False
    if g.shape != e.shape:
        return False
    fin_g, fin_e = _isfinite(g), _isfinite(e)
    if not bool(_all(fin_g == fin_e)):
        return False
    inf = ~fin_e
    if bool(_any(inf)) and not bool(_all((_isnan(g[inf]) & _isnan(e[inf])) | (g[inf] == e[inf]))):
        return False
    return bool(_all(_abs(g[fin_e] - e[fin_e]) <= atol + rtol * _abs(e[fin_e])))


def same(got, expected, tol="rounding"):
    """:func:`is_close` with a named row of :data:`TOLERANCES`; False for anything not numeric."""
    if isinstance(got, Raised):
        return False
    rtol, atol = TOLERANCES[tol]
    return is_close(got, expected, rtol, atol)


def as_floats(got):
    """The student's answer as a float array, or None when it is not numeric."""
    if isinstance(got, Raised):
        return None
    try:
        return _asarray(got, dtype=float)
    except (TypeError, ValueError):
        return None


def relative_error(got, expected):
    """max|got − expected| / max|expected| (absolute when expected is 0); inf if not comparable."""
    g, e = as_floats(got), _asarray(expected, dtype=float)
    if g is None or g.shape != e.shape:
        return math.inf
    diff = float(_max(_abs(g - e))) if e.size else 0.0
    scale = float(_max(_abs(e))) if e.size else 0.0
    return diff / scale if scale > 0 else diff


# --- calling the student's code -----------------------------------------------------------------

class Named:
    """A test function or input that prints as its formula in a failure message."""

    def __init__(self, name, f):
        self.name, self.f = name, f

    def __call__(self, *args, **kwargs):
        return self.f(*args, **kwargs)

    def __repr__(self):
        return self.name


class Raised:
    """What came back when the student's code raised: shown as the exception."""

    def __init__(self, err):
        self.err = err

    @property
    def not_done(self):
        return isinstance(self.err, NotImplementedError)

    def __repr__(self):
        return f"{type(self.err).__name__}: {self.err}"


def attempt(student, *args, **kwargs):
    """``student(*args)``, or :class:`Raised` if it raised (the student's bug, reported on its input)."""
    try:
        return student(*args, **kwargs)
    except Exception as err:
        return Raised(err)


def call(student, args, *, what, inputs=None, hint=None):
    """``student(*args)``; if it raises, a :class:`CheckFailure` naming the input and the
    exception (and saying the task is not done when it is ``NotImplementedError``).

    Infinite loops are not this function's business: when grading, the sandbox's
    time limit ends them (:mod:`autograder.verdicts`)."""
    got = attempt(student, *args)
    if isinstance(got, Raised):
        raise CheckFailure(what, inputs=args if inputs is None else inputs, got=got,
                           hint=NOT_DONE_HINT if got.not_done else
                           (hint or "your code raised an exception on this input")) from None
    return got


def check_close(got, expected, *, what, inputs=None, hint=None, tol="exact"):
    """Raise :class:`CheckFailure` unless `got` matches `expected` within the
    named tolerance of :data:`TOLERANCES`."""
    rtol, atol = TOLERANCES[tol]
    if not is_close(got, expected, rtol, atol):
        raise CheckFailure(what, inputs=inputs, expected=expected, got=got, hint=hint)


def check_cases(student, reference, cases, *, what, hint=None, tol="exact"):
    """Compare ``student(*case)`` with ``reference(*case)`` on every case, simplest first.

    `hint` is a string or a function ``hint(case, expected, got) -> str | None``
    that recognises a misconception from the wrong answer. An exception raised
    by the student's code is reported as a failure on that input, with the
    exception named.
    """
    for case in cases:
        expected = reference(*case)
        got = attempt(student, *case)
        if isinstance(got, Raised):
            raise CheckFailure(what, inputs=case, expected=expected, got=got,
                               hint=NOT_DONE_HINT if got.not_done else
                               "your code raised an exception on this input") from None
        rtol, atol = TOLERANCES[tol]
        if not is_close(got, expected, rtol, atol):
            h = hint(case, expected, got) if callable(hint) else hint
            raise CheckFailure(what, inputs=case, expected=expected, got=got, hint=h)
    return len(cases)


def passed(what, n=None):
    """Print the student-facing success line of a check."""
    print(f"✓ {what}" + (f" ({n} inputs)" if n else ""))
