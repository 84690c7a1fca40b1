"""The analyst's report: one self-contained HTML file from one or two sets of run folders.

A run set (:mod:`sim.output.run_sets`) is a run folder written by ``run.py run`` or a folder of
such run folders, e.g. the seeds of one scenario in ``results/<scenario>/``. Several seeds give
every figure a 95 % interval; two run sets give a comparison, paired by seed where both have the
same seeds (:mod:`sim.output.intervals`). A comparison made over a calibration's posterior
(``compare --posterior``) gives each policy answer and each scenario's membership effect its 90 %
interval over draws x seeds, with the parameters' and the seeds' parts. The report reads the files
only: it never recomputes the model. The page is one HTML file with its plots inside (:mod:`sim.output.report_html`).
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

from sim.output import compare_plots, plots
from sim.output.answers import (
    DISCOUNT_SOURCE,
    SEEDS_ONLY,
    answers,
    in_unit,
    membership_effects,
    parts_text,
    plain,
    yearly_difference,
)
from sim.output.assumptions import assumptions, switch_text
from sim.output.intervals import SEEDS_NOTE, difference, interval, paired
from sim.output.report_html import cell_interval, escape, image, number, page, paragraphs
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
COMPARISON_FILE = "compare.json"  # marks a folder written by `run.py compare`
DIFFERENCE_COLUMNS = ["employment", "value_added_nok", "members", "clusters", "programme_spend_nok",
                      "lever_spend_nok"]


def write_report(a: str | Path, b: str | Path | None = None, out: str | Path | None = None) -> Path:
    """Write the report of one run set, or the comparison of two.

    A folder written by ``run.py compare`` (it holds ``compare.json``) is a comparison on its own:
    its ``a/`` and ``b/`` runs, its years and its ablation; the report goes to ``<folder>/report.html``.

    Args:
        a: Run folder (or folder of run folders, or a comparison folder); in a comparison, the reference.
        b: The alternative, or None.
        out: The HTML file; default ``<a>/report.html``, or ``<b>/report_vs_<a's scenario>.html``.

    Returns:
        The file written.

    Raises:
        ScenarioError: A folder cannot be read, or the file cannot be written.
    """
    comparison = _comparison(Path(a)) if b is None else None
    if comparison is not None:
        vary = tuple(comparison.get("posterior", {}).get("keys", ()))
        first, second = load_runs(Path(a) / "a", vary), load_runs(Path(a) / "b", vary)
        out = out or Path(a) / "report.html"
    else:
        first = load_runs(a)
        second = load_runs(b) if b is not None else None
    if out is None:
        out = second.folder / f"report_vs_{first.name}.html" if second else first.folder / "report.html"
    text = render(first, second, comparison)
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        raise ScenarioError(str(out), "", f"cannot write the report ({exc.strerror or exc})") from None
    return out


def _comparison(folder: Path) -> dict | None:
    """A comparison folder's ``compare.json`` (with its folder), or None for other folders."""
    path = folder / COMPARISON_FILE
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScenarioError(str(path), "", f"cannot be read ({exc.__class__.__name__})") from None
    return meta | {"folder": folder}


