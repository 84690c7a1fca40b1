"""The calibration's fit report: the posterior against the priors and the targets, in Markdown, CSV and PNG.

It shows each parameter's prior beside its posterior (``posterior.png``), each target's posterior
predictive interval (``predictive.png``), the true effect and the selection share as posterior
intervals (``truth.png``), the generations of ABC-SMC with their effective sample sizes, the
baseline's central draw checked at full scale (``profile.png``, ``totals.png``), and, when
simulation-based calibration has run, how often the 90 % intervals held the truth.

Drawn with :class:`matplotlib.figure.Figure` and the Agg backend, as in :mod:`sim.output.plots`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.calibration import information
from sim.calibration.fit import OBSERVED_TOTALS
from sim.calibration.posterior import METRICS, Posterior
from sim.calibration.sbc import SHARE, coverage
from sim.calibration.spec import Calibration, FitParameter
from sim.calibration.weights import weighted_quantile
from sim.output.plots import METRIC_LABELS, blank_figure, save

EFFECT_ROWS = {"value_added": "value added", "revenue": "sales", "man_years": "man-years"}
TAILS = ((1 - SHARE) / 2, 0.5, (1 + SHARE) / 2)
EDGE = 0.05  # share of a prior's support at each end where a posterior piling up is flagged
EDGE_RATIO = 3.0  # flagged when the posterior puts this many times the prior's mass there (and 10 % or more)
PREDICTIVE_SEED = 0  # seed of the observation errors added to the draws for the posterior predictive
RESAMPLES = 2000


@dataclass
class FitReport:
    """Everything the report shows.

    Attributes:
        calibration: The set-up.
        posterior: The posterior (``None`` if none is stored: the report then shows the check only).
        central: Row of the central draw in ``posterior.draws`` (``None`` without a posterior).
        values: The parameter values the check ran with (the central draw, or the committed values).
        fit: :func:`sim.calibration.fit.fit_table` of the check (``None`` without a check).
        per_seed: The check's inputs, one row per seed.
        timings: Label -> seconds.
        coverage: Simulation-based calibration's rows (``coverage.csv``), if any.
        information: The value of information (``value_of_information.csv``), if any.
        scale_fit: The check's table for the same seeds at the calibration's scale (``None`` without a check).
        level: Value added's level set with the central draw and the ratio of simulated to observed value
            added before it was set (:func:`sim.calibration.fit.value_added_level`; ``None`` if not set here).
    """

    calibration: Calibration
    posterior: Posterior | None
    central: int | None
    values: dict[str, float]
    fit: pd.DataFrame | None = None
    per_seed: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)
    coverage: pd.DataFrame | None = None
    information: pd.DataFrame | None = None
    scale_fit: pd.DataFrame | None = None
    level: tuple[float, float] | None = None

    def parameters(self) -> pd.DataFrame:
        """Each parameter's prior and posterior: median and 90 % intervals, the central draw, an edge note."""
        rows = []
        for name, p in self.calibration.parameters.items():
            prior = p.distribution
            lo, hi = prior.interval(SHARE)
            row = {"parameter": name, "prior": prior.describe(), "prior_low": lo,
                   "prior_median": float(prior.frozen().ppf(0.5)), "prior_high": hi,
                   "value": self.values.get(name, np.nan), "edge": "", "source": p.source,
                   "cites": ", ".join(p.cites)}
            if self.posterior is not None:
                x, w = self.posterior.draws[name].to_numpy(float), self.posterior.draws["weight"].to_numpy(float)
                quantiles = weighted_quantile(x, w, TAILS)
                row |= dict(zip(("posterior_low", "posterior_median", "posterior_high"), quantiles))
                row["edge"] = edge_note(p, x, w)
            rows.append(row)
        return pd.DataFrame(rows)

    def predictive(self) -> pd.DataFrame:
        """Each target measured on the fitted scenario: observed, and the posterior predictive's median and 90 %.

        ``simulated_*`` is the spread of the draws' runs (each with its own seed); ``predictive_*``
        adds the error model's Gaussian error (sd = tolerance) to each, i.e. where a new observation
        would fall if the model and the posterior are right. ``inside``: the observed value lies in
        that interval (for an ``at_least`` target: at least 5 % of the runs meet it).
        """
        rows = []
        w = self.posterior.draws["weight"].to_numpy(float)
        rng = np.random.default_rng(PREDICTIVE_SEED)
        for t in self.calibration.measured_targets:
            x = self.posterior.draws[t.name].to_numpy(float)
            sim = weighted_quantile(x, w, TAILS)
            reps = 50
            noisy = np.repeat(x, reps) + (0.0 if t.compare == "at_least" else t.tolerance) * rng.standard_normal(
                len(x) * reps)
            pred = weighted_quantile(noisy, np.repeat(w, reps), TAILS)
            inside = sim[2] >= t.value if t.compare == "at_least" else pred[0] <= t.value <= pred[2]
            rows.append({"target": t.name, "observed": t.value, "tolerance": t.tolerance, "compare": t.compare,
                         "calibrated": t.calibrate, "simulated_low": sim[0], "simulated_median": sim[1],
                         "simulated_high": sim[2], "predictive_low": pred[0], "predictive_high": pred[2],
                         "inside": bool(inside), "source": t.source})
        return pd.DataFrame(rows)

    def truth(self) -> pd.DataFrame:
        """The true effect and the selection share of each metric: posterior median and 90 % interval."""
        rows = []
        w = self.posterior.draws["weight"].to_numpy(float)
        for metric in METRICS:
            for kind, column in (("measured gap (pp)", f"gap_{metric}_pp"), ("true effect (pp)", f"true_{metric}_pp"),
                                 ("selection share", f"selection_share_{metric}")):
                target = next((t for t in self.calibration.measured_targets if t.statistic == column), None)
                name = target.name if target is not None else column
                if name in self.posterior.draws:
                    low, median, high = weighted_quantile(self.posterior.draws[name].to_numpy(float), w, TAILS)
                    rows.append({"metric": EFFECT_ROWS[metric], "quantity": kind, "column": name, "median": median,
                                 "low": low, "high": high})
        return pd.DataFrame(rows)

    def check_truth(self) -> pd.DataFrame:
        """Measured gap, true effect and selection share of the checked baseline: mean over seeds, 95 % interval."""
        rows = []
        for metric, label in EFFECT_ROWS.items():
            for kind, column in (("measured gap (pp)", f"gap_{metric}_pp"), ("true effect (pp)", f"true_{metric}_pp"),
                                 ("selection share", f"selection_share_{metric}")):
                if self.per_seed is not None and column in self.per_seed:
                    values = self.per_seed[column].to_numpy(float)
                    lo, hi = mean_ci(values)
                    rows.append({"metric": label, "quantity": kind, "mean": np.nanmean(values), "ci_low": lo,
                                 "ci_high": hi})
        return pd.DataFrame(rows)


