"""Grading throughput on a Dask cluster against the number of workers, next to the local pool.

In one run, on fresh copies of one course: the local process pool (``--jobs``)
and ``autograde --scheduler`` on a loopback cluster of 1, 2 and 4 worker
processes grade the same N submissions; grades must be identical. Then the
*sleep mode* replaces grading by a fixed sleep to measure what the scheduler
and our client cost per task, with more workers than cores. From these it
projects the hours for 100,000 notebooks on N workers:

    hours = 100,000 x max((per_worker_s + overhead) / N, record_s) / 3600

where ``record_s`` is the client's own serial work per submission (nbgrader's
Autograde without grading, writing the gradebook) -- the ceiling no number of
workers lifts.

    .venv/bin/python benchmarks/scale_bench.py [--assignment A] [-n 20] [--sleep 0.2]

The cluster is ``distributed.LocalCluster`` (real worker processes with
nannies, talking TCP to a real scheduler); the tests start ``dask scheduler``
and ``dask worker`` from the command line instead.
"""
import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograde_bench import make_submissions  # noqa: E402

from autograder import cluster, grading  # noqa: E402
from autograder.workflow import Course, copy_course  # noqa: E402

WORKERS = (1, 2, 4)
SLEEP_WORKERS = (1, 2, 4, 8)
TOTAL = 100_000


def scores(course):
    return {(r["student"], q): s for r in course.grades() for q, s in r["questions"].items()}


class Timed:
    """Wraps a function and sums the seconds spent in it."""

    def __init__(self, module, name):
        self.module, self.name, self.seconds, self.calls = module, name, 0.0, 0
        self.inner = getattr(module, name)
        setattr(module, name, self)

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1

    def reset(self):
        self.seconds, self.calls = 0.0, 0


def worker_seconds(line):
    """[seconds] from a per-submission log line '  student: ok (1.4 s on host:pid)', else []."""
    match = re.match(r"  \S+: \w+ \(([0-9.]+) s on ", line)
    return [float(match.group(1))] if match else []


def sleep_task(bundle, seconds):
    time.sleep(seconds)
    return len(bundle)


def sleep_overhead(n_workers, n_tasks, seconds, bundle):
    """Seconds of scheduling overhead per task and worker: wall x workers / tasks - sleep."""
    from distributed import Client, LocalCluster, as_completed
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
            Client(lc) as client:
        client.wait_for_workers(n_workers)
        started = time.perf_counter()
        shared = client.scatter(bundle, broadcast=True)
        futures = [client.submit(sleep_task, shared, seconds, pure=False) for _ in range(n_tasks)]
        for future in as_completed(futures):
            future.result()
            future.release()
        wall = time.perf_counter() - started
    return wall, wall * n_workers / n_tasks - seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default=None, help="default: lesson1_dual_numbers if present")
    parser.add_argument("-n", type=int, default=20, help="submissions per run (default 20)")
    parser.add_argument("--jobs", type=int, default=2, help="local pool size (default 2)")
    parser.add_argument("--sleep", type=float, default=0.2, help="seconds per task in the sleep mode (default 0.2)")
    parser.add_argument("--sleep-tasks", type=int, default=200, help="tasks per sleep-mode run (default 200)")
    parser.add_argument("--on", type=int, default=64, help="project for this many workers (default 64)")
    args = parser.parse_args(argv)
    from distributed import LocalCluster

    lessons = Course(REPO / "course").assignments()
    assignment = args.assignment or ("lesson1_dual_numbers" if "lesson1_dual_numbers" in lessons else lessons[0])
    bundle_timer = Timed(cluster, "make_bundle")
    record_timer = Timed(cluster, "record")
    log = lambda msg: None  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="autodiff-scale-") as tmp:
        tmp = Path(tmp)
        base = copy_course(REPO / "course", tmp / "base", [assignment])
        base.generate([assignment], log=log)
        kinds = make_submissions(base, assignment, args.n, tmp / "incoming")
        print(f"{args.n} submissions of {assignment} ({kinds.count('solution')} solution, {kinds.count('blank')} "
              f"blank, {kinds.count('wrong')} wrong); {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        print("| grader | workers | wall (s) | fixed start-up (s) | submissions/s | worker s/submission |")
        print("|---|---:|---:|---:|---:|---:|")

        local = Course(shutil.copytree(base.root, tmp / "local"))
        started = time.perf_counter()
        grading.autograde(local, tmp / "incoming", assignment, jobs=args.jobs, log=log)
        wall = time.perf_counter() - started
        reference = scores(local)
        print(f"| local pool | {args.jobs} | {wall:.1f} | – | {args.n / wall:.2f} | – |")

        rows, identical = {}, True
        for k in WORKERS:
            course = Course(shutil.copytree(base.root, tmp / f"cluster{k}"))
            seconds = []
            with LocalCluster(n_workers=k, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
                bundle_timer.reset()
                record_timer.reset()
                started = time.perf_counter()
                grading.autograde(course, tmp / "incoming", assignment, scheduler=lc.scheduler_address,
                                  log=lambda msg: seconds.extend(worker_seconds(msg)))
                wall = time.perf_counter() - started
            identical &= scores(course) == reference
            steady = wall - bundle_timer.seconds
            rows[k] = dict(wall=wall, steady=steady, per_worker=statistics.mean(seconds),
                           record=record_timer.seconds / max(1, record_timer.calls))
            print(f"| Dask cluster | {k} | {wall:.1f} | {bundle_timer.seconds:.1f} | {args.n / steady:.2f} | "
                  f"{rows[k]['per_worker']:.2f} |")
        record_s = statistics.mean(r["record"] for r in rows.values())
        print(f"client's serial work per submission (nbgrader Autograde without grading, gradebook write): "
              f"{record_s:.3f} s; grades identical to the local pool: {identical}")

        print(f"\nsleep mode: {args.sleep_tasks} tasks of {args.sleep} s each")
        print("| workers | wall (s) | ideal (s) | overhead per task (ms) |")
        print("|---:|---:|---:|---:|")
        bundle = (tmp / "incoming").joinpath("student000.ipynb").read_bytes() * 4   # a bundle-sized argument
        overheads = {}
        for k in SLEEP_WORKERS:
            wall, overhead = sleep_overhead(k, args.sleep_tasks, args.sleep, bundle)
            overheads[k] = overhead
            print(f"| {k} | {wall:.1f} | {args.sleep_tasks * args.sleep / k:.1f} | {1000 * overhead:.0f} |")

    per_worker_s = rows[1]["per_worker"]
    overhead = max(overheads.values())
    print(f"\nprojection (not measured): {TOTAL:,} notebooks; a worker grades one in {per_worker_s:.2f} s "
          f"(1-worker run) plus {1000 * overhead:.0f} ms overhead; the client records one in {record_s:.3f} s")
    print("| workers | worker-bound (h) | client-bound (h) | projected (h) |")
    print("|---:|---:|---:|---:|")
    for n in (1, 2, 4, 16, args.on, 256):
        worker_h = TOTAL * (per_worker_s + overhead) / n / 3600
        client_h = TOTAL * record_s / 3600
        print(f"| {n} | {worker_h:.2f} | {client_h:.2f} | {max(worker_h, client_h):.2f} |")
    projected = TOTAL * max((per_worker_s + overhead) / args.on, record_s) / 3600
    print(f"SCALE workers={max(WORKERS)} per_worker_s={per_worker_s:.3f} overhead_ms_per_task={1000 * overhead:.1f} "
          f"projected_h_100k_on_{args.on}={projected:.2f}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
