"""The result of one run and the files it is written to.

A :class:`RunResult` holds the three tables of the register (yearly totals, the firm-year panel
and the cluster-year table) plus a JSON-able summary. Their column contracts are the constants
below: analysts' scripts read these names, so the model may append columns but never rename,
drop or reorder the contract ones. :func:`write_outputs` writes the files of a run folder so that
two identical results give byte-identical CSV files (diffable, hashable in tests and sweeps).

A run folder is complete or absent: :func:`run_folder` writes it as ``<folder>.partial``, created
exclusively before the run, and renames it to ``<folder>`` once every file is written; readers
(:mod:`sim.output.run_sets`) ignore ``.partial`` folders.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sim.observe.columns import (
    CALL_APPLICANT_COLUMNS,
    CLUSTER_COLUMNS,
    CLUSTER_YEARLY_COLUMNS,
    DYNAMICS_COLUMNS,
    EFFECT_COLUMNS,
    FIRM_COLUMNS,
    FIRM_DTYPES,
    REGION_YEARLY_COLUMNS,
    YEARLY_COLUMNS,
)
from sim.observe.moments import MOMENTS, moments
from sim.output import plots
from sim.scenario.errors import ScenarioError

# 15 significant digits (DBL_DIG): every double prints the same way on every platform, NOK totals
# of a full-scale Norway (~10^13) stay in plain notation, and binary noise such as
# 0.30000000000000004 never reaches the file and the diffs between runs.
CSV_FLOAT_FORMAT = "%.15g"
#: The run folder's firm-year panel.
PANEL_FILE = "firms.parquet"


@dataclass
class RunResult:
    """Everything one run produced, as tidy tables.

    On construction the tables are checked against the column contracts and reordered so that the
    contract columns come first (extra model columns follow, in their own order).

    Attributes:
        scenario_name: Name of the scenario (``meta.name``).
        seed: Root seed of the run.
        yearly: One row per year, columns :data:`YEARLY_COLUMNS` first.
        firms: Firm-year panel, columns :data:`FIRM_COLUMNS` first; ``None`` if not recorded.
        clusters: One row per cluster organisation and year, columns :data:`CLUSTER_COLUMNS`.
        summary: Headline figures, versions and timings; JSON-able.
        scenario_toml: The resolved scenario as TOML text, or ``""`` if not available.
        effect_tables: The measured membership effects (:meth:`sim.observe.estimator.Effects.tables`:
            file stem -> table), or ``None`` when the scenario measured none.
        clusters_yearly: Members' outcomes by cluster and year, columns :data:`CLUSTER_YEARLY_COLUMNS`
            first; ``None`` for a result read back from a folder without it.
        regions_yearly: Firms by county and year, columns :data:`REGION_YEARLY_COLUMNS` first; or ``None``.
        firm_dynamics: The firm-dynamics table (:func:`sim.observe.dynamics.firm_dynamics`), columns
            :data:`DYNAMICS_COLUMNS`; ``None`` when the firm panel was not kept.
        history_until: The last year of replayed history (``programme.history_until``): the plots mark
            where the projection begins; ``None`` for no mark.
        call_applicants: Every applicant of every open call (:func:`sim.observe.discontinuity.call_applicants`),
            columns :data:`CALL_APPLICANT_COLUMNS`; or ``None``.
        written: Files already written while the run was made (:class:`sim.output.early.EarlyFiles`);
            :func:`write_outputs` does not write them again into their folder.
    """

    scenario_name: str
    seed: int
    yearly: pd.DataFrame
    firms: pd.DataFrame | None
    clusters: pd.DataFrame
    summary: dict
    scenario_toml: str = ""
    effect_tables: dict[str, pd.DataFrame] | None = None
    clusters_yearly: pd.DataFrame | None = None
    regions_yearly: pd.DataFrame | None = None
    firm_dynamics: pd.DataFrame | None = None
    history_until: int | None = None
    call_applicants: pd.DataFrame | None = None
    written: tuple[Path, ...] = ()

    @property
    def effects(self) -> pd.DataFrame | None:
        """``effects.csv``: the gap by metric and estimator (``matched_did``, ``true_effect``)."""
        return None if self.effect_tables is None else self.effect_tables["effects"]

    def __post_init__(self) -> None:
        self.yearly = conform(self.yearly, YEARLY_COLUMNS, "yearly")
        self.clusters = conform(self.clusters, CLUSTER_COLUMNS, "clusters")
        if self.firms is not None:
            self.firms = conform(self.firms, FIRM_COLUMNS, "firms")
        if self.effect_tables is not None:
            self.effect_tables["effects"] = conform(self.effect_tables["effects"], EFFECT_COLUMNS, "effects")
        for name, columns in self.OPTIONAL_TABLES.items():
            if getattr(self, name) is not None:
                setattr(self, name, conform(getattr(self, name), columns, name))

    #: The optional tables and their contracts; each is written to ``<name>.csv``.
    OPTIONAL_TABLES: ClassVar[dict[str, tuple[str, ...]]] = {
        "clusters_yearly": CLUSTER_YEARLY_COLUMNS, "regions_yearly": REGION_YEARLY_COLUMNS,
        "firm_dynamics": DYNAMICS_COLUMNS, "call_applicants": CALL_APPLICANT_COLUMNS,
    }  # fmt: skip


EFFECT_HEADLINE_PREFIXES = ("gap_", "true_", "selection_share_", "effect_members", *MOMENTS)
#: Years whose clusters, members and jobs made by membership the summary reports.
HEADLINE_YEARS = (2019, 2021)
_METRIC = "(value_added|revenue|man_years)"
_HEADLINE_FIGURE = re.compile("|".join([
    "firms_end|employment_end|value_added_end_nok|employment_growth_pct_per_year|programme_spend_total_nok",
    "effect_members|treatment_jobs_end", rf"(clusters|members|treatment_jobs)_({'|'.join(map(str, HEADLINE_YEARS))})",
    rf"(gap|true)_{_METRIC}_pp(_year\d+)?", rf"selection_share_{_METRIC}", *MOMENTS,
]))


def is_headline_figure(name: str) -> bool:
    """Whether a run's ``summary["headline"]`` can hold this figure (effects and jobs need measurement).

    Args:
        name: A figure's name, e.g. ``gap_value_added_pp``.

    Returns:
        True for a name the headline can hold.
    """
    return _HEADLINE_FIGURE.fullmatch(name) is not None


def with_effect_headline(headline: dict, tables: dict[str, pd.DataFrame]) -> dict:
    """A summary's headline with its effect figures replaced by those of ``tables``.

    Args:
        headline: The summary's headline figures.
        tables: The measured effect tables (:func:`effect_headline` reads them).

    Returns:
        A new headline; figures other than effects are kept.
    """
    kept = {k: v for k, v in headline.items() if not k.startswith(EFFECT_HEADLINE_PREFIXES)}
    return kept | effect_headline(tables)


def effect_headline(tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Headline figures of the measured effects, for ``summary.json``.

    Args:
        tables: :attr:`RunResult.effect_tables`.

    Returns:
        ``gap_<metric>_pp`` (the published estimator) and, by year since joining,
        ``gap_<metric>_pp_year<k>``; ``true_<metric>_pp`` likewise from the twin world;
        ``selection_share_<metric>``; ``effect_members`` (members measured); and one number per design that
        can tell selection from treatment (:data:`sim.observe.moments.MOMENTS`).
    """
    prefix = {"matched_did": "gap", "true_effect": "true"}
    out: dict[str, float] = {}
    for row in tables["effects"].itertuples():
        out[f"{prefix[row.estimator]}_{row.metric}_pp"] = float(row.gap_pp)
    for row in tables["effects_by_year"].itertuples():
        out[f"{prefix[row.estimator]}_{row.metric}_pp_year{row.years_since_joining}"] = float(row.gap_pp)
    for row in tables["selection"].itertuples():
        out[f"selection_share_{row.metric}"] = float(row.selection_share)
    out["effect_members"] = int(tables["effects"]["n_treated"].max()) if len(tables["effects"]) else 0
    return out | moments(tables)


