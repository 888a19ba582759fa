r"""Lesson 8's checks, Parts 1 and 2: gradient descent, the cross-entropy, the gradient by
forward mode and by hand; and the reporting every check of the lesson shares.

A failure names the input, the expected value, what came back and, where a
known mistake explains the answer exactly, the misconception: gradient
*ascent*, the learning rate applied twice, a sum where the mean over the batch
belongs (the factor is the batch size, and the hint says so), the sigmoid's
derivative left out. The oracles are the closed forms of :mod:`.material`, or
``autodiff_ref`` differentiating them; never the student's code.
"""
from autodiff_ref import Dual, grad
from autograder.checks import (TOLERANCES, Named, Raised, as_floats, attempt, call,
                               is_close, passed, same, show)
from autograder.checks import CheckFailure, distinguishable

from .material import (bce_reference, gd_step_reference, gradient_descent_reference,
                       logistic_data, logistic_gradient_reference, logistic_loss_reference, np,
                       quadratic_bowl, sigmoid)

_RECOGNISE_RTOL, _RECOGNISE_ATOL = TOLERANCES["recognise"]


# ============================================================================
# Reporting: one-line values, the misconceptions that are a constant factor
# ============================================================================
class Compact:
    """A value rendered on one line in a failure report (arrays summarised, with their shape)."""

    def __init__(self, value):
        self.value, self.text = value, _one_line(value)

    def __repr__(self):
        return self.text


def _one_line(value):
    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        value = value.item()
    if isinstance(value, np.ndarray):
        text = " ".join(np.array2string(value, precision=6, threshold=10, edgeitems=2, separator=", ",
                                        max_line_width=10 ** 6).split())
        return text if value.size <= 10 else f"shape {value.shape}: {text}"
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, np.ndarray) for v in value):
        if sum(v.size for v in value) <= 10:
            return "[" + ", ".join(_one_line(v) for v in value) + "]"
        return f"{len(value)} arrays of shapes " + ", ".join(str(v.shape) for v in value)
    return " ".join(show(value).split()) if not isinstance(value, str) else value


def compact_inputs(inputs):
    """A check's inputs (a dict of named values) with each value on one line."""
    return {k: Compact(v) for k, v in inputs.items()}


def failure(what, *, inputs=None, expected=None, got=None, hint=None):
    """A CheckFailure whose input, expected and got each fit on one line (and, when they
    would print alike, show enough digits to differ: :func:`..failure.distinguishable`)."""
    expected, got, hint = distinguishable(expected, got, hint)
    return CheckFailure(what, inputs=None if inputs is None else compact_inputs(inputs), hint=hint,
                        expected=None if expected is None else Compact(expected),
                        got=None if got is None else Compact(got))


def run_student(student, args, what, inputs):
    """``student(*args)``; an exception is a failure on these inputs (a blank task says "not done")."""
    return call(student, args, what=what, inputs=compact_inputs(inputs))


def compare(got, expected, what, inputs, hint=None, tol="exact"):
    """Fail unless `got` matches `expected` (named row `tol`); `hint` may be a function of nothing,
    called only on failure."""
    if not same(got, expected, tol):
        g = as_floats(got)
        raise failure(what, inputs=inputs, expected=expected, got=g if g is not None and g.ndim else got,
                      hint=hint() if callable(hint) else hint)


def unchanged(before, after, what, inputs, name):
    """Fail if the student's function wrote into its argument `name`."""
    if not np.array_equal(before, after):
        raise failure(what, inputs=inputs, expected=f"{name} left as it was: {_one_line(before)}",
                      got=f"{name} changed to {_one_line(np.asarray(after))}",
                      hint=f"your function modified its argument `{name}` in place (an augmented "
                           f"assignment such as `{name} -= …` or `{name} *= …` writes into the caller's "
                           f"array); compute a new array instead, e.g. `{name} = {name} - …` binds the name "
                           "to a new one")


