"""When a task fails because an earlier function of the student's is wrong, say so.

Task 2.3's ``jacfwd`` calls the student's ``jvp`` (Task 2.2); Task 3.3's ``grad`` calls
the student's ``backward`` (Task 3.2) and rules (Task 3.1). A wrong ``jvp`` makes a
correct ``jacfwd`` fail, and the failure should point at the task to fix. So a check
that builds on earlier tasks, when it fails, runs the earlier tasks' checks quietly and,
if one of them fails too, says which, with that check's own diagnosis.
"""
import contextlib
import io

from autograder.checks import CheckFailure


def first_failing(earlier):
    """The first ``(label, CheckFailure)`` of `earlier`, a sequence of ``(label, check, args)``
    in the order the course builds them, or None when every earlier check passes.
    The earlier checks' ✓ lines are not printed."""
    for label, check, args in earlier:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                check(*args)
        except CheckFailure as failure:
            return label, failure
        except Exception:        # an earlier check that cannot run says nothing either way
            continue
    return None


def blamed(failure, earlier):
    """`failure`, or when an earlier task fails its own check, the same failure with a hint
    naming that task and what its check found."""
    found = first_failing(earlier)
    if found is None:
        return failure
    label, cause = found
    said = cause.hint or "see that task's check"
    return CheckFailure(failure.what, inputs=failure.inputs, expected=failure.expected, got=failure.got,
                        hint=f"this builds on your {label}, which fails its own check ({cause.what}: "
                             f"{said}). Fix that task first: this one may then pass as it is")
