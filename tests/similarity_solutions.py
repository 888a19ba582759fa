"""Independent, correct solutions of lesson 0 written in other styles than the reference
(for tests/test_similarity.py: they must not be flagged as copies of it or of each other)."""

ALICE = {
"task01-central-difference": '''# Task 0.1: the central difference
def central_difference(f, x, h):
    """Approximate f'(x) by (f(x+h) - f(x-h)) / (2h)."""
    forward = f(x + h)
    backward = f(x - h)
    slope = (forward - backward) / (2.0 * h)
    return slope''',
"task02-fd-gradient": '''# Task 0.2: the gradient by central differences
def fd_gradient(f, x, h):
    """Central-difference gradient of a scalar function f at the 1-d array x."""
    n = len(x)
    out = []
    for k in range(n):
        step = np.zeros_like(x, dtype=float)
        step[k] += h
        up, down = f(x + step), f(x - step)
        out.append((up - down) / (2.0 * h))
    return np.array(out)''',
"task03-mixed-partial": '''# Task 0.3: the mixed partial derivative d²f/dxdy by the 4-point formula
def mixed_partial(f, x, y, h):
    """Approximate d²f/dxdy at (x, y) with the four corners (x±h, y±h)."""
    pp = f(x + h, y + h)
    pm = f(x + h, y - h)
    mp = f(x - h, y + h)
    mm = f(x - h, y - h)
    return ((pp - pm) - (mp - mm)) / (4.0 * h ** 2)''',
"task04-optimal-step": '''# Task 0.4: the step h* that minimises the error model
def optimal_step(order, M, f_scale, eps=EPS):
    """h* for the forward (order=1) or central (order=2) difference."""
    if order not in (1, 2):
        raise ValueError("order is 1 (forward) or 2 (central)")
    if order == 2:
        return np.cbrt(1.5 * eps * f_scale / M)
    return np.sqrt(2.0 * eps * f_scale / M)''',
}

DAVE = {
"task01-central-difference": '''# Task 0.1: the central difference
def central_difference(f, x, h):
    """Approximate f'(x) by (f(x+h) - f(x-h)) / (2h)."""
    return 0.5 * (f(x + h) - f(x - h)) / h''',
"task02-fd-gradient": '''# Task 0.2: the gradient by central differences
def fd_gradient(f, x, h):
    """Central-difference gradient of a scalar function f at the 1-d array x."""
    basis = np.eye(x.size) * h
    return np.array([f(x + e) - f(x - e) for e in basis]) / (2 * h)''',
"task03-mixed-partial": '''# Task 0.3: the mixed partial derivative d²f/dxdy by the 4-point formula
def mixed_partial(f, x, y, h):
    """Approximate d²f/dxdy at (x, y) with the four corners (x±h, y±h)."""
    total = 0.0
    for sx in (1, -1):
        for sy in (1, -1):
            total += sx * sy * f(x + sx * h, y + sy * h)
    return total / (4 * h * h)''',
"task04-optimal-step": '''# Task 0.4: the step h* that minimises the error model
def optimal_step(order, M, f_scale, eps=EPS):
    """h* for the forward (order=1) or central (order=2) difference."""
    constants = {1: (2.0, 0.5), 2: (1.5, 1.0 / 3.0)}
    try:
        c, power = constants[order]
    except KeyError:
        raise ValueError(f"order must be 1 or 2, got {order}") from None
    return (c * eps * f_scale / M) ** power''',
}
