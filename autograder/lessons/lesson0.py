r"""Lesson 0, three ways to differentiate: the checks, and the lesson's figures.

Checks (each prints a ✓ line or raises :class:`~autograder.checks.CheckFailure`):

==========================  ==============================================
``check_central_difference``  Task 0.1, (f(x+h) − f(x−h)) / (2h)
``check_fd_gradient``         Task 0.2, the gradient one coordinate at a time
``check_mixed_partial``       Task 0.3, the 4-point formula for ∂²f/∂x∂y
``check_optimal_step``        Task 0.4, h* that minimises the error model
==========================  ==============================================

Every expected value is computed here, at import, by
:mod:`autodiff_ref.numerical` on test functions built from numpy functions
bound at import — before any student cell runs — so rebinding ``np.sin`` or
``np.allclose`` in a notebook changes neither the functions the student's code
is called on nor the answers it is compared with. ``hidden=True`` selects the
larger case table of the hidden tests (another seed, more inputs).

Figures: :func:`plot_error_curve` / :func:`error_curve_widget` (the U-shaped
error of finite differences), :func:`sum_of_squares_experiment` /
:func:`plot_sum_of_squares` (Σxᵢ² at n = 1000), :func:`expression_sizes` /
:func:`plot_expression_swell` (symbolic derivatives of Πxᵢ and of an iterated map).
"""
import math

import numpy as _np

from autodiff_ref import numerical as _nd
from autograder.checks import CheckFailure, check_cases, is_close, passed

# Bound once, at import, so a notebook's later rebinding cannot reach the checks.
_sin, _cos, _exp, _log, _tanh, _sqrt = _np.sin, _np.cos, _np.exp, _np.log, _np.tanh, _np.sqrt
_sum, _dot, _asarray, _array = _np.sum, _np.dot, _np.asarray, _np.array
_eye, _ones_like = _np.eye, _np.ones_like
_isclose = math.isclose
EPS = _nd.EPS
VISIBLE_SEED, HIDDEN_SEED = 0, 1


class _Named:
    """A test function that prints as its formula in a failure message."""

    def __init__(self, name, f):
        self.name, self.f = name, f

    def __call__(self, *args):
        return self.f(*args)

    def __repr__(self):
        return self.name


class _Raised:
    """What came back when the student's code raised: shown as the exception."""

    def __init__(self, err):
        self.err = err

    def __repr__(self):
        return f"{type(self.err).__name__}: {self.err}"


def _catching(student):
    def call(*args):
        try:
            return student(*args)
        except Exception as err:  # reported as the student's result on this input
            return _Raised(err)
    return call


def _ratio(got, expected):
    try:
        g, e = float(got), float(expected)
    except (TypeError, ValueError):
        return None
    return g / e if e != 0 else None


def _equal(got, other):
    """`got` is the number `other` (to rounding): recognises a wrong formula's answer."""
    try:
        return _isclose(float(got), float(other), rel_tol=1e-9, abs_tol=1e-12)
    except (TypeError, ValueError):
        return False


def _near(value, target, rel=1e-6):
    return value is not None and _isclose(value, target, rel_tol=rel, abs_tol=1e-300)


# --------------------------------------------------------------------------
# test functions: (name, f, f') of one variable, and a table of cases
# --------------------------------------------------------------------------

SCALAR_FUNCTIONS = [
    # (formula, f, domain of x)  — simplest first
    ("x**2", lambda x: x * x, (-2.0, 2.0)),
    ("x**3 - 2*x", lambda x: x * x * x - 2 * x, (-2.0, 2.0)),
    ("sin(x)", lambda x: _sin(x), (-3.0, 3.0)),
    ("exp(x)", lambda x: _exp(x), (-2.0, 2.0)),
    ("log(x)", lambda x: _log(x), (0.5, 4.0)),
    ("tanh(2*x)", lambda x: _tanh(2 * x), (-1.5, 1.5)),
    ("sqrt(x) * cos(x)", lambda x: _sqrt(x) * _cos(x), (0.5, 3.0)),
]


