"""Workbooks for analysts who live in spreadsheets: run, seeds, comparison and sweep tables as ``.xlsx``.

A workbook holds one sheet per table after a first sheet, ``about``, that says what it holds: the
scenarios, seeds and model version, where each sheet came from, and the units of its columns. Every
sheet has its header row bold and frozen, a filter on it, columns wide enough to read, and numbers
stored as numbers with a format that shows thousands separators and never scientific notation (the
cell keeps the full value; the format only rounds what is shown). Years and ids show as ``2021``.

Three kinds of folder are read (:func:`folder_contents`):

- a run folder (``run.py run``): each ``*.csv`` is a sheet (``yearly``, ``clusters``, ``effects``, ...);
- a folder of run folders (``run.py run --seeds``, or ``results/<scenario>/``): each table of the
  runs stacked into one sheet with ``seed`` and ``run`` in front;
- a comparison folder (``run.py compare``): ``answers``, ``yearly_difference``, ``ablation``, the
  assumptions of ``compare.json``, then the tables of its ``a/`` and ``b/`` runs stacked per side
  (``a_yearly``, ``b_yearly``, ...).

Sweeps are read from the results database by :mod:`sim.cli.export`, which hands their tables over
in slices (:class:`Table`). A workbook is written to a temporary file beside its path and renamed
once complete, so there is a whole workbook or none.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from sim.output.result import PARTIAL_SUFFIX, path_error, writable_folder
from sim.scenario.errors import ScenarioError

MAX_ROWS = 1_048_575  # a sheet's 1,048,576 rows less the header
MAX_TEXT = 32_767  # characters a cell holds
MAX_SHEET_NAME = 31
RESERVED_SHEET_NAMES = frozenset({"history"})  # Excel keeps it for change tracking
SHEET_NAME_FORBIDDEN = str.maketrans({c: "_" for c in "[]:*?/\\"})
RUN_TABLE_ORDER = ("yearly", "clusters", "effects", "effects_by_year", "effects_by_level", "effects_by_region",
                   "selection", "balance", "clusters_yearly", "regions_yearly", "firm_dynamics")
COMPARE_TABLE_ORDER = ("answers", "yearly_difference", "ablation")
ID_COLUMNS = frozenset({"year", "seed", "point", "replication", "period", "since", "end", "years_since_joining"})
RUN_KEYS = ("run_id", "run")  # a table too long for a sheet is cut between two runs, never inside one
SAMPLE_ROWS = 200  # rows read to size a column
WIDTH = (6, 60)  # narrowest and widest column, in characters
INTEGER, DECIMAL, SMALL, IDENTIFIER = "#,##0", "#,##0.00", "0.000##", "0"
DATE_TIME = "yyyy-mm-dd hh:mm:ss"
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)

#: The units of the columns, shown on the about sheet for the columns the workbook has.
UNITS: tuple[tuple[Callable[[str], bool], str, str], ...] = (
    (lambda c: c == "year" or c.endswith("_year") and not c.endswith("per_year"), "year, *_year", "calendar year"),
    (lambda c: c.endswith("_nok"), "*_nok",
     "Norwegian kroner (NOK), real; totals for all of Norway (the simulated sample divided by population.scale)"),
    (lambda c: c in {"employment", "member_employment", "untreated_employment", "treatment_jobs",
                     "restructuring_jobs"}, "employment, *_employment, *_jobs",
     "man-years (full-time equivalent jobs), for all of Norway"),
    (lambda c: c in {"firms", "members", "startups", "exits", "innovations", "ties", "member_innovations",
                     "member_ties", "internal_ties", "institution_ties", "restructuring_startups"},
     "firms, members, startups, exits, innovations, ties", "counts for all of Norway (the sample divided by "
     "population.scale); clusters and levels are counted as they are"),
    (lambda c: c in {"n", "n_treated"}, "n, n_treated", "simulated firms behind the figure (the sample, not scaled)"),
    (lambda c: c.endswith("_pp") or c in {"ci_low", "ci_high"}, "*_pp, gap_pp, ci_low, ci_high",
     "percentage points of average yearly growth (members minus matched non-members; 95 % interval)"),
    (lambda c: c.endswith("_pct"), "*_pct", "per cent"),
    (lambda c: c.endswith("share"), "*_share", "a share as a fraction (0.25 is 25 %)"),
    (lambda c: c == "unit", "unit", "rows that mix units (answers, firm_dynamics) name each row's unit here"),
    (lambda c: c == "column", "column", "yearly_difference: a_mean, b_mean, difference, low and high are in the "
                                        "unit of the yearly column named here"),
    (lambda c: c == "seed", "seed", "the root seed of a run's random numbers (runs with one seed share their luck)"),
    (lambda c: c in {"started_at", "finished_at", "heartbeat_at"}, "*_at", "date and time, UTC"),
)


@dataclass
class Table:
    """One sheet to be.

    Attributes:
        name: The sheet's name as wished (shortened and made unique when written).
        source: Where its rows came from, for the about sheet.
        frames: The rows: one table, or slices of one with the same columns (read one at a time).
        whole: Where the whole table is, named when a sheet cannot hold every row.
    """

    name: str
    source: str
    frames: Iterable[pd.DataFrame]
    whole: str = "its source"


@dataclass
class Contents:
    """What a workbook will hold.

    Attributes:
        title: The about sheet's first line.
        stem: A file name for the workbook, without ``.xlsx``.
        facts: ``(label, value)`` rows of the about sheet: what was run, seeds, versions.
        tables: The sheets after ``about``, in order.
    """

    title: str
    stem: str
    facts: list[tuple[str, str]]
    tables: list[Table]


@dataclass
class Sheet:
    """A sheet as written: its name, rows (below the header), source, any note, and its columns."""

    name: str
    rows: int
    source: str
    note: str = ""
    columns: list[str] = field(default_factory=list)


@dataclass
class _Run:
    """A run folder and its ``summary.json``."""

    folder: Path
    summary: dict = field(default_factory=dict)

    @property
    def seed(self) -> int | None:
        seed = self.summary.get("seed")
        return int(seed) if isinstance(seed, int) else None


# --- where a workbook goes --------------------------------------------------------------------------


def workbook_path(out: Path | None, folder: Path, stem: str) -> Path:
    """The workbook's path: ``--out`` if it ends in ``.xlsx``, else ``<stem>.xlsx`` in ``--out`` or ``folder``.

    Args:
        out: ``--out`` as given, or None.
        folder: The default folder.
        stem: The default file name, without ``.xlsx``.

    Returns:
        The path.
    """
    if out is not None and out.suffix.lower() == ".xlsx":
        return out
    return (out or folder) / f"{safe_stem(stem)}.xlsx"


def safe_stem(text: str) -> str:
    """A file name from scenario names: letters, digits, ``.``, ``_`` and ``-`` kept, the rest ``_``."""
    kept = "".join(c if c.isalnum() or c in "._-" else "_" for c in text).strip(".")
    return kept[:120] or "export"


def check_target(path: Path, force: bool = False) -> None:
    """Make sure a workbook can be written at ``path``, before the work.

    Args:
        path: The workbook.
        force: Replace an existing file.

    Raises:
        ScenarioError: ``path`` is a folder, exists (without ``force``), or lies below a file.
        OutputError: Its folder cannot be written (read-only, no permission, full).
    """
    if path.is_dir():
        raise ScenarioError(str(path), "", "is a folder; give a file name ending in .xlsx, or a folder without .xlsx")
    if (path.exists() or path.is_symlink()) and not force:
        raise ScenarioError(str(path), "", "exists; give another --out, or --force to replace it")
    writable_folder(path.parent)


# --- folders ----------------------------------------------------------------------------------------


def folder_contents(folder: Path | str) -> Contents:
    """What a workbook of a run, seeds or comparison folder holds (its tables are read as it is written).

    Args:
        folder: The folder.

    Returns:
        The contents.

    Raises:
        ScenarioError: The folder is missing, unfinished, or not one of the three kinds.
    """
    folder = Path(folder)
    allowed = "give a folder written by run.py run, run --seeds or compare"
    if not folder.is_dir():
        raise ScenarioError(str(folder), "", f"no such folder; {allowed}, or an experiment name")
    if folder.name.endswith(PARTIAL_SUFFIX):
        raise ScenarioError(str(folder), "", f"an unfinished folder (being written, or left by an interrupted "
                                             f"command); {allowed}")
    if (folder / "compare.json").is_file():
        return _comparison(folder)
    if (folder / "yearly.csv").is_file():
        return _runs_contents(folder, [_read_run(folder)])
    runs = _run_folders(folder)
    if not runs:
        raise ScenarioError(str(folder), "", f"not a run, seeds or comparison folder (no yearly.csv, compare.json "
                                             f"or run folders in it); {allowed}")
    return _runs_contents(folder, runs)


def _runs_contents(folder: Path, runs: list[_Run]) -> Contents:
    """A run, or several runs of one or more scenarios side by side."""
    first = runs[0].summary
    names = sorted({str(r.summary.get("scenario", "?")) for r in runs})
    seeds = [r.seed for r in runs]
    if runs[0].folder == folder:  # a run folder itself; a folder of run folders stacks them, even just one
        title = f"Run of {names[0]}, seed {_seed_text(seeds)}"
        stem = f"{names[0]}_seed{_seed_text(seeds)}"
        tables = [Table(stem_, f"{stem_}.csv", [_read_csv(folder / f"{stem_}.csv")]) for stem_ in _csv_stems(runs)]
        kind = "a run folder (run.py run)"
    else:
        plural = "s" * (len(runs) > 1)
        title = f"{len(runs)} run{plural} of {', '.join(names)}, seed{plural} {_seed_text(seeds)}"
        stem = f"{'_'.join(names)}_seeds{_seed_text(seeds, '-')}"
        tables = [Table(s, f"<run>/{s}.csv of each run, stacked, seed and run in front", _stacked(runs, s))
                  for s in _csv_stems(runs)]
        kind = "a folder of run folders (run.py run --seeds)"
    facts = [("what", kind), ("folder", str(folder.resolve())), ("scenario", ", ".join(names)),
             ("seeds", _seed_text(seeds)), ("runs", str(len(runs))), *_run_facts(first)]
    runs_sheet = Table("runs", "summary.json of each run: one row per run", [_runs_table(runs)])
    return Contents(title, stem, facts, [runs_sheet, *tables])


def _comparison(folder: Path) -> Contents:
    """A comparison folder: its answers, then its runs' tables per side."""
    meta = _read_json(folder / "compare.json")
    a, b = (meta.get(side, {}) for side in ("a", "b"))
    sides = {side: _run_folders(folder / side) if (folder / side).is_dir() else [] for side in ("a", "b")}
    first = next((r.summary for runs in sides.values() for r in runs), {})
    seeds = meta.get("seeds", [])
    facts = [
        ("what", "a comparison folder (run.py compare): B - A with common random numbers"),
        ("folder", str(folder.resolve())),
        ("A (reference)", f"{a.get('name', '?')} ({a.get('file', '?')})"),
        ("B (alternative)", f"{b.get('name', '?')} ({b.get('file', '?')})"),
        ("seeds", f"{_seed_text(seeds)} ({len(seeds)}, the same for A and B)"),
        ("years counted", f"{meta.get('since', '?')}-{meta.get('end', '?')}"),
        ("discount rate", f"{meta.get('discount_rate', '?')} a year (the discounted answers)"),
        ("overrides in both", ", ".join(meta.get("overrides", [])) or "none"),
        ("assumptions", f"{len(meta.get('assumptions', []))} parameters whose source is an assumption "
                        "(sheet assumptions)"),
        *_run_facts(first),
    ]
    top = _ordered({p.stem for p in folder.glob("*.csv")}, COMPARE_TABLE_ORDER)
    tables = [Table(s, f"{s}.csv", [_read_csv(folder / f"{s}.csv")]) for s in top]
    if meta.get("assumptions"):
        tables.append(Table("assumptions", "compare.json: the parameters the answers depend on",
                            [_assumptions_table(meta["assumptions"])]))
    for side, runs in sides.items():
        if runs:
            tables.append(Table(f"{side}_runs", f"{side}/<run>/summary.json: one row per run", [_runs_table(runs)]))
    for stem in _csv_stems([r for runs in sides.values() for r in runs]):
        tables += [Table(f"{side}_{stem}", f"{side}/<run>/{stem}.csv of each run, stacked, seed and run in front",
                         _stacked(runs, stem), "the run folders") for side, runs in sides.items() if runs]
    title = f"Comparison: {b.get('name', '?')} (B) - {a.get('name', '?')} (A), seeds {_seed_text(seeds)}"
    return Contents(title, f"{a.get('name', 'a')}_vs_{b.get('name', 'b')}", facts, tables)


