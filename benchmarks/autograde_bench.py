"""Autograding a class: stock serial ``nbgrader autograde`` vs ``python -m autograder autograde``.

Both grade the same N submissions of one assignment, with the same course
config, in fresh copies of the course made in this run; the script checks that
every (student, question) score is identical and prints the time ratio
(parallel / serial; the course's target is ≤ 0.6).

    .venv/bin/python benchmarks/autograde_bench.py [--assignment A] [-n 100] [--jobs N]

The submissions mix the instructor's solution (60 %), the blank release
(20 %) and the course's realistic wrong submissions (20 %, when the
assignment has ``course/wrong_submissions/<A>.json``).
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder import grading, notebooks  # noqa: E402
from autograder.workflow import Course, copy_course  # noqa: E402

FIXTURE = REPO / "tests" / "fixtures" / "course"


def make_submissions(course, assignment, n, folder):
    release = notebooks.read(course.release_notebooks(assignment)[0])
    source = notebooks.read(course.source_notebook(assignment))
    wrong_file = course.wrong_submissions_dir / f"{assignment}.json"
    wrongs = notebooks.load_wrong_submissions(wrong_file) if wrong_file.exists() else []
    kinds = []
    for i in range(n):
        if i % 5 == 3:
            kinds.append(("blank", notebooks.make_submission(release)))
        elif i % 5 == 4 and wrongs:
            wrong = wrongs[(i // 5) % len(wrongs)]
            kinds.append(("wrong", notebooks.make_submission(release, source, replace=wrong["replace"])))
        else:
            kinds.append(("solution", notebooks.make_submission(release, source)))
    folder.mkdir(parents=True)
    for i, (_, nb) in enumerate(kinds):
        notebooks.write(nb, folder / f"student{i:03d}.ipynb")
    return [k for k, _ in kinds]


def cpu_seconds():
    """CPU time of this process and of every finished descendant (kernels included)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def scores(course):
    return {(r["student"], q): s for r in course.grades() for q, s in r["questions"].items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default=None,
                        help="default: lesson1_dual_numbers if present, else the first lesson, else the test fixture")
    parser.add_argument("-n", type=int, default=100, help="number of submissions (default 100)")
    parser.add_argument("--jobs", type=int, default=None, help="parallel workers (default: CPU count)")
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "autograde.json"))
    args = parser.parse_args(argv)

    real = Course(REPO / "course")
    lessons = real.assignments()
    assignment = args.assignment or ("lesson1_dual_numbers" if "lesson1_dual_numbers" in lessons
                                     else (lessons[0] if lessons else "fixture_central"))
    with tempfile.TemporaryDirectory(prefix="autodiff-bench-") as tmp:
        tmp = Path(tmp)
        if assignment == "fixture_central":
            base = copy_course(REPO / "course", tmp / "base", [], extra_sources=[FIXTURE / "source" / assignment])
            shutil.copytree(FIXTURE / "wrong_submissions", base.root / "wrong_submissions")
        else:
            base = copy_course(REPO / "course", tmp / "base", [assignment])
        base.generate([assignment], log=lambda m: None)
        kinds = make_submissions(base, assignment, args.n, tmp / "incoming")
        shutil.copytree(base.root, tmp / "stock")
        shutil.copytree(base.root, tmp / "ours")
        stock, ours = Course(tmp / "stock"), Course(tmp / "ours")
        grading.stage_submissions(stock, tmp / "incoming", assignment)

        print(f"{args.n} submissions of {assignment} "
              f"({kinds.count('solution')} solution, {kinds.count('blank')} blank, {kinds.count('wrong')} wrong); "
              f"{os.cpu_count()} CPUs")
        t0, c0 = time.perf_counter(), cpu_seconds()
        proc = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", assignment], cwd=stock.root,
                              env=stock.env(), capture_output=True, text=True)
        serial, serial_cpu = time.perf_counter() - t0, cpu_seconds() - c0
        print(f"stock nbgrader autograde (serial): {serial:7.1f} s wall, {serial_cpu:7.1f} s CPU "
              f"({serial / args.n:.2f} s per notebook, exit {proc.returncode})")

        t0, c0 = time.perf_counter(), cpu_seconds()
        results = grading.autograde(ours, tmp / "incoming", assignment, jobs=args.jobs,
                                    log=lambda m: None)
        parallel, parallel_cpu = time.perf_counter() - t0, cpu_seconds() - c0
        jobs = args.jobs or os.cpu_count()
        print(f"python -m autograder autograde:    {parallel:7.1f} s wall, {parallel_cpu:7.1f} s CPU "
              f"({parallel / args.n:.2f} s per notebook, {jobs} workers)")
        try:
            load = os.getloadavg()[0]
        except OSError:
            load = float("nan")
        print(f"load average now {load:.1f} on {os.cpu_count()} CPUs (other work on the machine slows both "
              "runs, the parallel one more)")

        a, b = scores(stock), scores(ours)
        identical = a == b
        errors = [r.student for r in results if not r.ok]
        ratio = parallel / serial
        print(f"ratio parallel / serial: {ratio:.2f} (target ≤ 0.6); grades identical: {identical} "
              f"({len(a)} question scores); submissions not graded: {errors or 'none'}")
        if not identical:
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            print("differences (student, question): stock vs ours:", [(k, a.get(k), b.get(k)) for k in diff[:10]])
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({
            "assignment": assignment, "n": args.n, "cpus": os.cpu_count(), "jobs": jobs,
            "serial_seconds": round(serial, 2), "parallel_seconds": round(parallel, 2),
            "serial_cpu_seconds": round(serial_cpu, 2), "parallel_cpu_seconds": round(parallel_cpu, 2),
            "ratio": round(ratio, 3), "identical_grades": identical, "not_graded": errors,
        }, indent=1))
        return 0 if identical and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
