r"""Lesson 4's checks: their cases, oracles and hints.

===========================  ====================================================
``check_second_derivative``  Task 4.1, :math:`f''(x)` by nesting two levels of duals
``check_hvp``                Task 4.2, the Hessian-vector product :math:`H(x)v`
``check_hvp_cost``           Task 4.2, … in a few passes, without forming H
``check_newton_step``        Task 4.3, one Newton step :math:`x - H^{-1}\nabla f`
``check_newton_rosenbrock``  Task 4.3, Newton's method on Rosenbrock converges
===========================  ====================================================

Every expected value is computed here, at import, by :mod:`autodiff_ref`.
``hidden=True`` selects the larger case table of the hidden tests (another
seed, more inputs). A hint recognises a wrong answer by comparing it, within
the ``recognise`` tolerance, with what a known misconception computes.
"""
import numpy as _np

from autodiff_ref import derivative as _derivative
from autodiff_ref import grad as _grad
from autodiff_ref import hessian as _hessian
from autodiff_ref.core import Tracer as _Tracer
from autodiff_ref.dual import Dual as _Dual
from autograder.checks import Named, as_floats, attempt, call, check_cases, passed, same
from autograder.checks import CheckFailure

from .material import SCALAR_FUNCTIONS, VECTOR_FUNCTIONS, coupled, newton_path, rosenbrock

_array, _diag, _solve = _np.array, _np.diag, _np.linalg.solve
_norm, _cond, _array_equal = _np.linalg.norm, _np.linalg.cond, _np.array_equal
_ndarray, _ones, _round = _np.ndarray, _np.ones, _np.round
VISIBLE_SEED, HIDDEN_SEED = 4, 44


def _seed(hidden):
    return HIDDEN_SEED if hidden else VISIBLE_SEED


class _InPlace:
    """What came back when the student's code changed an input array in place."""

    def __init__(self, which, hint):
        self.which, self.hint = which, hint

    def __repr__(self):
        return f"(your function changed {self.which} in place)"


def _guarded(student, which, hint):
    """``student`` called on the case's arrays: an :class:`_InPlace` if it changed one of them.
    A changed array is put back as it was, so the failure message shows the input the
    student's code was given, not what it made of it."""
    def run(f, *arrays):
        before = [a.copy() for a in arrays]
        got = attempt(student, f, *arrays)
        changed = [not _array_equal(a, b) for a, b in zip(arrays, before)]
        for a, b, c in zip(arrays, before, changed):
            if c:
                a[...] = b
        return _InPlace(which, hint) if any(changed) else got
    return run


def _wrong_kind_hint(got):
    """A hint for an answer that is not a number at all, or None."""
    if isinstance(got, _InPlace):
        return got.hint
    if isinstance(got, _Tracer):
        return ("you returned a tracer (a Dual or a Box), not a number: read off the part you "
                "need (.tangent, or the second item of what jvp returns)")
    return None


def _recognise(got, expected, table, messages):
    """The message of the first misconception (a key of `table`) that computes `got` on this
    input, or None; one that computes the right answer here cannot be told apart, so is skipped."""
    return next((msg for key, msg in messages if same(got, table[key], "recognise")
                 and not same(expected, table[key], "recognise")), None)


# --------------------------------------------------------------------------
# Task 4.1: the second derivative by nested duals
# --------------------------------------------------------------------------
def _second_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    name, f, _ = SCALAR_FUNCTIONS[0]
    cases = [(Named(name, f), x) for x in (1.0, 0.5, -1.2)]
    for name, f, (lo, hi) in SCALAR_FUNCTIONS:
        for _ in range(per_function):
            cases.append((Named(name, f), round(float(rng.uniform(lo, hi)), 3)))
    return cases


def _second_table(cases):
    """(f″(x), f′(x), f(x)) per case, keyed by (id(f), x)."""
    return {(id(f), x): (float(_derivative(f, 2)(x)), float(_derivative(f, 1)(x)), float(f(x)))
            for f, x in cases}


SECOND_CASES = {seed: _second_cases(seed, n) for seed, n in ((VISIBLE_SEED, 1), (HIDDEN_SEED, 4))}
SECOND_TABLE = {seed: _second_table(cases) for seed, cases in SECOND_CASES.items()}


