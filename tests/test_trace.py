"""autodiff_ref.trace: the worked examples to the printed digits, and both
derivative columns against independent oracles (closed forms, autodiff_ref's
jvp/grad, HIPS autograd) on random programs."""
import math
import operator
import types

import autograd
import autograd.numpy as anp
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from autodiff_ref import grad, jvp, trace  # noqa: E402
# `autodiff_ref.trace` is the function (the package exports it); names of the module come by from-import.
from autodiff_ref.trace import COLUMN_STEP, NODE_HEIGHT, NODE_WIDTH, Trace  # noqa: E402

RNG_SEED = 20261122
EXACT = dict(rel=1e-12, abs=1e-12)
E2 = math.exp(2)


def printed(x, digits):
    """An approx that accepts `x` as printed with `digits` decimals (half a unit of the last digit)."""
    return pytest.approx(x, abs=0.5 * 10.0 ** -digits + 1e-15)


# ----------------------------------------------------------------- the worked examples
def f_slides(x1, x2):
    """[sin(x₁/x₂) + x₁/x₂ − e^{x₂}]·[x₁/x₂ − e^{x₂}], written with the slides' shared subexpressions."""
    v1 = x1 / x2
    v2 = np.sin(v1)
    v3 = np.exp(x2)
    v4 = v1 - v3
    v5 = v2 + v4
    return v5 * v4


def test_slides_example_rows_operations_values_tangents():
    tr = trace(f_slides, 1.5, 0.5)
    assert len(tr) == 8
    assert tr.indices == [-1, 0, 1, 2, 3, 4, 5, 6]
    assert [r.operation for r in tr] == [
        "v₋₁ = x₁", "v₀ = x₂", "v₁ = v₋₁ / v₀", "v₂ = sin(v₁)", "v₃ = exp(v₀)",
        "v₄ = v₁ − v₃", "v₅ = v₂ + v₄", "v₆ = v₅·v₄"]
    # The values column of the slides, to its four decimals.
    for i, v in zip(range(-1, 6), [1.5, 0.5, 3.0, 0.1411, 1.6487, 1.3513, 1.4924]):
        assert tr.row(i).value == printed(v, 4)
    # The slides print y = 2.0167: that is 1.4924 × 1.3513 (rounded factors).
    # The exact value 2.016647 rounds to 2.0166; both are within 1e-4.
    assert round(1.4924 * 1.3513, 4) == 2.0167
    assert tr.output == pytest.approx(2.0167, abs=1e-4)
    assert round(tr.output, 4) == 2.0166
    # The tangent column for ẋ = (1, 0) (the slides write v̇₀ as "v̇₁" and
    # v̇₃ = v₃·v̇₁; it is v₃·v̇₀ = 0).
    expected = {-1: (1.0, 1), 0: (0.0, 1), 1: (2.0, 1), 2: (-1.98, 2), 3: (0.0, 1),
                4: (2.0, 1), 5: (0.02, 2), 6: (3.0118, 4)}
    for i, (t, digits) in expected.items():
        assert tr.row(i).tangent == printed(t, digits), i
    assert tr.output_tangent == printed(3.0118, 4)
    assert str(tr).splitlines()[-1] == "y = v₆"


def test_slides_example_against_closed_form_gradient():
    x1, x2 = 1.5, 0.5
    q, e = x1 / x2, math.exp(x2)
    a, b = math.sin(q) + q - e, q - e
    # ∂y/∂q and ∂y/∂e by the product rule, then the chain rule through q = x₁/x₂, e = e^{x₂}.
    dy_dq = (math.cos(q) + 1) * b + a
    dy_de = -b - a
    gx1 = dy_dq / x2
    gx2 = dy_dq * (-x1 / x2 ** 2) + dy_de * e
    tr = trace(f_slides, x1, x2)
    assert tr.output == pytest.approx(a * b, **EXACT)
    assert tr.gradient[0] == pytest.approx(gx1, **EXACT)
    assert tr.gradient[1] == pytest.approx(gx2, **EXACT)
    assert tr.output_tangent == pytest.approx(gx1, **EXACT)
    assert trace(f_slides, x1, x2, seed=1).output_tangent == pytest.approx(gx2, **EXACT)


