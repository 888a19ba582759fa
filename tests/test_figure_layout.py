"""Lesson figures read without help (the audit is :func:`autograder.figure_audit.audit`):
every axis that carries numbers is labelled, titles fit and do not collide, tick labels stay
on the figure, and no legend covers a curve, a point or a text.

Every figure a lesson notebook shows is audited as the notebook runs
(tests/test_notebooks.py, with every widget at its first state and after one slider move);
here the audit itself is tested, on figures made to fail and on good ones, so is its hook in a
kernel (each figure printed is audited; a new widget's slider is moved once), and the widgets
of the lessons are swept through states far apart (their extremes), which the one slider
move of the notebook run does not reach.
"""
import math

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from autograder.figure_audit import audit  # noqa: E402


@pytest.fixture
def shown(monkeypatch):
    """The figures a plotting function shows (plt.show is stubbed out)."""
    figures = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: figures.append(plt.gcf()))
    yield figures
    plt.close("all")


def labelled(ax, x="x", y="y"):
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    return ax


# ----------------------------------------------------------------------------
# The audit finds what it should
# ----------------------------------------------------------------------------
def test_the_audit_sees_a_missing_label_a_long_title_and_a_legend_on_a_line():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1], label="a line")
    ax.legend(loc="center")
    ax.set_title("a title far too long to fit in a figure three inches wide, whatever the font")
    problems = audit(fig)
    assert any("no x label" in p for p in problems) and any("no y label" in p for p in problems)
    assert any("does not fit" in p for p in problems) and any("covers 'a line'" in p for p in problems)
    plt.close(fig)


def test_the_audit_sees_a_legend_on_scatter_points_and_on_a_text_box():
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.5))
    grid = np.linspace(0, 1, 11)
    left.scatter(*np.meshgrid(grid, grid), s=4, label="points")     # they fill the panel
    left.legend(loc="upper right")
    right.plot([0, 1], [0, 0], label="a line at the bottom")
    right.set_ylim(-0.1, 1)
    right.text(0.97, 0.95, "a boxed note", transform=right.transAxes, ha="right", va="top",
               bbox=dict(boxstyle="round", fc="white"))
    right.legend(loc="upper right")
    for ax in (left, right):
        labelled(ax)
    fig.tight_layout()
    problems = audit(fig)
    assert any("panel 0" in p and "covers 'points'" in p for p in problems), problems
    assert any("panel 1" in p and "covers the text 'a boxed note'" in p for p in problems), problems
    assert not any("a line at the bottom" in p for p in problems), problems
    plt.close(fig)


def test_the_audit_sees_titles_that_collide():
    fig, (left, right) = plt.subplots(1, 2, figsize=(6, 3))
    for ax in (left, right):
        labelled(ax.plot([0, 1], [0, 1])[0].axes)
    left.set_title("the left panel's title, long enough to run on")
    right.set_title("into its neighbour's")
    fig.suptitle("a figure title", y=0.93)    # pulled down onto the panels' titles
    problems = audit(fig)
    assert any("the figure's title 'a figure title' collides with panel 0" in p for p in problems), problems
    assert any("panel 0" in p and "collides with panel 1" in p for p in problems), problems
    plt.close(fig)


def test_the_audit_sees_tick_labels_and_a_legend_off_the_figure():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1e6], label="a line")
    labelled(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.subplots_adjust(left=0.02, right=0.98)       # no room for the y tick labels
    problems = audit(fig)
    assert any("the y axis (tick labels or label) runs off the figure" in p for p in problems), problems
    assert any("the legend runs off the figure" in p for p in problems), problems
    plt.close(fig)


# ----------------------------------------------------------------------------
# ... and nothing on good figures
# ----------------------------------------------------------------------------
def test_the_audit_passes_good_figures():
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.5), sharex="col", sharey="row")
    xs = np.linspace(0, 2 * math.pi, 200)
    for ax in axes.flat:
        ax.plot(xs, np.sin(xs), label="sin")
        ax.scatter(xs[::20], np.cos(xs[::20]), s=8, label="cos, sampled")
    for ax in axes[1]:
        ax.set_xlabel("x")                       # the top row shares x with the bottom one
    for ax in axes[:, 0]:
        ax.set_ylabel("y")                       # the right column shares y with the left one
    axes[0, 0].set_title("a panel")
    axes[0, 1].set_title("another panel")
    axes[0, 0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.05), ncol=2)   # between the rows
    axes[1, 1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))              # beside the panel
    fig.suptitle("a figure of four panels")
    fig.tight_layout()
    assert audit(fig) == []
    plt.close(fig)

    # a matrix names its rows and columns; a drawing without axes needs no labels; a colour
    # bar with its label
    fig, (matrix, drawing) = plt.subplots(1, 2, figsize=(8, 3.5))
    image = matrix.imshow(np.arange(9.0).reshape(3, 3))
    matrix.set_xticks(range(3), ["v₁", "v₂", "v₃"])
    matrix.set_yticks(range(3), ["v₁", "v₂", "v₃"])
    fig.colorbar(image, ax=matrix, label="∂vᵢ/∂vⱼ")
    drawing.add_patch(plt.Circle((0.5, 0.5), 0.3))
    drawing.axis("off")
    fig.tight_layout()
    assert audit(fig) == []
    plt.close(fig)


