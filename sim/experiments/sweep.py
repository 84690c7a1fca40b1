"""A sweep: its parameters, its design points, its runs and their seeds.

A :class:`Sweep` comes from a sweep file (:func:`sim.experiments.sweep_file.load_sweep`). A
factorial design crosses the parameters' levels; Latin hypercube and Sobol
(``scipy.stats.qmc``) draw ``samples`` points in the unit cube and map each coordinate through
the parameter's inverse distribution (a list becomes equally likely choices). The sensitivity
designs come from SALib in the same unit cube: ``morris`` (``trajectories`` trajectories of
k + 1 points on a grid of ``levels`` levels, for elementary effects) and ``saltelli``
(``samples`` = N, a power of 2: N (k + 2) points for first-order and total Sobol indices,
N (2k + 2) with ``second_order = true``); ``run.py sensitivity`` analyses them.

Seeds: ``design_seq, seeds_seq = SeedSequence(seed).spawn(2)``; the design is drawn from
``design_seq``. With ``seeds = "common"`` (the default) replication ``r`` runs with
``seeds_seq.spawn(R)[r]`` at every design point: the model's random numbers are keyed by firm,
purpose and year, so points then differ by their parameters and not by reshuffled luck (common
random numbers). ``seeds = "independent"`` gives point ``p`` the seeds
``seeds_seq.spawn(P)[p].spawn(R)``. Raising ``replications`` keeps the seeds of existing runs.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.scenario.overrides import assign
from sim.scenario.schema import Scenario
from sim.scenario.validation import validate

DESIGNS = ("factorial", "latin_hypercube", "sobol", "morris", "saltelli")
SALIB_DESIGNS = ("morris", "saltelli")  # designs made for a sensitivity analysis (``run.py sensitivity``)
OUTPUTS = ("yearly", "clusters", "firms")
SEED_MODES = ("common", "independent")
SUMMARY_PREFIX = "summary."  # an outcome read from the runs' headline figures (summary.json)
# Distribution name -> (required, optional) arguments.
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "uniform": (("low", "high"), ()),
    "loguniform": (("low", "high"), ()),
    "normal": (("mean", "sd"), ("low", "high")),
    "triangular": (("low", "mode", "high"), ()),
}
# An experiment's name, its key in the ledger and its folder under results/: no path separators, not . or ..
NAME_PATTERN = r"(?!\.{1,2}$)[A-Za-z0-9_.-]{1,100}"
MAX_RUNS = 1_000_000  # runs in one sweep: a larger design cannot be listed, entered or run in reasonable time


@dataclass(frozen=True)
class Parameter:
    """One swept scenario value: a list of levels, a range or a distribution.

    Attributes:
        name: Dotted scenario key, e.g. ``membership.leave_rate``.
        values: The levels, when the file gives a list.
        dist: Distribution name (a range ``{low, high}`` is ``uniform``).
        args: The distribution's arguments (``low``, ``high``, ``mean``, ...).
        steps: Levels of a range in a factorial design.
        integer: The range has integer bounds, so values are integers.
    """

    name: str
    values: tuple[Any, ...] = ()
    dist: str | None = None
    args: dict[str, float] = field(default_factory=dict)
    steps: int | None = None
    integer: bool = False

    def levels(self) -> list[Any]:
        """The factorial levels: the list, or ``steps`` evenly spaced values of the range."""
        if self.dist is None:
            return list(self.values)
        grid = np.linspace(self.args["low"], self.args["high"], self.steps or 0)
        return _plain(np.unique(np.rint(grid)).astype(np.int64) if self.integer else grid)

    def at(self, u: np.ndarray) -> list[Any]:
        """Map points of the unit interval through the inverse distribution.

        Args:
            u: Values in [0, 1), one per design point.

        Returns:
            The parameter's value at each point, as plain Python values.
        """
        if self.dist is None:  # equally likely choices
            return [self.values[i] for i in np.minimum((u * len(self.values)).astype(int), len(self.values) - 1)]
        from scipy import stats  # here, not at import: scipy.stats takes a second to load

        a = self.args
        if self.integer:
            lo, hi = int(a["low"]), int(a["high"])
            return _plain(np.minimum(np.floor(lo + u * (hi - lo + 1)), hi).astype(np.int64))
        if self.dist == "uniform":
            x = a["low"] + u * (a["high"] - a["low"])
        elif self.dist == "loguniform":
            x = np.exp(math.log(a["low"]) + u * (math.log(a["high"]) - math.log(a["low"])))
        elif self.dist == "triangular":
            width = a["high"] - a["low"]
            x = stats.triang((a["mode"] - a["low"]) / width, loc=a["low"], scale=width).ppf(u)
        else:  # normal, truncated where low or high is given
            lo = (a.get("low", -math.inf) - a["mean"]) / a["sd"]
            hi = (a.get("high", math.inf) - a["mean"]) / a["sd"]
            x = stats.truncnorm(lo, hi, loc=a["mean"], scale=a["sd"]).ppf(u)
        return _plain(x)


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: a design point, a replication and its seed.

    Attributes:
        run_id: ``<experiment>/<point>/<replication>``, the run's key in the ledger.
        point: Index of the design point.
        replication: Index of the replication at that point.
        seed: The run's seed (``sim.run(scenario, seed)``).
        parameters: Dotted scenario key -> value at this point.
    """

    run_id: str
    point: int
    replication: int
    seed: int
    parameters: dict[str, Any]