def test_naive_program_gives_a_longer_trace_with_the_same_derivatives():
    def naive(x1, x2):
        return (np.sin(x1 / x2) + x1 / x2 - np.exp(x2)) * (x1 / x2 - np.exp(x2))
    short, long_ = trace(f_slides, 1.5, 0.5), trace(naive, 1.5, 0.5)
    assert len(long_) == 12 and len(short) == 8   # x₁/x₂ three times, e^{x₂} twice
    assert long_.output == pytest.approx(short.output, **EXACT)
    assert long_.gradient == pytest.approx(short.gradient, **EXACT)


def f_report(x1, x2):
    """y = x₁x₂ + x₂ − ln x₁ in the report's order: v₁ = v₋₁v₀, v₂ = ln v₋₁, v₃ = v₁ + v₀, v₄ = v₃ − v₂."""
    v1 = x1 * x2
    v2 = np.log(x1)
    v3 = v1 + x2
    return v3 - v2


def test_report_example_adjoint_table():
    tr = trace(f_report, 3, -4)
    assert [r.operation for r in tr][2:] == ["v₁ = v₋₁·v₀", "v₂ = ln(v₋₁)", "v₃ = v₁ + v₀", "v₄ = v₃ − v₂"]
    for i, v in zip(range(-1, 5), [3, -4, -12, 1.10, -16, -17.10]):
        assert tr.row(i).value == printed(v, 2)
    for i, a in zip(range(-1, 5), [-4.33, 4, 1, -1, 1, 1]):
        assert tr.row(i).adjoint == printed(a, 2)
    assert tr.gradient == pytest.approx((-4 - 1 / 3, 4.0), **EXACT)   # (x₂ − 1/x₁, x₁ + 1)


def test_g_of_the_study_both_modes():
    """g = x₁x₂ − cos x₂ at (2, 3): 6.99, ∂g/∂x₁ = 3, ∂g/∂x₂ = x₁ + sin x₂ ≈ 2.14."""
    g = lambda x1, x2: x1 * x2 - np.cos(x2)  # noqa: E731
    tr = trace(g, 2.0, 3.0, seed=1)
    assert [r.operation for r in tr][2:] == ["v₁ = v₋₁·v₀", "v₂ = cos(v₀)", "v₃ = v₁ − v₂"]
    assert tr.output == printed(6.99, 2)
    assert tr.output_tangent == printed(2.14, 2)
    assert tr.output_tangent == pytest.approx(2 + math.sin(3), **EXACT)
    assert [tr.row(i).tangent for i in range(-1, 4)] == pytest.approx([0, 1, 2, -math.sin(3), 2 + math.sin(3)])
    assert tr.gradient == pytest.approx((3.0, 2 + math.sin(3)), **EXACT)
    # The adjoint of cos x₂'s row is −1 (y = v₁ − v₂), and v̄₀ = v₋₁·v̄₁ + sin(v₀)·1 (not cos).
    assert tr.row(2).adjoint == -1.0


def test_proposal_example_reverse_accumulation():
    """f(x, y) = xy + e^{xy} at (1, 2): the shared v₁ = xy gets 1 + e² from its two uses."""
    def f(x, y):
        v1 = x * y
        return v1 + np.exp(v1)
    tr = trace(f, 1.0, 2.0)
    assert [r.operation for r in tr][2:] == ["v₁ = v₋₁·v₀", "v₂ = exp(v₁)", "v₃ = v₁ + v₂"]
    assert tr.output == pytest.approx(2 + E2, **EXACT)
    assert tr.row(1).adjoint == pytest.approx(1 + E2, **EXACT)
    assert tr.gradient == pytest.approx((2 + 2 * E2, 1 + E2), **EXACT)


def test_symbolic_comparison_example():
    tr = trace(lambda x1, x2: x1 ** 2 + x1 * x2, 4.0, 3.0)
    assert tr.rows[2].operation == "v₁ = v₋₁²"
    assert tr.output == 28.0
    assert tr.gradient == (11.0, 4.0)
    assert tr.output_tangent == 11.0


def test_constants_are_written_into_the_operations():
    tr = trace(lambda x: 2 * x - 1 + x * 0.5 + (-3.0) * x + 1 / x - (-2) + x ** 3, 1.5)
    assert [r.expression for r in tr][1:] == [
        "2·v₀", "v₁ − 1", "0.5·v₀", "v₂ + v₃", "−3·v₀", "v₄ + v₅", "1 / v₀", "v₆ + v₇", "v₈ + 2", "v₀³",
        "v₉ + v₁₀"]


