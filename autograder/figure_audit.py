"""The layout audit of the course's figures: what a reader would stumble on.

:func:`audit` lists the problems of one matplotlib figure:

- a panel with data whose axis carries numbers but no label (an x label may come from a
  panel sharing that x axis, a y label from a panel sharing that y axis; a colourbar needs
  the label of its long axis);
- a title (a panel's or the figure's) that does not fit inside the figure, or that
  collides with another title, another panel or another panel's tick labels;
- tick labels or an axis label running off the figure's edge;
- a legend running off the figure, or lying on data of any panel — a line (the segments
  between its points too), scatter points, line collections, bars; filled areas, images and
  arrow fields are backgrounds — or on a text (text boxes, annotations, titles, tick labels).

"The figure" is its canvas, as ``savefig`` writes it: the inline backend crops its PNGs
to what is drawn, so a label off the canvas still shows in the notebook but is cut off
when the figure is saved, and a figure that needs the crop is laid out badly anyway.

The lessons show figures in a notebook, so the audit also runs inside the kernel:
:func:`install` wraps ``FigureCanvasBase.print_figure`` (every figure an inline backend
shows, in a cell or in a widget's output, is printed to PNG through it) so that each
figure is audited just before it is drawn (with ``FIGURE_AUDIT_DIR`` set, each figure is
also saved there as PNG, its problems beside it), and :func:`after_cell` moves
the first slider a cell created by one step (its figure is audited as it redraws) and hands
over what was found. :func:`autograder.execute.run` calls both when asked to audit.
"""
import json
import os
import warnings
from contextlib import contextmanager

import numpy as np

__all__ = ["audit", "install", "after_cell"]

_SLACK = 1.0        # pixels: a box touching an edge or another box is not a problem
_SAMPLES = np.linspace(0, 1, 20)[:, None, None]   # points along each segment of a line


# ----------------------------------------------------------------------------
# Boxes
# ----------------------------------------------------------------------------
def _outside(box, page, margin=0.5):
    """Whether `box` runs off `page`, or touches its edge (antialiasing eats the last pixel)."""
    return (box.x0 < page.x0 + margin or box.x1 > page.x1 - margin or
            box.y0 < page.y0 + margin or box.y1 > page.y1 - margin)


def _overlap(a, b):
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > _SLACK and
            min(a.y1, b.y1) - max(a.y0, b.y0) > _SLACK)


def _inside(xy, box):
    """Which of the points `xy` (display coordinates) lie strictly inside `box`."""
    return ((xy[:, 0] > box.x0 + _SLACK) & (xy[:, 0] < box.x1 - _SLACK) &
            (xy[:, 1] > box.y0 + _SLACK) & (xy[:, 1] < box.y1 - _SLACK))


def _text_box(text, renderer):
    """The extent of a text with its bbox patch (a text box), or None for an empty text."""
    if not text.get_visible() or not text.get_text().strip():
        return None
    box = text.get_window_extent(renderer)
    patch = text.get_bbox_patch()
    if patch is not None:
        from matplotlib.transforms import Bbox
        box = Bbox.union([box, patch.get_window_extent(renderer)])
    return box


def _short(text, n=40):
    text = " ".join(str(text).split())
    return repr(text if len(text) <= n else text[:n - 1] + "…")


# ----------------------------------------------------------------------------
# What counts as data: the points a legend must leave visible
# ----------------------------------------------------------------------------
def _line_points(line):
    xy = np.column_stack(line.get_data()).astype(float)
    xy = line.get_transform().transform(xy) if len(xy) else xy.reshape(0, 2)
    if len(xy) > 1 and line.get_linestyle() not in ("None", " ", ""):
        xy = (xy[:-1] * (1 - _SAMPLES) + xy[1:] * _SAMPLES).reshape(-1, 2)
    return xy


