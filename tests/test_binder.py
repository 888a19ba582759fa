"""Binder rehearsal without Docker: what mybinder.org builds from binder/, then what a student sees.

repo2docker builds an image from the repository's ``binder/`` folder alone:
the Python of ``runtime.txt``, ``pip install -r requirements.txt``, then
``postBuild`` run from the repository root; the student's JupyterLab starts in
the repository root and the launch link opens ``student/START_HERE.ipynb``.
This rehearsal does the same on this machine, from a fresh ``git clone`` (the
committed state, not the working tree) into a fresh virtual environment:

1. clone, create the venv with runtime.txt's Python, install requirements.txt;
2. run postBuild with that venv first on PATH (Jupyter's config/data dirs are
   temporary and shared with step 3, as the image's home is on Binder);
3. start that venv's ``jupyter lab`` in the clone and check the landing page
   and every lesson are served; with Chromium present, open the landing page,
   follow its first lesson link and run the lesson's first cell (the kernel
   imports the course's packages), and save a screenshot of the landing page.

Slow (a minute or two, most of it pip): marked ``slow``. pip's cache is used.
"""
import json
import os
import re
import shutil
import subprocess
import time
from glob import glob
from pathlib import Path

import pytest

import browser_helpers as bh

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "docs" / "screenshots"
LANDING_NAMES = ("START_HERE.ipynb", "START_HERE.md")

pytestmark = pytest.mark.slow


def run(cmd, cwd, env, timeout, what):
    """Run `cmd`; on failure, fail with the end of its output."""
    started = time.monotonic()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - started
    output = (result.stdout + result.stderr)
    assert result.returncode == 0, f"{what} failed (exit {result.returncode}):\n{output[-4000:]}"
    print(f"{what}: {seconds:.1f} s")
    return seconds, output


def runtime_python(clone):
    """The interpreter binder/runtime.txt asks for (repo2docker's default Python is older
    than what the pinned numpy/scipy need)."""
    runtime = clone / "binder" / "runtime.txt"
    assert runtime.exists(), "binder/runtime.txt is missing: repo2docker would pick its default Python"
    match = re.fullmatch(r"python-(\d+\.\d+)", runtime.read_text().strip())
    assert match, f"binder/runtime.txt should read python-X.Y, not {runtime.read_text()!r}"
    python = shutil.which(f"python{match.group(1)}")
    if python is None:
        pytest.skip(f"python{match.group(1)} (binder/runtime.txt) is not installed here")
    return python


@pytest.fixture(scope="module")
def binder_build(tmp_path_factory):
    """A fresh clone built as repo2docker would: venv, requirements.txt, postBuild."""
    base = tmp_path_factory.mktemp("binder")
    clone, venv, state = base / "repo", base / "venv", base / "jupyter"
    timings = {}
    env = bh.clean_env()
    timings["clone"], _ = run(["git", "clone", "-q", str(REPO), str(clone)], base, env, 120, "git clone")
    assert (clone / "binder" / "requirements.txt").exists(), "binder/requirements.txt is not committed"
    assert (clone / "binder" / "postBuild").exists(), "binder/postBuild is not committed"

    python = runtime_python(clone)
    timings["venv"], _ = run([python, "-m", "venv", str(venv)], base, env, 300, "python -m venv")
    # The CPU torch index in requirements.txt may be unreachable from a test machine; pip's
    # retries with back-off would then cost ~8 s per package. No retries: pip moves on at once.
    pip_env = dict(env, PIP_RETRIES="0")
    timings["pip"], _ = run([str(venv / "bin" / "pip"), "install", "-q", "-r", "binder/requirements.txt"],
                            clone, pip_env, 1800, "pip install -r binder/requirements.txt")

    # postBuild as repo2docker runs it: executable, from the repository root, the env's bin first.
    build_env = dict(env, PATH=os.pathsep.join([str(venv / "bin"), env.get("PATH", "")]),
                     VIRTUAL_ENV=str(venv),
                     JUPYTER_CONFIG_DIR=str(state / "config"), JUPYTER_DATA_DIR=str(state / "data"),
                     JUPYTER_RUNTIME_DIR=str(state / "runtime"), IPYTHONDIR=str(state / "ipython"))
    postbuild = clone / "binder" / "postBuild"
    postbuild.chmod(0o755)
    timings["postBuild"], output = run([str(postbuild)], clone, build_env, 900, "binder/postBuild")
    total = sum(timings.values())
    print("binder rehearsal build: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
          + f"; total {total:.0f} s")
    return dict(clone=clone, venv=venv, state=state, env=build_env, timings=timings, postbuild_output=output)


def lessons_of(clone):
    return sorted(Path(p).parent.name for p in glob(str(clone / "course" / "source" / "*" / "*.ipynb")))


def landing_of(clone):
    found = [name for name in LANDING_NAMES if (clone / "student" / name).exists()]
    assert found, f"postBuild wrote no landing page student/{LANDING_NAMES[0]}"
    return found[0]