def _second_hint_for(table):
    def hint(case, expected, got):
        f, x = case
        second, first, value = table[(id(f), x)]
        g = as_floats(got)
        if _wrong_kind_hint(got) or g is None or g.shape != ():
            return _wrong_kind_hint(got) or "return one number: the ε₁ε₂ part of f(x + ε₁ + ε₂)"
        return _recognise(g, expected, dict(first=first, value=value, half=second / 2, twice=2 * second,
                                  minus=-second, squared=second * second), (
            ("first", "that is f′(x): one level of duals gives the first derivative. Nest a second "
                      "level — differentiate the function x ↦ f′(x) again (a jvp of a jvp)"),
            ("value", "that is f(x) itself: you read the value part; f″ is the ε₁ε₂ part (.tangent.tangent)"),
            ("half", "half of f″: the ε₁ε₂ coefficient of f(x + ε₁ + ε₂) is f″(x) itself, because "
                     "(ε₁ + ε₂)²/2 = ε₁ε₂; do not divide by 2"),
            ("twice", "twice f″: seed each level's tangent with 1, not 2 (and do not add the two ε-parts)"),
            ("minus", "the sign is flipped: f″ is the ε₁ε₂ coefficient as it comes, with no minus sign"),
            ("squared", "you squared something: the second derivative comes from nesting, not from (f′)² or f″²"),
        )) or ("f″ is the derivative of f′: first write f′ as a function of x (one forward pass "
               "seeded with 1), then differentiate that function with a second forward pass and "
               "read the tangent it returns")
    return hint


def check_second_derivative(second_derivative, *, hidden=False):
    """Task 4.1: ``second_derivative(f, x)`` is f''(x) for scalar f and x."""
    table = SECOND_TABLE[_seed(hidden)]
    n = check_cases(second_derivative, lambda f, x: table[(id(f), x)][0], SECOND_CASES[_seed(hidden)],
                    what="second_derivative(f, x)", hint=_second_hint_for(table))
    passed("second_derivative(f, x) matches f″(x)", n)


# --------------------------------------------------------------------------
# Task 4.2: Hessian-vector products
# --------------------------------------------------------------------------
def _hvp_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    cases = [(Named("x0**2 * x1", VECTOR_FUNCTIONS[0][1]), _array([1.0, 2.0]), _array([1.0, 0.0])),
             (Named("rosenbrock (2-d)", rosenbrock), _array([-1.2, 1.0]), _array([0.3, -0.7]))]
    for name, f, n, (lo, hi) in VECTOR_FUNCTIONS:
        for _ in range(per_function):
            x = _round(rng.uniform(lo, hi, size=n), 3)
            v = _round(rng.normal(size=n), 3)
            cases.append((Named(name, f), x, v))
    return cases


def _hvp_row(f, x, v):
    """H(x)·v, and what each misconception computes instead."""
    H = _hessian(f)(x)
    Hv = H @ v
    return dict(Hv=Hv, swapped=_hessian(f)(v) @ x, grad=_grad(f)(x), directional=float(_grad(f)(x) @ v),
                Hx=H @ x, diagHv=_diag(H) * v, minus=-Hv, twice=2 * Hv, half=Hv / 2)


HVP_CASES = {seed: _hvp_cases(seed, n) for seed, n in ((VISIBLE_SEED, 1), (HIDDEN_SEED, 4))}
HVP_TABLE = {seed: {id(x): _hvp_row(f, x, v) for f, x, v in cases} for seed, cases in HVP_CASES.items()}

_HVP_MISCONCEPTIONS = (
    ("grad", "that is the gradient ∇f(x), the primal output of jvp; return the tangent, "
             "the second item: jvp(grad(f), (x,), (v,))[1]"),
    ("swapped", "x and v are swapped: you evaluated the Hessian at v and applied it to x. "
                "jvp takes the point first, the direction second: jvp(grad(f), (x,), (v,))"),
    ("Hx", "you pushed x itself through ∇f′, giving H(x)·x; the direction is v"),
    ("diagHv", "only the diagonal of H was used (entrywise H_ii·v_i); the HVP uses the whole "
               "Hessian — push v through ∇f with jvp"),
    ("minus", "the sign is flipped: H·v is the tangent of ∇f along +v"),
    ("twice", "twice H·v: seed the tangent with v itself, not 2v (and do not add two HVPs)"),
    ("half", "half of H·v: there is no factor ½ — the tangent of ∇f along v is exactly H·v"),
)


