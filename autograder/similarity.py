"""A similarity review of a batch: whose solution code is too close to whose, or to the reference.

The engine is copydetect (``pip install copydetect``, the ``review`` extra), a
winnowing detector in the manner of MOSS: each document is tokenised with Pygments
and every identifier becomes one letter (variables ``V``, functions ``F``), comments
and whitespace are dropped, and the k-gram fingerprints kept by winnowing are compared.
Renaming variables, re-indenting or rewriting comments therefore changes nothing,
while two people who solved a task independently share only the short formulas the
task forces on everyone.

What is compared: per student, the code of the solution cells (the cells students
write), in notebook order, from ``course/submitted/<student>/<assignment>/``; and the
reference solution from ``course/source`` (a student who copied the instructor's
solution, e.g. from the public repository, is flagged against ``REFERENCE``). What the
release hands out (the task's comment, ``def`` line, docstring and
``raise NotImplementedError()``) is boilerplate: it is removed from the fingerprints so
that a blank or half-done notebook is not "similar" to every other.

A pair is *suspicious* when the larger of the two shares (tokens of one document found
in the other) is at least ``threshold`` and the overlap is at least ``min_overlap``
tokens; both defaults are calibrated in ``tests/test_similarity.py`` (copies and
renamed copies score 1.0; independent correct solutions of lesson 0 score below 0.6).
A flag is a reason to read two notebooks side by side, never a verdict.
"""
import csv
import logging
from dataclasses import dataclass
from pathlib import Path

from . import notebooks
from .workflow import CourseError

REFERENCE = "REFERENCE"
THRESHOLD = 0.8        # share of a document's fingerprinted tokens found in the other
MIN_OVERLAP = 60       # tokens (after renaming) in common: short formulas are not evidence
NOISE = 20             # k: the shortest match that counts, in filtered characters
GUARANTEE = 25         # matches this long are always found (winnowing window = GUARANTEE - NOISE + 1)
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


@dataclass
class Pair:
    first: str
    second: str
    share_first: float     # of first's tokens, the share found in second
    share_second: float
    overlap: int           # tokens in common

    @property
    def score(self):
        return max(self.share_first, self.share_second)


def _solution_ids(source_nb):
    return [notebooks.grade_id(c) for c in source_nb.cells
            if notebooks.is_solution(c) and c.cell_type == "code" and notebooks.grade_id(c)]


def released_stub(source):
    """A solution cell as the release shows it: each solution region replaced by the stub."""
    lines, out, skip = source.split("\n"), [], False
    for line in lines:
        if notebooks.BEGIN_SOLUTION in line:
            indent = line[:len(line) - len(line.lstrip())]
            out += [indent + s for s in STUB.split("\n")]
            skip = True
        elif notebooks.END_SOLUTION in line:
            skip = False
        elif not skip:
            out.append(line)
    return "\n".join(out)


def solution_code(nb, ids):
    """The code of the cells `ids` of a notebook, in that order (missing cells are skipped)."""
    cells = {notebooks.grade_id(c): notebooks.source_text(c) for c in nb.cells if notebooks.grade_id(c)}
    return "\n\n".join(cells[g] for g in ids if g in cells) + "\n"


def documents(course, assignment, students=None):
    """({name: solution code}, boilerplate code) of a batch: one per student, plus REFERENCE."""
    source_nb = notebooks.read(course.source_notebook(assignment))
    ids = _solution_ids(source_nb)
    cells = {notebooks.grade_id(c): notebooks.source_text(c) for c in source_nb.cells}
    docs = {REFERENCE: "\n\n".join(notebooks.strip_markers(cells[g]) for g in ids) + "\n"}
    boilerplate = "\n\n".join(released_stub(cells[g]) for g in ids) + "\n"
    folder = course.submitted
    for sub in sorted(folder.glob(f"*/{assignment}")):
        student = sub.parent.name
        if students is not None and student not in students:
            continue
        code = []
        for path in sorted(sub.glob("*.ipynb")):
            try:
                code.append(solution_code(notebooks.read(path), ids))
            except ValueError:
                continue   # a damaged notebook has nothing to compare; grading reports it
        if code:
            docs[student] = "\n".join(code)
    return docs, boilerplate