def edge_note(p: FitParameter, x: np.ndarray, w: np.ndarray) -> str:
    """``"piles at low end"`` (or high) when the posterior crowds an end of the prior's support.

    Args:
        p: The parameter.
        x: Its draws.
        w: Their weights.

    Returns:
        The note, or ``""``: the range is then not what decides.
    """
    width = p.high - p.low
    dist = p.distribution.frozen()
    for end, inside, prior_mass in (
        ("low", x <= p.low + EDGE * width, float(dist.cdf(p.low + EDGE * width))),
        ("high", x >= p.high - EDGE * width, 1.0 - float(dist.cdf(p.high - EDGE * width))),
    ):
        mass = float(w[inside].sum() / w.sum())
        if mass >= 0.1 and mass >= EDGE_RATIO * prior_mass:
            return f"piles at {end} end ({mass:.0%} of the posterior in its outer {EDGE:.0%})"
    return ""


def mean_ci(values: np.ndarray) -> tuple[float, float]:
    """A 95 % interval of the mean over seeds: a bootstrap over seeds, as in the fit table."""
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return np.nan, np.nan
    draws = np.random.default_rng(0).integers(0, len(values), size=(RESAMPLES, len(values)))
    lo, hi = np.quantile(values[draws].mean(axis=1), [0.025, 0.975])
    return float(lo), float(hi)


# --- figures -------------------------------------------------------------------------------

