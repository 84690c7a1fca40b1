"""The files of a run folder: column contracts, determinism, compact parquet, plots."""

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim.observe.columns import CLUSTER_COLUMNS, FIRM_COLUMNS, YEARLY_COLUMNS
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
                "innovated": k == 1, "alive": not (firm_id == 4 and year == 2003),
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


def make_result(firms: bool = True) -> RunResult:
    return RunResult(
        scenario_name="baseline_2021",
        seed=7,
        yearly=_yearly(),
        firms=_firms() if firms else None,
        clusters=_clusters(),
        summary={"scenario": "baseline_2021", "seed": np.int64(7), "gap_pp": float("nan")},
        scenario_toml='[meta]\nname = "baseline_2021"\n',
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
    assert list(pd.read_parquet(run_dir / "firms.parquet").columns) == list(FIRM_COLUMNS)


def test_write_outputs_returns_every_file_it_wrote(written, run_dir):
    names = {p.name for p in written}
    assert names == {
        "yearly.csv", "clusters.csv", "firms.parquet", "summary.json", "scenario.toml",
        "clusters_by_level.png", "economy.png", "member_growth.png",
    }  # fmt: skip
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(names)


def test_without_firm_panel_parquet_and_growth_plot_are_skipped(tmp_path):
    names = {p.name for p in write_outputs(make_result(firms=False), tmp_path)}
    assert "firms.parquet" not in names and "member_growth.png" not in names
    assert "yearly.csv" in names and "economy.png" in names


def test_plots_can_be_switched_off(tmp_path):
    written = write_outputs(make_result(), tmp_path, with_plots=False)
    assert [p.suffix for p in written] == [".csv", ".csv", ".parquet", ".json", ".toml"]
    assert not list(tmp_path.glob("*.png"))


def test_same_result_gives_byte_identical_csv_files(run_dir, tmp_path):
    write_outputs(make_result(), tmp_path, with_plots=False)
    for name in ("yearly.csv", "clusters.csv", "summary.json"):
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
    assert len(images) == 3
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