def _scalar_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    cases = [(_Named("x**2", SCALAR_FUNCTIONS[0][1]), 1.0, 0.5)]
    for name, f, (lo, hi) in SCALAR_FUNCTIONS:
        for _ in range(per_function):
            x = round(float(rng.uniform(lo, hi)), 3)
            h = float(10.0 ** -rng.integers(1, 6))
            cases.append((_Named(name, f), x, h))
    return cases


def _central_reference(f, x, h):
    return _nd.central_difference(f, x, h=h)


_CENTRAL_CASES = {seed: _scalar_cases(seed, n) for seed, n in ((VISIBLE_SEED, 2), (HIDDEN_SEED, 6))}
_CENTRAL_EXPECTED = {seed: {(id(f), x, h): _central_reference(f, x, h) for f, x, h in cases}
                     for seed, cases in _CENTRAL_CASES.items()}


def _central_hint(case, expected, got):
    if isinstance(got, _Raised):
        return "your code raised an exception on this input"
    f, x, h = case
    r = _ratio(got, expected)
    forward = (f(x + h) - f(x)) / h
    backward = (f(x) - f(x - h)) / h
    if _near(r, 2.0):
        return "got twice the answer: the central difference divides by 2h, the width of [x−h, x+h], not by h"
    if _near(r, -1.0):
        return "the sign is flipped: subtract f(x−h) from f(x+h), not the other way round"
    if _near(r, h * h):
        return ("operator precedence: `... / 2*h` means (.../2)·h; "
                "write `/ (2*h)` with parentheses")
    if _near(r, 0.5):
        return "got half the answer: divide by 2h once, not by 4h"
    if _equal(got, forward):
        return "this is the forward difference (f(x+h) − f(x))/h; the central one uses f(x+h) and f(x−h)"
    if _equal(got, backward):
        return "this is the backward difference (f(x) − f(x−h))/h; the central one uses f(x+h) and f(x−h)"
    return "the central difference is (f(x+h) − f(x−h)) / (2h), with the h you were given"


def check_central_difference(central_difference, *, hidden=False):
    """Task 0.1: ``central_difference(f, x, h)`` equals (f(x+h) − f(x−h))/(2h) for scalar x."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    table = _CENTRAL_EXPECTED[seed]
    n = check_cases(_catching(central_difference), lambda f, x, h: table[(id(f), x, h)],
                    _CENTRAL_CASES[seed],
                    what="central_difference(f, x, h)", hint=_central_hint, tol="solver")
    passed("central_difference(f, x, h) matches (f(x+h) − f(x−h)) / (2h)", n)


# --------------------------------------------------------------------------
# Task 0.2: the gradient by central differences
# --------------------------------------------------------------------------

_A = _array([[2.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 3.0]])

VECTOR_FUNCTIONS = [
    ("sum(v**2)", lambda v: _sum(v * v), 1),
    ("v[0]*v[1]", lambda v: v[0] * v[1], 2),
    ("sum(sin(v) * v)", lambda v: _sum(_sin(v) * v), 3),
    ("v @ A @ v", lambda v: _dot(v, _dot(_A, v)), 3),
    ("v[0]*exp(v[1]) + log(1 + v[2]**2)", lambda v: v[0] * _exp(v[1]) + _log(1 + v[2] * v[2]), 3),
    ("log(sum(exp(v)))", lambda v: _log(_sum(_exp(v))), 5),
]


def _vector_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    cases = [(_Named("sum(v**2)", VECTOR_FUNCTIONS[0][1]), _array([1.0]), 0.5)]
    for name, f, n in VECTOR_FUNCTIONS:
        for _ in range(per_function):
            x = _np.round(rng.uniform(-1.5, 1.5, size=n), 3)
            cases.append((_Named(name, f), x, float(10.0 ** -rng.integers(2, 5))))
    return cases


_GRAD_CASES = {seed: _vector_cases(seed, n) for seed, n in ((VISIBLE_SEED, 1), (HIDDEN_SEED, 4))}
_GRAD_EXPECTED = {seed: {(id(f), id(x)): _nd.central_difference(f, x, h=h) for f, x, h in cases}
                  for seed, cases in _GRAD_CASES.items()}


class _Mutated:
    """The student's function changed its input array in place."""

    def __init__(self, x):
        self.x = x

    def __repr__(self):
        return f"(no answer checked) x was changed in place to {self.x}"