def _collection_points(collection):
    from matplotlib.collections import LineCollection, PathCollection
    if isinstance(collection, PathCollection):
        offsets = np.asarray(collection.get_offsets(), dtype=float)
        if offsets.size == 0:
            return None
        return collection.get_offset_transform().transform(offsets)
    if isinstance(collection, LineCollection):
        transform = collection.get_transform()
        pieces = []
        for seg in collection.get_segments():
            xy = transform.transform(np.asarray(seg, dtype=float))
            if len(xy) > 1:
                xy = (xy[:-1] * (1 - _SAMPLES) + xy[1:] * _SAMPLES).reshape(-1, 2)
            pieces.append(xy)
        return np.concatenate(pieces) if pieces else None
    return None     # filled areas (fill_between, contourf) are backgrounds, not data


def _data(ax):
    """(label, display points) of each curve and point set of panel `ax`, clipped to the panel."""
    found = []
    for line in ax.lines:
        if line.get_visible():
            found.append((line.get_label(), _line_points(line)))
    for collection in ax.collections:
        if collection.get_visible():
            xy = _collection_points(collection)
            if xy is not None:
                found.append((collection.get_label(), xy))
    clip = ax.bbox      # what lies outside the panel is not drawn
    return [(label, xy[(xy[:, 0] >= clip.x0) & (xy[:, 0] <= clip.x1) & (xy[:, 1] >= clip.y0) &
                       (xy[:, 1] <= clip.y1)]) for label, xy in found]


def _bars(ax, renderer):
    from matplotlib.container import BarContainer
    for container in ax.containers:
        if isinstance(container, BarContainer):
            for patch in container.patches:
                if patch.get_visible():
                    yield container.get_label(), patch.get_window_extent(renderer)


# ----------------------------------------------------------------------------
# The audit
# ----------------------------------------------------------------------------
def _panels(fig):
    return [ax for ax in fig.axes
            if ax.get_visible() and (ax.lines or ax.collections or ax.patches or ax.images)]


def _name(fig, ax):
    k = fig.axes.index(ax)
    title = ax.get_title() or ax.get_title("left") or ax.get_title("right")
    return f"panel {k} ({_short(title)})" if title else f"panel {k}"


def _is_number(text):
    """Whether a tick label is a number (``'0.5'``, ``'−2'``, ``'$\\mathdefault{10^{-8}}$'``)."""
    for part in ("\\mathdefault", "\\times", "$", "{", "}", "^", "−", "-", "+", ".", ",", "×", "%", " "):
        text = text.replace(part, "")
    return bool(text) and all(ch.isdigit() or ch in "eE" for ch in text) and text[0].isdigit()


def _shows_numbers(axis):
    """Whether `axis` carries numbers: an axis whose ticks are named (the rows of a matrix,
    say) names itself, one with numbers needs a label to say what they measure."""
    return any(t.get_visible() and _is_number(t.get_text()) for t in axis.get_ticklabels())


def _label_problems(fig, ax):
    if not ax.axison:
        return []
    name = _name(fig, ax)
    if ax.get_label() == "<colorbar>":
        long_axis = ax.yaxis if ax.get_position().height >= ax.get_position().width else ax.xaxis
        return [] if long_axis.get_label_text() else [f"{name}: the colour bar has no label"]
    problems = []
    for letter, axis, siblings in (("x", ax.xaxis, ax.get_shared_x_axes().get_siblings(ax)),
                                   ("y", ax.yaxis, ax.get_shared_y_axes().get_siblings(ax))):
        labelled = any((a.xaxis if letter == "x" else a.yaxis).get_label_text() for a in siblings)
        if not labelled and _shows_numbers(axis):
            problems.append(f"{name}: no {letter} label")
    return problems


def _titles(fig, renderer):
    """(owner axes or None for the figure, description, box) of every title in `fig`."""
    found = []
    if fig._suptitle is not None:
        box = _text_box(fig._suptitle, renderer)
        if box is not None:
            found.append((None, f"the figure's title {_short(fig._suptitle.get_text())}", box))
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for title in (ax.title, ax._left_title, ax._right_title):
            box = _text_box(title, renderer)
            if box is not None:
                found.append((ax, f"{_name(fig, ax)}: the title {_short(title.get_text())}", box))
    return found


