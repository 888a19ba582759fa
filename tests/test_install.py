"""Launch rehearsal: the README's first command in a fresh venv, which installs no PyTorch.

The README's launch command is ``python3 -m venv .venv && .venv/bin/pip install -e
".[course]" && .venv/bin/python -m autograder lab``. PyTorch is an optional extra
(``[torch]``) that only lesson 8's race uses, so this environment must stay small
and every lesson must work in it. This test does what a student does, from a fresh
``git clone`` (the committed state, not the working tree):

1. create the venv and ``pip install -e ".[course]"`` (timed; the venv's size is
   measured and must stay under ``MAX_VENV_MB``); PyTorch must not be importable;
2. ``python -m autograder lab --dry-run``: every lesson is generated into student/;
3. lesson 8 (with its solutions) runs headless in that venv with nbclient: no
   error, nothing on stderr, and the race cell says in one line what the
   comparison shows and how to install PyTorch's CPU build;
4. ``python -m autograder check`` grades lesson 8 there with full marks;
5. the other lessons run headless there too.

The same lesson with PyTorch is covered by the main suite, whose ``[test]`` extra
installs it (tests/test_notebooks.py, tests/test_lesson8_checks.py).

Slow (a minute or two, most of it pip): marked ``slow``. pip's cache is used.
"""
import json
import os
import subprocess
import sys
import time
from glob import glob
from pathlib import Path

import pytest

import browser_helpers as bh

REPO = Path(__file__).resolve().parents[1]
LESSON8 = "lesson8_learning"
MAX_VENV_MB = 800
TORCH_CPU_INSTALL = "pip install torch --index-url https://download.pytorch.org/whl/cpu"

pytestmark = pytest.mark.slow



def run(cmd, cwd, env, timeout, what):
    """Run `cmd`; on failure, fail with the end of its output."""
    started = time.monotonic()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{what} failed (exit {result.returncode}):\n{output[-4000:]}"
    print(f"{what}: {seconds:.1f} s")
    return seconds, result.stdout, output


def disk_usage_mb(path):
    """What ``du -sm`` says: allocated blocks of every file and folder, hard links once, in MiB."""
    seen, blocks = set(), 0
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(root, name))
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            blocks += st.st_blocks
    blocks += os.lstat(path).st_blocks
    return blocks * 512 / 2**20


def lessons_of(clone):
    return sorted(Path(p).parent.name for p in glob(str(clone / "course" / "source" / "*" / "*.ipynb")))


@pytest.fixture(scope="module")
def launch(tmp_path_factory):
    """A fresh clone with the README's launch install: venv, then pip install -e ".[course]"."""
    base = tmp_path_factory.mktemp("launch")
    clone, state = base / "repo", base / "jupyter"
    venv = clone / ".venv"            # where the README's command puts it
    env = bh.clean_env()
    run(["git", "clone", "-q", str(REPO), str(clone)], base, env, 120, "git clone")
    run([sys.executable, "-m", "venv", str(venv)], clone, env, 300, "python -m venv")
    pip_seconds, _, _ = run([str(venv / "bin" / "pip"), "install", "-q", "-e", ".[course]"],
                            clone, env, 1800, 'pip install -e ".[course]"')
    size = disk_usage_mb(venv)
    print(f'launch install: pip install -e ".[course]" {pip_seconds:.0f} s, venv {size:.0f} MB')
    run_env = dict(env, PATH=os.pathsep.join([str(venv / "bin"), env.get("PATH", "")]),
                   VIRTUAL_ENV=str(venv), MPLBACKEND="Agg", PYDEVD_DISABLE_FILE_VALIDATION="1",
                   JUPYTER_CONFIG_DIR=str(state / "config"), JUPYTER_DATA_DIR=str(state / "data"),
                   JUPYTER_RUNTIME_DIR=str(state / "runtime"), IPYTHONDIR=str(state / "ipython"))
    return dict(clone=clone, venv=venv, python=str(venv / "bin" / "python"), env=run_env, base=base,
                pip_seconds=pip_seconds, size_mb=size)


