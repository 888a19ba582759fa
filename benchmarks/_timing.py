r"""Shared timing helpers for the benchmark scripts in this folder.

The whole API (keep it this small):

``measure(candidates, repeats=7, warmup=1, number=1, clock=None)``
    Time several callables *in the same run*, round-robin: repeat r times
    every candidate once before repeat r+1 starts, so a neighbour's burst of
    load on a shared machine hits all candidates alike. Returns
    ``{name: Timing}``; ``Timing.median`` is the median over repeats of the
    seconds per call. Unlike :mod:`timeit`, the garbage collector stays
    **on** while timing (collection cost is part of what we measure);
    ``gc.collect()`` runs before each timed call so every candidate starts
    from the same clean heap. A candidate that must run with the collector
    off says so itself (see :func:`gc_off`). `clock` defaults to the one
    chosen on the command line (``--clock``), else wall time.

``print_table(title, timings, reference=None, per=1, unit="µs", notes=None)``
    Print one table: name, median, median per `per` operations (when
    ``per > 1``), and the ratio to the `reference` row.

``parse_args(description, argv=None, default_repeats=7)``
    The common command line: ``--quick`` (tiny sizes, for the smoke tests),
    ``--repeats N`` and ``--clock {wall,cpu}``. ``cpu`` times with
    :func:`time.process_time` (user + system CPU time of this process, page
    faults included): on a loaded machine it leaves out the time spent
    waiting for a core, which wall time does not. It is only meaningful
    single-threaded (the default, see below). Every script run by
    ``run_all.py`` must use it (run_all passes these options through).

``Agreement``
    Collects "do the peers compute the same numbers?" checks; ``finish()``
    prints them and exits with status 1 if any failed (timing targets never
    make a script fail; wrong numbers do).

``target(label, ok, detail)``
    Print one "target met / MISSED" line in a uniform format.

Threads: importing this module sets ``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` to 1 unless they are already
set, so **import it before numpy or torch**. On a shared 2-core machine two
thread pools (numpy's OpenBLAS and torch's OpenMP) spinning against each other
and against the neighbours made medians swing by 2× between runs; single
threads make the ratios reproducible. Export the variables to measure
something else (the tables print the setting).

Every script prints its tables to stdout and can be run alone
(``python benchmarks/b1_scalar_tape.py``) or by ``benchmarks/run_all.py``.
"""
import argparse
import gc
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
if "numpy" in sys.modules or "torch" in sys.modules:
    warnings.warn("benchmarks/_timing.py was imported after numpy/torch: "
                  "its one-thread default for BLAS/OpenMP may not take effect", stacklevel=2)
for _variable in THREAD_VARIABLES:
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402  (after the thread variables, on purpose)

__all__ = ["Timing", "measure", "print_table", "parse_args", "Agreement", "target",
           "gc_off", "machine_summary"]


@dataclass
class Timing:
    """The seconds per call of one candidate, one sample per repeat."""
    name: str
    samples: list = field(default_factory=list)

    @property
    def median(self):
        return statistics.median(self.samples)

    @property
    def spread(self):
        """(max − min) / median over the repeats: how noisy this row was."""
        return (max(self.samples) - min(self.samples)) / self.median if self.median else 0.0


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_default_clock = "wall"


def measure(candidates, repeats=7, warmup=1, number=1, clock=None):
    """Round-robin timing of ``{name: zero-argument callable}``.

    Each candidate is called `warmup` times untimed first (imports, caches,
    BLAS thread start-up), then `repeats` rounds each time `number`
    consecutive calls of every candidate. Returns ``{name: Timing}`` in the
    order given; ``Timing.samples`` hold seconds per call.
    `repeats` may be a dict ``{name: n}`` so that a slow peer runs fewer
    rounds (it then sits out the later rounds). `clock` is "wall" or "cpu"
    (default: what ``--clock`` chose, else "wall").
    """
    now = CLOCKS[clock or _default_clock]
    if not candidates:
        raise ValueError("measure: no candidates to time")
    rounds = repeats if isinstance(repeats, dict) else dict.fromkeys(candidates, repeats)
    missing = set(candidates) - set(rounds)
    if missing:
        raise ValueError(f"measure: no repeat count for {sorted(missing)}")
    for name, fn in candidates.items():
        for _ in range(warmup):
            fn()
    timings = {name: Timing(name) for name in candidates}
    for r in range(max(rounds.values())):
        for name, fn in candidates.items():
            if r >= rounds[name]:
                continue
            gc.collect()
            start = now()
            for _ in range(number):
                fn()
            timings[name].samples.append((now() - start) / number)
    return timings


