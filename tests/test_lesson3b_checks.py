"""Lesson 3b's checks: pass on the notebook's solution and on another correct way to write
it; the oracle (autodiff_ref) agrees with central differences and with HIPS autograd; realistic
wrong code fails with the hint that names its misconception, blamed on the task it is in."""
import numpy as np
import pytest

from autograder import notebooks
from autograder.lessons import lesson3b as checks
from autograder.lessons.lesson3b import checks as impl

from conftest import COURSE
from lesson_kit import failure_of, hint_of, setup_source

NOTEBOOK = COURSE / "source" / "lesson3b_reverse_arrays" / "lesson3b_reverse_arrays.ipynb"
RULES = ("unbroadcast", "add_vjp", "sub_vjp", "mul_vjp", "neg_vjp", "exp_vjp", "tanh_vjp")


def namespace(replace=None):
    """The setup cell, every solution cell (or its replacement) and the given tape, in notebook order."""
    nb = notebooks.read(NOTEBOOK)
    ns = {}
    exec(compile(setup_source(nb), "setup", "exec"), ns)
    for cell in nb.cells:
        gid = notebooks.grade_id(cell)
        if notebooks.is_solution(cell) or gid == "given-tape":
            exec(compile((replace or {}).get(gid, notebooks.source_text(cell)), gid, "exec"), ns)
    return ns


@pytest.fixture(scope="module")
def ns():
    return namespace()


def run_all(ns, hidden):
    checks.check_unbroadcast(ns["unbroadcast"], hidden=hidden)
    checks.check_elementwise_rules(*[ns[k] for k in RULES], hidden=hidden)
    checks.check_sum_rule(ns["sum_vjp"], hidden=hidden)
    checks.check_matmul_rule(ns["matmul_vjp"], hidden=hidden)
    checks.check_getitem_rule(ns["getitem_vjp"], hidden=hidden)
    checks.check_shape_rules(ns["reshape_vjp"], ns["transpose_vjp"], hidden=hidden)
    checks.check_backward(ns["backward"], ns["ArrayTape"], hidden=hidden)
    engine = (ns["grad"], ns["backward"], ns["ArrayTape"], ns["VJP"])
    checks.check_grad(*engine, hidden=hidden)
    checks.check_mlp_loss(ns["mlp_loss"], *engine, hidden=hidden)
    checks.check_train_step(ns["train_step"], ns["mlp_loss"], *engine, hidden=hidden)


def test_the_solution_passes_every_check(ns, capsys):
    run_all(ns, False)
    run_all(ns, True)
    checks.check_backward_robust(ns["backward"], ns["ArrayTape"])
    out = capsys.readouterr().out
    assert out.count("✓") == 21 and "✗" not in out, out


# ----------------------------------------------------------------- another correct way
OTHER = {
    "task11-unbroadcast": '''
def unbroadcast(g, shape):
    g = np.asarray(g)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g
''',
    "task13-sum": '''
def sum_vjp(g, x, axis=None, keepdims=False):
    axes = range(np.ndim(x)) if axis is None else np.atleast_1d(axis) % np.ndim(x)
    kept = [1 if i in set(int(a) for a in axes) else n for i, n in enumerate(np.shape(x))]
    return (np.reshape(g, kept) * np.ones(np.shape(x)),)
''',
    "task14-matmul": '''
def matmul_vjp(g, a, b):
    a2, b2 = np.atleast_2d(a), b.reshape(len(b), -1)
    g2 = np.reshape(g, (a2.shape[0], b2.shape[1]))
    a_bar = np.einsum("ik,jk->ij", g2, b2).reshape(np.shape(a))
    b_bar = np.einsum("ij,ik->jk", a2, g2).reshape(np.shape(b))
    return a_bar, b_bar
''',
    "task15-getitem": '''
def getitem_vjp(g, x, index):
    x_bar = np.zeros_like(x)
    index = index if isinstance(index, tuple) else (index,)
    for k, position in enumerate(zip(*index)):
        x_bar[position] += g[k]
    return (x_bar,)
''',
    "task16-shape": '''
def reshape_vjp(g, x, shape):
    return (g.reshape(x.shape),)


def transpose_vjp(g, x, axes=None):
    if axes is None:
        return (g.T,)
    inverse = [0] * len(axes)
    for position, axis in enumerate(axes):
        inverse[axis] = position
    return (g.transpose(inverse),)
''',
    "task21-backward": '''
def backward(tape, y, rules):
    bars = {y.index: np.ones(tape.values[y.index].shape)}
    for i in range(y.index, -1, -1):
        if i not in bars or tape.ops[i] is None:
            continue
        for p, ct in zip(tape.parents[i], rules[tape.ops[i]](bars[i], *tape.args[i], **tape.params[i])):
            if p is not None:
                bars[p] = bars.get(p, 0.0) + ct
    return [np.asarray(bars.get(k, 0.0)) * np.ones(v.shape) for k, v in enumerate(tape.values)]
''',
    "task31-loss": '''
def mlp_loss(params, X, Y):
    W1, b1, W2, b2 = params
    hidden = np.tanh(X @ W1 + b1)
    error = Y - (hidden @ W2 + b2)
    return (error * error).sum(axis=1).sum() * (1 / X.shape[0])
''',
}


