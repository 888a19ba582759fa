"""nbgrader configuration of the autodiff course.

nbgrader reads this file from the directory it is started in; every path is
computed from this file's location, so a copy of the course directory (for a
test, or a semester) is self-contained: its own gradebook, release, submitted,
autograded and feedback folders.

What differs from nbgrader's defaults, and why:
- A submission that kills or wedges its kernel keeps the scores of the cells
  that ran; the rest are marked "not run" (stock nbgrader records nothing).
- Missing graded cells are put back before grading (a student who deletes a
  test cell is graded by it anyway; stock nbgrader silently scores it 0).
- Every student-written code cell is scanned for tampering (rebinding numpy or
  the checks, exec/eval, sys.modules...) after grading; flagged submissions get
  0 on the graded cells after the tampered cell and are sent to manual
  grading (see ``autograder/tamper.py``).
- Feedback never shows hidden tests: their source is stripped, and the
  tracebacks of cells that contain them are cut down to the check's message.
"""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(_HERE)
# Grading imports `autograder` (this repository) when the package is not installed.
if os.path.isdir(os.path.join(_REPO, "autograder")) and _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties, CheckCellMetadata, ClearHiddenTests, GetGrades, IgnorePattern,
    LimitOutput, SaveAutoGrades)

from autograder.nbgrader_plugins import HideHiddenTestTracebacks, ResilientExecute, TamperScan  # noqa: E402

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

c.CourseDirectory.course_id = "autodiff"
c.CourseDirectory.root = _HERE
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_HERE, "gradebook.db")

# The exchange (nbgrader release_assignment / collect) lives inside the course
# directory; creating it here keeps the formgrader from warning that it is missing.
c.Exchange.root = os.path.join(_HERE, "exchange")
os.makedirs(c.Exchange.root, exist_ok=True)

# Per-cell timeout, seconds. Lesson cells run in well under 10 s; an infinite
# loop in a submission costs this much, then the cell is reported as timed out.
c.Execute.timeout = 30
c.Execute.interrupt_on_timeout = True

c.OverwriteCells.add_missing_cells = True

c.Autograde.autograde_preprocessors = [
    ResilientExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    TamperScan,
    AssignLatePenalties,
    CheckCellMetadata,
]

c.GenerateFeedback.preprocessors = [
    GetGrades,
    HideHiddenTestTracebacks,
    ClearHiddenTests,
    CSSHTMLHeaderPreprocessor,
]
