"""What data would decide it: how much observing one more statistic would narrow the true effect's interval.

The published gaps fix how much members outgrow their matches, not why, so the posterior of the
true effect stays wide. Each design of :data:`sim.observe.moments.MOMENTS` could narrow it if
Statistics Norway published it. :func:`value_of_information` says by how much, for each, by
preposterior analysis (Raiffa and Schlaifer 1961) with importance reweighting:

1. *Draws*: :func:`information_draws` resamples the posterior and runs each draw once at the
   calibration's scale, recording the true effect and every statistic of that run. The draws with
   their statistics are a sample of what the model, as now calibrated, expects a register to show.
2. *Imagine the register*: a replicate takes one draw k as the truth and observes its statistic
   with a register's error, ``s* = s_k + N(0, sd^2)``, sd being the register precision
   (:data:`REGISTER_SD`).
3. *Update*: every other draw i is reweighted by ``N(s*; s_i, sd^2)`` times its weight (draw k itself
   is left out, so the truth is never in the sample that is to find it), and the weighted 90 %
   interval of the true effect measured.
4. *Average*: over the replicates, the expected width after observing, against the width now.

**Assumptions.** The model is right, and the register's error is Gaussian with the sd given. Each
draw's statistic is one run at the calibration's scale (10 % of Norway), whose own noise between
seeds is part of how far its statistic lies from its parameters' expected value and is added to
the register's error: a register shows the full economy with less noise, so the narrowing is
conservative. With 200 draws the reweighted posterior holds few effective draws when a statistic
is precise (``ess_after_median``); the narrowing is then rough. Fewer effective draws alone make a
weighted interval a little narrower, so a statistic unrelated to the effect shows a few per cent.

The statistics are the run's headline moments, so observing one needs no new estimator, only
that a register study publish the table it comes from.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from tqdm import tqdm

from sim.calibration.weights import effective_sample_size, weighted_quantile
from sim.experiments.compare import systematic_resample
from sim.experiments.sweep import float_seed
from sim.observe.moments import MOMENTS
from sim.output.plots import blank_figure

if TYPE_CHECKING:
    from sim.calibration.spec import Calibration

QUANTITY = "true_value_added_pp"
SELECTION = "selection_share_value_added"
SHARE = 0.9
REPLICATES = 2000
#: The standard error with which a study on Norway's full register would observe each moment: the
#: standard deviation of the moment between seeds 0-19 of the committed baseline at full scale (all
#: of Norway's firms), run to 2025 as the calibration's runs are, with the published bootstrap
#: (``scripts/register_precision.py``, 2026-12-03, the point fit in ``calibration/calibrated.toml``).
#: Between seeds rather than the estimator's own error: a register study publishes one realisation
#: of the economy, and how far that realisation moves the moment belongs to the observation's error.
#: The estimator's own error, where it reports one, is in the comments (the mean over the seeds): it
#: is at or below the spread between seeds, itself estimated from 20 seeds to about 16 %. The
#: discontinuity's spread is wide because to 2025 only the calls of 2022 and 2023 have three years
#: after them; a later register would hold more calls.
REGISTER_SD: dict[str, float] = {
    "lead_gap_value_added_pp": 0.32,  # own 0.20 (bootstrap, the three years as if independent)
    "staggered_value_added_pp": 0.25,  # own 0.19 (firm-clustered)
    "entry_smd_man_years": 0.020,  # none reported; sqrt(1/members + 1/non-members) gives 0.017
    "entry_smd_age": 0.020,
    "entry_smd_productivity": 0.021,
    "collaboration_gap_change_ties": 0.047,  # own 0.023 (bootstrap, the years as if independent)
    "collaboration_gap_change_institution_tie_pp": 0.69,  # own 0.49 (likewise)
    "funding_end_value_added_pp": 0.51,  # own 0.56 (bootstrap over the ended clusters)
    "discontinuity_value_added_pp": 5.0,  # own 2.8 (clustered by county-sector cell)
}
COLUMNS = ("statistic", "register_sd", "posterior_sd_of_statistic", "draws", "width_now", "width_after",
           "narrowing_pct", "selection_width_now", "selection_width_after", "selection_narrowing_pct",
           "ess_after_median")
_NUMBERS = COLUMNS[COLUMNS.index("width_now"):] + ("posterior_sd_of_statistic",)  # what a replicate gives
_KEY = 3_000_017  # spawn key of this module's streams (apart from the calibrations' own)
_RESAMPLE, _RUN, _PREPOSTERIOR = 0, 1, 2


def value_of_information(posterior_draws: pd.DataFrame, statistics: dict[str, float], quantity: str = QUANTITY,
                         share: float = SHARE, replicates: int = REPLICATES, seed: int = 0,
                         selection: str | None = SELECTION) -> pd.DataFrame:
    """How much observing each statistic at a register's precision would narrow the quantity's interval.

    Every statistic is judged on the same replicates (the same truths and standardised errors: common
    random numbers), so their differences are not those of luck.

    Args:
        posterior_draws: One row per draw: ``weight`` (any scale; equal if absent), the quantity, each
            statistic (from the draw's own run) and optionally the selection share.
        statistics: Statistic -> the register's standard error of it (e.g. :data:`REGISTER_SD`).
        quantity: The column whose interval is to narrow.
        share: The interval's probability (0.9: from the 5 % to the 95 % quantile).
        replicates: Imagined register studies per statistic.
        seed: Seed of the replicates.
        selection: A second column judged on the same replicates (the selection share), or None.

    Returns:
        One row per statistic, in the order given (:data:`COLUMNS`): its register sd, its posterior sd,
        the draws that hold it, the quantity's interval width now and expected after observing it, the
        expected narrowing in %, the same for ``selection`` (NaN without it), and the median effective
        sample size after reweighting. A statistic no two draws hold gives NaN.

    Raises:
        ValueError: A register sd is not positive, or a column is missing.
    """
    missing = [c for c in [quantity, *statistics] if c not in posterior_draws]
    if missing:
        raise ValueError(f"the draws lack {', '.join(missing)}")
    bad = {name: sd for name, sd in statistics.items() if not sd > 0}
    if bad:
        raise ValueError(f"register sd must be positive: {bad}")
    n = len(posterior_draws)
    weight = posterior_draws["weight"].to_numpy(float) if "weight" in posterior_draws else np.ones(n)
    target = posterior_draws[quantity].to_numpy(float)
    second = posterior_draws[selection].to_numpy(float) if selection in posterior_draws else np.full(n, np.nan)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_KEY, _PREPOSTERIOR)))
    uniform, error = rng.random(replicates), rng.standard_normal(replicates)
    rows = []
    for name, sd in statistics.items():
        s = posterior_draws[name].to_numpy(float)
        use = np.flatnonzero(np.isfinite(s) & np.isfinite(target) & (weight > 0))
        rows.append({"statistic": name, "register_sd": float(sd), "draws": len(use)}
                    | _preposterior(s[use], weight[use], target[use], second[use], sd, share, uniform, error))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _preposterior(s: np.ndarray, w: np.ndarray, target: np.ndarray, second: np.ndarray, sd: float, share: float,
                  uniform: np.ndarray, error: np.ndarray) -> dict[str, float]:
    """Widths now and expected after observing one statistic, over the replicates (:func:`value_of_information`)."""
    if len(s) < 2:
        return dict.fromkeys(_NUMBERS, math.nan)
    w = w / w.sum()
    mean = float(w @ s)
    truth = np.minimum(np.searchsorted(np.cumsum(w), uniform, side="right"), len(s) - 1)
    observed = s[truth] + sd * error
    after, second_after, ess = (np.empty(len(truth)) for _ in range(3))
    log_w = np.log(w)
    for r, (k, x) in enumerate(zip(truth, observed)):
        log_new = log_w - 0.5 * ((x - s) / sd) ** 2
        log_new[k] = -np.inf  # the truth is not among the draws that are to find it
        new = np.exp(log_new - log_new.max())
        after[r], second_after[r] = _width(target, new, share), _width(second, new, share)
        ess[r] = effective_sample_size(new)
    now, second_now = _width(target, w, share), _width(second, w, share)
    return {"posterior_sd_of_statistic": math.sqrt(float(w @ (s - mean) ** 2)), "width_now": now,
            "width_after": float(after.mean()), "narrowing_pct": _narrowing(now, float(after.mean())),
            "selection_width_now": second_now, "selection_width_after": float(np.mean(second_after)),
            "selection_narrowing_pct": _narrowing(second_now, float(np.mean(second_after))),
            "ess_after_median": float(np.median(ess))}


def _width(values: np.ndarray, weights: np.ndarray, share: float) -> float:
    """Width of the weighted central interval holding ``share`` of the draws."""
    tail = (1.0 - share) / 2.0
    low, high = weighted_quantile(values, weights, [tail, 1.0 - tail])
    return float(high - low)


def _narrowing(now: float, after: float) -> float:
    return 100.0 * (1.0 - after / now) if now > 0 else math.nan


# --- the report --------------------------------------------------------------------------------

def section(table: pd.DataFrame) -> list[str]:
    """The fit report's section on the true effect: what the method does and assumes, and the table by narrowing.

    Args:
        table: :func:`value_of_information`.

    Returns:
        Markdown lines, ending with a blank line.
    """
    ranked = table.sort_values("narrowing_pct", ascending=False, na_position="last", kind="stable")
    width = float(table.loc[table["draws"].idxmax(), "width_now"]) if len(table) else math.nan
    lines = [
        "## What data would decide it",
        "",
        f"The 90 % interval of the true effect is {width:.1f} pp wide. For each statistic a register study "
        "could publish, the table gives how much observing it would narrow that interval, on average over what "
        "the register might show: preposterior analysis by importance reweighting. Posterior draws are run "
        "once each with every statistic recorded; each replicate takes one draw as the truth, observes its "
        "statistic with a register's error (Gaussian, sd = the register sd: the spread of the statistic between "
        "seeds of the baseline at full scale, `scripts/register_precision.py`) and reweights the other draws by "
        "the density of that observation given their own statistic. It assumes the model is right. Each draw's "
        "statistic comes from a run at the calibration's scale, noisier than a full register, so the narrowing "
        "is conservative; where few effective draws remain after reweighting (last column), it is rough, and fewer "
        "effective draws alone narrow an interval a little (a statistic unrelated to the effect shows a few %).",
        "",
        "| statistic | what it is | register sd | sd across the posterior | interval now (pp) | after observing | "
        "narrowing | selection share: narrowing | effective draws after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in ranked.itertuples():
        lines.append(f"| `{r.statistic}` | {MOMENTS.get(r.statistic, '')} | {r.register_sd:.3g} | "
                     f"{r.posterior_sd_of_statistic:.3g} | {r.width_now:.2f} | {r.width_after:.2f} | "
                     f"{_percent(r.narrowing_pct)} | {_percent(r.selection_narrowing_pct)} | "
                     f"{r.ess_after_median:.0f} of {r.draws} |")
    if len(ranked) and np.isfinite(ranked["narrowing_pct"].iloc[0]):
        top = ranked.iloc[0]
        lines += ["", f"The table to publish next is the one behind `{top['statistic']}`: observing it would narrow "
                      f"the interval by {top['narrowing_pct']:.0f} %."]
    return [*lines, ""]


def _percent(value: float) -> str:
    return f"{value:.0f} %" if np.isfinite(value) else "n/a"


def figure(table: pd.DataFrame) -> Figure:
    """The expected narrowing of each statistic as horizontal bars, the largest on top.

    Args:
        table: :func:`value_of_information`.

    Returns:
        The figure.
    """
    ranked = table.sort_values("narrowing_pct", ascending=True, na_position="first", kind="stable")
    fig = blank_figure()
    fig.set_size_inches(8.0, 1.2 + 0.35 * max(len(ranked), 1))
    ax = fig.subplots()
    values = ranked["narrowing_pct"].fillna(0.0).to_numpy(float)
    ax.barh(np.arange(len(ranked)), values, color="tab:blue")
    ax.set_yticks(np.arange(len(ranked)), ranked["statistic"].tolist(), fontsize="small")
    for y, (value, shown) in enumerate(zip(values, ranked["narrowing_pct"])):
        ax.text(value, y, f" {_percent(shown)}", va="center", fontsize="small")
    ax.axvline(0.0, color="grey", linewidth=0.8)
    ax.margins(x=0.12)  # room for the labels at the bars' ends
    ax.set(xlabel="expected narrowing of the 90 % interval of the true effect (%)",
           title="What a register study would add: observing one statistic")
    return fig


# --- the draws -----------------------------------------------------------------------------------

def information_draws(c: Calibration, posterior: Any, executor: Any, draws: int = 200,
                      progress: bool = False) -> pd.DataFrame:
    """Posterior draws run once each at the calibration's scale, with the quantity and every statistic.

    The calibration's draws carry only its targets and outcomes, not the moments, so the draws are run
    again: ``draws`` rows systematically resampled from the posterior's weights
    (:func:`sim.experiments.compare.systematic_resample`), each with a seed of its own from ``c.seed``
    (a heavy draw resampled twice runs on two seeds).

    Args:
        c: The calibration.
        posterior: Its posterior (``draws`` with ``weight`` and the ``parameters``' columns).
        executor: Where the runs go (``map(tasks)`` yields outcomes).
        draws: Runs to make.
        progress: Show a progress bar.

    Returns:
        One row per run, equally weighted: ``draw`` (the posterior's row), ``seed``, the parameters,
        ``weight``, :data:`QUANTITY`, :data:`SELECTION`, ``gap_value_added_pp`` and the moments.

    Raises:
        SimulationFailed: A run failed.
    """
    from sim.calibration.posterior import task_maker  # pyabc takes a second to load: only where runs are made
    from sim.calibration.sampler import SimulationFailed

    rows = systematic_resample(posterior.draws["weight"].to_numpy(float), draws, _seed(c.seed, _RESAMPLE))
    parameters = posterior.draws[list(posterior.parameters)].iloc[rows].to_dict("records")
    seeds = [_seed(c.seed, _RUN, i) for i in range(draws)]
    task_for = task_maker(c)
    tasks = (task_for({k: float(v) for k, v in parameters[i].items()}, seeds[i], f"{c.study}/information/{i}")
             for i in range(draws))
    recorded = (QUANTITY, SELECTION, "gap_value_added_pp", *MOMENTS)
    results: dict[int, dict[str, float]] = {}
    with tqdm(total=draws, desc="value of information", unit="run", disable=not progress, leave=False,
              dynamic_ncols=True) as bar:
        for outcome in executor.map(tasks):
            if not outcome.ok:
                raise SimulationFailed(f"run {outcome.run_id} failed: {outcome.error}")
            headline = outcome.summary["headline"]
            results[int(outcome.run_id.rsplit("/", 1)[1])] = {k: _number(headline.get(k)) for k in recorded}
            bar.update()
    return pd.DataFrame([{"draw": int(rows[i]), "seed": seeds[i], **parameters[i], "weight": 1.0 / draws,
                          **results[i]} for i in range(draws)])


def _seed(seed: int, *key: int) -> int:
    """A seed below 2**53 from the calibration's seed and a key (a float column holds it exactly)."""
    return float_seed(seed, _KEY, *key)


def _number(value: Any) -> float:
    """A headline figure as a float (a figure read back from JSON is None where it was NaN)."""
    return math.nan if value is None else float(value)
