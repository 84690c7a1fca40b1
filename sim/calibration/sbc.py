"""Simulation-based calibration: do the posterior's 90 % intervals hold the truth 90 % of the time?

Each case draws a parameter set from the prior (its *truth*), simulates the fitted scenario with it
once (a seed of its own), and turns the run into observed targets the way the error model of
:mod:`sim.calibration.posterior` says the published figures arose: each ``equal`` target is the
simulated value plus a Gaussian error with the target's tolerance as its sd. An ``at_least``
target is a constraint, not a measurement: a case is kept with the probability the kernel gives
its run (1 when the constraint holds), else drawn anew, so the truths come from the prior that the
constraint shapes, as the posterior's do. A run that cannot produce a calibrated statistic (no
member measured) cannot have made an observation either, and is drawn anew too.

Then the same ABC-SMC runs on the case at a smaller budget (``[calibration.sbc]``), and each
quantity's central 90 % interval (weighted 5 % and 95 % quantiles) is set against its truth: every
fitted parameter, and the true effect and the selection share of the case's own run. If the method
is right, each interval covers its truth in about 90 % of the cases (between the binomial bounds
:func:`coverage` gives). Every case is a study of its own in the results database
(``<study>.sbc<case>``), so a stopped simulation-based calibration continues where it stopped.

This is the ABC-SMC method's check. The emulator method's (:func:`sim.calibration.emulated.emulated_sbc`)
takes its cases from the design's runs and observes them with :func:`observe` too, but calibrates
them with emulators instead of new runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.calibration.history import CalibrationStore
from sim.calibration.posterior import Posterior, reader, run_abc, task_maker
from sim.calibration.sampler import SimulationFailed
from sim.calibration.spec import Budget, Calibration
from sim.calibration.weights import weighted_quantile
from sim.experiments.sweep import seed_int

#: Outcomes whose intervals are checked besides the parameters'.
TRUTHS = ("true_value_added_pp", "selection_share_value_added")
SHARE = 0.9  # the intervals checked
_TRUTH, _ABC = 0, 1  # sub-streams of a case's seed sequence
_SBC_KEY = 1_000_003  # spawn key of simulation-based calibration (apart from the posterior's generations)
MAX_ATTEMPTS = 50  # draws of one case before the prior is taken to contradict the constraints


def case_seeds(c: Calibration, case: int, attempt: int) -> tuple[np.random.Generator, int]:
    """A case's generator (its truth, the run's seed and the errors) and the seed of its ABC-SMC.

    Args:
        c: The set-up.
        case: The case's number.
        attempt: How many draws of this case were discarded before.

    Returns:
        The generator and the ABC seed.
    """
    truth, abc = np.random.SeedSequence(c.seed, spawn_key=(_SBC_KEY, case, attempt)).spawn(2)
    return np.random.default_rng(truth), seed_int(abc)


def draw_cases(c: Calibration, executor: Any, cases: int) -> list[dict[str, Any]]:
    """Draw each case's truth, simulate it, and make its observed targets.

    Args:
        c: The set-up.
        executor: Where the runs go.
        cases: How many cases.

    Returns:
        One dict per case: ``case``, ``attempt``, ``parameters``, ``statistics`` (its run),
        ``observed`` (the synthetic targets) and ``seed`` (of its ABC-SMC).

    Raises:
        SimulationFailed: A run failed.
        RuntimeError: A case was drawn :data:`MAX_ATTEMPTS` times without an observation.
    """
    read, task_for = reader(c), task_maker(c)
    kept: dict[int, dict[str, Any]] = {}
    attempts = dict.fromkeys(range(cases), 0)
    while len(kept) < cases:
        drawn = {k: _draw(c, k, attempts[k]) for k in range(cases) if k not in kept}
        tasks = [task_for(d["parameters"], d["run_seed"], f"{c.study}.sbc/{k}/{attempts[k]}") for k, d in drawn.items()]
        for outcome in executor.map(tasks):
            if not outcome.ok:
                raise SimulationFailed(f"run {outcome.run_id} failed: {outcome.error}")
            k = int(outcome.run_id.split("/")[1])
            case = drawn[k] | {"case": k, "attempt": attempts[k], "statistics": read(outcome)}
            if observe(c, case):
                kept[k] = case
            elif attempts[k] + 1 >= MAX_ATTEMPTS:
                raise RuntimeError(f"case {k}: {MAX_ATTEMPTS} draws from the prior gave no observation that meets "
                                   "the at_least targets; the priors and the constraints disagree")
            else:
                attempts[k] += 1
    return [kept[k] for k in range(cases)]


def _draw(c: Calibration, case: int, attempt: int) -> dict[str, Any]:
    rng, abc_seed = case_seeds(c, case, attempt)
    parameters = {n: float(p.distribution.frozen().rvs(random_state=rng)) for n, p in c.parameters.items()}
    return {"parameters": parameters, "run_seed": int(rng.integers(2**53)), "rng": rng, "seed": abc_seed}


def observe(c: Calibration, case: dict[str, Any]) -> bool:
    """Make a case's observed targets from its run; False if the run cannot have made an observation."""
    rng, statistics, observed = case["rng"], case["statistics"], {}
    for t in c.objective_targets:
        x = statistics[t.name]
        if not math.isfinite(x):
            return False
        if t.compare == "at_least":
            if rng.random() > math.exp(-0.5 * t.miss(x) ** 2):
                return False
            observed[t.name] = float(t.value)
        else:
            observed[t.name] = float(x + t.tolerance * rng.standard_normal())
    case["observed"] = observed
    return True


