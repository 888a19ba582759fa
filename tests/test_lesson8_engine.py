"""Lesson 8's section 4 on the student's lesson-3b array engine, the reference as a switch.

- own_code's pieces it needs: ``reference=None`` (no drop-in reference: None for every
  name, a line saying why yours is not used, also in the grading sandbox) and a given
  table of lambdas (3b's ``FORWARD``) counting as a definition.
- Task 4.0's check: the reference rule passes; wrong rules (no unbroadcast, σ swapped,
  σ(x) for two arguments, ḡ left out, the formula that overflows) fail with their hint;
  its oracle agrees with central differences and with the closed form.
- ``engine_rule``: the student's rule once it passes, the lesson's until then.
- Section 4's loading cells next to the lesson-3b solutions (the student's engine gives the
  reference's MLP gradient) and next to a broken 3b (the reference is used). The whole
  notebook runs once, beside the other lessons' solutions, in tests/test_notebooks.py.
"""
import shutil

import numpy as np
import pytest

from autograder import notebooks, own_code
from autograder.checks import CheckFailure
from autograder.lessons import lesson8 as checks
from autograder.lessons.lesson3b.checks import oracle_unbroadcast as unbroadcast

from conftest import COURSE
from test_own_code import _cell, _lesson, fresh, run_cells  # noqa: F401 (fresh: an autouse fixture)


# ------------------------------------------------------------------------------------------
# own_code: reference=None, and a given table of lambdas
# ------------------------------------------------------------------------------------------
def test_reference_none_gives_none_for_every_name_and_says_why(tmp_path, capsys):
    _lesson(tmp_path)
    got = own_code.yours("lesson9_things", ("Thing", "triple"), tasks=("9.1",), reference=None,
                         folder=str(tmp_path), use_yours=False)
    assert got == (None, None)
    assert capsys.readouterr().out == "Not using your Thing and triple: this cell asks for it (its switch is set to the reference).\n"
    thing = own_code.yours("lesson9_things", "Thing", tasks=("9.1",), reference=None, folder=str(tmp_path))
    assert thing is not None and thing(3).double() == 6
    assert capsys.readouterr().out.startswith("Using your Thing from lesson 9")


def test_reference_none_when_grading(tmp_path, monkeypatch, capsys):
    _lesson(tmp_path)
    monkeypatch.setenv(own_code.GRADING, "1")
    assert own_code.yours("lesson9_things", "Thing", tasks=("9.1",), reference=None, folder=str(tmp_path)) is None
    assert capsys.readouterr().out == ("Not using your Thing: graded with the reference instead so that this "
                                       "lesson's grade depends on this lesson only.\n")


def test_a_given_table_of_lambdas_is_a_definition_and_a_call_in_it_is_not(tmp_path, capsys):
    given = _cell("import numpy as np\nTABLE = {'twice': lambda x: np.multiply(x, 2)}\n"
                  "CALLED = {'now': print('side effect')}", "given-table")
    _lesson(tmp_path, extra=[given])
    table = own_code.yours("lesson9_things", "TABLE", tasks=("9.1",), reference=None, folder=str(tmp_path))
    assert table["twice"](np.array([1.0, 2.0])).tolist() == [2.0, 4.0]
    assert own_code.yours("lesson9_things", "CALLED", tasks=("9.1",), reference=None, folder=str(tmp_path)) is None
    assert capsys.readouterr().out.splitlines()[1] == "Not using your CALLED: your lesson 9 does not define CALLED."


def test_calls_made_while_evaluating():
    import ast
    calls = lambda src: sorted(ast.unparse(c.func) for c in own_code._calls(ast.parse(src, mode="eval").body))
    assert calls("{'a': lambda x: np.reshape(x, f(x))}") == []
    assert calls("{'a': lambda x, k=g(): h(x)}") == ["g"]
    assert calls("[f(1), lambda: f(2)]") == ["f"]
    assert calls("own_code.yours(lambda: f(2))") == ["own_code.yours"]


# ------------------------------------------------------------------------------------------
# Task 4.0: the VJP of logaddexp
# ------------------------------------------------------------------------------------------
def _both(rule):
    """Run the visible and the hidden check; the message of the first failure, or None."""
    try:
        checks.check_logaddexp_vjp(rule)
        checks.check_logaddexp_vjp_hidden(rule)
    except CheckFailure as failure:
        return str(failure)
    return None


def right(g, x, y):
    a = np.logaddexp(x, y)
    return unbroadcast(g * np.exp(x - a), np.shape(x)), unbroadcast(g * np.exp(y - a), np.shape(y))


def sigmoid(z):
    return checks.sigmoid(z)


