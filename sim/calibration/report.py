"""The calibration's fit report: tables in Markdown and CSV, convergence and profile plots (PNG).

Drawn with :class:`matplotlib.figure.Figure` and the Agg backend, as in :mod:`sim.output.plots`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.calibration.spec import Calibration
from sim.output.plots import METRIC_LABELS, blank_figure, save

EFFECT_ROWS = {"value_added": "value added", "revenue": "sales", "man_years": "man-years"}


@dataclass
class FitReport:
    """Everything the report shows.

    Attributes:
        calibration: The set-up.
        trials: :func:`sim.calibration.fit.trials_table`.
        best: The best trial's parameter values.
        fit: :func:`sim.calibration.fit.fit_table` of the check.
        per_seed: The check's inputs, one row per seed.
        timings: Label -> seconds (calibration, check).
    """

    calibration: Calibration
    trials: pd.DataFrame
    best: dict[str, float]
    fit: pd.DataFrame
    per_seed: pd.DataFrame
    timings: dict[str, float]

    def truth(self) -> pd.DataFrame:
        """Measured gap, true effect and selection share per metric.

        Returns:
            One row per metric and quantity: the mean over seeds and the 95 % interval of that mean.
        """
        rows = []
        for metric, label in EFFECT_ROWS.items():
            for kind, column in (("measured gap (pp)", f"gap_{metric}_pp"), ("true effect (pp)", f"true_{metric}_pp"),
                                 ("selection share", f"selection_share_{metric}")):
                if column in self.per_seed:
                    values = self.per_seed[column].to_numpy(float)
                    rows.append({"metric": label, "quantity": kind, "mean": np.nanmean(values),
                                 "ci_low": _mean_ci(values)[0], "ci_high": _mean_ci(values)[1]})
        return pd.DataFrame(rows)

    def acceptable(self) -> pd.DataFrame:
        """Trials whose calibrated targets are all met (at the calibration's scale and seeds)."""
        names = [t.name for t in self.calibration.objective_targets]
        if self.trials.empty:
            return self.trials
        met = np.ones(len(self.trials), dtype=bool)
        for t in self.calibration.objective_targets:
            met &= self.trials[t.name].map(t.met).to_numpy(bool)
        return self.trials[met][["trial", "objective", *self.calibration.parameters, *names,
                                 *[c for c in self.trials.columns if c.startswith(("true_", "selection_share_"))
                                   and "_year" not in c]]]


RESAMPLES = 2000


def _mean_ci(values: np.ndarray) -> tuple[float, float]:
    """A 95 % interval of the mean over seeds: a bootstrap over seeds, as in the fit table."""
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return np.nan, np.nan
    draws = np.random.default_rng(0).integers(0, len(values), size=(RESAMPLES, len(values)))
    lo, hi = np.quantile(values[draws].mean(axis=1), [0.025, 0.975])
    return float(lo), float(hi)


def convergence_figure(report: FitReport) -> Figure:
    """Objective of every trial with the best so far; the calibrated targets of the best so far.

    Args:
        report: The report.

    Returns:
        A figure with two axes.
    """
    fig = blank_figure()
    fig.set_size_inches(9.0, 5.5)
    left, right = fig.subplots(1, 2)
    trials = report.trials
    targets = report.calibration.objective_targets
    if not trials.empty:
        best = trials["objective"].cummin()
        left.scatter(trials["trial"], trials["objective"], s=8, alpha=0.4, label="trial")
        left.plot(trials["trial"], best, color="tab:red", label="best so far")
        left.set_yscale("log")
        incumbent = trials.loc[[trials["objective"].iloc[: i + 1].idxmin() for i in range(len(trials))]]
        colours = matplotlib.colormaps["tab20"].colors
        for i, t in enumerate(targets):
            miss = (incumbent[t.name].to_numpy() - t.value) / t.tolerance
            if t.compare == "at_least":  # only a shortfall misses
                miss = np.minimum(miss, 0.0)
            right.plot(trials["trial"], miss, label=t.name, color=colours[i % len(colours)])
        left.legend(fontsize="small")
        fig.legend(*right.get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize="x-small")
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set(title="Objective", xlabel="Trial", ylabel="Sum of squared misses (tolerances)")
    right.axhspan(-1, 1, color="grey", alpha=0.15)
    right.set(title="Best trial so far: target misses", xlabel="Trial", ylabel="(simulated - observed) / tolerance")
    return fig


# Norway's business sector as Statistics Norway measures it: (year, value, source key, what it counts).
OBSERVED_TOTALS: dict[str, list[tuple[int, float, str, str]]] = {
    "employment": [
        (2001, 1_433_819, "SSB-DEM-2001-2005", "employees of the enterprise stock on 1 January (no primary "
                                               "industries or public administration)"),
        (2020, 1_663_059, "SSB-SBS-2021", "persons employed in the business sector's 12 sections of the structural "
                                          "business statistics"),
    ],
    "value_added_nok": [
        (2020, 1_345_671e6, "SSB-SBS-2021", "value added at factor cost in the same 12 sections (no electricity, "
                                            "primary industries, finance, oil and gas extraction)"),
    ],
}
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
            bands = np.array([_mean_ci(report.per_seed[c].to_numpy(float)) for c in columns])
            line, = ax.plot(years, means, marker="o", label=label)
            ax.fill_between(years, bands[:, 0], bands[:, 1], color=line.get_color(), alpha=0.2)
        target = targets.get(f"gap_{metric}_pp")
        if target is not None:
            ax.hlines(target.value, 1, 3, colors="black", linestyles="dashed", label="published, years 1-3")
        ax.set(title=title, xlabel="Years since joining")
    axes[0].set_ylabel("Members' growth minus matched (pp per year)")
    axes[0].legend(fontsize="x-small")
    fig.suptitle(f"Calibrated baseline, {len(report.per_seed)} seeds (95 % intervals of the mean)")
    return fig


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
    files = {
        out_dir / "trials.csv": report.trials, out_dir / "fit.csv": report.fit,
        out_dir / "check_seeds.csv": report.per_seed, out_dir / "truth.csv": report.truth(),
        out_dir / "totals.csv": totals_table(report),
    }
    for path, table in files.items():
        table.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")
    written = [*files, save(convergence_figure(report), out_dir / "convergence.png"),
               save(profile_figure(report), out_dir / "profile.png"),
               save(totals_figure(report), out_dir / "totals.png")]
    path = markdown_path or report.calibration.report
    path.write_text(markdown(report, out_dir), encoding="utf-8", newline="\n")
    return [*written, path]


def markdown(report: FitReport, out_dir: Path) -> str:
    """The report as Markdown text.

    Args:
        report: The report.
        out_dir: Folder of the tables and plots, named in the text.

    Returns:
        The Markdown.
    """
    c, fit = report.calibration, report.fit
    met = int(fit["met"].sum()) if len(fit) else 0
    lines = [
        f"# Calibration fit: {c.study}",
        "",
        f"Written by `python run.py calibrate` from `{c.source.name}` and `targets.toml`. "
        f"{len(report.trials)} finished trials on {len(c.seeds)} seeds each (common random numbers), "
        f"{_settings(c.base)}; the check runs `{c.scenario_path.name}` as committed "
        f"({', '.join(f'{k} = {v}' for k, v in c.check_fixed.items())}) on seeds 0-{len(c.check_seeds) - 1}. "
        f"Figures and tables: `{out_dir}/`.",
        "",
        "| step | wall time |",
        "|---|---|",
        *[f"| {label} | {seconds / 60:.1f} min |" for label, seconds in report.timings.items()],
        "",
        "## Fitted parameters",
        "",
        "| parameter | value | range | sets | source |",
        "|---|---|---|---|---|",
        *[f"| {name} | {report.best.get(name, np.nan):.4g}{_bound_note(report.best.get(name, np.nan), p)} | "
          f"{p.low:g}-{p.high:g}{' (factor)' if p.factor else ''} | "
          f"{', '.join(f'`{k}`' for k in p.keys)} | {p.source} |" for name, p in c.parameters.items()],
        "",
        "A value within 2 % of the range's width from an end is marked: the fit would move it further if "
        "the range allowed, so the range is doing work there.",
        "",
        f"## Targets ({met} of {len(fit)} met; mean over the check's seeds, 95 % interval)",
        "",
        "| target | observed | simulated | 95 % interval | met | in objective | source |",
        "|---|---|---|---|---|---|---|",
        *[f"| {r.target} | {_observed(r)} | {r.simulated:.4g} | {r.ci_low:.4g} to {r.ci_high:.4g} | "
          f"{'yes' if r.met else '**no**'} | {'yes' if r.calibrated else ''} | {r.source} |" for r in fit.itertuples()],
        "",
        "Targets measured on other scenarios (the 2022 budget cut) are checked by `tests/test_history.py`.",
        "",
        "## Selection and treatment in the calibrated baseline",
        "",
        "| metric | quantity | mean | 95 % interval |",
        "|---|---|---|---|",
        *[f"| {r.metric} | {r.quantity} | {r.mean:.3g} | {r.ci_low:.3g} to {r.ci_high:.3g} |"
          for r in report.truth().itertuples()],
        "",
    ]
    lines += _totals(report, out_dir)
    lines += _identified(report)
    return "\n".join(lines) + "\n"


def _totals(report: FitReport, out_dir: Path) -> list[str]:
    table = totals_table(report)
    return [
        "## The economy against Norway's business sector",
        "",
        "The model holds the business sector's employer enterprises. Its totals (mean over the check's seeds) "
        f"beside Statistics Norway's, keys of docs/sources.md; the path over the years is `{out_dir}/totals.png`. "
        "Not fitted: the labour supply (`[labour]`) bounds man-years, value added follows from the sectors' "
        "value added per man-year.",
        "",
        "| total | year | observed | simulated | simulated / observed | source | what it counts |",
        "|---|---|---|---|---|---|---|",
        *[f"| {r.total} | {r.year} | {r.observed:,.0f} | {r.simulated:,.0f} | {r.ratio:.2f} | {r.source} | "
          f"{r.counts} |" for r in table.itertuples()],
        "",
    ]


def _identified(report: FitReport) -> list[str]:
    """How well the targets pin down the split: the truth across every trial that fits."""
    ok = report.acceptable()
    lines = ["## How well the targets identify the split", ""]
    truth = [c for c in ("true_value_added_pp", "selection_share_value_added") if c in ok.columns]
    if ok.empty or not truth:
        return [*lines, "No trial met every calibrated target, or trials ran without the twin world.", ""]
    lines.append(f"{len(ok)} of {len(report.trials)} trials meet every calibrated target at the calibration's "
                 "scale. Across them:")
    lines.append("")
    for column in truth:
        lines.append(f"- `{column}` ranges {ok[column].min():.3g} to {ok[column].max():.3g} "
                     f"(median {ok[column].median():.3g})")
    lines += ["", "The published gaps alone cannot tell selection from treatment: the range above is what "
              "the parameter ranges of `parameters.toml` allow. `python run.py sensitivity` shows which "
              "parameters move each.", ""]
    return lines


BOUND_SHARE = 0.02  # a fitted value this close to an end of its range (share of the width) is flagged


def _bound_note(value: float, p) -> str:
    width = p.high - p.low
    if value - p.low <= BOUND_SHARE * width:
        return " (at low end)"
    if p.high - value <= BOUND_SHARE * width:
        return " (at high end)"
    return ""


def _observed(row) -> str:
    if row.compare == "at_least":
        return f">= {row.observed:g}"
    return f"{row.observed:g} ± {row.tolerance:g}"


def _settings(base: dict) -> str:
    return (f"population.scale = {base['population']['scale']:g}, {base['scenario']['start_year']}-"
            f"{base['scenario']['end_year']}")