def test_another_correct_way_passes(capsys):
    other = namespace(OTHER)
    run_all(other, False)
    run_all(other, True)
    checks.check_backward_robust(other["backward"], other["ArrayTape"])
    assert "✗" not in capsys.readouterr().out


# ----------------------------------------------------------------- the oracle
def _rule_cases():
    return (impl._elementwise_cases(True) + impl._sum_cases(True) + impl._matmul_cases(True) +
            impl._index_cases(True) + impl._shape_cases(True))


def test_the_oracle_agrees_with_central_differences():
    h = 1e-6
    for case in _rule_cases():
        f = impl.FORWARD[case.op]
        expected = impl.oracle_vjp(case.op, case.g, *case.args, **case.params)
        for k, x in enumerate(case.args):
            x = np.asarray(x, dtype=float)
            numeric = np.zeros(x.shape)
            for pos in np.ndindex(x.shape):
                bump = np.zeros(x.shape)
                bump[pos] = h
                plus = list(case.args); plus[k] = x + bump
                minus = list(case.args); minus[k] = x - bump
                numeric[pos] = np.sum(case.g * (f(*plus, **case.params) - f(*minus, **case.params))) / (2 * h)
            assert np.allclose(numeric, expected[k], rtol=1e-5, atol=1e-7), (case.op, case.params)


def test_the_oracle_agrees_with_hips_autograd():
    autograd = pytest.importorskip("autograd")
    anp = autograd.numpy
    hips = {"add": anp.add, "sub": anp.subtract, "mul": anp.multiply, "neg": anp.negative, "exp": anp.exp,
            "tanh": anp.tanh, "matmul": anp.matmul,
            "sum": lambda x, axis=None, keepdims=False: anp.sum(x, axis=axis, keepdims=keepdims),
            "getitem": lambda x, index: x[index], "reshape": lambda x, shape: anp.reshape(x, shape),
            "transpose": lambda x, axes=None: anp.transpose(x, axes)}
    for case in _rule_cases():
        expected = impl.oracle_vjp(case.op, case.g, *case.args, **case.params)
        for k in range(len(case.args)):
            def scalar(x, k=k):
                args = list(case.args)
                args[k] = x
                return anp.sum(case.g * hips[case.op](*args, **case.params))
            got = autograd.grad(scalar)(np.asarray(case.args[k], dtype=float))
            assert np.allclose(got, expected[k], rtol=1e-12, atol=1e-12), (case.op, case.params)
    params, X, Y = checks.mlp_problem()
    ref = impl._ad.grad(lambda *p: checks.reference_loss(p, X, Y), (0, 1, 2, 3))(*params)
    hip = autograd.grad(lambda p: checks.reference_loss(p, X, Y))(params)
    assert all(np.allclose(a, b, rtol=1e-12, atol=1e-12) for a, b in zip(ref, hip))


def test_the_reference_sweep_gives_the_oracle_gradient():
    for program in impl._programs(True):
        bars = impl.reference_adjoints(program)
        n = len(program.inputs)

        def f(*xs):
            values = list(xs)
            for op, arguments, kw in program.steps:
                values.append(impl.FORWARD[op](*[values[a[1]] if impl._is_entry(a) else a for a in arguments], **kw))
            return values[program.output]
        expected = impl._ad.grad(f, tuple(range(n)))(*program.inputs)
        assert all(np.allclose(bars[k], expected[k]) for k in range(n)), program.name


# ----------------------------------------------------------------- wrong code, named
def rules_hint(ns, **wrong):
    rules = {k: ns[k] for k in RULES}
    rules.update(wrong)
    return hint_of(checks.check_elementwise_rules, *[rules[k] for k in RULES])


