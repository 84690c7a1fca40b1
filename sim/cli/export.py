"""``run.py export EXPERIMENT | FOLDER``: tidy parquet or CSV tables of a sweep, or one ``.xlsx`` workbook.

For an experiment, writes into ``--out`` (default ``results/sweeps/<experiment>/export/``):

- ``runs``: one row per run: ``run_id, point, replication, seed``, one column per parameter
  (named by its scenario key, e.g. ``membership.leave_rate``), status, error, timings, host and
  the headline figures of its summary;
- ``yearly``: one row per run and year: ``run_id, point, replication, seed``, the parameters,
  then the yearly columns of ``yearly.csv``;
- ``clusters`` and ``firms``: the same for cluster-years and the firm-year panel, when the sweep
  kept them;
- ``summary.png``: each outcome against each parameter.

Outputs are read and written a slice of runs at a time, so memory stays flat for large sweeps.
With ``--format xlsx`` the ``runs``, ``yearly`` and ``clusters`` tables go into one workbook,
``<experiment>.xlsx`` (the firm panel is too large for a spreadsheet: parquet or CSV has it).

For a folder written by ``run.py run``, ``run --seeds`` or ``compare``, writes one workbook of its
tables (:mod:`sim.output.xlsx`), by default into the folder: ``<scenario>_seed<N>.xlsx``,
``<scenario>_seeds<first>-<last>.xlsx`` or ``<a>_vs_<b>.xlsx``. A workbook is whole or absent, and an
existing one is replaced only with ``--force``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sim.output.result import CSV_FLOAT_FORMAT, writable_folder
from sim.output.store import DEFAULT_DB_URL, shown
from sim.scenario.errors import ScenarioError

ORDER = 4
RUNS_PER_SLICE = 200
FORMATS = ("parquet", "csv", "xlsx")

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from sim.output.xlsx import Sheet


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``export`` sub-command.

    Args:
        sub: The sub-parsers of ``run.py``.
    """
    p = sub.add_parser("export", help="write a sweep's runs and outputs as tidy tables, or a run, seeds or "
                                      "comparison folder as one .xlsx workbook")
    p.add_argument("target", metavar="EXPERIMENT_OR_FOLDER",
                   help="experiment name (the sweep file's sweep.name), or a folder written by run.py run, "
                        "run --seeds or compare")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="parquet (an experiment's default), csv, or xlsx: one workbook (a folder's only format)")
    p.add_argument("--out", type=Path,
                   help="output folder (default results/sweeps/<experiment>/export/; for a folder, the folder "
                        "itself); with xlsx, a path ending in .xlsx names the workbook")
    p.add_argument("--force", action="store_true",
                   help="replace an existing workbook (xlsx; parquet and CSV tables are always replaced)")
    p.add_argument("--db", default=DEFAULT_DB_URL, help=f"results database URL (default {DEFAULT_DB_URL})")
    p.set_defaults(func=cmd_export)


def is_folder(target: str) -> bool:
    """Whether ``export``'s argument names a folder rather than an experiment.

    Experiment names are letters, digits, ``_``, ``.`` and ``-``: a path separator, an existing
    folder, or ``.``/``..`` means a folder.

    Args:
        target: The argument as given.

    Returns:
        True for a folder.
    """
    return bool(target) and (Path(target).is_dir() or "/" in target or os.sep in target or target in (".", ".."))


def cmd_export(args: argparse.Namespace) -> int:
    """Write the experiment's tables and summary plot, or a folder's workbook, and list them.

    Args:
        args: The parsed command line.

    Returns:
        The exit status.
    """
    if is_folder(args.target):
        return _export_folder(args)
    if args.format == "xlsx":
        return _export_experiment_xlsx(args)
    from sim.experiments import ledger
    from sim.experiments.plots import plot_experiment

    fmt = args.format or "parquet"
    engine = ledger.open_ledger(args.db)
    meta = ledger.load_experiment(engine, args.target)
    out = writable_folder(args.out or Path("results") / "sweeps" / args.target / "export")  # before the work
    runs = ledger.load_runs(engine, args.target)
    identity = runs[["run_id", "point", "replication", "seed", *runs.attrs["parameters"]]]
    written = {"runs": _write_all(runs, out / f"runs.{fmt}", fmt)}
    done = runs.loc[runs["status"] == "done", "run_id"].tolist()
    for output in ("yearly", "clusters"):
        if output in meta["outputs"].split(","):
            slices = _output_slices(engine, identity, done, output)
            written[output] = _write_slices(slices, out / f"{output}.{fmt}", fmt)
    if "firms" in meta["outputs"].split(","):
        written["firms"] = _write_slices(_firm_panels(runs[runs["status"] == "done"]), out / f"firms.{fmt}", fmt)
    plot = plot_experiment(engine, args.target, out / "summary.png")
    engine.dispose()
    for name, rows in written.items():
        print(f"{out / f'{name}.{fmt}'}  {rows:,} rows" if rows else f"{name}: no finished runs yet")
    if plot is not None:
        print(plot)
    return 0