def _grid(n: int, width: float = 9.0) -> tuple[Figure, list]:
    cols = min(n, 3)
    rows = max(math.ceil(n / cols), 1)
    fig = blank_figure()
    fig.set_size_inches(width, 2.6 * rows + 0.4)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def posterior_figure(report: FitReport) -> Figure:
    """Each parameter's prior density beside its posterior (weighted histogram), the central draw marked.

    Args:
        report: The report.

    Returns:
        A grid with one axes per parameter.
    """
    c, post = report.calibration, report.posterior
    fig, axes = _grid(len(c.parameters))
    w = post.draws["weight"].to_numpy(float)
    for ax, (name, p) in zip(axes, c.parameters.items()):
        log = p.prior in ("loguniform", "lognormal")
        grid = np.geomspace(p.low, p.high, 200) if log else np.linspace(p.low, p.high, 200)
        bins = np.geomspace(p.low, p.high, 25) if log else np.linspace(p.low, p.high, 25)
        ax.hist(post.draws[name], bins=bins, weights=w, density=True, alpha=0.5, label="posterior")
        ax.plot(grid, p.distribution.frozen().pdf(grid), color="black", label="prior")
        if report.central is not None:
            ax.axvline(post.draws[name].iloc[report.central], color="tab:red", linestyle="--", label="central draw")
        if log:
            ax.set_xscale("log")
        ax.set(title=name, yticks=[])
    axes[0].legend(fontsize="x-small")
    fig.suptitle(f"Prior and posterior ({len(post.draws)} draws, ESS {post.ess:.0f}, temperature {post.temperature:g})")
    return fig


def predictive_figure(report: FitReport) -> Figure:
    """Each target's simulated values over the posterior's draws, with the observed value and its tolerance.

    Args:
        report: The report.

    Returns:
        A grid with one axes per target measured on the fitted scenario.
    """
    targets = report.calibration.measured_targets
    fig, axes = _grid(len(targets))
    w = report.posterior.draws["weight"].to_numpy(float)
    for ax, t in zip(axes, targets):
        x = report.posterior.draws[t.name].to_numpy(float)
        ok = np.isfinite(x)
        ax.hist(x[ok], bins=25, weights=w[ok], alpha=0.6, color="tab:blue")
        if t.compare == "at_least":
            ax.axvspan(t.value, max(t.value, np.nanmax(x)) + t.tolerance, color="grey", alpha=0.15)
        else:
            ax.axvspan(t.value - t.tolerance, t.value + t.tolerance, color="grey", alpha=0.2)
        ax.axvline(t.value, color="black")
        ax.set(title=f"{t.name}{'' if t.calibrate else ' (not fitted)'}", yticks=[])
        ax.title.set_fontsize("small")
    fig.suptitle("Posterior predictive: the draws' runs (bars) against the observed value ± tolerance (line, band)")
    return fig


def truth_figure(report: FitReport) -> Figure:
    """The posterior of the true effect and of the selection share, for each metric.

    Args:
        report: The report.

    Returns:
        A figure with two axes.
    """
    fig = blank_figure()
    fig.set_size_inches(9.0, 3.6)
    left, right = fig.subplots(1, 2)
    draws, w = report.posterior.draws, report.posterior.draws["weight"].to_numpy(float)
    for metric, label in METRIC_LABELS.items():
        for ax, column in ((left, f"true_{metric}_pp"), (right, f"selection_share_{metric}")):
            if column in draws:
                x = draws[column].to_numpy(float)
                ok = np.isfinite(x)
                ax.hist(x[ok], bins=25, weights=w[ok], histtype="step", linewidth=1.5, label=label)
    left.set(title="True effect of membership (pp a year, years 1-3)", yticks=[])
    right.set(title="Selection share of the measured gap", yticks=[])
    left.legend(fontsize="small")
    return fig


