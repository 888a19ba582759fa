"""Grades in the form a learning-management system imports, and the class roster behind them.

nbgrader keeps students in its gradebook's student table (``id``, ``first_name``,
``last_name``, ``email``, ``lms_user_id``). :func:`import_roster` fills it from a
class roster CSV with those columns (the format of ``nbgrader db student import``);
:func:`export_lms` writes one row per student of that table and one column per
assignment (the score after nbgrader's late penalty), with a late flag per assignment.

Canvas (Grades → Import): identified by ``ID`` (Canvas user id, from ``lms_user_id``),
``SIS User ID`` (the nbgrader id) or ``SIS Login ID`` (the email); a ``Points Possible``
row follows the header. Canvas offers to create an assignment for each column it does not
know: pick "ignore" for the ``… late`` columns.

Moodle (Grades → Import → CSV file): map ``Email address`` or ``ID number`` (the nbgrader
id) to the user, each assignment column to its grade item, and each
``… feedback`` column (it says how late the submission was) to that item's feedback.
"""
import csv
from pathlib import Path

from .workflow import CourseError

FORMATS = ("canvas", "moodle")
ROSTER_COLUMNS = ("id", "first_name", "last_name", "email", "lms_user_id")
# Headers other rosters use for the same things (lower-cased, spaces as underscores).
_ALIASES = {"student_id": "id", "username": "id", "id_number": "id", "sis_user_id": "id",
            "first": "first_name", "given_name": "first_name", "firstname": "first_name",
            "last": "last_name", "surname": "last_name", "family_name": "last_name", "lastname": "last_name",
            "email_address": "email", "e-mail": "email", "canvas_id": "lms_user_id", "lms_id": "lms_user_id"}


def _header(name):
    key = name.strip().lower().replace(" ", "_")
    return _ALIASES.get(key, key)


def read_roster(path):
    """Rows ``{id, first_name, last_name, email, lms_user_id}`` of a roster CSV (missing columns empty)."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames:
            raise CourseError(f"{path} is empty: expected a header with {', '.join(ROSTER_COLUMNS)}")
        headers = {name: _header(name) for name in reader.fieldnames}
        if "id" not in headers.values():
            raise CourseError(f"{path} has no student id column: expected one of "
                              f"{', '.join(ROSTER_COLUMNS)} (got {', '.join(reader.fieldnames)})")
        rows = []
        for n, raw in enumerate(reader, start=2):
            row = {k: "" for k in ROSTER_COLUMNS}
            for name, value in raw.items():
                if headers.get(name) in row and value is not None:
                    row[headers[name]] = value.strip()
            if not row["id"]:
                raise CourseError(f"{path}, line {n}: no student id")
            rows.append(row)
    return rows


def import_roster(course, path):
    """Create or update nbgrader's students from a roster CSV; returns the number of rows."""
    from nbgrader.api import Gradebook
    from .grading import student_id
    rows = read_roster(path)
    assignments = set(course.assignments())
    with course.activated(), Gradebook(course.db_url, course.course_id) as gb:
        for row in rows:
            sid = student_id(row["id"])
            if sid in assignments:
                raise CourseError(f"student id {sid!r} is an assignment name")
            gb.update_or_create_student(sid, **{k: (row[k] or None) for k in ROSTER_COLUMNS[1:]})
    return len(rows)


def class_table(course, assignments=None):
    """(students, assignments, cells): every student of nbgrader's student table; per
    (student, assignment) ``{score, max_score, penalty, late_seconds}`` for a submission."""
    from nbgrader.api import Gradebook
    if not course.has_gradebook():
        return [], [], {}
    with course.activated(), Gradebook(course.db_url, course.course_id) as gb:
        students = [{"id": s.id, "first_name": s.first_name or "", "last_name": s.last_name or "",
                     "email": s.email or "", "lms_user_id": s.lms_user_id or ""} for s in gb.students]
        known = set(course.assignments())
        names = sorted((a.name for a in gb.assignments if not assignments or a.name in assignments),
                       key=lambda a: (a not in known, a))
        cells = {}
        for assignment in gb.assignments:
            if assignment.name not in names:
                continue
            for sub in assignment.submissions:
                cells[(sub.student.id, assignment.name)] = {
                    "score": float(sub.score or 0.0), "max_score": float(assignment.max_score or 0.0),
                    "penalty": float(sub.late_submission_penalty or 0.0),
                    "late_seconds": float(sub.total_seconds_late or 0.0)}
            cells[("max", assignment.name)] = {"max_score": float(assignment.max_score or 0.0)}
    students.sort(key=lambda s: (s["last_name"].lower(), s["first_name"].lower(), s["id"]))
    return students, names, cells


def _fmt(x):
    return f"{x:g}"


def _late_text(cell):
    if cell is None or "score" not in cell:
        return ""
    if cell["late_seconds"] <= 0:
        return "on time"
    text = f"late by {cell['late_seconds'] / 3600:.1f} h"
    if cell["penalty"]:
        text += f" (penalty {_fmt(cell['penalty'])} point(s))"
    return text


def _final(cell):
    if cell is None or "score" not in cell:
        return ""
    return _fmt(max(0.0, cell["score"] - cell["penalty"]))


def export_lms(course, path, lms, assignments=None):
    """Write the wide grade file for `lms` ("canvas" or "moodle"); returns (path, number of students)."""
    if lms not in FORMATS:
        raise CourseError(f"unknown LMS {lms!r}: choose one of {', '.join(FORMATS)}")
    students, names, cells = class_table(course, assignments)
    if not students:
        raise CourseError("no students in the gradebook: import a roster (`roster ROSTER.csv`) or run `autograde`")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if lms == "canvas":
            writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                             *names, *[f"{a} late" for a in names]])
            writer.writerow(["Points Possible", "", "", "", "",
                             *[_fmt(cells.get(("max", a), {}).get("max_score", 0.0)) for a in names],
                             *["" for _ in names]])
            for s in students:
                name = ", ".join(p for p in (s["last_name"], s["first_name"]) if p) or s["id"]
                writer.writerow([name, s["lms_user_id"], s["id"], s["email"], "",
                                 *[_final(cells.get((s["id"], a))) for a in names],
                                 *[_late_text(cells.get((s["id"], a))) for a in names]])
        else:
            header = ["First name", "Last name", "ID number", "Email address"]
            for a in names:
                header += [a, f"{a} feedback"]
            writer.writerow(header)
            for s in students:
                row = [s["first_name"], s["last_name"], s["id"], s["email"]]
                for a in names:
                    cell = cells.get((s["id"], a))
                    row += [_final(cell), _late_text(cell)]
                writer.writerow(row)
    return path, len(students)
