"""The instructor's JupyterLab: started in the course directory, so the formgrader finds the
course's config and nothing is written into the repository root."""
from autograder.cli import main as cli_main


def test_lab_instructor_starts_in_the_course(fixture_course, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.iterdir())
    assert cli_main(["--course", str(fixture_course.root), "lab", "--instructor", "--no-browser", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"cd {fixture_course.root} && " in out and f"--ServerApp.root_dir={fixture_course.root}" in out
    assert "formgrader" in out.lower()
    assert set(tmp_path.iterdir()) == before, "nothing written where the command was started"
    assert not (fixture_course.root / "student").exists(), "no student workspace in instructor mode"
