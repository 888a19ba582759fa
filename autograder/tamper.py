r"""A tripwire for submissions that try to change what the checks compute.

Under stock nbgrader a solution cell can write ``np.allclose = lambda *a, **k:
True`` (or replace a check function) and every later test cell passes. The
checks in :mod:`autograder.checks` bind the numpy functions they use at import,
before any student cell runs, which defeats the simplest form; this scan
catches the rest of the obvious forms so they are reported instead of scored.

It is a static scan of the code a student wrote (the AST of each cell), not a
sandbox: it flags

- assigning to, or deleting, an attribute or item of a module
  (``np.allclose = …``, ``numpy.testing.x = …``, ``checks.check_close = …``,
  ``sys.modules['numpy'] = …``); a module here is any name bound by an
  ``import`` statement in the notebook, or a common module alias;
- ``setattr``/``delattr`` on a module, or on anything that is not a plain name
  or attribute (``setattr(getattr(...), …)``);
- ``exec``, ``eval``, ``compile``, ``__import__``, ``globals()[…] = …``,
  ``vars(module)``, ``importlib``, ``builtins``/``__builtins__``,
  ``sys.modules``, ``ctypes``, ``gc``;
- the dunder attributes that reach into other objects' code or namespaces
  (``__dict__``, ``__globals__``, ``__code__``, ``__closure__``,
  ``__defaults__``, ``__kwdefaults__``, ``__builtins__``, ``__subclasses__``).

Rebinding attributes of the student's own classes (``Dual.__truediv__ =
truediv``, ``self.grad += …``) is normal notebook style and is not flagged.
Code that does not parse (IPython magics, syntax errors) is scanned after
removing magic lines; a syntax error is not tampering (the cell just fails).

How the course uses it (see ``course/nbgrader_config.py``): the TamperScan
preprocessor runs after nbgrader has scored a submission; if a student cell
is flagged, every graded cell *after* the first flagged cell gets score 0 and
is marked "needs manual grade", and the flag is written as the comment of the
solution cell, so the instructor reviews it in the formgrader and can restore
the points by hand. ``python -m autograder check`` reports the same flags and
withholds the points of the affected cells.
"""
import ast
import re
from dataclasses import dataclass

#: Names treated as modules even when the import is not in the scanned code
#: (the course's setup cells import them before any student cell).
COMMON_MODULES = frozenset({
    "np", "numpy", "math", "cmath", "sys", "os", "builtins", "autograder", "autodiff_ref",
    "checks", "check", "scipy", "sympy", "sp", "torch", "plt", "matplotlib", "mpl",
    "widgets", "ipywidgets", "random", "operator", "functools", "itertools", "importlib",
    "nbgrader", "pytest", "unittest", "inspect", "types",
})
FORBIDDEN_CALLS = frozenset({"exec", "eval", "compile", "__import__", "setattr", "delattr", "vars", "globals"})
FORBIDDEN_MODULES = frozenset({"importlib", "builtins", "ctypes", "gc", "__builtin__"})
FORBIDDEN_NAMES = frozenset({"__builtins__", "__import__", "__loader__", "__spec__"})
FORBIDDEN_ATTRIBUTES = frozenset({
    "__dict__", "__globals__", "__code__", "__closure__", "__defaults__", "__kwdefaults__",
    "__builtins__", "__subclasses__", "modules",  # sys.modules
})

_MAGIC = re.compile(r"^\s*[%!]")


@dataclass(frozen=True)
class Flag:
    """One suspicious construct: where it is and why it is flagged."""
    cell: int          # index of the cell in the notebook
    line: int          # line within the cell (1-based)
    code: str          # the offending line, stripped
    reason: str

    def __str__(self):
        return f"cell {self.cell}, line {self.line}: {self.code!r} ({self.reason})"


def _strip_magics(source):
    """Blank IPython magic and shell lines so the rest parses (line numbers kept)."""
    return "\n".join("" if _MAGIC.match(line) else line for line in source.split("\n"))


def _root_name(node):
    """The name at the root of ``a.b[c].d`` (None when the root is not a name)."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("globals", "vars"):
        return node.func.id + "()"
    return node.id if isinstance(node, ast.Name) else None


def _is_attribute_chain(node):
    """True for ``a`` or ``a.b.c`` (no calls, no subscripts)."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


