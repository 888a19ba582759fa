"""Smoke tests of benchmarks B1–B3: they run at tiny sizes and catch peers that disagree.

No timing is asserted here (timings on a shared machine are not a test); what
must hold is that each script runs, prints its table, and that the agreement
check between peers is real: a script fails when one peer computes wrong numbers.
"""
import importlib
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
SCRIPTS = {
    "b1_scalar_tape.py": "B1 scalar tape",
    "b2_mlp.py": "B2 MLP",
    "b3_jacobian.py": "B3 Jacobian",
}

pytest.importorskip("torch")
pytest.importorskip("autograd")
pytest.importorskip("micrograd")


def run_python(*args, timeout=300):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def timing():
    """benchmarks/_timing, imported without leaking its thread variables into this process."""
    saved = dict(os.environ)
    sys.path.insert(0, str(BENCH))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = importlib.import_module("_timing")
    finally:
        sys.path.remove(str(BENCH))
        os.environ.clear()
        os.environ.update(saved)
    return module


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_script_runs_quick_and_peers_agree(script):
    result = run_python(str(BENCH / script), "--quick", "--repeats", "1")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"## {SCRIPTS[script]}" in result.stdout, output
    assert "## Agreement between peers" in result.stdout
    assert "FAIL" not in result.stdout
    assert "autodiff_ref" in result.stdout
    assert "target " in result.stdout


# A wrong peer must make the script fail: (script, peer replaced, replacement).
SABOTAGE = {
    "b1_scalar_tape": ("torch 0-d", "lambda: (0.0, 1.0, 2.0, 3.0)"),
    "b2_mlp": ("torch", "lambda: tuple(2 * g for g in runs['hand-written backprop']())"),
    "b3_jacobian": ("HIPS autograd", "lambda: runs['autodiff_ref jacfwd']() + 1e-9"),
}


@pytest.mark.parametrize("module", sorted(SABOTAGE))
def test_script_fails_when_a_peer_is_wrong(module):
    peer, replacement = SABOTAGE[module]
    code = f"""
import sys
sys.path[:0] = [{str(BENCH)!r}, {str(ROOT)!r}]
import {module} as bench
honest = bench.candidates
def candidates(*args):
    runs = honest(*args)
    runs[{peer!r}] = {replacement}
    return runs
bench.candidates = candidates
bench.main(["--quick", "--repeats", "1"])
"""
    result = run_python("-c", code)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAIL  {peer}" in result.stdout, result.stdout


def test_run_all_finds_every_benchmark_script():
    sys.path.insert(0, str(BENCH))
    try:
        run_all = importlib.import_module("run_all")
    finally:
        sys.path.remove(str(BENCH))
    names = [p.name for p in run_all.scripts()]
    assert set(SCRIPTS) <= set(names)
    assert "_timing.py" not in names and "run_all.py" not in names
    assert [p.name for p in run_all.scripts(["b3"])] == ["b3_jacobian.py"]


def test_agreement_exits_nonzero_on_a_wrong_number(timing, capsys):
    agreement = timing.Agreement()
    assert agreement.check("right", [1.0, 2.0], [1.0, 2.0 + 1e-13], rtol=1e-10)
    assert not agreement.check("wrong", [1.0, 2.0], [1.0, 2.1], rtol=1e-10)
    assert not agreement.check("shape", [1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(SystemExit) as exit_:
        agreement.finish()
    assert exit_.value.code == 1
    out = capsys.readouterr().out
    assert "ok    right" in out and "FAIL  wrong" in out and "FAIL  shape" in out


def test_agreement_passes_quietly_when_all_agree(timing, capsys):
    agreement = timing.Agreement()
    agreement.check("same", np.arange(3.0), np.arange(3.0), rtol=0)
    agreement.finish()  # no SystemExit
    assert "ok    same" in capsys.readouterr().out


def test_measure_is_round_robin_and_respects_per_candidate_repeats(timing):
    calls = []
    timings = timing.measure({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                             repeats={"a": 3, "b": 1}, warmup=1, number=2)
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] + ["a", "a"] * 2
    assert [len(t.samples) for t in timings.values()] == [3, 1]
    assert all(s >= 0 for t in timings.values() for s in t.samples)
    with pytest.raises(ValueError, match="no repeat count"):
        timing.measure({"a": lambda: None}, repeats={"b": 1})


def test_print_table_shows_ratios_to_the_reference(timing, capsys):
    rows = [timing.Timing("fast", [1e-3, 1e-3, 1e-3]), timing.Timing("slow", [2e-3, 3e-3, 4e-3])]
    timing.print_table("demo", rows, reference="fast", per=10, unit="ms", per_unit="µs",
                       notes={"slow": "a note"})
    out = capsys.readouterr().out
    slow_line = next(line for line in out.splitlines() if line.startswith("slow"))
    assert slow_line.split()[1:4] == ["3", "300", "67%"]  # median ms, µs per op, spread
    assert slow_line.split()[4] == "3" and slow_line.endswith("a note")
    with pytest.raises(ValueError, match="no row named"):
        timing.print_table("demo", rows, reference="missing")


def test_clock_option_picks_cpu_time(timing):
    args = timing.parse_args("demo", ["--quick", "--clock", "cpu"])
    try:
        assert (args.quick, args.repeats, args.clock) == (True, 2, "cpu")
        assert "cpu clock" in timing.machine_summary()
        # a sleep costs wall time but (almost) no CPU time
        import time
        slept = timing.measure({"sleep": lambda: time.sleep(0.02)}, repeats=2, warmup=0)["sleep"]
        assert slept.median < 0.01
        walled = timing.measure({"sleep": lambda: time.sleep(0.02)}, repeats=2, warmup=0, clock="wall")
        assert walled["sleep"].median >= 0.02
    finally:
        timing.parse_args("demo", [])  # back to the wall clock for the other tests
    with pytest.raises(SystemExit):
        timing.parse_args("demo", ["--clock", "sundial"])