def _run_folders(folder: Path) -> list[_Run]:
    """The finished run folders in ``folder``, by seed then name."""
    runs = [_read_run(p) for p in sorted(folder.iterdir())
            if p.is_dir() and not p.name.endswith(PARTIAL_SUFFIX) and (p / "yearly.csv").is_file()]
    return sorted(runs, key=lambda r: (r.seed is None, r.seed or 0, r.folder.name))


def _read_run(folder: Path) -> _Run:
    path = folder / "summary.json"
    return _Run(folder, _read_json(path) if path.is_file() else {})


def _run_facts(summary: dict) -> list[tuple[str, str]]:
    """Scale, years and versions from a run's summary, as far as it has them."""
    versions = summary.get("versions", {}) or {}
    facts = []
    if "scale" in summary:
        facts.append(("population.scale", f"{summary['scale']:g} (totals are for all of Norway)"))
    if summary.get("years"):
        facts.append(("years simulated", "-".join(str(y) for y in summary["years"])))
    model = [f"nic-sim {versions['nic-sim']}" if "nic-sim" in versions else "",
             *(f"commit {summary[k]}" for k in ("commit", "git_commit") if summary.get(k))]
    if any(model):
        facts.append(("model version", ", ".join(m for m in model if m)))
    others = ", ".join(f"{k} {v}" for k, v in versions.items() if k != "nic-sim")
    if others:
        facts.append(("software", others))
    return facts


