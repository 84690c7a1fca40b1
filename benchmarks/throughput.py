"""Throughput and memory of the vectorised engine, and its speed against the per-agent reference.

Usage::

    python benchmarks/throughput.py                 # 10k, 100k and full scale, 2000-2035
    python benchmarks/throughput.py --quick         # 10k only
    python benchmarks/throughput.py --sizes 10000,full --years 2000-2021 --csv bench.csv

For each population size (``full`` = all 191,799 employer enterprises of 2000, ``population.scale = 1``;
a number ``n`` gives ``scale = n / 191,799``) the engine runs ``sim.run`` on
``scenarios/baseline_2021.toml`` (or, if that file is missing, the defaults plus four clusters)
twice, each in a fresh Python process: once keeping the firm-year panel, as ``run.py run`` does,
and once without it. Then the per-agent reference (:mod:`sim.reference`) runs 10,000 firms for a
few years (``--ref-years``), and so does the engine's model without panel, for the speed ratio:
both are timed the same way, building the model and stepping it (no result tables, no effect
measurement), and both follow the same rules: the reference has no ``levers`` phase, so the
instruments beside the programme (restructuring, corporate networks, Green Platform, foreign
investment) are switched off for this pair, as in ``tests/test_reference.py``; before 2022 the
baseline replays the programme's history, which both follow. This short pair is repeated five
times, the two in turn, and the fastest run of each is kept (less noise from a busy machine). The
engine's model with every instrument on is timed the same way and reported beside it.

Reported per run: wall time (building the population, all years and the result tables; not
interpreter start-up or imports) and, of it, the seconds of the firm-dynamics table (made from
the panel; ``run.py run`` makes it in another process while the effects are measured),
firm-years (the sum over years of firms open at the end of each year), firm-years per second,
and peak memory: the process's peak resident set size (``ru_maxrss``), interpreter and imports
included, because that is what a machine must have.

Output: an aligned plain-text table on stdout; ``--csv PATH`` also writes the rows as CSV.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline_2021.toml"
FULL_SCALE_FIRMS = 191_799  # employer enterprises of the business sector in 2000 (sum of population.size_classes)
FALLBACK_CLUSTERS = [
    {"name": "GCE Blue Maritime", "region": "more_og_romsdal", "sector": "maritime",
     "levels": [[2002, "arena"], [2006, "nce"], [2014, "gce"]]},
    {"name": "NCE Raufoss", "region": "innlandet", "sector": "manufacturing",
     "levels": [[2006, "nce"]], "end_year": 2016},
    {"name": "NCE Finance Innovation", "region": "vestland", "sector": "ict_fintech",
     "levels": [[2005, "arena"], [2010, "nce"]]},
    {"name": "Arena Biotech North", "region": "troms_og_finnmark", "sector": "health_medtech",
     "levels": [[2004, "arena"]], "end_year": 2008},
]
TARGET_FULL_WALL_S = 60.0
TARGET_FULL_RSS_GB = 4.0
TARGET_RATIO = 50.0
LEVERS = ("restructuring", "corporate_networks", "green_platform", "foreign_investment")
RATIO_REPEATS = 5


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table.

    Args:
        argv: Command-line arguments (default ``sys.argv[1:]``).

    Returns:
        Exit status 0.
    """
    args = _parser().parse_args(argv)
    if args.child:
        print(json.dumps(_child(args)))
        return 0
    first, last = (int(y) for y in args.years.split("-"))
    period, rows = f"{first}-{last}", []
    for size in ["10000"] if args.quick else args.sizes.split(","):
        panel = _spawn("engine", size, first, last, True, args.seed)
        plain = _spawn("engine", size, first, last, False, args.seed)
        rows.append(_row("engine", period, plain, panel))
    ref_last = first + args.ref_years - 1
    # The short pair behind the ratio is run RATIO_REPEATS times, the two models in turn, and
    # the fastest run of each kept: a machine whose speed drifts (a shared host) then slows both.
    runs = {"reference": [], "engine-model": [], "engine-model-levers": []}
    for _ in range(RATIO_REPEATS):
        for model, done in runs.items():
            done.append(_spawn(model, str(args.ref_firms), first, ref_last, False, args.seed))
    ref, eng, eng_levers = (min(done, key=lambda run: run["wall_s"]) for done in runs.values())
    short = f"{first}-{ref_last}"
    rows += [_row("reference", short, ref), _row("engine (model)", short, eng),
             _row("engine (model, levers on)", short, eng_levers)]
    table = pd.DataFrame(rows)
    ratio = _speed(eng) / _speed(ref)
    best = table.loc[table["model"] == "engine", "firm_years_per_s_no_panel"].max() / _speed(ref)
    print(f"scenario: {_scenario_source()}, seed {args.seed}; panel = firm-year panel kept; the "
          f"reference pair without the levers it lacks")
    print(_format(table))
    print(f"\nspeed ratio engine / reference (firm-years per second, no panel, the same rules), "
          f"{args.ref_firms:,} firms {short}: {ratio:,.1f} (target >= {TARGET_RATIO:.0f})")
    print(f"the engine with every lever on against the same reference: {_speed(eng_levers) / _speed(ref):,.1f}")
    print(f"engine's fastest size (levers on, result tables) against the same reference: {best:,.1f}")
    full = table[(table["model"] == "engine") & (table["firms"] >= FULL_SCALE_FIRMS)]
    if len(full):
        r = full.iloc[0]
        print(f"full scale {r['years']}: {r['wall_s']:.1f} s (target < {TARGET_FULL_WALL_S:.0f} s),"
              f" peak RSS {r['peak_rss_mb'] / 1024:.2f} GB (target < {TARGET_FULL_RSS_GB:.0f} GB)")
    if args.csv:
        table.assign(ratio_engine_over_reference=ratio).to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 0


