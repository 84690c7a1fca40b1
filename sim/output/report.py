"""The analyst's report: one self-contained HTML file from one or two sets of run folders.

A run set is a run folder written by ``run.py run`` (``yearly.csv``, ``clusters.csv``,
``summary.json``, ``scenario.toml``) or a folder of such run folders, e.g. the seeds of one
scenario in ``results/<scenario>/``. Several seeds give every figure a 95 % interval (Student's t
over seeds); two run sets give a comparison, paired by seed where both have the same seeds (common
random numbers make the paired difference precise). The report reads the files only: it never
recomputes the model. Plots are PNG images inside the file (base64) and the page needs no script,
no network and no tool to be read, printed or mailed.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from sim.output import plots
from sim.scenario.errors import ScenarioError
from sim.scenario.explain import parameters

CONFIDENCE = 0.95
TABLE_EVERY_YEARS = 5
RUN_ID = re.compile(r"^(\d{8}T\d{6})-s(-?\d+)$")  # run.py run's default folder name: <start time>-s<seed>
HEADLINE = {  # yearly column -> (label, unit divisor, unit)
    "firms": ("Firms", 1.0, "enterprises"),
    "members": ("Cluster members", 1.0, "firms"),
    "clusters": ("Clusters in the programme", 1.0, "clusters"),
    "employment": ("Employment", 1.0, "man-years"),
    "value_added_nok": ("Value added", 1e9, "NOK bn"),
    "innovations": ("Innovating firms", 1.0, "firms a year"),
    "ties": ("Collaboration ties", 1.0, "ties"),
}
MEMBER_GAP = "growth_gap_pp"  # members' minus non-members' mean yearly value added growth
COLOURS = ("#1f77b4", "#d62728")
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 70em; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th { background: #f3f5f7; } td.l, th.l { text-align: left; }
.note { color: #555; font-size: 0.9em; } img { max-width: 100%; height: auto; }
details { margin: 0.5em 0 1em; } summary { cursor: pointer; font-weight: 600; }
"""


@dataclass
class RunSet:
    """The runs of one scenario, read from their folders.

    Attributes:
        name: Scenario name.
        folder: The folder given on the command line.
        runs: The run folders, one per seed.
        yearly: The yearly tables with ``seed`` and ``run`` columns.
        clusters: The cluster tables with ``seed``.
        summaries: Each run's ``summary.json``.
        scenario: The resolved scenario (``scenario.toml``) as tables, {} if missing.
        effects: ``effects.csv`` of every run with ``seed``, or None when no run has one.
    """

    name: str
    folder: Path
    runs: list[Path]
    yearly: pd.DataFrame
    clusters: pd.DataFrame
    summaries: list[dict]
    scenario: dict
    effects: pd.DataFrame | None

    @property
    def seeds(self) -> list[int]:
        """Seeds of the runs, in run order."""
        return [int(s["seed"]) for s in self.summaries]


def load_runs(folder: str | Path) -> RunSet:
    """Read a run folder, or a folder of run folders of one scenario.

    Args:
        folder: The folder.

    Returns:
        The run set.

    Raises:
        ScenarioError: The folder is missing, holds no runs, mixes scenarios or has a broken file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ScenarioError(str(folder), "", "no such run folder")
    runs = [folder] if (folder / "yearly.csv").is_file() else sorted(
        p for p in folder.iterdir() if (p / "yearly.csv").is_file())
    if not runs:
        raise ScenarioError(str(folder), "",
                            "no yearly.csv here or in its sub-folders (give a folder written by run.py run)")
    yearly, clusters, effects, summaries, scenarios = [], [], [], [], []
    for run in runs:
        summary = _json(run / "summary.json")
        seed = int(summary.get("seed", 0))
        summaries.append(summary | {"run": run.name, "run_at": _run_time(run)})
        yearly.append(_csv(run / "yearly.csv").assign(seed=seed, run=run.name))
        if (run / "clusters.csv").is_file():
            clusters.append(_csv(run / "clusters.csv").assign(seed=seed))
        if (run / "effects.csv").is_file():
            effects.append(_csv(run / "effects.csv").assign(seed=seed))
        toml = run / "scenario.toml"
        scenarios.append(toml.read_text(encoding="utf-8") if toml.is_file() else "")
    names = sorted({str(s.get("scenario", "?")) for s in summaries})
    if len(names) > 1 or len(set(scenarios)) > 1:
        raise ScenarioError(str(folder), "", f"runs differ in their scenario ({', '.join(names)}); "
                                             "give one run folder or a folder of seeds of one scenario")
    return RunSet(names[0], folder, runs, pd.concat(yearly, ignore_index=True),
                  pd.concat(clusters, ignore_index=True) if clusters else pd.DataFrame(), summaries,
                  _toml(scenarios[0], runs[0]), pd.concat(effects, ignore_index=True) if effects else None)


def interval(values: np.ndarray | pd.Series) -> tuple[float, float, float]:
    """Mean and 95 % interval of the mean over seeds (Student's t); NaN bounds for one value.

    Args:
        values: One value per seed.

    Returns:
        (mean, low, high).
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return np.nan, np.nan, np.nan
    mean = float(x.mean())
    if len(x) < 2:
        return mean, np.nan, np.nan
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return mean, mean - half, mean + half


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
        f"<h1>{_e(title)}</h1>",
        _paragraphs(description),
        f"<p class='note'>Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by nic-sim {_e(version('nic-sim'))} "
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
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(p for p in parts if p) + "\n</body></html>\n")


