"""``run.py export EXPERIMENT``: an experiment's runs and outputs as tidy parquet or CSV tables.

Writes into ``--out`` (default ``results/sweeps/<experiment>/export/``):

- ``runs``: one row per run: ``run_id, point, replication, seed``, one column per parameter
  (named by its scenario key, e.g. ``membership.leave_rate``), status, error, timings, host and
  the headline figures of its summary;
- ``yearly``: one row per run and year: ``run_id, point, replication, seed``, the parameters,
  then the yearly columns of ``yearly.csv``;
- ``clusters`` and ``firms``: the same for cluster-years and the firm-year panel, when the sweep
  kept them;
- ``summary.png``: each outcome against each parameter.

Outputs are read and written a slice of runs at a time, so memory stays flat for large sweeps.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from sim.output.result import CSV_FLOAT_FORMAT, writable_folder
from sim.output.store import DEFAULT_DB_URL

ORDER = 4
RUNS_PER_SLICE = 200


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``export`` sub-command.

    Args:
        sub: The sub-parsers of ``run.py``.
    """
    p = sub.add_parser("export", help="write an experiment's runs and outputs as tidy tables")
    p.add_argument("experiment", help="experiment name (the sweep file's sweep.name)")
    p.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="file format (default parquet)")
    p.add_argument("--out", type=Path, help="output folder (default results/sweeps/<experiment>/export/)")
    p.add_argument("--db", default=DEFAULT_DB_URL, help=f"results database URL (default {DEFAULT_DB_URL})")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    """Write the experiment's tables and summary plot, and list them.

    Args:
        args: The parsed command line.

    Returns:
        The exit status.
    """
    from sim.experiments import ledger
    from sim.experiments.plots import plot_experiment

    engine = ledger.open_ledger(args.db)
    meta = ledger.load_experiment(engine, args.experiment)
    out = writable_folder(args.out or Path("results") / "sweeps" / args.experiment / "export")  # before the work
    runs = ledger.load_runs(engine, args.experiment)
    identity = runs[["run_id", "point", "replication", "seed", *runs.attrs["parameters"]]]
    written = {"runs": _write_all(runs, out / f"runs.{args.format}", args.format)}
    done = runs.loc[runs["status"] == "done", "run_id"].tolist()
    for output in ("yearly", "clusters"):
        if output in meta["outputs"].split(","):
            slices = (identity.merge(ledger.load_outputs(engine, done[i:i + RUNS_PER_SLICE], output), on="run_id")
                      for i in range(0, len(done), RUNS_PER_SLICE))
            written[output] = _write_slices(slices, out / f"{output}.{args.format}", args.format)
    if "firms" in meta["outputs"].split(","):
        written["firms"] = _write_slices(_firm_panels(runs[runs["status"] == "done"]),
                                         out / f"firms.{args.format}", args.format)
    plot = plot_experiment(engine, args.experiment, out / "summary.png")
    engine.dispose()
    for name, rows in written.items():
        print(f"{out / f'{name}.{args.format}'}  {rows:,} rows" if rows else f"{name}: no finished runs yet")
    if plot is not None:
        print(plot)
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