def _runs_table(runs: list[_Run]) -> pd.DataFrame:
    """One row per run: seed, run, scenario, scale, wall time, then the headline figures."""
    rows = []
    for r in runs:
        s = r.summary
        rows.append({"seed": r.seed, "run": r.folder.name, "scenario": s.get("scenario"), "scale": s.get("scale"),
                     "wall_time_s": s.get("wall_time_s"), **(s.get("headline") or {})})
    return pd.DataFrame(rows)


def _assumptions_table(found: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"key": x.get("key"), "values (A -> B)": " -> ".join(str(v) for v in x.get("values", [])),
                          "switched off by": x.get("switch"), "source": x.get("source")} for x in found])


def _csv_stems(runs: list[_Run]) -> list[str]:
    """The tables any of the runs has, the run folder's contract tables first."""
    return _ordered({p.stem for r in runs for p in r.folder.glob("*.csv")}, RUN_TABLE_ORDER)


def _ordered(stems: set[str], order: tuple[str, ...]) -> list[str]:
    return [s for s in order if s in stems] + sorted(stems - set(order))


def _stacked(runs: list[_Run], stem: str) -> Iterator[pd.DataFrame]:
    """Each run's table with ``seed`` and ``run`` in front, under the union of their columns (read lazily)."""
    paths = [(r, r.folder / f"{stem}.csv") for r in runs if (r.folder / f"{stem}.csv").is_file()]
    columns = list(dict.fromkeys(c for _, p in paths for c in _read_csv(p, header_only=True).columns))
    for run, path in paths:
        table = _read_csv(path).reindex(columns=columns)
        table.insert(0, "run", run.folder.name)
        table.insert(0, "seed", run.seed)
        yield table


