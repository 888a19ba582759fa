r"""Mutation testing of the lessons' checks: do the tests notice a wrong solution?

For every solution region (the code between ``### BEGIN SOLUTION`` and
``### END SOLUTION``) we make *single-point* mutants with the AST: flip an
arithmetic, comparison or boolean operator, drop a term of a sum or a factor
of a product, swap two arguments of a call, change a numeric constant, turn
``+=`` into ``=``, negate a returned value or a condition, remove a unary
minus. Each mutant replaces the solution and the notebook's graded cells
(visible *and* hidden tests) run after it; the mutant is *caught* when a
graded cell fails (an exception, output on stderr, a timeout or a crash —
what nbgrader scores 0) and *survives* otherwise. Survivors are reported with
the changed line so a human can decide whether they are equivalent mutants
(same behaviour, nothing to catch) or a hole in the tests.

The fast path does not start a kernel per mutant. One process per lesson
(the *template*) runs the source notebook cell by cell in an IPython shell
(matplotlib on Agg, widgets headless); at each solution cell it forks one
child per mutant, which runs the mutated cell and the rest of the notebook,
stopping at the first failing graded cell. Everything before the mutated cell
is computed once. Children run ``jobs`` at a time.
"""
import ast
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import notebooks

# --- making mutants ----------------------------------------------------------------------

_BINOP_SWAPS = {
    ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div], ast.Div: [ast.Mult],
    ast.Pow: [ast.Mult], ast.FloorDiv: [ast.Div], ast.Mod: [ast.FloorDiv],
}
_CMP_SWAPS = {
    ast.Lt: [ast.LtE, ast.Gt], ast.LtE: [ast.Lt, ast.GtE], ast.Gt: [ast.GtE, ast.Lt],
    ast.GtE: [ast.Gt, ast.LtE], ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq],
    ast.Is: [ast.IsNot], ast.IsNot: [ast.Is], ast.In: [ast.NotIn], ast.NotIn: [ast.In],
}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.FloorDiv: "//",
           ast.Mod: "%", ast.MatMult: "@", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
           ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in",
           ast.NotIn: "not in", ast.And: "and", ast.Or: "or"}
_ATOMS = (ast.Name, ast.Constant, ast.Call, ast.Attribute, ast.Subscript, ast.List, ast.Tuple, ast.Dict,
          ast.Set, ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp, ast.JoinedStr)


def _expr_alternatives(node):
    """[(replacement expression, kind, description)] for one expression node."""
    out = []
    if isinstance(node, ast.BinOp):
        sym = _SYMBOL.get(type(node.op), "?")
        for op in _BINOP_SWAPS.get(type(node.op), []):
            out.append((ast.BinOp(node.left, op(), node.right), "operator", f"{sym} → {_SYMBOL[op]}"))
        if isinstance(node.op, ast.MatMult):
            out.append((ast.BinOp(node.right, ast.MatMult(), node.left), "swap", "A @ B → B @ A"))
        if isinstance(node.op, (ast.Add, ast.Mult)):
            kind = "drop term" if isinstance(node.op, ast.Add) else "drop factor"
            out.append((node.left, kind, f"keep only the left operand of {sym}"))
            out.append((node.right, kind, f"keep only the right operand of {sym}"))
        elif isinstance(node.op, (ast.Sub, ast.Div)):
            out.append((node.left, "drop term" if isinstance(node.op, ast.Sub) else "drop factor",
                        f"drop the right operand of {sym}"))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        out.append((node.operand, "negate", "remove the " + ("minus" if isinstance(node.op, ast.USub) else "not")))
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        sym = _SYMBOL.get(type(node.ops[0]), "?")
        for op in _CMP_SWAPS.get(type(node.ops[0]), []):
            out.append((ast.Compare(node.left, [op()], node.comparators), "comparison", f"{sym} → {_SYMBOL[op]}"))
    elif isinstance(node, ast.BoolOp):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        out.append((ast.BoolOp(other, node.values), "boolean", f"{_SYMBOL[type(node.op)]} → {_SYMBOL[type(other)]}"))
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            out.append((ast.Constant(not node.value), "constant", f"{node.value} → {not node.value}"))
        elif isinstance(node.value, (int, float)):
            out.append((ast.Constant(node.value + 1), "constant", f"{node.value!r} → {node.value + 1!r}"))
    elif isinstance(node, ast.Call) and len(node.args) >= 2 \
            and not any(isinstance(a, ast.Starred) for a in node.args[:2]) \
            and ast.dump(node.args[0]) != ast.dump(node.args[1]):
        args = [node.args[1], node.args[0], *node.args[2:]]
        out.append((ast.Call(node.func, args, node.keywords), "swap", "swap the first two arguments"))
    return out