def run_cases(student, cases, what, prepare, *, tol="exact", protect=()):
    """The loop of most checks: for each case, ``prepare(*case)`` gives ``(inputs, args,
    expected, hint)`` with ``hint(got) -> str | None``; the student is called on `args`, the
    arrays of `inputs` named in `protect` must come back unchanged, and the answer must
    match `expected`. Prints ✓ `what` when every case passes."""
    for case in cases:
        inputs, args, expected, hint = prepare(*case)
        before = {name: np.copy(inputs[name]) for name in protect}
        got = run_student(student, args, what, inputs)
        for name in protect:
            unchanged(before[name], inputs[name], what, inputs, name)
        compare(got, expected, what, inputs, lambda: hint(got), tol)
    passed(what, len(cases))


def first_match(got, variants):
    """The hint of the first (candidate, hint) that `got` equals (to the "recognise" row)."""
    return next((hint for candidate, hint in variants if same(got, candidate, "recognise")), None)


def near(a, b):
    """a = b to the relative precision of the "recognise" row (relative only: a ratio)."""
    return is_close(a, b, _RECOGNISE_RTOL, 0.0)


def scale_of(got, expected):
    """The one number c with got = c · expected entry by entry, or None."""
    g, e = as_floats(got), as_floats(expected)
    if g is None or e is None or g.shape != e.shape or e.size == 0:
        return None
    k = int(np.argmax(np.abs(e)))
    if e.flat[k] == 0:
        return None
    c = g.flat[k] / e.flat[k]
    return c if is_close(g, c * e, _RECOGNISE_RTOL, _RECOGNISE_ATOL * abs(e.flat[k])) else None


def factor_hint(c, n, *, sign, lr=None):
    """Explain got = c·expected for the usual constants: −1 (the sign), N (a sum over the batch),
    1/N (the mean taken twice) and, for a step, η and 1/η (the learning rate twice, or not at all)."""
    if c is None:
        return None
    if near(c, -1.0):
        return sign
    if lr is not None and near(c, lr):
        return f"each step is η²·∇: the learning rate η = {lr} is applied twice"
    if lr is not None and near(c, 1 / lr):
        return f"each step is the bare gradient: multiply it by the learning rate η = {lr}"
    if n > 1 and near(c, float(n)):
        return (f"your answer is exactly {n} × the expected one, and {n} is the batch size: you "
                f"summed over the batch where the loss takes the mean (divide by N = {n})")
    if n > 1 and near(c, 1.0 / n):
        return f"your answer is exactly 1/{n} of the expected one: you divided by the batch size N = {n} twice"
    return None


# ============================================================================
# Task 1.1: one gradient-descent step θ − η∇f(θ)
# ============================================================================
def rosenbrock_grad():
    """∇ of Rosenbrock's banana function, a named callable (the checks of Tasks 1.1–1.4 use it)."""
    def g(theta):
        x, y = theta
        return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])
    return Named("∇ of the Rosenbrock function (1−x)² + 100(y−x²)²", g)


def _step_hint(grad_f, theta, lr, expected, got):
    g = as_floats(got)
    if g is None or g.shape != expected.shape:
        return f"return the new point as an array shaped like θ, {expected.shape}"
    step = -lr * grad_f(theta)
    if same(g, theta, "recognise"):
        return "θ did not move: the new point is θ − η·∇f(θ)"
    if same(g, step, "recognise"):
        return "you returned the step −η·∇f(θ); return the new point θ − η·∇f(θ)"
    return factor_hint(scale_of(g - theta, step), 1, lr=lr, sign=(
        "you moved uphill: θ + η·∇f(θ) is gradient ascent; descent subtracts the gradient, θ − η·∇f(θ)"))


def _gd_step_case(grad_f, theta, lr):
    start = np.copy(theta)
    expected = gd_step_reference(grad_f, start, lr)
    return ({"grad_f": grad_f, "theta": theta, "lr": lr}, (grad_f, theta, lr), expected,
            lambda got: _step_hint(grad_f, start, lr, expected, got))


def check_gd_step(gd_step):
    """Visible: one step on a tilted quadratic bowl, three learning rates."""
    _, grad_f, _, _ = quadratic_bowl()
    cases = [(grad_f, np.array([-1.5, 2.0]), 0.1), (grad_f, np.array([0.0, 0.0]), 0.05),
             (grad_f, np.array([3.0, -1.0]), 0.18)]
    run_cases(gd_step, cases, "gd_step on the quadratic bowl", _gd_step_case, protect=("theta",))