def run_sbc(c: Calibration, executor: Any, store: CalibrationStore, cases: int | None = None,
            progress: bool = False, on_case: Callable[[int, Posterior], None] | None = None) -> pd.DataFrame:
    """Simulation-based calibration: every case's 90 % intervals against its truths.

    Args:
        c: The set-up.
        executor: Where the runs go.
        store: The results database (each case is a study of its own there).
        cases: How many cases (default ``[calibration.sbc] cases``).
        progress: Show progress bars.
        on_case: Called with each case's number and posterior as it finishes.

    Returns:
        One row per case and quantity: ``case, quantity, truth, low, high, covered, ess, temperature``.
    """
    budget = Budget(c.sbc.population, c.sbc.generations, c.sbc.max_simulations)
    rows = []
    for case in draw_cases(c, executor, cases or c.sbc.cases):
        k = case["case"]
        posterior = run_abc(c, executor, store, f"{c.study}.sbc{k:03d}", kind="sbc", seed=case["seed"],
                            budget=budget, min_ess=c.sbc.min_ess, observed=case["observed"],
                            truth=case["parameters"], progress=progress)
        if on_case is not None:
            on_case(k, posterior)
        truths = case["parameters"] | {q: case["statistics"][q] for q in TRUTHS}
        w = posterior.draws["weight"].to_numpy(float)
        for quantity, truth in truths.items():
            low, high = weighted_quantile(posterior.draws[quantity].to_numpy(float), w,
                                          [(1 - SHARE) / 2, (1 + SHARE) / 2])
            rows.append({"case": k, "quantity": quantity, "truth": truth, "low": float(low), "high": float(high),
                         "covered": bool(low <= truth <= high), "ess": posterior.ess,
                         "temperature": posterior.temperature})
    return pd.DataFrame(rows, columns=["case", "quantity", "truth", "low", "high", "covered", "ess", "temperature"])


def coverage(table: pd.DataFrame) -> pd.DataFrame:
    """Coverage per quantity, with the range a calibrated 90 % interval would give.

    Args:
        table: :func:`run_sbc`'s rows (or ``coverage.csv``).

    Returns:
        One row per quantity: ``quantity, cases, covered, share, expected_low, expected_high`` (the
        5 % and 95 % quantiles of the covered count if each case covers with probability 0.9).
    """
    rows = []
    for quantity, group in table.groupby("quantity", sort=False):
        n, k = len(group), int((group["low"].le(group["truth"]) & group["truth"].le(group["high"])).sum())
        rows.append({"quantity": quantity, "cases": n, "covered": k, "share": k / n,
                     "expected_low": int(stats.binom.ppf(0.05, n, SHARE)),
                     "expected_high": int(stats.binom.ppf(0.95, n, SHARE))})
    return pd.DataFrame(rows, columns=["quantity", "cases", "covered", "share", "expected_low", "expected_high"])