WRONG = {
    "has the output's shape": lambda g, x, y: (g * sigmoid(x - y), g * sigmoid(y - x)),
    "are swapped": lambda g, x, y: (unbroadcast(g * sigmoid(y - x), np.shape(x)),
                                    unbroadcast(g * sigmoid(x - y), np.shape(y))),
    "derivative of logaddexp(0, x) only": lambda g, x, y: (unbroadcast(g * sigmoid(x + 0 * y), np.shape(x)),
                                                           unbroadcast(g * sigmoid(y + 0 * x), np.shape(y))),
    "ḡ is missing": lambda g, x, y: (unbroadcast(sigmoid(x - y) + 0 * g, np.shape(x)),
                                     unbroadcast(sigmoid(y - x) + 0 * g, np.shape(y))),
    "return a pair": lambda g, x, y: unbroadcast(g * sigmoid(x - y), np.shape(x)),
}


def test_the_right_rule_passes(capsys):
    assert _both(right) is None
    assert "✓ logaddexp_vjp on other shapes and large arguments" in capsys.readouterr().out


@pytest.mark.parametrize("hint", list(WRONG))
def test_wrong_rules_get_their_hint(hint):
    message = _both(WRONG[hint])
    assert message is not None and hint in message, message


def test_the_formula_that_overflows_passes_small_arguments_and_fails_large_ones():
    def naive(g, x, y):
        s = np.exp(x) + np.exp(y)
        return unbroadcast(g * np.exp(x) / s, np.shape(x)), unbroadcast(g * np.exp(y) / s, np.shape(y))
    with np.errstate(over="ignore", invalid="ignore"):
        checks.check_logaddexp_vjp(naive)
        with pytest.raises(CheckFailure, match="overflows"):
            checks.check_logaddexp_vjp_hidden(naive)


def test_a_rule_off_by_a_little_fails_the_comparison():
    def slightly(g, x, y):
        x_bar, y_bar = right(g, x, y)
        return x_bar * (1 + 1e-4), y_bar
    assert "logaddexp_vjp against reverse mode (x̄)" in _both(slightly)


def test_the_oracle_against_closed_form_and_central_differences():
    rng = np.random.default_rng(3)
    x, y, g = rng.normal(size=(2, 1)), rng.normal(size=(1, 3)), rng.normal(size=(2, 3))
    x_bar, y_bar = checks.logaddexp_vjp_reference(g, x, y)
    assert x_bar.shape == (2, 1) and y_bar.shape == (1, 3)
    assert np.allclose(x_bar, (g / (1 + np.exp(y - x))).sum(axis=1, keepdims=True), rtol=1e-13, atol=0)
    assert np.allclose(y_bar, (g / (1 + np.exp(x - y))).sum(axis=0, keepdims=True), rtol=1e-13, atol=0)
    from autograder.lessons.lesson8.checks_networks import _projection_by_differences
    dx, dy = rng.normal(size=x.shape), rng.normal(size=y.shape)
    exact = np.sum(x_bar * dx) + np.sum(y_bar * dy)
    assert abs(_projection_by_differences(g, x, y, dx, dy) - exact) < 1e-8 * max(1.0, abs(exact))


def test_engine_rule_takes_the_students_once_it_passes(capsys):
    assert checks.engine_rule(right) is right
    assert capsys.readouterr().out == "Your engine records logaddexp with your logaddexp_vjp.\n"
    rule = checks.engine_rule(WRONG["are swapped"])
    assert "lesson's rule" in capsys.readouterr().out
    g, x, y = np.ones(3), 0.0, np.array([-1.0, 0.0, 2.0])
    assert all(np.allclose(a, b) for a, b in zip(rule(g, x, y), right(g, x, y)))


def test_the_mlp_loss_is_the_cross_entropy():
    rng = np.random.default_rng(4)
    params = checks.init_mlp([2, 5, 1], seed=4)
    X, y = rng.normal(size=(7, 2)), (rng.random(7) < 0.5).astype(float)
    z = checks.mlp_logits_reference(params, X)
    assert np.isclose(checks.mlp_loss_reference(params, X, y), checks.bce_reference(z, y), rtol=1e-14)


# ------------------------------------------------------------------------------------------
# The notebook next to lesson 3b
# ------------------------------------------------------------------------------------------
def _copy(folder, *names):
    for name in names:
        shutil.copytree(COURSE / "source" / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))


ENGINE_CELLS = ("engine", "task40-logaddexp-vjp", "engine-value-and-grad")