def test_postbuild_prepares_every_lesson_for_students(binder_build):
    clone = binder_build["clone"]
    lessons = lessons_of(clone)
    assert lessons, "no lessons in course/source"
    missing = [a for a in lessons if not (clone / "student" / a / f"{a}.ipynb").exists()]
    assert not missing, (f"postBuild left out {missing} (a lesson that fails nbgrader generate_assignment is "
                         f"skipped with a warning):\n{binder_build['postbuild_output'][-3000:]}")
    for a in lessons:
        nb = json.loads((clone / "student" / a / f"{a}.ipynb").read_text())
        sources = "".join("".join(c["source"]) for c in nb["cells"])
        assert "### BEGIN SOLUTION" not in sources, f"student/{a} still contains the solutions"
    landing = clone / "student" / landing_of(clone)
    text = landing.read_text()
    unlisted = [a for a in lessons if f"{a}/{a}.ipynb" not in text]
    assert not unlisted, f"{landing.name} does not link to {unlisted}"


@pytest.fixture(scope="module")
def binder_lab(binder_build):
    """The venv's JupyterLab started in the clone's root, as the student's server is on Binder."""
    build = binder_build
    started = time.monotonic()
    server = bh.JupyterLab(build["venv"] / "bin" / "jupyter", root=build["clone"], cwd=build["clone"],
                           state=build["state"], env=build["env"])
    with server:
        print(f"jupyter lab ready in {time.monotonic() - started:.1f} s")
        yield server


def test_landing_page_and_every_lesson_are_served(binder_build, binder_lab):
    clone = binder_build["clone"]
    landing = landing_of(clone)
    status, _ = binder_lab.get(f"/lab/tree/student/{landing}")
    assert status == 200
    # /lab/tree/<anything> answers 200; the contents API says whether the file is there
    model = binder_lab.get_json(f"/api/contents/student/{landing}?content=0")
    assert model["name"] == landing
    listing = binder_lab.get_json("/api/contents/student")
    names = {item["name"] for item in listing["content"]}
    missing = [a for a in lessons_of(clone) if a not in names]
    assert not missing, f"/api/contents/student does not list {missing}: {sorted(names)}"
    for a in lessons_of(clone):
        nb = binder_lab.notebook(f"student/{a}/{a}.ipynb")
        assert nb["cells"], f"student/{a}/{a}.ipynb is empty"


def test_students_do_not_get_the_formgrader(binder_lab):
    """postBuild disables the instructor's formgrader for Binder users."""
    try:
        status, _ = binder_lab.get("/formgrader")
    except Exception as exc:   # urllib raises on 404
        status = getattr(exc, "code", None)
    assert status == 404, f"/formgrader answered {status}: the formgrader is still enabled on Binder"


@pytest.mark.browser
@pytest.mark.skipif(bh.chromium_missing_reason() is not None, reason=bh.chromium_missing_reason() or "")
def test_landing_page_in_the_browser_leads_to_a_working_lesson(binder_build, binder_lab):
    from playwright.sync_api import sync_playwright
    clone = binder_build["clone"]
    landing = landing_of(clone)
    lessons = lessons_of(clone)
    with sync_playwright() as p:
        browser = bh.launch_chromium(p)
        try:
            page = browser.new_page(viewport=bh.VIEWPORT)
            started = time.monotonic()
            if landing.endswith(".ipynb"):
                bh.open_notebook(page, binder_lab, f"student/{landing}")
            else:
                page.goto(f"{binder_lab.url}/lab/tree/student/{landing}?reset")
            rendered = page.locator(".jp-RenderedMarkdown").first
            rendered.wait_for(timeout=60_000)
            links = rendered.locator("a")
            hrefs = links.evaluate_all("els => els.map(e => e.getAttribute('href'))")
            unlinked = [a for a in lessons if not any(h and a in h for h in hrefs)]
            assert not unlinked, f"the landing page shows no link to {unlinked}: {hrefs}"
            print(f"landing page rendered in {time.monotonic() - started:.1f} s")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            bh.screenshot(page, rendered, SCREENSHOTS / "binder_start_here.png")

            # what a student does first: follow the first lesson's link, run its first cell
            first = lessons[0]
            rendered.locator(f"a[href*='{first}']").first.click()
            tab = page.locator(".lm-TabBar-tab", has_text=f"{first}.ipynb")
            tab.wait_for(timeout=60_000)
            notebook_path = f"student/{first}/{first}.ipynb"
            deadline = time.monotonic() + 120
            while not (binder_lab.kernel_of(notebook_path) or {}).get("connections"):
                assert time.monotonic() < deadline, f"no kernel connected for {notebook_path}"
                time.sleep(0.3)
            panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
            panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=60_000)
            first_code = panel.locator(".jp-CodeCell").first
            first_code.locator(".jp-InputArea-prompt").click()
            page.keyboard.press("Shift+Enter")
            prompt = first_code.locator(".jp-InputArea-prompt")
            page.wait_for_function("(el) => /\\[\\d+\\]/.test(el.textContent)", arg=prompt.element_handle(),
                                   timeout=120_000)
            outputs = first_code.locator(".jp-OutputArea-output").all_inner_texts()
            assert not any("Traceback" in o or "Error" in o for o in outputs), (
                f"the first cell of {first} fails in the Binder environment:\n" + "\n".join(outputs)[:3000])
        finally:
            browser.close()