def render(a: RunSet, b: RunSet | None = None, comparison: dict | None = None) -> str:
    """The report as HTML text.

    Args:
        a: The run set (the reference in a comparison).
        b: The alternative, or None.
        comparison: ``compare.json`` of a comparison folder (its years, ablation), or None.

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
        f"the population scale). {escape(SEEDS_NOTE)}</p>",
        _answers(sets, comparison) if b is not None else "",
        _posterior(sets, comparison),
        "<h2>Assumptions these figures depend on</h2>", _assumptions(sets, comparison),
        "<h2>Headline figures</h2>", _headline(sets),
        "<h2>Over time</h2>", _plots(sets),
        _difference(sets, comparison) if b is not None else "",
        "<h2>Year by year</h2>", "".join(_yearly_table(s) for s in sets),
        _effects(sets),
        _dynamics(sets),
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


# The firm-dynamics rows the report shows: (measure, by), in this order; the CSV holds them all.
DYNAMICS_SHOWN = (("survival", "years_since_birth"), ("exit_rate", "age_class"), ("growth_mean", "age_class"),
                  ("growth_autocorrelation", "all"), ("growth_excess_kurtosis", "all"),
                  ("growth_within_1sd", "all"), ("joiner_size_median", "all"), ("joiner_under_5_share", "all"))


def _dynamics(sets: list[RunSet]) -> str:
    """Firm dynamics beside the register's: each run's firm_dynamics.csv, over seeds."""
    tables, figure = [], ""
    for s in sets:
        found = [pd.read_csv(run / "firm_dynamics.csv").assign(seed=seed)
                 for run, seed in zip(s.runs, s.seeds, strict=True) if (run / "firm_dynamics.csv").is_file()]
        if not found:
            continue
        table = pd.concat(found, ignore_index=True)
        rows = []
        for measure, by in DYNAMICS_SHOWN:
            part = table[(table["measure"] == measure) & (table["by"] == by)]
            for (group, unit), values in part.groupby(["group", "unit"], sort=False):
                mark = values["benchmark"].iloc[0]
                published = number(mark) if pd.notna(mark) else _text(values["benchmark_note"].iloc[0])
                period = " / ".join(dict.fromkeys(values["period"].astype(str)))  # joiners' years differ by seed
                rows.append(f"<tr><td class='l'>{escape(measure)}</td><td class='l'>{escape(group)}</td>"
                            f"<td class='l'>{escape(period)}</td>{cell_interval(interval(values['value']))}"
                            f"<td class='l'>{escape(unit)}</td><td class='l'>{published}</td>"
                            f"<td class='l'>{_text(values['benchmark_source'].iloc[0])}</td></tr>")
        tables.append(f"<h3>{escape(s.name)}</h3><table><tr><th class='l'>measure</th><th class='l'>group</th>"
                      "<th class='l'>years</th><th>simulated</th><th class='l'>unit</th><th class='l'>published</th>"
                      f"<th class='l'>source</th></tr>{''.join(rows)}</table>")
        if not figure:
            figure = image(f"Firm dynamics of {s.name}, seed {s.seeds[0]}", plots.firm_dynamics_figure(found[0]))
    if not tables:
        return ""
    return ("<h2>Firm dynamics against the register</h2><p class='note'>From each run's firm_dynamics.csv "
            "(all its rows are there): survival, exit and growth by age, the shape and persistence of growth, "
            "and who joins, beside the published figures (keys of docs/sources.md; a note where a study gives "
            "a sign or shape, not a number). The plot is of the first seed.</p>" + "".join(tables) + figure)


def _text(value: Any) -> str:
    """A table's text cell: escaped, empty for a missing value (a CSV's empty cell reads as NaN)."""
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else escape(value)


def _clusters_table(s: RunSet) -> str:
    if s.clusters.empty:
        return f"<p class='note'>{escape(s.name)}: no clusters.csv.</p>"
    last = s.clusters[s.clusters["year"] == s.clusters["year"].max()]
    named = _named_clusters(s)
    admitted = last[~last["name"].isin(named)]
    last = last[last["name"].isin(named)]
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
            f"<th>members (full scale)</th></tr>{''.join(rows)}</table>" + _admitted_table(s, admitted))


def _named_clusters(s: RunSet) -> set[str]:
    """Clusters the scenario names (its list and its added clusters): the same organisation in every seed."""
    listed = s.scenario.get("clusters", []) + s.scenario.get("programme", {}).get("added_clusters", [])
    return {c["name"] for c in listed if isinstance(c, dict) and "name" in c}


def _admitted_table(s: RunSet, admitted: pd.DataFrame) -> str:
    """Clusters the model admitted in a run: different organisations in each seed, so counted by level, not named."""
    if admitted.empty:
        return ""
    seeds = s.clusters["seed"].unique()
    rows = []
    for level in plots.LEVEL_LABELS:
        here = admitted[admitted["level"] == level]
        if here.empty:
            continue
        count = here.groupby("seed").size().reindex(seeds, fill_value=0)
        members = here.groupby("seed")["members"].sum().reindex(seeds, fill_value=0)
        rows.append(f"<tr><td class='l'>{escape(level)}</td>{cell_interval(interval(count))}"
                    f"{cell_interval(interval(members))}</tr>")
    return ("<p class='note'>Clusters the model admitted in its calls are different organisations in each seed "
            "(their names only say level, sector, county and year), so they are counted by level here, not matched "
            f"across seeds.</p><table><tr><th class='l'>admitted by the model, level</th><th>clusters</th>"
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
        bounds = np.array([interval(v / divisor)[:3] for _, v in by_year])
        years = np.array(sorted(s.yearly["year"].unique()))
        ax.plot(years, bounds[:, 0], color=colour, label=s.name)
        if len(s.runs) > 1:
            ax.fill_between(years, bounds[:, 1], bounds[:, 2], color=colour, alpha=0.2, linewidth=0)
    ax.set(title=title, xlabel="Year", ylabel=unit)
    history = _history_until(sets[0])
    if history is not None:
        ax.axvline(history + 0.5, color="#777", linestyle=":", linewidth=1, label="history | projection")
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


# --- comparison sections ---------------------------------------------------------------------------

def _history_until(s: RunSet) -> int | None:
    value = s.scenario.get("programme", {}).get("history_until")
    return int(value) if value is not None else None


def _since(sets: list[RunSet], comparison: dict | None) -> int:
    if comparison is not None:
        return int(comparison["since"])
    history = _history_until(sets[0])
    first = int(sets[0].yearly["year"].min())
    return history + 1 if history is not None and history + 1 <= int(sets[0].yearly["year"].max()) else first


def _draw_of(comparison: dict | None) -> dict[int, int] | None:
    """Seed -> posterior draw of a comparison made with ``--posterior``, else None."""
    posterior = (comparison or {}).get("posterior")
    return None if posterior is None else {seed: d["draw"] for d in posterior["draws"] for seed in d["seeds"]}


def _answers(sets: list[RunSet], comparison: dict | None) -> str:
    if not paired(sets):
        return ("<h2>Policy answers</h2><p class='note'>Not given: the two run sets do not have the same seeds, so "
                "their runs do not pair up as common random numbers (run both with the same seeds, e.g. with "
                "run.py compare).</p>")
    since = _since(sets, comparison)
    draw_of = _draw_of(comparison)
    table = answers(sets[0].yearly, sets[1].yearly, since, draw_of=draw_of)
    end = int(min(s.yearly["year"].max() for s in sets))
    rows, reasons = [], []
    for r in table.itertuples():
        cells = []
        for x in (r.a_mean, r.b_mean):
            value, unit = in_unit(x, r.unit)
            cells.append(f"<td>{escape(plain(value)) if np.isfinite(value) else ''}</td>")
        value, unit = in_unit(r.difference, r.unit)
        low, _ = in_unit(r.low, r.unit)
        high, _ = in_unit(r.high, r.unit)
        if r.note:
            reasons.append(f"<li>{escape(r.label)}: {escape(r.note)}</li>")
            diff = "<td>see below</td>"
        else:
            span = f"<br><span class='note'>[{plain(low)}, {plain(high)}] {escape(r.interval)}</span>"
            diff = f"<td>{escape(plain(value))}{span if np.isfinite(low) else ''}</td>"
        parts = "".join(f"<td>{escape(x)}</td>" for x in parts_text(r._asdict())) if draw_of else ""
        rows.append(f"<tr><td class='l'>{escape(r.label)}</td><td class='l'>{escape(unit)}</td>{''.join(cells)}"
                    f"{diff}{parts}</tr>")
    head = (f"<tr><th class='l'>figure, {since}-{end}</th><th class='l'>unit</th><th>{escape(sets[0].name)}</th>"
            f"<th>{escape(sets[1].name)}</th><th>{escape(sets[1].name)} minus {escape(sets[0].name)}</th>"
            + (_PARTS_HEAD if draw_of else "") + "</tr>")
    uncertainty = "" if comparison is None else f" {comparison.get('uncertainty') or SEEDS_ONLY}"
    return ("<h2>Policy answers</h2>"
            f"<p class='note'>Years {since}-{end}, paired by seed. Man-years summed over the years count a job kept "
            "for ten years ten times. Cluster programme cost is the money paid to cluster organisations; other "
            "instruments are restructuring, corporate networks and Green Platform; public cost is both. "
            f"Discounted figures are discounted to {since} at {escape(DISCOUNT_SOURCE)}. A ratio is given only where "
            f"the interval of its denominator excludes zero.{escape(uncertainty)}</p>"
            f"<table>{head}{''.join(rows)}</table>" + (f"<ul class='note'>{''.join(reasons)}</ul>" if reasons else ""))


_PARTS_HEAD = ("<th>parameters<br><span class='note'>share of the variance: range of the draws' means</span></th>"
               "<th>seeds<br><span class='note'>share of the variance: sd within a draw</span></th>")


def _posterior(sets: list[RunSet], comparison: dict | None) -> str:
    """A comparison over a posterior: each scenario's membership effect with its parts, and the draws."""
    draw_of = _draw_of(comparison)
    if draw_of is None:
        return ""
    posterior = comparison["posterior"]
    effects = membership_effects([(s.name, s.headlines) for s in sets], draw_of)
    rows = "".join(f"<tr><td class='l'>{escape(r.scenario)}</td><td class='l'>{escape(r.label)}</td>"
                   f"<td class='l'>{escape(r.unit)}</td><td>{escape(plain(r.mean))}<br><span class='note'>"
                   f"[{plain(r.low)}, {plain(r.high)}] {escape(r.interval)}</span></td>"
                   + "".join(f"<td>{escape(x)}</td>" for x in parts_text(r._asdict())) + "</tr>"
                   for r in effects.itertuples())
    draws = pd.read_csv(comparison["folder"] / "draws.csv") if (comparison["folder"] / "draws.csv").is_file() else None
    kept = "".join(f"<li>scenario {escape(side.upper())} changes {escape(key)}: kept as {plain(ratio)} times each "
                   "draw's value</li>" for side, ratios in posterior.get("kept", {}).items()
                   for key, ratio in ratios.items())
    n, k = len(posterior["draws"]), posterior["seeds_per_draw"]
    return ("<h2>Over the calibration's posterior</h2>"
            f"<p class='note'>{n} draws from {escape(posterior['file'])} (an equally weighted sample of its weighted "
            f"draws by systematic resampling, seed {posterior['resample_seed']}), each set in both scenarios as "
            f"{escape(posterior['calibration'])} says (keys: {escape(', '.join(posterior['keys']))}); draw j runs on "
            f"seeds {k}j to {k}j+{k - 1}, so every run of a side has a seed of its own. The sections after this one "
            f"treat the {n * k} runs of a side as its seeds: their intervals are of the mean over the posterior, and "
            "the parameters of the runs' scenario shown at the end are the first draw's.</p>"
            + (f"<ul class='note'>{kept}</ul>" if kept else "")
            + ("<h3>Membership effect in each scenario</h3><table><tr><th class='l'>scenario</th>"
               "<th class='l'>figure</th><th class='l'>unit</th><th>mean, 90 % interval</th>"
               f"{_PARTS_HEAD}</tr>{rows}</table>" if len(effects) else "")
            + (f"<details><summary>The {n} draws (draws.csv): the posterior file's row, the seeds, the row's weight "
               f"in the file, its parameter values and what the calibration measured with them</summary>"
               f"{_frame(draws)}</details>" if draws is not None else ""))