def _grad_hint(case, expected, got):
    if isinstance(got, _Raised):
        return "your code raised an exception on this input"
    if isinstance(got, _Mutated):
        return ("your function modified x in place; work on a copy "
                "(x.copy(), or x + h*e_i, which makes a new array)")
    f, x, h = case
    try:
        g = _asarray(got, dtype=float)
    except (TypeError, ValueError):
        return "return a numpy array of partial derivatives, one per entry of x"
    if g.shape != expected.shape:
        return f"the gradient has the shape of x, {expected.shape}; yours has shape {g.shape}"
    if is_close(g, 2 * expected, 1e-9, 1e-12):
        return "every entry is twice too big: divide by 2h, not by h"
    ones = _ones_like(x)
    along_ones = (f(x + h * ones) - f(x - h * ones)) / (2 * h)
    if x.size > 1 and is_close(g, along_ones + 0 * g, 1e-9, 1e-12):
        return ("every entry equals the derivative along (1, 1, …, 1): move ONE coordinate at a time "
                "(x + h·e_i), not all of them at once")
    forward = _array([(f(x + h * e) - f(x)) / h for e in _eye(x.size)])
    if is_close(g, forward, 1e-9, 1e-12):
        return "this is the forward difference; use f(x + h·e_i) and f(x − h·e_i)"
    return "entry i should be (f(x + h·e_i) − f(x − h·e_i)) / (2h), with e_i the i-th unit vector"