def test_unbroadcast_hints():
    def unsummed(g, shape):
        return g
    assert "not summed back" in hint_of(checks.check_unbroadcast, unsummed)

    def no_keepdims(g, shape):
        g = np.sum(g, axis=tuple(range(np.ndim(g) - len(shape))))
        return np.sum(g, axis=tuple(i for i, n in enumerate(shape) if n == 1))
    assert "keepdims lost" in hint_of(checks.check_unbroadcast, no_keepdims)

    def averaged(g, shape):
        g = np.mean(g, axis=tuple(range(np.ndim(g) - len(shape))))
        return np.mean(g, axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)
    assert "not averaged" in hint_of(checks.check_unbroadcast, averaged)


def test_elementwise_hints(ns):
    assert "not summed over the broadcast axes" in rules_hint(ns, add_vjp=lambda g, x, y: (g, g))
    assert "OTHER factor" in rules_hint(ns, mul_vjp=lambda g, x, y: (ns["unbroadcast"](g * x, np.shape(x)),
                                                                      ns["unbroadcast"](g * y, np.shape(y))))
    assert "the sign of ȳ" in rules_hint(ns, sub_vjp=lambda g, x, y: (ns["unbroadcast"](g, np.shape(x)),
                                                                       ns["unbroadcast"](g, np.shape(y))))
    assert "square tanh(x), not x" in rules_hint(ns, tanh_vjp=lambda g, x: (g * (1 - x ** 2),))
    assert "one cotangent per input" in rules_hint(ns, exp_vjp=lambda g, x: g * np.exp(x))


def test_elementwise_blames_a_broken_unbroadcast():
    broken = namespace({"task11-unbroadcast": "def unbroadcast(g, shape):\n    return g"})
    failure = failure_of(checks.check_elementwise_rules, *[broken[k] for k in RULES])
    assert "Task 1.2 uses your unbroadcast (Task 1.1)" in failure.what


def test_sum_hints():
    def lost(g, x, axis=None, keepdims=False):
        return (np.broadcast_to(g, np.shape(x)),)
    assert "keepdims lost" in hint_of(checks.check_sum_rule, lost)


def test_matmul_hints():
    def no_transpose(g, a, b):
        return g @ b, a.T @ g
    assert "wrong transpose" in hint_of(checks.check_matmul_rule, no_transpose)

    def transposed_result(g, a, b):
        if np.ndim(a) == 1 or np.ndim(b) == 1:
            return np.outer(g, b) if np.ndim(b) == 1 else b @ g, a.T @ g if np.ndim(b) == 1 else np.outer(a, g)
        return b @ g.T, a.T @ g
    assert "wrong transpose" in hint_of(checks.check_matmul_rule, transposed_result)


def test_repeated_indices_hint():
    def assigned(g, x, index):
        x_bar = np.zeros(np.shape(x))
        x_bar[index] = g
        return (x_bar,)

    def buffered(g, x, index):
        x_bar = np.zeros(np.shape(x))
        x_bar[index] += g
        return (x_bar,)
    for wrong in (assigned, buffered):
        assert "np.add.at" in hint_of(checks.check_getitem_rule, wrong)


def test_shape_hints(ns):
    def same_axes(g, x, axes=None):
        return (np.transpose(g, axes),)
    assert "inverse" in hint_of(checks.check_shape_rules, ns["reshape_vjp"], same_axes)

    def reshape_as_transpose(g, x, shape):
        return (g.T,)
    assert "not a transpose" in hint_of(checks.check_shape_rules, reshape_as_transpose, ns["transpose_vjp"])


BACKWARD = '''
def backward(tape, y, rules):
    bars = [np.zeros_like(v) for v in tape.values]
    bars[{seed}] = np.ones_like(tape.values[{seed}])
    for i in {order}:
        if tape.ops[i] is not None:
            for p, ct in zip(tape.parents[i], rules[tape.ops[i]](bars[i], *tape.args[i], **tape.params[i])):
                if p is not None:
                    bars[p] = {combine}
    return bars
'''


def wrong_backward(seed="y.index", order="reversed(range(y.index + 1))", combine="bars[p] + ct"):
    ns = {"np": np}
    exec(BACKWARD.format(seed=seed, order=order, combine=combine), ns)
    return ns["backward"]


