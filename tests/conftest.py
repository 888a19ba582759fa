"""Shared fixtures: isolated Jupyter/nbgrader environments and course copies.

Every test that runs nbgrader works on its own copy of a course directory in
pytest's tmp_path (its own gradebook), so tests can run under pytest-xdist.
"""
import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COURSE = REPO / "course"
FIXTURE_COURSE = REPO / "tests" / "fixtures" / "course"
FIXTURE = "fixture_central"


def lesson_names():
    """The real lessons present now (other assignments may appear later)."""
    source = COURSE / "source"
    if not source.is_dir():
        return []
    return sorted(d.name for d in source.iterdir() if d.is_dir() and any(d.glob("*.ipynb")))


@pytest.fixture(scope="session", autouse=True)
def isolated_jupyter(tmp_path_factory):
    """Jupyter runtime/config dirs of our own, the venv on PATH (nbgrader runs
    alembic) and the repository importable by kernels."""
    base = tmp_path_factory.mktemp("jupyter")
    saved = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    os.environ.update({
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "IPYTHONDIR": str(base / "ipython"),
        "PATH": os.pathsep.join([bindir, os.environ.get("PATH", "")]),
        "PYTHONPATH": os.pathsep.join(p for p in [str(REPO), os.environ.get("PYTHONPATH", "")] if p),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "MPLBACKEND": "Agg",
    })
    os.environ.pop("AUTODIFF_COURSE", None)
    yield base
    os.environ.clear()
    os.environ.update(saved)


def make_course(dest, assignments=(), fixture=False, config_extra=""):
    """A fresh course directory at `dest`: the real config, the named lessons'
    sources and wrong submissions, and optionally the fixture assignment."""
    from autograder.workflow import copy_course
    extra = [FIXTURE_COURSE / "source" / FIXTURE] if fixture else []
    course = copy_course(COURSE, dest, list(assignments), extra_sources=extra)
    if fixture:
        for folder in ("wrong_submissions", "equivalent_mutants"):
            src = FIXTURE_COURSE / folder
            if src.is_dir():
                shutil.copytree(src, dest / folder, dirs_exist_ok=True)
    if config_extra:
        with open(dest / "nbgrader_config.py", "a") as fh:
            fh.write("\n" + config_extra + "\n")
    return course


@pytest.fixture(scope="session")
def generated_fixture_course(tmp_path_factory):
    """The fixture course with its release generated (session-wide template; copy before grading)."""
    dest = tmp_path_factory.mktemp("fixture-template") / "course"
    course = make_course(dest, fixture=True, config_extra="c.SandboxGrade.timeout = 4")
    course.generate([FIXTURE], log=lambda msg: None)
    return course


@pytest.fixture
def fixture_course(generated_fixture_course, tmp_path):
    """A private copy of the generated fixture course (own gradebook)."""
    from autograder.workflow import Course
    dest = tmp_path / "course"
    shutil.copytree(generated_fixture_course.root, dest)
    course = Course(dest)
    # the copy's config computes its paths from its own location
    assert course.config().CourseDirectory.root == str(dest)
    return course