def check_fd_gradient(fd_gradient, *, hidden=False):
    """Task 0.2: ``fd_gradient(f, x, h)`` returns the central-difference gradient and leaves x alone."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    table = _GRAD_EXPECTED[seed]
    what = "fd_gradient(f, x, h)"
    call = _catching(fd_gradient)

    def student(f, x, h):
        mine = x.copy()  # the student gets a copy: the case table stays intact
        got = call(f, mine, h)
        # restoring x by x[i] += h ... x[i] -= h may leave an ulp behind: that is fine
        return got if is_close(mine, x, 1e-14, 1e-15) else _Mutated(mine)

    n = check_cases(student, lambda f, x, h: table[(id(f), id(x))], _GRAD_CASES[seed],
                    what=what, hint=_grad_hint, tol="solver")
    passed("fd_gradient(f, x, h) is the central-difference gradient", n)


# --------------------------------------------------------------------------
# Task 0.3: mixed partials
# --------------------------------------------------------------------------

TWO_VARIABLE_FUNCTIONS = [
    ("x*y", lambda x, y: x * y),
    ("x**2 * y**3", lambda x, y: x * x * y * y * y),
    ("sin(x) * exp(y)", lambda x, y: _sin(x) * _exp(y)),
    ("exp(x*y)", lambda x, y: _exp(x * y)),
    ("log(1 + x**2 + y**2)", lambda x, y: _log(1 + x * x + y * y)),
]


def _mixed_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    cases = [(_Named("x*y", TWO_VARIABLE_FUNCTIONS[0][1]), 1.0, 2.0, 0.1)]
    for name, f in TWO_VARIABLE_FUNCTIONS:
        for _ in range(per_function):
            x, y = (round(float(v), 3) for v in rng.uniform(-1.5, 1.5, size=2))
            cases.append((_Named(name, f), x, y, float(10.0 ** -rng.integers(1, 4))))
    return cases


def _mixed_reference(f, x, y, h):
    return _nd.mixed_partial(lambda v: f(v[0], v[1]), _array([x, y]), 0, 1, h=h)


_MIXED_CASES = {seed: _mixed_cases(seed, n) for seed, n in ((VISIBLE_SEED, 2), (HIDDEN_SEED, 6))}
_MIXED_EXPECTED = {seed: {(id(c[0]), c[1], c[2], c[3]): _mixed_reference(*c) for c in cases}
                   for seed, cases in _MIXED_CASES.items()}


def _mixed_hint(case, expected, got):
    if isinstance(got, _Raised):
        return "your code raised an exception on this input"
    f, x, y, h = case
    r = _ratio(got, expected)
    for factor, msg in ((4.0, "got 4× the answer: the denominator is 4h², not h²"),
                        (2.0, "got 2× the answer: the denominator is 4h², not 2h²"),
                        (-1.0, "the sign is flipped: + f(x+h, y+h) − f(x+h, y−h) − f(x−h, y+h) + f(x−h, y−h)"),
                        (h ** 4, "operator precedence: `/ 4*h*h` means (…/4)·h·h; write `/ (4*h*h)`"),
                        (h, "got the answer times h: the denominator is 4·h·h (4h²), not 4h")):
        if _near(r, factor):
            return msg
    second_x = (f(x + 2 * h, y) - 2 * f(x, y) + f(x - 2 * h, y)) / (4 * h * h)
    if _equal(got, second_x):
        return "this is ∂²f/∂x²: the formula moves x AND y, by ±h each, in the four corners"
    return ("∂²f/∂x∂y ≈ [f(x+h, y+h) − f(x+h, y−h) − f(x−h, y+h) + f(x−h, y−h)] / (4h²): "
            "the four corners of a square around (x, y)")


def check_mixed_partial(mixed_partial, *, hidden=False):
    """Task 0.3: ``mixed_partial(f, x, y, h)`` is the 4-point formula for ∂²f/∂x∂y."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    table = _MIXED_EXPECTED[seed]
    n = check_cases(_catching(mixed_partial), lambda f, x, y, h: table[(id(f), x, y, h)],
                    _MIXED_CASES[seed], what="mixed_partial(f, x, y, h)", hint=_mixed_hint,
                    tol="solver")
    passed("mixed_partial(f, x, y, h) matches the 4-point formula", n)


# --------------------------------------------------------------------------
# Task 0.4: the optimal step of the error model
# --------------------------------------------------------------------------

def _step_cases(seed, n):
    rng = _np.random.default_rng(seed)
    cases = [(1, 1.0, 1.0), (2, 1.0, 1.0)]
    for _ in range(n):
        order = int(rng.integers(1, 3))
        M, F = (float(10.0 ** rng.uniform(-3, 3)) for _ in range(2))
        cases.append((order, round(M, 4), round(F, 4)))
    return cases


_STEP_CASES = {seed: _step_cases(seed, n) for seed, n in ((VISIBLE_SEED, 10), (HIDDEN_SEED, 40))}
_STEP_EXPECTED = {seed: {c: _nd.optimal_step(c[0], M=c[1], f_scale=c[2]) for c in cases}
                  for seed, cases in _STEP_CASES.items()}