def test_each_row_has_its_local_partials():
    tr = trace(f_slides, 1.5, 0.5)
    r1, r6 = tr.row(1), tr.row(6)
    assert r1.parents == (-1, 0)
    assert r1.partials == pytest.approx((1 / 0.5, -1.5 / 0.25), **EXACT)
    assert r6.partials == pytest.approx((tr.row(4).value, tr.row(5).value), **EXACT)
    # The tangent column is the sum of c_ij·v̇_j, the adjoint column the transposed sum.
    for r in tr.rows[2:]:
        assert r.tangent == pytest.approx(sum(c * tr.row(j).tangent for c, j in zip(r.partials, r.parents)))
    for r in tr.rows[:-1]:
        uses = [(q, c) for q in tr.rows for c, j in zip(q.partials, q.parents) if j == r.index]
        assert r.adjoint == pytest.approx(sum(c * q.adjoint for q, c in uses))


# ----------------------------------------------------------------- random programs, three oracles
UNARY = {  # name: (autodiff_ref/numpy version, autograd version, domain of the argument)
    "sin": (np.sin, anp.sin, None), "cos": (np.cos, anp.cos, None), "tanh": (np.tanh, anp.tanh, None),
    "exp": (np.exp, anp.exp, (-3.0, 3.0)), "log": (np.log, anp.log, (0.1, np.inf)),
    "sqrt": (np.sqrt, anp.sqrt, (0.1, np.inf)), "neg": (operator.neg, operator.neg, None),
    "square": (lambda v: v ** 2, lambda v: v ** 2, None),
}
BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}


def random_program(rng, n_inputs, length):
    """A list of statements (op, arguments), each argument a row index or a constant,
    chosen so that every value stays in its operation's domain at the returned inputs."""
    x = list(rng.uniform(0.5, 1.5, n_inputs) * rng.choice([-1, 1], n_inputs))
    values, program = list(x), []
    while len(program) < length:
        if rng.random() < 0.5:
            name = rng.choice(sorted(UNARY))
            j = int(rng.integers(len(values)))
            lo_hi = UNARY[name][2]
            if lo_hi and not lo_hi[0] <= values[j] <= lo_hi[1]:
                continue
            program.append((name, (j,)))
            values.append(float(UNARY[name][0](values[j])))
        else:
            name = rng.choice(sorted(BINARY))
            j, k = (int(i) for i in rng.integers(len(values), size=2))
            b = k if rng.random() < 0.8 else float(np.round(rng.uniform(-2, 2), 1)) or 1.5
            vb = values[b] if isinstance(b, int) else b
            if name == "div" and abs(vb) < 0.2 or abs(values[j]) > 1e3:
                continue
            program.append((name, (j, b)))
            values.append(float(BINARY[name](values[j], vb)))
    return x, program


def run(program, xs, upto=None, unary_index=0, perturb=None):
    """Evaluate the program; return the row `upto` (default the last). `perturb`
    = (row, d) adds d to that row, so ∂y/∂d is the row's adjoint."""
    rows = list(xs)
    if perturb is not None and perturb[0] < len(rows):
        rows[perturb[0]] = rows[perturb[0]] + perturb[1]
    for name, args in program:
        if name in UNARY:
            v = UNARY[name][unary_index](rows[args[0]])
        else:
            v = BINARY[name](*(rows[a] if isinstance(a, int) else a for a in args))
        if perturb is not None and perturb[0] == len(rows):
            v = v + perturb[1]
        rows.append(v)
    return rows[-1 if upto is None else upto]


