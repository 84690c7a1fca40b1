"""Fault injection for ``run.py run`` and the results store: nothing lost, nothing half-written, no traceback.

Each case runs the real command line in a fresh process on a tiny classroom run (a few seconds)
and checks the exit status, the one line on stderr, the folders and the database rows.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, cli

from sim.cli.main import main
from sim.output import store
from sim.output.result import RUN_ID
from sim.output.run_sets import load_runs

CLASSROOM = str(ROOT / "scenarios" / "classroom.toml")
NO_PROGRAMME = str(ROOT / "scenarios" / "no_clusters_green_platform_or_fdi.toml")
TINY = ["--set", "population.scale=0.005", "--set", "scenario.end_year=2003", "--quiet"]


def one_line(done: subprocess.CompletedProcess | tuple, code: int) -> str:
    """The process exited with ``code`` and said one line on stderr, no traceback; that line."""
    returncode, stderr = (done.returncode, done.stderr) if hasattr(done, "returncode") else done
    assert returncode == code, stderr
    assert "Traceback" not in stderr and stderr.count("\n") == 1 and stderr.startswith("error: "), stderr
    return stderr.strip()


def in_process(capsys, *args: str) -> tuple[int, str]:
    """``run.py ARGS`` in this process (no start-up cost) for checks that stop before the work."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse
        code = exc.code
    return code, capsys.readouterr().err


def rows(db: Path) -> list[tuple]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return conn.execute("select run_id, scenario, seed, out_dir, status from runs order by run_id").fetchall()


def folders(parent: Path) -> list[Path]:
    """Every folder below ``parent`` holding files or named ``.partial``: what a run left behind."""
    return sorted(p for p in parent.rglob("*") if p.is_dir() and (p.name.endswith(".partial") or any(p.iterdir())))


