"""The results database: what a saved run reads back as, replacement, atomicity, bad URLs."""

import json
import os
from datetime import UTC, datetime
from importlib import metadata

import pandas as pd
import pytest

from sim.observe.columns import CLUSTER_COLUMNS, YEARLY_COLUMNS
from sim.output import store
from sim.output.result import RunResult
from sim.output.store import StoreError, load_clusters, load_runs, load_yearly, save_run


def make_result(scale: float = 1.0, seed: int = 3) -> RunResult:
    """Three years, two clusters; ``scale`` changes the economic figures between saves."""
    yearly = pd.DataFrame({c: [i, i + 1, i + 2] for i, c in enumerate(YEARLY_COLUMNS)})
    yearly["year"] = [2001, 2002, 2003]
    yearly["employment"] = [1200.5 * scale, 1250.25 * scale, 1300.0 * scale]
    yearly["value_added_nok"] = [0.1 + 0.2, 9.87654321e11 * scale, float("nan")]
    yearly["model_extra"] = 1.0  # beyond the contract: stored in files only
    clusters = pd.DataFrame({
        "cluster_id": [1, 1, 2], "name": ["Arena Blue", "Arena Blue", "NCE Heat"],
        "year": [2002, 2003, 2003], "region": ["Vestland", "Vestland", "Viken"],
        "sector": "maritime", "level": ["arena", "arena", "nce"], "members": [12, 15, 30],
        "budget_nok": [2.5e6 * scale, 2.75e6 * scale, 8.0e6],
    })  # fmt: skip
    summary = {"scenario": "baseline_2021", "seed": seed, "members": 57}
    return RunResult("baseline_2021", seed, yearly, None, clusters, summary, "")


# Set to a scratch PostgreSQL database to run every test on it too; its tables are dropped.
POSTGRES_URL = os.environ.get("NIC_SIM_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"])
def db(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sub' / 'results.db'}"  # 'sub' does not exist yet
        return
    engine = store.engine_for(POSTGRES_URL)
    store.metadata_obj.drop_all(engine)
    yield POSTGRES_URL
    store.metadata_obj.drop_all(engine)
    engine.dispose()


def test_saved_yearly_rows_read_back_with_the_same_numbers(db, tmp_path):
    result = make_result()
    save_run(result, "run-a", tmp_path / "run-a", db, wall_time_s=1.5)
    back = load_yearly(db)
    assert list(back.columns) == ["run_id", *YEARLY_COLUMNS]
    assert back["run_id"].tolist() == ["run-a"] * 3
    expected = result.yearly[list(YEARLY_COLUMNS)]
    pd.testing.assert_frame_equal(back.drop(columns="run_id"), expected, check_dtype=False)
    assert back["value_added_nok"].iloc[1] == 9.87654321e11  # floats are stored exactly


def test_saved_cluster_rows_read_back_with_the_same_values(db, tmp_path):
    result = make_result()
    save_run(result, "run-a", tmp_path, db)
    back = load_clusters(db)
    assert list(back.columns) == ["run_id", *CLUSTER_COLUMNS]
    pd.testing.assert_frame_equal(
        back.drop(columns="run_id"), result.clusters, check_dtype=False
    )


def test_runs_row_records_identity_timing_and_summary(db, tmp_path):
    started = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    save_run(make_result(seed=42), "run-a", tmp_path / "x", db, 2.25, started_at=started)
    row = load_runs(db).iloc[0]
    assert (row.run_id, row.scenario, row.seed) == ("run-a", "baseline_2021", 42)
    assert row.status == "done"
    assert (row.wall_time_s, row.out_dir) == (2.25, str(tmp_path / "x"))
    assert row.started_at == pd.Timestamp("2025-03-01 12:00", tz="UTC")
    assert row.package_version == metadata.version("nic-sim")
    assert json.loads(row.summary_json) == {"members": 57, "scenario": "baseline_2021", "seed": 42}


def test_resaving_a_run_replaces_its_rows_instead_of_duplicating(db, tmp_path):
    save_run(make_result(scale=1.0), "run-a", tmp_path, db)
    save_run(make_result(scale=2.0), "run-a", tmp_path, db)
    assert len(load_runs(db)) == 1
    yearly, clusters = load_yearly(db), load_clusters(db)
    assert yearly["employment"].tolist() == [2401.0, 2500.5, 2600.0]
    assert clusters["budget_nok"].tolist() == [5.0e6, 5.5e6, 8.0e6]


def test_runs_are_kept_apart_and_loaded_by_id(db, tmp_path):
    save_run(make_result(scale=1.0), "run-a", tmp_path, db)
    save_run(make_result(scale=2.0), "run-b", tmp_path, db)
    assert sorted(load_runs(db)["run_id"]) == ["run-a", "run-b"]
    only_b = load_yearly(db, run_ids=["run-b"])
    assert only_b["employment"].tolist() == [2401.0, 2500.5, 2600.0]
    assert len(load_yearly(db)) == 6


def test_failed_save_leaves_the_previous_rows_untouched(db, tmp_path):
    save_run(make_result(scale=1.0), "run-a", tmp_path, db)
    broken = make_result(scale=2.0)
    broken.clusters = pd.concat([broken.clusters, broken.clusters.tail(1)])  # duplicate key
    with pytest.raises(StoreError, match="cannot save run run-a"):
        save_run(broken, "run-a", tmp_path, db)
    assert load_yearly(db)["employment"].tolist() == [1200.5, 1250.25, 1300.0]
    assert len(load_clusters(db)) == 3


def test_run_id_is_bound_as_a_parameter_never_spliced_into_sql(db, tmp_path):
    run_id = "x'); DROP TABLE runs; --"
    save_run(make_result(), run_id, tmp_path, db)
    assert load_runs(db)["run_id"].tolist() == [run_id]


def test_default_database_is_created_under_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_run(make_result(), "run-a", tmp_path)
    assert (tmp_path / "results" / "results.db").is_file()
    assert load_runs()["run_id"].tolist() == ["run-a"]


def test_an_engine_can_be_shared_across_saves(db, tmp_path):
    engine = store.engine_for(db)
    for k in range(3):
        save_run(make_result(), f"run-{k}", tmp_path, engine)
    assert len(load_yearly(engine)) == 9
    engine.dispose()


@pytest.mark.parametrize(
    "url, message",
    [
        ("not a url", "not a database URL"),
        ("nosuchdb://host/db", "cannot open results database"),
        # psycopg 3 is the driver: "not installed" without it, "connection refused" with it.
        ("postgresql://user@127.0.0.1:1/results", r"^postgresql\+psycopg://user@127\.0\.0\.1:1/"),
    ],
)
def test_unusable_url_raises_store_error_with_one_line(url, message):
    with pytest.raises(StoreError, match=message) as error:
        load_runs(url)
    assert "\n" not in str(error.value)


def test_unwritable_sqlite_file_raises_store_error(tmp_path):
    # A directory where the database file should be: SQLite cannot open it.
    with pytest.raises(StoreError, match="cannot open results database") as error:
        save_run(make_result(), "run-a", tmp_path, f"sqlite:///{tmp_path}")
    assert "\n" not in str(error.value)


def test_password_is_hidden_in_error_messages():
    with pytest.raises(StoreError) as error:
        load_runs("postgresql://user:secret@127.0.0.1:1/results")
    assert "secret" not in str(error.value)