def _speed(run: dict) -> float:
    return run["firm_years"] / run["wall_s"]


def _row(model: str, years: str, plain: dict, panel: dict | None = None) -> dict:
    """One table row from a run without the panel and, for the engine, one with it."""
    row = {"model": model, "firms": plain["firms"], "years": years,
           "firm_years": plain["firm_years"]}
    if panel is not None:
        row |= {"wall_s": panel["wall_s"], "firm_years_per_s": _speed(panel),
                "dynamics_s": panel["dynamics_s"], "peak_rss_mb": panel["peak_rss_mb"]}
    return row | {"wall_s_no_panel": plain["wall_s"], "firm_years_per_s_no_panel": _speed(plain),
                  "peak_rss_mb_no_panel": plain["peak_rss_mb"]}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000,full",
                   help="comma-separated firm counts or 'full' (default: 10000,100000,full)")
    p.add_argument("--years", default="2000-2035", help="period FIRST-LAST (default 2000-2035)")
    p.add_argument("--quick", action="store_true", help="only 10,000 firms")
    p.add_argument("--ref-firms", type=int, default=10_000, help="firms in the reference run")
    p.add_argument("--ref-years", type=int, default=5, help="years of the reference run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--csv", type=Path, help="also write the table to this CSV file")
    p.add_argument("--child", choices=["engine", "engine-model", "engine-model-levers", "reference"],
                   help=argparse.SUPPRESS)
    p.add_argument("--size", help=argparse.SUPPRESS)
    p.add_argument("--panel", type=int, default=1, help=argparse.SUPPRESS)
    return p


def _spawn(model: str, size: str, first: int, last: int, panel: bool, seed: int) -> dict:
    """Run one measurement in a fresh interpreter, so that peak memory is that run's alone."""
    cmd = [sys.executable, __file__, "--child", model, "--size", size,
           "--years", f"{first}-{last}", "--panel", str(int(panel)), "--seed", str(seed)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _scenario_source() -> str:
    return str(BASELINE.relative_to(ROOT)) if BASELINE.exists() else "defaults + 4 clusters"


def _scenario(size: str, first: int, last: int, panel: bool, levers: bool = True):
    from sim.scenario.files import load_scenario

    scale = 1.0 if size == "full" else min(1.0, int(size) / FULL_SCALE_FIRMS)
    # The engine alone: no effect measurement, so no twin world beside it.
    overrides = {"population.scale": scale, "scenario.start_year": first,
                 "scenario.end_year": last, "output.firm_panel": panel, "measurement.effects": False}
    if not levers:  # the rules the per-agent reference states (it has no levers phase)
        overrides |= {f"{lever}.enabled": False for lever in LEVERS}
    if BASELINE.exists():
        return load_scenario(BASELINE, overrides)
    return load_scenario(None, {**overrides, "clusters": FALLBACK_CLUSTERS})


def _child(args: argparse.Namespace) -> dict:
    """One measured run (in the child process)."""
    from sim.world.population import class_counts, size_classes

    first, last = (int(y) for y in args.years.split("-"))
    levers = args.child in ("engine", "engine-model-levers")
    dynamics_s = 0.0
    scn = _scenario(args.size, first, last, bool(args.panel), levers)
    firms = int(class_counts(size_classes(scn), scn.population.scale).sum())  # at the start
    firm_years = 0
    started = time.perf_counter()
    if args.child == "engine":  # end to end, as run.py runs it: result tables and summary included
        import sim

        def count(model) -> None:
            nonlocal firm_years
            firm_years += int(model.firms.alive[: model.firms.n].sum())

        dynamics_s = sim.run(scn, seed=args.seed, on_year=count).summary["phase_seconds"].get("dynamics", 0.0)
    elif args.child.startswith("engine-model"):  # the model alone, built and stepped as the reference is
        from sim.model import ClusterModel

        model = ClusterModel(scn, rng=args.seed, keep_panel=False)
        while model.running:
            model.step()
            firm_years += int(model.firms.alive[: model.firms.n].sum())
    else:
        from sim.reference import ReferenceModel, RefFirm

        model = ReferenceModel(scn, rng=args.seed)
        while model.running:
            model.step()
            firm_years += len(model.agents_by_type[RefFirm])
    wall = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return {"firms": firms, "firm_years": firm_years, "wall_s": wall, "peak_rss_mb": peak_kb / 1024,
            "dynamics_s": dynamics_s}


def _format(table: pd.DataFrame) -> str:
    shown = table.rename(columns={
        "wall_s": "wall s", "firm_years_per_s": "firm-yr/s", "dynamics_s": "of it dynamics s", "peak_rss_mb": "peak MB",
        "wall_s_no_panel": "wall s (no panel)",
        "firm_years_per_s_no_panel": "firm-yr/s (no panel)",
        "peak_rss_mb_no_panel": "peak MB (no panel)", "firm_years": "firm-years"})
    count, seconds = "{:,.0f}", "{:.2f}"
    formats = {"firms": count, "firm-years": count, "wall s": seconds, "firm-yr/s": count, "of it dynamics s": "{:.3f}",
               "peak MB": count, "wall s (no panel)": seconds, "firm-yr/s (no panel)": count,
               "peak MB (no panel)": count}
    for col, fmt in formats.items():
        shown[col] = [fmt.format(v) if pd.notna(v) else "-" for v in shown[col]]
    return shown.to_string(index=False)


if __name__ == "__main__":
    sys.exit(main())
