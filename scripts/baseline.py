"""Rewrite the committed numeric baseline in ``tests/baseline/`` (``make baseline``).

The baseline is one small run, :data:`RUN` (classroom Norway at its own 2 % scale, 2000-2030,
seed 0, a second or two), kept as three readable files so that a commit that moves the model's
numbers shows which ones in its diff:

- ``yearly.csv``: the yearly table, written as a run folder writes it
  (:func:`sim.output.result.write_csv`, 15 significant digits);
- ``effects.csv``: the measured membership effects (gap by metric and estimator, with their
  confidence interval and the number of members measured);
- ``headline.json``: the run (scenario, overrides, seed) and its headline figures
  (``summary["headline"]``: totals at the end, clusters and members, jobs made by membership,
  the effects by year since joining, the selection shares and the moments of
  :mod:`sim.observe.moments`), rounded to the same 15 digits.

``tests/test_baseline.py`` reruns the run and compares it with these files. Run this script when a
change is meant to move the numbers, and say why in the commit message.

Usage::

    make baseline                         # or: .venv/bin/python scripts/baseline.py
    python scripts/baseline.py --out DIR  # write the files elsewhere (e.g. to compare machines)

Prints each file written and the values that changed against the files it replaced.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import pandas as pd

import sim
from sim.output.result import CSV_FLOAT_FORMAT, write_csv

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "tests" / "baseline"

#: The run of the baseline: the classroom scenario at its own 2 % scale (pinned here, so the test
#: stays fast if the scenario grows), all its years, one seed. Two dozen members are measured, so
#: the effect figures are defined.
RUN: dict[str, Any] = {"scenario": "scenarios/classroom.toml", "overrides": {"population.scale": 0.02}, "seed": 0}

#: The tables of the baseline and the columns that name a row (compared as labels, not as numbers).
TABLES: dict[str, list[str]] = {"yearly.csv": ["year"], "effects.csv": ["metric", "estimator"]}
HEADLINE = "headline.json"
#: The digits the files keep: the run folder's CSV format, for the JSON figures too.
DIGITS = CSV_FLOAT_FORMAT
#: Differences listed per file before the rest are only counted.
SHOWN = 40


@dataclass
class Snapshot:
    """The numbers of one run as the baseline keeps them.

    Attributes:
        tables: File name (:data:`TABLES`) -> table.
        run: The run that gave them (:data:`RUN`'s keys).
        headline: Headline figure -> value (``None`` where undefined).
    """

    tables: dict[str, pd.DataFrame]
    run: dict[str, Any]
    headline: dict[str, Any]


def compute(run: dict[str, Any] = RUN) -> Snapshot:
    """Run the scenario and keep what the baseline stores.

    Args:
        run: ``scenario`` (path relative to the repository), ``overrides`` and ``seed``.

    Returns:
        The yearly and effect tables and the headline figures of the run.

    Raises:
        RuntimeError: The run measured no effects, so the baseline would hold no effect figures.
    """
    scenario = sim.load_scenario(ROOT / run["scenario"], overrides=run["overrides"])
    result = sim.run(scenario, seed=run["seed"])
    effects = result.effects
    if effects is None or effects.empty or effects["gap_pp"].isna().any():
        raise RuntimeError(f"the baseline run {run} measured no effects; choose a run where members join")
    headline = {key: _plain(value) for key, value in result.summary["headline"].items()}
    return Snapshot({"yearly.csv": result.yearly, "effects.csv": effects}, dict(run), headline)


def _plain(value: Any) -> int | float | None:
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        value = float(value)
        return float(DIGITS % value) if math.isfinite(value) else None  # strict JSON has no NaN
    raise TypeError(f"headline figure {value!r} is not a number")


def write(snapshot: Snapshot, folder: Path) -> list[Path]:
    """Write the baseline files.

    Args:
        snapshot: The numbers of a run.
        folder: Where to write; created if missing.

    Returns:
        The paths written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = [write_csv(snapshot.tables[name], folder / name) for name in TABLES]
    document = {"run": snapshot.run, "headline": snapshot.headline}
    path = folder / HEADLINE
    path.write_text(json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8",
                    newline="\n")
    return [*written, path]


def load(folder: Path) -> Snapshot | None:
    """Read the baseline files of a folder.

    Args:
        folder: A folder written by :func:`write`.

    Returns:
        Its numbers, or ``None`` if a file is missing.
    """
    paths = [folder / name for name in [*TABLES, HEADLINE]]
    if not all(path.is_file() for path in paths):
        return None
    # keep_default_na=False: a metric or estimator is never read as NaN; empty cells still are.
    tables = {name: pd.read_csv(folder / name, keep_default_na=False, na_values=[""]) for name in TABLES}
    document = json.loads((folder / HEADLINE).read_text(encoding="utf-8"))
    return Snapshot(tables, document["run"], document["headline"])


def same(old: Any, new: Any, exact: bool, rtol: float, scale: float = 0.0) -> bool:
    """Whether two values agree.

    Args:
        old: The baseline's value (a number, ``None`` or NaN for undefined).
        new: The rerun's value.
        exact: Compare for equality (integers: counts, years, members measured).
        rtol: Relative tolerance for floats: ``|new - old| <= rtol * max(|old|, |new|, scale)``;
            0 asks for equality of the stored digits.
        scale: The size of the values of this kind (a column's largest), so that a small value that
            is the difference of two large ones is not held to more digits than they have.

    Returns:
        True if they agree; two undefined values agree.
    """
    if exact or not (isinstance(old, Real | None) and isinstance(new, Real | None)):
        return old == new
    old, new = (math.nan if v is None else float(v) for v in (old, new))
    if math.isnan(old) or math.isnan(new):
        return math.isnan(old) and math.isnan(new)
    return abs(new - old) <= rtol * max(abs(old), abs(new), scale)


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return "undefined" if math.isnan(value) else DIGITS % value
    return "undefined" if value is None else str(value)


def _change(where: str, old: Any, new: Any) -> str:
    text = f"{where}: baseline {_shown(old)}, now {_shown(new)}"
    try:
        old, new = float(old), float(new)
    except (TypeError, ValueError):
        return text
    if math.isfinite(old) and math.isfinite(new) and old != 0:
        text += f" (relative difference {(new - old) / abs(old):.2e})"
    return text


def table_differences(name: str, old: pd.DataFrame, new: pd.DataFrame, rtol: float) -> list[str]:
    """The values of a baseline table that changed.

    A column is compared exactly when neither table holds fractions in it (counts, years, members
    measured, text), otherwise with ``rtol`` relative to the column's largest value (:func:`same`).

    Args:
        name: The file name (:data:`TABLES`), which also gives the label columns.
        old: The baseline's table.
        new: The rerun's table.
        rtol: Relative tolerance for float columns (:func:`same`).

    Returns:
        One line per difference: file, column, row (e.g. ``year=2015``), old and new value.
    """
    keys = TABLES[name]
    out = [f"{name}: column {c} is new" for c in new.columns if c not in old.columns]
    out += [f"{name}: column {c} is gone" for c in old.columns if c not in new.columns]
    old_rows = [tuple(row) for row in old[keys].itertuples(index=False)]
    new_rows = [tuple(row) for row in new[keys].itertuples(index=False)]
    if old_rows != new_rows:
        return [*out, f"{name}: rows differ: baseline {_rows(keys, old_rows)}, now {_rows(keys, new_rows)}"]
    labels = [", ".join(f"{k}={v}" for k, v in zip(keys, row)) for row in new_rows]
    for column in (c for c in old.columns if c in new.columns and c not in keys):
        exact = not any(_is_float(table[column]) for table in (old, new))
        values = pd.to_numeric(pd.concat([old[column], new[column]]), errors="coerce").abs()
        scale = 0.0 if exact or values.isna().all() else float(values.max())
        for label, a, b in zip(labels, old[column].tolist(), new[column].tolist()):
            if not same(a, b, exact, rtol, scale):
                out.append(_change(f"{name}: {column} in {label}", a, b))
    return out


def _is_float(column: pd.Series) -> bool:
    """Whether a column is compared with tolerance: numbers, not all integers (nor text or booleans)."""
    types = pd.api.types
    return types.is_numeric_dtype(column) and not types.is_integer_dtype(column) and not types.is_bool_dtype(column)


def _rows(keys: list[str], rows: list[tuple]) -> str:
    if keys == ["year"] and rows:
        return f"years {rows[0][0]}-{rows[-1][0]} ({len(rows)} rows)"
    return f"{len(rows)} rows {[', '.join(map(str, row)) for row in rows]}"


def headline_differences(old: dict[str, Any], new: dict[str, Any], rtol: float) -> list[str]:
    """The headline figures that changed (integers exactly, floats with ``rtol``).

    Args:
        old: The baseline's figures.
        new: The rerun's figures.
        rtol: Relative tolerance for floats (:func:`same`).

    Returns:
        One line per difference.
    """
    out = []
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            out.append(f"{HEADLINE}: {key} is gone (baseline {_shown(old[key])})")
        elif key not in old:
            out.append(f"{HEADLINE}: {key} is new ({_shown(new[key])})")
        else:
            exact = isinstance(old[key], int) and isinstance(new[key], int)
            if not same(old[key], new[key], exact, rtol):
                out.append(_change(f"{HEADLINE}: {key}", old[key], new[key]))
    return out


def differences(old: Snapshot, new: Snapshot, rtol: float = 0.0) -> dict[str, list[str]]:
    """Every value that changed between two snapshots, by file.

    Args:
        old: The baseline.
        new: The rerun (as written and read back, so both hold the same digits).
        rtol: Relative tolerance for floats; 0 lists every change in the stored digits.

    Returns:
        File name -> lines of :func:`table_differences` / :func:`headline_differences`.
    """
    out = {name: table_differences(name, old.tables[name], new.tables[name], rtol) for name in TABLES}
    run = [] if old.run == new.run else [f"{HEADLINE}: run: baseline {old.run}, now {new.run}"]
    out[HEADLINE] = run + headline_differences(old.headline, new.headline, rtol)
    return out


def report(lines: list[str], shown: int = SHOWN) -> list[str]:
    """The first ``shown`` lines and a count of the rest."""
    return lines[:shown] + ([f"... and {len(lines) - shown} more"] if len(lines) > shown else [])


def main(argv: list[str] | None = None) -> int:
    """Run the baseline's run, write its files and print what changed.

    Args:
        argv: Command-line arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status, 0.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=BASELINE, help=f"folder to write (default {BASELINE})")
    folder = parser.parse_args(argv).out
    old = load(folder)
    started = time.perf_counter()
    new = compute()
    print(f"ran {RUN['scenario']} with {RUN['overrides']}, seed {RUN['seed']} in "
          f"{time.perf_counter() - started:.1f} s")
    written = write(new, folder)
    changes = differences(old, load(folder)) if old is not None else {}
    for path in written:
        lines = changes.get(path.name)
        state = "new" if old is None else _changed(len(lines or []))
        print(f"wrote {_relative(path)}: {state}")
        for line in report(lines or []):
            print(f"  {line}")
    return 0


def _changed(count: int) -> str:
    return "unchanged" if count == 0 else "1 value changed" if count == 1 else f"{count} values changed"


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