class _Scanner(ast.NodeVisitor):
    def __init__(self, modules, protected, source_lines, cell):
        self.modules = modules          # names known to refer to modules (shared across cells)
        self.protected = protected      # names the instructor's cells imported (e.g. `checks`)
        self.lines = source_lines
        self.cell = cell
        self.flags = []
        self.scopes = []                # for each enclosing function: the names it declares global

    def flag(self, node, reason):
        line = getattr(node, "lineno", 1)
        code = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        self.flags.append(Flag(self.cell, line, code, reason))

    # --- imports bind module names -------------------------------------
    def _bind(self, name, node):
        if self.scopes and name not in self.scopes[-1]:
            return  # a local name inside a function
        if name in self.protected:
            self.flag(node, f"rebinds {name!r}, which the lesson imported")

    def visit_Import(self, node):
        for alias in node.names:
            top = alias.name.split(".")[0]
            bound = alias.asname or top
            # re-importing the same module under the same name is harmless
            if alias.asname and bound in self.protected and self.protected[bound] != alias.name:
                self._bind(bound, node)
            self.modules.add(bound)
            if top in FORBIDDEN_MODULES:
                self.flag(node, f"imports {alias.name}")

    def visit_ImportFrom(self, node):
        top = (node.module or "").split(".")[0]
        if top in FORBIDDEN_MODULES:
            self.flag(node, f"imports from {node.module}")
        for alias in node.names:
            if alias.name == "*":
                self.flag(node, f"star-import from {node.module} can rebind the lesson's names")
                continue
            bound = alias.asname or alias.name
            if bound in self.protected and self.protected[bound] != f"{node.module}.{alias.name}":
                self._bind(bound, node)
            self.modules.add(bound)

    def visit_FunctionDef(self, node):
        self._bind(node.name, node)
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.visit(node.args)
        declared = {name for stmt in ast.walk(node) if isinstance(stmt, ast.Global) for name in stmt.names}
        self.scopes.append(declared)
        for stmt in node.body:
            self.visit(stmt)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        self.scopes.append(set())
        self.generic_visit(node)
        self.scopes.pop()

    def visit_ClassDef(self, node):
        self._bind(node.name, node)
        self.generic_visit(node)

    # --- stores into modules ---------------------------------------------
    def _check_target(self, target, node, verb):
        if isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._check_target(elt, node, verb)
            return
        if isinstance(target, ast.Starred):
            self._check_target(target.value, node, verb)
            return
        if isinstance(target, ast.Name):
            self._bind(target.id, node)
            return
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            root = _root_name(target)
            if root in ("globals()", "vars()"):
                self.flag(node, f"{verb} through {root}")
            elif root is not None and (root in self.modules or root in COMMON_MODULES):
                self.flag(node, f"{verb} an attribute of the module {root!r}")
            elif root is None:
                self.flag(node, f"{verb} through a computed object")

    def visit_Assign(self, node):
        for target in node.targets:
            self._check_target(target, node, "rebinds")
        # `m = np` or `m = numpy.linalg` makes `m` a module alias too
        if _is_attribute_chain(node.value) and _root_name(node.value) in (self.modules | COMMON_MODULES):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.modules.add(target.id)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._check_target(node.target, node, "rebinds")
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self._check_target(node.target, node, "rebinds")
        self.generic_visit(node)

    def visit_Delete(self, node):
        for target in node.targets:
            self._check_target(target, node, "deletes")
        self.generic_visit(node)

    # --- dangerous calls and names ----------------------------------------
    def visit_Call(self, node):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else None
        if name in ("setattr", "delattr"):
            obj = node.args[0] if node.args else None
            root = _root_name(obj) if obj is not None else None
            if obj is None or root is None or not _is_attribute_chain(obj):
                self.flag(node, f"{name} on a computed object")
            elif root in self.modules or root in COMMON_MODULES:
                self.flag(node, f"{name} on the module {root!r}")
        elif name == "vars":
            if node.args:
                root = _root_name(node.args[0])
                if root in self.modules or root in COMMON_MODULES or root is None:
                    self.flag(node, "vars() of a module")
        elif name == "globals":
            pass  # reading globals() is harmless; storing through it is caught in _check_target
        elif name in FORBIDDEN_CALLS:
            self.flag(node, f"calls {name}()")
        if isinstance(func, ast.Attribute) and func.attr in ("update", "__setitem__", "setdefault", "pop") \
                and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name) \
                and func.value.func.id in ("globals", "vars"):
            self.flag(node, f"modifies {func.value.func.id}()")
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in FORBIDDEN_NAMES:
            self.flag(node, f"uses {node.id}")
        elif node.id in FORBIDDEN_MODULES and node.id in self.modules:
            self.flag(node, f"uses the module {node.id}")

    def visit_Attribute(self, node):
        if node.attr in FORBIDDEN_ATTRIBUTES:
            if node.attr != "modules" or _root_name(node) == "sys" or _root_name(node) in self.modules:
                self.flag(node, f"uses .{node.attr}")
        self.generic_visit(node)


def scan_source(source, *, cell=0, modules=None, protected=None):
    """Flags for one cell's source.

    `modules` (a set, updated in place) carries the module names bound by
    earlier cells; `protected` maps the names imported by the instructor's
    cells to what they import (rebinding them is flagged).
    """
    modules = set() if modules is None else modules
    text = _strip_magics(source)
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    scanner = _Scanner(modules, {} if protected is None else protected, text.split("\n"), cell)
    scanner.visit(tree)
    return scanner.flags


def _imports(source):
    """{bound name: imported dotted name} of the top-level imports of a cell."""
    try:
        tree = ast.parse(_strip_magics(source))
    except SyntaxError:
        return {}
    bound = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def scan_cells(cells, scanned):
    """Scan a notebook's code cells in order.

    `cells` is a list of notebook cells (nbformat dicts); `scanned(index, cell)`
    says whether a cell was written by the student (others still contribute
    their imports to the set of module names). Returns the list of flags.
    """
    modules, protected, flags, seen = set(), {}, [], set()
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        if scanned(index, cell):
            for flag in scan_source(source, cell=index, modules=modules, protected=protected):
                if (flag.cell, flag.line, flag.reason) not in seen:
                    seen.add((flag.cell, flag.line, flag.reason))
                    flags.append(flag)
        else:
            imported = _imports(source)
            protected.update(imported)
            modules.update(imported)
    return flags


def is_student_cell(cell):
    """A code cell the student controls: a solution cell or a cell they added.

    Locked cells and graded test cells are overwritten from the instructor's
    source before grading, so what the student typed there never runs.
    """
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if not meta:
        return True
    if meta.get("solution"):
        return True
    return not (meta.get("locked") or meta.get("grade"))


def scan_notebook(nb):
    """Flags in the student-written cells of a notebook (nbformat node or dict)."""
    return scan_cells(nb["cells"], lambda i, cell: is_student_cell(cell))
