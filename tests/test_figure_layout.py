"""Lesson figures read without help: every panel with data has both axes labelled (an x label
may come from the panel it shares x with), titles fit inside the figure, and no legend sits on
a curve or a point of its own panel."""
import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def audit(fig):
    """The layout problems of `fig`, as readable lines (empty when there are none)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    problems = []
    panels = [ax for ax in fig.axes if ax.lines or ax.collections or ax.patches or ax.images]
    for k, ax in enumerate(panels):
        name = f"panel {k} ({ax.get_title()[:40]!r})"
        shared = ax.get_shared_x_axes().get_siblings(ax)
        if not any(a.get_xlabel() for a in shared):
            problems.append(f"{name}: no x label")
        if not ax.get_ylabel() and ax.get_label() != "<colorbar>":
            problems.append(f"{name}: no y label")
        for title in (ax.title, ax._left_title, ax._right_title):
            if title.get_text():
                box = title.get_window_extent(renderer)
                if box.x0 < page.x0 - 1 or box.x1 > page.x1 + 1:
                    problems.append(f"{name}: the title {title.get_text()[:40]!r} does not fit")
        legend = ax.get_legend()
        if legend is not None:
            box = legend.get_window_extent(renderer)
            for line in ax.lines:
                xy = ax.transData.transform(np.column_stack(line.get_data()).astype(float))
                if len(xy) > 1 and line.get_linestyle() not in ("None", " ", ""):
                    # the segments between the points count too: 20 samples along each
                    s = np.linspace(0, 1, 20)[:, None, None]
                    xy = (xy[:-1] * (1 - s) + xy[1:] * s).reshape(-1, 2)
                if np.any((xy[:, 0] > box.x0) & (xy[:, 0] < box.x1) & (xy[:, 1] > box.y0) & (xy[:, 1] < box.y1)):
                    problems.append(f"{name}: the legend covers {line.get_label()!r}")
                    break
    if fig._suptitle is not None:
        box = fig._suptitle.get_window_extent(renderer)
        if box.x0 < page.x0 - 1 or box.x1 > page.x1 + 1:
            problems.append("the figure's title does not fit")
    return problems


@pytest.fixture
def shown(monkeypatch):
    """The figures a plotting function shows (plt.show is stubbed out)."""
    figures = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: figures.append(plt.gcf()))
    yield figures
    plt.close("all")


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


def test_the_audit_sees_what_it_should():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1], label="a line")
    ax.legend(loc="center")
    ax.set_title("a title far too long to fit in a figure three inches wide, whatever the font")
    problems = audit(fig)
    assert any("no x label" in p for p in problems) and any("no y label" in p for p in problems)
    assert any("does not fit" in p for p in problems) and any("covers" in p for p in problems)
    plt.close(fig)