# --- sections ------------------------------------------------------------------------------------

def _headline(sets: list[RunSet]) -> str:
    rows = []
    for label, values in _headline_values(sets).items():
        cells = [_cell_interval(interval(v)) for v in values["sets"]]
        if len(sets) == 2:
            cells.append(_cell_interval(_difference(sets, values["sets"])))
        rows.append(f"<tr><td class='l'>{_e(label)}</td>{''.join(cells)}</tr>")
    head = "".join(f"<th>{_e(s.name)} ({len(s.runs)} seed{'s' if len(s.runs) != 1 else ''})</th>" for s in sets)
    if len(sets) == 2:
        head += f"<th>{_e(sets[1].name)} minus {_e(sets[0].name)}</th>"
    note = ("<p class='note'>Differences are paired by seed: both scenarios ran with the same seeds, so each pair "
            "shares its firms and their luck.</p>" if len(sets) == 2 and _paired(sets) else "")
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
    return "".join(f"<p><img alt='{_e(alt)}' src='data:image/png;base64,{_png64(fig)}'></p>" for alt, fig in figures) \
        + (f"<p class='note'>{band}</p>" if band else "")


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
        cells = "".join(_cell_interval(interval(here[c] / divisors.get(c, 1.0))) for c in columns)
        rows.append(f"<tr><td class='l'>{year}</td>{cells}</tr>")
    head = "".join(f"<th>{_e(x)}</th>" for x in labels)
    return f"<h3>{_e(s.name)}</h3><table><tr><th class='l'>year</th>{head}</tr>{''.join(rows)}</table>"


def _effects(sets: list[RunSet]) -> str:
    tables = []
    for s in sets:
        if s.effects is None:
            continue
        keys = [k for k in ("metric", "estimator") if k in s.effects.columns]
        rows = []
        for key, group in s.effects.groupby(keys):
            names = key if isinstance(key, tuple) else (key,)
            rows.append("<tr>" + "".join(f"<td class='l'>{_e(n)}</td>" for n in names)
                        + _cell_interval(interval(group["gap_pp"])) + "</tr>")
        head = "".join(f"<th class='l'>{k}</th>" for k in keys)
        tables.append(f"<h3>{_e(s.name)}</h3><table><tr>{head}<th>gap (pp a year)</th></tr>{''.join(rows)}</table>")
    if not tables:
        return ""
    return ("<h2>Membership effects</h2><p class='note'>From each run's effects.csv: the published estimator "
            "(matched_did) and the model's true effect (true_effect), as gaps in yearly growth.</p>" + "".join(tables))


def _clusters_table(s: RunSet) -> str:
    if s.clusters.empty:
        return f"<p class='note'>{_e(s.name)}: no clusters.csv.</p>"
    last = s.clusters[s.clusters["year"] == s.clusters["year"].max()]
    rows = []
    for (name, region, sector), group in last.groupby(["name", "region", "sector"], sort=True):
        levels = group["level"].value_counts()
        members = interval(group["members"])
        rows.append(f"<tr><td class='l'>{_e(name)}</td><td class='l'>{_e(region)}</td><td class='l'>{_e(sector)}</td>"
                    f"<td class='l'>{_e(levels.index[0])}</td><td>{len(group)} of {len(s.runs)}</td>"
                    f"{_cell_interval(members)}</tr>")
    return (f"<h3>{_e(s.name)}, {int(last['year'].max())}</h3><table><tr><th class='l'>cluster</th>"
            "<th class='l'>county</th><th class='l'>sector</th><th class='l'>level</th><th>in runs</th>"
            f"<th>members (full scale)</th></tr>{''.join(rows)}</table>")


def _provenance(s: RunSet) -> str:
    rows = []
    for summary in s.summaries:
        versions = summary.get("versions", {})
        rows.append("<tr>" + "".join(f"<td class='l'>{_e(x)}</td>" for x in (
            summary["run"], summary.get("seed", ""), summary["run_at"],
            "-".join(str(y) for y in summary.get("years", [])), f"{summary.get('scale', '')}",
            ", ".join(f"{k} {v}" for k, v in versions.items()), f"{summary.get('wall_time_s', '')} s")) + "</tr>")
    return (f"<h3>{_e(s.name)}: {_e(s.folder)}</h3><table><tr><th class='l'>run</th><th class='l'>seed</th>"
            "<th class='l'>run at</th><th class='l'>years</th><th class='l'>scale</th><th class='l'>versions</th>"
            f"<th class='l'>wall time</th></tr>{''.join(rows)}</table>")


