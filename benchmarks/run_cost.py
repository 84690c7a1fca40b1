"""What users wait for: one calibration-grade simulation, and the full-scale baseline as ``make run`` runs it.

Usage::

    python benchmarks/run_cost.py               # both
    python benchmarks/run_cost.py --skip-full   # the calibration-grade run only
    python benchmarks/run_cost.py --repeats 10

**Calibration grade** is what each particle of ``run.py calibrate`` simulates: ``scenarios/baseline_2021.toml``
at 10 % of Norway (``population.scale = 0.1``), 2000-2022, the twin world and the published
estimator on, no bootstrap and no firm panel written. It runs in this process after one warm-up
run (numba's cache and scikit-learn's import are paid once per worker, not per simulation), on one
core: the engine is single-threaded and the estimator holds BLAS to one thread. Beside it, the
same run with the engine only (no twin, no estimator), and each phase's share (``summary.json``'s
``phase_seconds``). The fastest of ``--repeats`` runs is kept (less noise from a busy machine).

**Full scale** is ``python run.py run scenarios/baseline_2021.toml`` in a fresh process, writing
its whole folder: wall time from the shell (interpreter start-up and imports included) and the
process's peak resident set size.

Output: aligned plain-text tables on stdout.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline_2021.toml"
CALIBRATION_GRADE = {"population.scale": 0.1, "scenario.end_year": 2022, "measurement.bootstrap": 0,
                     "output.firm_panel": False}
ENGINE_ONLY = {"measurement.effects": False, "measurement.twin": False}
TARGET_CALIBRATION_S = 1.0
TARGET_FULL_S, TARGET_FULL_GB = 10.0, 2.0


def calibration_grade(repeats: int) -> pd.DataFrame:
    """Time the calibration-grade run and the engine alone, fastest of ``repeats`` each.

    Args:
        repeats: Runs of each kind after the warm-up.

    Returns:
        One row per kind: seconds and the phases' seconds.
    """
    sys.path.insert(0, str(ROOT))
    import sim
    from sim.scenario.files import load_scenario

    rows = []
    for kind, extra in (("calibration grade (twin + estimator)", {}), ("engine only", ENGINE_ONLY)):
        scenario = load_scenario(BASELINE, {**CALIBRATION_GRADE, **extra})
        sim.run(scenario, seed=10_000)  # warm-up
        best = None
        for seed in range(repeats):
            started = time.perf_counter()
            result = sim.run(scenario, seed=seed)
            seconds = time.perf_counter() - started
            if best is None or seconds < best[0]:
                best = (seconds, result.summary["phase_seconds"])
        rows.append({"run": kind, "seconds": round(best[0], 3), **{k: round(v, 3) for k, v in best[1].items()}})
    return pd.DataFrame(rows).fillna(0.0)


def full_scale() -> dict:
    """Run the full-scale baseline as ``make run`` does, in a fresh process.

    Returns:
        Wall seconds, peak resident memory (GB) and the exit code.
    """
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(ROOT / "run.py"), "run", str(BASELINE), "--out", f"{out}/run"],
                              cwd=ROOT, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
    # The children's ru_maxrss is the largest child's: this is the only one.
    return {"run": "full scale, run.py run (all outputs)", "seconds": round(seconds, 2),
            "peak_gb": round(peak / 1024**2, 2), "exit": done.returncode}


def main(argv: list[str] | None = None) -> int:
    """Print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each kind after the warm-up (default 5)")
    parser.add_argument("--skip-full", action="store_true", help="only the calibration-grade run")
    args = parser.parse_args(argv)
    table = calibration_grade(max(args.repeats, 1))
    print(f"One simulation at 10 % of Norway, 2000-2022, after warm-up (target: at most {TARGET_CALIBRATION_S} s)")
    print(table.to_string(index=False))
    if not args.skip_full:
        full = full_scale()
        print(f"\nThe full-scale baseline (target: at most {TARGET_FULL_S} s and {TARGET_FULL_GB} GB)")
        print(pd.DataFrame([full]).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
