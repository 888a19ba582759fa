"""Every lesson in a real JupyterLab, driven by Debian's Chromium through Playwright.

Headless execution (tests/test_notebooks.py) never sees a widget that fails to
render, a plot that does not redraw or a lab extension that does not load.
Here one JupyterLab server (no token, temporary root/runtime/config dirs) serves
a copy of the course; each lesson's instructor notebook (the solutions make
every cell run) is opened in its own page, Run → Run All Cells is clicked, and
once the kernel is idle we check:

- every code cell ran and no cell shows an error (saved outputs and page);
- every widget the kernel displayed was rendered (no "Loading widget...",
  no "Error displaying widget", no traceback inside a widget);
- moving the lesson's main widget (a slider, a dropdown, a button) changes
  the output it drives (the plot's bytes or the text differ);
- the instructor side: the formgrader lists every lesson, and Validate on a
  student notebook reports failures when blank and success when solved;
- and that these checks can fail: a notebook with an error and a slider that
  drives nothing is reported on both counts.

Several lessons run at once (pages in one browser, kernels in parallel), so
the suite costs about as much as its slowest lessons. A screenshot of each
lesson's main widget is written to docs/screenshots/<lesson>.png.

Run alone: ``.venv/bin/python -m pytest tests/test_browser.py -m browser``.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
from glob import glob
from pathlib import Path

import pytest

import browser_helpers as bh

REPO = Path(__file__).resolve().parents[1]
COURSE = REPO / "course"
SCREENSHOTS = REPO / "docs" / "screenshots"
NOTEBOOKS = sorted(Path(p).relative_to(COURSE / "source").as_posix()
                   for p in glob(str(COURSE / "source" / "*" / "*.ipynb")))
# How many lessons run at the same time (each its own page and kernel).
PARALLEL = int(os.environ.get("BROWSER_TEST_PARALLEL", "3"))

# The main widget of each lesson: the control to move (its label, or a button's
# text), which of the widgets having it (nth) and how to move it. A lesson not
# listed here gets its first widget's first control; a lesson without any
# interactive widget fails.
LESSON_WIDGETS = {
    "lesson0_three_ways": dict(control="log10(h)", action=("slider", 1)),       # error vs step size
    "lesson1_dual_numbers": dict(control="f", action=("dropdown",)),            # tangent line
    "lesson2_forward_mode": dict(control="angle of v (°)", action=("slider", 1)),  # a JVP as a picture
    "lesson3_reverse_mode": dict(control="next ▶", nth=1, action=("button", "next ▶")),  # reverse sweep
    "lesson3b_reverse_arrays": dict(control="entry of x", action=("slider", 1)),  # broadcast, summed back
    "lesson4_higher_order": dict(control="start x", action=("slider", 1)),      # Newton vs GD
    "lesson5_linear_maps": dict(control="x₁", action=("slider", 1)),           # J and Jᵀ on circles
    "lesson6_implicit_layers": dict(control="θ", action=("slider", 1)),         # cobweb of a fixed point
    "lesson7_neural_odes": dict(control="a (prey growth)", action=("slider", 1)),  # Lotka-Volterra
    "lesson8_learning": dict(control="loss", action=("dropdown",)),             # gradient descent paths
}

VALIDATE_LESSON = "lesson0_three_ways"   # quick to run; Validate executes the whole notebook

missing = bh.chromium_missing_reason()
pytestmark = [pytest.mark.browser, pytest.mark.skipif(missing is not None, reason=missing or "")]


def lesson_of(rel):
    return rel.split("/")[0]


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def lab_root(tmp_path_factory):
    """root/course: a copy of the course's config and sources (the formgrader and
    Validate read root/course/nbgrader_config.py; the server starts there)."""
    root = tmp_path_factory.mktemp("lab") / "root"
    (root / "course").mkdir(parents=True)
    shutil.copy2(COURSE / "nbgrader_config.py", root / "course")
    shutil.copytree(COURSE / "source", root / "course" / "source",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return root


@pytest.fixture(scope="module")
def lab(lab_root, tmp_path_factory):
    bindir = Path(sys.executable).parent
    env = bh.clean_env(PYTHONPATH=REPO, PATH=os.pathsep.join([str(bindir), os.environ.get("PATH", "")]),
                       PYDEVD_DISABLE_FILE_VALIDATION=1)
    server = bh.JupyterLab(bindir / "jupyter", root=lab_root, cwd=lab_root / "course",
                           state=tmp_path_factory.mktemp("lab-state"), env=env,
                           page_config=bh.QUIET_LAB_PAGE_CONFIG)
    with server:
        yield server


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = bh.launch_chromium(p)
        yield chromium
        chromium.close()


class LessonRuns:
    """Opens the lessons and clicks Run All in up to `parallel` pages at once;
    `finish(rel)` waits for one lesson, starting the next ones meanwhile."""

    def __init__(self, browser, lab, notebooks, parallel):
        self.browser, self.lab, self.parallel = browser, lab, parallel
        self.queue = list(notebooks)
        self.running, self.done = {}, {}

    def _start_next(self):
        while self.queue and len(self.running) < self.parallel:
            rel = self.queue.pop(0)
            page = self.browser.new_page(viewport=bh.VIEWPORT)
            started = time.monotonic()
            try:
                bh.open_notebook(page, self.lab, f"course/source/{rel}")
                bh.start_run_all(page)
            except Exception as exc:   # reported by that lesson's test
                self.done[rel] = dict(page=page, error=exc, seconds=time.monotonic() - started)
                continue
            self.running[rel] = dict(page=page, started=started, error=None)

    def _poll(self):
        for rel, run in list(self.running.items()):
            if run["page"].evaluate(bh.RUN_FINISHED_JS):
                run["seconds"] = time.monotonic() - run["started"]
                self.done[rel] = self.running.pop(rel)

    def finish(self, rel, timeout=300):
        deadline = time.monotonic() + timeout
        while rel not in self.done:
            self._poll()
            self._start_next()
            if rel not in self.done and rel not in self.running and rel not in self.queue:
                raise KeyError(rel)
            if time.monotonic() > deadline:
                page = self.running.get(rel, {}).get("page")
                prompts = page.evaluate(bh.PROMPTS_JS) if page else []
                raise TimeoutError(f"{rel}: Run All did not finish within {timeout} s; prompts {prompts}")
            time.sleep(0.25)
        run = self.done[rel]
        if run["error"] is not None:
            raise run["error"]
        return run


@pytest.fixture(scope="module")
def runs(browser, lab, request):
    # only the lessons whose tests were selected (-k), in the order they will run
    selected = [item.callspec.params["rel"] for item in request.session.items
                if item.originalname == "test_lesson_runs_and_its_widgets_respond"]
    runner = LessonRuns(browser, lab, selected, PARALLEL)
    yield runner
    for run in list(runner.running.values()) + list(runner.done.values()):
        run["page"].close()


# ---------------------------------------------------------------- the lessons

def auto_widget(page):
    """The first control of the first widget, for a lesson LESSON_WIDGETS does not list."""
    found = page.evaluate(r"""() => {
        const boxes = [...document.querySelectorAll('.jp-Cell-outputArea .jp-OutputArea-output')]
            .filter(o => o.querySelector(':scope > .jupyter-widgets'));
        for (const box of boxes) {
            const slider = box.querySelector('.widget-slider label.widget-label');
            if (slider && slider.textContent.trim()) return {control: slider.textContent.trim(), kind: 'slider'};
            const menu = box.querySelector('.widget-dropdown label.widget-label');
            if (menu && menu.textContent.trim()) return {control: menu.textContent.trim(), kind: 'dropdown'};
            const button = box.querySelector('.widget-button');
            if (button && button.innerText.trim()) return {control: button.innerText.trim(), kind: 'button'};
        }
        return null;
    }""")
    if found is None:
        return None
    action = {"slider": ("slider", 1), "dropdown": ("dropdown",), "button": ("button", found["control"])}
    return dict(control=found["control"], action=action[found["kind"]])


def run_problems(lesson, path, page, lab):
    """What is wrong after Run All: cells that raised or never ran, tracebacks, widgets
    that did not render (a list of messages; empty when all is well)."""
    problems = []
    bh.save_notebook(page)
    nb = lab.notebook(path)
    code = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]
    errors = bh.error_outputs(nb)
    if errors:
        problems.append(f"cells raised (cell index, error): {errors}")
    not_run = [i for i in code if nb["cells"][i].get("execution_count") is None]
    if not_run:
        problems.append(f"cells never ran (Run All stopped at an error?): {not_run}")
    shown = len(page.evaluate(bh.PROMPTS_JS))
    if shown != len(code):
        problems.append(f"the page shows {shown} code cells, the notebook has {len(code)}")

    report = bh.page_report(page)
    if report["warnings"]:
        print(f"{lesson}: stderr output (not errors): {report['warnings']}")
    if report["tracebacks"]:
        problems.append(f"the page shows tracebacks: {report['tracebacks']}")
    if report["widget_errors"]:
        problems.append(f"widgets failed to render: {report['widget_errors']}")
    n_views = bh.widget_view_count(nb)
    if n_views == 0:
        problems.append("the lesson displays no widget: every lesson needs at least one")
    elif report["widget_views"] != n_views:
        problems.append(f"the kernel displayed {n_views} widget(s), the page rendered {report['widget_views']}")
    if report["empty_widget_views"]:
        problems.append(f"{report['empty_widget_views']} widget(s) rendered empty")
    return problems


def move_main_widget(lesson, page, config=None, screenshot=True, redraw_timeout=60_000):
    """Screenshot the lesson's main widget, move it, and check the output it drives redraws."""
    config = config or LESSON_WIDGETS.get(lesson) or auto_widget(page)
    assert config, "the widgets have no slider, dropdown or button to move"
    box, control = bh.widget_box(page, config["control"], config.get("nth", 0), config["action"])
    box.scroll_into_view_if_needed()
    before = bh.driven_output(box)
    assert before["images"] or before["text"].strip(), "the main widget shows no output"
    if screenshot:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        bh.screenshot(page, box, SCREENSHOTS / f"{lesson}.png")
    tracebacks_before = bh.page_report(page)["tracebacks"]
    what = bh.move(box, control, config["action"])
    after = bh.wait_output_changed(page, box, before, timeout=redraw_timeout)
    assert after != before, f"{what} ({config['control']!r}) did not change the output it drives"
    if before["images"]:
        assert len(after["images"]) == len(before["images"]), (
            f"after {what} the widget shows {len(after['images'])} plot(s) instead of "
            f"{len(before['images'])}; text: {after['text'][:300]!r}")
    new = [t for t in bh.page_report(page)["tracebacks"] if t not in tracebacks_before]
    assert not new, f"after {what}: {new}"
    print(f"{lesson}: {what} redrew the output")


