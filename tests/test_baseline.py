"""The committed numeric baseline: a small classroom run still gives the numbers kept in tests/baseline/.

The run, the files and how they are written are those of ``scripts/baseline.py`` (``make baseline``),
so the test and the script agree on what the baseline is. See docs/baseline.md.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("baseline_script", ROOT / "scripts" / "baseline.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look up their module here
    spec.loader.exec_module(module)
    return module


baseline = _script()

# Integer columns and figures (firms, members, clusters, ties, exits, members measured, ...) must be
# equal. Floats must agree to 1e-9 of the largest value of their column (of the figure itself in
# headline.json), not bit for bit: the engine is deterministic for a seed on one machine, but its
# numba kernels are compiled for the host CPU with fastmath (contract = fused multiply-add, afn =
# approximate functions), so another CPU may round the last digits differently. Compiled for a
# generic x86-64 (NUMBA_CPU_NAME=generic: no FMA, no AVX) this run's counts and effect figures are
# unchanged and its floats differ by at most 1e-12 of their column: most by 2e-14 of themselves,
# treatment_jobs (employment minus the twin's, two totals of ~2 million) by their last digit, which
# is 2e-10 of a small value such as 2.8 jobs in 2010, hence the column's scale. 1e-9 leaves a
# thousandfold margin and is far below what a model edit moves. A CPU difference that flips a
# discrete choice (a firm joins or not) changes counts and fails: the baseline is this machine's.
RTOL = 1e-9

HINT = ("If the change is meant to move the numbers, run `make baseline` and say why in the commit message; "
        "if not, it moved numbers it should not have.")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """The committed baseline and a rerun of its run, written and read back the same way."""
    committed = baseline.load(baseline.BASELINE)
    assert committed is not None, f"{baseline.BASELINE} lacks files. {HINT}"
    folder = tmp_path_factory.mktemp("baseline")
    baseline.write(baseline.compute(committed.run), folder)
    return committed, baseline.load(folder)


def _failure(lines: list[str]) -> str:
    values = "1 value differs" if len(lines) == 1 else f"{len(lines)} values differ"
    head = f"{values} from the committed baseline in tests/baseline/ (tolerance {RTOL:g}):"
    return "\n".join([head, *baseline.report(lines), HINT])


def _check(lines: list[str]) -> None:
    if lines:
        pytest.fail(_failure(lines), pytrace=False)


def test_classroom_run_matches_the_committed_baseline(runs: tuple) -> None:
    committed, rerun = runs
    _check(baseline.differences(committed, rerun, RTOL)["yearly.csv"])


def test_effect_figures_match_the_committed_baseline(runs: tuple) -> None:
    committed, rerun = runs
    changes = baseline.differences(committed, rerun, RTOL)
    _check(changes["effects.csv"] + changes["headline.json"])


def test_the_baseline_is_of_the_run_the_script_writes() -> None:
    committed = baseline.load(baseline.BASELINE)
    assert committed is not None and committed.run == baseline.RUN, (
        f"tests/baseline/headline.json is of the run {committed and committed.run}, scripts/baseline.py "
        f"defines {baseline.RUN}. {HINT}")


def test_the_baseline_holds_defined_effect_figures() -> None:
    effects = baseline.load(baseline.BASELINE).tables["effects.csv"]
    assert set(effects["estimator"]) == {"matched_did", "true_effect"}
    assert (effects["n_treated"] > 0).all()
    assert all(math.isfinite(v) for v in effects[["gap_pp", "ci_low", "ci_high"]].to_numpy().ravel())


def test_a_moved_number_is_reported_by_file_column_and_year() -> None:
    committed = baseline.load(baseline.BASELINE)
    moved = baseline.load(baseline.BASELINE)
    yearly = moved.tables["yearly.csv"]
    row = yearly.index[yearly["year"] == 2015][0]
    yearly.loc[row, "employment"] *= 1 + 1e-6
    yearly.loc[row, "members"] += 1
    members = moved.headline["effect_members"]
    moved.headline["effect_members"] += 1
    lines = baseline.differences(committed, moved, RTOL)
    assert [line.split(":")[:2] for line in lines["yearly.csv"]] == [
        ["yearly.csv", " members in year=2015"], ["yearly.csv", " employment in year=2015"]]
    assert "relative difference 1.00e-06" in lines["yearly.csv"][1]
    assert lines["headline.json"][0].startswith(f"headline.json: effect_members: baseline {members}, now {members + 1}")
    assert "make baseline" in _failure(lines["yearly.csv"])


def test_last_digit_rounding_is_within_the_tolerance() -> None:
    committed = baseline.load(baseline.BASELINE)
    rounded = baseline.load(baseline.BASELINE)
    rounded.tables["yearly.csv"]["employment"] *= 1 + 1e-13
    rounded.headline = {k: v * (1 + 1e-13) if isinstance(v, float) else v for k, v in rounded.headline.items()}
    assert not any(baseline.differences(committed, rounded, RTOL).values())
    assert baseline.differences(committed, rounded, 0.0)["yearly.csv"]  # the script lists every change
