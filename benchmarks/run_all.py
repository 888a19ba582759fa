r"""Run every benchmark script in this folder and print all their tables.

A benchmark script is a file named ``b<digit>*.py`` (b1_scalar_tape.py, …) or
``*_bench.py`` (autograde_bench.py, …). Each runs in its own interpreter, one
after the other (never in parallel: they would time each other), with the
options given here passed through, so every script must accept ``--quick``,
``--repeats N`` and ``--clock {wall,cpu}`` (``_timing.parse_args`` provides them).

    python benchmarks/run_all.py              # full sizes: a few minutes
    python benchmarks/run_all.py --quick      # tiny sizes: does everything still run?
    python benchmarks/run_all.py --only b1 b3 # scripts whose name contains b1 or b3
    python benchmarks/run_all.py --clock cpu  # CPU time: steadier on a loaded machine

At the end: one line per script (exit status, wall time) and every
"target met / MISSED" line. Exits 1 if a script failed (a crash, or peers
that disagree); a missed timing target alone does not fail the run.
"""
import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PATTERN = re.compile(r"^(b\d.*|.*_bench)\.py$")


def scripts(only=()):
    """The benchmark scripts of this folder, sorted by name, filtered by `only` substrings."""
    found = sorted(p for p in HERE.glob("*.py") if PATTERN.match(p.name))
    return [p for p in found if not only or any(o in p.name for o in only)]


def run(script, passthrough):
    """Run one script, echoing its output; return (exit status, seconds, target lines)."""
    print(f"\n# {script.name}", flush=True)
    start = time.perf_counter()
    targets = []
    with subprocess.Popen([sys.executable, str(script), *passthrough], cwd=HERE.parent,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            print(line, end="", flush=True)
            if line.startswith("target "):
                targets.append(f"{script.name}: {line.rstrip()}")
    return proc.returncode, time.perf_counter() - start, targets


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="passed to every script: tiny sizes")
    parser.add_argument("--repeats", type=int, help="passed to every script: timed rounds")
    parser.add_argument("--clock", choices=("wall", "cpu"), help="passed to every script: what to time")
    parser.add_argument("--only", nargs="+", default=(), metavar="NAME",
                        help="run only the scripts whose file name contains one of these")
    args = parser.parse_args(argv)
    passthrough = (["--quick"] if args.quick else []) + \
        (["--repeats", str(args.repeats)] if args.repeats else []) + \
        (["--clock", args.clock] if args.clock else [])
    chosen = scripts(args.only)
    if not chosen:
        parser.error(f"no benchmark script matches {list(args.only)} in {HERE}")

    results = [(s.name, *run(s, passthrough)) for s in chosen]

    print("\n# Summary")
    for name, status, seconds, _ in results:
        print(f"  {'ok  ' if status == 0 else 'FAIL'}  {name}  ({seconds:.0f} s, exit status {status})")
    for *_, targets in results:
        for line in targets:
            print(f"  {line}")
    return 0 if all(status == 0 for _, status, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