def profile_figure(report: FitReport) -> Figure:
    """The check's gap by years since joining, measured and true, with the published figure.

    Args:
        report: The report.

    Returns:
        A figure with one axes per metric.
    """
    fig = blank_figure()
    axes = fig.subplots(1, len(METRIC_LABELS), sharey=True)
    targets = {t.statistic: t for t in report.calibration.targets}
    for ax, (metric, title) in zip(axes, METRIC_LABELS.items()):
        for prefix, label in (("gap", "matched comparison"), ("true", "true effect")):
            by_year = f"{prefix}_{metric}_pp_year"
            years = sorted(int(c.rsplit("year", 1)[1]) for c in report.per_seed.columns if c.startswith(by_year))
            if not years:
                continue
            columns = [f"{by_year}{k}" for k in years]
            means = report.per_seed[columns].mean().to_numpy()
            bands = np.array([mean_ci(report.per_seed[c].to_numpy(float)) for c in columns])
            line, = ax.plot(years, means, marker="o", label=label)
            ax.fill_between(years, bands[:, 0], bands[:, 1], color=line.get_color(), alpha=0.2)
        target = targets.get(f"gap_{metric}_pp")
        if target is not None:
            ax.hlines(target.value, 1, 3, colors="black", linestyles="dashed", label="published, years 1-3")
        ax.set(title=title, xlabel="Years since joining")
    axes[0].set_ylabel("Members' growth minus matched (pp per year)")
    axes[0].legend(fontsize="x-small")
    fig.suptitle(f"Baseline (central draw), {len(report.per_seed)} seeds (95 % intervals of the mean)")
    return fig


TOTAL_LABELS = {"employment": ("Man-years", 1e6, "million"), "value_added_nok": ("Value added", 1e9, "NOK bn")}


def simulated_totals(per_seed: pd.DataFrame) -> pd.DataFrame:
    """The check's yearly totals: mean and range over its seeds.

    Args:
        per_seed: The check's inputs, with the ``path.<total>@<year>`` columns of
            :func:`sim.calibration.fit.totals_paths`.

    Returns:
        One row per total and year: ``total, year, mean, low, high``.
    """
    rows = []
    for column in per_seed.columns:
        if column.startswith("path."):
            total, year = column.removeprefix("path.").split("@")
            values = per_seed[column].to_numpy(float)
            rows.append({"total": total, "year": int(year), "mean": np.nanmean(values), "low": np.nanmin(values),
                         "high": np.nanmax(values)})
    return pd.DataFrame(rows, columns=["total", "year", "mean", "low", "high"])


def totals_table(report: FitReport) -> pd.DataFrame:
    """Each observed total beside the check's simulated value of the same year."""
    sim = simulated_totals(report.per_seed)
    rows = []
    for total, points in OBSERVED_TOTALS.items():
        for year, value, key, what in points:
            hit = sim[(sim["total"] == total) & (sim["year"] == year)]
            simulated = float(hit["mean"].iloc[0]) if len(hit) else np.nan
            rows.append({"total": total, "year": year, "observed": value, "simulated": simulated,
                         "ratio": simulated / value, "source": key, "counts": what})
    return pd.DataFrame(rows)


def totals_figure(report: FitReport) -> Figure:
    """Simulated man-years and value added over the years (mean and range of the check's seeds) and Norway's.

    Args:
        report: The report.

    Returns:
        A figure with one axis per total.
    """
    fig = blank_figure()
    fig.set_size_inches(9.0, 4.0)
    sim = simulated_totals(report.per_seed)
    for ax, (total, (label, unit, unit_name)) in zip(fig.subplots(1, 2), TOTAL_LABELS.items(), strict=True):
        path = sim[sim["total"] == total].sort_values("year")
        ax.fill_between(path["year"], path["low"] / unit, path["high"] / unit, alpha=0.25, label="simulated, range")
        ax.plot(path["year"], path["mean"] / unit, label="simulated, mean")
        for year, value, key, _ in OBSERVED_TOTALS[total]:
            ax.plot([year], [value / unit], "o", color="black")
            ax.annotate(key, (year, value / unit), textcoords="offset points", xytext=(4, -12), fontsize="x-small")
        ax.set(title=f"{label} of the business sector", xlabel="Year", ylabel=f"{label} ({unit_name})")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize="small", loc="lower right")
    return fig


# --- files ---------------------------------------------------------------------------------

