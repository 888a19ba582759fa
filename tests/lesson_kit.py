"""What the lesson tests share: the notebook's solutions as a namespace, single-point
mutants of a solution region, the mutation score of a lesson's checks, a check's hint."""
import ast
import copy

import numpy as np
import pytest

from autograder import notebooks
from autograder.checks import CheckFailure


def setup_source(nb):
    """The notebook's locked setup cell, without IPython magics."""
    cell = next(c for c in nb.cells if notebooks.grade_id(c) == "setup")
    return "\n".join(line for line in notebooks.source_text(cell).split("\n")
                     if not line.lstrip().startswith("%"))


def solution_namespace(nb_path, replace=None):
    """Run the setup cell and every solution cell (``replace`` maps grade_id → source)."""
    nb = notebooks.read(nb_path)
    ns = {}
    exec(compile(setup_source(nb), "setup", "exec"), ns)
    for gid, src in notebooks.solution_sources(nb).items():
        src = (replace or {}).get(gid, src)
        exec(compile(src, gid, "exec"), ns)
    return ns


_BINOP_SWAPS = {ast.Add: (ast.Sub, ast.Mult), ast.Sub: (ast.Add,), ast.Mult: (ast.Div, ast.Add),
                ast.Div: (ast.Mult,), ast.Pow: (ast.Mult,), ast.MatMult: (ast.Mult,),
                ast.FloorDiv: (ast.Div,), ast.Mod: (ast.FloorDiv,)}


_CMP_SWAPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
              ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is}


_ATTR_SWAPS = {"value": "tangent", "tangent": "value", "T": None}


def _variants(node, params):
    """Single-point replacements of `node`: (description, new node) pairs."""
    out = []
    if isinstance(node, ast.BinOp):
        for op in _BINOP_SWAPS.get(type(node.op), ()):
            out.append((f"operator {type(node.op).__name__} → {op.__name__}",
                        ast.BinOp(node.left, op(), node.right)))
        out.append(("drop right operand", node.left))
        out.append(("drop left operand", node.right))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        out.append(("drop unary minus", node.operand))
    elif isinstance(node, ast.AugAssign):
        for op in _BINOP_SWAPS.get(type(node.op), ()):
            out.append((f"augmented {type(node.op).__name__} → {op.__name__}",
                        ast.AugAssign(node.target, op(), node.value)))
        out.append(("augmented assignment → plain assignment",
                    ast.Assign([node.target], node.value, lineno=node.lineno)))
    elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        c = node.value
        for new in dict.fromkeys([c + 1, 0 * c, -c, 2 * c]):
            if new != c:
                out.append((f"constant {c!r} → {new!r}", ast.Constant(new)))
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMP_SWAPS:
        out.append(("flip comparison", ast.Compare(node.left, [_CMP_SWAPS[type(node.ops[0])]()],
                                                   node.comparators)))
    elif isinstance(node, ast.Call) and len(node.args) >= 2:
        for k in range(len(node.args) - 1):
            args = list(node.args)
            args[k], args[k + 1] = args[k + 1], args[k]
            out.append((f"swap call arguments {k}, {k + 1}", ast.Call(node.func, args, node.keywords)))
    elif isinstance(node, ast.Tuple) and len(node.elts) >= 2 and isinstance(node.ctx, ast.Load):
        elts = list(node.elts)
        elts[0], elts[1] = elts[1], elts[0]
        out.append(("swap tuple items", ast.Tuple(elts, ast.Load())))
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in params:
        for other in params:
            if other != node.id:
                out.append((f"name {node.id} → {other}", ast.Name(other, ast.Load())))
    elif isinstance(node, ast.Attribute) and node.attr in _ATTR_SWAPS:
        new = _ATTR_SWAPS[node.attr]
        out.append((f"attribute .{node.attr} → " + (f".{new}" if new else "dropped"),
                    ast.Attribute(node.value, new, node.ctx) if new else node.value))
    elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
        out.append(("drop subscript", node.value))
    return out


def mutants(source):
    """Every single-point mutant of the code between the solution markers of a
    cell: ``[(description, mutated cell source)]``, deduplicated."""
    regions = notebooks.solution_regions(source)
    code = notebooks.strip_markers(source)
    # line numbers (1-based) of the solution region after the marker lines are removed
    lines = set()
    for k, (start, end) in enumerate(regions):
        markers_above = 2 * k + 1  # this region's BEGIN marker, and both markers of each earlier region
        lines.update(range(start - markers_above + 1, end - markers_above + 1))
    tree = ast.parse(code)
    nodes = list(ast.walk(tree))
    params_of = {}
    for fn in (n for n in nodes if isinstance(n, (ast.FunctionDef, ast.Lambda))):
        names = [a.arg for a in fn.args.args]
        for sub in ast.walk(fn):
            params_of.setdefault(id(sub), names)
    seen, out = {ast.unparse(tree)}, []
    for k, node in enumerate(nodes):
        if getattr(node, "lineno", None) not in lines:
            continue
        for what, replacement in _variants(node, params_of.get(id(node), [])):
            new_tree = copy.deepcopy(tree)
            target = list(ast.walk(new_tree))[k]
            _replace(new_tree, target, replacement)
            try:
                text = ast.unparse(ast.fix_missing_locations(new_tree))
                compile(text, "mutant", "exec")
            except (SyntaxError, ValueError, TypeError):
                continue
            if text not in seen:
                seen.add(text)
                out.append((f"line {node.lineno}: {what}", text))
    return out


def _replace(tree, target, replacement):
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, field, copy.deepcopy(replacement))
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is target:
                        value[i] = copy.deepcopy(replacement)
                        return
    raise AssertionError("mutation target not found")


def mutation_score(nb_path, run_checks, equivalent=()):
    """Run `run_checks(namespace, grade_id)` on every mutant of every solution cell.

    Returns ``(killed, total, survivors)``; mutants whose description is listed
    in `equivalent` (as ``(grade_id, description)``) are left out of the total.
    """
    nb = notebooks.read(nb_path)
    killed, total, survivors = 0, 0, []
    for cell in nb.cells:
        if not (notebooks.is_solution(cell) and cell.cell_type == "code"):
            continue
        gid = notebooks.grade_id(cell)
        for what, text in mutants(notebooks.source_text(cell)):
            if (gid, what) in equivalent:
                continue
            total += 1
            try:
                with np.errstate(all="ignore"):
                    ns = solution_namespace(nb_path, replace={gid: text})
                    run_checks(ns, gid)
            except Exception:  # CheckFailure, or the mutant crashed: killed either way
                killed += 1
            else:
                survivors.append((gid, what))
    return killed, total, survivors


def hint_of(check, *args, **kwargs):
    with pytest.raises(CheckFailure) as info:
        check(*args, **kwargs)
    message = str(info.value)
    assert "input:" in message and "expected:" in message and "got:" in message
    return info.value.hint or ""