@pytest.mark.filterwarnings("ignore:Output seems independent of input")
@pytest.mark.parametrize("case", range(25))
def test_random_programs_every_row_against_jvp_grad_and_autograd(case):
    rng = np.random.default_rng(RNG_SEED + case)
    n = 1 + case % 3
    xs, program = random_program(rng, n, 3 + case % 7)
    direction = list(rng.normal(size=n))
    f = lambda *x: run(program, x)  # noqa: E731
    tr = trace(f, *xs, tangents=direction)
    assert len(tr) == n + len(program)
    # Every row's tangent is the JVP of the program cut at that row.
    for k, r in enumerate(tr):
        value, tangent = jvp(lambda *x: run(program, x, upto=k) * 1.0, xs, direction)
        assert r.value == pytest.approx(value, **EXACT)
        assert r.tangent == pytest.approx(tangent, rel=1e-10, abs=1e-12)
    # The inputs' adjoints are the gradient: autodiff_ref and HIPS autograd.
    af = lambda *x: run(program, x, unary_index=1)  # noqa: E731
    for i in range(n):
        expected = autograd.grad(af, i)(*xs)
        assert tr.gradient[i] == pytest.approx(expected, rel=1e-10, abs=1e-12)
        assert tr.gradient[i] == pytest.approx(grad(f, i)(*xs), **EXACT)
    # Every row's adjoint is ∂y/∂(a perturbation added to that row), by autograd.
    for k, r in enumerate(tr):
        dy_dd = autograd.grad(lambda d: run(program, xs, unary_index=1, perturb=(k, d)))(0.0)
        assert r.adjoint == pytest.approx(dy_dd, rel=1e-10, abs=1e-12)
    # And the duality ⟨ȳ, ẏ⟩ = ⟨x̄, ẋ⟩.
    assert tr.output_tangent == pytest.approx(np.dot(tr.gradient, direction), rel=1e-10, abs=1e-12)


# ----------------------------------------------------------------- arrays and several outputs
def test_array_program_matches_jvp_and_grad():
    rng = np.random.default_rng(RNG_SEED)
    a, x, v = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=4)
    f = lambda x: np.sum(np.tanh(a @ x) ** 2) + np.sum(x * x)  # noqa: E731
    tr = trace(f, x, tangents=(v,))
    assert tr.output_tangent == pytest.approx(jvp(f, (x,), (v,))[1], **EXACT)
    assert tr.gradient[0] == pytest.approx(grad(f)(x), **EXACT)
    assert tr.gradient[0] == pytest.approx(autograd.grad(
        lambda x: anp.sum(anp.tanh(anp.dot(a, x)) ** 2) + anp.sum(x * x))(x), rel=1e-12)
    assert tr.rows[1].operation.startswith("v₁ = [3×4 array] @ v₀")
    assert "array" not in str(tr).splitlines()[2]  # the input row prints its values


def test_default_seed_of_an_array_input_is_its_first_unit_vector():
    x = np.array([1.0, 2.0, 3.0])
    tr = trace(lambda x: np.sum(x * x * x), x)
    assert tr.output_tangent == pytest.approx(3.0)
    assert np.array_equal(tr.seeds[0], [1.0, 0.0, 0.0])


def test_tuple_output_with_cotangents():
    f = lambda x1, x2: (x1 * x2, np.sin(x1) + x2)  # noqa: E731
    tr = trace(f, 0.7, 1.3, tangents=(0.0, 1.0), cotangent=(2.0, -1.0))
    assert tr.output == pytest.approx((0.7 * 1.3, math.sin(0.7) + 1.3))
    assert tr.output_tangent == pytest.approx((0.7, 1.0))
    # x̄ = ȳᵀJ with J = [[x₂, x₁], [cos x₁, 1]]
    assert tr.gradient == pytest.approx((2 * 1.3 - math.cos(0.7), 2 * 0.7 - 1.0))
    assert str(tr).splitlines()[-1] == "y₁ = v₁, y₂ = v₃"
    default = trace(f, 0.7, 1.3)  # ȳ = (1, 0): the first output's gradient
    assert default.gradient == pytest.approx((1.3, 0.7))


# ----------------------------------------------------------------- printing, HTML, drawing
def test_str_is_an_aligned_table():
    lines = str(trace(f_slides, 1.5, 0.5)).splitlines()
    assert lines[0].split() == ["operation", "value", "tangent", "v̇", "adjoint", "v̄"]
    body = lines[2:10]
    assert len({len(line) for line in body}) == 1     # right-aligned numbers end together
    assert body[7].split()[-3:] == ["2.0166", "3.0118", "1.0000"]


def test_html_highlights_one_row_and_escapes():
    tr = trace(f_slides, 1.5, 0.5)
    html = tr.to_html(highlight=3)
    assert html.count("<tr") == 10 and html.count("#ffe08a") == 1
    assert "v₃ = exp(v₀)</td>" in html.split("#ffe08a")[1].split("</tr>")[0]
    assert tr._repr_html_().count("#ffe08a") == 0
    half = tr.to_html(columns=("operation", "tangent"), tangents=[1.0, 0.0, 2.0] + [None] * 5)
    assert "adjoint" not in half and half.count("2.0000") == 1
    with pytest.raises(ValueError, match="unknown column 'gradient'"):
        tr.to_html(columns=("gradient",))
    assert "x &lt; y" in tr.to_html(caption="x < y")


