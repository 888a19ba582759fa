r"""Lesson 3's material: the programs its tapes come from, and the design it argues against.

- :func:`chain`: x ← 0.9999·x + 0.0001 repeated, a tape as deep as it is long
  (2 entries per step), where a recursive graph walk runs out of stack;
- :func:`random_program`: a random scalar program of the lesson's primitives;
- :class:`ClosureValue`: micrograd's design, each result holding a closure
  that sends its adjoint back: v̄ⱼ += v̄ᵢ·c_ij, written once per operation.
"""
from ..examples import NUMPY


def chain(x, length):
    """x·0.9999 + 0.0001 repeated `length` times: dy/dx = 0.9999^length."""
    for _ in range(length):
        x = x * 0.9999 + 0.0001
    return x


#: primitive -> (is it safe on (a, b)?, its value); unary ones use a only.
_PRIMITIVES = {
    "add": (lambda a, b: True, lambda a, b: a + b),
    "sub": (lambda a, b: True, lambda a, b: a - b),
    "mul": (lambda a, b: abs(a * b) < 50, lambda a, b: a * b),
    "div": (lambda a, b: abs(b) > 0.3 and abs(a / b) < 50, lambda a, b: a / b),
    "sin": (lambda a, b: True, lambda a, b: NUMPY.sin(a)),
    "log": (lambda a, b: a > 0.1, lambda a, b: NUMPY.log(a)),
}
_UNARY = ("sin", "log")


def random_program(rng, n_inputs, length):
    """A random scalar program of `length` operations on `n_inputs` inputs drawn from
    [0.5, 2], each operation safe on the values it meets: (f, inputs)."""
    ops = []
    values = list(rng.uniform(0.5, 2.0, n_inputs))
    names = list(_PRIMITIVES)
    while len(ops) < length:
        op = names[rng.integers(6)]
        j, k = (int(i) for i in rng.integers(len(values), size=2))
        k = j if op in _UNARY else k
        safe, value = _PRIMITIVES[op]
        if safe(values[j], values[k]):
            ops.append((op, j, k))
            values.append(value(values[j], values[k]))

    def f(*xs):
        vs = list(xs)
        for op, j, k in ops:
            vs.append(_PRIMITIVES[op][1](vs[j], vs[k]))
        return vs[-1]
    return f, tuple(values[:n_inputs])


class ClosureValue:
    """A scalar that remembers how to send its gradient back: micrograd's design.

    Every result keeps its operands (``_prev``) and a ``_backward`` closure that
    reads ``out.grad`` — so ``out`` → ``_backward`` → closure cell → ``out``
    is a reference cycle, and ``backward`` orders the graph by a recursive
    depth-first search.
    """
    __slots__ = ("data", "grad", "_prev", "_backward", "__weakref__")

    def __init__(self, data, prev=()):
        self.data, self.grad, self._prev = data, 0.0, prev
        self._backward = _nothing

    def __add__(self, other):
        other = other if isinstance(other, ClosureValue) else ClosureValue(other)
        out = ClosureValue(self.data + other.data, (self, other))

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, ClosureValue) else ClosureValue(other)
        out = ClosureValue(self.data * other.data, (self, other))

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    __radd__, __rmul__ = __add__, __mul__

    def backward(self):
        order, seen = [], set()

        def visit(v):  # recursive depth-first search, as in micrograd
            if v not in seen:
                seen.add(v)
                for child in v._prev:
                    visit(child)
                order.append(v)
        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            v._backward()


def _nothing():
    return None
