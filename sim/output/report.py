"""The analyst's report: one self-contained HTML file from one or two sets of run folders.

A run set (:mod:`sim.output.run_sets`) is a run folder written by ``run.py run`` or a folder of
such run folders, e.g. the seeds of one scenario in ``results/<scenario>/``. Several seeds give
every figure a 95 % interval; two run sets give a comparison, paired by seed where both have the
same seeds (:mod:`sim.output.intervals`). The report reads the files only: it never recomputes
the model. The page is one HTML file with its plots inside (:mod:`sim.output.report_html`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.output import plots
from sim.output.intervals import difference, interval, paired
from sim.output.report_html import cell_interval, escape, image, page, paragraphs
from sim.output.run_sets import RunSet, load_runs
from sim.scenario.errors import ScenarioError
from sim.scenario.explain import parameters

TABLE_EVERY_YEARS = 5
HEADLINE = {  # yearly column -> (label, unit divisor, unit)
    "firms": ("Firms", 1.0, "enterprises"),
    "members": ("Cluster members", 1.0, "firms"),
    "clusters": ("Clusters in the programme", 1.0, "clusters"),
    "employment": ("Employment", 1.0, "man-years"),
    "value_added_nok": ("Value added", 1e9, "NOK bn"),
    "innovations": ("Innovating firms", 1.0, "firms a year"),
    "ties": ("Collaboration ties", 1.0, "ties"),
}
COLOURS = ("#1f77b4", "#d62728")  # reference, alternative


def write_report(a: str | Path, b: str | Path | None = None, out: str | Path | None = None) -> Path:
    """Write the report of one run set, or the comparison of two.

    Args:
        a: Run folder (or folder of run folders); in a comparison, the reference.
        b: The alternative, or None.
        out: The HTML file; default ``<a>/report.html``, or ``<b>/report_vs_<a's scenario>.html``.

    Returns:
        The file written.

    Raises:
        ScenarioError: A folder cannot be read, or the file cannot be written.
    """
    first = load_runs(a)
    second = load_runs(b) if b is not None else None
    if out is None:
        out = second.folder / f"report_vs_{first.name}.html" if second else first.folder / "report.html"
    text = render(first, second)
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        raise ScenarioError(str(out), "", f"cannot write the report ({exc.strerror or exc})") from None
    return out


def render(a: RunSet, b: RunSet | None = None) -> str:
    """The report as HTML text.

    Args:
        a: The run set (the reference in a comparison).
        b: The alternative, or None.

    Returns:
        A complete HTML document.
    """
    sets = [a] if b is None else [a, b]
    title = f"Scenario {a.name}" if b is None else f"Scenario {b.name} compared with {a.name}"
    description = _scenario_meta(a).get("description", "") if b is None else _scenario_meta(b).get("description", "")
    parts = [
        f"<h1>{escape(title)}</h1>",
        paragraphs(description),
        f"<p class='note'>Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by nic-sim {escape(version('nic-sim'))} "
        "from the run folders below. Counts and sums are for all of Norway (the simulated firms divided by "
        "the population scale). Intervals are 95 % intervals of the mean over seeds (Student's t); "
        "a single seed gives none.</p>",
        "<h2>Headline figures</h2>", _headline(sets),
        "<h2>Over time</h2>", _plots(sets),
        "<h2>Year by year</h2>", "".join(_yearly_table(s) for s in sets),
        _effects(sets),
        "<h2>Clusters in the last year</h2>", "".join(_clusters_table(s) for s in sets),
        "<h2>Provenance</h2>", "".join(_provenance(s) for s in sets),
        "<h2>Scenario parameters</h2>", _parameters(sets),
    ]
    return page(title, parts)


# --- sections ------------------------------------------------------------------------------------

def _headline(sets: list[RunSet]) -> str:
    rows = []
    for label, values in _headline_values(sets).items():
        cells = [cell_interval(interval(v)) for v in values["sets"]]
        if len(sets) == 2:
            cells.append(cell_interval(difference(sets, values["sets"])))
        rows.append(f"<tr><td class='l'>{escape(label)}</td>{''.join(cells)}</tr>")
    head = "".join(f"<th>{escape(s.name)} ({len(s.runs)} seed{'s' if len(s.runs) != 1 else ''})</th>" for s in sets)
    if len(sets) == 2:
        head += f"<th>{escape(sets[1].name)} minus {escape(sets[0].name)}</th>"
    note = ("<p class='note'>Differences are paired by seed: both scenarios ran with the same seeds, so each pair "
            "shares its firms and their luck.</p>" if len(sets) == 2 and paired(sets) else "")
    return f"<table><tr><th class='l'>figure</th>{head}</tr>{''.join(rows)}</table>{note}"


def _headline_values(sets: list[RunSet]) -> dict[str, dict[str, list[pd.Series]]]:
    """Per figure, one series of per-seed values for each run set (indexed by seed)."""
    out: dict[str, dict[str, list[pd.Series]]] = {}
    last_year = min(int(s.yearly["year"].max()) for s in sets)
    for column, (label, divisor, unit) in HEADLINE.items():
        out[f"{label} in {last_year} ({unit})"] = {"sets": [
            s.yearly[s.yearly["year"] == last_year].set_index("seed")[column] / divisor for s in sets]}
    out["Employment growth (% a year)"] = {"sets": [_per_seed(s, _growth_pct) for s in sets]}
    out["Programme spend, all years (NOK m)"] = {"sets": [
        s.yearly.groupby("seed")["programme_spend_nok"].sum() / 1e6 for s in sets]}
    out["Members' value added growth minus non-members' (pp a year, mean over years)"] = {"sets": [
        _per_seed(s, _member_gap) for s in sets]}
    return out


def _plots(sets: list[RunSet]) -> str:
    figures = [
        _band_figure(sets, "employment", "Employment", "man-years (thousands)", 1e3),
        _band_figure(sets, "value_added_nok", "Value added", "NOK bn", 1e9),
        _band_figure(sets, "members", "Cluster members", "firms", 1.0),
        _band_figure(sets, "clusters", "Clusters in the programme", "clusters", 1.0),
    ]
    for s in sets:
        mean = s.yearly.groupby("year", as_index=False).mean(numeric_only=True)
        figures.append(_titled(plots.clusters_by_level_figure(mean), f"{s.name}: clusters by level (mean over seeds)"))
        growth = plots.member_growth_from_yearly(mean)
        if growth is not None:
            figures.append(_titled(plots.member_growth_figure(growth),
                                   f"{s.name}: members vs non-members (mean over seeds)"))
    band = "Lines are means over seeds; bands their 95 % intervals." if any(len(s.runs) > 1 for s in sets) else ""
    return "".join(image(alt, fig) for alt, fig in figures) + (f"<p class='note'>{band}</p>" if band else "")


def _yearly_table(s: RunSet) -> str:
    years = sorted(s.yearly["year"].unique())
    shown = [y for y in years if (y - years[0]) % TABLE_EVERY_YEARS == 0 or y == years[-1]]
    columns = ["firms", "members", "clusters", "employment", "value_added_nok", "innovations", "programme_spend_nok"]
    labels = ["firms", "members", "clusters", "employment (man-years)", "value added (NOK bn)", "innovating firms",
              "programme spend (NOK m)"]
    divisors = {"value_added_nok": 1e9, "programme_spend_nok": 1e6}
    rows = []
    for year in shown:
        here = s.yearly[s.yearly["year"] == year]
        cells = "".join(cell_interval(interval(here[c] / divisors.get(c, 1.0))) for c in columns)
        rows.append(f"<tr><td class='l'>{year}</td>{cells}</tr>")
    head = "".join(f"<th>{escape(x)}</th>" for x in labels)
    return f"<h3>{escape(s.name)}</h3><table><tr><th class='l'>year</th>{head}</tr>{''.join(rows)}</table>"


def _effects(sets: list[RunSet]) -> str:
    tables = []
    for s in sets:
        if s.effects is None:
            continue
        keys = [k for k in ("metric", "estimator") if k in s.effects.columns]
        rows = []
        for key, group in s.effects.groupby(keys):
            names = key if isinstance(key, tuple) else (key,)
            rows.append("<tr>" + "".join(f"<td class='l'>{escape(n)}</td>" for n in names)
                        + cell_interval(interval(group["gap_pp"])) + "</tr>")
        head = "".join(f"<th class='l'>{k}</th>" for k in keys)
        tables.append(f"<h3>{escape(s.name)}</h3><table><tr>{head}<th>gap (pp a year)</th></tr>{''.join(rows)}</table>")
    if not tables:
        return ""
    return ("<h2>Membership effects</h2><p class='note'>From each run's effects.csv: the published estimator "
            "(matched_did) and the model's true effect (true_effect), as gaps in yearly growth.</p>" + "".join(tables))


def _clusters_table(s: RunSet) -> str:
    if s.clusters.empty:
        return f"<p class='note'>{escape(s.name)}: no clusters.csv.</p>"
    last = s.clusters[s.clusters["year"] == s.clusters["year"].max()]
    rows = []
    for (name, region, sector), group in last.groupby(["name", "region", "sector"], sort=True):
        levels = group["level"].value_counts()
        members = interval(group["members"])
        rows.append(f"<tr><td class='l'>{escape(name)}</td><td class='l'>{escape(region)}</td>"
                    f"<td class='l'>{escape(sector)}</td><td class='l'>{escape(levels.index[0])}</td>"
                    f"<td>{len(group)} of {len(s.runs)}</td>"
                    f"{cell_interval(members)}</tr>")
    return (f"<h3>{escape(s.name)}, {int(last['year'].max())}</h3><table><tr><th class='l'>cluster</th>"
            "<th class='l'>county</th><th class='l'>sector</th><th class='l'>level</th><th>in runs</th>"
            f"<th>members (full scale)</th></tr>{''.join(rows)}</table>")


def _provenance(s: RunSet) -> str:
    rows = []
    for summary in s.summaries:
        versions = summary.get("versions", {})
        rows.append("<tr>" + "".join(f"<td class='l'>{escape(x)}</td>" for x in (
            summary["run"], summary.get("seed", ""), summary["run_at"],
            "-".join(str(y) for y in summary.get("years", [])), f"{summary.get('scale', '')}",
            ", ".join(f"{k} {v}" for k, v in versions.items()), f"{summary.get('wall_time_s', '')} s")) + "</tr>")
    return (f"<h3>{escape(s.name)}: {escape(s.folder)}</h3><table><tr><th class='l'>run</th><th class='l'>seed</th>"
            "<th class='l'>run at</th><th class='l'>years</th><th class='l'>scale</th><th class='l'>versions</th>"
            f"<th class='l'>wall time</th></tr>{''.join(rows)}</table>")


def _parameters(sets: list[RunSet]) -> str:
    flat = [_flatten(s.scenario) for s in sets]
    units = _units()
    out = []
    if len(sets) == 2:
        keys = sorted(set(flat[0]) | set(flat[1]))
        differ = [k for k in keys if flat[0].get(k) != flat[1].get(k) and not k.startswith("scenario.")]
        rows = "".join(f"<tr><td class='l'>{escape(k)}</td><td class='l'>{escape(flat[0].get(k, '-'))}</td>"
                       f"<td class='l'>{escape(flat[1].get(k, '-'))}</td>"
                       f"<td class='l'>{escape(_unit(units, k))}</td></tr>" for k in differ)
        out.append(f"<h3>What differs</h3><table><tr><th class='l'>key</th><th class='l'>{escape(sets[0].name)}</th>"
                   f"<th class='l'>{escape(sets[1].name)}</th><th class='l'>unit</th></tr>{rows}</table>"
                   if differ else "<p>The two scenarios have the same parameters.</p>")
    for s, values in zip(sets, flat, strict=True):
        rows = "".join(f"<tr><td class='l'>{escape(k)}</td><td class='l'>{escape(v)}</td>"
                       f"<td class='l'>{escape(_unit(units, k))}</td></tr>" for k, v in values.items())
        out.append(f"<details><summary>Every parameter of {escape(s.name)} ({len(values)} values, "
                   "from its scenario.toml)</summary><table><tr><th class='l'>key</th><th class='l'>value</th>"
                   f"<th class='l'>unit</th></tr>{rows}</table></details>")
    return "".join(out)


# --- helpers -------------------------------------------------------------------------------------

def _per_seed(s: RunSet, fn: Callable[[pd.DataFrame], float]) -> pd.Series:
    return s.yearly.groupby("seed").apply(fn, include_groups=False)


def _growth_pct(yearly: pd.DataFrame) -> float:
    first, last = yearly.iloc[0], yearly.iloc[-1]
    years = max(int(last["year"] - first["year"]), 1)
    return float(100.0 * np.expm1(np.log(last["employment"] / first["employment"]) / years))


def _member_gap(yearly: pd.DataFrame) -> float:
    members, others = "growth_members_value_added_nok_pct", "growth_nonmembers_value_added_nok_pct"
    if members not in yearly.columns:
        return np.nan
    return float((yearly[members] - yearly[others]).mean())


def _band_figure(sets: list[RunSet], column: str, title: str, unit: str, divisor: float) -> tuple[str, Figure]:
    fig = plots.blank_figure()
    ax = fig.subplots()
    for s, colour in zip(sets, COLOURS, strict=False):
        by_year = s.yearly.groupby("year")[column]
        bounds = np.array([interval(v / divisor) for _, v in by_year])
        years = np.array(sorted(s.yearly["year"].unique()))
        ax.plot(years, bounds[:, 0], color=colour, label=s.name)
        if len(s.runs) > 1:
            ax.fill_between(years, bounds[:, 1], bounds[:, 2], color=colour, alpha=0.2, linewidth=0)
    ax.set(title=title, xlabel="Year", ylabel=unit)
    ax.legend()
    return title, fig


def _titled(fig: Figure, title: str) -> tuple[str, Figure]:
    fig.suptitle(title)
    return title, fig


def _flatten(tables: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in tables.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                out.update(_flatten(item, f"{name}.{i}."))
        else:
            out[name] = json.dumps(value, ensure_ascii=False) if isinstance(value, list) else str(value)
    return out


def _units() -> dict[str, str]:
    """Units by key pattern from the schema (``regions.<name>.lat`` style)."""
    return {p.key: p.unit for p in parameters()}


def _unit(units: dict[str, str], key: str) -> str:
    if key in units:
        return units[key]
    parts = key.split(".")
    for pattern in (".".join([parts[0], "<name>", *parts[2:]]), ".".join([parts[0] + "[]", *parts[2:]])):
        if pattern in units:
            return units[pattern]
    return ""


def _scenario_meta(s: RunSet) -> dict[str, Any]:
    return s.scenario.get("scenario", {})