def check_gd_step_hidden(gd_step):
    """Hidden: a non-quadratic function, a 5-D bowl, tiny and large steps."""
    rng = np.random.default_rng(81)
    M = rng.normal(size=(5, 5))
    A = M @ M.T + np.eye(5)
    bowl5 = Named("∇ of ½θᵀAθ − Σθ in 5-D", lambda th: A @ th - 1.0)
    cases = [(rosenbrock_grad(), np.array([-1.2, 1.0]), 1e-3),
             (bowl5, rng.normal(size=5), 0.02),
             (bowl5, rng.normal(size=5), 0.3)]
    run_cases(gd_step, cases, "gd_step on other functions", _gd_step_case, protect=("theta",))


# ============================================================================
# Task 1.2: the gradient-descent loop, the path θ₀ … θ_n
# ============================================================================
def _path_hint(grad_f, lr, n_steps, expected, got):
    g = as_floats(got)
    if g is None or g.ndim != 2:
        return (f"return the whole path as one array of shape (n_steps + 1, d) = {expected.shape}: "
                "row k is θ_k, starting with θ₀ (np.array(list_of_points) builds it)")
    if g.shape != expected.shape:
        if g.shape[0] == n_steps and same(g, expected[1:], "recognise"):
            return "the path must start with θ₀ itself: n_steps steps give n_steps + 1 points"
        if g.shape[0] == n_steps and same(g, expected[:-1], "recognise"):
            return "one step short: take n_steps steps, so the path has n_steps + 1 points"
        if g.shape[0] == n_steps + 2:
            return "one step too many: n_steps steps give n_steps + 1 points (θ₀ included)"
        return f"the path should have shape (n_steps + 1, d) = {expected.shape}"
    if n_steps >= 1 and all(same(row, g[-1], "recognise") for row in g) \
            and not same(g[-1], expected[0], "recognise"):
        return ("every row is the same array: the loop updated one array in place and stored it "
                "again and again; store a new array for each point")
    if n_steps >= 2 and all(same(row, expected[1], "recognise") for row in g[1:]):
        return "every step started again from θ₀: feed each new point into the next step"
    if not same(g[0], expected[0], "recognise"):
        return "row 0 of the path must be θ₀"
    if not same(g[1], expected[1], "recognise"):
        return "the first step is already wrong: " + (_step_hint(grad_f, expected[0], lr, expected[1], g[1])
                                                      or "check gd_step")
    return None


def _descent_case(grad_f, theta0, lr, n_steps):
    expected = gradient_descent_reference(grad_f, np.copy(theta0), lr, n_steps)
    return ({"grad_f": grad_f, "theta0": theta0, "lr": lr, "n_steps": n_steps}, (grad_f, theta0, lr, n_steps),
            expected, lambda got: _path_hint(grad_f, lr, n_steps, expected, got))


def check_gradient_descent(gradient_descent):
    """Visible: short paths on the quadratic bowl."""
    _, grad_f, _, _ = quadratic_bowl()
    cases = [(grad_f, np.array([-1.5, 2.0]), 0.1, 1), (grad_f, np.array([-1.5, 2.0]), 0.1, 5),
             (grad_f, np.array([2.5, -0.5]), 0.15, 12)]
    run_cases(gradient_descent, cases, "gradient_descent on the quadratic bowl", _descent_case,
              tol="solver", protect=("theta0",))


def check_gradient_descent_hidden(gradient_descent):
    """Hidden: zero steps, a long path, a diverging learning rate, another function."""
    _, grad_f, _, _ = quadratic_bowl(angle_deg=-20.0, eigenvalues=(0.5, 4.0), center=(0.0, 2.0))
    cases = [(grad_f, np.array([1.0, 1.0]), 0.1, 0), (grad_f, np.array([1.0, -1.0]), 0.2, 60),
             (grad_f, np.array([1.0, -1.0]), 0.55, 8),
             (rosenbrock_grad(), np.array([-1.0, 1.5]), 5e-4, 25)]
    run_cases(gradient_descent, cases, "gradient_descent: edge cases and other functions", _descent_case,
              tol="solver", protect=("theta0",))