def _step_hint(case, expected, got):
    if isinstance(got, _Raised):
        return "your code raised an exception on this input"
    order, M, F = case
    r = _ratio(got, expected)
    if r is None:
        return "return the step h* as a float"
    other = _nd.optimal_step(3 - order, M=M, f_scale=F)
    if _near(_ratio(got, other), 1.0):
        return (f"this is the optimal step of the {'central' if order == 1 else 'forward'} difference; "
                f"order={order} is the {'forward' if order == 1 else 'central'} one")
    if M != F and _near(_ratio(got, _nd.optimal_step(order, M=F, f_scale=M)), 1.0):
        return "M and |f| are swapped: h* grows with |f| (round-off) and shrinks with M (truncation)"
    thumb = math.sqrt(EPS) if order == 1 else EPS ** (1 / 3)
    constant = _nd.optimal_step(order)  # the answer for M = |f| = 1
    if (M, F) != (1.0, 1.0) and (_near(_ratio(got, thumb), 1.0) or _near(_ratio(got, constant), 1.0)):
        return ("that is the rule of thumb (√ε or ∛ε); the optimal step depends on M and |f| (f_scale): "
                "minimise the model E(h) for the M and f_scale you are given")
    if order == 1 and _near(r, 1 / math.sqrt(2)):
        return ("off by √2: the truncation term of the forward difference is M·h/2 (Taylor), "
                "so h* = √(2ε|f|/M), not √(ε|f|/M) or √ε")
    if order == 2 and _near(r, (2 / 3) ** (1 / 3)):
        return ("off by a constant factor: minimise M·h²/6 + ε|f|/(2h); dE/dh = 0 gives "
                "h³ = 3ε|f|/(2M), not h³ = ε|f|/M or ε")
    if order == 2 and _near(_ratio(got, math.sqrt(3 * EPS * F / (2 * M))), 1.0):
        return "for the central difference E(h) ∝ h² + 1/h, so h* is a cube root, not a square root"
    return ("minimise E(h) = C·M·h^p + R·ε·|f|/h: forward p=1, C=1/2, R=1; central p=2, C=1/6, R=1/2; "
            "set dE/dh = 0 and solve for h")


def check_optimal_step(optimal_step, *, order=None, hidden=False):
    """Task 0.4: ``optimal_step(order, M, f_scale)`` minimises the model of :func:`fd_error_model`.

    `order` 1 or 2 checks only the forward or only the central difference (two graded cells).
    """
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    table = _STEP_EXPECTED[seed]
    cases = [c for c in _STEP_CASES[seed] if order is None or c[0] == order]
    call = _catching(optimal_step)
    what = "optimal_step(order, M, f_scale)"
    # steps are ~1e-8: a relative tolerance only (an absolute one would accept anything small)
    for case in cases:
        expected, got = table[case], call(*case)
        if not is_close(got, expected, 1e-9, 0.0):
            raise CheckFailure(what, inputs=dict(zip(("order", "M", "f_scale"), case)),
                               expected=expected, got=got, hint=_step_hint(case, expected, got))
    scheme = {1: " (forward)", 2: " (central)", None: ""}[order]
    passed(f"optimal_step(order, M, f_scale){scheme} minimises the error model", len(cases))


# ==========================================================================
# Figures and widgets of the lesson
# ==========================================================================

#: Functions of the error-curve figure: (f, [f, f', f'', f'''] at x0, x0). Closed forms.
CURVE_FUNCTIONS = {
    "exp(x) at x = 1": (lambda x: _exp(x), lambda x: (_exp(x),) * 4, 1.0),
    "sin(x) at x = 1": (lambda x: _sin(x), lambda x: (_sin(x), _cos(x), -_sin(x), -_cos(x)), 1.0),
    "1/x at x = 0.2": (lambda x: 1.0 / x, lambda x: (1 / x, -1 / x ** 2, 2 / x ** 3, -6 / x ** 4), 0.2),
}
_CURVE_H = 10.0 ** _np.linspace(-16, 0, 321)
_curve_cache = {}


def error_curves(function="exp(x) at x = 1"):
    """Measured errors of the forward and central differences over h = 1e-16 … 1, and the model.

    Returns a dict with ``h``, ``forward``, ``central`` (measured |error|) and
    ``forward_model``, ``central_model`` (:func:`autodiff_ref.numerical.fd_error_model`
    with M and |f| from the closed-form derivatives at x0), plus the optimal steps.
    """
    if function not in _curve_cache:
        f, derivs, x0 = CURVE_FUNCTIONS[function]
        f0, d1, d2, d3 = (abs(float(v)) for v in derivs(x0))
        exact = float(derivs(x0)[1])
        fwd = _array([abs(_nd.forward_difference(f, x0, h=h) - exact) for h in _CURVE_H])
        cen = _array([abs(_nd.central_difference(f, x0, h=h) - exact) for h in _CURVE_H])
        _curve_cache[function] = dict(
            h=_CURVE_H, forward=fwd, central=cen, exact=exact, x0=x0, f=f,
            forward_model=_nd.fd_error_model(_CURVE_H, 1, M=d2, f_scale=f0).total,
            central_model=_nd.fd_error_model(_CURVE_H, 2, M=d3, f_scale=f0).total,
            forward_best=_nd.optimal_step(1, M=d2, f_scale=f0),
            central_best=_nd.optimal_step(2, M=d3, f_scale=f0))
    return _curve_cache[function]