def write(report: FitReport, out_dir: Path, markdown_path: Path | None = None) -> list[Path]:
    """Write the Markdown report, CSV tables and PNG plots.

    Args:
        report: The report.
        out_dir: Folder of the CSV and PNG files.
        markdown_path: Where the Markdown goes (default ``calibration.report``).

    Returns:
        The files written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {out_dir / "parameters.csv": report.parameters()}
    figures = []
    if report.posterior is not None:
        tables |= {out_dir / "predictive.csv": report.predictive(), out_dir / "truth.csv": report.truth(),
                   out_dir / "generations.csv": report.posterior.generations}
        figures += [save(posterior_figure(report), out_dir / "posterior.png"),
                    save(predictive_figure(report), out_dir / "predictive.png"),
                    save(truth_figure(report), out_dir / "truth.png")]
    if report.per_seed is not None:
        if report.scale_fit is not None:
            tables[out_dir / "fit_at_calibration_scale.csv"] = report.scale_fit
        tables |= {out_dir / "fit.csv": report.fit, out_dir / "check_seeds.csv": report.per_seed,
                   out_dir / "check_truth.csv": report.check_truth(), out_dir / "totals.csv": totals_table(report)}
        figures += [save(profile_figure(report), out_dir / "profile.png"),
                    save(totals_figure(report), out_dir / "totals.png")]
    if report.coverage is not None:
        tables[out_dir / "coverage_summary.csv"] = coverage(report.coverage)
    if report.information is not None:
        figures.append(save(information.figure(report.information), out_dir / "information.png"))
    for path, table in tables.items():
        table.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")
    path = markdown_path or report.calibration.report
    path.write_text(markdown(report, out_dir), encoding="utf-8", newline="\n")
    return [*tables, *figures, path]


def markdown(report: FitReport, out_dir: Path) -> str:
    """The report as Markdown text.

    Args:
        report: The report.
        out_dir: Folder of the tables and plots, named in the text.

    Returns:
        The Markdown.
    """
    c = report.calibration
    lines = [f"# Calibration: {c.study}", ""]
    if report.posterior is not None:
        lines += _method(report, out_dir) + _parameters(report, out_dir) + _targets(report, out_dir)
        lines += _truth(report, out_dir)
    else:
        lines += ["No posterior is stored for this study in the results database: the sections below check the "
                  "baseline as committed.", ""]
    lines += _baseline(report, out_dir)
    if report.per_seed is not None:
        lines += _totals(report, out_dir)
    if report.coverage is not None:
        lines += _coverage(report)
    if report.information is not None:
        lines += information.section(report.information)
        lines[-1:-1] = ["", f"The bars: `{out_dir}/information.png`; the rows: `{c.information.name}`."]
    return "\n".join(lines) + "\n"


def _method(report: FitReport, out_dir: Path) -> list[str]:
    c, post = report.calibration, report.posterior
    lines = _emulator_method(c, post, out_dir) if post.method == "emulator" else _abc_method(c, post, out_dir)
    if report.timings:
        lines += ["| step | wall time |", "|---|---|",
                  *[f"| {label} | {seconds / 60:.1f} min |" for label, seconds in report.timings.items()], ""]
    return lines


def _abc_method(c: Calibration, post: Posterior, out_dir: Path) -> list[str]:
    fitted = ", ".join(f"`{t.name}`" for t in c.objective_targets)
    status = ("the last generation is at temperature 1: a weighted sample of the posterior itself" if post.complete
              else f"**stopped at temperature {post.temperature:.3g}** (a budget ran out): a tempered posterior, wider "
                   "than the posterior; run `python run.py calibrate` again to continue")
    ess_note = "" if post.ess >= c.min_ess else f" (**below the {c.min_ess} wanted**: raise `population`)"
    lines = [
        f"Written by `python run.py calibrate` from `{c.source.name}` and `targets.toml`. ABC-SMC (pyabc) under a "
        "stated error model: each fitted target is observed with a Gaussian error whose sd is its tolerance (an "
        "`at_least` target only penalises a shortfall), and each draw is one run of "
        f"`{c.scenario_path.name}` at {_settings(c.base)} with a seed of its own, so the noise between seeds is "
        "part of the likelihood. pyabc's stochastic acceptor makes this exact ABC once the temperature reaches 1 "
        f"(Wilkinson 2013). Fitted targets: {fitted}.",
        "",
        f"**{len(post.draws)} draws, effective sample size {post.ess:.0f}{ess_note}**; {status}. "
        f"{post.simulations} runs in all ({post.prior_simulations} from the prior to set the first temperature). "
        f"Tables and plots: `{out_dir}/`.",
        "",
        "| generation | temperature | runs | accepted | acceptance rate | ESS | wall time |",
        "|---|---|---|---|---|---|---|",
        *[f"| {r.generation} | {r.temperature:.4g} | {r.simulations} | {r.accepted} | {r.acceptance_rate:.3f} | "
          f"{r.ess:.0f} | {r.wall_time_s / 60:.1f} min |" for r in post.generations.itertuples()],
        "",
    ]
    return lines


def _emulator_method(c: Calibration, post: Posterior, out_dir: Path) -> list[str]:
    fitted = ", ".join(f"`{t.name}`" for t in c.objective_targets)
    ess_note = "" if post.ess >= c.min_ess else f" (**below the {c.min_ess} wanted**: raise `waves` or `wave`)"
    status = ("weighted by the error model over the proposal: a sample of the posterior itself" if post.complete
              else "**only the design has run**: run `python run.py calibrate` again to continue")
    return [
        f"Written by `python run.py calibrate` from `{c.source.name}` and `targets.toml`. The error model: each "
        "fitted target is observed with a Gaussian error whose sd is its tolerance (an `at_least` target only "
        f"penalises a shortfall), and each draw is one run of `{c.scenario_path.name}` at {_settings(c.base)} with "
        "a seed of its own, so the noise between seeds is part of the likelihood. The method "
        "(`sim/calibration/emulated.py`): a Sobol design from the priors, then waves of runs proposed from "
        "Gaussian-process emulators of the targets (history matching's waves) and each weighed by prior x "
        "error-model density of its run / proposal (defensive importance sampling). The weights make the draws a "
        "sample of the same posterior as exact ABC, whatever the emulators got wrong; the emulators decide only how "
        f"even the weights are. Fitted targets: {fitted}.",
        "",
        f"**{len(post.draws)} draws, effective sample size {post.ess:.0f}{ess_note}**; {status}. "
        f"{post.simulations} runs in all. Tables and plots: `{out_dir}/`. The emulator's check is the mean squared "
        "standardised error of a wave's runs against the emulator that proposed them, per target: about 1 if "
        "its uncertainty was honest, above 1 if it was too sure.",
        "",
        "| wave | proposal | runs | ESS | emulator check |",
        "|---|---|---|---|---|",
        *[f"| {r.generation} | {r.proposal} | {r.simulations} | "
          f"{'-' if r.generation == 0 else f'{r.ess:.0f}'} | "
          f"{'-' if not math.isfinite(r.emulator_chi2) else f'{r.emulator_chi2:.2f}'} |"
          for r in post.generations.itertuples()],
        "",
    ]


def _parameters(report: FitReport, out_dir: Path) -> list[str]:
    table = report.parameters()
    return [
        "## Parameters: prior and posterior",
        "",
        f"Medians and central 90 % intervals (posterior: weighted draws); the checked value is the baseline's (the "
        f"central draw once applied). The plot is `{out_dir}/posterior.png`. A posterior that piles up at an end "
        "of its prior's support is marked: there the range, not the data, decides.",
        "",
        "| parameter | prior | prior 90 % | posterior median | posterior 90 % | checked value | note | source |",
        "|---|---|---|---|---|---|---|---|",
        *[f"| {r.parameter} | {r.prior} | {r.prior_low:.3g} to {r.prior_high:.3g} | {r.posterior_median:.3g} | "
          f"{r.posterior_low:.3g} to {r.posterior_high:.3g} | {r.value:.4g} | {r.edge} | {r.source}"
          f"{f' ({r.cites})' if r.cites else ''} |" for r in table.itertuples()],
        "",
    ]


def _targets(report: FitReport, out_dir: Path) -> list[str]:
    table = report.predictive()
    return [
        "## Targets: the posterior predictive",
        "",
        "Each target measured on the fitted scenario, fitted or not: the draws' runs (median and 90 % over the "
        "weighted draws, each run with its own seed, at the calibration's scale) and the 90 % interval of a new "
        "observation (the runs plus the error model's error). Targets measured on other scenarios (the 2022 budget "
        f"cut) are checked by `tests/test_history.py`. The plot is `{out_dir}/predictive.png`.",
        "",
        "| target | observed | simulated, median | simulated, 90 % | new observation, 90 % | observed inside | fitted "
        "| source |",
        "|---|---|---|---|---|---|---|---|",
        *[f"| {r.target} | {_observed(r)} | {r.simulated_median:.4g} | {r.simulated_low:.4g} to {r.simulated_high:.4g} "
          f"| {r.predictive_low:.4g} to {r.predictive_high:.4g} | {'yes' if r.inside else '**no**'} | "
          f"{'yes' if r.calibrated else ''} | {r.source} |" for r in table.itertuples()],
        "",
    ]


def _truth(report: FitReport, out_dir: Path) -> list[str]:
    table = report.truth()
    return [
        "## What the targets cannot show: the true effect and selection",
        "",
        "The twin world of each draw's run gives the true effect of membership; the selection share is the part "
        "of the measured gap that is not. Posterior medians and 90 % intervals (parameter and seed uncertainty "
        f"together). The plot is `{out_dir}/truth.png`.",
        "",
        "| metric | quantity | median | 90 % interval |",
        "|---|---|---|---|",
        *[f"| {r.metric} | {r.quantity} | {r.median:.3g} | {r.low:.3g} to {r.high:.3g} |" for r in table.itertuples()],
        "",
    ]


def _baseline(report: FitReport, out_dir: Path) -> list[str]:
    c, post = report.calibration, report.posterior
    lines = ["## The baseline: the central draw", ""]
    central = None if post is None or report.central is None else post.draws.iloc[report.central]
    if central is not None and all(math.isclose(central[n], report.values[n], rel_tol=1e-9) for n in c.parameters):
        lines += [f"`{c.output.name}` holds draw {int(central['evaluation'])} of generation "
                  f"{int(central['generation'])} (run seed {int(central['draw_seed'])}): of the draws that meet "
                  "every fitted target (in expectation, emulated from the draws' runs, for the emulator method), "
                  "the one nearest the weighted posterior median of every parameter and "
                  "of the true effect and selection share of value added, distances in posterior standard "
                  "deviations. A real draw, so the baseline is a parameter set the posterior "
                  "holds; its values are in the parameter table.", ""]
    else:
        lines += [f"The check ran the values `{c.output.name}` holds now (the parameter table's last column), not the "
                  "posterior's central draw: `run.py calibrate --apply` commits that.", ""]
    if report.fit is None:
        return [*lines, "The check did not run (`--no-check`).", ""]
    settings = ", ".join(f"{k} = {v}" for k, v in c.check_fixed.items())
    lines += [
        f"`{c.scenario_path.name}` with these values, as committed ({settings}; the baseline runs at full scale), on "
        f"seeds 0-{len(c.check_seeds) - 1}: mean over the seeds and its 95 % interval; `met` is within the "
        "tolerance (a miss of one sd is no failure: the posterior predictive above is the test of the fit). "
        f"Profile by years since joining: `{out_dir}/profile.png`.",
        "",
        "| target | observed | simulated | 95 % interval | met | fitted |",
        "|---|---|---|---|---|---|",
        *[f"| {r.target} | {_observed(r)} | {r.simulated:.4g} | {r.ci_low:.4g} to {r.ci_high:.4g} | "
          f"{'yes' if r.met else 'no'} | {'yes' if r.calibrated else ''} |" for r in report.fit.itertuples()],
        "",
        "| metric | quantity | mean | 95 % interval |",
        "|---|---|---|---|",
        *[f"| {r.metric} | {r.quantity} | {r.mean:.3g} | {r.ci_low:.3g} to {r.ci_high:.3g} |"
          for r in report.check_truth().itertuples()],
        "",
        "These intervals are over seeds at one parameter set; the posterior intervals above hold the parameters' "
        "uncertainty too.",
        "",
    ]
    return lines + _scale(report)


def _scale(report: FitReport) -> list[str]:
    """The fitted targets at the calibration's scale and at full scale, on the same seeds."""
    if report.scale_fit is None:
        return []
    c = report.calibration
    small = report.scale_fit.set_index("target")
    rows = [r for r in report.fit.itertuples() if r.calibrated and r.target in small.index]
    return [
        f"The same seeds at the calibration's scale (population.scale = {c.base['population']['scale']:g}), where "
        "the posterior was found, beside the full economy: a difference larger than the intervals is a bias of "
        "the scale that the posterior cannot see.",
        "",
        "| target | observed | at the calibration's scale | at full scale | full minus calibration scale |",
        "|---|---|---|---|---|",
        *[f"| {r.target} | {_observed(r)} | {small.loc[r.target, 'simulated']:.4g} "
          f"({small.loc[r.target, 'ci_low']:.4g} to {small.loc[r.target, 'ci_high']:.4g}) | {r.simulated:.4g} | "
          f"{r.simulated - small.loc[r.target, 'simulated']:+.3g} |" for r in rows],
        "",
    ]


