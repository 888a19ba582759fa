"""JupyterLab in a real browser: a server we start and stop, and what a student does in it.

Used by tests/test_browser.py (the lessons, the formgrader, Validate) and
tests/test_binder.py (the Binder rehearsal opens the landing page). Playwright
drives Debian's Chromium (``apt-get install chromium``); we never download a
browser, so without /usr/bin/chromium the browser tests are skipped.

The waits are conditions on the page (prompts, the kernel indicator, the bytes
of a plot), never fixed sleeps: the machines that run this are shared and slow.
"""
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# Flags that make Debian's Chromium start headless as root in a container.
# Playwright gives every launch a fresh temporary profile (--user-data-dir).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}

# JupyterLab's toast asking about news would sit on top of the screenshots.
QUIET_LAB_PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}


def chromium_missing_reason():
    """None when the browser tests can run, else why they are skipped."""
    if not CHROMIUM.exists():
        return (f"{CHROMIUM} is missing: install Debian's Chromium with `apt-get install chromium` "
                "(CI does; never `playwright install`)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the python package playwright is not installed (pip install -e '.[test]')"
    return None


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra):
    """os.environ without what would leak this test session into the server under test."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER_", "PYTHON", "VIRTUAL_ENV", "MPL", "IPYTHON", "CONDA"))}
    env.update({k: str(v) for k, v in extra.items()})
    return env


class JupyterLab:
    """``jupyter lab`` on 127.0.0.1, no token, with its own runtime/config/data dirs.

    `jupyter` is the executable of the environment under test; `root` the directory
    the file browser shows; `cwd` where the server starts (nbgrader's formgrader and
    Validate read ``nbgrader_config.py`` from there); `state` holds the Jupyter
    dirs unless `env` names them (the Binder rehearsal reuses postBuild's).
    """

    def __init__(self, jupyter, root, state, cwd=None, env=None, page_config=None, extra_args=()):
        self.jupyter, self.root, self.state = str(jupyter), Path(root), Path(state)
        self.cwd = Path(cwd or root)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.state / "jupyterlab.log"
        dirs = {"JUPYTER_RUNTIME_DIR": self.state / "runtime",
                "JUPYTER_CONFIG_DIR": self.state / "config",
                "JUPYTER_DATA_DIR": self.state / "data",
                "IPYTHONDIR": self.state / "ipython"}
        self.env = dict(env) if env is not None else clean_env()
        for key, path in dirs.items():
            self.env.setdefault(key, str(path))
            Path(self.env[key]).mkdir(parents=True, exist_ok=True)
        if page_config:
            labconfig = Path(self.env["JUPYTER_CONFIG_DIR"]) / "labconfig"
            labconfig.mkdir(parents=True, exist_ok=True)
            (labconfig / "page_config.json").write_text(json.dumps(page_config))
        self.args = [self.jupyter, "lab", "--no-browser", f"--port={self.port}",
                     "--ServerApp.ip=127.0.0.1", "--ServerApp.token=", "--ServerApp.password=",
                     "--ServerApp.port_retries=0", "--allow-root",
                     f"--ServerApp.root_dir={self.root}", *extra_args]
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=120):
        self.state.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.args, cwd=self.cwd, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.get_json("/api/status", timeout=2)
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.3)
        raise TimeoutError(f"jupyter lab did not answer within {timeout} s:\n{self.log_tail()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            # the whole process group: the server and the kernels it started
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()

    def log_tail(self, n=40):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def get(self, path, timeout=30):
        with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
            return response.status, response.read()

    def get_json(self, path, timeout=30):
        return json.loads(self.get(path, timeout)[1])

    def kernel_of(self, rel_path):
        """The kernel model (/api/kernels) of the session of the notebook `rel_path`, or None."""
        for session in self.get_json("/api/sessions"):
            if session.get("path") == rel_path and session.get("kernel"):
                return self.get_json(f"/api/kernels/{session['kernel']['id']}")
        return None

    def notebook(self, rel_path):
        """The saved notebook (nbformat JSON) at `rel_path` under the root, through the contents API."""
        return self.get_json(f"/api/contents/{rel_path}?type=notebook&content=1")["content"]


# ---------------------------------------------------------------- a notebook in a page

def menu(page, bar_label, command):
    """Click a menu bar entry, then the item bound to `command` (as a student would)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(bar_label)}$")).click()
    page.locator(f".lm-Menu-item[data-command='{command}']").click()