def _stmt_alternatives(node):
    """[(replacement source, kind, description)] for one statement node."""
    out = []
    if isinstance(node, ast.AugAssign):
        target = ast.unparse(node.target)
        value = ast.unparse(node.value)
        out.append((f"{target} = {value}", "accumulate", "+= → =" if isinstance(node.op, ast.Add)
                    else f"{_SYMBOL.get(type(node.op), '?')}= → ="))
        for op in _BINOP_SWAPS.get(type(node.op), []):
            out.append((f"{target} {_SYMBOL[op]}= {value}", "operator",
                        f"{_SYMBOL[type(node.op)]}= → {_SYMBOL[op]}="))
    elif isinstance(node, ast.Return) and node.value is not None \
            and not isinstance(node.value, (ast.Tuple, ast.Constant, ast.Dict, ast.List)):
        out.append((f"return -({ast.unparse(node.value)})", "negate", "negate the returned value"))
    elif isinstance(node, (ast.If, ast.While)):
        pass  # conditions are negated through their test expression below
    return out


def _offsets(text):
    """Start offset (characters) of every line, for (line, byte column) → offset."""
    starts, pos = [], 0
    for line in text.split("\n"):
        starts.append(pos)
        pos += len(line) + 1
    return starts


def _char_offset(lines, starts, lineno, col_bytes):
    line = lines[lineno - 1]
    return starts[lineno - 1] + len(line.encode()[:col_bytes].decode(errors="ignore"))


def mutants_of_source(source):
    """All single-point mutants of the solution regions of one cell's source.

    Returns dicts ``{line, kind, description, original, mutated, source}`` with
    `line` 1-based within the cell; mutants equal to the original are dropped.
    """
    regions = notebooks.solution_regions(source)
    if not regions:
        return []
    text = notebooks.strip_magics(source)
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    reference = ast.dump(tree)
    lines = text.split("\n")
    starts = _offsets(text)

    def inside(node):
        return any(start + 1 <= node.lineno and node.end_lineno <= end for start, end in regions)

    edits = []
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if not hasattr(node, "lineno") or not inside(node) or id(node) in docstrings:
            continue
        if isinstance(node, ast.expr):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                continue
            for new, kind, description in _expr_alternatives(node):
                replacement = ast.unparse(new)
                if not isinstance(new, _ATOMS):
                    replacement = f"({replacement})"
                edits.append((node, replacement, kind, description))
        elif isinstance(node, ast.stmt):
            if isinstance(node, (ast.If, ast.While)) and inside(node.test):
                test = node.test
                edits.append((test, f"(not ({ast.unparse(test)}))", "negate", "negate the condition"))
            for replacement, kind, description in _stmt_alternatives(node):
                edits.append((node, replacement, kind, description))

    mutants, seen = [], set()
    for node, replacement, kind, description in edits:
        begin = _char_offset(lines, starts, node.lineno, node.col_offset)
        end = _char_offset(lines, starts, node.end_lineno, node.end_col_offset)
        new_source = source[:begin] + replacement + source[end:]
        new_text = notebooks.strip_magics(new_source)
        try:
            new_tree = ast.parse(new_text)
        except SyntaxError:
            continue
        dump = ast.dump(new_tree)
        if dump == reference or dump in seen:
            continue
        seen.add(dump)
        mutants.append({
            "line": node.lineno, "kind": kind, "description": description,
            "original": source[begin:end], "mutated": replacement, "source": new_source,
        })
    mutants.sort(key=lambda m: (m["line"], m["kind"], m["description"]))
    return mutants


def notebook_mutants(nb, limit=None):
    """{cell index: [mutant, ...]} for every solution cell of a source notebook."""
    out = {}
    for index, gid in notebooks.solution_cells(nb):
        found = mutants_of_source(notebooks.source_text(nb.cells[index]))
        if limit is not None and len(found) > limit:
            step = len(found) / limit
            found = [found[int(i * step)] for i in range(limit)]
        for m in found:
            m["cell"], m["grade_id"] = index, gid
        if found:
            out[index] = found
    return out


