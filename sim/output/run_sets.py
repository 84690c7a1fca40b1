"""Run sets: the run folders of one scenario, read back for the report.

A run set is a run folder written by ``run.py run`` (``yearly.csv``, ``clusters.csv``,
``summary.json``, ``scenario.toml``) or a folder of such run folders, e.g. the seeds of one
scenario in ``results/<scenario>/``. Only the files are read: the model is never run again.
Folders still being written, or left by an interrupted run (``<run id>.partial``), are not runs.
The runs of one side of a comparison over posterior draws (``compare --posterior``) differ in the
keys the draws set, and only in those.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from sim.output.result import PARTIAL_SUFFIX, RUN_ID
from sim.scenario.errors import ScenarioError


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

    @property
    def headlines(self) -> pd.DataFrame:
        """The runs' headline figures (``summary.json``): one row per run, ``seed`` first."""
        return pd.DataFrame([{"seed": int(s["seed"]), **s.get("headline", {})} for s in self.summaries])


def load_runs(folder: str | Path, vary: tuple[str, ...] = ()) -> RunSet:
    """Read a run folder, or a folder of run folders of one scenario.

    Args:
        folder: The folder.
        vary: Dotted scenario keys in which the runs may differ (the keys a posterior's draws set);
            :attr:`RunSet.scenario` is then the first run's.

    Returns:
        The run set.

    Raises:
        ScenarioError: The folder is missing, holds no runs, mixes scenarios or has a broken file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ScenarioError(str(folder), "", "no such run folder")
    if folder.name.endswith(PARTIAL_SUFFIX):
        raise ScenarioError(str(folder), "", "an unfinished run folder (being written, or left by an interrupted run)")
    runs = [folder] if (folder / "yearly.csv").is_file() else sorted(
        (p for p in folder.iterdir() if (p / "yearly.csv").is_file() and not p.name.endswith(PARTIAL_SUFFIX)),
        key=_by_seed)
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
    compared = [_without(text, run, vary) for text, run in zip(scenarios, runs, strict=True)] if vary else scenarios
    if len(names) > 1 or len(set(compared)) > 1:
        raise ScenarioError(str(folder), "", _which_differs(runs, summaries, compared))
    return RunSet(names[0], folder, runs, pd.concat(yearly, ignore_index=True),
                  pd.concat(clusters, ignore_index=True) if clusters else pd.DataFrame(), summaries,
                  _toml(scenarios[0], runs[0]), pd.concat(effects, ignore_index=True) if effects else None)


def _which_differs(runs: list[Path], summaries: list[dict], scenarios: list[str]) -> str:
    """Name the first run whose scenario differs from most runs', and the keys in which it differs."""
    texts = [f"{s.get('scenario', '?')}\n{t}" for s, t in zip(summaries, scenarios, strict=True)]
    common = max(set(texts), key=texts.count)
    i = next(k for k, t in enumerate(texts) if t != common)
    ref = texts.index(common)
    mine, theirs = (_flat(_toml(scenarios[k], runs[k])) for k in (i, ref))
    keys = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
    shown = "; ".join(f"{k} = {mine.get(k, '(none)')} against {theirs.get(k, '(none)')}" for k in keys[:3])
    more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
    odd = sum(t != common for t in texts)
    return (f"runs differ in their scenario: {runs[i].name} (scenario {summaries[i].get('scenario', '?')}) differs "
            f"from {runs[ref].name} and {texts.count(common) - 1} other run(s) in {shown or 'its scenario.toml'}{more}"
            f" ({odd} of {len(runs)} runs differ, e.g. a run made with --set); give a folder of seeds of one "
            "scenario, or move the odd runs out")


def _by_seed(run: Path) -> tuple[int, str]:
    """Run folders in seed order (by the seed in a default run id), so that tables are summed in one order."""
    match = RUN_ID.match(run.name)
    return (int(match.group(2)) if match else -1, run.name)


def _without(text: str, run: Path, keys: tuple[str, ...]) -> str:
    """A run's scenario.toml as TOML text without the given keys (for comparing runs that may differ in them)."""
    import tomli_w

    flat = {k: v for k, v in _flat(_toml(text, run)).items() if k not in keys}
    nested: dict = {}
    for key, value in flat.items():
        *tables, leaf = key.split(".")
        node = nested
        for table in tables:
            node = node.setdefault(table, {})
        node[leaf] = value
    return tomli_w.dumps(nested)


def _flat(tables: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in tables.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = str(value)
    return out


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