@pytest.mark.parametrize("rel", NOTEBOOKS, ids=[lesson_of(r) for r in NOTEBOOKS])
def test_lesson_runs_and_its_widgets_respond(rel, runs, lab):
    lesson = lesson_of(rel)
    run = runs.finish(rel)
    page = run["page"]
    print(f"{lesson}: Run All finished in {run['seconds']:.1f} s")
    problems = run_problems(lesson, f"course/source/{rel}", page, lab)
    # the widget is checked even when a later cell failed: one run reports everything
    try:
        move_main_widget(lesson, page)
    except AssertionError as exc:
        problems.append(f"main widget: {exc}")
    assert not problems, f"{lesson}:\n  " + "\n  ".join(problems)


def test_the_checks_catch_an_error_and_a_widget_that_does_not_redraw(browser, lab, lab_root):
    """The checks above can fail: a notebook whose slider drives nothing and whose last
    cell raises is reported on both counts."""
    import nbformat
    cells = [
        "import ipywidgets as widgets",
        "widgets.interact(lambda k: print('always the same'), "
        "k=widgets.IntSlider(value=0, min=0, max=5, description='dead'));",
        "1 / 0",
        "print('never reached')",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (lab_root / "selftest").mkdir(exist_ok=True)
    nbformat.write(nb, str(lab_root / "selftest" / "broken.ipynb"))
    page = browser.new_page(viewport=bh.VIEWPORT)
    try:
        bh.open_notebook(page, lab, "selftest/broken.ipynb")
        bh.start_run_all(page)
        bh.wait_run_finished(page)
        problems = run_problems("selftest", "selftest/broken.ipynb", page, lab)
        assert any("ZeroDivisionError" in p for p in problems), problems
        assert any("never ran" in p for p in problems), problems
        assert any("tracebacks" in p for p in problems), problems
        with pytest.raises(AssertionError, match="did not change the output"):
            move_main_widget("selftest", page, dict(control="dead", action=("slider", 1)), screenshot=False,
                             redraw_timeout=5_000)
    finally:
        page.close()


# ---------------------------------------------------------------- the instructor side

def test_formgrader_lists_every_lesson(browser, lab):
    page = browser.new_page(viewport=bh.VIEWPORT)
    try:
        page.goto(f"{lab.url}/lab?reset")
        page.wait_for_selector(".lm-MenuBar-itemLabel", timeout=90_000)
        bh.menu(page, "Nbgrader", "nbgrader:open-formgrader")
        frame = page.frame_locator("iframe").first
        names = [lesson_of(r) for r in NOTEBOOKS]
        table = frame.locator("table")
        table.get_by_text(names[-1], exact=True).wait_for(timeout=60_000)
        listed = table.inner_text()
        missing_names = [n for n in names if n not in listed]
        assert not missing_names, f"the formgrader does not list {missing_names}:\n{listed[:1000]}"
    finally:
        page.close()


@pytest.fixture(scope="module")
def student_notebooks(lab, lab_root):
    """The released (blank) student notebook of VALIDATE_LESSON, and a copy with the
    instructor's solutions put back into its solution cells."""
    course = lab_root / "course"
    env = dict(lab.env, PATH=lab.env["PATH"])
    nbgrader = Path(sys.executable).parent / "nbgrader"
    result = subprocess.run([str(nbgrader), "generate_assignment", VALIDATE_LESSON, "--force"],
                            cwd=course, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    released = course / "release" / VALIDATE_LESSON / f"{VALIDATE_LESSON}.ipynb"
    student = lab_root / "student"
    student.mkdir(exist_ok=True)
    blank = student / "blank.ipynb"
    shutil.copy2(released, blank)
    nb = json.loads(released.read_text())
    source = json.loads((course / "source" / VALIDATE_LESSON / f"{VALIDATE_LESSON}.ipynb").read_text())
    solutions = {c["metadata"]["nbgrader"]["grade_id"]: c["source"] for c in source["cells"]
                 if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    filled = 0
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            text = "".join(solutions[meta["grade_id"]]) if isinstance(solutions[meta["grade_id"]], list) \
                else solutions[meta["grade_id"]]
            cell["source"] = re.sub(r"[ \t]*### (BEGIN|END) SOLUTION\n?", "", text)
            filled += 1
    assert filled, f"{VALIDATE_LESSON} has no solution cells"
    (student / "solved.ipynb").write_text(json.dumps(nb))
    return {"blank": "student/blank.ipynb", "solved": "student/solved.ipynb"}


@pytest.mark.parametrize("which, expected", [
    ("solved", r"Success! Your notebook passes all the tests"),
    ("blank", r"The following cell failed"),
])
def test_validate_reports_the_result(which, expected, student_notebooks, browser, lab):
    page = browser.new_page(viewport=bh.VIEWPORT)
    try:
        bh.open_notebook(page, lab, student_notebooks[which])
        page.locator(".jp-NotebookPanel-toolbar .validate-button").click()
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for(timeout=180_000)
        page.wait_for_function("() => !/Validating/i.test(document.querySelector('.jp-Dialog')?.innerText || '')",
                               timeout=180_000)
        text = dialog.inner_text()
        assert re.search(expected, text), f"Validate on the {which} notebook said:\n{text[:2000]}"
        if which == "solved":
            assert "failed" not in text.lower(), text[:2000]
    finally:
        page.close()