# --- running them: the template process ------------------------------------------------------------

class MutantTimeout(BaseException):
    """Raised in a mutant's process when a cell runs past the timeout (like nbclient's interrupt)."""


class _StderrTracker:
    """sys.stderr for graded cells: nbgrader scores a cell 0 if it writes to stderr."""

    def __init__(self):
        self.written = []

    def write(self, text):
        if text:
            self.written.append(text)
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False


def _prepare(source):
    """Cell source for the fast path: inline-plot magics dropped (Agg draws nothing),
    %timeit limited to one run."""
    out = []
    for line in source.split("\n"):
        stripped = line.strip()
        if stripped.startswith("%matplotlib") or stripped.startswith("%config"):
            out.append("")
            continue
        m = re.match(r"^(\s*%%?timeit)(\s.*|$)", line)
        if m and "-n" not in m.group(2) and "-r" not in m.group(2):
            line = f"{m.group(1)} -n1 -r1{m.group(2)}"
        out.append(line)
    return "\n".join(out)


def _new_shell():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config
    cfg = Config()
    cfg.HistoryManager.enabled = False
    cfg.InteractiveShell.colors = "NoColor"
    cfg.InteractiveShell.autocall = 0
    return InteractiveShell.instance(config=cfg)


def _run_cell(shell, source, timeout, graded):
    """Run one cell. Returns (ok, message)."""
    tracker = _StderrTracker() if graded else None
    saved_stderr = sys.stderr
    if tracker is not None:
        sys.stderr = tracker

    def on_alarm(signum, frame):
        raise MutantTimeout(f"cell ran longer than {timeout} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        result = shell.run_cell(source, store_history=False, silent=False)
    except MutantTimeout as err:   # raised outside the user code's frame
        return False, f"timeout: {err}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        sys.stderr = saved_stderr
        _close_figures()
    error = result.error_before_exec or result.error_in_exec
    if error is not None:
        if isinstance(error, MutantTimeout):
            return False, f"timeout: {error}"
        text = str(error).strip().splitlines()
        return False, f"{type(error).__name__}: {text[0] if text else ''}"[:300]
    if tracker is not None and tracker.written:
        return False, "wrote to stderr: " + "".join(tracker.written).strip().splitlines()[0][:200]
    return True, ""


def _close_figures():
    mpl = sys.modules.get("matplotlib.pyplot")
    if mpl is not None:
        try:
            mpl.close("all")
        except Exception:
            pass


def _child(shell, cells, start, mutant_source, timeout, write_fd):
    """In a forked child: run the mutated cell and the rest; report the first failing graded cell."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    result = {"status": "survived", "by": None, "message": ""}
    try:
        for index in range(start, len(cells)):
            cell = cells[index]
            graded = notebooks.is_graded(cell)
            source = mutant_source if index == start else notebooks.source_text(cell)
            ok, message = _run_cell(shell, _prepare(source), timeout, graded)
            if not ok and graded:
                status = "timeout" if message.startswith("timeout") else "caught"
                result = {"status": status, "by": notebooks.grade_id(cell), "message": message}
                break
    except BaseException as err:  # anything that escapes the shell is a crash of the mutant
        result = {"status": "caught", "by": None, "message": f"crashed: {type(err).__name__}: {err}"}
    os.write(write_fd, json.dumps(result).encode())
    os._exit(0)


def run_template(notebook_path, workdir, *, jobs=2, timeout=10.0, limit=None, log=None):
    """Run one source notebook with mutants forked at each solution cell (this process
    becomes the template: call it in a fresh process). Returns the report dict."""
    nb = notebooks.read(notebook_path)
    os.chdir(workdir)
    sys.path.insert(0, str(workdir))
    import warnings
    warnings.filterwarnings("ignore", message=".*non-interactive.*")
    warnings.filterwarnings("ignore", message=".*FigureCanvasAgg.*")
    shell = _new_shell()
    cells = [c for c in nb.cells if c.cell_type == "code"]
    by_cell = notebook_mutants(nb, limit)
    index_map = {id(c): i for i, c in enumerate(cells)}
    code_index = {nb_index: index_map[id(nb.cells[nb_index])] for nb_index in by_cell}

    # a baseline pass first: every graded cell must pass with the real solutions
    baseline = {"ok": True, "failures": [], "seconds": []}
    pending = []            # (pid, read fd, mutant, start time, deadline)
    results = []

    def reap(max_pending):
        """Collect finished (or overdue) children until at most `max_pending` remain."""
        while len(pending) > max_pending:
            wait = min(p[4] for p in pending) - time.monotonic()
            ready, _, _ = select.select([p[1] for p in pending], [], [], min(max(wait, 0.01), 1.0))
            now = time.monotonic()
            for entry in list(pending):
                pid, fd, mutant, started, deadline = entry
                if fd in ready:
                    data = b""
                    while True:
                        chunk = os.read(fd, 65536)
                        if not chunk:
                            break
                        data += chunk
                    os.close(fd)
                    os.waitpid(pid, 0)
                    try:
                        outcome = json.loads(data.decode()) if data else \
                            {"status": "caught", "by": None, "message": "crashed (the process died)"}
                    except ValueError:
                        outcome = {"status": "caught", "by": None, "message": "crashed (garbled report)"}
                elif now > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    os.close(fd)
                    outcome = {"status": "timeout", "by": None, "message": "killed: ran past the deadline"}
                else:
                    continue
                results.append(dict(mutant, **outcome, seconds=round(now - started, 3)))
                pending.remove(entry)

    durations = [0.0] * len(cells)
    # The template itself is the baseline: it runs the original cells (every graded
    # cell must pass) and forks the mutants of a solution cell just before running it.
    for position, cell in enumerate(cells):
        for nb_index, c_index in code_index.items():
            if c_index != position:
                continue
            for mutant in by_cell[nb_index]:
                reap(jobs - 1)
                read_fd, write_fd = os.pipe()
                pid = os.fork()
                if pid == 0:
                    os.close(read_fd)
                    _child(shell, cells, position, mutant["source"], timeout, write_fd)
                os.close(write_fd)
                remaining = sum(durations[position:]) if any(durations) else 0.0
                deadline = time.monotonic() + timeout * 3 + 30 + 3 * remaining
                pending.append((pid, read_fd, mutant, time.monotonic(), deadline))
        started = time.monotonic()
        ok, message = _run_cell(shell, _prepare(notebooks.source_text(cell)), max(timeout, 60.0),
                                notebooks.is_graded(cell))
        durations[position] = time.monotonic() - started
        baseline["seconds"].append(round(durations[position], 3))
        if not ok and notebooks.is_graded(cell):
            baseline["ok"] = False
            baseline["failures"].append({"grade_id": notebooks.grade_id(cell), "message": message})
        if log:
            log(f"cell {position}: {'ok' if ok else message} ({durations[position]:.2f} s)")
    reap(0)
    results.sort(key=lambda m: (m["cell"], m["line"], m["kind"], m["description"]))
    for m in results:
        m.pop("source", None)
    caught = sum(1 for m in results if m["status"] in ("caught", "timeout"))
    return {"notebook": str(notebook_path), "baseline": baseline, "mutants": results,
            "total": len(results), "caught": caught}


# --- driving it from the course ----------------------------------------------------------------------

def mutate_notebook(course, assignment, notebook_path=None, *, jobs=None, timeout=10.0, limit=None,
                    log=print):
    """Mutation report of one assignment's source notebook (a subprocess runs the template)."""
    notebook_path = Path(notebook_path or course.source_notebook(assignment)).resolve()
    jobs = jobs or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="autodiff-mutate-") as tmp:
        for item in (course.source / assignment).iterdir():
            if item.suffix != ".ipynb" and item.name not in ("__pycache__", ".ipynb_checkpoints"):
                (shutil.copytree if item.is_dir() else shutil.copy2)(item, Path(tmp) / item.name)
        out = Path(tmp) / "report.json"
        env = course.env()
        env.update(MPLBACKEND="Agg", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONWARNINGS="ignore::DeprecationWarning")
        cmd = [sys.executable, "-m", "autograder.mutation", str(notebook_path), tmp, str(out),
               "--jobs", str(jobs), "--timeout", str(timeout)]
        if limit:
            cmd += ["--limit", str(limit)]
        started = time.monotonic()
        proc = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"mutation run of {assignment} failed (exit {proc.returncode}):\n"
                               + "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:]))
        report = json.loads(out.read_text())
    report["assignment"] = assignment
    report["seconds"] = round(time.monotonic() - started, 1)
    if log:
        log(f"{assignment}: {report['caught']}/{report['total']} mutants caught in {report['seconds']} s")
    return report