def conform(table: pd.DataFrame, columns: Sequence[str], what: str) -> pd.DataFrame:
    """Put the contract columns first, keeping any extra columns after them.

    Args:
        table: A table produced by the model.
        columns: The contract columns, in contract order.
        what: Name of the table, used in the error message.

    Returns:
        A new DataFrame with the contract columns first and a fresh 0..n-1 index.

    Raises:
        ValueError: If a contract column is missing.
    """
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what} table lacks contract columns: {', '.join(missing)}")
    extra = [c for c in table.columns if c not in columns]
    return table[[*columns, *extra]].reset_index(drop=True)


def compact_firms(firms: pd.DataFrame) -> pd.DataFrame:
    """Cast the firm panel to compact types for parquet.

    Contract columns get :data:`FIRM_DTYPES`; extra columns are narrowed by kind (integers that
    fit to int32, floats to float32, strings to categories, which parquet dictionary-encodes).

    Args:
        firms: The firm-year panel.

    Returns:
        A new DataFrame with the same columns and values in compact types.
    """
    types = {c: FIRM_DTYPES.get(c) or _compact_dtype(firms[c]) for c in firms.columns}
    return firms.astype(types)


def _compact_dtype(column: pd.Series) -> Any:
    if pd.api.types.is_bool_dtype(column):
        return column.dtype
    if pd.api.types.is_integer_dtype(column):
        info = np.iinfo(np.int32)
        fits = column.empty or (info.min <= column.min() and column.max() <= info.max)
        return "int32" if fits else column.dtype
    if pd.api.types.is_float_dtype(column):
        return "float32"
    if pd.api.types.is_string_dtype(column) or pd.api.types.is_object_dtype(column):
        return "category"
    return column.dtype


