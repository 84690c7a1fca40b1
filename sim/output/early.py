"""A run folder's files that need no measurement, written in a second process while it is made.

After the simulation, ``run.py run`` measures the membership effect (the estimator, a few seconds at
full scale) while the firm panel (``firms.parquet``), the firm-dynamics table and every plot but
``effects.png`` need only the register. :class:`EarlyFiles` forks a process that makes those while the
run's own process measures; :func:`sim.output.result.write_outputs` then writes the rest. The files are
the same bytes either way: the forked process runs the same functions on the same tables.
"""

from __future__ import annotations

import time
from multiprocessing.connection import Connection
from pathlib import Path

import pandas as pd

from sim.forked import Forked
from sim.observe.columns import FIRM_COLUMNS
from sim.observe.dynamics import firm_dynamics
from sim.output import plots
from sim.output.result import PANEL_FILE, conform, write_panel


class EarlyFiles:
    """The files of a run folder that need no measurement, being written by a forked process.

    Attributes:
        names: The files it is to write, in the run folder: the panel's and the register's plots (those
            that apply; the others are written by nobody).
    """

    @classmethod
    def start(cls, out_dir: Path, yearly: pd.DataFrame, panel: pd.DataFrame | None, scale: float,
              history_until: int | None, with_plots: bool) -> EarlyFiles | None:
        """Fork the process (arguments as for the constructor), or None where it cannot or need not run.

        Returns:
            The files being written, or None: the platform cannot fork (:meth:`sim.forked.Forked.available`),
            or there is neither a panel nor a plot to write.
        """
        if (panel is None and not with_plots) or not Forked.available():
            return None
        return cls(out_dir, yearly, panel, scale, history_until, with_plots)

    def __init__(self, out_dir: Path, yearly: pd.DataFrame, panel: pd.DataFrame | None, scale: float,
                 history_until: int | None, with_plots: bool):
        """Fork the process that writes them.

        Args:
            out_dir: The run folder (it exists).
            yearly: The yearly table as the run's result holds it.
            panel: The firm-year panel, or None when the scenario keeps none (then no dynamics either).
            scale: The population's scale (the dynamics table is in full-scale units).
            history_until: The last year of replayed history (the plots mark it).
            with_plots: Write the plots.
        """
        self.names = ([PANEL_FILE] if panel is not None else []) + (
            [f"{name}.png" for name in plots.REGISTER_PLOTS] if with_plots else [])
        self._process = Forked(_write, (out_dir, yearly, panel, scale, history_until, with_plots),
                               "run's early files")

    def result(self) -> tuple[pd.DataFrame | None, float]:
        """Wait for the files.

        Returns:
            The firm-dynamics table (None without a panel) and the seconds it took to make.

        Raises:
            OSError: A file could not be written (as if written here).
            RuntimeError: The process died.
        """
        return self._process.outcome()

    def close(self) -> None:
        """Stop the process (an interrupted or failed run)."""
        self._process.close()


def _write(_pipe: Connection, out_dir: Path, yearly: pd.DataFrame, panel: pd.DataFrame | None, scale: float,
           history_until: int | None, with_plots: bool) -> tuple[pd.DataFrame | None, float]:
    """The forked process: the dynamics table, the panel's file and the register's plots."""
    dynamics, seconds = timed_dynamics(panel, scale)
    firms = conform(panel, FIRM_COLUMNS, "firms") if panel is not None else None
    if firms is not None:
        write_panel(firms, out_dir / PANEL_FILE)
    if with_plots:
        plots.write_plots(yearly, firms, out_dir, history_until=history_until, dynamics=dynamics,
                          only=plots.REGISTER_PLOTS)
    return dynamics, seconds


def timed_dynamics(panel: pd.DataFrame | None, scale: float) -> tuple[pd.DataFrame | None, float]:
    """The firm-dynamics table of a panel (:func:`sim.observe.dynamics.firm_dynamics`) and its seconds.

    Args:
        panel: The firm-year panel, or None (then no table).
        scale: The population's scale.

    Returns:
        The table (None without a panel) and the seconds it took.
    """
    started = time.perf_counter()
    dynamics = firm_dynamics(panel, scale) if panel is not None else None
    return dynamics, time.perf_counter() - started