# ============================================================================
# Task 2.1: binary cross-entropy on logits, mean of log(1 + e^z) − y·z
# ============================================================================
def _bce_hint(z, y, expected, got):
    g = as_floats(got)
    if g is None or g.shape != ():
        return "return one number (a scalar): the mean over the batch of log(1 + e^z) − y·z"
    if expected != 0:
        h = factor_hint(float(g) / expected, len(y), sign=(
            "your loss has the opposite sign: y·log σ(z) + (1−y)·log(1−σ(z)) is the log-likelihood, "
            "which learning maximises; the loss to minimise is its negative (a common slip is to "
            "print it without the minus sign)"))
        if h:
            return h
    return first_match(g, [
        (bce_reference(z, 1 - y), "the labels are swapped: the loss of a logit z with label y is log(1 + e^z) − y·z"),
        (float(np.mean(np.logaddexp(0.0, z))), "the −y·z term is missing: the loss is log(1 + e^z) − y·z"),
        (expected / np.log(10), "use the natural logarithm (np.log), not log10")])


def _bce_case(z, y):
    expected = bce_reference(z, y)
    return {"z": z, "y": y}, (z, y), expected, lambda got: _bce_hint(z, y, expected, got)


def check_bce(bce_with_logits):
    """Visible: the value on three small batches."""
    rng = np.random.default_rng(82)
    cases = [(np.array([0.0]), np.array([1.0])),
             (np.array([1.0, -2.0, 0.5]), np.array([1.0, 0.0, 1.0])),
             (rng.normal(size=7) * 2, (rng.random(7) < 0.5).astype(float))]
    run_cases(bce_with_logits, cases, "bce_with_logits values", _bce_case, tol="solver")


def check_bce_hidden(bce_with_logits):
    """Hidden: larger batches, one-element batches, soft labels."""
    rng = np.random.default_rng(84)
    cases = [(rng.normal(size=50) * 3, (rng.random(50) < 0.5).astype(float)),
             (np.array([-3.0]), np.array([0.0])), (np.array([2.5]), np.array([1.0])),
             (rng.normal(size=9), rng.random(9))]
    run_cases(bce_with_logits, cases, "bce_with_logits on other batches", _bce_case, tol="solver")


def check_bce_stable(bce_with_logits):
    """Large logits: the value must stay finite and right (no overflow, no log 0)."""
    cases = [(np.array([40.0, -40.0]), np.array([0.0, 1.0])),
             (np.array([-800.0, 800.0, 0.5]), np.array([0.0, 1.0, 1.0])),
             (np.array([-800.0, 800.0]), np.array([1.0, 0.0]))]
    hint = ("for large |z|, e^z overflows to inf, or 1 − σ(z) rounds to 0 and its log is −inf: write "
            "log(1 + e^z) as m + log(e^(−m) + e^(z − m)) with m = max(z, 0), so no exponent is positive")
    with np.errstate(all="ignore"):
        run_cases(bce_with_logits, cases, "bce_with_logits for large |z| (numerical stability)",
                  lambda z, y: ({"z": z, "y": y}, (z, y), bce_reference(z, y), lambda got: hint), tol="solver")


def _bce_grad_hint(z, y, expected, got):
    g = as_floats(got)
    if g is None or g.shape != z.shape:
        return None
    kink = z == 0
    off = g - expected
    if kink.any() and same(off[~kink], 0 * off[~kink], "recognise") and \
            same(np.abs(off[kink]), np.full(kink.sum(), 0.5 / len(y)), "recognise"):
        return ("right everywhere except at z = 0, off by ½/N there: your formula uses |z| or max(z, 0), "
                "whose kinks at 0 each get a one-sided derivative from AD, and the two sides do not "
                "cancel; use log(1 + e^z) = m + log(e^(−m) + e^(z − m)) with m = max(z, 0), which "
                "does not depend on m at all")
    return None


def _derivative_by(mode, bce_with_logits, z, y):
    """∂L/∂z of the student's loss by forward mode (one Dual with the identity tangent) or by
    reverse mode; None when a Dual went in and a plain number came out."""
    if mode == "reverse":
        return grad(lambda zz: bce_with_logits(zz, y))(z)
    out = bce_with_logits(Dual(z, np.eye(len(z))), y)
    return out.tangent if isinstance(out, Dual) else None