def summary_json(summary: dict) -> str:
    """Serialise a summary deterministically (sorted keys, indent 2, trailing newline).

    NaN and infinities become ``null`` (strict JSON has no NaN, and a headline figure can be
    undefined, e.g. an effect with no treated firms); numpy scalars and arrays, paths and dates
    become their plain JSON equivalents.

    Args:
        summary: A nested dict of headline figures.

    Returns:
        The JSON text.
    """
    return json.dumps(_jsonable(summary), sort_keys=True, indent=2, allow_nan=False) + "\n"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def write_outputs(result: RunResult, out_dir: Path, with_plots: bool = True) -> list[Path]:
    """Write the files of a run folder.

    Writes ``yearly.csv``, ``clusters.csv``, ``firms.parquet`` (unless ``result.firms`` is
    ``None``), ``summary.json``, ``scenario.toml`` (unless ``result.scenario_toml`` is empty),
    the effect tables (``effects.csv``, ``effects_by_year.csv``, ... when measured),
    ``clusters_yearly.csv``, ``regions_yearly.csv``, ``firm_dynamics.csv`` and ``call_applicants.csv``
    (each when the result holds it) and the PNG plots of :mod:`sim.output.plots`, but not the files
    already written into ``out_dir`` while the run was made (``result.written``). Existing files of
    the same names are overwritten.

    Args:
        result: The run to write.
        out_dir: The run folder; created if missing.
        with_plots: Write the PNG plots (``output.plots`` in the scenario); sweeps skip them.

    Returns:
        The paths written here, in the order above.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    done = {path.name for path in result.written if path.parent.resolve() == out_dir.resolve()}
    written = [write_csv(result.yearly, out_dir / "yearly.csv")]
    written.append(write_csv(result.clusters, out_dir / "clusters.csv"))
    # The panel's parquet file is written beside the rest: pyarrow encodes it without the GIL while
    # the tables and plots are made here (1-2 s each at full scale). Its error, if any, is raised below.
    with ThreadPoolExecutor(max_workers=1) as pool:
        panel = pool.submit(write_panel, result.firms, out_dir / PANEL_FILE) \
            if result.firms is not None and PANEL_FILE not in done else None
        written.extend(_write_rest(result, out_dir, with_plots, done))
    if panel is not None:
        written.insert(2, panel.result())
    return written


def write_panel(firms: pd.DataFrame, path: Path) -> Path:
    """Write the firm panel as ``firms.parquet`` is written (compact types, no index).

    Args:
        firms: The panel, contract columns first (:func:`conform`).
        path: The file.

    Returns:
        ``path``.
    """
    compact_firms(firms).to_parquet(path, engine="pyarrow", index=False)
    return path


def _write_rest(result: RunResult, out_dir: Path, with_plots: bool, done: set[str]) -> list[Path]:
    """The run folder's files after the yearly and cluster tables and the panel, in :func:`write_outputs`' order."""
    written = [_write_text(summary_json(result.summary), out_dir / "summary.json")]
    if result.scenario_toml:
        written.append(_write_text(result.scenario_toml, out_dir / "scenario.toml"))
    for stem, table in (result.effect_tables or {}).items():
        written.append(write_csv(table, out_dir / f"{stem}.csv"))
    for stem in RunResult.OPTIONAL_TABLES:
        if getattr(result, stem) is not None:
            written.append(write_csv(getattr(result, stem), out_dir / f"{stem}.csv"))
    if with_plots:
        rest = [name for name in (*plots.REGISTER_PLOTS, "effects") if f"{name}.png" not in done]
        written.extend(plots.write_plots(result.yearly, result.firms, out_dir, result.effect_tables,
                                         history_until=result.history_until, dynamics=result.firm_dynamics,
                                         only=rest))
    return written


def write_csv(table: pd.DataFrame, path: Path) -> Path:
    """Write a table as the run folder's CSV files are written (same bytes for the same numbers).

    Args:
        table: The table.
        path: The CSV file.

    Returns:
        ``path``.
    """
    table.to_csv(path, index=False, float_format=CSV_FLOAT_FORMAT, lineterminator="\n")
    return path


def _write_text(text: str, path: Path) -> Path:
    # newline="\n": the same bytes on every platform, so run folders compare equal.
    path.write_text(text, encoding="utf-8", newline="\n")
    return path


# --- run ids and run folders -------------------------------------------------------------------

PARTIAL_SUFFIX = ".partial"
#: A default run id: start time (UTC, to the second), seed, and a random suffix that keeps runs
#: started in the same second apart (across processes and scenarios); sorts by start time.
RUN_ID = re.compile(r"^(\d{8}T\d{6})-s(\d+)(?:-([0-9a-f]{8}))?$")
# errno values that say the path given is wrong (bad input), not that the world failed.
_BAD_PATH_ERRNOS = {errno.ENOTDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.EISDIR, errno.EINVAL, errno.ELOOP}


class OutputError(RuntimeError):
    """Files cannot be written for a reason outside the input; ``str()`` is one line for the user.

    E.g. a read-only or full disk, or a folder removed meanwhile.
    """


def new_run_id(started: datetime, seed: int) -> str:
    """A run id unique across processes: ``<start second>-s<seed>-<8 random hex digits>``.

    Args:
        started: When the run started (UTC).
        seed: Its seed (0 to 2**63 - 1: the id is at most 45 characters).

    Returns:
        The id, e.g. ``20260101T120000-s5-1f0c9a2b``.
    """
    return f"{started:%Y%m%dT%H%M%S}-s{seed}-{uuid.uuid4().hex[:8]}"


def partial_path(out_dir: Path | str) -> Path:
    """The folder a run is written into before it is complete: ``<out_dir>.partial``.

    Args:
        out_dir: The run folder.

    Returns:
        Its partial twin, beside it.
    """
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + PARTIAL_SUFFIX)


def path_error(exc: OSError, path: Path | str, doing: str = "cannot write") -> Exception:
    """A file-system error as a one-line error: bad input or a failure of the outside world.

    Args:
        exc: The error.
        path: The path concerned.
        doing: What failed, e.g. ``cannot write``.

    Returns:
        :class:`ScenarioError` (exit status 2) when the path itself is wrong (below a file, a name
        too long, a file where a folder should be), else :class:`OutputError` (exit status 1:
        read-only, full, removed).
    """
    reason = exc.strerror or type(exc).__name__
    if exc.errno in _BAD_PATH_ERRNOS:
        return ScenarioError(str(path), "", f"{doing}: {reason}")
    return OutputError(f"{path}: {doing}: {reason}")


def writable_folder(folder: Path | str) -> Path:
    """Create a folder (and its parents) and make sure a file can be written in it, before the work.

    For outputs that are replaced file by file (``compare``, ``export``), not run folders.

    Args:
        folder: The folder.

    Returns:
        The folder.

    Raises:
        ScenarioError: The path cannot be a folder (below a file, a name too long).
        OutputError: It cannot be written (read-only file system, no permission, full).
    """
    folder = Path(folder)
    try:
        below = next((p for p in (folder, *folder.parents) if p.exists() or p.is_symlink()), None)
        if below is not None and not below.is_dir():
            raise ScenarioError(str(folder), "", f"cannot create the folder: {below} is a file, not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise path_error(exc, folder, "cannot write the folder") from None
    return folder


def open_run_folder(out_dir: Path | str, force: bool = False) -> Path:
    """Check that ``out_dir`` can become a run folder and create ``<out_dir>.partial`` for it.

    Called before the work, so a folder that cannot be written stops the command at once.

    Args:
        out_dir: The run folder to be.
        force: Replace an existing non-empty ``out_dir`` (at the end) and a ``.partial`` left by
            an interrupted run.

    Returns:
        The new, empty ``.partial`` folder (created exclusively: no other run writes into it).

    Raises:
        ScenarioError: ``out_dir`` is a file or a non-empty folder (without ``force``), its
            ``.partial`` exists (without ``force``), or the path cannot be a folder.
        OutputError: The folder cannot be created (read-only file system, no permission, full).
    """
    out_dir, partial = Path(out_dir), partial_path(out_dir)
    try:
        if out_dir.exists() and not out_dir.is_dir():
            raise ScenarioError(str(out_dir), "", "is a file, not a folder")
        below = next((p for p in out_dir.parents if p.exists() or p.is_symlink()), None)
        if below is not None and not below.is_dir():
            raise ScenarioError(str(out_dir), "", f"cannot create the run folder: {below} is a file, not a folder")
        if not force and out_dir.is_dir() and any(out_dir.iterdir()):
            raise ScenarioError(str(out_dir), "", "exists and is not empty (a run never writes into another's "
                                                  "folder); give a new folder, or --force to replace it")
        if partial.exists() and force:
            shutil.rmtree(partial)
        elif partial.exists():
            raise ScenarioError(str(partial), "", "exists: another run is writing it or an interrupted run "
                                                  "left it; remove it, or --force")
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.mkdir()
    except OSError as exc:
        raise path_error(exc, out_dir, "cannot create the run folder") from None
    return partial


def finish_run_folder(partial: Path, out_dir: Path | str, force: bool = False) -> Path:
    """Rename a complete ``.partial`` folder to its run folder.

    Args:
        partial: From :func:`open_run_folder`, every file written.
        out_dir: The run folder.
        force: Replace a non-empty ``out_dir`` (moved aside, then removed).

    Returns:
        ``out_dir``.

    Raises:
        OutputError: The rename failed (e.g. another process filled ``out_dir`` meanwhile); the
            files stay in ``partial``.
    """
    out_dir = Path(out_dir)
    old = None
    try:
        if force and out_dir.is_dir() and any(out_dir.iterdir()):
            old = out_dir.with_name(f"{out_dir.name}.replaced-{uuid.uuid4().hex[:8]}")
            out_dir.rename(old)
        os.rename(partial, out_dir)  # replaces an empty folder; refuses a non-empty one (ENOTEMPTY)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputError(f"{out_dir}: cannot finish the run folder ({reason}); its files are in {partial}") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out_dir


@contextmanager
def run_folder(out_dir: Path | str, force: bool = False) -> Iterator[Path]:
    """A run folder that is complete or absent: write into the yielded ``.partial`` folder.

    The ``.partial`` folder is created on entry (:func:`open_run_folder`); on a normal exit it is
    renamed to ``out_dir`` (:func:`finish_run_folder`); on an error or an interrupt it is removed,
    so nothing half-written is left. A file-system error inside the block becomes one line.

    Args:
        out_dir: The run folder.
        force: Replace an existing non-empty ``out_dir``.

    Yields:
        The ``.partial`` folder to write into.

    Raises:
        ScenarioError: See :func:`open_run_folder`.
        OutputError: A file could not be written (disk full, folder removed) or the rename failed.
    """
    partial = open_run_folder(out_dir, force)
    try:
        yield partial
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        where = exc.filename or partial
        raise OutputError(f"{where}: cannot write the run's files: {exc.strerror or exc}; nothing was kept") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finish_run_folder(partial, out_dir, force)