@dataclass(frozen=True)
class Sweep:
    """A validated sweep file.

    Attributes:
        name: Experiment name (the ledger's key).
        source: The sweep file, for messages.
        text: The sweep file's text, stored with the experiment.
        base: The resolved base scenario with ``[fixed]`` applied (``Scenario.model_dump()``).
        base_toml: The same as TOML text, stored with the experiment.
        design: One of :data:`DESIGNS`.
        samples: Design points of a Latin hypercube or Sobol design; base samples N of a Saltelli
            design (N (k + 2) points for k parameters, N (2k + 2) with second-order indices).
        trajectories: Trajectories of a Morris design (k + 1 points each).
        levels: Grid levels of a Morris design.
        second_order: A Saltelli design also estimates second-order indices.
        replications: Runs per design point.
        seed: Root seed.
        seeds: ``common`` or ``independent`` (see the module docstring).
        outputs: Tables kept per run (``yearly`` always).
        outcomes: ``(yearly column, year)`` pairs, or ``("summary.<figure>", None)`` for a headline
            figure of the runs' summaries, for the summary plot and the sensitivity analysis.
        parameters: The swept parameters, in file order.
        description: Free text.
    """

    name: str
    source: str
    text: str
    base: dict[str, Any]
    base_toml: str
    design: str
    samples: int | None
    replications: int
    seed: int
    seeds: str
    outputs: tuple[str, ...]
    outcomes: tuple[tuple[str, int | None], ...]
    parameters: tuple[Parameter, ...]
    description: str = ""
    trajectories: int | None = None
    levels: int = 4
    second_order: bool = False

    def points(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The design points: one ``{parameter: value}`` dict each, in design order.

        Args:
            limit: Only the first this many points (the design is still drawn whole).

        Returns:
            The points.
        """
        names = [p.name for p in self.parameters]
        if self.design == "factorial":
            combos = itertools.product(*(p.levels() for p in self.parameters))
        else:
            combos = zip(*self.columns().values())
        return [dict(zip(names, combo)) for combo in itertools.islice(combos, limit)]

    def columns(self) -> dict[str, list[Any]]:
        """Each parameter's values over the design points, in design order (not for factorial designs)."""
        unit = self.unit_design()
        return {p.name: p.at(unit[:, j]) for j, p in enumerate(self.parameters)}

    def size(self) -> tuple[int, int]:
        """The design's points and runs, counted without drawing the design.

        Returns:
            ``(points, runs)``; runs are points x replications.
        """
        k = len(self.parameters)
        if self.design == "factorial":
            points = math.prod(len(p.levels()) for p in self.parameters)
        elif self.design == "morris":
            points = (self.trajectories or 0) * (k + 1)
        elif self.design == "saltelli":
            points = (self.samples or 0) * (2 * k + 2 if self.second_order else k + 2)
        else:
            points = self.samples or 0
        return points, points * self.replications

    def unit_design(self) -> np.ndarray:
        """The design in the unit cube, ``float[points, parameters]`` (not for factorial designs).

        Latin hypercube and Sobol points come from ``scipy.stats.qmc``, Morris trajectories and
        Saltelli's scheme from SALib; each coordinate is then mapped through its parameter's
        inverse distribution (:meth:`Parameter.at`), so SALib's analysis works in this cube.
        """
        k = len(self.parameters)
        seed = self._seed_sequences()[0]
        if self.design in SALIB_DESIGNS:
            from SALib.sample import morris, sobol

            problem = self.salib_problem()
            salib_seed = int(seed.generate_state(1)[0])
            if self.design == "morris":
                unit = morris.sample(problem, self.trajectories or 0, num_levels=self.levels, seed=salib_seed)
            else:
                unit = sobol.sample(problem, self.samples or 0, calc_second_order=self.second_order, seed=salib_seed)
            return np.clip(unit, 0.0, 1.0)
        from scipy.stats import qmc

        rng = np.random.default_rng(seed)
        sampler = qmc.Sobol(k, scramble=True, rng=rng) if self.design == "sobol" else qmc.LatinHypercube(k, rng=rng)
        return sampler.random(self.samples or 0)

    def salib_problem(self) -> dict[str, Any]:
        """The SALib problem: every parameter on the unit interval (see :meth:`unit_design`)."""
        return {"num_vars": len(self.parameters), "names": [p.name for p in self.parameters],
                "bounds": [[0.0, 1.0]] * len(self.parameters)}

    def runs(self, limit: int | None = None) -> list[RunSpec]:
        """Every run, replication by replication (a stopped sweep has covered all points evenly).

        Args:
            limit: Only the first this many runs (``--dry-run`` shows a few of a large design).

        Returns:
            The runs.
        """
        points = self.points(limit)
        seeds = self._run_seeds(len(points))
        pairs = ((p, r) for r in range(self.replications) for p in range(len(points)))
        return [RunSpec(f"{self.name}/{p}/{r}", p, r, seeds[p][r], points[p])
                for p, r in itertools.islice(pairs, limit)]

    def fingerprint(self) -> str:
        """Hash of what every run shares: the resolved base scenario and the kept outputs."""
        return hashlib.sha256(json.dumps([self.base_toml, self.outputs]).encode()).hexdigest()

    def _seed_sequences(self) -> list[np.random.SeedSequence]:
        return np.random.SeedSequence(self.seed).spawn(2)  # design, run seeds

    def _run_seeds(self, n_points: int) -> list[list[int]]:
        root = self._seed_sequences()[1]
        if self.seeds == "common":
            common = [seed_int(s) for s in root.spawn(self.replications)]
            return [common] * n_points
        return [[seed_int(s) for s in point.spawn(self.replications)] for point in root.spawn(n_points)]


def seed_int(seq: np.random.SeedSequence) -> int:
    """A non-negative 63-bit integer seed drawn from a seed sequence (fits a signed BIGINT).

    Args:
        seq: The seed sequence.

    Returns:
        The seed.
    """
    return int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))