FLOOR = 1e-14  # errors below (or exactly 0) are drawn here on the log scale


def plot_error_curve(log10_h=-8.0, function="exp(x) at x = 1", ax=None):
    """The U-shaped error of finite differences, with a marker at h = 10**log10_h."""
    import matplotlib.pyplot as plt

    data = error_curves(function)
    h = 10.0 ** log10_h
    f, x0, exact = data["f"], data["x0"], data["exact"]
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(9, 5.2))
    colors = {"forward": "#1f77b4", "central": "#d62728"}
    for name, label in (("forward", "forward  (f(x+h) − f(x)) / h"),
                        ("central", "central  (f(x+h) − f(x−h)) / 2h")):
        ax.loglog(data["h"], _np.maximum(data[name], FLOOR), color=colors[name], lw=1.3, label=label)
        ax.loglog(data["h"], data[name + "_model"], color=colors[name], lw=1.5, ls="--", alpha=0.8,
                  label=f"model: {'M h/2' if name == 'forward' else 'M h²/6'} + "
                        f"{'ε|f|/h' if name == 'forward' else 'ε|f|/2h'}")
        best = data[name + "_best"]
        ax.axvline(best, color=colors[name], lw=0.8, ls=":", alpha=0.9)
        ax.annotate(f"h* = {best:.0e}", (best, 2 * FLOOR), color=colors[name], fontsize=9,
                    rotation=90, ha="center", va="bottom",
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.9))
    errs = {}
    for name, method in (("forward", _nd.forward_difference), ("central", _nd.central_difference)):
        errs[name] = abs(method(f, x0, h=h) - exact)
        ax.plot([h], [max(errs[name], FLOOR)], "s" if name == "forward" else "o", color=colors[name],
                ms=11 if name == "forward" else 8, mec="black", zorder=5)
    ax.axvline(h, color="black", lw=1.2)
    ax.set_xlim(1e-16, 1)
    ax.set_ylim(FLOOR / 1.5, 30)
    ax.set_xlabel("step h")
    ax.set_ylabel("|error| of the derivative")
    ax.set_title(f"Finite differences of {function}: truncation (right) vs round-off (left)")
    ax.grid(True, which="major", alpha=0.3)

    def digits(e):
        return "all" if e == 0 else f"{max(0.0, -math.log10(e / abs(exact))):.1f}"

    text = (f"h = {h:.1e}\n"
            f"forward: error {errs['forward']:.1e}  ({digits(errs['forward'])} digits)\n"
            f"central: error {errs['central']:.1e}  ({digits(errs['central'])} digits)")
    ax.text(0.015, 0.03, text, transform=ax.transAxes, ha="left", va="bottom", family="monospace",
            fontsize=9.5, bbox=dict(boxstyle="round", fc="white", ec="0.7", alpha=0.95))
    ax.legend(loc="upper center", fontsize=9, framealpha=0.95, ncol=2)
    if own:
        fig.tight_layout()
        plt.show()
    return ax


def error_curve_widget():
    """A slider for log10(h) and a menu of functions, redrawing :func:`plot_error_curve`."""
    import ipywidgets as widgets

    slider = widgets.FloatSlider(value=-8.0, min=-16.0, max=0.0, step=0.25, description="log10(h)",
                                 continuous_update=False, readout_format=".2f",
                                 layout=widgets.Layout(width="60%"))
    menu = widgets.Dropdown(options=list(CURVE_FUNCTIONS), value="exp(x) at x = 1", description="f")
    return widgets.interactive(plot_error_curve, log10_h=slider, function=menu, ax=widgets.fixed(None))