def _hvp_hint_for(table):
    def hint(case, expected, got):
        f, x, v = case
        t, g = table[id(x)], as_floats(got)
        if _wrong_kind_hint(got):
            return _wrong_kind_hint(got)
        if isinstance(got, tuple) and len(got) == 2:
            return ("you returned a pair: jvp gives (primal_out, tangent_out) — here (∇f(x), H·v); "
                    "return only the tangent, the second item")
        if g is None:
            return "return a numpy array shaped like x: the vector H(x)·v"
        if g.shape == ():
            if same(g, t["directional"], "recognise"):
                return ("that is ∇f(x)·v, the directional derivative of f (a number). The HVP is the "
                        "directional derivative of ∇f: differentiate grad(f), not f, along v")
            return "the HVP is a vector shaped like x, not a number: differentiate grad(f) along v"
        if g.shape != x.shape:
            return (f"H·v has the shape of x, {x.shape}; yours has shape {g.shape} — did you build "
                    "a matrix instead of pushing one direction v through ∇f?")
        if _recognise(g, expected, t, _HVP_MISCONCEPTIONS):
            return _recognise(g, expected, t, _HVP_MISCONCEPTIONS)
        if same(g, expected, "numerical"):
            return ("close but not exact: a finite difference of the gradient, (∇f(x+hv) − ∇f(x))/h, "
                    "has truncation and round-off error; jvp of grad(f) is exact")
        return ("H(x)·v is the directional derivative of the gradient along v: push the one "
                "direction v through ∇f in a forward pass, and never form H")
    return hint


def _copied_runs(cases, table):
    """Copies of the cases' arrays go to the student (an in-place change cannot spoil the
    table), with the table re-keyed by the copies."""
    runs = [(f,) + tuple(a.copy() for a in arrays) for f, *arrays in cases]
    return runs, {id(r[1]): table[id(c[1])] for r, c in zip(runs, cases)}


def check_hvp(hvp, *, hidden=False):
    """Task 4.2: ``hvp(f, x, v)`` is H(x)·v, the Hessian of f at x times v (x and v left alone)."""
    runs, table = _copied_runs(HVP_CASES[_seed(hidden)], HVP_TABLE[_seed(hidden)])
    student = _guarded(hvp, "x or v", "your hvp modified x or v in place; work on copies")
    n = check_cases(student, lambda f, x, v: table[id(x)]["Hv"], runs, what="hvp(f, x, v)",
                    hint=_hvp_hint_for(table))
    passed("hvp(f, x, v) matches H(x)·v", n)


# ---- counting passes: an HVP must not cost n passes --------------------------
class _PassCount:
    """Calls of f (each a forward pass), uses of the probe after f returned (reverse sweeps),
    and whether f ever saw a tangent carrying several directions at once (jacfwd)."""

    def __init__(self):
        self.calls = self.reverse = self.inside = 0
        self.batched = False

    @property
    def passes(self):
        return self.calls + self.reverse


