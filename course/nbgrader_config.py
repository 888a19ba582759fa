"""nbgrader configuration of the autodiff course.

nbgrader reads this file from the directory it is started in; every path is
computed from this file's location, so a copy of the course directory (for a
test, or a semester) is self-contained: its own gradebook, release, submitted,
autograded and feedback folders.

What differs from nbgrader's defaults, and why:
- A submission that loops, floods its output or ends its process loses the
  cell at fault only; the sandbox is restarted for the next one.
- Missing graded cells are put back before grading (a student who deletes a
  test cell is graded by it anyway; stock nbgrader silently scores it 0).
- No kernel runs the submission. ``SandboxGrade`` runs the student's code in a
  separate, sealed, resource-limited process and the test cells here, in
  nbgrader's process, with the checks and the oracle: whatever the student's
  code patches, it patches in its own process, never the verdict. Each task's
  policy (``autograder/policy.py``) takes away what the task asks the student
  to build (``autodiff_ref``, or the parts of it the task re-implements); a use
  scores 0 with a line saying so (see ``autograder/verdicts.py``).
- Feedback never shows hidden tests: their source is stripped, and the
  tracebacks of cells that contain them are cut down to the check's message.
  No error in the feedback shows a traceback or a server path; long lines wrap.
- Due dates per lesson (``c.DueDates.due``) and nbgrader's late-submission penalty.
"""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(_HERE)
# Grading imports `autograder` (this repository) when the package is not installed.
if os.path.isdir(os.path.join(_REPO, "autograder")) and _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties, CheckCellMetadata, ClearHiddenTests, ClearOutput, DeduplicateIds, GetGrades, IgnorePattern,
    LimitOutput, OverwriteKernelspec, SaveAutoGrades)

from autograder.nbgrader_plugins import (  # noqa: E402
    DueDates, FeedbackCSS, HideHiddenTestTracebacks, OverwriteCellsHiddenTestsAware, SandboxGrade, StudentErrors)

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

c.CourseDirectory.course_id = "autodiff"
c.CourseDirectory.root = _HERE
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_HERE, "gradebook.db")

# The exchange (nbgrader release_assignment / collect) lives inside the course
# directory; creating it here keeps the formgrader from warning that it is missing.
c.Exchange.root = os.path.join(_HERE, "exchange")
os.makedirs(c.Exchange.root, exist_ok=True)

# Per-cell timeout, seconds (a cell of the student's code, or one test cell's
# checks). Lesson cells run in well under 10 s; an infinite loop costs this much.
c.SandboxGrade.timeout = 30
c.Execute.timeout = 30

c.OverwriteCells.add_missing_cells = True

# Due dates, per lesson, and the penalty of a late submission (nbgrader's LateSubmissionPlugin:
# "none" flags it in the gradebook, "zero" takes every point). A submission's time is its
# timestamp.txt (nbgrader's exchange writes one; `autograde` carries it from any folder).
# c.DueDates.due = {"lesson1_dual_numbers": "2027-02-01 17:00:00 Europe/Berlin"}
c.DueDates.due = {}
c.LateSubmissionPlugin.penalty_method = "none"

# nbgrader's defaults, with OverwriteCells that knows the release has no hidden tests
# (stock nbgrader warns "checksum has changed" for every untouched test cell that had some).
c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    OverwriteCellsHiddenTestsAware,
    CheckCellMetadata,
]

c.Autograde.autograde_preprocessors = [
    SandboxGrade,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    DueDates,
    AssignLatePenalties,
    CheckCellMetadata,
]

c.GenerateFeedback.preprocessors = [
    GetGrades,
    HideHiddenTestTracebacks,
    ClearHiddenTests,
    StudentErrors,
    FeedbackCSS,
]