def sum_of_squares_experiment(n=1000):
    r"""Σxᵢ² at xᵢ = i: the gradient by a forward difference with h = √ε, and by AD.

    Returns a dict: x, f(x), h, the forward-difference gradient ``fd`` and its
    error, the one at the model's optimal step for this f (M = 2, |f| = f(x)),
    the reverse-mode gradient ``ad`` of :mod:`autodiff_ref`, and for contrast
    the least-squares function ‖x‖² − 2⟨x, c⟩ with c = x − 0.3 (gradient 0.6
    everywhere) at the same step.
    """
    from autodiff_ref import grad

    x = _np.arange(1.0, n + 1)
    f = lambda v: _sum(v * v)  # noqa: E731
    h = math.sqrt(EPS)
    fd = _nd.forward_difference(f, x, h=h)
    h_best = _nd.optimal_step(1, M=2.0, f_scale=f(x))
    fd_best = _nd.forward_difference(f, x, h=h_best)
    ad = grad(f)(x)
    c = x - 0.3
    g_ls = _nd.forward_difference(lambda v: _sum(v * v) - 2 * _dot(v, c), x, h=h)
    return dict(x=x, f=f(x), h=h, fd=fd, error=fd - 2 * x, h_best=h_best, fd_best=fd_best,
                error_best=fd_best - 2 * x, ad=ad, error_ad=ad - 2 * x,
                least_squares=g_ls, least_squares_true=0.6)


def plot_sum_of_squares(result):
    """Two panels: relative errors of the Σxᵢ² gradient; the least-squares gradient's values."""
    import matplotlib.pyplot as plt

    x = result["x"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw=dict(width_ratios=[1.35, 1]))
    zero_row = 1e-9  # exact answers (error 0) are drawn on this row, labelled "0"
    rel = _np.abs(result["error"]) / (2 * x)
    rel_best = _np.abs(result["error_best"]) / (2 * x)
    n_exact = int(_np.sum(rel == 0))
    ax1.loglog(x, _np.where(rel == 0, zero_row, rel), ".", ms=3.5, color="#1f77b4",
               label=f"forward difference, h = √ε ({n_exact} entries exact)")
    ax1.loglog(x, _np.where(rel_best == 0, zero_row, rel_best), ".", ms=3.5, color="#2ca02c",
               label=f"forward difference, the model's h* = {result['h_best']:.1e}")
    exact_ad = float(_np.max(_np.abs(result["error_ad"]))) == 0.0
    ax1.axhline(zero_row, color="#d62728", lw=2.5, alpha=0.6, zorder=0,
                label="reverse-mode AD: all 1000 entries exact" if exact_ad else "reverse-mode AD")
    ax1.set_ylim(zero_row / 4, 4)
    ticks = [zero_row] + [10.0 ** k for k in range(-7, 1)]
    ax1.set_yticks(ticks, ["0"] + [f"$10^{{{k}}}$" for k in range(-7, 1)])
    ax1.minorticks_off()
    ax1.set_xlabel("i  (x_i = i)")
    ax1.set_ylabel("relative error of ∂f/∂x_i")
    ax1.set_title("f(x) = Σ x_i², n = 1000: the gradient's entries")
    ax1.legend(fontsize=9, loc="center right")
    ax1.grid(True, alpha=0.3)

    values, counts = _np.unique(result["least_squares"], return_counts=True)
    truth = result["least_squares_true"]
    colors = ["#d62728" if v * truth < 0 else "#7f7f7f" if v == 0 else "#1f77b4" for v in values]
    bars = ax2.bar(values, counts, width=2.2, color=colors)
    ax2.bar_label(bars, fontsize=9)
    ax2.axvline(truth, color="black", lw=1.5, ls="--", label=f"true value {truth} (every entry)")
    ax2.set_xticks(values)
    ax2.set_xlabel("computed ∂f/∂x_i   (red: wrong sign)")
    ax2.set_ylabel("number of entries (of 1000)")
    ax2.set_title("f(x) = ‖x‖² − 2 x·c, c = x − 0.3, h = √ε")
    ax2.set_ylim(0, max(counts) * 1.12)
    ax2.legend(fontsize=9, loc="upper right")
    ax2.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    plt.show()