def test_section_4_takes_the_reference_when_lesson_3b_fails(tmp_path, monkeypatch):
    _copy(tmp_path, "lesson3b_reverse_arrays", "lesson8_learning")
    path = tmp_path / "lesson3b_reverse_arrays" / "lesson3b_reverse_arrays.ipynb"
    nb3 = notebooks.read(path)
    cell = next(c for c in nb3.cells if notebooks.grade_id(c) == "task14-matmul")
    assert "return g @ b.T, a.T @ g" in cell.source
    cell.source = cell.source.replace("return g @ b.T, a.T @ g", "return g @ b, a.T @ g")
    notebooks.write(nb3, path)
    namespace, printed = run_cells(tmp_path / "lesson8_learning" / "lesson8_learning.ipynb", ENGINE_CELLS, monkeypatch)
    lines = printed["engine"].splitlines()
    assert lines[0].startswith("Not using your ArrayTape, backward, VJP, FORWARD, UFUNC_OPS and unbroadcast: "
                               "your lesson 3b fails Task 1.4's check (")
    assert lines[1] == "Section 4 runs on autodiff_ref."
    assert printed["engine-value-and-grad"] == "value_and_grad is autodiff_ref.value_and_grad.\n"
    assert namespace["value_and_grad"] is namespace["reference_value_and_grad"]


def test_the_mlp_gradient_on_the_students_engine_is_the_references(tmp_path, monkeypatch):
    """Beside the lesson-3b solutions, section 4's value_and_grad is the student's, and on the
    lesson's MLP loss it gives the reference's value and every parameter's gradient."""
    _copy(tmp_path, "lesson3b_reverse_arrays", "lesson8_learning")
    namespace, printed = run_cells(tmp_path / "lesson8_learning" / "lesson8_learning.ipynb",
                                   ENGINE_CELLS + ("task41-mlp-logits", "mlp-loss"), monkeypatch)
    assert printed["engine"].splitlines()[1] == "Section 4 runs on your lesson-3b engine."
    assert namespace["value_and_grad"] is namespace["value_and_grad_yours"]
    X, y = checks.two_moons(30, 0.2, 3)
    params = checks.init_mlp([2, 5, 4, 1], seed=4)
    argnums = tuple(range(len(params)))
    loss = lambda *ps: namespace["mlp_loss"](list(ps), X, y)
    value, grads = namespace["value_and_grad"](loss, argnums=argnums)(*params)
    ref_value, ref_grads = namespace["reference_value_and_grad"](loss, argnums=argnums)(*params)
    assert np.isclose(value, ref_value, rtol=1e-14)
    for g, r in zip(grads, ref_grads):
        assert g.shape == r.shape and np.allclose(g, r, rtol=1e-12, atol=1e-15)


def test_value_and_grad_on_the_engine_refuses_a_vector_output(tmp_path, monkeypatch):
    """The given cell's value_and_grad, run on the lesson-3b solutions: a clear error for a non-scalar f."""
    _copy(tmp_path, "lesson3b_reverse_arrays", "lesson8_learning")
    nb8 = notebooks.read(tmp_path / "lesson8_learning" / "lesson8_learning.ipynb")
    namespace = {"np": np, "checks": checks}
    source = {notebooks.grade_id(c): notebooks.source_text(c) for c in nb8.cells if notebooks.grade_id(c)}
    monkeypatch.chdir(tmp_path / "lesson8_learning")
    for gid in ("engine", "task40-logaddexp-vjp", "engine-value-and-grad"):
        exec(source[gid], namespace)
    vg = namespace["value_and_grad"]
    assert vg is namespace["value_and_grad_yours"]
    value, (gw, gb) = vg(lambda w, b: (np.logaddexp(0.0, w * 2.0 + b)).sum(), argnums=(0, 1))(
        np.array([0.5, -1.0]), np.array(0.25))
    z = np.array([0.5, -1.0]) * 2 + 0.25
    assert np.isclose(value, np.logaddexp(0, z).sum())
    assert np.allclose(gw, 2 * checks.sigmoid(z)) and np.isclose(gb, checks.sigmoid(z).sum()) and gb.shape == ()
    with pytest.raises(TypeError, match="must return a scalar"):
        vg(lambda w: w * 2.0)(np.ones(3))


def test_the_material_unbroadcast_matches_the_oracle():
    from autograder import material
    rng = np.random.default_rng(5)
    for shape, target in [((2, 3), (3,)), ((2, 3), (2, 1)), ((2, 3), ()), ((4, 2, 3), (1, 3)), ((3,), (3,))]:
        g = rng.normal(size=shape)
        got = material.unbroadcast(g, target)
        assert got.shape == target and np.allclose(got, unbroadcast(g, target), rtol=1e-14, atol=1e-14)
    with pytest.raises(ValueError, match="cannot come from broadcasting"):
        material.unbroadcast(np.ones(3), (2, 3))