def load_equivalent(course, assignment):
    """Survivors a human has judged equivalent: ``course/equivalent_mutants/<assignment>.json``,
    a list of ``{"grade_id", "original", "mutated", "why"}`` (as printed in the report)."""
    path = course.root / "equivalent_mutants" / f"{assignment}.json"
    if not path.exists():
        return []
    entries = json.loads(path.read_text())
    for i, e in enumerate(entries):
        missing = {"grade_id", "original", "mutated", "why"} - set(e)
        if missing:
            raise ValueError(f"{path}: entry {i} lacks {sorted(missing)}")
    return entries


def apply_equivalent(report, equivalent):
    """Mark survivors listed as equivalent; the score is caught / (total - equivalent).
    ``report["stale_equivalent"]`` lists the entries that match no survivor: a mutant that no
    longer exists, or one the tests catch (so it was never equivalent)."""
    marked, used = 0, set()
    for m in report["mutants"]:
        for i, e in enumerate(equivalent):
            if m["status"] == "survived" and (m["grade_id"], m["original"], m["mutated"]) == \
                    (e["grade_id"], e["original"], e["mutated"]):
                m["status"], m["why"] = "equivalent", e["why"]
                marked += 1
                used.add(i)
                break
    report["equivalent"] = marked
    report["stale_equivalent"] = [e for i, e in enumerate(equivalent) if i not in used]
    counted = report["total"] - marked
    report["score"] = report["caught"] / counted if counted else 1.0
    return report