class _Probe(_ndarray):
    r"""Ones that count: f multiplies its input by a probe, :math:`z \odot \mathbf 1 = z` exactly.
    The reverse rule of that product multiplies the cotangent by the probe again, so a use
    of the probe while f is not running is a reverse sweep passing through f. Nothing is
    registered in the reference library: the probe is an ordinary constant to it."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        counts = [x.count for x in inputs if isinstance(x, _Probe)]
        if counts and not counts[0].inside:
            counts[0].reverse += 1
        plain = [x.view(_ndarray) if isinstance(x, _Probe) else x for x in inputs]
        return getattr(ufunc, method)(*plain, **kwargs)


def _carries_directions(z):
    """True if z is (or wraps) a Dual whose tangent has an extra axis of directions."""
    while isinstance(z, _Tracer):
        if isinstance(z, _Dual) and z.directions is not None:
            return True
        z = z.value
    return False


def _counted(f, n, count):
    """f on n variables, counting into `count` how often it is run forward and swept backwards."""
    probe = _ones(n).view(_Probe)
    probe.count = count

    def counted(z):
        count.calls += 1
        count.batched = count.batched or _carries_directions(z)
        count.inside += 1
        try:
            return f(z * probe)
        finally:
            count.inside -= 1
    return Named(f"coupled function of n = {n} variables (passes counted)", counted)


COST_N = {VISIBLE_SEED: (40,), HIDDEN_SEED: (24, 64)}
#: An HVP by forward-over-reverse, reverse-over-forward or reverse-over-reverse runs f once
#: and sweeps through it 1–3 times; any way of forming H takes ≥ n passes.
MAX_PASSES = 8


def check_hvp_cost(hvp, *, hidden=False):
    """Task 4.2: ``hvp`` costs a few passes, not n: it never forms the n×n Hessian."""
    seed = _seed(hidden)
    what = "hvp(f, x, v) without forming the Hessian"
    for n in COST_N[seed]:
        rng = _np.random.default_rng(seed + n)
        x, v = _round(rng.uniform(-1, 1, size=n), 3), _round(rng.normal(size=n), 3)
        count = _PassCount()
        f = _counted(coupled, n, count)
        expected = _hessian(coupled)(x) @ v
        got = call(hvp, (f, x.copy(), v.copy()), what=what)
        if _wrong_kind_hint(got):
            raise CheckFailure(what, inputs=(f, x, v), expected=expected, got=got, hint=_wrong_kind_hint(got))
        if count.batched or count.passes > MAX_PASSES:
            if count.batched:
                hint = ("a tangent carried n directions at once (jacfwd): that forms every column of "
                        "the Hessian, n times the work; push the one direction v instead")
            elif count.calls > MAX_PASSES:
                hint = (f"{count.calls} forward passes for n = {n}: that is the Hessian column by "
                        "column; push v itself through ∇f once")
            else:
                hint = (f"{count.reverse} reverse sweeps for n = {n}: that is the Hessian row by row "
                        "(jacrev); one JVP of the gradient gives H·v in a single pass")
            raise CheckFailure(what, inputs={"n": n}, expected=f"at most {MAX_PASSES} passes through f",
                               got=f"{count.passes} passes ({count.calls} forward, {count.reverse} reverse)"
                                   + (", with n directions at once" if count.batched else ""),
                               hint=hint)
        if not same(got, expected, "rounding"):
            raise CheckFailure(what, inputs=(f, x, v), expected=expected, got=got,
                               hint="the result is wrong (see the check of hvp above)")
    passed(f"hvp(f, x, v) took {count.passes} passes through f for n = {n}, not n")


# --------------------------------------------------------------------------
# Task 4.3: Newton's method
# --------------------------------------------------------------------------
#: Newton cases sit where the Hessian is comfortably invertible and the gradient is not tiny.
MAX_CONDITION, MIN_GRADIENT = 1e4, 1e-3


def _newton_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    cases = [(Named("rosenbrock (2-d)", rosenbrock), _array([-1.2, 1.0])),
             (Named("rosenbrock (2-d)", rosenbrock), _array([2.0, 2.0]))]
    for name, f, n, (lo, hi) in VECTOR_FUNCTIONS:
        if name.startswith("0.5 * x @ A"):
            continue  # a quadratic: one Newton step jumps to the stationary point (kept in hidden)
        found = 0
        while found < per_function:
            x = _round(rng.uniform(lo, hi, size=n), 3)
            if _cond(_hessian(f)(x)) <= MAX_CONDITION and _norm(_grad(f)(x)) > MIN_GRADIENT:
                cases.append((Named(name, f), x))
                found += 1
    return cases


def _newton_row(f, x):
    """The Newton step's new point, and what each misconception computes instead."""
    H, g = _hessian(f)(x), _grad(f)(x)
    step = _solve(H, g)
    with _np.errstate(divide="ignore", invalid="ignore"):
        diag = x - g / _diag(H)
    return dict(new=x - step, plus=x + step, times=x - H @ g, gd=x - g, diag=diag, step=-step,
                step_pos=step, half=x - step / 2)


NEWTON_CASES = {VISIBLE_SEED: _newton_cases(VISIBLE_SEED, 1),
                HIDDEN_SEED: _newton_cases(HIDDEN_SEED, 3)
                + [(Named("0.5 * x @ A @ x (A not symmetric)", VECTOR_FUNCTIONS[3][1]),
                    _array([1.0, -2.0, 0.5, 1.5]))]}
NEWTON_TABLE = {seed: {id(x): _newton_row(f, x) for f, x in cases} for seed, cases in NEWTON_CASES.items()}