def _frame(table: pd.DataFrame) -> str:
    """A small table as HTML, numbers as people read them."""
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    rows = "".join("<tr>" + "".join(f"<td>{escape(plain(v) if isinstance(v, float) else v)}</td>" for v in r)
                   + "</tr>" for r in table.itertuples(index=False))
    return f"<table><tr>{head}</tr>{rows}</table>"


def _difference(sets: list[RunSet], comparison: dict | None) -> str:
    if not paired(sets):
        return ""
    diff = yearly_difference(sets[0].yearly, sets[1].yearly, DIFFERENCE_COLUMNS, _draw_of(comparison))
    names = (sets[0].name, sets[1].name)
    fig = compare_plots.difference_figure(diff, names, _history_until(sets[0]))
    return f"<h2>{escape(names[1])} minus {escape(names[0])}, year by year</h2>" + image("B - A year by year", fig)


def _assumptions(sets: list[RunSet], comparison: dict | None) -> str:
    found = assumptions(*(s.scenario for s in sets))
    if not found:
        return "<p>None of the parameters whose source is an assumption is active or differs.</p>"
    head = "".join(f"<th class='l'>{escape(s.name)}</th>" for s in sets)
    rows = "".join(f"<tr><td class='l'>{escape(x.key)}</td>"
                   + "".join(f"<td class='l'>{escape(v)}</td>" for v in x.values)
                   + f"<td class='l'>{escape(x.unit)}</td><td class='l'>{escape(x.source)}</td>"
                   f"<td class='l'>{escape(switch_text(x.switch))}</td></tr>" for x in found)
    text = ("<p class='note'>Scenario parameters whose source is an assumption (not an observed figure) and that "
            "these figures depend on: they differ between the scenarios or are active in one. "
            "<code>run.py compare --ablate</code> shows how much of a difference each carries.</p>"
            f"<table><tr><th class='l'>key</th>{head}<th class='l'>unit</th><th class='l'>source</th>"
            f"<th class='l'>switched off by</th></tr>{rows}</table>")
    return text + (_ablation(comparison["folder"]) if comparison is not None else "")


def _ablation(folder: Path) -> str:
    path = folder / "ablation.csv"
    if not path.is_file():
        return ""
    table = pd.read_csv(path)
    t = table[table["outcome"] == "man_years_total"]
    rows = "".join(
        f"<tr><td class='l'>{escape(r.switched_off)}</td><td>{plain(r.difference)}<br><span class='note'>"
        f"[{plain(r.low)}, {plain(r.high)}] {escape(r.interval)}</span></td><td>{plain(r.carried)}</td>"
        f"<td>{plain(100 * r.carried_share) if np.isfinite(r.carried_share) else '-'} %</td></tr>"
        for r in t.itertuples())
    fig = compare_plots.ablation_figure(table)
    return ("<h3>What each assumption carries (man-years gained, summed)</h3><p class='note'>Both scenarios run "
            "again on the same seeds with the assumption switched off; what is left of the difference is what the "
            "policy does without it.</p><table><tr><th class='l'>switched off</th><th>B - A without it</th>"
            f"<th>carried</th><th>share of B - A</th></tr>{rows}</table>" + image("ablation", fig))