class gc_off:
    """``with gc_off(): ...`` runs the block with the cyclic garbage collector disabled."""

    def __enter__(self):
        self._was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self._was_enabled:
            gc.enable()


_UNITS = {"s": 1.0, "ms": 1e3, "µs": 1e6, "ns": 1e9}


def _fmt(seconds, unit):
    x = seconds * _UNITS[unit]
    return f"{x:,.3g}" if x < 100 else f"{x:,.0f}"


def print_table(title, timings, reference=None, per=1, unit="µs", per_unit=None, notes=None):
    """Print `timings` (a ``{name: Timing}`` or a list of Timing) as a table.

    Columns: the median per call in `unit`; when ``per > 1`` also the median
    per operation in `per_unit` (default `unit`); the spread (max−min)/median
    of the repeats; and, when `reference` names a row, ``median / reference``.
    `notes` maps a row name to a short remark printed at the end of its line.
    """
    rows = list(timings.values()) if isinstance(timings, dict) else list(timings)
    per_unit = per_unit or unit
    notes = notes or {}
    ref = next((t for t in rows if t.name == reference), None) if reference else None
    if reference and ref is None:
        raise ValueError(f"print_table: no row named {reference!r}")
    header = ["", f"median ({unit})"]
    if per > 1:
        header.append(f"per op ({per_unit})")
    header += ["spread", f"÷ {reference}" if ref else ""]
    lines = []
    for t in rows:
        line = [t.name, _fmt(t.median, unit)]
        if per > 1:
            line.append(_fmt(t.median / per, per_unit))
        line.append(f"{100 * t.spread:.0f}%")
        line.append(f"{t.median / ref.median:.3g}" if ref else "")
        line.append(notes.get(t.name, ""))
        lines.append(line)
    header.append("")
    widths = [max(len(str(row[i])) for row in lines + [header]) for i in range(len(header))]
    print(f"\n## {title}")
    for k, row in enumerate([header] + lines):
        cells = [str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i])
                 for i, c in enumerate(row[:-1])]
        print("  ".join(cells) + ("  " + row[-1] if row[-1] else ""))
        if k == 0:
            print("  ".join("-" * w for w in widths[:-1]))


def parse_args(description, argv=None, default_repeats=7):
    """``--quick`` (tiny sizes, a smoke test), ``--repeats N`` (default `default_repeats`; 2 with
    --quick) and ``--clock {wall,cpu}`` (sets the default clock of :func:`measure`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and few repeats: checks the script runs, times nothing useful")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per candidate")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall time (default) or this process's CPU time (robust to a loaded machine)")
    args = parser.parse_args(argv)
    global _default_clock
    _default_clock = args.clock
    if args.repeats is None:
        args.repeats = 2 if args.quick else default_repeats
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


class Agreement:
    r"""Checks that every peer computed the same numbers as a reference.

    ``check(label, got, expected, rtol=1e-10, atol=0)`` compares with
    ``|got − expected| ≤ atol + rtol·|expected|`` entry by entry;
    ``finish()`` prints every check and exits with status 1 if one failed.
    """

    def __init__(self):
        self.results = []

    def check(self, label, got, expected, rtol=1e-10, atol=0.0):
        got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
        if got.shape != expected.shape:
            self.results.append((label, False, f"shape {got.shape} != expected {expected.shape}"))
            return False
        err = np.abs(got - expected)
        bound = atol + rtol * np.abs(expected)
        ok = bool(np.all(err <= bound))
        worst = float(np.max(err)) if err.size else 0.0
        self.results.append((label, ok, f"max |error| {worst:.2e} (allowed {atol:.0e} + {rtol:.0e}·|x|)"))
        return ok

    def finish(self):
        print("\n## Agreement between peers")
        for label, ok, detail in self.results:
            print(f"  {'ok  ' if ok else 'FAIL'}  {label}: {detail}")
        if not all(ok for _, ok, _ in self.results):
            print("FAILED: the peers disagree; the timings above compare different computations")
            sys.exit(1)


def target(label, ok, detail):
    """Print one line saying whether a benchmark target was met."""
    print(f"target {'met   ' if ok else 'MISSED'}  {label}: {detail}")


def machine_summary():
    """One line naming the interpreter, numpy, CPUs, BLAS threads and the date, for table titles."""
    return (f"Python {platform.python_version()}, numpy {np.__version__}, "
            f"{os.cpu_count()} CPUs, {os.environ.get('OMP_NUM_THREADS')} BLAS/OpenMP thread(s), "
            f"{_default_clock} clock, {time.strftime('%Y-%m-%d')}")