_NEWTON_MISCONCEPTIONS = (
    ("plus", "sign error: Newton moves to x − H⁻¹∇f; you added the step. (−H⁻¹∇f points "
             "downhill when H is positive definite)"),
    ("times", "you multiplied the gradient by H; Newton divides by it: solve H p = ∇f "
              "(np.linalg.solve(H, g)), then return x − p"),
    ("gd", "that is a gradient-descent step of size 1: Newton rescales the gradient by the "
           "inverse Hessian, x − H⁻¹∇f"),
    ("diag", "you divided by the diagonal of H only; the off-diagonal entries couple the "
             "coordinates — solve the full system H p = ∇f"),
    ("step", "you returned the step −H⁻¹∇f; return the new point x − H⁻¹∇f"),
    ("step_pos", "you returned H⁻¹∇f; return the new point x − H⁻¹∇f"),
    ("half", "a half step: the Newton step is the whole −H⁻¹∇f (the minimiser of the "
             "quadratic model), with no factor ½"),
)


def _newton_hint_for(table):
    def hint(case, expected, got):
        f, x = case
        g = as_floats(got)
        if _wrong_kind_hint(got):
            return _wrong_kind_hint(got)
        if g is None or g.shape != x.shape:
            return f"return the new point, an array shaped like x {x.shape}"
        return (_recognise(g, expected, table[id(x)], _NEWTON_MISCONCEPTIONS)
                or "the Newton step moves x by −H⁻¹∇f, both taken at x: solve the linear system "
                   "with the Hessian for the gradient (no explicit inverse) and step by minus that")
    return hint


def check_newton_step(newton_step, *, hidden=False):
    """Task 4.3: ``newton_step(f, x)`` returns x − H(x)⁻¹∇f(x) and leaves x alone."""
    runs, table = _copied_runs(NEWTON_CASES[_seed(hidden)], NEWTON_TABLE[_seed(hidden)])
    student = _guarded(newton_step, "x", "your function modified x in place (x -= …); return a new "
                                         "array: x - p")
    n = check_cases(student, lambda f, x: table[id(x)]["new"], runs, what="newton_step(f, x)",
                    hint=_newton_hint_for(table))
    passed("newton_step(f, x) matches x − H⁻¹∇f", n)


ROSENBROCK_STARTS = {VISIBLE_SEED: [(-1.2, 1.0)], HIDDEN_SEED: [(-1.2, 1.0), (1.5, -0.5), (0.5, 1.5)]}
ROSENBROCK_PATHS = {seed: [newton_path(rosenbrock, _array(s), 12) for s in starts]
                    for seed, starts in ROSENBROCK_STARTS.items()}


def check_newton_rosenbrock(newton_step, *, hidden=False):
    """Task 4.3: iterating ``newton_step`` on Rosenbrock follows Newton's path to (1, 1)."""
    seed = _seed(hidden)
    what = "Newton's method on the Rosenbrock function, iterating your newton_step"
    f = Named("rosenbrock", rosenbrock)
    for start, reference in zip(ROSENBROCK_STARTS[seed], ROSENBROCK_PATHS[seed]):
        x = _array(start)
        for k in range(1, len(reference)):
            inputs = {"start": start, "iteration": k, "x": x}
            got = call(newton_step, (f, x.copy()), what=what, inputs=inputs)
            h = _wrong_kind_hint(got)
            if h is None and not same(got, reference[k], "solver"):
                h = ("your iterates leave Newton's path (see the check of newton_step above); "
                     "the reference errors |x_k − (1, 1)| are "
                     + ", ".join(f"{_norm(p - 1):.1e}" for p in reference))
            if h is not None:
                raise CheckFailure(what, inputs=inputs, expected=reference[k], got=got, hint=h)
            x = as_floats(got)
        if not same(x, _ones(2), "exact"):
            raise CheckFailure(what, inputs={"start": start}, expected="(1, 1) to 1e-12", got=x)
    start, reference = ROSENBROCK_STARTS[seed][0], ROSENBROCK_PATHS[seed][0]
    errors = ", ".join(f"{_norm(p - 1):.0e}" for p in reference)
    others = len(ROSENBROCK_STARTS[seed]) - 1
    passed(f"Newton from {start} reaches (1, 1) in {len(reference) - 1} steps"
           + (f" (and from {others} other starts)" if others else "")
           + f"; errors |x_k − (1, 1)|: {errors}")
