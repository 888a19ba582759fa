r"""The forward solution kept for the backward pass: checkpoints and dense output.

The checkpointed adjoint (``odeint(..., adjoint="checkpoint")``, the default
for dopri5 and the stiff solver) needs y(t) at any time t of the backward
solve. Instead of re-integrating y backwards (where the modes that decay
forwards grow), it reads y(t) from the forward solve:

**What is stored.** For every accepted step j its start time tⱼ and size hⱼ
(two floats), and the state yⱼ at every ``every``-th step (a *checkpoint*).
Memory: :math:`2N + \lceil N/K\rceil n` floats for N steps, n states and
``every = K``, plus, during the backward pass, one segment of K states and
the stages of one step. ``every = 1`` (the default) keeps every yⱼ:
:math:`(n + 2) N` floats. ``every ≈ √N`` makes the total :math:`O(n\sqrt N)`.

**Recomputing a segment.** Asked for step j, the trajectory re-runs the K
steps of j's segment forward from its checkpoint with the *recorded* step
sizes (no error control, so the very same steps), and keeps their states.

**Dense output.** Inside step j, y(tⱼ + θhⱼ), θ ∈ [0, 1], is a polynomial
built from the step's stages :math:`k_1 \dots k_s`:

.. math:: y(t_j + \theta h_j) = y_j + h_j \sum_{m=1}^{4} \theta^m\, (K^\top P)_{:,m}

for dopri5 (Dormand & Prince's continuous extension of order 4, the
coefficients P of Shampine 1986, as in scipy's RK45), and the cubic Hermite
polynomial through :math:`(y_j, f_j)` and :math:`(y_{j+1}, f_{j+1})` for the
other methods (order 3; exact at the steps).
"""
import bisect
from typing import NamedTuple

import numpy as np

from .core import primal

__all__ = ["Trajectory", "StepRecord", "DOPRI5_DENSE"]

