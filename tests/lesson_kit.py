"""What the lesson tests share: the notebook's solutions as a namespace, a check's hint.

Mutation testing of every lesson lives in one place, tests/test_mutation.py, with the one
engine (autograder/mutation.py) and the one registry of equivalent mutants (course/equivalent_mutants)."""
import pytest

from autograder import notebooks
from autograder.checks import CheckFailure


def setup_source(nb):
    """The notebook's locked setup cell, without IPython magics."""
    cell = next(c for c in nb.cells if notebooks.grade_id(c) == "setup")
    return notebooks.strip_magics(notebooks.source_text(cell))


def solution_namespace(nb_path, replace=None):
    """Run the setup cell and every solution cell (``replace`` maps grade_id → source)."""
    nb = notebooks.read(nb_path)
    ns = {}
    exec(compile(setup_source(nb), "setup", "exec"), ns)
    for gid, src in notebooks.solution_sources(nb).items():
        src = (replace or {}).get(gid, src)
        exec(compile(src, gid, "exec"), ns)
    return ns


def failure_of(check, *args, **kwargs):
    """The CheckFailure `check` raises; it must name the input, the expected value and what came back."""
    with pytest.raises(CheckFailure) as info:
        check(*args, **kwargs)
    message = str(info.value)
    assert "input:" in message and "expected:" in message and "got:" in message
    return info.value


def hint_of(check, *args, **kwargs):
    """The hint of the failure `check` raises."""
    return failure_of(check, *args, **kwargs).hint or ""


def blank(*args, **kwargs):
    """A task as released: its body still raises NotImplementedError."""
    raise NotImplementedError()


def assert_blank_tasks_not_done(table):
    """Every check of `table` (as in :func:`run_checks`) says a blank task is not done yet."""
    for runs in table.values():
        for _, check in runs:
            assert "not done yet" in hint_of(check, blank), check.__name__


def run_checks(table, ns, only=None):
    """Every check of a lesson, visible and hidden, on the functions in namespace `ns`.

    `table` maps a solution cell's grade_id to [(function name, check)]; `only`
    restricts the run to one cell's checks."""
    for gid, runs in table.items():
        if only is None or gid == only:
            for name, check in runs:
                check(ns[name])
                check(ns[name], hidden=True)


def assert_every_check_passes(table, ns, capsys, ticks):
    """The notebook's own solutions pass every check of `table` (visible and hidden)."""
    run_checks(table, ns)
    out = capsys.readouterr().out
    assert out.count("✓") == ticks and "✗" not in out, out
