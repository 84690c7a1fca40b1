"""Firm dynamics with the register-like mechanisms off and on, beside Statistics Norway's figures.

Runs one scenario (the classroom by default, at its 2 % scale) twice, once with the mechanisms of
firm dynamics (age, employment, value added apart from sales, displacement) switched off
(:data:`OFF`: the model as it was before them) and once at the values of :data:`REGISTER_LIKE`
(the schema's defaults), and prints for each:

- five-year survival of the firms born 2005-2012 (Statistics Norway: about 53 % of new employer
  enterprises, SSB-FORDEM-2012 and SSB-FORDEM-2015 in docs/sources.md);
- the exit rate by age (0-2, 3-5, over 5 years);
- mean man-year growth (log points) of survivors by age class (young survivors grow fastest:
  HALTIWANGER-2013);
- the correlation of a firm's man-year growth this year and next (near zero or negative: COAD-2007);
- the excess kurtosis of man-year growth rates, demeaned by year (normal 0, Laplace 3: BOTTAZZI-2006);
- the estimator's (matched difference-in-differences) value-added, sales and man-year gaps;
- the jobs membership made by 2021 (factual minus twin employment, net of what non-members lose).

Usage::

    .venv/bin/python scripts/firm_dynamics_check.py                 # classroom, seed 0
    .venv/bin/python scripts/firm_dynamics_check.py --set growth.hire_rate=0.3 --seeds 0 1 2

``--set`` overrides apply to the "on" run only, so values can be tried before they are fixed here.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import sim
from sim.observe.dynamics import firm_dynamics
from sim.scenario.overrides import parse_assignment

ROOT = Path(__file__).resolve().parent.parent

#: The mechanisms at register-like values (docs/ODD.md; each parameter's source in sim/scenario/behaviour.py).
REGISTER_LIKE: dict[str, Any] = {
    # age: infant mortality, start-ups that staff up, a few large start-ups
    "demography.exit_rate": 0.27,
    "demography.exit_age_elasticity": 0.5,
    "demography.startup_size_tail": 0.15,  # about 4 % start with 5 or more man-years (SSB-FORDEM-T6)
    "demography.startup_staffing": 0.6,
    "growth.young_growth": 0.05,
    "growth.young_growth_fade": 0.5,
    # employment: hires and quits of their own, lumpy adjustment
    "growth.employment_shock_sd": 0.25,
    "growth.adjustment_threshold": 0.2,
    # value added apart from sales: intermediate inputs move with productivity and scale
    "growth.va_productivity_elasticity": 0.3,
    "growth.va_scale_elasticity": -0.05,
    # displacement: half of members' extra sales are taken from non-members of their county and sector
    "growth.displacement": 0.5,
}

#: The same mechanisms switched off: the model before them.
OFF: dict[str, Any] = {
    "demography.exit_rate": 0.09,
    "demography.exit_age_elasticity": 0.0,
    "demography.startup_size_tail": 0.0,
    "demography.startup_staffing": 1.0,
    "growth.young_growth": 0.0,
    "growth.employment_shock_sd": 0.0,
    "growth.adjustment_threshold": 0.0,
    "growth.va_productivity_elasticity": 0.0,
    "growth.va_scale_elasticity": 0.0,
    "growth.displacement": 0.0,
}

#: Published benchmarks printed beside the figures.
BENCHMARKS = {
    "survival_5y": "about 53 % (SSB, employer enterprises of 2005; 54.6 % of 2008)",
    "growth_autocorrelation": "near 0 or negative (Coad 2007)",
    "growth_excess_kurtosis": "Laplace-like: about 3 (Bottazzi & Secchi 2006)",
    "va_gap_pp": "14.6 pp (sales 15.2 pp): they differ",
    "sales_gap_pp": "15.2 pp",
    "man_years_gap_pp": "5.8 pp",
}

AGE_CLASSES = (("0-2", 0, 2), ("3-5", 3, 5), (">5", 6, 10_000))


def run_figures(scenario: Path, overrides: dict[str, Any], seed: int) -> dict[str, float]:
    """The figures of one run: :func:`dynamics` and the jobs membership made in 2021 (net of displacement)."""
    scn = sim.load_scenario(scenario, overrides={**overrides, "output.firm_panel": True})
    result = sim.run(scn, seed=seed)
    jobs = result.yearly.set_index("year")["treatment_jobs"] if "treatment_jobs" in result.yearly else {}
    return (dynamics(result.firms, result.effects) | {"treatment_jobs_2021": float(jobs.get(2021, np.nan))}
            | run_folder_table(result.firms))


#: Rows of the run folder's firm_dynamics.csv (sim.observe.dynamics) printed beside this script's own figures.
TABLE_ROWS = {("survival", "years_since_birth", "5"): "table: survival_5y",
              ("growth_mean", "age_class", "0-2"): "table: growth_0-2",
              ("growth_mean", "age_class", "11+"): "table: growth_11+",
              ("growth_autocorrelation", "all", "all"): "table: growth_autocorrelation",
              ("growth_excess_kurtosis", "all", "all"): "table: growth_excess_kurtosis"}


def run_folder_table(panel: pd.DataFrame) -> dict[str, float]:
    """The same measures as a run folder's firm_dynamics.csv gives them (its own definitions)."""
    table = firm_dynamics(panel).set_index(["measure", "by", "group"])["value"]
    return {label: float(table.get(key, np.nan)) for key, label in TABLE_ROWS.items()}