# ----------------------------------------------------------------------------
# Inside a kernel: every figure printed is audited, a new widget's slider is moved
# ----------------------------------------------------------------------------
def test_the_kernel_hook_audits_printed_figures_and_moves_a_new_slider(monkeypatch):
    import io
    import json

    widgets = pytest.importorskip("ipywidgets")
    from matplotlib.backend_bases import FigureCanvasBase

    from autograder import figure_audit
    monkeypatch.setattr(FigureCanvasBase, "print_figure", FigureCanvasBase.print_figure)  # restored after
    monkeypatch.setattr(figure_audit, "_found", [])
    monkeypatch.setattr(figure_audit, "_seen_widgets", set())
    monkeypatch.delenv("FIGURE_AUDIT_DIR", raising=False)
    figure_audit.install()
    figure_audit.install()      # once is enough: a second call changes nothing

    def draw(k):
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([0, 1], [0, k])
        ax.set_ylabel("y")
        fig.tight_layout()
        fig.savefig(io.BytesIO(), format="png")    # what the inline backend does to show it
        plt.close(fig)

    draw(0)
    found = json.loads(figure_audit.after_cell())
    assert found == ["a figure: panel 0: no x label"]

    slider = widgets.IntSlider(value=0, min=0, max=3, description="k")
    slider.observe(lambda change: draw(change["new"]), names="value")
    found = json.loads(figure_audit.after_cell())
    assert slider.value == 1
    assert found == ["a figure (after moving the slider 'k' by one step): panel 0: no x label"]
    assert json.loads(figure_audit.after_cell()) == []      # handed over once; the slider moves once


