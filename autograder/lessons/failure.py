"""The lessons' :class:`CheckFailure`: the kernel's, except that a tolerance failure never
shows an expected and a got that look the same.

:func:`autograder.checks.show` prints arrays with six digits, so an answer that misses a
``1e-8`` tolerance prints exactly like the right one (or differs in the last digit). When
that happens the two are shown with as many digits as it takes to tell them apart, and the
hint starts with the relative error. (The same rule belongs in the kernel's ``CheckFailure``; until it is there, every
lesson imports this one.)
"""
import math

import numpy as _np

from autograder.checks import CheckFailure as _KernelFailure
from autograder.checks import as_floats, relative_error, show

_array2string, _abs, _max = _np.array2string, _np.abs, _np.max
#: Closer than this (relative), six printed digits show at most a difference in the last one.
NEAR = 1e-5


class Digits:
    """A number or array shown with `digits` significant digits."""

    def __init__(self, value, digits):
        self.value, self.digits = _np.asarray(value, dtype=float), digits

    def __repr__(self):
        fmt = f"{{:.{self.digits}g}}".format
        if self.value.ndim == 0:
            return fmt(float(self.value))
        return _array2string(self.value, formatter={"float_kind": fmt}, threshold=12, edgeitems=3,
                             separator=", ")


def distinguishable(expected, got, hint):
    """``(expected, got, hint)`` as a failure shows them: unchanged, unless both are numbers
    of the same shape that differ but print alike (or agree to more than five digits); then
    with enough digits to tell them apart and the hint led by the relative error."""
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


class CheckFailure(_KernelFailure):
    """:class:`autograder.checks.CheckFailure`, with :func:`distinguishable` applied to what it shows.
    The attributes keep the values as they came (``failure.expected`` is the array)."""

    def __init__(self, what, *, inputs=None, expected=None, got=None, hint=None):
        shown_expected, shown_got, hint = distinguishable(expected, got, hint)
        super().__init__(what, inputs=inputs, expected=shown_expected, got=shown_got, hint=hint)
        self.expected, self.got = expected, got