def check_bce_differentiable(bce_with_logits):
    r"""Both AD modes must get ∂L/∂z = (σ(z) − y)/N from the student's formula, z = 0 included."""
    what = "the derivative of bce_with_logits by forward and reverse mode"
    rng = np.random.default_rng(83)
    cases = [(np.array([0.0, 0.0]), np.array([1.0, 0.0])),
             (np.array([0.3, -1.2, 0.0, 2.0]), np.array([0.0, 1.0, 1.0, 1.0])),
             (rng.normal(size=6), (rng.random(6) < 0.5).astype(float))]
    for z, y in cases:
        inputs = {"z": z, "y": y}
        expected = (sigmoid(z) - y) / len(y)
        run_student(bce_with_logits, (z, y), what, inputs)  # the value first: a blank task is "not done"
        for mode in ("forward", "reverse"):
            got = attempt(_derivative_by, mode, bce_with_logits, z, y)
            if isinstance(got, Raised):
                raise failure(what, inputs=inputs, expected=expected, got=got, hint=(
                    "build the loss from functions autodiff_ref differentiates (np.logaddexp, "
                    "np.maximum, np.exp, np.log, np.log1p, np.abs, np.mean, +, −, ×); scipy.special "
                    "has no rules in our library") if isinstance(got.err, NotImplementedError)
                    else f"{mode} mode could not run through your loss")
            if got is None:
                raise failure(what, inputs=inputs, expected=expected, got="a plain number (no tangent)",
                              hint="on a Dual input your loss returned a plain number: it converted "
                                   "the dual to float (float(), .item(), math.*) and dropped the tangent")
            compare(got, expected, f"{what} ({mode} mode)", inputs, lambda: _bce_grad_hint(z, y, expected, got))
    passed(what, 2 * len(cases))


# ============================================================================
# Task 2.2: the gradient by forward mode, one pass with the identity tangent
# ============================================================================
class _Spy:
    """Wrap a loss and record what it is called with (to see how the gradient was obtained)."""

    def __init__(self, loss, description):
        self.loss, self.description, self.calls = loss, description, []

    def __call__(self, w, *rest):
        self.calls.append(w)
        return self.loss(w, *rest)

    def __repr__(self):
        return self.description


def _ridge_squared_loss(w, X, y):
    """Mean squared error + 0.1‖w‖²."""
    r = X @ w - y
    return np.mean(r * r) + 0.1 * np.sum(w * w)


def _ridge_squared_grad(w, X, y):
    """2Xᵀ(Xw − y)/N + 0.2w."""
    return 2 * X.T @ (X @ w - y) / len(y) + 0.2 * w


def logistic_cases(seeds_and_dims):
    """(w, X, y) for each (seed, N, d): seeded logistic data and weights w ~ N(0, ¼)."""
    cases = []
    for seed, n, d in seeds_and_dims:
        X, y = logistic_data(n, d, seed)
        w = np.random.default_rng(seed + 1000).normal(size=d) * 0.5
        cases.append((w, X, y))
    return cases


def _forward_hint(dual, d, got, expected, value):
    g, tangent = as_floats(got), as_floats(dual.tangent)
    if tangent is not None and tangent.shape == (d,) and \
            (same(g, float(np.sum(expected)), "recognise") or same(g, expected @ tangent, "recognise")):
        return ("the tangent has one direction, so you got one directional derivative (∇L·v, a "
                "single number); give the tangent d directions, the identity np.eye(d), "
                "to get all d partial derivatives")
    if g is not None and g.size == 1 and same(g, value, "recognise"):
        return "that is the loss value (the primal part); the gradient is the tangent part, .tangent"
    if tangent is not None and tangent.shape == (d, d) and not same(tangent, np.eye(d), "recognise"):
        return "the tangent must be the identity: column j of np.eye(d) is the direction of w_j"
    if g is not None and g.shape != expected.shape:
        return f"return the gradient as an array of shape {expected.shape} (the tangent of the loss)"
    return None