def test_layout_keeps_boxes_apart_and_edges_out_of_boxes():
    """No two nodes overlap and no edge (as routed) passes through a third node's box."""
    cases = [(f_slides, (1.5, 0.5)), (f_report, (3.0, -4.0)),
             (lambda x1, x2: (np.sin(x1 / x2) + x1 / x2 - np.exp(x2)) * (x1 / x2 - np.exp(x2)), (1.5, 0.5)),
             (lambda x, y: x * y + np.exp(x * y), (1.0, 2.0)), (lambda x: x * x * np.sin(x), (1.0,))]
    w, h = NODE_WIDTH, NODE_HEIGHT
    for f, args in cases:
        tr = trace(f, *args)
        xy, routes = tr.layout()
        assert min(abs(a[0] - b[0]) for a in xy.values() for b in xy.values() if a[0] != b[0]) >= COLUMN_STEP - 1e-9
        for i in xy:
            for j in xy:
                if i < j:
                    assert abs(xy[i][0] - xy[j][0]) >= w or abs(xy[i][1] - xy[j][1]) >= h, (i, j)
        for (j, i), way in routes.items():
            points = [xy[j]] + way + [xy[i]]
            for p, q in zip(points, points[1:]):
                for t in np.linspace(0, 1, 200):
                    px, py = p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])
                    for k, (cx, cy) in xy.items():
                        if k not in (i, j):
                            assert not (abs(px - cx) < w / 2 and abs(py - cy) < h / 2), (f, j, i, k)


def test_draw_returns_axes_with_every_node_and_the_highlight(tmp_path):
    tr = trace(f_slides, 1.5, 0.5)
    ax = tr.draw(highlight=3, show="tangent", edge_labels=True)
    texts = [t.get_text() for t in ax.texts]
    for r in tr:
        assert r.name in texts
    assert "2.0000" in texts and "3.0118" in texts
    ax.figure.savefig(tmp_path / "graph.png")
    plt.close("all")
    fig, ax = plt.subplots()
    assert tr.draw(ax=ax, labels={6: "?"}, dim={5, 6}, flow="reverse", highlight=6) is ax
    assert "?" in [t.get_text() for t in ax.texts]
    plt.close("all")
    with pytest.raises(ValueError, match="show must be"):
        tr.draw(show="gradient")


# ----------------------------------------------------------------- bad input
def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="give f's inputs"):
        trace(np.sin)
    with pytest.raises(ValueError, match="seed must be the index of an input"):
        trace(f_slides, 1.5, 0.5, seed=2)
    with pytest.raises(ValueError, match="either seed .* or tangents"):
        trace(f_slides, 1.5, 0.5, seed=0, tangents=(1.0, 0.0))
    with pytest.raises(ValueError, match="2 inputs but 1 tangents"):
        trace(f_slides, 1.5, 0.5, tangents=(1.0,))
    with pytest.raises(ValueError, match=r"tangent 0 has shape \(2,\)"):
        trace(lambda x: np.sum(x), np.ones(3), tangents=(np.ones(2),))
    with pytest.raises(ValueError, match="does not depend on the inputs"):
        trace(lambda x: 3.0, 1.0)
    with pytest.raises(IndexError, match="not in -1 … 6"):
        trace(f_slides, 1.5, 0.5).row(7)


def test_trace_is_exported():
    import autodiff_ref
    assert autodiff_ref.trace is trace and "trace" in autodiff_ref.__all__
    assert isinstance(trace(np.sin, 1.0), Trace)


# ----------------------------------------------------------------- the step-by-step widgets
from autograder import widgets as W  # noqa: E402


def test_forward_steps_replay_the_tangent_column():
    tr = trace(f_slides, 1.5, 0.5)
    steps = W.forward_steps(tr)
    assert len(steps) == len(tr)
    assert steps[0].column[1:] == [None] * 7
    assert steps[-1].column == tr.tangents
    assert [s.statements[0] for s in steps[2:]] == [
        "v̇₁ = (1/v₀)·v̇₋₁ + (−v₁/v₀)·v̇₀ = 2.0000·1.0000 + (-6.0000)·0 = 2.0000",
        "v̇₂ = cos(v₁)·v̇₁ = (-0.9900)·2.0000 = -1.9800",
        "v̇₃ = v₃·v̇₀ = 1.6487·0 = 0",
        "v̇₄ = v̇₁ − v̇₃ = 2.0000 − 0 = 2.0000",
        "v̇₅ = v̇₂ + v̇₄ = −1.9800 + 2.0000 = 0.0200",
        "v̇₆ = v₄·v̇₅ + v₅·v̇₄ = 1.3513·0.0200 + 1.4924·2.0000 = 3.0118"]


