"""What the class got wrong: per lesson and question, how many students hit each misconception.

The checks name the misconception behind a wrong answer in the ``hint:`` line of their
failure message (``✗ what / input / expected / got / hint: …``, see
:class:`autograder.checks.CheckFailure`). The graded notebooks in ``course/autograded``
keep those messages as the test cells' error outputs; this module reads them back and
counts students, not failures (a student who fails one test twice counts once).

A failure without a hint is counted under its first line (``✗ what``); a cell that
timed out, ended its process or was not run is counted under that status. Numbers in a
hint (inputs, ratios) are blanked so the same mistake on different inputs is one row.
"""
import csv
import re
from collections import defaultdict
from pathlib import Path

from . import notebooks
from .checks import NOT_DONE_HINT
from .grading import STATUS_FAILED, STATUS_PASSED, cell_outcome
from .workflow import CourseError, save_figure

NOT_ATTEMPTED = "not attempted (the task still raises NotImplementedError)"
_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?\d+\.\d*(?:e[-+]?\d+)?|(?<![A-Za-z_\d.])\d{3,}(?![\d.])")


def misconceptions_of(status, message):
    """The misconceptions one failed graded cell shows: its hints, else its first line."""
    if status == STATUS_PASSED:
        return []
    if status != STATUS_FAILED:
        return [f"[{status}]"]
    hints = [line.strip()[len("hint:"):].strip() for line in (message or "").splitlines()
             if line.strip().startswith("hint:")]
    if not hints:
        first = next((line.strip() for line in (message or "").splitlines() if line.strip()), "failed")
        hints = [first.lstrip("✗ ").strip()]
    out = []
    for hint in hints:
        hint = NOT_ATTEMPTED if NOT_DONE_HINT in hint or "NotImplementedError" in hint else \
            _NUMBER.sub("…", hint)
        if hint not in out:
            out.append(hint)
    return out


def collect(course, assignments=None):
    """Rows ``{assignment, question, misconception, students, submissions, share, who}``,
    sorted by assignment, question (notebook order) and then most students first."""
    names = course.check_assignments(assignments) if assignments else course.assignments()
    rows = []
    for assignment in names:
        order = course.question_order(assignment)
        hits = defaultdict(set)
        submitted = set()
        for path in sorted(course.autograded.glob(f"*/{assignment}/*.ipynb")):
            student = path.parent.parent.name
            try:
                nb = notebooks.read(path)
            except ValueError:
                continue
            submitted.add(student)
            for cell in nb.cells:
                if cell.cell_type != "code" or not notebooks.is_graded(cell):
                    continue
                status, message = cell_outcome(cell)
                for m in misconceptions_of(status, message):
                    hits[(notebooks.grade_id(cell), m)].add(student)
        for (question, m), who in hits.items():
            rows.append({"assignment": assignment, "question": question, "misconception": m,
                         "students": len(who), "submissions": len(submitted),
                         "share": len(who) / len(submitted), "who": sorted(who)})
        rows.sort(key=lambda r: (r["assignment"], order.index(r["question"]) if r["question"] in order
                                 else len(order), -r["students"], r["misconception"]))
    rows.sort(key=lambda r: names.index(r["assignment"]))
    return rows


def write_csv(rows, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["assignment", "question", "misconception", "students", "submissions", "share", "who"])
        for r in rows:
            writer.writerow([r["assignment"], r["question"], r["misconception"], r["students"],
                             r["submissions"], f"{r['share']:.2f}", " ".join(r["who"])])
    return path


def write_markdown(rows, path):
    """A page per lesson: a table of the questions and the mistakes, most frequent first."""
    lines = ["# What the class got wrong", ""]
    for assignment in dict.fromkeys(r["assignment"] for r in rows):
        mine = [r for r in rows if r["assignment"] == assignment]
        lines += [f"## {assignment} ({mine[0]['submissions']} graded submission(s))", "",
                  "| question | misconception | students | share |", "|---|---|---:|---:|"]
        for r in mine:
            text = r["misconception"].replace("|", "\\|")
            lines.append(f"| {r['question']} | {text} | {r['students']} | {r['share']:.0%} |")
        lines.append("")
    if not rows:
        lines.append("No graded submission failed a check.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def plot(rows, path, top=12):
    """One panel per lesson: the `top` most frequent (question, misconception), as bars of students."""
    import textwrap

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not rows:
        raise CourseError("no misconceptions to plot: no graded submission failed a check")
    names = list(dict.fromkeys(r["assignment"] for r in rows))
    heights = [min(top, sum(r["assignment"] == a for r in rows)) for a in names]
    fig, axes = plt.subplots(len(names), 1, figsize=(11, sum(1.2 + 0.45 * h for h in heights)),
                             squeeze=False, gridspec_kw={"height_ratios": heights})
    for ax, name in zip(axes[:, 0], names):
        mine = sorted((r for r in rows if r["assignment"] == name), key=lambda r: -r["students"])[:top]
        labels = [textwrap.shorten(f"{r['question']}: {r['misconception']}", 95) for r in mine]
        ax.barh(range(len(mine)), [r["students"] for r in mine],
                color=["C7" if r["misconception"].startswith(("[", "not attempted")) else "C3" for r in mine])
        ax.set_yticks(range(len(mine)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, mine[0]["submissions"])
        ax.set_xlabel(f"students (of {mine[0]['submissions']} graded)")
        ax.set_title(f"{name}: what the class got wrong", loc="left")
    fig.tight_layout()
    return save_figure(fig, path)


def export(course, out, assignments=None):
    """``OUT.csv``, ``OUT.md`` and ``OUT.png`` (OUT may end in .csv/.md/.png; the stem is used).
    Returns (rows, [paths])."""
    out = Path(out)
    if out.suffix in (".csv", ".md", ".png"):
        out = out.with_suffix("")
    rows = collect(course, assignments)
    paths = [write_csv(rows, out.with_suffix(".csv")), write_markdown(rows, out.with_suffix(".md"))]
    if rows:
        paths.append(plot(rows, out.with_suffix(".png")))
    return rows, paths