def compare(docs, boilerplate, workdir, *, threshold=THRESHOLD, min_overlap=MIN_OVERLAP, html=None):
    """All pairs of `docs` ({name: code}) compared with copydetect; returns (pairs, suspicious),
    both sorted by score. Writes the documents under `workdir` and, given `html`, copydetect's
    side-by-side report of the pairs above `threshold`."""
    try:
        from copydetect import CopyDetector
    except ImportError:
        raise CourseError("the similarity review needs copydetect: pip install 'copydetect>=0.5' "
                          "(or the [review] extra)") from None
    import matplotlib
    matplotlib.use("Agg")
    workdir = Path(workdir)
    code_dir = workdir / "code"
    code_dir.mkdir(parents=True, exist_ok=True)
    for old in code_dir.glob("*.py"):
        old.unlink()
    files = {}
    for name, code in docs.items():
        files[name] = code_dir / f"{name}.py"
        files[name].write_text(code, encoding="utf-8")
    stub = workdir / "boilerplate.py"
    stub.write_text(boilerplate, encoding="utf-8")
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))   # copydetect's warnings
    detector = CopyDetector(noise_t=NOISE, guarantee_t=GUARANTEE, display_t=threshold, silent=True,
                            autoopen=False, extensions=["py"], out_file=str(html or workdir / "report.html"))
    for path in files.values():
        detector.add_file(str(path))
    detector.add_file(str(stub), type="boilerplate")
    if len(files) < 2:
        return [], []
    detector.run()
    position = {f: i for i, f in enumerate(detector.test_files)}
    ref_position = {f: j for j, f in enumerate(detector.ref_files)}
    names = sorted(files, key=lambda n: (n != REFERENCE, n))
    pairs = []
    for a_i, a in enumerate(names):
        for b in names[a_i + 1:]:
            fa, fb = str(files[a]), str(files[b])
            if fa not in position or fb not in ref_position:
                continue
            share_a, share_b = detector.similarity_matrix[position[fa], ref_position[fb]]
            overlap = int(detector.token_overlap_matrix[position[fa], ref_position[fb]])
            if share_a < 0:
                continue
            pairs.append(Pair(a, b, float(share_a), float(share_b), max(0, overlap)))
    pairs.sort(key=lambda p: (-p.score, p.first, p.second))
    suspicious = [p for p in pairs if p.score >= threshold and p.overlap >= min_overlap]
    if html is not None:
        detector.generate_html_report()
    return pairs, suspicious


def review(course, assignment, out_dir=None, *, students=None, threshold=THRESHOLD, min_overlap=MIN_OVERLAP):
    """Compare a batch's solution code with each other and with the reference.

    Writes ``<out_dir>/similarity.csv`` (every pair, suspicious ones marked) and
    ``<out_dir>/similarity.html`` (copydetect's report: the suspicious pairs side by side,
    the matching code highlighted); `out_dir` defaults to ``course/similarity/<assignment>``.
    Returns ``{pairs, suspicious, csv, html, documents}``.
    """
    course.check_assignments([assignment])
    out_dir = Path(out_dir) if out_dir else course.root / "similarity" / assignment
    docs, boilerplate = documents(course, assignment, students)
    html = out_dir / "similarity.html"
    pairs, suspicious = compare(docs, boilerplate, out_dir, threshold=threshold, min_overlap=min_overlap,
                                html=html)
    path = out_dir / "similarity.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    flagged = {(p.first, p.second) for p in suspicious}
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["first", "second", "share_of_first", "share_of_second", "tokens_in_common", "suspicious"])
        for p in pairs:
            writer.writerow([p.first, p.second, f"{p.share_first:.2f}", f"{p.share_second:.2f}", p.overlap,
                             int((p.first, p.second) in flagged)])
    return {"pairs": pairs, "suspicious": suspicious, "csv": path, "html": html if html.exists() else None,
            "documents": len(docs) - 1}


def format_review(report):
    """The lines the autograde report prints: each suspicious pair, then where the files are."""
    lines = [f"similarity review ({report['documents']} submission(s) and the reference, copydetect): "
             f"{len(report['suspicious'])} suspicious pair(s)"]
    for p in report["suspicious"]:
        lines.append(f"  {p.first} ~ {p.second}: {p.share_first:.0%} / {p.share_second:.0%} of the code, "
                     f"{p.overlap} tokens in common")
    lines.append(f"  pairs: {report['csv']}" + (f"; side by side: {report['html']}" if report["html"] else ""))
    return "\n".join(lines)
