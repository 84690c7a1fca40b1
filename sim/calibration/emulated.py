"""The posterior by emulation and importance sampling: affordable on the baseline, exact under the error model.

**Why not ABC-SMC alone.** ABC-SMC (:mod:`sim.calibration.posterior`) accepts a run with the
probability its error-model density gives it. Runs of the baseline are noisy (a seed moves the
value-added gap by about 1 pp at the calibration's scale) and eleven targets are calibrated, so
acceptance falls fast as the temperature falls: on the baseline it was 22 % at temperature 19 and
2.4 % at about 10, some 8,000 runs for one generation, and at temperature 1 it would be lower
still, far beyond a day of this machine. Every rejected run is information thrown away.

**The method** (history matching's waves, Vernon, Goldstein and Bower 2010, with Gaussian-process
emulators, Kennedy and O'Hagan 2001, and defensive importance sampling, Hesterberg 1995):

1. *Design*: ``design`` parameter sets from the prior (a scrambled Sobol sequence through each
   prior's quantile function), one run each.
2. *Emulate*: for each calibrated target, a Gaussian process (scikit-learn; Matérn 5/2 with one
   length per parameter plus white noise, which is the noise between seeds) of the statistic
   against the parameters' prior quantiles, fitted to every run so far.
3. *Propose*: the emulated posterior, prior x prod_j N(observed_j; emulated mean, tolerance^2 +
   seed noise^2 + emulator variance) (the error model with the run's noise taken as Gaussian), is
   found by adaptive importance sampling from the prior; a Gaussian mixture fitted to it in the
   prior's probit space (where the prior is a standard normal), widened by :data:`SPREAD` and mixed
   with the prior itself (share :data:`DEFENSIVE`), is the wave's proposal: a density known exactly
   and with tails no thinner than the prior's.
4. *Run and weigh*: ``wave`` draws from the proposal are run; each weighs prior x kernel(observed |
   its run) / proposal, where the kernel is the error model's density of the observed targets given
   the run (:class:`~sim.calibration.posterior.ToleranceKernel`, the same as ABC-SMC's at
   temperature 1). The weighted draws are therefore a sample of the same posterior as exact ABC,
   whatever the emulator got wrong: the emulator decides only how even the weights are.
5. *Repeat*: the emulator is fitted again on every run and the next wave proposed, until the waves
   pooled (weights in proportion to each wave's effective sample size) hold ``min_ess`` effective
   draws, or ``waves`` waves are done.

Before a wave is run, the emulator of the wave before predicts its runs; the standardised errors
(:attr:`EmulatedPosterior.checks`) show whether the emulator's uncertainty was honest.

Everything random is seeded from the calibration's seed, the emulators are fitted on one BLAS thread
in the coordinator, and the runs are stored in the results database as they finish (the study's
generation is the wave), so the draws are the same bit for bit on any executor and a stopped
calibration continues where it stopped, running no finished run again.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats
from scipy.stats import qmc
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from sim.calibration.history import CalibrationStore
from sim.calibration.posterior import Posterior, ToleranceKernel, observed_targets, reader, task_maker
from sim.calibration.sampler import EVALUATION_KEY, SEED_KEY, SimulationFailed
from sim.calibration.sbc import SHARE, TRUTHS, case_seeds, observe
from sim.calibration.spec import Calibration
from sim.calibration.targets import Target
from sim.calibration.weights import effective_sample_size, weighted_quantile
from sim.experiments.compare import systematic_resample
from sim.experiments.sweep import float_seed
from sim.scenario.errors import ScenarioError

#: Part of every study's fingerprint: change it when the algorithm changes, so no study mixes two.
METHOD = "emulator waves, gp matern52 ard, defensive gaussian mixture v1"
SPREAD = 1.25  # the mixture's spread is widened by this factor: a proposal a little wider than the guess
DEFENSIVE = 0.1  # share of the prior in every proposal, so no region the prior holds is left out
COMPONENTS = 3  # Gaussian components of a proposal at most
SEARCH = 2**13  # emulator evaluations per step of the search for a proposal
SEARCH_STEPS = 3  # steps of adaptive importance sampling on the emulator (the first from the prior)
RESAMPLED = 2000  # equally weighted points a proposal's mixture is fitted to
FIT_POINTS = 500  # runs the emulator's hyperparameters are fitted to (its means use up to MAX_POINTS)
MAX_POINTS = 1200  # runs an emulator is conditioned on at most (prediction costs grow with their square)
LOG_PROPOSAL, CHI2, DOF = "log_proposal", "emulator_chi2", "emulator_dof"  # what each run of a wave also carries
_KEY = 2_000_003  # spawn key of this method's streams (apart from ABC-SMC's generations and the SBC's cases)
_RUN, _PROPOSAL, _FIT = 0, 1, 2
_SBC_STREAM = 999_999  # the "wave" of the emulators simulation-based calibration fits
_EXPECTED_STREAM = 999_998  # the "wave" of the emulators that give each draw's expected targets


# --- the prior's coordinates -------------------------------------------------------------------

def quantiles(c: Calibration, values: pd.DataFrame) -> np.ndarray:
    """Each parameter's prior quantile (0-1): the emulators' inputs, where the prior is uniform."""
    u = np.column_stack([p.distribution.frozen().cdf(values[n].to_numpy(float)) for n, p in c.parameters.items()])
    return np.clip(u, 1e-12, 1 - 1e-12)


def from_quantiles(c: Calibration, u: np.ndarray) -> pd.DataFrame:
    """Parameter values at prior quantiles ``u`` (one row per point)."""
    return pd.DataFrame({n: np.asarray(p.distribution.frozen().ppf(u[:, j]), dtype=float)
                         for j, (n, p) in enumerate(c.parameters.items())})


def probit(u: np.ndarray) -> np.ndarray:
    """Prior quantiles as standard normal coordinates (the prior is N(0, I) there)."""
    return special.ndtri(np.clip(u, 1e-12, 1 - 1e-12))


def log_prior(z: np.ndarray) -> np.ndarray:
    """The prior's log density in probit coordinates."""
    return stats.norm.logpdf(z).sum(axis=1)