def wait_for(condition, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_three_runs_started_together_with_one_seed_keep_three_rows_and_folders(tmp_path):
    commands = [("run", CLASSROOM, "--seed", "5", *TINY),
                ("run", CLASSROOM, "--seed", "5", *TINY, "--set", "membership.leave_rate=0.2"),
                ("run", NO_PROGRAMME, "--seed", "5", *TINY)]
    procs = [cli(*c, wait=False, cwd=tmp_path) for c in commands]  # default folders and database
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    recorded = rows(tmp_path / "results" / "results.db")
    assert len(recorded) == 3 and {r[2] for r in recorded} == {5} and {r[4] for r in recorded} == {"done"}
    assert sorted(r[1] for r in recorded) == ["classroom", "classroom", "no_clusters_green_platform_or_fdi"]
    for run_id, scenario, _, out_dir, _ in recorded:
        assert RUN_ID.match(run_id) and len(run_id) <= 64
        assert Path(tmp_path / out_dir) == tmp_path / "results" / scenario / run_id
        assert (tmp_path / out_dir / "yearly.csv").is_file() and (tmp_path / out_dir / "summary.json").is_file()
    runs = [p for p in (tmp_path / "results").glob("*/*") if p.is_dir()]
    assert len(runs) == 3 and not list(tmp_path.rglob("*.partial"))
    # each classroom folder holds its own run (one with the changed leave rate): neither overwrote the other
    tomls = [(p / "scenario.toml").read_text() for p in (tmp_path / "results" / "classroom").iterdir()]
    assert sorted("leave_rate = 0.2\n" in t for t in tomls) == [False, True]


@pytest.mark.parametrize("seed", ["-1", str(2**63), "five"])
def test_a_seed_out_of_range_is_refused_before_the_run(tmp_path, monkeypatch, capsys, seed):
    monkeypatch.chdir(tmp_path)
    line = one_line(in_process(capsys, "run", CLASSROOM, "--seed", seed), 2)
    assert line.startswith("error: --seed: must be an integer from 0 to 9223372036854775807, got ")
    assert not (tmp_path / "results").exists()


def test_a_name_the_database_rejects_is_refused_before_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    done = in_process(capsys, "run", CLASSROOM, *TINY, "--set", f"scenario.name={'n' * 250}")
    line = one_line(done, 2)  # the schema (at most 100) or the store's check (at most 200) refuses it
    assert "scenario" in line and "name" in line and "at most" in line and "characters" in line
    assert folders(tmp_path) == [] and rows(tmp_path / "results" / "results.db") == []


def test_out_below_a_file_too_long_or_not_empty_is_refused_before_the_run(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    db = ["--db", f"sqlite:///{tmp_path / 'r.db'}"]
    cases = {str(tmp_path / "afile" / "run"): "afile is a file, not a folder",
             str(tmp_path / ("x" * 300)): "File name too long",
             str(tmp_path / "full"): "exists and is not empty"}
    for out, message in cases.items():
        line = one_line(in_process(capsys, "run", CLASSROOM, *TINY, "--out", out, *db), 2)
        assert line.startswith(f"error: {out[:60]}") and message in line
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine" and not list(tmp_path.rglob("*.partial"))
    assert rows(tmp_path / "r.db") == []


def test_out_that_cannot_be_written_fails_before_the_run_with_exit_1(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    # Root writes anywhere: an immutable folder refuses even root; without that capability, /sys.
    immutable = subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode == 0
    out = locked / "run" if immutable else Path("/sys/nic-sim-test/run")
    try:
        args = ("run", CLASSROOM, *TINY, "--out", str(out), "--db", f"sqlite:///{tmp_path / 'r.db'}")
        line = one_line(in_process(capsys, *args), 1)
        assert line.startswith(f"error: {out}: cannot create the run folder:")
    finally:
        subprocess.run(["chattr", "-i", str(locked)], capture_output=True)
    assert not out.exists() and rows(tmp_path / "r.db") == []


def test_a_folder_removed_during_the_run_gives_one_line_and_no_row(tmp_path):
    outer, db = tmp_path / "outer", tmp_path / "r.db"
    out, partial = outer / "run", outer / "run.partial"
    proc = cli("run", CLASSROOM, *TINY, "--out", str(out), "--db", f"sqlite:///{db}", wait=False)
    wait_for(partial.exists)
    shutil.rmtree(outer)  # removed while the model runs, and a file put where it was: it cannot come back
    outer.write_text("in the way")
    _, err = proc.communicate(timeout=120)
    line = one_line((proc.returncode, err), 1)
    assert line.startswith(f"error: {partial}: cannot write the run's files: ") and line.endswith("nothing was kept")
    assert outer.read_text() == "in the way" and rows(db) == []


def _file_size_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write beyond the limit fails (EFBIG) instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_full_disk_gives_one_line_exit_1_and_leaves_nothing(tmp_path):
    db = tmp_path / "r.db"
    store.engine_for(f"sqlite:///{db}").dispose()  # the database exists; the run folder's files hit the limit
    out = tmp_path / "run"
    command = [sys.executable, str(ROOT / "run.py"), "run", CLASSROOM, *TINY, "--out", str(out), "--db", f"sqlite:///{db}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          preexec_fn=_file_size_limit(60_000))  # firms.parquet is ~90 kB
    line = one_line(done, 1)
    assert "File too large" in line and f"{out}.partial" in line
    assert not out.exists() and not (tmp_path / "run.partial").exists() and rows(db) == []


def test_a_locked_database_makes_the_run_wait_then_succeed(tmp_path):
    db, out = tmp_path / "r.db", tmp_path / "run"
    store.engine_for(f"sqlite:///{db}").dispose()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO runs (run_id, scenario, seed, status) VALUES ('other', 'x', 1, 'done')")
    proc = cli("run", CLASSROOM, *TINY, "--out", str(out), "--db", f"sqlite:///{db}", wait=False)
    time.sleep(6)  # the run starts and waits for the lock before its work (the default timeout was 5 s)
    assert proc.poll() is None and not (tmp_path / "run.partial").exists()
    holder.execute("COMMIT")
    holder.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    recorded = rows(db)
    assert [r[1] for r in recorded].count("classroom") == 1 and len(recorded) == 2
    assert (out / "yearly.csv").is_file()


def test_a_read_only_database_is_refused_before_the_run(tmp_path, capsys):
    db, out = tmp_path / "r.db", tmp_path / "run"
    store.engine_for(f"sqlite:///{db}").dispose()
    url = f"sqlite:///file:{db}?mode=ro&uri=true"
    line = one_line(in_process(capsys, "run", CLASSROOM, *TINY, "--out", str(out), "--db", url), 1)
    assert "cannot write results database: attempt to write a readonly database" in line
    assert not out.exists() and not (tmp_path / "run.partial").exists()


def test_a_damaged_database_is_refused_before_the_run_and_left_as_it_was(tmp_path, capsys):
    db, out = tmp_path / "r.db", tmp_path / "run"
    garbage = bytes(range(256)) * 40
    db.write_bytes(garbage)
    line = one_line(in_process(capsys, "run", CLASSROOM, *TINY, "--out", str(out), "--db", f"sqlite:///{db}"), 1)
    assert line == f"error: --db sqlite:///{db}: cannot open results database: file is not a database"
    assert db.read_bytes() == garbage and not out.exists() and not (tmp_path / "run.partial").exists()


def test_a_bad_db_url_is_bad_input(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    line = one_line(in_process(capsys, "run", CLASSROOM, *TINY, "--db", "nosuchdb://x"), 2)
    assert line.startswith("error: --db nosuchdb://x: cannot open results database")
    assert folders(tmp_path) == []


def test_a_save_that_fails_after_the_work_keeps_the_folder_and_says_how_to_record_it(tmp_path):
    db, out = tmp_path / "r.db", tmp_path / "run"
    store.engine_for(f"sqlite:///{db}").dispose()
    proc = cli("run", CLASSROOM, *TINY, "--out", str(out), "--db", f"sqlite:///{db}", wait=False)
    wait_for((tmp_path / "run.partial").exists)
    for extra in ("", "-wal", "-shm"):  # the database is damaged while the run works
        Path(f"{db}{extra}").unlink(missing_ok=True)
    db.write_bytes(b"not a database" * 500)
    _, err = proc.communicate(timeout=120)
    line = one_line((proc.returncode, err), 1)
    assert "file is not a database" in line
    assert line.endswith(f"the run's files are complete in {out}/; record them with: "
                         f"python run.py record {out} --db 'sqlite:///{db}'")
    assert (out / "yearly.csv").is_file() and not (tmp_path / "run.partial").exists()
    db.unlink()
    done = cli("record", str(out), "--db", f"sqlite:///{db}")
    assert done.returncode == 0 and done.stdout.startswith(f"recorded run {out.name} (classroom, seed 0)"), done.stderr
    (run_id, scenario, seed, out_dir, status), = rows(db)
    assert (run_id, scenario, seed, out_dir, status) == ("run", "classroom", 0, str(out), "done")
    years = store.load_yearly(f"sqlite:///{db}")["year"].tolist()
    assert years == [2000, 2001, 2002, 2003]


def test_record_refuses_an_unfinished_folder(tmp_path, capsys):
    (tmp_path / "x.partial").mkdir()
    args = ("record", str(tmp_path / "x.partial"), "--db", f"sqlite:///{tmp_path / 'r.db'}")
    line = one_line(in_process(capsys, *args), 2)
    assert "an unfinished run folder" in line


def test_an_interrupted_run_leaves_no_folder_and_no_row(tmp_path):
    db, out = tmp_path / "r.db", tmp_path / "run"
    # The classroom's whole 2000-2030 at 2 % takes seconds, so the signal surely comes while it runs.
    longer = ["--set", "population.scale=0.02", "--quiet"]
    proc = cli("run", CLASSROOM, *longer, "--out", str(out), "--db", f"sqlite:///{db}", wait=False)
    wait_for((tmp_path / "run.partial").exists)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip() == "interrupted", err
    assert not out.exists() and not (tmp_path / "run.partial").exists() and rows(db) == []


def test_force_replaces_a_non_empty_out_and_report_ignores_a_partial_folder(tmp_path):
    folder = tmp_path / "classroom"
    out = folder / "20260101T000000-s0-00000000"
    out.mkdir(parents=True)
    (out / "old.txt").write_text("old")
    done = cli("run", CLASSROOM, *TINY, "--out", str(out), "--force", "--db", f"sqlite:///{tmp_path / 'r.db'}")
    assert done.returncode == 0, done.stderr
    assert not (out / "old.txt").exists() and (out / "yearly.csv").is_file()
    assert [p.name for p in folder.iterdir()] == [out.name]  # the replaced folder is gone
    # a killed run's .partial folder (a complete-looking copy) is not a run
    shutil.copytree(folder / "20260101T000000-s0-00000000", folder / "20260101T000001-s1-00000000.partial")
    runs = load_runs(folder)
    assert [r.name for r in runs.runs] == ["20260101T000000-s0-00000000"] and runs.seeds == [0]
    assert runs.summaries[0]["run_at"] == "2026-01-01 00:00:00 UTC"


FIRST_OPEN = """
import sys, time
from sim.cli.main import main
from sim.output import store
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
engine = store.engine_for(sys.argv[1])
store.check_writable(engine)
print(sorted(store.metadata_obj.tables) == sorted(__import__("sqlalchemy").inspect(engine).get_table_names()))
"""


def test_concurrent_first_opens_of_a_new_database_all_succeed(tmp_path):
    url = f"sqlite:///{tmp_path / 'new' / 'r.db'}"
    at = str(time.time() + 3)  # every process opens the new file at the same moment
    procs = [subprocess.Popen([sys.executable, "-c", FIRST_OPEN, url, at], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and out.strip() == "True", err
    with sqlite3.connect(tmp_path / "new" / "r.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_the_busy_timeout_and_wal_apply_to_every_sqlite_engine(tmp_path):
    engine = store.engine_for(f"sqlite:///{tmp_path / 'r.db'}")
    with engine.connect() as conn:
        timeout = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    engine.dispose()
    assert (timeout, mode) == (store.SQLITE_BUSY_TIMEOUT_MS, "wal") and timeout >= 120_000


def test_retry_tries_a_lost_race_again_and_raises_anything_else():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise store.StoreError("table runs already exists")
        return "ok"

    assert store.retry(flaky) == "ok" and len(calls) == 3
    with pytest.raises(store.StoreError, match="no such table"):
        store.retry(lambda: (_ for _ in ()).throw(store.StoreError("no such table: x")))


@pytest.mark.parametrize(("change", "problem"), [
    ({"scenario": "s" * 201}, "201 characters, at most 200"),
    ({"scenario": "a\x00b"}, "holds a NUL character"),
    ({"seed": 2**63}, f"seed {2**63}: must be 0-{2**63 - 1}"),
])
def test_rows_the_database_would_reject_are_named(change, problem):
    args = {"scenario": "classroom", "seed": 1} | change
    assert [p for p in store.row_problems(**args) if problem in p]
    assert store.row_problems("classroom", 2**63 - 1, "20260101T000000-s1-00000000", ["NCE Heat"]) == []




@pytest.mark.parametrize(("args", "message"), [
    (["--workers", "0"], "error: argument --workers: must be a whole number 1-"),
    (["--workers", "-1"], "error: argument --workers: must be a whole number 1-"),
    (["--workers", str(4 * (os.cpu_count() or 1) + 1)], "error: argument --workers: must be a whole number 1-"),
    (["--since", "1990"], "error: --since: must be a year both scenarios simulate, 2000-2003, got 1990"),
    ([], "error: --since (default: programme.history_until + 1): must be a year both scenarios simulate, "
         "2000-2003, got 2022"),
    (["--since", "2001", "--out", "afile/cmp"], "error: afile/cmp: cannot create the run folder: afile is a file"),
])
def test_compare_checks_its_arguments_before_the_work(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    tiny = ["--set", "population.scale=0.005", "--set", "scenario.end_year=2003"]
    line = one_line(in_process(capsys, "compare", CLASSROOM, NO_PROGRAMME, "--seeds", "2", *tiny, *args), 2)
    assert line.startswith(message)
    assert not (tmp_path / "results").exists()
