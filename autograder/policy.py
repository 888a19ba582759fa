"""What each graded task may use, as data.

A task either builds a piece itself (the reference library, or the part of
it the task re-implements, is out of reach) or is meant to use the library
(it says which parts). The sandbox (:mod:`autograder.sandbox`) enforces a
policy by taking the forbidden modules and functions away before the
student's code runs, so no name, alias or route reaches them; a use gets 0 on
that task and the line of :attr:`Policy.message` in the feedback.

A task is named by the first ``Task N.M`` in its test cell's first line
(``# Check Task 2.2: …``). Tasks not listed get :data:`BUILD_IT`.
"""
import re
from dataclasses import dataclass

from .sandbox import AD_LIBRARIES

#: Other automatic-differentiation and symbolic libraries: never the student's own work.
OTHER_AD = tuple(m for m in AD_LIBRARIES if m != "autodiff_ref") + ("sympy",)
#: Everything in autodiff_ref that differentiates for you.
REF_AD = ("autodiff_ref.jvp", "autodiff_ref.vjp", "autodiff_ref.grad", "autodiff_ref.value_and_grad",
          "autodiff_ref.jacfwd", "autodiff_ref.jacrev", "autodiff_ref.hessian", "autodiff_ref.derivative",
          "autodiff_ref.fixed_point", "autodiff_ref.root", "autodiff_ref.odeint", "autodiff_ref.check_grads")


@dataclass(frozen=True)
class Policy:
    """What a task's code may not reach, and what to tell a student who reached for it."""
    task: str
    builds: str                                  # what the task asks the student to build
    forbid_modules: tuple = ("autodiff_ref",) + OTHER_AD
    forbid_names: tuple = ()

    @property
    def message(self):
        return f"{self.task} asks you to build {self.builds} yourself"

    @property
    def key(self):
        """Tasks with the same key can share one sandbox."""
        return (self.forbid_modules, self.forbid_names)


def _uses(task, builds, *, may_use=(), forbid=()):
    """A task meant to use the library: everything that differentiates is taken away except `may_use`."""
    names = tuple(n for n in REF_AD if n.rpartition(".")[2] not in may_use) + tuple(forbid)
    return Policy(task, builds, forbid_modules=OTHER_AD, forbid_names=names)


