"""Lesson 2's checks: pass on correct implementations, fail with the expected
hint on realistic wrong ones."""
import math

import numpy as np
import pytest

from autodiff_ref import Dual, jacfwd as ref_jacfwd, trace
from autograder.checks import CheckFailure
from autograder.lessons import lesson2 as checks
from autograder.lessons.lesson2.checks import g_reference


def hint_of(check, *args, **kwargs):
    with pytest.raises(CheckFailure) as info:
        check(*args, **kwargs)
    return info.value.hint or ""


# ----------------------------------------------------------------- Task 2.1
def g_trace(x1, x2, dx1, dx2):
    v_1, v0 = x1, x2
    dv_1, dv0 = dx1, dx2
    v1 = v_1 * v0
    dv1 = dv_1 * v0 + v_1 * dv0
    v2 = math.cos(v0)
    dv2 = -math.sin(v0) * dv0
    v3 = v1 - v2
    dv3 = dv1 - dv2
    return [v_1, v0, v1, v2, v3], [dv_1, dv0, dv1, dv2, dv3]


def test_g_trace_correct_passes(capsys):
    checks.check_g_trace(g_trace)
    checks.check_g_trace(g_trace, hidden=True)
    assert "✓" in capsys.readouterr().out


def altered(values=None, tangents=None):
    """g_trace with some entries replaced: functions of (x1, x2, dx1, dx2, v, t)."""
    def wrong(x1, x2, dx1, dx2):
        v, t = g_trace(x1, x2, dx1, dx2)
        for k, fn in (values or {}).items():
            v[k] = fn(x1, x2, dx1, dx2, v, t)
        for k, fn in (tangents or {}).items():
            t[k] = fn(x1, x2, dx1, dx2, v, t)
        return v, t
    return wrong


def test_g_trace_wrong_ones():
    cos_sign = altered(tangents={3: lambda x1, x2, dx1, dx2, v, t: math.sin(x2) * dx2,
                                 4: lambda x1, x2, dx1, dx2, v, t: t[2] - math.sin(x2) * dx2})
    assert "the sign: d/dx cos x = −sin x" in hint_of(checks.check_g_trace, cos_sign)

    half_product = altered(tangents={2: lambda x1, x2, dx1, dx2, v, t: dx1 * x2,
                                     4: lambda x1, x2, dx1, dx2, v, t: dx1 * x2 - t[3]})
    h = hint_of(checks.check_g_trace, half_product)
    assert "the row v₁ = v₋₁·v₀" in h and "both factors vary" in h

    def swapped(x1, x2, dx1, dx2):
        return g_trace(x1, x2, dx2, dx1)[0], g_trace(x1, x2, dx2, dx1)[1]
    assert "seed the other way round" in hint_of(checks.check_g_trace, swapped)

    adds = altered(tangents={4: lambda x1, x2, dx1, dx2, v, t: t[2] + t[3]})
    assert "subtracts v̇₂" in hint_of(checks.check_g_trace, adds)

    value_sign = altered(values={4: lambda x1, x2, dx1, dx2, v, t: v[2] + v[3]})
    assert "first wrong value is number 4, the row v₃ = v₁ − v₂" in hint_of(checks.check_g_trace, value_sign)
    assert "columns are swapped" in hint_of(checks.check_g_trace, lambda *a: g_trace(*a)[::-1])
    assert "two lists of five" in hint_of(checks.check_g_trace, lambda *a: g_trace(*a)[1])
    assert "raised" in hint_of(checks.check_g_trace, lambda *a: 1 / 0)


def test_dg_dx2():
    checks.check_dg_dx2(g_trace(2.0, 3.0, 0.0, 1.0)[1][-1])
    assert "∂g/∂x₁" in hint_of(checks.check_dg_dx2, 3.0)
    assert "sign of the cos derivative" in hint_of(checks.check_dg_dx2, 2 - math.sin(3))
    assert "rounded 2.14" in hint_of(checks.check_dg_dx2, 2.14)
    assert "single number" in hint_of(checks.check_dg_dx2, "2.14")


def test_the_reference_tangent_column_is_the_closed_form():
    # independent of trace: v̇ for ẋ = (0, 1) at (2, 3)
    expected = [0, 1, 2, -math.sin(3), 2 + math.sin(3)]
    values, tangents = g_reference(2.0, 3.0, 0.0, 1.0)
    assert tangents == pytest.approx(expected, rel=1e-14)
    assert values == pytest.approx([2, 3, 6, math.cos(3), 6 - math.cos(3)], rel=1e-14)


# ----------------------------------------------------------------- Task 2.2
def jvp(f, x, v):
    out = f(Dual(x, v))
    return out.value, out.tangent


def test_jvp_correct_passes():
    checks.check_jvp(jvp)
    checks.check_jvp(jvp, hidden=True)