def _output_slices(engine: Engine, identity: pd.DataFrame, done: list[str], output: str) -> Iterator[pd.DataFrame]:
    """An output of the done runs, a slice of runs at a time, with each run's identity and parameters in front."""
    from sim.experiments import ledger

    for i in range(0, len(done), RUNS_PER_SLICE):
        yield identity.merge(ledger.load_outputs(engine, done[i:i + RUNS_PER_SLICE], output), on="run_id")


def _export_folder(args: argparse.Namespace) -> int:
    """A run, seeds or comparison folder as one workbook."""
    from sim.output import xlsx

    folder = Path(args.target)
    if args.format not in (None, "xlsx"):
        raise ScenarioError(str(folder), "", f"a folder exports only as --format xlsx (its tables are CSV files "
                                             f"already), got --format {args.format}")
    contents = xlsx.folder_contents(folder)  # a folder of the wrong kind stops here, before anything is written
    path = xlsx.workbook_path(args.out, folder, contents.stem)
    xlsx.check_target(path, args.force)
    return _report(path, xlsx.write_workbook(contents, path, args.force))


def _export_experiment_xlsx(args: argparse.Namespace) -> int:
    """An experiment's runs, yearly and cluster tables as one workbook."""
    from sim.experiments import ledger
    from sim.output import xlsx

    engine = ledger.open_ledger(args.db)
    try:
        meta = ledger.load_experiment(engine, args.target)
        path = xlsx.workbook_path(args.out, Path("results") / "sweeps" / args.target / "export", args.target)
        xlsx.check_target(path, args.force)  # before the work
        runs = ledger.load_runs(engine, args.target)
        parameters = runs.attrs["parameters"]
        identity = runs[["run_id", "point", "replication", "seed", *parameters]]
        done = runs.loc[runs["status"] == "done", "run_id"].tolist()
        outputs = meta["outputs"].split(",")
        whole = f"python run.py export {args.target} --format parquet"
        tables = [xlsx.Table("runs", "experiment_runs: one row per run (parameters, status, timings, headline)",
                             [runs], whole)]
        tables += [xlsx.Table(output, f"experiment_outputs: {output}, one row per done run and "
                                      f"{'year' if output == 'yearly' else 'cluster and year'}",
                              _output_slices(engine, identity, done, output), whole)
                   for output in ("yearly", "clusters") if output in outputs]
        status = runs["status"].value_counts()
        facts = [("what", "a sweep (run.py sweep), read from the results database"), ("experiment", args.target),
                 ("database", shown(engine)), ("sweep file", str(meta.get("sweep_file") or "?")),
                 ("design", str(meta.get("design") or "?")), ("parameters", ", ".join(parameters) or "none"),
                 ("runs", ", ".join(f"{n:,} {s}" for s, n in status.items()) or "none yet"),
                 ("outputs kept", ", ".join(outputs)
                  + ("; the firm panels: --format parquet" if "firms" in outputs else "")),
                 ("model version", f"nic-sim {meta.get('package_version') or '?'}")]
        contents = xlsx.Contents(f"Sweep {args.target}: {len(runs):,} runs", args.target, facts, tables)
        sheets = xlsx.write_workbook(contents, path, args.force)
    finally:
        engine.dispose()
    return _report(path, sheets)


def _report(path: Path, sheets: list[Sheet]) -> int:
    """Print the workbook and its sheets; warn about a sheet cut at Excel's last row."""
    print(f"{path}  {len(sheets) + 1} sheets: about, " + ", ".join(f"{s.name} ({s.rows:,} rows)" for s in sheets))
    for s in sheets:
        if s.note.startswith("cut"):
            print(f"warning: sheet {s.name}: {s.note}", file=sys.stderr)
    return 0


def _firm_panels(runs: pd.DataFrame) -> Iterator[pd.DataFrame]:
    """Each done run's firm panel with its run_id in front; missing files are reported, not fatal."""
    for run_id, path in zip(runs["run_id"], runs["firms_path"]):
        if path is None or not Path(path).is_file():
            print(f"warning: {run_id}: firm panel {path} not found; skipped", file=sys.stderr)
            continue
        panel = pd.read_parquet(path)
        panel.insert(0, "run_id", run_id)
        yield panel


def _write_all(table: pd.DataFrame, path: Path, fmt: str) -> int:
    return _write_slices(iter([table]), path, fmt)


def _write_slices(slices: Iterable[pd.DataFrame], path: Path, fmt: str) -> int:
    """Write tables one after another into one file (parquet row groups or CSV rows)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, writer = 0, None
    partial = path.with_name(path.name + ".partial")
    for i, table in enumerate(slices):
        if fmt == "csv":
            table.to_csv(partial, mode="w" if i == 0 else "a", header=i == 0, index=False,
                         float_format=CSV_FLOAT_FORMAT, lineterminator="\n")
        else:
            arrow = pa.Table.from_pandas(table, preserve_index=False, schema=writer.schema if writer else None)
            writer = writer or pq.ParquetWriter(partial, arrow.schema)
            writer.write_table(arrow)
        rows += len(table)
    if writer is not None:
        writer.close()
    if partial.exists():
        partial.replace(path)  # a finished file or none: an interrupted export leaves no half table
    return rows