def _totals(report: FitReport, out_dir: Path) -> list[str]:
    table = totals_table(report)
    return [
        "## The economy against Norway's business sector",
        "",
        "The model holds the business sector's employer enterprises. Its totals in the check (mean over seeds) "
        f"beside Statistics Norway's, keys of docs/sources.md; the path over the years is `{out_dir}/totals.png`. "
        "Not fitted: the labour supply (`[labour]`) bounds man-years. Value added follows from the sectors' "
        "value added per man-year, scaled by `population.value_added_level`, which the calibration sets with the "
        "central draw so that value added in 2020 is Statistics Norway's: one proportional step on the check's "
        "seeds at the calibration's scale (the level moves no growth rate; only membership's cost weighs against "
        "a firm's value added)." + _level(report),
        "",
        "| total | year | observed | simulated | simulated / observed | source | what it counts |",
        "|---|---|---|---|---|---|---|",
        *[f"| {r.total} | {r.year} | {r.observed:,.0f} | {r.simulated:,.0f} | {r.ratio:.2f} | {r.source} | "
          f"{r.counts} |" for r in table.itertuples()],
        "",
    ]


def _level(report: FitReport) -> str:
    if report.level is None:
        return ""
    level, before = report.level
    return f" This calibration set it to {level:.4g}; before, value added was {before:.2f} times Norway's."