def dynamics(panel: pd.DataFrame, effects: pd.DataFrame | None = None) -> dict[str, float]:
    """The figures of the module docstring for one run (the gaps only when ``effects`` is given)."""
    p = panel[["firm_id", "year", "alive", "employees", "birth_year"]].sort_values(["firm_id", "year"])
    firm, year = p["firm_id"].to_numpy(), p["year"].to_numpy()
    alive, emp = p["alive"].to_numpy(bool), p["employees"].to_numpy(float)
    age = year - p["birth_year"].to_numpy(int)
    # A row follows its firm's row of the year before: the firm was open then (rows of closed firms
    # appear once, in the year they closed, with alive false).
    follows = np.r_[False, (firm[1:] == firm[:-1]) & (year[1:] == year[:-1] + 1)]
    out: dict[str, float] = {}

    born = p.loc[(p["birth_year"] >= 2005) & (p["birth_year"] <= 2012)].groupby("firm_id")
    first = born["birth_year"].first()
    last_alive = born.apply(lambda g: g.loc[g["alive"], "year"].max() if g["alive"].any() else -1,
                            include_groups=False)
    out["survival_5y"] = 100.0 * float(np.mean(last_alive >= first + 5)) if len(first) else float("nan")
    out["startups_2005_2012"] = float(len(first))

    for label, lo, hi in AGE_CLASSES:
        at_risk = follows & (age >= lo) & (age <= hi)
        out[f"exit_rate_{label}"] = 100.0 * float(np.mean(~alive[at_risk]))
    growth = np.full(len(p), np.nan)
    survived = follows & alive
    growth[survived] = np.log(emp[survived] / np.r_[np.nan, emp[:-1]][survived])
    for label, lo, hi in AGE_CLASSES:
        out[f"growth_{label}"] = 100.0 * float(np.nanmean(growth[survived & (age >= lo) & (age <= hi)]))

    demeaned = growth - pd.Series(growth).groupby(year).transform("mean").to_numpy()
    pair = survived[1:] & survived[:-1] & (firm[1:] == firm[:-1])
    now, nxt = demeaned[:-1][pair], demeaned[1:][pair]
    out["growth_autocorrelation"] = float(np.corrcoef(now, nxt)[0, 1])
    g = demeaned[survived]
    out["growth_excess_kurtosis"] = float(pd.Series(g).kurt())

    if effects is None:
        return out
    published = effects[effects["estimator"] == "matched_did"].set_index("metric")["gap_pp"]
    out["va_gap_pp"], out["sales_gap_pp"] = float(published["value_added"]), float(published["revenue"])
    out["man_years_gap_pp"] = float(published["man_years"])
    return out


def main(argv: list[str] | None = None) -> None:
    """Print the firm-dynamics figures with the mechanisms off and on."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "classroom.toml")
    parser.add_argument("--scale", type=float, default=None, help="population.scale (default: the scenario's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="an override of the 'on' run (repeatable)")
    args = parser.parse_args(argv)
    base = {} if args.scale is None else {"population.scale": args.scale}
    on = {**REGISTER_LIKE, **dict(parse_assignment(text) for text in args.set)}
    rows = {}
    for name, overrides in (("off", {**base, **OFF}), ("on", {**base, **on})):
        figures = [run_figures(args.scenario, overrides, seed) for seed in args.seeds]
        rows[name] = pd.DataFrame(figures).mean()
    table = pd.DataFrame(rows)
    table["benchmark"] = [BENCHMARKS.get(name, "") for name in table.index]
    print("on:", ", ".join(f"{k}={v}" for k, v in on.items()))
    with pd.option_context("display.width", 160, "display.max_colwidth", 70):
        print(table.round(3).to_string())


if __name__ == "__main__":
    main()