def float_seed(seed: int, *spawn_key: int) -> int:
    """A seed below 2**53 from a seed and a spawn key, so that a float column or statistic holds it exactly.

    Args:
        seed: The entropy of the seed sequence.
        *spawn_key: Its spawn key (which stream).

    Returns:
        The top 53 bits of the sequence's first 64-bit word.
    """
    return int(np.random.SeedSequence(seed, spawn_key=spawn_key).generate_state(1, np.uint64)[0] >> np.uint64(11))


def scenario_for(base: dict[str, Any], overrides: dict[str, Any], source: str = "<sweep>") -> Scenario:
    """The scenario of one run: the base with the run's parameter values assigned.

    Args:
        base: A complete scenario as ``Scenario.model_dump()`` (:attr:`Sweep.base`).
        overrides: Dotted key -> value.
        source: Name used in error messages.

    Returns:
        The validated scenario.

    Raises:
        ScenarioError: A value is not allowed.
    """
    data = copy.deepcopy(base)
    for key, value in overrides.items():
        assign(data, key, value, source)
    return validate(data, source)


def flatten(table: dict[str, Any], leaf: Callable[[Any], bool], prefix: str = "") -> dict[str, Any]:
    """Dotted keys to leaves: TOML's ``a.b = 1`` and ``[a] b = 1`` both give ``{"a.b": 1}``.

    Args:
        table: Nested tables, as parsed from TOML.
        leaf: Whether a value is a leaf; any other value is a table to descend into.
        prefix: Put before every key (for the recursion).

    Returns:
        Dotted key -> leaf, in table order.
    """
    flat: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if leaf(value):
            flat[dotted] = value
        else:
            flat.update(flatten(value, leaf, dotted + "."))
    return flat


def _plain(values: np.ndarray) -> list[Any]:
    """Numbers from numpy as plain Python ints and floats (for TOML, JSON and the database)."""
    return np.asarray(values).tolist()  # the same Python ints and floats as .item(), at C speed