def test_reverse_steps_accumulate_to_the_adjoint_column():
    def f(x, y):
        v1 = x * y
        return v1 + np.exp(v1)
    tr = trace(f, 1.0, 2.0)
    steps = W.reverse_steps(tr)
    assert [s.row for s in steps] == [3, 3, 2, 1]
    assert steps[0].column == [0.0, 0.0, 0.0, 0.0, 1.0]
    # v̄₁ gets 1 from the sum, then e² from the exponential
    assert steps[1].column[2] == 1.0 and steps[2].column[2] == pytest.approx(1 + E2)
    assert steps[2].statements == ["v̄₁ += v̄₂·v₂   :  1.0000 + 1.0000·7.3891 = 8.3891"]
    assert steps[-1].column == pytest.approx(tr.adjoints, **EXACT)


@pytest.mark.parametrize("case", range(10))
def test_reverse_steps_agree_with_the_tape_sweep_on_random_programs(case):
    rng = np.random.default_rng(RNG_SEED + 100 + case)
    xs, program = random_program(rng, 1 + case % 3, 4 + case)
    tr = trace(lambda *x: run(program, x), *xs)
    assert W.reverse_steps(tr)[-1].column == pytest.approx(tr.adjoints, rel=1e-12, abs=1e-12)
    assert W.forward_steps(tr)[-1].column == tr.tangents


def test_symbolic_partials_of_constants_and_powers():
    tr = trace(lambda x: 2 * x ** 3 - 1 / x + np.tanh(x) * x ** 2, 0.7)
    texts = {r.expression: W.partial_text(tr, r.index) for r in tr.rows[1:]}
    assert texts["v₀³"] == ["3·v₀²"]
    assert texts["2·v₁"] == ["2"]
    assert texts["1 / v₀"] == ["−v₃/v₀"]
    assert texts["tanh(v₀)"] == ["1 − v₅²"]
    assert texts["v₀²"] == ["2·v₀"]


def test_step_widgets_refuse_array_traces():
    with pytest.raises(ValueError, match="scalar program"):
        W.forward_steps(trace(lambda x: np.sum(x * x), np.ones(3)))


def test_renders_and_widgets_headless():
    tr = trace(f_slides, 1.5, 0.5)
    fig, statements, html = W.render_forward(tr, 4)
    assert statements == ["v̇₃ = v₃·v̇₀ = 1.6487·0 = 0"] and html.count("#ffe08a") == 1
    fig, statements, html = W.render_reverse(tr, 0)
    assert "(the seed)" in statements[0]
    plt.close("all")
    widget = W.step_reverse(tr)
    (prev, slider, nxt), _ = widget.children[0].children, widget.children[1]
    assert slider.max == len(tr) - tr.n_inputs
    nxt.click()
    nxt.click()
    prev.click()
    assert slider.value == 1
    assert W.step_forward(tr).children[0].children[1].max == len(tr) - 1
    plt.close("all")


class _FakeClock:
    """A perf_counter that only moves when the timed functions say so: no machine in the test."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def costs(self, seconds):
        def fn():
            self.now += seconds
        return fn


def test_time_ratio_orders_a_slow_and_a_fast_function(monkeypatch):
    clock = _FakeClock()
    monkeypatch.setattr(W, "time", types.SimpleNamespace(perf_counter=clock))
    slow, fast = clock.costs(3e-4), clock.costs(2e-5)
    t_slow, t_fast, ratio = W.time_ratio(slow, fast, repeat=3, min_time=0.002)
    assert t_slow == pytest.approx(3e-4) and t_fast == pytest.approx(2e-5)
    assert ratio == pytest.approx(15.0)
    t_fn, t_ref, swapped = W.time_ratio(fast, slow, repeat=3, min_time=0.002)
    assert swapped == pytest.approx(1 / 15.0)
    assert W.median_time(fast, repeat=3, min_time=0.001) == pytest.approx(2e-5)