def open_notebook(page, lab, rel_path, timeout=90):
    """Open `rel_path` in a fresh JupyterLab layout; return once its kernel is connected and idle.

    The page's kernel indicator can read "idle" for a moment before the kernel is
    even connected (cells run then are silently skipped), so we also ask the server
    that a kernel for this notebook has a websocket connection and is idle."""
    page.goto(f"{lab.url}/lab/tree/{rel_path}?reset")
    deadline = time.monotonic() + timeout
    idle = ".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']"
    while True:
        kernel = lab.kernel_of(rel_path)
        if (kernel and kernel.get("connections", 0) >= 1 and kernel.get("execution_state") == "idle"
                and page.locator(idle).count()):
            return kernel
        if time.monotonic() > deadline:
            raise TimeoutError(f"{rel_path}: no idle, connected kernel after {timeout} s: {kernel}\n"
                               f"{lab.log_tail()}")
        time.sleep(0.25)


PROMPTS_JS = "() => [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt')]" \
             ".map(e => e.textContent.trim())"

RUN_FINISHED_JS = """() => {
    const prompts = [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt')]
        .map(e => e.textContent.trim());
    const idle = document.querySelector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']");
    return prompts.length > 0 && /\\d/.test(prompts[0]) && !prompts.some(p => p.includes('*')) && !!idle;
}"""


def start_run_all(page, attempts=3, timeout=20):
    """Run → Run All Cells, and make sure it started (a prompt shows * or a number).

    The notebook must not have run before (every prompt blank). If Run All was
    swallowed (no cell started) it is clicked again: nothing has run, so this is safe."""
    prompts = page.evaluate(PROMPTS_JS)
    ran = [p for p in prompts if re.search(r"\d|\*", p)]
    assert not ran, f"the notebook ran before Run All: prompts {ran[:5]}"
    started = "() => [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt')]" \
              ".some(e => /\\d|\\*/.test(e.textContent))"
    for _ in range(attempts):
        menu(page, "Run", "runmenu:run-all")
        try:
            page.wait_for_function(started, timeout=timeout * 1000, polling=200)
            return
        except Exception:   # playwright's TimeoutError
            continue
    raise AssertionError(f"Run → Run All Cells did not start any cell ({attempts} clicks)")


def wait_run_finished(page, timeout=240_000):
    """Every queued cell has run (or Run All stopped at an error) and the kernel is idle."""
    page.wait_for_function(RUN_FINISHED_JS, timeout=timeout, polling=250)


def save_notebook(page, timeout=30_000):
    menu(page, "File", "docmanager:save")
    page.wait_for_function(
        "() => !document.querySelector('.jp-NotebookPanel.jp-mod-dirty, .lm-TabBar-tab.jp-mod-dirty')",
        timeout=timeout, polling=200)


def error_outputs(nb):
    """(cell index, 'Ename: message') for every error output saved in the notebook."""
    return [(i, f"{out.get('ename')}: {out.get('evalue')}")
            for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"
            for out in cell.get("outputs", []) if out.get("output_type") == "error"]


def widget_view_count(nb):
    """How many widget views the kernel displayed, as saved in the notebook's outputs."""
    return sum(1 for cell in nb["cells"] if cell["cell_type"] == "code" for out in cell.get("outputs", [])
               if "application/vnd.jupyter.widget-view+json" in out.get("data", {}))


# What the page shows: top-level widget views, tracebacks, widget errors.
PAGE_REPORT_JS = r"""() => {
    const panel = document.querySelector('.jp-NotebookPanel');
    const outputs = [...panel.querySelectorAll('.jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output')];
    const widgetViews = outputs.filter(o => o.querySelector(':scope > .jupyter-widgets'));
    const stderr = [...panel.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
        .map(e => e.innerText);
    const text = panel.innerText;
    return {
        widget_views: widgetViews.length,
        empty_widget_views: widgetViews.filter(o => o.getBoundingClientRect().height < 10).length,
        tracebacks: stderr.filter(t => /Traceback \(most recent call last\)|^-{20,}\n\w+(Error|Exception|Failure)/m.test(t))
                          .map(t => t.slice(0, 600)),
        warnings: stderr.filter(t => t.trim() && !/Traceback \(most recent call last\)|^-{20,}\n\w+(Error|Exception|Failure)/m.test(t))
                        .map(t => t.slice(0, 300)),
        widget_errors: (text.match(/(Error displaying widget[^\n]*|Loading widget\.\.\.|Error rendering output item[^\n]*|A Jupyter widget could not be displayed[^\n]*)/g) || []),
        sliders: panel.querySelectorAll('.widget-slider').length,
        buttons: panel.querySelectorAll('.widget-button, .widget-toggle-button').length,
        dropdowns: panel.querySelectorAll('.widget-dropdown').length,
        images: panel.querySelectorAll('.jp-RenderedImage img').length,
    };
}"""