# --- emulators ---------------------------------------------------------------------------------

class Emulator:
    """Gaussian processes of statistics against the parameters' prior quantiles.

    Each statistic gets a constant times a Matérn 5/2 kernel with one length per parameter, plus white
    noise: the noise between seeds. Hyperparameters are fitted by maximum likelihood on at most
    :data:`FIT_POINTS` runs, then the process is conditioned on at most :data:`MAX_POINTS`. A
    statistic that never varies is a constant.

    Args:
        u: Prior quantiles of the runs (rows) of each parameter (columns).
        values: Statistic name -> its value in each run (NaN: the run could not produce it).
        seed: Seed of the subsets.
    """

    def __init__(self, u: np.ndarray, values: dict[str, np.ndarray], seed: int):
        self.models: dict[str, Any] = {}
        rng = np.random.default_rng(seed)
        for name, y in values.items():
            ok = np.flatnonzero(np.isfinite(y))
            if len(ok) < 10 or np.ptp(y[ok]) == 0:
                self.models[name] = float(np.nanmean(y)) if len(ok) else math.nan
                continue
            self.models[name] = _fit(u[ok], y[ok], rng)

    def predict(self, u: np.ndarray, names: list[str] | tuple[str, ...] | None = None,
                ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each statistic's predicted mean and the variance of one run's value at quantiles ``u``.

        Args:
            u: Prior quantiles of the points (rows) of each parameter (columns).
            names: The statistics wanted (default all).

        Returns:
            Statistic -> (mean, variance), one value per point.
        """
        out = {}
        with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # predicted variances below 0 are set to 0 by sklearn
            for name in self.models if names is None else names:
                model = self.models[name]
                if isinstance(model, float):
                    out[name] = (np.full(len(u), model), np.zeros(len(u)))
                else:
                    mean, sd = model.predict(u, return_std=True)
                    out[name] = (mean, sd**2)
        return out


def _fit(u: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> GaussianProcessRegressor:
    kernel = (ConstantKernel(1.0, (1e-3, 1e3))
              * Matern(length_scale=np.full(u.shape[1], 0.5), length_scale_bounds=(1e-2, 1e3), nu=2.5)
              + WhiteKernel(0.1, (1e-6, 10.0)))
    fit_rows = np.sort(rng.permutation(len(y))[:FIT_POINTS])
    keep = np.sort(rng.permutation(len(y))[:MAX_POINTS])
    with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a parameter the statistic ignores: length at its bound
        tuned = GaussianProcessRegressor(kernel, normalize_y=True).fit(u[fit_rows], y[fit_rows])
        return GaussianProcessRegressor(tuned.kernel_, normalize_y=True, optimizer=None).fit(u[keep], y[keep])


def emulated_log_likelihood(targets: list[Target], observed: dict[str, float],
                            predicted: dict[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The error model's log density of the observed targets with the run's noise taken as Gaussian.

    Args:
        targets: The calibrated targets.
        observed: Their observed values.
        predicted: :meth:`Emulator.predict` at the points.

    Returns:
        One log density per point (up to a constant).
    """
    total = 0.0
    for t in targets:
        mean, var = predicted[t.name]
        sd = np.sqrt(t.tolerance**2 + var)
        gap = (mean - observed[t.name]) / sd
        if t.compare == "at_least":  # a constraint: only a shortfall counts
            total = total - 0.5 * np.minimum(gap, 0.0) ** 2
        else:
            total = total - 0.5 * gap**2 - np.log(sd)
    return np.nan_to_num(np.asarray(total, dtype=float), nan=-np.inf)


# --- proposals ---------------------------------------------------------------------------------

@dataclass
class Proposal:
    """A Gaussian mixture in probit coordinates mixed with the prior: a density known exactly.

    Attributes:
        weights: The components' weights (summing to 1 - ``defensive``).
        means: Their means.
        covariances: Their covariance matrices.
        defensive: The prior's share.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    defensive: float

    @classmethod
    def prior(cls, dims: int) -> Proposal:
        """The prior itself."""
        return cls(np.zeros(0), np.zeros((0, dims)), np.zeros((0, dims, dims)), 1.0)

    @classmethod
    def fitted(cls, z: np.ndarray, weights: np.ndarray, seed: int) -> Proposal:
        """A mixture fitted to weighted points, widened by :data:`SPREAD` and mixed with the prior."""
        rows = systematic_resample(weights, RESAMPLED, seed)
        points = z[rows]
        distinct = len(np.unique(rows))
        components = max(1, min(COMPONENTS, distinct // (5 * z.shape[1])))
        mixture = GaussianMixture(components, covariance_type="full", reg_covar=1e-4, random_state=seed % 2**32)
        with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mixture.fit(points)
        return cls(mixture.weights_ * (1 - DEFENSIVE), mixture.means_, mixture.covariances_ * SPREAD**2, DEFENSIVE)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` points."""
        dims = self.means.shape[1]
        counts = rng.multinomial(n, np.append(self.weights, self.defensive))
        parts = [rng.multivariate_normal(m, cov, size=k, method="cholesky")
                 for m, cov, k in zip(self.means, self.covariances, counts[:-1], strict=True)]
        parts.append(rng.standard_normal((counts[-1], dims)))
        return np.concatenate(parts)

    def log_pdf(self, z: np.ndarray) -> np.ndarray:
        """The log density at points ``z``."""
        terms = [np.log(self.defensive) + log_prior(z)] if self.defensive > 0 else []
        for w, m, cov in zip(self.weights, self.means, self.covariances, strict=True):
            terms.append(np.log(w) + stats.multivariate_normal(m, cov).logpdf(z).reshape(len(z)))
        return special.logsumexp(np.vstack(terms), axis=0)


def search(c: Calibration, emulator: Emulator, observed: dict[str, float], rng: np.random.Generator,
           ) -> tuple[Proposal, np.ndarray, np.ndarray]:
    """The emulated posterior by adaptive importance sampling, and a proposal fitted to it.

    Each step samples :data:`SEARCH` points from the last proposal (the first from the prior),
    weighs them by the emulated posterior over the proposal, and fits the next proposal to them.

    Args:
        c: The set-up.
        emulator: The emulators of the calibrated targets.
        observed: The observed targets.
        rng: The generator.

    Returns:
        The proposal, and the last step's points (probit coordinates) and normalised weights.
    """
    proposal = Proposal.prior(len(c.parameters))
    for _ in range(SEARCH_STEPS):
        z = proposal.sample(SEARCH, rng)
        loglik = emulated_log_likelihood(c.objective_targets, observed, emulator.predict(special.ndtr(z)))
        log_w = log_prior(z) + loglik - proposal.log_pdf(z)
        w = np.exp(log_w - log_w.max())
        w /= w.sum()
        proposal = Proposal.fitted(z, w, int(rng.integers(2**62)))
    return proposal, z, w


# --- the calibration ---------------------------------------------------------------------------

@dataclass
class _Wave:
    """One wave's draws: parameters, probit coordinates, proposal log densities, and stored runs."""

    number: int
    parameters: pd.DataFrame
    z: np.ndarray
    log_proposal: np.ndarray
    emulator: Emulator | None = None


def run_emulated(c: Calibration, executor: Any, store: CalibrationStore, study: str, *, seed: int | None = None,
                 observed: dict[str, float] | None = None, progress: bool = False) -> Posterior:
    """Run (or continue) the emulator's waves until the pooled waves hold ``min_ess`` effective draws.

    Args:
        c: The set-up (``c.emulator`` gives the design's and each wave's runs and the waves at most;
            ``c.budget``'s ``max_simulations`` and ``max_minutes`` stop it after the wave that passes them).
        executor: Where the runs go.
        store: The results database.
        study: The study's name.
        seed: Seed of the calibration (default ``c.seed``).
        observed: The observed targets (default the published figures).
        progress: Show progress bars.

    Returns:
        The posterior as it stands (``complete`` once a wave after the design is weighed).

    Raises:
        ScenarioError: A study of that name exists with another set-up.
        SimulationFailed: A run failed (running again continues).
    """
    seed = c.seed if seed is None else seed
    observed = observed if observed is not None else observed_targets(c)
    _register(c, store, study, seed, observed)
    started, simulated = time.perf_counter(), 0
    stored = {}
    design = _design(c, seed)
    simulated += _run(c, executor, store, study, design, seed, stored, progress)
    wave = 1
    while True:
        posterior = assemble(c, study, stored, observed)
        posterior.simulations_run = simulated
        minutes = (time.perf_counter() - started) / 60
        spent = ((c.budget.max_simulations is not None and posterior.simulations >= c.budget.max_simulations)
                 or (c.budget.max_minutes is not None and minutes >= c.budget.max_minutes))
        if spent or wave > 1 and (posterior.ess >= c.min_ess or wave > c.emulator.waves):
            return posterior
        cached = store.cached(study, wave)
        if len(cached) >= c.emulator.wave:  # finished before: its runs say everything, no emulator needed
            stored[wave] = _stored_wave(cached)
        else:
            simulated += _run(c, executor, store, study, _propose(c, seed, wave, stored, observed), seed, stored,
                              progress)
        wave += 1


def _register(c: Calibration, store: CalibrationStore, study: str, seed: int, observed: dict[str, float]) -> None:
    stamp = fingerprint(c, observed, seed)
    row = store.find(study)
    if row is None:
        store.register(study, "posterior", stamp, -1)  # no pyabc run holds it
    elif row["fingerprint"] != stamp:
        raise ScenarioError(str(c.source), "calibration.study",
                            f"study '{study}' exists with another set-up (scenario, priors, seed, targets or "
                            "method); name a new one with --study or in the file")


def fingerprint(c: Calibration, observed: dict[str, float], seed: int) -> str:
    """What makes a stored study continuable: the set-up, the observed values, the seed, the method and its sizes."""
    text = json.dumps([c.fingerprint(), observed, seed, METHOD, c.emulator.design, c.emulator.wave], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _design(c: Calibration, seed: int) -> _Wave:
    """Wave 0: a scrambled Sobol sequence through the priors' quantile functions."""
    sobol = qmc.Sobol(len(c.parameters), scramble=True, seed=_stream(seed, 0, _PROPOSAL))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a design of 2**m runs is balanced; others are still fine
        u = np.clip(sobol.random(c.emulator.design), 1e-9, 1 - 1e-9)
    z = probit(u)
    return _Wave(0, from_quantiles(c, u), z, log_prior(z))


def _propose(c: Calibration, seed: int, wave: int, stored: dict[int, pd.DataFrame],
             observed: dict[str, float]) -> _Wave:
    """Wave ``wave``'s draws from a proposal fitted to the emulated posterior of every run so far."""
    runs = pd.concat(stored.values(), ignore_index=True)
    names = [t.name for t in c.objective_targets]
    emulator = Emulator(quantiles(c, runs), {n: runs[n].to_numpy(float) for n in names},
                        _stream(seed, wave, _FIT))
    rng = np.random.default_rng(_stream(seed, wave, _PROPOSAL))
    proposal, _, _ = search(c, emulator, observed, rng)
    z = proposal.sample(c.emulator.wave, rng)
    u = special.ndtr(z)
    return _Wave(wave, from_quantiles(c, u), z, proposal.log_pdf(z), emulator)


def _stream(seed: int, wave: int, kind: int) -> int:
    return float_seed(seed, _KEY, wave, kind)


def run_seed(seed: int, wave: int, i: int) -> int:
    """The seed of run ``i`` of a wave (below 2**53, so a float statistic holds it exactly)."""
    return float_seed(seed, _KEY, wave, _RUN, i)


def _run(c: Calibration, executor: Any, store: CalibrationStore, study: str, wave: _Wave, seed: int,
         stored: dict[int, pd.DataFrame], progress: bool) -> int:
    """Run a wave's draws that are not stored yet; the wave's runs go into ``stored``. Returns the runs made."""
    cached = store.cached(study, wave.number)
    params = wave.parameters.to_dict("records")
    read, task_for = reader(c), task_maker(c)
    results: dict[int, dict[str, float]] = {}
    todo = []
    for i, p in enumerate(params):
        hit = cached.get(i)
        if hit is not None and hit[0] == p:
            results[i] = hit[1]
        else:
            todo.append(i)
    predicted = wave.emulator.predict(special.ndtr(wave.z)) if wave.emulator is not None and todo else None
    label = "design" if wave.number == 0 else f"wave {wave.number}"
    with tqdm(total=len(params), initial=len(params) - len(todo), desc=label, unit="run", disable=not progress,
              leave=False, dynamic_ncols=True) as bar:
        tasks = (task_for(params[i], run_seed(seed, wave.number, i), f"{study}/{wave.number}/{i}") for i in todo)
        for outcome in executor.map(tasks):
            i = int(outcome.run_id.rsplit("/", 1)[1])
            if not outcome.ok:
                raise SimulationFailed(f"run {outcome.run_id} failed: {outcome.error} (run the calibration again "
                                       "to continue where it stopped)")
            statistics = read(outcome)
            statistics |= {SEED_KEY: float(run_seed(seed, wave.number, i)), EVALUATION_KEY: float(i),
                           LOG_PROPOSAL: float(wave.log_proposal[i]), **_check(c, statistics, predicted, i)}
            store.keep(study, wave.number, i, params[i], statistics)
            results[i] = statistics
            bar.update()
    stored[wave.number] = _stored_wave({i: (params[i], r) for i, r in results.items()})
    return len(todo)


def _check(c: Calibration, statistics: dict[str, float], predicted: dict[str, tuple[np.ndarray, np.ndarray]] | None,
           i: int) -> dict[str, float]:
    """How far run ``i`` fell from the emulator's prediction: sum of squared standardised errors, and their count."""
    chi2, dof = 0.0, 0
    for t in c.objective_targets if predicted is not None else ():
        mean, var = predicted[t.name]
        x = statistics.get(t.name, math.nan)
        if var[i] > 0 and math.isfinite(x):
            chi2 += (x - mean[i]) ** 2 / var[i]
            dof += 1
    return {CHI2: chi2 if dof else math.nan, DOF: float(dof)}


def _stored_wave(cached: dict[int, tuple[dict[str, float], dict[str, float]]]) -> pd.DataFrame:
    """A wave's runs as a frame: parameters and statistics, in evaluation order."""
    return pd.DataFrame([cached[i][0] | cached[i][1] for i in sorted(cached)])


def assemble(c: Calibration, study: str, stored: dict[int, pd.DataFrame], observed: dict[str, float]) -> Posterior:
    """The posterior from the stored waves: each weighed by kernel x prior / proposal, pooled by effective size.

    Args:
        c: The set-up.
        study: Its name.
        stored: Wave -> its runs (parameters and statistics, in evaluation order).
        observed: The observed targets.

    Returns:
        The posterior (only the design: not complete, and its draws are the design's, weighed by the kernel).
    """
    kernel = ToleranceKernel(c.objective_targets)
    frames, rows = [], []
    for wave, runs in sorted(stored.items()):
        runs = runs.copy()
        runs["log_likelihood"] = [kernel(r, observed) for r in runs.to_dict("records")]
        z = probit(quantiles(c, runs))
        log_w = runs["log_likelihood"].to_numpy(float) + log_prior(z) - runs[LOG_PROPOSAL].to_numpy(float)
        w = np.exp(log_w - log_w.max())
        runs["weight"] = w / w.sum()
        runs["generation"] = wave
        ess = effective_sample_size(runs["weight"].to_numpy(float))
        checked = runs[DOF] > 0 if DOF in runs else pd.Series(False, index=runs.index)
        chi2 = runs.loc[checked, CHI2].sum() / runs.loc[checked, DOF].sum() if checked.any() else math.nan
        rows.append({"generation": wave, "proposal": "prior (Sobol design)" if wave == 0 else "emulated posterior",
                     "temperature": math.nan if wave == 0 else 1.0, "simulations": len(runs), "accepted": len(runs),
                     "acceptance_rate": 1.0, "ess": ess, "emulator_chi2": chi2, "wall_time_s": math.nan})
        frames.append(runs)
    generations = pd.DataFrame(rows)
    weighed = [f for f in frames if int(f["generation"].iloc[0]) > 0] or frames[:1]
    shares = np.array([effective_sample_size(f["weight"].to_numpy(float)) for f in weighed])
    for f, share in zip(weighed, shares, strict=True):
        f["weight"] *= share / shares.sum()
    draws = pd.concat(weighed, ignore_index=True)
    draws["weight"] /= draws["weight"].sum()
    draws[[SEED_KEY, EVALUATION_KEY]] = draws[[SEED_KEY, EVALUATION_KEY]].astype("int64")
    return Posterior(study, list(c.parameters), draws, generations, method="emulator")


def load_emulated(c: Calibration, store: CalibrationStore, study: str | None = None) -> Posterior | None:
    """The stored posterior of a study (``None`` if not even its design is finished)."""
    study = study or c.study
    if store.find(study) is None:
        return None
    stored = _finished_waves(c, store, study)
    return assemble(c, study, stored, observed_targets(c)) if stored else None


def _finished_waves(c: Calibration, store: CalibrationStore, study: str, first: int = 0) -> dict[int, pd.DataFrame]:
    """The study's finished waves from ``first`` on, as stored (the first unfinished one ends them)."""
    stored, wave = {}, first
    while len(cached := store.cached(study, wave)) >= (c.emulator.design if wave == 0 else c.emulator.wave):
        stored[wave] = _stored_wave(cached)
        wave += 1
    return stored


def expected_statistics(c: Calibration, posterior: Posterior) -> pd.DataFrame:
    """Each draw's expected value of every calibrated target: emulators fitted to the draws' own runs.

    One run's value carries its seed's noise (about 1 pp on a gap at the calibration's scale); the
    emulator's mean is the value over seeds, which is what a target should be met by.

    Args:
        c: The set-up.
        posterior: The posterior (its draws carry their runs' statistics).

    Returns:
        One row per draw, one column per calibrated target.
    """
    draws = posterior.draws
    names = [t.name for t in c.objective_targets]
    u = quantiles(c, draws)
    emulator = Emulator(u, {n: draws[n].to_numpy(float) for n in names}, _stream(c.seed, _EXPECTED_STREAM, _FIT))
    return pd.DataFrame({n: mean for n, (mean, _) in emulator.predict(u).items()}, index=draws.index)


# --- simulation-based calibration ---------------------------------------------------------------

def emulated_sbc(c: Calibration, executor: Any, store: CalibrationStore, cases: int | None = None,
                 progress: bool = False) -> pd.DataFrame:
    """Simulation-based calibration of the emulated posterior, on the design's own runs.

    The design's runs are draws from the prior, each with its own seed: the cases are the first of
    them (in evaluation order) that can make an observation, observed through the error model as in
    :mod:`sim.calibration.sbc`. Emulators are fitted to every stored run of the study except the
    cases', and each case's emulated posterior (the search that proposes a wave) gives its 90 %
    intervals of every parameter and of the true effect and selection share (their emulated value
    plus the noise of one run). This checks the emulators and their error model, the part of the
    method that can be wrong; the weights of a wave only correct it. It costs no run beyond the design.

    Args:
        c: The set-up.
        executor: Where the design's runs go if they are not stored yet.
        store: The results database.
        cases: How many cases (default ``[calibration.sbc] cases``).
        progress: Show progress bars.

    Returns:
        One row per case and quantity: ``case, quantity, truth, low, high, covered, ess, temperature``.
    """
    cases = cases or c.sbc.cases
    _register(c, store, c.study, c.seed, observed_targets(c))
    stored: dict[int, pd.DataFrame] = {}
    _run(c, executor, store, c.study, _design(c, c.seed), c.seed, stored, progress)
    stored |= _finished_waves(c, store, c.study, first=1)
    design = stored[0]
    chosen: list[tuple[int, dict[str, Any]]] = []
    for i, row in enumerate(design.to_dict("records")):
        rng, _ = case_seeds(c, i, 0)
        case = {"rng": rng, "statistics": row}
        if observe(c, case):
            chosen.append((i, case))
        if len(chosen) == cases:
            break
    held_out = np.zeros(len(design), bool)
    held_out[[i for i, _ in chosen]] = True
    runs = pd.concat([design[~held_out], *[stored[w] for w in sorted(stored) if w > 0]], ignore_index=True)
    names = [t.name for t in c.objective_targets] + list(TRUTHS)
    values = {n: runs[n].to_numpy(float) for n in names}
    emulator = Emulator(quantiles(c, runs), values, _stream(c.seed, _SBC_STREAM, _FIT))
    rows = []
    for i, case in tqdm(chosen, desc="cases", unit="case", disable=not progress, leave=False):
        rng = case["rng"]
        _, z, w = search(c, emulator, case["observed"], rng)
        u = special.ndtr(z)
        draws = from_quantiles(c, u)
        predicted = emulator.predict(u, TRUTHS)  # the search predicted the targets already
        for q in TRUTHS:
            mean, var = predicted[q]
            draws[q] = mean + np.sqrt(var) * rng.standard_normal(len(mean))
        ess = effective_sample_size(w)
        for quantity in [*c.parameters, *TRUTHS]:
            truth = float(case["statistics"][quantity])
            low, high = weighted_quantile(draws[quantity].to_numpy(float), w, [(1 - SHARE) / 2, (1 + SHARE) / 2])
            rows.append({"case": i, "quantity": quantity, "truth": truth, "low": float(low), "high": float(high),
                         "covered": bool(low <= truth <= high), "ess": ess, "temperature": 1.0})
    return pd.DataFrame(rows, columns=["case", "quantity", "truth", "low", "high", "covered", "ess", "temperature"])