@pytest.mark.parametrize("kw, words", [
    (dict(combine="ct"), "overwritten instead of accumulated"),
    (dict(order="range(y.index + 1)"), "first to last"),
    (dict(seed="len(tape) - 1", order="reversed(range(len(tape)))"), "not at the last entry"),
])
def test_backward_hints(ns, kw, words):
    assert words in hint_of(checks.check_backward, wrong_backward(**kw), ns["ArrayTape"])


def test_backward_robust_catches_recursion(ns):
    src = '''
def backward(tape, y, rules):
    bars = [np.zeros_like(v) for v in tape.values]
    def visit(i, g):
        bars[i] = bars[i] + g
        if tape.ops[i] is not None:
            for p, ct in zip(tape.parents[i], rules[tape.ops[i]](g, *tape.args[i], **tape.params[i])):
                if p is not None:
                    visit(p, ct)
    visit(y.index, np.ones_like(tape.values[y.index]))
    return bars
'''
    local = {"np": np}
    exec(src, local)
    assert "recursing" in hint_of(checks.check_backward_robust, local["backward"], ns["ArrayTape"])


def test_grad_blames_the_piece_that_is_broken(ns):
    engine = dict(grad=ns["grad"], backward=ns["backward"], ArrayTape=ns["ArrayTape"], VJP=ns["VJP"])
    broken = namespace({"task21-backward": BACKWARD.format(seed="y.index", order="reversed(range(y.index + 1))",
                                                           combine="ct")})
    failure = failure_of(checks.check_grad, broken["grad"], broken["backward"], broken["ArrayTape"], broken["VJP"])
    assert "backward (Task 2.1)" in failure.what and "overwritten" in failure.hint
    rules = dict(ns["VJP"], getitem=lambda g, x, index: (np.zeros(np.shape(x)),))
    bad = namespace({"task22-grad": '''
def grad(f):
    def gradient(*xs):
        tape = ArrayTape()
        nodes = [tape.input(x) for x in xs]
        bars = backward(tape, f(*nodes), RULES)
        return tuple(bars[node.index] for node in nodes)
    return gradient
'''})
    bad["RULES"] = rules
    failure = failure_of(checks.check_grad, bad["grad"], engine["backward"], engine["ArrayTape"], rules)
    assert "getitem_vjp (Task 1.5)" in failure.what


def test_mlp_and_training_hints(ns):
    engine = (ns["grad"], ns["backward"], ns["ArrayTape"], ns["VJP"])

    def summed(params, X, Y):
        W1, b1, W2, b2 = params
        r = np.tanh(X @ W1 + b1) @ W2 + b2 - Y
        return (r * r).sum()
    assert "mean over the samples" in hint_of(checks.check_mlp_loss, summed, *engine)

    def uphill(params, X, Y, lr):
        grads = ns["grad"](lambda *p: ns["mlp_loss"](p, X, Y))(*params)
        return tuple(p + lr * g for p, g in zip(params, grads))
    assert "uphill" in hint_of(checks.check_train_step, uphill, ns["mlp_loss"], *engine)

    def in_place(params, X, Y, lr):
        grads = ns["grad"](lambda *p: ns["mlp_loss"](p, X, Y))(*params)
        for p, g in zip(params, grads):
            p -= lr * g
        return params
    assert "in place" in hint_of(checks.check_train_step, in_place, ns["mlp_loss"], *engine)


def test_a_loss_taken_off_the_tape_is_named(ns):
    def off_tape(params, X, Y):
        W1, b1, W2, b2 = params
        value = lambda a: a.value if hasattr(a, "value") else a
        r = np.tanh(X @ value(W1) + value(b1)) @ W2 + b2 - Y
        return (r * r).sum() / len(X)
    engine = (ns["grad"], ns["backward"], ns["ArrayTape"], ns["VJP"])
    assert "off the tape" in hint_of(checks.check_mlp_loss, off_tape, *engine)


def test_the_broadcast_picture_sums_what_it_colours():
    from autograder.lessons.lesson3b import figures
    from autograder.material import unbroadcast     # what the picture sums with
    g = figures.cotangent()
    for _, shape in figures.SHAPES:
        assert np.array_equal(unbroadcast(g, shape), impl.oracle_unbroadcast(g, shape))
        src = figures.source_of(shape)
        assert all(unbroadcast(g, shape).ravel()[k] == g[src == k].sum() for k in range(int(np.prod(shape))))
