"""The files of a run folder: column contracts, determinism, compact parquet, plots."""

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import sim
from sim.observe.columns import (
    CLUSTER_COLUMNS,
    CLUSTER_YEARLY_COLUMNS,
    DYNAMICS_COLUMNS,
    FIRM_COLUMNS,
    REGION_YEARLY_COLUMNS,
    YEARLY_COLUMNS,
)
from sim.observe.dynamics import firm_dynamics
from sim.output import plots
from sim.output.result import (
    RunResult,
    summary_json,
    write_outputs,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
YEARS = [2001, 2002, 2003]


def _yearly() -> pd.DataFrame:
    table = pd.DataFrame({c: [10 * i + k for k in range(3)] for i, c in enumerate(YEARLY_COLUMNS)})
    table["year"] = YEARS
    table["employment"] = [43.0, 41.0, 38.1]
    table["value_added_nok"] = [430e6, 390e6, 361e6]
    table["revenue_nok"] = [6596885225236.47, 7e12, 7.1e12]  # full-scale Norway
    table["programme_spend_nok"] = [0.1 + 0.2, 1234567.891, 2.5e9]
    table["mean_productivity"] = [1.0, 1.1, 1.2]  # a model column beyond the contract
    # Deliberately out of contract order: RunResult must put the contract first.
    return table[["mean_productivity", *reversed(YEARLY_COLUMNS)]]


def _firms() -> pd.DataFrame:
    """Four firms: two members (from 2002 and 2001), two non-members, one closing in 2003."""
    rows = []
    series = {
        1: ([10, 11, 12.1], [100, 110, 121], [False, True, True], 1, 2002),
        2: ([20, 20, 20], [200, 180, 180], [False] * 3, -1, -1),
        3: ([5, 6, 6], [50, 60, 60], [True] * 3, 2, 2001),
        4: ([8, 4, 0], [80, 40, 0], [False] * 3, -1, -1),
    }
    for firm_id, (employees, value, member, cluster, joined) in series.items():
        for k, year in enumerate(YEARS):
            rows.append({
                "firm_id": firm_id, "year": year, "region": "Vestland", "sector": "maritime",
                "member": member[k], "cluster_id": cluster if member[k] else -1,
                "join_year": joined if member[k] else -1, "employees": float(employees[k]),
                "revenue_nok": 2.0 * value[k] * 1e3, "value_added_nok": value[k] * 1e3,
                "innovated": k == 1, "alive": not (firm_id == 4 and year == 2003), "birth_year": 1990 + firm_id,
            })  # fmt: skip
    firms = pd.DataFrame(rows)
    firms.loc[firms["firm_id"] == 2, ["region", "sector"]] = ["Oslo", "ict_fintech"]
    return firms


def _clusters() -> pd.DataFrame:
    return pd.DataFrame({
        "cluster_id": [2, 1, 2, 1, 2],
        "name": ["NCE Maritime", "Arena Blue", "NCE Maritime", "Arena Blue", "NCE Maritime"],
        "year": [2001, 2002, 2002, 2003, 2003], "region": "Vestland", "sector": "maritime",
        "level": ["nce", "arena", "nce", "arena", "gce"], "members": [1, 1, 1, 1, 1],
        "budget_nok": [1.5e6, 0.1 + 0.2, 2.25e6, 1.0e6 / 3, 9.0e6],
    })  # fmt: skip


def _clusters_yearly() -> pd.DataFrame:
    table = _clusters().drop(columns="budget_nok")
    return table.assign(member_employment=[5.0, 11.0, 6.0, 12.1, 6.0], member_value_added_nok=1e5,
                        member_revenue_nok=2e5, member_innovations=[0, 1, 1, 0, 0], member_ties=[0, 1, 1, 2, 2],
                        internal_ties=0, institution_ties=[0, 0, 1, 1, 1])


def _regions_yearly() -> pd.DataFrame:
    return pd.DataFrame({
        "region": ["Oslo", "Vestland"] * 3, "year": np.repeat(YEARS, 2), "firms": [1, 3, 1, 3, 1, 2],
        "members": [0, 1, 0, 2, 0, 2], "employment": [20.0, 23.0, 20.0, 21.0, 20.0, 18.1],
        "value_added_nok": [2e5, 2.3e5, 1.8e5, 2.1e5, 1.8e5, 1.81e5], "startups": 0, "exits": [0, 0, 0, 0, 0, 1],
    })  # fmt: skip


def make_result(firms: bool = True) -> RunResult:
    return RunResult(
        scenario_name="baseline_2021",
        seed=7,
        yearly=_yearly(),
        firms=_firms() if firms else None,
        clusters=_clusters(),
        summary={"scenario": "baseline_2021", "seed": np.int64(7), "gap_pp": float("nan")},
        scenario_toml='[meta]\nname = "baseline_2021"\n',
        clusters_yearly=_clusters_yearly(),
        regions_yearly=_regions_yearly(),
        firm_dynamics=firm_dynamics(_firms()) if firms else None,
        history_until=2002,
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Paths written for one run folder, shared by the read-only tests (plots take ~1 s)."""
    return write_outputs(make_result(), tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def run_dir(written):
    return written[0].parent


def test_files_have_contract_columns_first_and_extras_after(run_dir):
    yearly = pd.read_csv(run_dir / "yearly.csv")
    assert list(yearly.columns) == [*YEARLY_COLUMNS, "mean_productivity"]
    assert list(yearly["employment"]) == [43.0, 41.0, 38.1]
    assert list(pd.read_csv(run_dir / "clusters.csv").columns) == list(CLUSTER_COLUMNS)
    assert list(pd.read_parquet(run_dir / "firms.parquet").columns) == [*FIRM_COLUMNS, "birth_year"]


def test_write_outputs_returns_every_file_it_wrote(written, run_dir):
    names = {p.name for p in written}
    assert names == {
        "yearly.csv", "clusters.csv", "firms.parquet", "summary.json", "scenario.toml", "clusters_yearly.csv",
        "regions_yearly.csv", "firm_dynamics.csv", "clusters_by_level.png", "economy.png", "member_growth.png",
        "firm_dynamics.png",
    }  # fmt: skip
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(names)


def test_without_firm_panel_parquet_dynamics_and_growth_plot_are_skipped(tmp_path):
    names = {p.name for p in write_outputs(make_result(firms=False), tmp_path)}
    assert not names & {"firms.parquet", "member_growth.png", "firm_dynamics.csv", "firm_dynamics.png"}
    assert {"yearly.csv", "economy.png", "clusters_yearly.csv", "regions_yearly.csv"} <= names


def test_plots_can_be_switched_off(tmp_path):
    written = write_outputs(make_result(), tmp_path, with_plots=False)
    assert [p.name for p in written] == ["yearly.csv", "clusters.csv", "firms.parquet", "summary.json",
                                         "scenario.toml", "clusters_yearly.csv", "regions_yearly.csv",
                                         "firm_dynamics.csv"]
    assert not list(tmp_path.glob("*.png"))


def test_same_result_gives_byte_identical_csv_files(run_dir, tmp_path):
    write_outputs(make_result(), tmp_path, with_plots=False)
    for name in ("yearly.csv", "clusters.csv", "summary.json", "clusters_yearly.csv", "regions_yearly.csv",
                 "firm_dynamics.csv"):
        assert (tmp_path / name).read_bytes() == (run_dir / name).read_bytes()


def test_csv_floats_are_fixed_format_with_lf_endings(run_dir):
    text = (run_dir / "clusters.csv").read_bytes()
    assert b"\r\n" not in text
    lines = text.decode().splitlines()
    assert lines[2] == "1,Arena Blue,2002,Vestland,maritime,arena,1,0.3"  # not 0.30000000000000004
    assert lines[4].endswith(",333333.333333333")
    yearly = (run_dir / "yearly.csv").read_text()
    assert ",1234567.891," in yearly and ",6596885225236.47," in yearly


def test_missing_contract_column_is_named_in_the_error():
    with pytest.raises(ValueError, match="yearly table lacks contract columns: ties, exits"):
        RunResult("s", 0, _yearly().drop(columns=["ties", "exits"]), None, _clusters(), {})


def test_parquet_round_trip_keeps_values_in_compact_types(run_dir):
    result = make_result()
    back = pd.read_parquet(run_dir / "firms.parquet")
    dtypes = back.dtypes.astype(str).to_dict()
    assert {dtypes[c] for c in ("firm_id", "year", "cluster_id", "join_year")} == {"int32"}
    assert {dtypes[c] for c in ("employees", "revenue_nok", "value_added_nok")} == {"float32"}
    assert {dtypes[c] for c in ("member", "innovated", "alive")} == {"bool"}
    assert {dtypes[c] for c in ("region", "sector")} == {"category"}
    pd.testing.assert_frame_equal(back, result.firms, check_dtype=False, check_categorical=False)
    assert pq.read_schema(run_dir / "firms.parquet").field("region").type.value_type in (
        "string", "large_string"
    )  # dictionary-encoded strings


def test_summary_json_is_sorted_strict_json(run_dir):
    text = (run_dir / "summary.json").read_text()
    assert text == summary_json({"seed": 7, "scenario": "baseline_2021", "gap_pp": None})
    assert json.loads(text) == {"gap_pp": None, "scenario": "baseline_2021", "seed": 7}
    assert text.index('"gap_pp"') < text.index('"scenario"') < text.index('"seed"')


def test_scenario_text_is_written_verbatim(run_dir):
    assert (run_dir / "scenario.toml").read_text() == '[meta]\nname = "baseline_2021"\n'


def test_plots_are_png_images_of_800_by_450_pixels(written):
    images = [path.read_bytes() for path in written if path.suffix == ".png"]
    assert len(images) == 4
    for data in images:
        assert data[:8] == PNG_SIGNATURE and len(data) > 5000
        width, height = int.from_bytes(data[16:20]), int.from_bytes(data[20:24])  # IHDR chunk
        assert (width, height) == (800, 450)


def test_member_growth_compares_members_with_non_members_year_by_year():
    growth = plots.member_growth(_firms()).set_index(["year", "member"])
    # 2002: members are firms 1 (+10 %) and 3 (+20 %); non-members 2 (0 %, VA -10 %) and 4 (-50 %).
    assert growth.loc[(2002, True)].tolist() == pytest.approx([15.0, 15.0])
    assert growth.loc[(2002, False)].tolist() == pytest.approx([-25.0, -30.0])
    # 2003: firm 4 has closed, so non-members are firm 2 alone.
    assert growth.loc[(2003, False)].tolist() == pytest.approx([0.0, 0.0])
    assert growth.loc[(2003, True)].tolist() == pytest.approx([5.0, 5.0])
    assert 2001 not in growth.index.get_level_values("year")  # no previous year to grow from


def test_member_growth_figure_draws_members_and_non_members_in_each_panel():
    fig = plots.member_growth_figure(plots.member_growth(_firms()))
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    assert [line.get_label() for line in fig.axes[0].lines] == ["Members", "Non-members"]


def test_clusters_by_level_figure_stacks_one_area_per_level():
    ax = plots.clusters_by_level_figure(make_result().yearly).axes[0]
    assert len(ax.collections) == 4
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["Arena", "Arena Pro", "NCE", "GCE"]


def test_economy_figure_shows_employment_and_value_added_in_readable_units():
    fig = plots.economy_figure(make_result().yearly)
    jobs, value = fig.axes
    assert jobs.lines[0].get_ydata().tolist() == pytest.approx([0.043, 0.041, 0.0381])
    assert value.lines[0].get_ydata().tolist() == pytest.approx([0.43, 0.39, 0.361])
    assert value.get_ylabel() == "Value added (billion NOK)"


def test_yearly_plots_mark_where_replayed_history_ends_and_the_projection_begins():
    yearly = make_result().yearly
    for fig in (plots.economy_figure(yearly, history_until=2002), plots.clusters_by_level_figure(yearly, 2002)):
        for ax in fig.axes:
            lines = [line for line in ax.lines if line.get_linestyle() == "--"]
            assert [line.get_xdata()[0] for line in lines] == [2002.5]
            assert [text.get_text().strip() for text in ax.texts] == ["projection"]


def test_no_projection_mark_when_the_run_ends_with_its_history():
    for ax in plots.economy_figure(make_result().yearly, history_until=2003).axes:
        assert not ax.texts and all(line.get_linestyle() != "--" for line in ax.lines)


def test_firm_dynamics_figure_sets_published_figures_beside_the_model():
    dynamics = make_result().firm_dynamics
    size, survival, age, rates = plots.firm_dynamics_figure(dynamics).axes
    assert [t.get_text() for t in size.get_xticklabels()] == ["0-4", "5-9", "10-19", "20-49", "50-99", "100-249",
                                                             "250+"]
    assert [line.get_label() for line in age.lines[:2]] == ["Exit rate (%)", "Mean growth (100 x log)"]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A real run at classroom size, written as a run folder (no plots)."""
    from tests.conftest import small

    result = sim.run(small(scale=0.01, end_year=2010), seed=0)
    folder = tmp_path_factory.mktemp("small_run")
    write_outputs(result, folder, with_plots=False)
    return result, folder


def test_a_run_folder_holds_the_cluster_region_and_dynamics_tables_with_contract_columns(small_run):
    _, folder = small_run
    contracts = {"clusters_yearly.csv": CLUSTER_YEARLY_COLUMNS, "regions_yearly.csv": REGION_YEARLY_COLUMNS,
                 "firm_dynamics.csv": DYNAMICS_COLUMNS}
    for name, columns in contracts.items():
        table = pd.read_csv(folder / name)
        assert list(table.columns) == list(columns), name
        assert len(table) > 0, name


def test_counties_add_up_to_the_yearly_totals(small_run):
    result, _ = small_run
    by_year = result.regions_yearly.groupby("year")[["firms", "members", "employment", "startups", "exits"]].sum()
    yearly = result.yearly.set_index("year")
    assert (by_year[["firms", "members", "startups", "exits"]] == yearly[["firms", "members", "startups", "exits"]]
            ).all().all()
    assert by_year["employment"].to_numpy() == pytest.approx(yearly["employment"].to_numpy())
    assert result.regions_yearly["region"].nunique() == 11  # Norway's counties since 2020


def test_clusters_members_add_up_to_the_yearly_members_and_their_employment(small_run):
    result, _ = small_run
    table = result.clusters_yearly
    assert table[["cluster_id", "year", "members"]].equals(result.clusters[["cluster_id", "year", "members"]])
    by_year = table.groupby("year")["member_employment"].sum()
    yearly = result.yearly.set_index("year").loc[by_year.index]
    assert by_year.to_numpy() == pytest.approx(yearly["member_employment"].to_numpy())
    assert (table["internal_ties"] <= table["member_ties"]).all()
    assert (table["member_innovations"] <= table["members"]).all()


def test_files_written_while_the_effects_are_measured_are_the_same_bytes(tmp_path):
    from conftest import small

    scenario = small(scale=0.03, end_year=2014, output={"firm_panel": True, "plots": True})
    here, early = tmp_path / "here", tmp_path / "early"
    write_outputs(sim.run(scenario, seed=1), here)
    early.mkdir()
    result = sim.run(scenario, seed=1, out=early)
    assert {path.name for path in result.written} == {"firms.parquet", "clusters_by_level.png", "economy.png",
                                                      "member_growth.png", "firm_dynamics.png"}
    write_outputs(result, tmp_path / "elsewhere")  # another folder gets every file
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == sorted(p.name for p in here.iterdir())
    write_outputs(result, early)
    names = sorted(p.name for p in here.iterdir())
    assert names == sorted(p.name for p in early.iterdir()) and "effects.png" in names
    for name in names:
        if name != "summary.json":
            assert (here / name).read_bytes() == (early / name).read_bytes(), name
    timings = ("wall_time_s", "phase_seconds")
    summaries = [{k: v for k, v in json.loads((d / "summary.json").read_text()).items() if k not in timings}
                 for d in (here, early)]
    assert summaries[0] == summaries[1]


def test_a_file_the_second_process_cannot_write_fails_the_run_as_if_written_here(tmp_path):
    import multiprocessing

    from conftest import small

    with pytest.raises(OSError, match="non-existent directory"):
        sim.run(small(scale=0.02, end_year=2004, output={"firm_panel": True}), seed=0, out=tmp_path / "gone")
    assert multiprocessing.active_children() == []
