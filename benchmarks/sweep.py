"""Sweep throughput and memory: runs per minute on 1 and 2 workers, and memory over 1000 runs.

Usage::

    python benchmarks/sweep.py                 # classroom, baseline (reduced) and the 1000-run sweep
    python benchmarks/sweep.py --quick         # fewer runs (a smoke test of the benchmark)
    python benchmarks/sweep.py --csv bench.csv

Everything goes through the real machinery (``sim.experiments.coordinator.run_sweep``: sweep file, ledger in
a fresh SQLite file, local process pool), so the figures include recording every run.

Throughput: a factorial sweep over ``membership.leave_rate`` of

- ``classroom``: ``scenarios/classroom.toml`` as shipped (2 % of Norway's firms, 2000-2030);
- ``baseline``: ``scenarios/baseline_2021.toml`` reduced to ``population.scale = 0.05`` (about
  15,000 firms; full scale takes about a minute a run) over its full 2000-2035;

each on 1 and 2 worker processes, twice, keeping the faster (less noise from other load). A
warm-up sweep first starts the fork server, so the figures are steady-state throughput (a fresh
``run.py sweep`` adds a few seconds once). Runs per minute = runs / wall time of the sweep
(entering, running and recording; not the summary plot); scaling efficiency = (runs per
minute on 2) / (2 x on 1).

Memory: a 1000-run sweep of the classroom scenario at ``population.scale = 0.005``, 2000-2010,
on 2 workers that are never replaced (``tasks_per_worker=None``, so a leak would show). Each
worker reports its peak resident set size (``ru_maxrss``) with every run; the table shows each
worker's peak after 50, 100, 250, 500 and 1000 runs, and the coordinator's resident memory.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = (50, 100, 250, 500, 1000)
REPEATS = 2


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its tables.

    Args:
        argv: Command-line arguments (default ``sys.argv[1:]``).

    Returns:
        Exit status 0.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (smoke test)")
    parser.add_argument("--csv", type=Path, help="also write the throughput rows as CSV")
    parser.add_argument("--part", choices=("all", "throughput", "memory"), default="all", help="what to measure")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _sweep(folder, "warmup", "classroom.toml", 2, {"population.scale": 0.003, "scenario.end_year": 2003}, 2)
        if args.part in ("all", "throughput"):
            table = _throughput(folder, args.quick)
            print("Throughput (local process pool, SQLite ledger)\n")
            print(table.astype(object).fillna("").to_string(index=False))
            if args.csv:
                table.to_csv(args.csv, index=False)
        if args.part in ("all", "memory"):
            total = 200 if args.quick else 1000
            print(f"\nMemory over a {total}-run sweep (classroom at 0.5 %, 2000-2010, 2 workers never replaced)\n")
            print(_memory(folder, total).to_string(index=False))
    return 0


def _throughput(folder: Path, quick: bool) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for label, scenario, fixed, runs in (
        ("classroom (2 %, 2000-2030)", "classroom.toml", {}, 12 if quick else 40),
        ("baseline (5 %, 2000-2035)", "baseline_2021.toml", {"population.scale": 0.05}, 4 if quick else 12),
    ):
        rates = {}
        for workers in (1, 2):
            # The fastest of REPEATS sweeps: less noise from whatever else the machine is doing.
            best = max((_sweep(folder, f"t{len(rows)}w{workers}r{k}", scenario, runs, fixed, workers)
                        for k in range(REPEATS)), key=lambda r: r.runs_per_minute)
            rates[workers] = best.runs_per_minute
            rows.append({"scenario": label, "workers": workers, "runs": runs,
                         "wall_s": round(best.wall_time_s, 1), "runs_per_min": round(rates[workers], 1)})
        rows[-1]["scaling_efficiency"] = round(rates[2] / (2 * rates[1]), 2)
    return pd.DataFrame(rows)


def _sweep(folder: Path, name: str, scenario: str, runs: int, fixed: dict, workers: int,
           tasks_per_worker: int | None = 500, executor: Any = None) -> Any:
    """Write a one-parameter factorial sweep of ``runs`` points and run it."""
    from sim.experiments.coordinator import run_sweep
    from sim.experiments.executors import LocalPool
    from sim.experiments.sweep_file import load_sweep

    rates = ", ".join(f"{0.02 + 0.2 * i / max(runs - 1, 1):.6f}" for i in range(runs))
    fixed_lines = "\n".join(f"{k} = {v!r}" for k, v in fixed.items())
    path = folder / f"{name}.toml"
    path.write_text(f'[sweep]\nname = "{name}"\nscenario = "{ROOT / "scenarios" / scenario}"\n'
                    f"[fixed]\n{fixed_lines}\n[parameters]\nmembership.leave_rate = [{rates}]\n")
    pool = executor or LocalPool(workers, tasks_per_worker=tasks_per_worker)
    return run_sweep(load_sweep(path), pool, f"sqlite:///{folder / 'bench.db'}", folder / name, progress=False)


class _Watched:
    """A local pool that notes the coordinator's resident memory as outcomes arrive."""

    def __init__(self, pool: Any, checkpoints: list[int]):
        self.pool, self.checkpoints, self.coordinator_mb = pool, set(checkpoints), {}

    def map(self, tasks: Any) -> Any:
        for i, outcome in enumerate(self.pool.map(tasks), start=1):
            if i in self.checkpoints:
                self.coordinator_mb[i] = _rss_mb()
            yield outcome


def _memory(folder: Path, total: int) -> pd.DataFrame:
    import pandas as pd

    from sim.experiments import ledger
    from sim.experiments.executors import LocalPool

    checkpoints = sorted({c for c in CHECKPOINTS if c < total} | {total})
    watched = _Watched(LocalPool(2, tasks_per_worker=None), checkpoints)
    started = time.perf_counter()
    _sweep(folder, "memory", "classroom.toml", total, {"population.scale": 0.005, "scenario.end_year": 2010},
           2, executor=watched)
    wall = time.perf_counter() - started
    runs = ledger.load_runs(ledger.open_ledger(f"sqlite:///{folder / 'bench.db'}"), "memory")
    runs = runs.sort_values("finished_at").reset_index(drop=True)
    workers = sorted(runs["worker"].unique())
    rows = []
    for n in checkpoints:
        upto = runs.iloc[:n]
        row = {"runs done": n}
        for k, w in enumerate(workers):
            row[f"worker {k + 1} peak MiB"] = round(upto.loc[upto["worker"] == w, "peak_rss_mb"].max(), 1)
        row["coordinator MiB"] = round(watched.coordinator_mb.get(n, float("nan")), 1)
        rows.append(row)
    table = pd.DataFrame(rows)
    growth = {c: table[c].iloc[-1] - table[c].iloc[1 if len(table) > 1 else 0] for c in table.columns[1:]}
    print(f"({total} runs in {wall:.0f} s; growth from {table['runs done'].iloc[min(1, len(table) - 1)]} to "
          f"{total} runs: " + ", ".join(f"{c.replace(' peak', '')} {v:+.1f}" for c, v in growth.items()) + ")")
    return table


def _rss_mb() -> float:
    """Current resident memory of this process in MiB (Linux /proc; peak elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        import os

        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        from sim.experiments.executors import peak_rss_mb

        return peak_rss_mb()


if __name__ == "__main__":
    sys.exit(main())