def execute(launch, lesson):
    """Run a source notebook (solutions included) headless in the launch venv, with the course's
    one executor (``python -m autograder.execute``); its code cells' outputs."""
    clone, base = launch["clone"], launch["base"]
    work = base / "work" / lesson
    work.mkdir(parents=True, exist_ok=True)
    for item in (clone / "course" / "source" / lesson).iterdir():   # data files next to the notebook
        if item.is_file() and item.suffix != ".ipynb":
            (work / item.name).write_bytes(item.read_bytes())
    notebook = clone / "course" / "source" / lesson / f"{lesson}.ipynb"
    _, stdout, _ = run([launch["python"], "-m", "autograder.execute", str(notebook), str(work)], work,
                       launch["env"], 900, f"{lesson} headless in the launch venv")
    line = next(li for li in stdout.splitlines() if li.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_launch_install_is_small_and_has_no_pytorch(launch):
    python, env = launch["python"], launch["env"]
    found = subprocess.run([python, "-c", "import importlib.util as u; print(u.find_spec('torch') is not None)"],
                           env=env, capture_output=True, text=True, timeout=60)
    assert found.stdout.strip() == "False", f'pip install -e ".[course]" installed PyTorch: {found.stdout}{found.stderr}'
    listed = subprocess.run([python, "-m", "pip", "list", "--format=json"], env=env, capture_output=True,
                            text=True, timeout=120)
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    heavy = sorted(n for n in names if n.startswith(("torch", "nvidia-", "triton")))
    assert not heavy, f"the launch environment pulls {heavy}"
    assert {"jupyterlab", "nbgrader", "matplotlib", "ipywidgets", "scipy", "sympy"} <= names
    assert launch["size_mb"] < MAX_VENV_MB, (f"the launch venv is {launch['size_mb']:.0f} MB, over "
                                             f"{MAX_VENV_MB} MB")


def test_launch_prepares_every_lesson(launch):
    clone = launch["clone"]
    _, stdout, output = run([launch["python"], "-m", "autograder", "lab", "--dry-run", "--no-browser"],
                            clone, launch["env"], 900, "python -m autograder lab --dry-run")
    lessons = lessons_of(clone)
    assert LESSON8 in lessons
    missing = [a for a in lessons if not (clone / "student" / a / f"{a}.ipynb").exists()]
    assert not missing, f"autograder lab left out {missing}:\n{output[-3000:]}"


def test_lesson8_runs_clean_without_pytorch(launch):
    cells = execute(launch, LESSON8)
    stderr = [(c["index"], c["stderr"][:500]) for c in cells if c["stderr"].strip()]
    assert not stderr, f"lesson 8 writes to stderr without PyTorch: {stderr}"
    probe = [c for c in cells if "import torch" in c["source"]]
    assert len(probe) == 1, "lesson 8 should import torch in one cell"
    lines = probe[0]["stdout"].strip().splitlines()
    assert len(lines) == 1, f"without PyTorch the race should say one line, not {lines}"
    note = lines[0]
    assert "not installed" in note and TORCH_CPU_INSTALL in note, note
    assert "same loss curve" in note, f"the line should say what the comparison shows: {note}"
    others = [c for c in cells if c["index"] > probe[0]["index"] and "PyTorch" in c["stdout"]]
    assert not others, f"only one line about PyTorch: cell {others[0]['index']} adds {others[0]['stdout']!r}"
    plot = next(c for c in cells if "plot_training" in c["source"])
    assert "display_data" in plot["types"], "the training plot (our curve alone) is not drawn"


@pytest.mark.parametrize("lesson", lessons_of(REPO))
def test_every_lesson_grades_full_marks_without_pytorch(launch, lesson):
    """The solutions of every lesson, graded in the launch venv by the student's own command
    (the notebooks' execution in a kernel is tested once, in test_notebooks.py)."""
    clone, base = launch["clone"], launch["base"]
    work = base / "check" / lesson
    work.mkdir(parents=True)
    for item in (clone / "course" / "source" / lesson).iterdir():
        if item.is_file():
            (work / item.name).write_bytes(item.read_bytes())
    _, stdout, output = run([launch["python"], "-m", "autograder", "check", str(work / f"{lesson}.ipynb")],
                            clone, launch["env"], 900, f"python -m autograder check {lesson}")
    assert "✗" not in stdout, output[-3000:]   # and exit 0 (checked by run): full marks, no problems
