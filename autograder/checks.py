r"""The comparison core every lesson check is built on.

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
_isclose = math.isclose

#: Tolerances, one table for every check (relative, absolute).
TOLERANCES = {
    "exact": (1e-12, 1e-12),      # analytic derivatives (duals, tapes) vs the oracle
    "solver": (1e-8, 1e-10),      # iterative solvers converged to 1e-10
    "numerical": (1e-5, 1e-7),    # central differences vs exact derivatives
}


class CheckFailure(AssertionError):
    """A failed check, formatted for a student: what, input, expected, got, hint."""

    def __init__(self, what, *, inputs=None, expected=None, got=None, hint=None):
        self.what, self.inputs, self.expected, self.got, self.hint = what, inputs, expected, got, hint
        lines = [f"✗ {what}"]
        if inputs is not None:
            lines.append(f"  input:    {show(inputs)}")
        if expected is not None or got is not None:
            lines.append(f"  expected: {show(expected)}")
            lines.append(f"  got:      {show(got)}")
        if hint:
            lines.append(f"  hint:     {hint}")
        super().__init__("\n".join(lines))


def show(value):
    """A short, readable rendering of a value (arrays are abbreviated)."""
    if isinstance(value, _ndarray):
        return _array2string(value, precision=6, threshold=12, edgeitems=3, separator=", ")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={show(v)}" for k, v in value.items())
    if isinstance(value, tuple):
        return "(" + ", ".join(show(v) for v in value) + ")"
    return repr(value)


def is_close(got, expected, rtol, atol):
    """True when `got` has `expected`'s shape and every entry is within
    ``atol + rtol·|expected|`` (NaN only matches NaN)."""
    try:
        g = _asarray(got, dtype=float)
    except (TypeError, ValueError):
        return False
    e = _asarray(expected, dtype=float)
    if g.shape != e.shape:
        return False
    if not bool(_all(_isfinite(g) == _isfinite(e))):
        return False
    fin = _isfinite(e)
    return bool(_all(_abs(g[fin] - e[fin]) <= atol + rtol * _abs(e[fin])))


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
        try:
            got = student(*case)
        except Exception as err:  # the student's bug, reported on its input
            raise CheckFailure(what, inputs=case, expected=expected,
                               got=f"{type(err).__name__}: {err}",
                               hint="your code raised an exception on this input") from None
        rtol, atol = TOLERANCES[tol]
        if not is_close(got, expected, rtol, atol):
            h = hint(case, expected, got) if callable(hint) else hint
            raise CheckFailure(what, inputs=case, expected=expected, got=got, hint=h)
    return len(cases)


def passed(what, n=None):
    """Print the student-facing success line of a check."""
    print(f"✓ {what}" + (f" ({n} inputs)" if n else ""))