def page_report(page):
    return page.evaluate(PAGE_REPORT_JS)


# ---------------------------------------------------------------- moving a widget

def widget_box(page, control, nth=0, action=("slider",)):
    """The output holding the `nth` top-level widget that has the control `control` (a
    label, or for a button action the button's text); returns (box, control locator)."""
    if action[0] == "button":
        control_loc = page.locator(".widget-button", has_text=control)
    else:
        control_loc = page.locator("label.widget-label", has_text=re.compile(f"^{re.escape(control)}$"))
    boxes = page.locator(".jp-Cell-outputArea .jp-OutputArea-output:has(> .jupyter-widgets)").filter(has=control_loc)
    count = boxes.count()
    assert count > nth, f"no widget #{nth} with a control {control!r} on the page (found {count})"
    return boxes.nth(nth), control_loc


# The outputs a widget drives: each Output widget's images (their bytes) and text.
DRIVEN_JS = """(box) => [...box.querySelectorAll('.widget-output')].map(o => ({
    images: [...o.querySelectorAll('img')].map(i => i.src),
    text: o.innerText,
}))"""


def driven_output(box):
    state = box.evaluate(DRIVEN_JS)
    return {"images": [src for o in state for src in o["images"]],
            "text": "\n".join(o["text"] for o in state)}


def move(box, label_loc, action):
    """Do `action` on the control labelled `label_loc` inside `box`; returns a description.

    action: ("slider", n)  press the right arrow n times on the slider's handle;
            ("dropdown",)  pick the first option that is not selected;
            ("button", text) click the button with that text;
            ("toggle",)    click the first toggle button that is not selected.
    """
    kind = action[0]
    if kind == "slider":
        slider = box.locator(".widget-slider", has=label_loc).first
        handle, readout = slider.locator(".noUi-handle"), slider.locator(".widget-readout")
        before = readout.inner_text()
        handle.focus()
        for _ in range(action[1]):
            handle.press("ArrowRight")
        return f"slider {before} → {readout.inner_text()}"
    if kind == "dropdown":
        select = box.locator(".widget-dropdown", has=label_loc).locator("select")
        current = select.input_value()
        options = select.locator("option").evaluate_all("els => els.map(e => e.value)")
        choice = next((o for o in options if o != current), None)
        assert choice is not None, f"the dropdown has one option only: {options}"
        select.select_option(value=choice)
        return f"dropdown {current!r} → {choice!r}"
    if kind == "button":
        box.locator(".widget-button", has_text=action[1]).first.click()
        return f"clicked {action[1]!r}"
    if kind == "toggle":
        group = box.locator(".widget-toggle-buttons", has=label_loc)
        button = group.locator(".widget-toggle-button:not(.mod-active)").first
        text = button.inner_text()
        button.click()
        return f"toggled to {text!r}"
    raise ValueError(f"unknown widget action {action!r}")


def screenshot(page, element, path, margin=6):
    """A PNG of `element` with a small margin left, right and on top (the widgets'
    labels sit flush with their box; below it the next cell's border would show)."""
    page.add_style_tag(content=".jp-cell-toolbar { display: none !important; }")
    element.scroll_into_view_if_needed()
    box = element.bounding_box()
    x, y = max(box["x"] - margin, 0), max(box["y"] - margin, 0)
    page.screenshot(path=str(path), clip={"x": x, "y": y, "width": box["width"] + 2 * margin,
                                          "height": box["height"] + margin})


def wait_output_changed(page, box, before, timeout=60_000):
    """Wait until the driven output differs from `before` and has redrawn completely
    (as many images as before, kernel idle); returns the new state."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        now = driven_output(box)
        idle = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']").count()
        if now != before and len(now["images"]) >= len(before["images"]) and idle:
            return now
        if time.monotonic() > deadline:
            return now
        time.sleep(0.2)