def _read_csv(path: Path, header_only: bool = False) -> pd.DataFrame:
    try:
        return pd.read_csv(path, nrows=0 if header_only else None)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ScenarioError(str(path), "", f"cannot be read ({exc.__class__.__name__}: {str(exc)[:80]})") from None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScenarioError(str(path), "", f"cannot be read ({exc.__class__.__name__}: {str(exc)[:80]})") from None
    if not isinstance(data, dict):
        raise ScenarioError(str(path), "", "is not a JSON object")
    return data


def _seed_text(seeds: list, dash: str = "-") -> str:
    """``0-4`` for a run of consecutive seeds, else ``0, 3, 7``."""
    known = [s for s in seeds if isinstance(s, int)]
    if not known:
        return "?"
    if len(known) > 1 and known == list(range(known[0], known[0] + len(known))):
        return f"{known[0]}{dash}{known[-1]}"
    return ", ".join(map(str, known)) if dash == "-" else "_".join(map(str, known[:10]))


# --- writing ----------------------------------------------------------------------------------------


def write_workbook(contents: Contents, path: Path, force: bool = False) -> list[Sheet]:
    """Write the workbook: ``about`` first, then one sheet per table; whole or not at all.

    Args:
        contents: What it holds.
        path: The workbook (checked with :func:`check_target` before the work).
        force: Replace an existing file.

    Returns:
        The sheets written after ``about``.

    Raises:
        ScenarioError: A table cannot be read, or ``path`` appeared meanwhile (without ``force``).
        OutputError: The file cannot be written (disk full, read-only, folder removed).
    """
    partial = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}{PARTIAL_SUFFIX}.xlsx")
    book = Workbook(write_only=True)
    try:
        names = _SheetNames()
        about = book.create_sheet(names.take("about"))  # first, though filled last: it lists the others
        sheets = [_write_table(book, names.take(t.name), t) for t in contents.tables]
        _write_about(about, contents, sheets)
        book.save(partial)
        if not force and path.exists():
            raise ScenarioError(str(path), "", "was created while the workbook was written; --force to replace it")
        os.replace(partial, path)
    except OSError as exc:
        _discard(book, partial)
        raise path_error(exc, path, "cannot write the workbook") from None
    except BaseException:
        _discard(book, partial)
        raise
    return sheets