@pytest.mark.slow
def test_a_notebook_run_reports_the_figures_of_its_cells_and_widgets(tmp_path):
    import nbformat

    from autograder import execute
    cells = ["%matplotlib inline\nimport matplotlib.pyplot as plt\nimport ipywidgets as widgets",
             "fig, ax = plt.subplots(figsize=(4, 3))\nax.plot([0, 1], [0, 1])\nax.set_xlabel('x')\n"
             "ax.set_ylabel('y')\nfig.tight_layout()\nplt.show()",
             "def draw(k=0):\n    fig, ax = plt.subplots(figsize=(4, 3))\n"
             "    ax.plot([0, 1], [0, k], label='a line')\n    ax.legend(loc='center' if k else 'upper left')\n"
             "    ax.set_xlabel('x')\n    ax.set_ylabel('y')\n    fig.tight_layout()\n    plt.show()\n"
             "widgets.interact(draw, k=widgets.IntSlider(value=0, min=0, max=2, description='k'));"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    problems = []
    execute.run(nb, tmp_path, timeout=60, figure_problems=problems)
    # the first figures read cleanly; moving the slider puts the legend on the line
    assert problems == ["cell 2: a figure (after moving the slider 'k' by one step): "
                        "panel 0: the legend covers 'a line'"]
    assert not any(o.get("name") == "stderr" for c in nb.cells for o in c.outputs)


# ----------------------------------------------------------------------------
# Every widget's figure at states far apart
# ----------------------------------------------------------------------------
def _trace_forward_steps():
    from autodiff_ref import trace
    from autograder import widgets
    tr = trace(lambda x1, x2: (lambda v4, v2: (v2 + v4) * v4)(x1 / x2 - np.exp(x2), np.sin(x1 / x2)), 1.5, 0.5)
    return [lambda k=k: widgets.render_forward(tr, k)[0] for k in range(len(widgets.forward_steps(tr)))]


def _trace_reverse_steps():
    from autodiff_ref import trace
    from autograder import widgets
    tr = trace(lambda x, y: x * y + np.exp(x * y), 1.0, 2.0)
    return [lambda k=k: widgets.render_reverse(tr, k)[0] for k in range(len(widgets.reverse_steps(tr)))]


def _lesson_states():
    """(id, draw) for the widget states: each draw returns the figure (or shows it)."""
    from autograder.lessons.lesson0 import figures as lesson0
    from autograder.lessons.lesson1 import figures as lesson1
    from autograder.lessons.lesson2 import figures as lesson2
    from autograder.lessons.lesson3b import figures as lesson3b
    from autograder.lessons.lesson4 import figures as lesson4
    from autograder.lessons.lesson5 import figures as lesson5
    from autodiff_ref import trace
    states = []
    for function in lesson0.CURVE_FUNCTIONS:
        for log10_h in (-16.0, -8.0, 0.0):
            states.append((f"lesson0-error-curve-{function}-{log10_h}",
                           lambda f=function, h=log10_h: lesson0.plot_error_curve(h, f)))
    for function, (_, (lo, hi)) in lesson1.TANGENT_FUNCTIONS.items():
        for x in (lo, (lo + hi) / 2, hi):
            states.append((f"lesson1-tangent-{function}-{x:g}",
                           lambda f=function, x=x: lesson1.plot_tangent_line(x, f)))
    for a, k in ((0.01, 1), (2.0, 8), (1000.0, 14)):
        states.append((f"lesson1-newton-{a:g}-{k}", lambda a=a, k=k: lesson1.plot_newton_sqrt(a, k)))
    for angle in (0, 90, 180, 270):
        states.append((f"lesson2-jvp-{angle}", lambda a=angle: lesson2.jvp_picture(math.radians(a))[0].figure))
    states += [(f"lesson2-tangent-sweep-step{k}", draw) for k, draw in enumerate(_trace_forward_steps())]
    states += [(f"lesson3-adjoint-sweep-step{k}", draw) for k, draw in enumerate(_trace_reverse_steps())]
    for _, shape in lesson3b.SHAPES:
        size = int(np.prod(shape))
        for entry in sorted({0, size - 1}):
            states.append((f"lesson3b-broadcast-{shape}-{entry}",
                           lambda s=shape, e=entry: lesson3b.plot_broadcast(s, e)))
    for x0, y0, step, iterations in ((-1.2, 1.0, 1e-3, 2000), (2.0, -1.0, 1e-2, 200), (-2.0, 3.0, 1e-4, 10)):
        states.append((f"lesson4-newton-vs-gd-{x0}-{y0}-{step:g}-{iterations}",
                       lambda a=(x0, y0, step, iterations): lesson4.plot_newton_vs_gd(*a)[0].figure))
    tr = trace(lambda x1, x2: (lambda v4, v2: (v2 + v4) * v4)(x1 / x2 - np.exp(x2), np.sin(x1 / x2)), 1.5, 0.5)
    steps = len(tr) - tr.n_inputs
    for mode in ("forward", "reverse"):
        for k in (0, 1, steps // 2, steps):
            states.append((f"lesson5-extended-{mode}-{k}", lambda k=k, m=mode: lesson5.plot_extended_step(tr, k, m)))
    for x1, x2, v, ybar in ((0.8, 0.4, 30.0, 120.0), (1.5, 1.5, 0.0, 90.0), (-1.5, 1.5, 225.0, 315.0),
                            (-1.5, -1.5, 135.0, 45.0), (0.0, 0.0, 270.0, 180.0)):
        states.append((f"lesson5-linear-map-{x1}-{x2}-{v:g}-{ybar:g}",
                       lambda a=(x1, x2, v, ybar): lesson5.plot_linear_map(*a)[0].figure))
    from autograder.lessons.lesson6 import figures as lesson6
    from autograder.lessons.lesson8 import figures as lesson8
    for theta, x in ((0.5, 0.3), (0.55, 0.3), (-3.0, -1.5), (3.0, 1.5), (1.5, 0.0)):
        states.append((f"lesson6-cobweb-{theta}-{x}",
                       lambda a=(theta, x): lesson6.plot_cobweb(*a)[0].figure))
    for problem in lesson8.descent_problems():
        for lr in (0.01, 1.0, 10.0):
            for steps in (1, 200):
                states.append((f"lesson8-descent-{problem}-{lr:g}-{steps}",
                               lambda a=(problem, lr, steps): lesson8.show_descent(*a)))
    for rho in (0.3, 0.95, 3.0):
        states.append((f"lesson8-rnn-{rho}", lambda r=rho: lesson8.show_rnn(r)))
    return states


STATES = _lesson_states()


@pytest.mark.parametrize("draw", [d for _, d in STATES], ids=[name for name, _ in STATES])
def test_every_widget_figure_reads_clean(draw, shown):
    fig = draw()
    fig = shown[-1] if shown else (fig if isinstance(fig, plt.Figure) else plt.gcf())
    assert audit(fig) == []


# ----------------------------------------------------------------------------
# Figures drawn outside a notebook's cells
# ----------------------------------------------------------------------------
def test_the_adjoint_trajectory_has_its_title_and_legends_clear_of_the_curves():
    from autograder.lessons import lesson7 as checks
    ts = np.linspace(0, 3, 7)
    theta = np.array(checks.LV_TRUE)
    ys = checks.rk4_solve(checks.lotka_volterra, np.array([1.0, 1.0]), ts, (theta,), 20)
    axes = checks.plot_adjoint_trajectory(checks.adjoint_trajectory(checks.lotka_volterra, ts, (theta,),
                                                                    np.array([1.0, 1.0]), 2 * ys, 20))
    fig = axes[0].figure
    fig.tight_layout()
    assert audit(fig) == []
    plt.close("all")


def test_the_training_figure_labels_every_axis(shown):
    from autograder.lessons import lesson8 as checks
    X, y = checks.two_moons(40, 0.2, 0)
    params = checks.init_mlp([2, 4, 1], seed=0)
    run = {"loss": [0.7, 0.5, 0.4], "seconds": [0.01, 0.012, 0.011]}
    checks.plot_training(run, None, params, X, y)
    assert shown and audit(shown[-1]) == []
