"""Sensitivity analysis with SALib: Morris screening and Sobol indices over a sweep.

A sensitivity study is a sweep file (:mod:`sim.experiments.sweep_file`) with design ``morris`` or
``saltelli`` (:mod:`sim.experiments.sweep`): it runs like any sweep (resumable, on local processes
or a Dask cluster, into any results database) and is then analysed here. Each outcome's mean
over replications at every design point goes to SALib's analyser, in the unit cube the design
was drawn in (each parameter's distribution maps that cube onto its values), so:

- Morris ``mu_star`` is the mean absolute change of the outcome when one parameter moves across
  its whole range (in the outcome's units per unit of the cube), ``sigma`` the spread of that
  change (interactions and curvature);
- Sobol ``S1`` is the share of the outcome's variance due to one parameter alone and ``ST``
  that share including all its interactions.

With common random numbers (the default ``seeds = "common"``), a parameter that does not touch
an outcome moves it by exactly nothing, so the noise floor is low.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter
from sqlalchemy import Engine

from sim.experiments.plots import outcome_table
from sim.experiments.sweep import SALIB_DESIGNS, SUMMARY_PREFIX, Sweep
from sim.output.plots import blank_figure, save
from sim.scenario.errors import ScenarioError

#: Index name -> its confidence column in SALib's result.
MORRIS_INDICES = {"mu_star": "mu_star_conf", "sigma": None, "mu": None}
SOBOL_INDICES = {"S1": "S1_conf", "ST": "ST_conf"}
CONFIDENCE = 0.95
RESAMPLES = 1000


class IncompleteSweep(RuntimeError):
    """Some design points have no finished run (a failed run: re-run the sweep with --retry-failed)."""


def point_means(engine: Engine, sweep: Sweep) -> tuple[np.ndarray, pd.DataFrame]:
    """The unit-cube design and each outcome's mean over replications at each point.

    Args:
        engine: From :func:`sim.experiments.ledger.open_ledger`.
        sweep: The sensitivity sweep.

    Returns:
        The design, ``float[points, parameters]``, and the means, one row per point and one
        column per outcome.

    Raises:
        ScenarioError: The sweep is not a sensitivity design.
        IncompleteSweep: Some points have no finished run.
    """
    if sweep.design not in SALIB_DESIGNS:
        raise ScenarioError(sweep.source, "sweep.design",
                            f"must be 'morris' or 'saltelli' for a sensitivity analysis, got '{sweep.design}'")
    design = sweep.unit_design()
    table, _, outcomes = outcome_table(engine, sweep.name)
    means = (table.groupby("point")[outcomes].mean() if len(table) else pd.DataFrame(columns=outcomes))
    means = means.reindex(range(len(design)))
    missing = int(means.isna().all(axis=1).sum())
    if missing:
        raise IncompleteSweep(f"{sweep.source}: {missing} of {len(design)} design points have no finished run; "
                              "run it again (with --retry-failed for failed runs)")
    return design, means


def analyse(engine: Engine, sweep: Sweep, seed: int = 0) -> pd.DataFrame:
    """SALib's indices for every outcome of a sensitivity sweep.

    Args:
        engine: The results database holding the sweep's runs.
        sweep: A sweep with design ``morris`` or ``saltelli``.
        seed: Seed of SALib's bootstrap of the confidence intervals.

    Returns:
        Tidy rows ``method, outcome, parameter, index, value, conf`` (``conf``: half-width of the
        95 % interval where SALib gives one).
    """
    from SALib.analyze import morris, sobol

    design, means = point_means(engine, sweep)
    problem = sweep.salib_problem()
    rows = []
    for outcome in means.columns:
        y = means[outcome].to_numpy(float)
        if not np.isfinite(y).all():
            raise IncompleteSweep(f"{sweep.source}: {outcome} is missing or undefined at some design points "
                                  "(no member measured, or a year the runs do not reach)")
        if sweep.design == "morris":
            result = morris.analyze(problem, design, y, num_levels=sweep.levels, num_resamples=RESAMPLES,
                                    conf_level=CONFIDENCE, seed=seed)
            indices = MORRIS_INDICES
        elif np.ptp(y) == 0:  # a constant outcome has no variance to share out
            result = {name: np.zeros(len(problem["names"])) for name in ("S1", "S1_conf", "ST", "ST_conf")}
            indices = SOBOL_INDICES
        else:
            result = sobol.analyze(problem, y, calc_second_order=sweep.second_order, num_resamples=RESAMPLES,
                                   conf_level=CONFIDENCE, seed=seed)
            indices = SOBOL_INDICES
        for j, parameter in enumerate(problem["names"]):
            for index, conf in indices.items():
                rows.append({"method": sweep.design, "outcome": outcome, "parameter": parameter, "index": index,
                             "value": float(np.asarray(result[index])[j]),
                             "conf": float(np.asarray(result[conf])[j]) if conf else np.nan})
    return pd.DataFrame(rows)


def figure(indices: pd.DataFrame, title: str) -> Figure:
    """One panel per outcome: Morris mu* (with sigma) or Sobol S1 and ST, largest first.

    Args:
        indices: From :func:`analyse`.
        title: The figure's title.

    Returns:
        The figure.
    """
    outcomes = list(dict.fromkeys(indices["outcome"]))
    fig = blank_figure()
    fig.set_size_inches(4.2 * len(outcomes), 0.35 * indices["parameter"].nunique() + 2.0)
    axes = np.atleast_1d(fig.subplots(1, len(outcomes)))
    morris = indices["method"].iloc[0] == "morris"
    shown = ("mu_star", "sigma") if morris else ("S1", "ST")
    for ax, outcome in zip(axes, outcomes):
        rows = indices[indices["outcome"] == outcome].pivot(index="parameter", columns="index", values="value")
        conf = indices[indices["outcome"] == outcome].pivot(index="parameter", columns="index", values="conf")
        order = rows[shown[0 if morris else 1]].sort_values().index
        y = np.arange(len(order))
        for offset, index in zip((0.2, -0.2), shown):
            ax.barh(y + offset, rows.loc[order, index], height=0.4, label=index,
                    xerr=conf.loc[order, index].fillna(0.0) if index in conf else None, error_kw={"lw": 0.8})
        ax.set_yticks(y, order, fontsize=7)
        ax.set_title(outcome.removeprefix("summary."), fontsize=9)
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 77k jobs, not an offset label
        ax.set_xlabel("effect of the whole range (outcome units)" if morris else "share of variance")
        ax.legend(fontsize="x-small")
    fig.suptitle(title)
    return fig


def write(indices: pd.DataFrame, sweep: Sweep, out_dir: Path) -> list[Path]:
    """Write ``<method>.csv`` and ``<method>.png`` into ``out_dir``.

    Args:
        indices: From :func:`analyse`.
        sweep: The sweep analysed (its design names the files).
        out_dir: The folder (created if missing).

    Returns:
        The files written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / f"{sweep.design}.csv"
    indices.to_csv(csv, index=False, float_format="%.6g", lineterminator="\n")
    label = "Morris screening" if sweep.design == "morris" else "Sobol indices"
    png = save(figure(indices, f"{label}: {sweep.name} ({len(sweep.unit_design())} design points)"),
               out_dir / f"{sweep.design}.png")
    return [csv, png]


def ranking(indices: pd.DataFrame, top: int = 3) -> list[str]:
    """Lines naming each outcome's most influential parameters (by mu* or ST).

    Args:
        indices: From :func:`analyse`.
        top: Parameters named per outcome.

    Returns:
        One line per outcome.
    """
    key = "mu_star" if indices["method"].iloc[0] == "morris" else "ST"
    lines = []
    for outcome, rows in indices[indices["index"] == key].groupby("outcome", sort=False):
        best = rows.sort_values("value", ascending=False).head(top)
        parts = ", ".join(f"{r.parameter} {r.value:.3g}" for r in best.itertuples())
        lines.append(f"{outcome.removeprefix(SUMMARY_PREFIX)}: {key} {parts}")
    return lines