def _discard(book: Workbook, partial: Path) -> None:
    """Close an unfinished workbook's sheets (each streams into a temporary file) and remove its file."""
    for ws in book.worksheets:
        with contextlib.suppress(Exception):  # already closed, or the disk that failed fails again
            ws.close()
    partial.unlink(missing_ok=True)


class _SheetNames:
    """Valid, unique sheet names: none of Excel's forbidden characters, at most 31 characters, unique ignoring case."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def take(self, wish: str) -> str:
        base = wish.translate(SHEET_NAME_FORBIDDEN).strip("'") or "sheet"
        name, n = base[:MAX_SHEET_NAME], 1
        while name.lower() in self.taken or name.lower() in RESERVED_SHEET_NAMES:
            n += 1
            tail = f"~{n}"
            name = base[:MAX_SHEET_NAME - len(tail)] + tail
        self.taken.add(name.lower())
        return name


def _write_table(book: Workbook, name: str, table: Table) -> Sheet:
    """One sheet: bold frozen header, sized columns, numbers with formats; cut between runs past the last row."""
    ws = book.create_sheet(name)
    frames = iter(table.frames)
    first = next(frames, None)
    if first is None:
        return Sheet(name, 0, table.source, "no rows")
    columns = [str(c) for c in first.columns]
    identifiers = [_is_identifier(c) for c in columns]
    ws.freeze_panes = "A2"
    for i, width in enumerate(_widths(first, identifiers), start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.append([_bold(ws, c) for c in columns])
    rows, note = 0, ""
    for frame in chain([first], frames):
        frame = frame.set_axis([str(c) for c in frame.columns], axis=1).reindex(columns=columns)
        if rows + len(frame) > MAX_ROWS:
            frame = _cut(frame, MAX_ROWS - rows)
            note = f"cut after {rows + len(frame):,} rows (a sheet holds {MAX_ROWS:,}); the whole table: {table.whole}"
        for values in zip(*(frame[c].tolist() for c in columns)):
            ws.append([_cell(ws, v, ident) for v, ident in zip(values, identifiers)])
        rows += len(frame)
        if note:
            break
    if rows and columns:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{rows + 1}"
    return Sheet(name, rows, table.source, note, columns)


def _cut(frame: pd.DataFrame, room: int) -> pd.DataFrame:
    """The first ``room`` rows, less a run left incomplete (when the table has a run column)."""
    kept = frame.iloc[:room]
    key = next((k for k in RUN_KEYS if k in frame.columns), None)
    if key is not None and 0 < len(kept) < len(frame) and frame[key].iloc[room] == kept[key].iloc[-1]:
        kept = kept[kept[key] != kept[key].iloc[-1]]
    return kept


def _write_about(ws: Any, contents: Contents, sheets: list[Sheet]) -> None:
    """The first sheet: what the workbook holds, where each sheet came from, the units."""
    for column, width in zip("ABCD", (24, 48, 70, 60)):
        ws.column_dimensions[column].width = width
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    ws.append([_styled(ws, contents.title, TITLE)])
    ws.append([f"Written by nic-sim (python run.py export) on {now}. Numbers are stored in full: the formats "
               "only round what is shown."])
    ws.append([])
    for label, value in contents.facts:
        ws.append([_bold(ws, label), _text(ws, value)])
    ws.append([])
    ws.append([_bold(ws, h) for h in ("sheet", "rows", "source", "note")])
    for s in sheets:
        ws.append([s.name, _number(ws, s.rows, INTEGER), _text(ws, s.source), _text(ws, s.note)])
    ws.append([])
    ws.append([_bold(ws, h) for h in ("columns", "unit")])
    for label, unit in _units(sheets):
        ws.append([label, unit])


def _units(sheets: list[Sheet]) -> list[tuple[str, str]]:
    """The unit lines for the columns the sheets have (a sweep's parameters by their last part)."""
    columns = {c.rsplit(".", 1)[-1] for s in sheets for c in s.columns}
    return [(label, unit) for match, label, unit in UNITS if any(match(c) for c in columns)]


# --- cells ------------------------------------------------------------------------------------------


def _is_identifier(column: str) -> bool:
    """Years, seeds and ids: shown without a thousands separator (2021, not 2,021)."""
    leaf = column.rsplit(".", 1)[-1]
    return (leaf in ID_COLUMNS or leaf.endswith(("_id", "_until"))
            or (leaf.endswith("_year") and not leaf.endswith("per_year")))


def number_format(value: float, identifier: bool = False) -> str:
    """The display format of a number: thousands separators, enough decimals, never scientific notation.

    Args:
        value: The number (finite).
        identifier: A year, seed or id: shown as it is when whole.

    Returns:
        An Excel number format.
    """
    whole = float(value).is_integer()
    if identifier and whole:
        return IDENTIFIER
    size = abs(value)
    if whole or size >= 100:
        return INTEGER
    return DECIMAL if size >= 1 else SMALL


def _cell(ws: Any, value: Any, identifier: bool) -> Any:
    """A value as a cell: numbers with a format, text made safe, blanks for missing values."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Real):
        value = value.item() if hasattr(value, "item") else value  # numpy scalars from object columns
        if not math.isfinite(value):
            return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return _number(ws, value, number_format(value, identifier))
    if isinstance(value, datetime):
        cell = WriteOnlyCell(ws, value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value)
        cell.number_format = DATE_TIME
        return cell
    return _text(ws, value)


def _number(ws: Any, value: float, fmt: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value)
    cell.number_format = fmt
    return cell


def _text(ws: Any, value: Any) -> Any:
    """Text as text: characters XML cannot hold dropped, cut at a cell's limit, ``=...`` never a formula."""
    text = str(value).encode("utf-8", "replace").decode("utf-8")  # a lone surrogate cannot be written
    text = ILLEGAL_CHARACTERS_RE.sub("", text)[:MAX_TEXT]
    if not text.startswith("="):
        return text
    cell = WriteOnlyCell(ws, text)
    cell.data_type = "s"  # a cluster name or error message starting with '=' is not a formula to run
    return cell


def _bold(ws: Any, text: str) -> WriteOnlyCell:
    return _styled(ws, text, BOLD)


def _styled(ws: Any, text: str, font: Font) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, text)
    cell.font = font
    return cell


def _widths(sample: pd.DataFrame, identifiers: list[bool]) -> list[float]:
    """Column widths from the header and the first rows, as they will be shown."""
    widths = []
    head = sample.head(SAMPLE_ROWS)
    for column, identifier in zip(head.columns, identifiers):
        shown = [len(_shown(v, identifier)) for v in head[column].tolist()]
        wide = max([len(str(column)) * 1.15, *shown]) + 2  # bold headers are a little wider
        widths.append(round(min(max(wide, WIDTH[0]), WIDTH[1]), 1))
    return widths


def _shown(value: Any, identifier: bool) -> str:
    """A value roughly as Excel shows it with :func:`number_format`."""
    if isinstance(value, bool):
        return "FALSE"
    if isinstance(value, numbers.Real) and math.isfinite(value):
        fmt = number_format(value, identifier)
        decimals = {IDENTIFIER: 0, INTEGER: 0, DECIMAL: 2, SMALL: 5}[fmt]
        return f"{value:.0f}" if fmt == IDENTIFIER else f"{value:,.{decimals}f}"
    if isinstance(value, datetime):
        return "yyyy-mm-dd hh:mm:ss"
    return "" if value is None or value is pd.NA or value is pd.NaT or value != value else str(value)[:80]
