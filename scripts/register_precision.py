"""How precisely a study on Norway's full register would measure each headline moment.

The value of information (:mod:`sim.calibration.information`) needs, for each moment of
:data:`sim.observe.moments.MOMENTS`, the standard error with which Statistics Norway would observe it.
This script runs the committed baseline at full scale (every firm of the register: what a register
study sees) on seeds 0..N-1, with the calibration's years (to 2025, so the open calls and the ended
clusters are those the calibration's runs see), the published bootstrap and no twin world (the
moments do not need it), and reports per moment:

- ``seed_sd``: the standard deviation of the moment between seeds: how much the figure a register
  study publishes varies between realisations of the same economy, the estimator's own sampling
  error included. This is the register precision :data:`sim.calibration.information.REGISTER_SD`
  holds.
- ``own_se``: the mean over seeds of the standard error the estimator itself reports, where it
  reports one: the analytic errors of the staggered DiD and of the discontinuity, the bootstrap's
  percentile interval / (2 x 1.96) for the others (for a mean over years, as if the years were
  independent). NaN for the entry profile, which reports no error.

Usage::

    .venv/bin/python scripts/register_precision.py --seeds 20 --out /tmp/precision   # ~7 s a seed
    .venv/bin/python scripts/register_precision.py --from /tmp/precision            # summarise again
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import sim
from sim.observe.moments import AFTER_YEARS, BEFORE_YEARS, LEAD_YEARS, MOMENTS, moments

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "baseline_2021.toml"
OVERRIDES = {"scenario.end_year": 2025, "output.firm_panel": False, "measurement.twin": False}
Z = 1.959963984540054  # the bootstrap's 95 % percentile interval, read as a normal one


def run_seeds(seeds: int, out: Path) -> None:
    """Run the baseline at full scale on seeds 0..seeds-1 and write each run's effect tables to ``out/seed<k>/``."""
    scenario = sim.load_scenario(SCENARIO, overrides=OVERRIDES)
    for seed in range(seeds):
        folder = out / f"seed{seed}"
        if (folder / "effects.csv").is_file():
            continue  # a seed already run (the script can be stopped and run again)
        result = sim.run(scenario, seed=seed)
        folder.mkdir(parents=True, exist_ok=True)
        for stem, table in result.effect_tables.items():
            table.to_csv(folder / f"{stem}.csv", index=False)
        print(f"seed {seed}: {result.summary['wall_time_s']:.1f} s", file=sys.stderr)


def own_se(tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """The standard error each moment's estimator reports in one run (NaN where it reports none)."""

    def half(table: pd.DataFrame, **where: object) -> float:
        rows = table.loc[np.logical_and.reduce([table[k] == v for k, v in where.items()])]
        return float((rows["ci_high"] - rows["ci_low"]).iloc[0] / (2 * Z)) if len(rows) == 1 else math.nan

    def mean_se(errors: list[float]) -> float:
        return math.sqrt(sum(e**2 for e in errors)) / len(errors)

    by_year, ties = tables["effects_by_year"], tables["collaboration_gap"]
    att = tables["staggered_did"].query("metric == 'value_added' and term == 'att'")
    jump = tables["call_discontinuity"].query(
        "metric == 'value_added' and estimator == 'local_linear' and period == 'after'")
    out = dict.fromkeys(MOMENTS, math.nan)
    out["lead_gap_value_added_pp"] = mean_se([half(by_year, metric="value_added", estimator="matched_did",
                                                   years_since_joining=k) for k in LEAD_YEARS])
    out["staggered_value_added_pp"] = float(att["std_error"].iloc[0])
    for variable, key, scale in (("ties", "collaboration_gap_change_ties", 1.0),
                                 ("institution_tie", "collaboration_gap_change_institution_tie_pp", 100.0)):
        before = mean_se([half(ties, variable=variable, years_since_joining=k) for k in BEFORE_YEARS])
        after = mean_se([half(ties, variable=variable, years_since_joining=k) for k in AFTER_YEARS])
        out[key] = scale * math.hypot(before, after)
    out["funding_end_value_added_pp"] = half(tables["funding_end"], metric="value_added", period="after")
    out["discontinuity_value_added_pp"] = float(jump["std_error"].iloc[0])
    return out


def summarise(folder: Path) -> pd.DataFrame:
    """Per moment: seeds, mean, seed-to-seed sd and the estimator's own mean standard error."""
    values, errors = [], []
    for seed_dir in sorted(folder.glob("seed*")):
        tables = {path.stem: pd.read_csv(path) for path in seed_dir.glob("*.csv")}
        values.append(moments(tables))
        errors.append(own_se(tables))
    values, errors = pd.DataFrame(values), pd.DataFrame(errors)
    return pd.DataFrame({"moment": list(MOMENTS), "seeds": values.count().to_numpy(),
                         "mean": values.mean().to_numpy(), "seed_sd": values.std(ddof=1).to_numpy(),
                         "own_se": errors.mean().to_numpy()})


def main(argv: list[str] | None = None) -> int:
    """Run the seeds (unless ``--from``) and print the summary as CSV.

    Args:
        argv: Command-line arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status, 0.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 (default 20)")
    parser.add_argument("--out", type=Path, help="folder for the runs' effect tables (default a new temporary one)")
    parser.add_argument("--from", dest="source", type=Path, help="summarise the tables of an earlier --out")
    args = parser.parse_args(argv)
    folder = args.source
    if folder is None:
        import tempfile

        folder = args.out or Path(tempfile.mkdtemp(prefix="register_precision-"))
        run_seeds(args.seeds, folder)
    print(summarise(folder).to_csv(index=False, float_format="%.4g"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