def test_jvp_wrong_ones():
    assert "wrong way round" in hint_of(checks.check_jvp, lambda f, x, v: jvp(f, x, v)[::-1])
    assert "tuple of plain numbers" in hint_of(checks.check_jvp, lambda f, x, v: f(Dual(x, v)))

    def ones_seed(f, x, v):
        return jvp(f, x, np.ones_like(x) if np.ndim(x) else 1.0)
    assert "seed the dual with the direction v" in hint_of(checks.check_jvp, ones_seed)

    def finite_difference(f, x, v):
        h = 1e-6
        return f(x), (f(x + h * v) - f(x - h * v)) / (2 * h)
    assert "evaluate f on a dual number" in hint_of(checks.check_jvp, finite_difference)

    def first_column(f, x, v):
        if np.ndim(x):
            return jvp(f, x, np.eye(len(x))[0])
        return jvp(f, x, v)
    assert "first column of J" in hint_of(checks.check_jvp, first_column)
    assert "tuple of two" in hint_of(checks.check_jvp, lambda f, x, v: jvp(f, x, v)[1])


# ----------------------------------------------------------------- Task 2.3 / 2.4
def jacfwd(f):
    def jacobian(x):
        columns = [jvp(f, x, e)[1] for e in np.eye(len(x))]
        return np.stack(columns, axis=-1)
    return jacobian


def jacfwd_one_pass(f):
    return lambda x: f(Dual(x, np.eye(len(x)))).tangent


def test_jacobians_correct_pass():
    checks.check_jacfwd(jacfwd)
    checks.check_jacfwd(jacfwd, hidden=True)
    checks.check_jacfwd_one_pass(jacfwd_one_pass)
    checks.check_jacfwd_one_pass(jacfwd_one_pass, hidden=True)


def test_jacfwd_wrong_ones():
    def rows(f):
        return lambda x: np.stack([jvp(f, x, e)[1] for e in np.eye(len(x))], axis=0)
    assert "transposed" in hint_of(checks.check_jacfwd, rows)

    def ones(f):
        return lambda x: np.stack([jvp(f, x, np.ones(len(x)))[1] for _ in range(len(x))], axis=-1)
    assert "seed column j with the unit vector e_j" in hint_of(checks.check_jacfwd, ones)

    def shifted(f):
        n_of = len
        return lambda x: np.stack([jvp(f, x, np.roll(e, 1))[1] for e in np.eye(n_of(x))], axis=-1)
    assert "column 0 is column 1 of J" in hint_of(checks.check_jacfwd, shifted)
    h = hint_of(checks.check_jacfwd, jacfwd_one_pass)
    assert "column by column" in h and "Task 2.4" in h
    assert "Task 2.4" in hint_of(checks.check_jacfwd, ref_jacfwd)


def jacfwd_over(jvp_used):
    """Task 2.3's solution, calling the given jvp (the notebook's jacfwd calls the student's)."""
    def jacfwd_of(f):
        return lambda x: np.stack([jvp_used(f, x, e)[1] for e in np.eye(len(x))], axis=-1)
    return jacfwd_of


def test_a_jacfwd_failing_because_of_the_students_jvp_says_so():
    def doubled(f, x, v):                     # a wrong Task 2.2: twice the tangent
        value, tangent = jvp(f, x, v)
        return value, 2 * tangent
    h = hint_of(checks.check_jacfwd, jacfwd_over(doubled), jvp=doubled)
    assert "jvp (Task 2.2)" in h and "fails its own check" in h


def test_a_wrong_jacfwd_on_a_right_jvp_is_blamed_on_jacfwd():
    def rows(f):
        return lambda x: np.stack([jvp(f, x, e)[1] for e in np.eye(len(x))], axis=0)
    h = hint_of(checks.check_jacfwd, rows, jvp=jvp)
    assert "transposed" in h and "Task 2.2" not in h
    checks.check_jacfwd(jacfwd_over(jvp), jvp=jvp)


def test_jacfwd_one_pass_wrong_ones():
    assert "identity matrix as its tangent" in hint_of(checks.check_jacfwd_one_pass, jacfwd)
    h = hint_of(checks.check_jacfwd_one_pass,
                lambda f: lambda x: f(Dual(x, np.eye(len(x)))).tangent.T)
    assert "transposed" in h


def test_rebinding_numpy_in_the_notebook_does_not_change_the_checks(monkeypatch):
    monkeypatch.setattr(np, "sin", lambda x: 0.0 * x)
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    with pytest.raises(CheckFailure):
        checks.check_jvp(lambda f, x, v: (f(x), 0.0 * x))


# ----------------------------------------------------------------- figures and measurements
def test_examples_match_their_traces():
    tr = trace(checks.worked_example, 1.5, 0.5)
    assert [r.expression for r in tr][2:] == ["v₋₁ / v₀", "sin(v₁)", "exp(v₀)", "v₁ − v₃", "v₂ + v₄", "v₅·v₄"]
    assert checks.g_example(2.0, 3.0) == pytest.approx(6 - math.cos(3))


def test_tangent_cost_measures_and_plots():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = checks.tangent_cost(sizes=(10, 1000), repeat=2)
    assert [r["n"] for r in rows] == [10, 1000]
    assert all(r["t_f"] > 0 and r["t_jvp"] > 0 and r["ratio"] > 0 for r in rows)  # timing under load: no bound
    checks.plot_cost(rows, 2.5, "jvp / f")
    checks.jvp_picture(1.0)
    plt.close("all")