def _axis_boxes(fig, renderer):
    """(axes, 'x'/'y', box) of the tick labels and label of every visible axis."""
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison:
            continue
        for letter, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            box = axis.get_tightbbox(renderer)
            if box is not None and box.width > 0 and box.height > 0:
                yield ax, letter, box


def _texts(fig, renderer, legend):
    """(description, box) of every text a legend must not cover: text boxes, annotations,
    titles and the tick labels of every axis (the legend's own texts excepted)."""
    own = set(legend.get_texts()) | {legend.get_title()}
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for text in ax.texts:
            box = None if text in own else _text_box(text, renderer)
            if box is not None:
                yield f"the text {_short(text.get_text())} of {_name(fig, ax)}", box
    for text in fig.texts:
        box = None if text in own else _text_box(text, renderer)
        if box is not None:
            yield f"the figure's text {_short(text.get_text())}", box
    for _, description, box in _titles(fig, renderer):
        yield description.replace(": the title", "'s title"), box
    for ax, letter, box in _axis_boxes(fig, renderer):
        yield f"the {letter} axis of {_name(fig, ax)}", box


def _legend_problems(fig, renderer):
    legends = [(ax, ax.get_legend()) for ax in fig.axes if ax.get_visible()] + \
        [(None, legend) for legend in fig.legends]
    problems = []
    for owner, legend in legends:
        if legend is None or not legend.get_visible():
            continue
        where = f"{_name(fig, owner)}: the legend" if owner is not None else "the figure's legend"
        box = legend.get_window_extent(renderer)
        if _outside(box, fig.bbox):
            problems.append(f"{where} runs off the figure")
        covered = []
        for ax in _panels(fig):
            if not _overlap(box, ax.bbox):
                continue
            suffix = "" if ax is owner else f" of {_name(fig, ax)}"
            for label, xy in _data(ax):
                if len(xy) and np.any(_inside(xy, box)):
                    covered.append(f"{_short(label) if not label.startswith('_') else 'a curve'}{suffix}")
            for label, bar in _bars(ax, renderer):
                if _overlap(box, bar):
                    covered.append(f"the bars {_short(label)}{suffix}")
                    break
        covered += [description for description, text in _texts(fig, renderer, legend)
                    if _overlap(box, text)]
        for item in dict.fromkeys(covered):
            problems.append(f"{where} covers {item}")
    return problems


def _title_problems(fig, renderer):
    page = fig.bbox
    titles = _titles(fig, renderer)
    problems = [f"{description} does not fit in the figure"
                for _, description, box in titles if _outside(box, page)]
    for i, (owner, description, box) in enumerate(titles):
        for other_owner, other, other_box in titles[i + 1:]:
            if _overlap(box, other_box):
                problems.append(f"{description} collides with {other}")
        for ax in fig.axes:
            if ax is owner or not ax.get_visible() or not ax.axison:
                continue
            if _overlap(box, ax.bbox):
                problems.append(f"{description} lies on {_name(fig, ax)}")
        for ax, letter, axis_box in _axis_boxes(fig, renderer):
            if ax is not owner and _overlap(box, axis_box):
                problems.append(f"{description} collides with the {letter} axis of {_name(fig, ax)}")
    return problems


def audit(fig):
    """The layout problems of `fig`, as readable lines (empty when there are none).

    The figure is laid out as it would be drawn (tight or constrained layout applied)
    without rendering pixels; "the figure" is its canvas, as ``savefig`` without
    ``bbox_inches`` would write it."""
    # quietly: a curve that blew up (inf, nan) must not make the audit warn into a cell's output
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return _audit(fig)


def _audit(fig):
    fig.draw_without_rendering()
    renderer = fig._get_renderer()
    page = fig.bbox
    problems = []
    for ax in _panels(fig):
        problems += _label_problems(fig, ax)
    problems += _title_problems(fig, renderer)
    for ax, letter, box in _axis_boxes(fig, renderer):
        if _outside(box, page):
            problems.append(f"{_name(fig, ax)}: the {letter} axis (tick labels or label) runs off the figure")
    problems += _legend_problems(fig, renderer)
    return list(dict.fromkeys(problems))