#: assignment -> task -> Policy (tasks not listed: the whole library is out of reach).
POLICIES = {
    "lesson0_three_ways": {
        t: Policy(t, what, forbid_names=("numpy.gradient",)) for t, what in (
            ("Task 0.1", "the central difference"), ("Task 0.2", "the gradient by central differences"),
            ("Task 0.3", "the mixed partial"), ("Task 0.4", "the optimal step"))},
    "lesson1_dual_numbers": {},
    "lesson2_forward_mode": {
        "Task 2.1": _uses("Task 2.1", "the trace's values and tangents", forbid=("autodiff_ref.trace",)),
        "Task 2.1b": _uses("Task 2.1b", "the tangent sweep", forbid=("autodiff_ref.trace",)),
        "Task 2.2": _uses("Task 2.2", "the JVP from the library's Dual", forbid=("autodiff_ref.trace",)),
        "Task 2.3": _uses("Task 2.3", "the Jacobian from your JVPs", forbid=("autodiff_ref.trace",)),
        "Task 2.4": _uses("Task 2.4", "the one-pass Jacobian from the library's Dual",
                          forbid=("autodiff_ref.trace",)),
    },
    "lesson3_reverse_mode": {},
    "lesson3b_reverse_arrays": {
        t: Policy(t, what) for t, what in (
            ("Task 1.1", "unbroadcast"), ("Task 1.2", "the elementwise VJP rules"),
            ("Task 1.3", "the VJP of sum"), ("Task 1.4", "the VJPs of matmul"),
            ("Task 1.5", "the VJP of indexing"), ("Task 1.6", "the VJPs of reshape and transpose"),
            ("Task 2.1", "the reverse sweep"), ("Task 2.2", "grad on your tape"),
            ("Task 3.1", "the MLP's loss"), ("Task 3.2", "the training step on your engine"))},
    "lesson4_higher_order": {
        "Task 4.1": _uses("Task 4.1", "f'' by nesting jvp (not derivative or hessian)", may_use=("jvp",)),
        "Task 4.2": _uses("Task 4.2", "the Hessian-vector product from jvp and grad (not hessian)",
                          may_use=("jvp", "grad", "value_and_grad", "vjp")),
        "Task 4.3": _uses("Task 4.3", "the Newton step from grad and hessian",
                          may_use=("jvp", "grad", "value_and_grad", "vjp", "hessian", "jacfwd", "jacrev")),
    },
    "lesson5_linear_maps": {
        **{t: _uses(t, what) for t, what in (
            ("Task 5.1", "the elemental partials"), ("Task 5.2", "the matrix C of elemental partials"),
            ("Task 5.3", "the Jacobians A_i"), ("Task 5.4", "forward accumulation of the Jacobian"),
            ("Task 5.5", "reverse accumulation of the Jacobian"))},
        "Task 5.6": _uses("Task 5.6", "the VJP from JVPs", may_use=("jvp",)),
    },
    "lesson6_implicit_layers": {
        **{t: _uses(t, what, may_use=("jvp", "vjp", "grad", "value_and_grad", "jacfwd", "jacrev"),
                    forbid=("autodiff_ref.implicit.fixed_point", "autodiff_ref.implicit.root"))
           for t, what in (("Task 6.1", "the implicit derivatives"), ("Task 6.2", "the adjoint solve"),
                           ("Task 6.3", "the implicit VJP from your adjoint solve"))},
        # Tasks 6.4 and 6.5 solve the fixed point with the library, but its own implicit rules (the
        # reverse and the forward one) are taken away: the gradient must come from the VJP passed in.
        **{t: _uses(t, what, may_use=("jvp", "vjp", "grad", "value_and_grad", "jacfwd", "jacrev", "fixed_point"),
                    forbid=("autodiff_ref.implicit._solution_cotangents", "autodiff_ref.implicit._solution_jvp"))
           for t, what in (("Task 6.4", "the DEQ's gradient, with the fixed_point_vjp passed in,"),
                           ("Task 6.5", "the training step"))},
    },
    "lesson7_neural_odes": {
        t: _uses(t, what, may_use=("jvp", "vjp", "grad", "value_and_grad", "jacfwd", "jacrev"))
        for t, what in (("Task 7.1", "the augmented dynamics"), ("Task 7.2", "the adjoint backward pass"),
                        # the loss and the loop run the student's own adjoint (Tasks 7.1 and 7.2), so they
                        # may reach what those may; the library's gradient of the whole solve (odeint) stays
                        # out of reach, and reverse mode through the RK4 steps fails Task 7.3's check
                        ("Task 7.3", "the loss's gradient by your adjoint method"),
                        ("Task 7.4", "the training loop"))},
    "lesson8_learning": {
        "Task 1.1": _uses("Task 1.1", "the gradient-descent step", may_use=("grad", "value_and_grad")),
        "Task 1.2": _uses("Task 1.2", "gradient descent", may_use=("grad", "value_and_grad")),
        "Task 1.3": _uses("Task 1.3", "the momentum step", may_use=("grad", "value_and_grad")),
        "Task 1.4": _uses("Task 1.4", "the Adam step", may_use=("grad", "value_and_grad")),
        "Task 2.1": _uses("Task 2.1", "the cross-entropy loss"),
        "Task 2.2": _uses("Task 2.2", "the gradient by forward mode from the library's Dual"),
        "Task 2.3": Policy("Task 2.3", "the gradient derived by hand"),
        "Task 3.1": Policy("Task 3.1", "back-propagation through time by hand"),
        "Task 3.2": Policy("Task 3.2", "dL/dW by hand"),
        "Task 3.3": Policy("Task 3.3", "truncated back-propagation through time by hand"),
        "Task 4.0": _uses("Task 4.0", "the VJP of logaddexp"),
        "Task 4.1": _uses("Task 4.1", "the MLP's forward pass"),
        "Task 4.2": _uses("Task 4.2", "the training step", may_use=("grad", "value_and_grad")),
        "Task 4.3": _uses("Task 4.3", "the training epoch", may_use=("grad", "value_and_grad")),
    },
}

_TASK = re.compile(r"Tasks?\s+(\d+\.\d+b?)")


def task_of(test_source):
    """'Task 2.2' from a test cell's first line, or None."""
    first = test_source.strip().splitlines()[0] if test_source.strip() else ""
    m = _TASK.search(first)
    return f"Task {m.group(1)}" if m else None


def policy_for(assignment, test_source):
    """The policy of the graded test cell with this (instructor's) source."""
    task = task_of(test_source) or "This task"
    table = POLICIES.get(assignment, {})
    return table.get(task) or Policy(task, "this piece")