def _run_forward_gradient(student, loss, loss_grad, description, cases, what):
    for w, X, y in cases:
        spy = _Spy(loss, description)
        inputs = {"loss": spy, "w": w, "X": X, "y": y}
        expected = loss_grad(w, X, y)
        got = run_student(student, (spy, w, X, y), what, inputs)
        d = len(w)
        duals = [c for c in spy.calls if isinstance(c, Dual)]
        if not duals:
            how = ("with plain arrays" if spy.calls else "not at all")
            raise failure(what, inputs=inputs, expected="the loss called once with a Dual",
                          got=f"the loss was called {len(spy.calls)} time(s), {how}",
                          hint="build w as a Dual whose tangent is the d×d identity, Dual(w, np.eye(d)), "
                               "and call the loss on it (reverse mode, grad, is not this task)")
        if len(spy.calls) > 1:
            raise failure(what, inputs=inputs, expected="1 call of the loss", got=f"{len(spy.calls)} calls",
                          hint=f"one pass is enough: a tangent with {d} directions (the identity) "
                               "carries every partial derivative at once")
        compare(got, expected, what, inputs, lambda: _forward_hint(duals[0], d, got, expected, loss(w, X, y)))
    passed(what, len(cases))


def check_forward_gradient(forward_mode_gradient):
    """Visible: the logistic loss, d = 1, 3 and 5."""
    _run_forward_gradient(forward_mode_gradient, logistic_loss_reference, logistic_gradient_reference,
                          "the logistic loss (mean cross-entropy)",
                          logistic_cases([(85, 20, 1), (86, 30, 3), (87, 40, 5)]),
                          "forward_mode_gradient of the logistic loss")


def check_forward_gradient_hidden(forward_mode_gradient):
    """Hidden: a ridge-regularised squared loss (a different function), d = 2 and 12."""
    _run_forward_gradient(forward_mode_gradient, _ridge_squared_loss, _ridge_squared_grad,
                          "mean squared error + 0.1‖w‖²", logistic_cases([(88, 15, 2), (89, 60, 12)]),
                          "forward_mode_gradient of another loss")


# ============================================================================
# Task 2.3: the gradient by hand, Xᵀ(σ(Xw) − y)/N
# ============================================================================
def _logistic_grad_hint(w, X, y, expected, got):
    g = as_floats(got)
    n = len(y)
    if g is None or g.shape != expected.shape:
        return (f"the gradient has one entry per weight, shape {expected.shape}: Xᵀ(σ(Xw) − y)/N "
                "(X.T @ …, not X @ …)")
    s = sigmoid(X @ w)
    return factor_hint(scale_of(g, expected), n, sign=(
        "the sign is flipped: Xᵀ(y − σ) is the gradient of the log-likelihood (stepping along it is "
        "ascent); the loss's gradient is Xᵀ(σ(Xw) − y)/N")) or first_match(g, [
        (X.T @ (-(y / s - (1 - y) / (1 - s))) / n,
         "the sigmoid's derivative is missing: d/dz of −[y log σ + (1−y) log(1−σ)] is "
         "−[y/σ − (1−y)/(1−σ)]·σ′(z), and σ′ = σ(1−σ) turns it into σ − y"),
        (X.T @ ((s - y) * s * (1 - s)) / n,
         "σ′(z) = σ(1−σ) was applied on top of σ − y: for the cross-entropy it has already cancelled"),
        (X.T @ (X @ w - y) / n,
         "that is the least-squares gradient: the logistic model predicts σ(Xw), so use σ(Xw) − y")])


def _logistic_case(w, X, y):
    expected = logistic_gradient_reference(w, X, y)
    return {"w": w, "X": X, "y": y}, (w, X, y), expected, lambda got: _logistic_grad_hint(w, X, y, expected, got)


def check_logistic_gradient(logistic_gradient):
    """Visible: the closed-form gradient on three seeded problems."""
    run_cases(logistic_gradient, logistic_cases([(90, 8, 2), (91, 25, 3), (92, 50, 4)]),
              "logistic_gradient (by hand)", _logistic_case)


def check_logistic_gradient_hidden(logistic_gradient):
    """Hidden: d = 1, a large batch, large weights."""
    cases = logistic_cases([(93, 12, 1), (94, 400, 6)])
    X, y = logistic_data(30, 3, 95)
    cases.append((np.array([4.0, -3.0, 2.5]), X, y))
    run_cases(logistic_gradient, cases, "logistic_gradient on other problems", _logistic_case)