def _parameters(sets: list[RunSet]) -> str:
    flat = [_flatten(s.scenario) for s in sets]
    units = _units()
    out = []
    if len(sets) == 2:
        keys = sorted(set(flat[0]) | set(flat[1]))
        differ = [k for k in keys if flat[0].get(k) != flat[1].get(k) and not k.startswith("scenario.")]
        rows = "".join(f"<tr><td class='l'>{_e(k)}</td><td class='l'>{_e(flat[0].get(k, '-'))}</td>"
                       f"<td class='l'>{_e(flat[1].get(k, '-'))}</td><td class='l'>{_e(_unit(units, k))}</td></tr>"
                       for k in differ)
        out.append(f"<h3>What differs</h3><table><tr><th class='l'>key</th><th class='l'>{_e(sets[0].name)}</th>"
                   f"<th class='l'>{_e(sets[1].name)}</th><th class='l'>unit</th></tr>{rows}</table>"
                   if differ else "<p>The two scenarios have the same parameters.</p>")
    for s, values in zip(sets, flat, strict=True):
        rows = "".join(f"<tr><td class='l'>{_e(k)}</td><td class='l'>{_e(v)}</td>"
                       f"<td class='l'>{_e(_unit(units, k))}</td></tr>" for k, v in values.items())
        out.append(f"<details><summary>Every parameter of {_e(s.name)} ({len(values)} values, "
                   "from its scenario.toml)</summary><table><tr><th class='l'>key</th><th class='l'>value</th>"
                   f"<th class='l'>unit</th></tr>{rows}</table></details>")
    return "".join(out)


# --- helpers -------------------------------------------------------------------------------------

def _per_seed(s: RunSet, fn) -> pd.Series:
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


def _paired(sets: list[RunSet]) -> bool:
    return sorted(sets[0].seeds) == sorted(sets[1].seeds) and len(sets[0].seeds) == len(set(sets[0].seeds))


def _difference(sets: list[RunSet], values: list[pd.Series]) -> tuple[float, float, float]:
    """B minus A: paired by seed when the seeds match, else a Welch interval of the two means."""
    a, b = values
    if _paired(sets):
        return interval((b - a.reindex(b.index)).to_numpy())
    mean = float(b.mean() - a.mean())
    if len(a) < 2 or len(b) < 2:
        return mean, np.nan, np.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if va + vb > 0 else 1.0
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, df) * np.sqrt(va + vb))
    return mean, mean - half, mean + half


def _band_figure(sets: list[RunSet], column: str, title: str, unit: str, divisor: float) -> tuple[str, Figure]:
    fig = plots._figure()
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


def _png64(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=plots.DPI)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _cell_interval(value: tuple[float, float, float]) -> str:
    mean, low, high = value
    if not np.isfinite(mean):
        return "<td>-</td>"
    text = _number(mean)
    if np.isfinite(low):
        text += f"<br><span class='note'>[{_number(low)}, {_number(high)}]</span>"
    return f"<td>{text}</td>"


def _number(x: float) -> str:
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:,.1f}"
    return f"{x:,.2f}"


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


def _run_time(run: Path) -> str:
    match = RUN_ID.match(run.name)
    if match:
        return f"{datetime.strptime(match.group(1), '%Y%m%dT%H%M%S'):%Y-%m-%d %H:%M:%S} UTC"
    summary = run / "summary.json"
    stamp = datetime.fromtimestamp(summary.stat().st_mtime if summary.exists() else 0, UTC)
    return f"{stamp:%Y-%m-%d %H:%M:%S} UTC (file time)"


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(str(path), "", "missing (every run folder has a summary.json)") from None
    except (OSError, ValueError) as exc:
        raise ScenarioError(str(path), "", f"cannot be read ({exc.__class__.__name__})") from None


def _csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ScenarioError(str(path), "", f"cannot be read ({exc.__class__.__name__}: {str(exc)[:80]})") from None


def _toml(text: str, run: Path) -> dict:
    try:
        return tomllib.loads(text) if text else {}
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(run / "scenario.toml"), "", f"not valid TOML: {exc}") from None


def _paragraphs(text: str) -> str:
    """A scenario description as HTML paragraphs, with Markdown's **bold** and *italic*."""
    out = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        escaped = _e(" ".join(paragraph.split()))
        escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
        out.append(f"<p>{re.sub(r'\*(.+?)\*', r'<em>\1</em>', escaped)}</p>")
    return "".join(out) if text.strip() else ""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