def _coverage(report: FitReport) -> list[str]:
    c, summary = report.calibration, coverage(report.coverage)
    cases = int(report.coverage["case"].nunique())
    if c.method == "emulator":
        how = (f"{cases} runs of the design (draws from the priors, each with a seed of its own), each observed "
               "through the error model, then calibrated like the published figures by the emulators fitted to "
               "every other run (the search that proposes a wave; no new runs). This checks the emulators and "
               "their error model, the part of the method that can be wrong; a wave's weights only correct it.")
    else:
        complete = report.coverage.groupby("case")["temperature"].first().le(1.0).sum()
        how = (f"{cases} parameter sets drawn from the priors, each simulated once and observed through the error "
               f"model, then calibrated like the published figures at a smaller budget ({c.sbc.population} draws, "
               f"at most {c.sbc.generations} generations; {complete} of {cases} reached temperature 1).")
    return [
        "## Does it work? Simulation-based calibration",
        "",
        f"{how} A 90 % interval should hold its truth in about 90 % of the cases; with {cases} cases a calibrated "
        f"method covers between the two counts given 90 % of the time. Rows per case: `{c.coverage.name}`.",
        "",
        "| quantity | covered | share | expected if calibrated |",
        "|---|---|---|---|",
        *[f"| {r.quantity} | {r.covered} of {r.cases} | {r.share:.0%} | {r.expected_low}-{r.expected_high} |"
          for r in summary.itertuples()],
        "",
    ]


def _observed(row: object) -> str:
    if getattr(row, "compare", "equal") == "at_least":
        return f">= {row.observed:g}"
    return f"{row.observed:g} ± {row.tolerance:g}"


def _settings(base: dict) -> str:
    return (f"population.scale = {base['population']['scale']:g}, {base['scenario']['start_year']}-"
            f"{base['scenario']['end_year']}")
