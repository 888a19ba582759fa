"""Per-lesson checks: ``from autograder.lessons import lessonN as checks`` in lesson N's notebook."""