def expression_sizes(max_iterations=8, product_sizes=(4, 8, 16, 32, 48)):
    r"""Sizes (``sympy.count_ops``) of symbolic derivatives, for the expression-swell figure.

    * the iterated map :math:`\ell_{k+1} = 4\ell_k(1-\ell_k)`, :math:`\ell_0 = x`:
      the program (3 operations per step), the formula of :math:`\ell_n` and of
      :math:`\ell_n'` as trees, and :math:`\ell_n'` after common-subexpression
      elimination (``sympy.cse``);
    * :math:`f = \prod_{i=1}^n x_i`: all n partial derivatives as formulas,
      after ``cse``, and the operations of one reverse sweep (≈ 3(n − 1)).
    """
    import sympy as sp

    def cse_size(exprs):
        replacements, reduced = sp.cse(exprs)
        return sum(sp.count_ops(e) for _, e in replacements) + sum(sp.count_ops(e) for e in reduced)

    x = sp.Symbol("x")
    ell, it = x, dict(n=[], program=[], f=[], df=[], df_cse=[])
    for k in range(1, max_iterations + 1):
        ell = 4 * ell * (1 - ell)
        d = sp.diff(ell, x)
        for key, val in (("n", k), ("program", 3 * k), ("f", sp.count_ops(ell)),
                         ("df", sp.count_ops(d)), ("df_cse", cse_size([d]))):
            it[key].append(int(val))
    prod = dict(n=[], f=[], grad=[], grad_cse=[], reverse=[])
    for n in product_sizes:
        xs = sp.symbols(f"x1:{n + 1}")
        f = sp.Mul(*xs)
        partials = [sp.diff(f, v) for v in xs]
        for key, val in (("n", n), ("f", sp.count_ops(f)),
                         ("grad", sum(sp.count_ops(p) for p in partials)),
                         ("grad_cse", cse_size(partials)), ("reverse", 3 * (n - 1))):
            prod[key].append(int(val))
    return dict(iterated=it, product=prod)


def plot_expression_swell(sizes):
    """Expression size against n for the iterated map and for Πxᵢ (log scale)."""
    import matplotlib.pyplot as plt

    it, prod = sizes["iterated"], sizes["product"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6))
    for key, label, style in (("df", "ℓ_n′ as a formula (tree)", "o-"),
                              ("f", "ℓ_n as a formula (tree)", "s-"),
                              ("df_cse", "ℓ_n′ after common-subexpression elimination", "^-"),
                              ("program", "the program: 3 operations per step", "k--")):
        ax1.semilogy(it["n"], it[key], style, label=label, ms=5)
    ax1.set_xlabel("iterations n of ℓ ← 4ℓ(1 − ℓ)")
    ax1.set_ylabel("operations (sympy.count_ops)")
    ax1.set_title("Nested composition: the derivative formula swells")
    ax1.legend(fontsize=9)
    ax1.grid(True, which="both", alpha=0.3)
    for key, label, style in (("grad", "all n partials as formulas", "o-"),
                              ("grad_cse", "after common-subexpression elimination", "^-"),
                              ("reverse", "reverse mode: ≈ 3(n − 1) multiplications", "k--"),
                              ("f", "f itself: n − 1 multiplications", "s-")):
        ax2.loglog(prod["n"], prod[key], style, label=label, ms=5)
    ax2.set_xticks(prod["n"], [str(n) for n in prod["n"]])
    ax2.minorticks_off()
    ax2.set_xlabel("n")
    ax2.set_ylabel("operations (sympy.count_ops)")
    ax2.set_title("f = x₁x₂⋯x_n: the gradient as formulas grows like n²")
    ax2.legend(fontsize=9)
    ax2.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    plt.show()