#: Dormand–Prince dense-output weights: row i is stage i, column m−1 the power θᵐ.
DOPRI5_DENSE = np.array([
    [1, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
    [0, 0, 0, 0],
    [0, 131558114200 / 32700410799, -68118460800 / 10900136933, 87487479700 / 32700410799],
    [0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
    [0, 127303824393 / 49829197408, -318862633887 / 49829197408, 701980252875 / 199316789632],
    [0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
    [0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423]])


class StepRecord(NamedTuple):
    """One accepted step of the forward solve, recomputed: enough to interpolate inside it."""
    t: float              # the step's start tⱼ
    h: float              # its size hⱼ (negative when integrating backwards)
    y: np.ndarray         # yⱼ
    coefficients: np.ndarray  # (n, degree): y(tⱼ + θh) = yⱼ + h Σₘ θᵐ coefficients[:, m−1]


class Trajectory:
    r"""The accepted steps of one forward solve; y(t) at any t between t₀ and the end.

    Filled by the solver (:meth:`record` once per accepted step); read by the
    backward pass (:meth:`__call__`). `replay(y, t, h)` must redo one step of
    the solver with a given size and return ``(y_next, stages)``; `dense`
    turns a step into interpolation coefficients.
    """

    def __init__(self, n, every, replay, dense):
        if every < 1:
            raise ValueError(f"odeint: checkpoint_every must be a positive integer, got {every!r}")
        self.n, self.every, self.replay, self.dense = n, int(every), replay, dense
        self.times = np.empty(64)        # tⱼ, then hⱼ, of every accepted step: grows by doubling
        self.sizes = np.empty(64)
        self.checkpoints = np.empty((8, n))
        self.steps = 0
        self._segment = (None, None)     # (index of the segment, its states (K, n))
        self._step = None                # the StepRecord asked for last

    # ---- filled by the forward solve --------------------------------------------------------
    def record(self, t, h, y):
        """Keep step j = self.steps: its start, its size and (at a checkpoint) its state."""
        j = self.steps
        if j == len(self.times):
            self.times, self.sizes = _grown(self.times), _grown(self.sizes)
        self.times[j], self.sizes[j] = t, h
        if j % self.every == 0:
            c = j // self.every
            if c == len(self.checkpoints):
                self.checkpoints = _grown(self.checkpoints)
            self.checkpoints[c] = y
        self.steps = j + 1

    @property
    def nbytes(self):
        """Bytes held between the forward and the backward pass (the buffers, as allocated)."""
        return self.times.nbytes + self.sizes.nbytes + self.checkpoints.nbytes

    def boundaries(self, start, stop):
        """The step starts strictly between `start` and `stop`, ordered from `start` to `stop`."""
        times = self.times[:self.steps]
        lo, hi = min(start, stop), max(start, stop)
        forward = times[0] <= times[-1] if self.steps else True
        inside = times[(times > lo) & (times < hi)]
        inside = inside if forward else inside[::-1]          # now increasing
        return list(inside[::-1] if start > stop else inside)

    # ---- read by the backward pass ----------------------------------------------------------
    def state(self, j):
        """yⱼ, from its checkpoint or by re-running its segment forward."""
        segment, states = self._segment
        if segment != j // self.every:
            segment = j // self.every
            first = segment * self.every
            count = min(self.every, self.steps - first)
            states = np.empty((count, self.n))
            states[0] = self.checkpoints[segment]
            for i in range(1, count):
                step = first + i - 1
                states[i], _ = self.replay(states[i - 1], self.times[step], self.sizes[step])
            self._segment = (segment, states)
        return states[j - segment * self.every]

    def step(self, j):
        """The :class:`StepRecord` of step j (its stages recomputed, one step's worth of f calls)."""
        if self._step is None or self._step[0] != j:
            y, t, h = self.state(j), float(self.times[j]), float(self.sizes[j])
            y_next, stages = self.replay(y, t, h)
            self._step = (j, StepRecord(t, h, y, self.dense(y, t, h, y_next, stages)))
        return self._step[1]

    def __call__(self, t):
        """y(t) by the dense output of the step that contains t."""
        if self.steps == 0:
            raise ValueError("odeint: the forward solve took no steps; nothing to interpolate")
        times, at = self.times[:self.steps], float(primal(t))
        if self.sizes[0] > 0:
            j = bisect.bisect_right(times, at) - 1
        else:  # starts decrease: search the negated times
            j = bisect.bisect_right(-times, -at) - 1
        record = self.step(min(max(j, 0), self.steps - 1))
        theta = (t - record.t) / record.h    # a dual when t is (∂y/∂t by forward mode)
        total, power = 0.0, 1.0
        for m in range(record.coefficients.shape[1]):
            power = power * theta
            total = total + power * record.coefficients[:, m]
        return record.y + record.h * total


def _grown(buffer):
    """The buffer with twice the rows (amortised O(1) appends, one contiguous block)."""
    bigger = np.empty((2 * len(buffer),) + buffer.shape[1:])
    bigger[:len(buffer)] = buffer
    return bigger


def dopri5_dense(y, t, h, y_next, stages):
    """Dormand–Prince's quartic continuous extension: coefficients Kᵀ P (n × 4)."""
    return np.asarray(stages).T @ DOPRI5_DENSE


def hermite_dense(field):
    r"""The cubic Hermite interpolant of a step, from y and f at both ends.

    .. math:: y(\theta) = y_0 + h\,[\theta f_0 + \theta^2 (3\Delta - 2f_0 - f_1)
              + \theta^3 (f_0 + f_1 - 2\Delta)], \qquad \Delta = (y_1 - y_0)/h.
    """
    def dense(y, t, h, y_next, stages):
        f0, f1 = field(y, t), field(y_next, t + h)
        slope = (y_next - y) / h
        return np.stack([f0, 3 * slope - 2 * f0 - f1, f0 + f1 - 2 * slope], axis=1)
    return dense