# ----------------------------------------------------------------------------
# Inside a notebook's kernel
# ----------------------------------------------------------------------------
_found = []             # problems since the last after_cell()
_seen_widgets = set()   # the widgets whose slider was moved already (or never will be)
_context = [""]         # what is being done while a figure is drawn ("after moving …")
_busy = [False]         # auditing (saving a figure prints it again: no second audit)
_saved = [0]            # figures saved to FIGURE_AUDIT_DIR


def _figure_name(fig):
    if fig._suptitle is not None and fig._suptitle.get_text():
        return f"the figure {_short(fig._suptitle.get_text())}"
    return "a figure"     # its panels name themselves by their titles


def _record(fig):
    if _busy[0]:
        return
    _busy[0] = True
    try:
        try:
            problems = audit(fig)
        except Exception as exc:    # the audit must never break the lesson it watches
            problems = [f"the audit failed: {type(exc).__name__}: {exc}"]
        where = _figure_name(fig) + _context[0]
        _found.extend(f"{where}: {p}" for p in problems)
        folder = os.environ.get("FIGURE_AUDIT_DIR")
        if folder:     # to look at what the audit saw, and check it by eye
            _saved[0] += 1
            stem = os.path.join(folder, f"{os.getpid()}-{_saved[0]:03d}-{'bad' if problems else 'ok'}")
            fig.savefig(stem + ".png")
            with open(stem + ".txt", "w") as fh:
                fh.write(where + "\n" + "\n".join(problems) + "\n")
    finally:
        _busy[0] = False


def install():
    """Audit every figure printed from now on (idempotent)."""
    from matplotlib.backend_bases import FigureCanvasBase
    if getattr(FigureCanvasBase.print_figure, "audited", False):
        return
    original = FigureCanvasBase.print_figure

    def print_figure(self, *args, **kwargs):
        _record(self.figure)
        return original(self, *args, **kwargs)

    print_figure.audited = True
    FigureCanvasBase.print_figure = print_figure
    try:    # the widgets that exist before the first cell are nobody's
        from ipywidgets.widgets.widget import _instances
        _seen_widgets.update(_instances)
    except ImportError:
        pass


@contextmanager
def _while(text):
    _context[0] = f" ({text})"
    try:
        yield
    finally:
        _context[0] = ""


def _one_step(slider):
    """The value one step away from `slider`'s (up, or down at the top)."""
    name = type(slider).__name__
    if name == "SelectionSlider":
        k = slider.index
        return None, (k + 1 if k + 1 < len(slider.options) else k - 1)
    if name.endswith("RangeSlider") or not name.endswith("Slider"):
        return None
    if name == "FloatLogSlider":
        exponent = np.log(slider.value) / np.log(slider.base)
        up = exponent + slider.step <= slider.max + 1e-12
        return slider.base ** (exponent + (slider.step if up else -slider.step)), None
    up = slider.value + slider.step <= slider.max
    return slider.value + (slider.step if up else -slider.step), None


def _move_new_sliders():
    """Move the first slider of the widgets created since the last call by one step."""
    try:
        from ipywidgets.widgets.widget import _instances
    except ImportError:
        return
    new = [w for key, w in list(_instances.items()) if key not in _seen_widgets]
    _seen_widgets.update(_instances)
    sliders = [w for w in new if _one_step(w) is not None]
    if not sliders:
        return
    slider = sliders[0]
    value, index = _one_step(slider)
    with _while(f"after moving the slider {_short(slider.description)} by one step"):
        try:
            if index is not None:
                slider.index = index
            else:
                slider.value = value
        except Exception as exc:
            _found.append(f"moving the slider {_short(slider.description)} raised "
                          f"{type(exc).__name__}: {exc}")


def after_cell():
    """Move the sliders of the widgets the cell created, then hand over (as JSON) and forget
    the problems found since the last call."""
    _move_new_sliders()
    found = list(dict.fromkeys(_found))
    _found.clear()
    return json.dumps(found)
