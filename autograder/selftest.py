"""``selftest``: the course grades itself through the real nbgrader.

For each assignment, in a scratch copy of the course (the real gradebook is
never touched):

- the instructor's solution must get full marks, every graded cell passing;
- the blank release must get 0 and be graded without a crash;
- each realistic wrong submission (``course/wrong_submissions/<a>.json``,
  see :func:`autograder.notebooks.load_wrong_submissions`) must lose exactly
  the cells it names, with the expected words in their feedback;
- mutants of each solution region (from :mod:`autograder.mutation`) must
  lose points; every region needs at least one mutant its tests catch.
"""
import tempfile
from pathlib import Path

from . import grading, mutation, notebooks
from .workflow import copy_course


def _submission_files(work, assignment, mutants_per_region, jobs, log):
    """Write the selftest's submissions; returns (folder, expectations, mutation report)."""
    src = notebooks.read(work.source_notebook(assignment))
    rel = notebooks.read(work.release_notebooks(assignment)[0])
    folder = work.root.parent / "selftest-submissions" / assignment
    folder.mkdir(parents=True, exist_ok=True)
    expect = {}

    notebooks.write(notebooks.make_submission(rel, src), folder / "solution.ipynb")
    expect["solution"] = ("solution", None)
    notebooks.write(notebooks.make_submission(rel), folder / "blank.ipynb")
    expect["blank"] = ("blank", None)

    wrong_file = work.wrong_submissions_dir / f"{assignment}.json"
    if wrong_file.exists():
        for i, wrong in enumerate(notebooks.load_wrong_submissions(wrong_file)):
            sid = f"wrong{i:02d}"
            notebooks.write(notebooks.make_submission(rel, src, replace=wrong["replace"]), folder / f"{sid}.ipynb")
            expect[sid] = ("wrong", wrong)

    report = mutation.mutate_notebook(work, assignment, jobs=jobs, log=log)
    generated = mutation.notebook_mutants(src)
    chosen = {}
    for m in report["mutants"]:
        if m["status"] != "caught" or len(chosen.get(m["grade_id"], [])) >= mutants_per_region:
            continue
        source = next(g["source"] for g in generated.get(m["cell"], [])
                      if (g["line"], g["kind"], g["description"], g["original"], g["mutated"])
                      == (m["line"], m["kind"], m["description"], m["original"], m["mutated"]))
        chosen.setdefault(m["grade_id"], []).append(dict(m, source=source))
    for gid, ms in chosen.items():
        for k, m in enumerate(ms):
            sid = grading.student_id(f"mutant-{gid}-{k}")
            sub = notebooks.make_submission(rel, src, replace={gid: notebooks.strip_markers(m["source"])})
            notebooks.write(sub, folder / f"{sid}.ipynb")
            expect[sid] = ("mutant", m)
    regions = [gid for _, gid in notebooks.solution_cells(src)]
    uncaught = [gid for gid in regions if gid not in chosen]
    return folder, expect, report, uncaught


def selftest(course, assignments=(), *, jobs=None, mutants=1, log=print):
    """Run the self-test; returns one dict per assignment with an ``ok`` verdict."""
    names = course.check_assignments(assignments)
    out = []
    with tempfile.TemporaryDirectory(prefix="autodiff-selftest-") as tmp:
        work = copy_course(course.root, Path(tmp) / "course", names)
        work.generate(names, log=lambda msg: None)
        for assignment in names:
            folder, expect, report, uncaught = _submission_files(work, assignment, mutants, jobs, log)
            results = {r.student: r for r in grading.autograde(work, folder, assignment, jobs=jobs,
                                                                  log=lambda msg: None)}
            entry = {"assignment": assignment, "problems": [], "mutation": (report["caught"], report["total"]),
                     "rows": []}
            for sid, (kind, data) in expect.items():
                r = results[sid]
                ok, why = _verdict(kind, data, r)
                entry["rows"].append({"student": sid, "kind": kind, "score": r.score, "max": r.max_score,
                                      "ok": ok, "why": why,
                                      "name": data["name"] if kind == "wrong" else
                                      (f"{data['grade_id']} line {data['line']}: {data['original']} → "
                                       f"{data['mutated']}" if kind == "mutant" else kind)})
                if not ok:
                    entry["problems"].append(f"{sid} ({kind}): {why}")
            for gid in uncaught:
                entry["problems"].append(f"solution region {gid}: no mutant is caught by its tests")
            if not report["baseline"]["ok"]:
                entry["problems"].append(f"the solution fails under the fast path: {report['baseline']['failures']}")
            entry["ok"] = not entry["problems"]
            out.append(entry)
    return out


def _verdict(kind, data, r):
    if not r.ok:
        return False, r.problems[0] if r.problems else "not graded"
    if kind == "solution":
        bad = [c.grade_id for c in r.cells if c.status != grading.STATUS_PASSED]
        if r.score != r.max_score or bad:
            return False, f"solution scored {r.score:g}/{r.max_score:g}; failing: {bad}: " + \
                "; ".join(c.message.splitlines()[0] for c in r.cells if c.message)[:300]
        return True, ""
    if kind == "blank":
        return (r.score == 0, "" if r.score == 0 else f"blank release scored {r.score:g}")
    if kind == "mutant":
        return (r.score < r.max_score, "" if r.score < r.max_score else "mutant got full marks through nbgrader")
    # a realistic wrong submission: exactly the named cells fail, with the expected words
    problems = []
    for c in r.cells:
        if c.grade_id in data["fails"]:
            if c.score != 0:
                problems.append(f"{c.grade_id} should fail but scored {c.score:g}")
            for text in data["fails"][c.grade_id]:
                if text not in c.message:
                    problems.append(f"{c.grade_id}: feedback lacks {text!r} (got {c.message[:200]!r})")
        elif c.score != c.max_score:
            problems.append(f"{c.grade_id} should pass but scored {c.score:g}/{c.max_score:g}: "
                            f"{c.message.splitlines()[0] if c.message else c.status}")
    missing = set(data["fails"]) - {c.grade_id for c in r.cells}
    if missing:
        problems.append(f"no graded cells {sorted(missing)}")
    return not problems, "; ".join(problems)


def format_selftest(report):
    lines = [f"{'assignment':<28} {'solution':>10} {'blank':>8} {'wrong':>7} {'mutants':>8} "
             f"{'fast-path score':>16}  verdict"]
    for e in report:
        rows = e["rows"]

        def cell(kind):
            mine = [r for r in rows if r["kind"] == kind]
            if not mine:
                return "-"
            if kind in ("solution", "blank"):
                r = mine[0]
                return f"{r['score']:g}/{r['max']:g}" + (" ✓" if r["ok"] else " ✗")
            return f"{sum(r['ok'] for r in mine)}/{len(mine)}" + (" ✓" if all(r["ok"] for r in mine) else " ✗")

        caught, total = e["mutation"]
        score = f"{caught}/{total} ({caught / total:.0%})" if total else "n/a"
        lines.append(f"{e['assignment']:<28} {cell('solution'):>10} {cell('blank'):>8} {cell('wrong'):>7} "
                     f"{cell('mutant'):>8} {score:>16}  {'ok' if e['ok'] else 'FAIL'}")
    for e in report:
        for p in e["problems"]:
            lines.append(f"  {e['assignment']}: {p}")
    return "\n".join(lines)
