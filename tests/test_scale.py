"""Grading on a Dask cluster into a PostgreSQL gradebook, on this machine.

The tests start a real ``dask scheduler`` and two ``dask worker`` processes on
loopback and a real PostgreSQL server (Debian's, started as the ``postgres``
user when we are root); ``.ci/run`` installs Debian's ``postgresql`` when
``pg_ctl`` is missing. Grades must be those of the local pool.
"""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from autograder import grading
from autograder.workflow import Course

from conftest import FIXTURE
from test_workflow import fixture_batch, write_all

pytest.importorskip("distributed", reason="the [scale] extra is not installed: pip install -e '.[scale]'")
pytest.importorskip("psycopg", reason="the [scale] extra is not installed: pip install -e '.[scale]'")

pytestmark = pytest.mark.slow

MIXED = ["sol00", "sol01", "blank00", "wrong00", "wrong10", "wrong20", "broken0", "deleted0", "loop0", "dies0",
         "cheat"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not happen within {timeout} s")


# --- a PostgreSQL server ----------------------------------------------------------------------------

def postgres_bindir():
    """Where initdb and pg_ctl are, or None (Debian keeps initdb off PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server on loopback for this module: yields a function making a fresh database URL."""
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server here: `apt-get install postgresql` (as root; .ci/run does it)")
    data = Path(tempfile.mkdtemp(prefix="autodiff-pg-"))
    as_owner = []
    if os.geteuid() == 0:   # initdb refuses root: the server runs as the postgres user
        shutil.chown(data, "postgres", "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run([*as_owner, str(bindir / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)
    subprocess.run([*as_owner, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-w", "-l", str(data / "log"),
                    "-o", f"-p {port} -k {data} -h 127.0.0.1", "start"], check=True, capture_output=True)
    import psycopg
    counter = iter(range(1000))

    def new_database():
        name = f"gradebook{next(counter)}"
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{name}"

    yield new_database
    subprocess.run([*as_owner, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-m", "fast", "stop"],
                   capture_output=True)
    shutil.rmtree(data, ignore_errors=True)


# --- a Dask cluster --------------------------------------------------------------------------------

class Cluster:
    """``dask scheduler`` and ``dask worker`` processes on loopback."""

    def __init__(self, workdir, n_workers=2):
        self.workdir, self.port = Path(workdir), free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs = []
        self.start("scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard")
        for i in range(n_workers):
            self.start("worker", self.address, "--nthreads", "1", "--no-dashboard", "--name", f"w{i}", log=f"w{i}")
        from distributed import Client
        self.client = Client(self.address, timeout="60s")
        self.client.wait_for_workers(n_workers, timeout=120)

    def start(self, command, *args, log=None):
        with open(self.workdir / f"{log or command}.log", "w") as out:
            self.procs.append(subprocess.Popen([str(Path(sys.executable).parent / "dask"), command, *args],
                                               cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT,
                                               start_new_session=True))

    def worker_pids(self):
        """{worker address: pid of the process that runs the tasks (not its nanny)}."""
        return self.client.run(os.getpid)

    def close(self):
        self.client.close()
        for proc in reversed(self.procs):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("dask"))
    yield cluster
    cluster.close()


def scores(course):
    return {(r["student"], q): score for r in course.grades() for q, (score, _) in r["questions"].items()}


def same_problems(problems):
    """Problems without the sandbox's exit reason, which races with the pipe's end of file
    (Sandbox.exit_reason can say "still running" for a process that is exiting)."""
    return [p.split("ended:")[0] for p in problems]


def copy_of(course, dest, db_url=None):
    shutil.copytree(course.root, dest)
    return Course(dest, db_url=db_url)


def quiet(msg):
    pass


# --- the tests -------------------------------------------------------------------------------------------

def test_cluster_and_postgres_grade_like_the_local_pool(fixture_course, cluster, postgres, tmp_path):
    """A mixed batch (solutions, blanks, wrong answers, a cheat, broken JSON, a loop, a process
    killer): the same grades and statuses on the cluster into PostgreSQL as in the local pool."""
    subs, expect = fixture_batch(fixture_course)
    folder = write_all(tmp_path / "incoming", {k: subs[k] for k in MIXED})
    remote = copy_of(fixture_course, tmp_path / "remote", db_url=postgres())

    local_results = grading.autograde(fixture_course, folder, FIXTURE, jobs=2, log=quiet)
    remote_results = grading.autograde(remote, folder, FIXTURE, scheduler=cluster.address, log=quiet)

    assert scores(remote) == scores(fixture_course)
    assert scores(remote) == {(s, q): v for s in MIXED for q, v in expect[s].items()}
    by_local = {r.student: r for r in local_results}
    for r in remote_results:
        mine = by_local[r.student]
        assert (r.status, r.score, [(c.grade_id, c.status) for c in r.cells]) == \
               (mine.status, mine.score, [(c.grade_id, c.status) for c in mine.cells]), r.student
        assert same_problems(r.problems) == same_problems(mine.problems), r.student
    assert (remote.autograded / "sol00" / FIXTURE / f"{FIXTURE}.ipynb").exists(), "the client writes autograded/"


def test_a_worker_killed_mid_batch(fixture_course, cluster, postgres, tmp_path):
    """SIGKILL the process grading a submission: the scheduler runs that task again on the other
    worker (the nanny restarts the killed one) and the batch completes, every row graded once."""
    subs, expect = fixture_batch(fixture_course)
    names = [f"sol{i:02d}" for i in range(6)] + ["blank00", "wrong00"]
    folder = write_all(tmp_path / "incoming", {k: subs[k] for k in names})
    remote = copy_of(fixture_course, tmp_path / "remote", db_url=postgres())
    done = {}
    grader = threading.Thread(target=lambda: done.update(results=grading.autograde(
        remote, folder, FIXTURE, scheduler=cluster.address, log=quiet)))
    grader.start()

    def busy_worker():
        return next((addr for addr, keys in cluster.client.processing().items()
                     if any(str(k).startswith("autograde-") for k in keys)), None)
    wait_for(lambda: busy_worker() is not None, 180, "a worker starting a task")
    time.sleep(1.0)   # into the grading, past the unpacking
    address = busy_worker()
    os.kill(cluster.worker_pids()[address], signal.SIGKILL)
    grader.join(600)
    assert not grader.is_alive()

    results = {r.student: r for r in done["results"]}
    assert set(results) == set(names)
    assert all(r.ok for r in results.values()), [(r.student, r.problems) for r in results.values() if not r.ok]
    assert scores(remote) == {(s, q): v for s in names for q, v in expect[s].items()}
    cluster.client.wait_for_workers(2, timeout=120)   # the nanny brought the killed worker back


def test_an_interrupted_batch_resumes(fixture_course, cluster, postgres, tmp_path):
    """Stop `autograde --scheduler` after a few submissions; run it again: those are skipped by
    content hash, a changed one is graded again, and every row ends graded."""
    subs, expect = fixture_batch(fixture_course)
    names = [f"sol{i:02d}" for i in range(5)] + ["blank00", "blank01", "wrong00"]
    folder = write_all(tmp_path / "incoming", {k: subs[k] for k in names})
    db_url = postgres()
    remote = copy_of(fixture_course, tmp_path / "remote", db_url=db_url)
    command = [sys.executable, "-m", "autograder", "--course", str(remote.root), "--db-url", db_url,
               "autograde", str(folder), "-a", FIXTURE, "--scheduler", cluster.address]
    ledger = remote.root / ".autograde_ledger" / FIXTURE
    first = subprocess.Popen(command, env=remote.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True)
    wait_for(lambda: ledger.is_dir() and len(list(ledger.iterdir())) >= 2, 300, "two submissions graded")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    graded_before = {p.name for p in ledger.iterdir()}
    assert len(graded_before) < len(names), "the batch was interrupted before it finished"

    changed = sorted(graded_before)[0]
    (folder / f"{changed}.ipynb").write_text(json.dumps(subs["blank00"]))   # handed in again, blank
    expect = {s: expect[s] for s in names}
    expect[changed] = {q: 0.0 for q in expect[changed]}
    second = subprocess.run(command + ["--json", str(tmp_path / "results.json")], env=remote.env(),
                            capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    skipped = len(graded_before) - 1
    assert f"{skipped} submission(s) graded before and unchanged: skipped" in second.stdout
    assert f"graded {len(names) - skipped} submission(s)" in second.stdout
    results = json.loads((tmp_path / "results.json").read_text())
    assert sorted(r["student"] for r in results) == sorted(names)
    assert all(r["status"] == "graded" for r in results)
    assert scores(remote) == {(s, q): v for s in names for q, v in expect[s].items()}