def mutate_course(course, assignments=(), *, jobs=None, timeout=10.0, limit=None, log=print):
    return [apply_equivalent(mutate_notebook(course, a, jobs=jobs, timeout=timeout, limit=limit, log=log),
                             load_equivalent(course, a))
            for a in course.check_assignments(assignments)]


def format_report(reports, show_caught=False):
    lines = [f"{'assignment':<28} {'caught':>7} {'total':>6} {'equiv.':>7} {'score':>7} {'seconds':>8}"]
    for r in reports:
        score = f"{r.get('score', r['caught'] / max(1, r['total'])):.1%}" if r["total"] else "n/a"
        lines.append(f"{r['assignment']:<28} {r['caught']:>7} {r['total']:>6} {r.get('equivalent', 0):>7} "
                     f"{score:>7} {r.get('seconds', 0):>8}")
    for r in reports:
        if not r["baseline"]["ok"]:
            lines.append(f"\n{r['assignment']}: THE SOLUTION ITSELF FAILS: {r['baseline']['failures']}")
        regions = {}
        for m in r["mutants"]:
            regions.setdefault(m["grade_id"], []).append(m)
        survivors = [m for m in r["mutants"] if m["status"] == "survived"]
        lines.append(f"\n{r['assignment']}: per solution region")
        for gid, ms in regions.items():
            caught = sum(1 for m in ms if m["status"] in ("caught", "timeout"))
            equivalent = sum(1 for m in ms if m["status"] == "equivalent")
            lines.append(f"  {gid:<40} {caught}/{len(ms)}" + (f" ({equivalent} equivalent)" if equivalent else ""))
        for m in r["mutants"]:
            if m["status"] == "equivalent":
                lines.append(f"  equivalent: {m['grade_id']} line {m['line']}: {m['original']!r} → "
                             f"{m['mutated']!r}: {m['why']}")
        if survivors:
            lines.append(f"{r['assignment']}: {len(survivors)} survivor(s) — equivalent mutants or holes in the tests:")
            for m in survivors:
                lines.append(f"  {m['grade_id']} line {m['line']}: {m['original']!r} → {m['mutated']!r} "
                             f"({m['kind']}: {m['description']})")
        if show_caught:
            for m in r["mutants"]:
                if m["status"] in ("caught", "timeout"):
                    lines.append(f"  caught {m['grade_id']} line {m['line']}: {m['original']!r} → "
                                 f"{m['mutated']!r} by {m['by']}: {m['message'][:100]}")
    return "\n".join(lines)


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(description="mutation template process (internal)")
    parser.add_argument("notebook")
    parser.add_argument("workdir")
    parser.add_argument("out")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    report = run_template(args.notebook, args.workdir, jobs=args.jobs, timeout=args.timeout, limit=args.limit)
    Path(args.out).write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
