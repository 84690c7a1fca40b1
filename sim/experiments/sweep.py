"""Sweep files: a base scenario, the parameters to vary, a design, replications and seeds.

A sweep file is TOML (``scenarios/sweeps/*.toml``)::

    [sweep]
    name = "leave_rate"                  # the experiment's name in the results database
    scenario = "../classroom.toml"       # base scenario, relative to this file
    design = "factorial"                 # factorial | latin_hypercube | sobol
    replications = 3                     # runs per design point, each with its own seed
    seed = 1                             # root of numpy.random.SeedSequence
    outputs = ["yearly", "clusters"]     # yearly always; "clusters" and "firms" on request
    outcomes = ["members@2021", "employment"]   # for the summary plot (yearly column[@year])

    [fixed]                              # held for every run, like --set
    population.scale = 0.005

    [parameters]
    membership.leave_rate = [0.04, 0.08, 0.12]                       # levels
    membership.base_utility = {low = -3.0, high = -1.0, steps = 3}   # evenly spaced levels
    network.decay = {dist = "normal", mean = 0.2, sd = 0.05, low = 0.0, high = 1.0}

A parameter is a list of values, a range ``{low, high}`` (``steps`` for a factorial design;
integer bounds give integers) or a distribution parsed from data, never evaluated:
``uniform`` and ``loguniform`` (low, high), ``normal`` (mean, sd, optional truncation at low
and/or high) and ``triangular`` (low, mode, high). A factorial design crosses the levels; Latin
hypercube and Sobol (``scipy.stats.qmc``) draw ``samples`` points in the unit cube and map each
coordinate through the parameter's inverse distribution (a list becomes equally likely choices).
The sensitivity designs come from SALib in the same unit cube: ``morris`` (``trajectories``
trajectories of k + 1 points on a grid of ``levels`` levels, for elementary effects) and
``saltelli`` (``samples`` = N, a power of 2: N (k + 2) points for first-order and total Sobol
indices, N (2k + 2) with ``second_order = true``); ``run.py sensitivity`` analyses them.

Outcomes are yearly columns (``members@2021``) or headline figures of the runs' summaries
(``summary.gap_value_added_pp``, ``summary.true_value_added_pp``, ``summary.treatment_jobs_2021``).

Seeds: ``design_seq, seeds_seq = SeedSequence(seed).spawn(2)``; the design is drawn from
``design_seq``. With ``seeds = "common"`` (the default) replication ``r`` runs with
``seeds_seq.spawn(R)[r]`` at every design point: the model's random numbers are keyed by firm,
purpose and year, so points then differ by their parameters and not by reshuffled luck (common
random numbers). ``seeds = "independent"`` gives point ``p`` the seeds
``seeds_seq.spawn(P)[p].spawn(R)``. Raising ``replications`` keeps the seeds of existing runs.

Everything is checked once, here: the base scenario with ``[fixed]`` and, for each parameter,
its smallest and largest sampled value (or every value of a list) through
:func:`sim.scenario.files.validate`. A problem is a :class:`~sim.scenario.files.ScenarioError` naming the
sweep file and the key, e.g. ``sweeps/x.toml: parameters.membership.leave_rate: must be 0-1, got 1.5``.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.observe.columns import YEARLY_COLUMNS
from sim.output.result import is_headline_figure
from sim.scenario.files import ScenarioError, assign, read_toml, short_toml, load_scenario, validate
from sim.scenario.schema import Scenario

DESIGNS = ("factorial", "latin_hypercube", "sobol", "morris", "saltelli")
SALIB_DESIGNS = ("morris", "saltelli")  # designs made for a sensitivity analysis (``run.py sensitivity``)
OUTPUTS = ("yearly", "clusters", "firms")
SEED_MODES = ("common", "independent")
DEFAULT_OUTCOMES = ("members", "employment", "value_added_nok")
SECTIONS = ("sweep", "fixed", "parameters")
SWEEP_KEYS = ("name", "description", "scenario", "design", "samples", "trajectories", "levels",
              "second_order", "replications", "seed", "seeds", "outputs", "outcomes")  # fmt: skip
SUMMARY_PREFIX = "summary."  # an outcome read from the runs' headline figures (summary.json)
# Distribution name -> (required, optional) arguments.
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "uniform": (("low", "high"), ()),
    "loguniform": (("low", "high"), ()),
    "normal": (("mean", "sd"), ("low", "high")),
    "triangular": (("low", "mode", "high"), ()),
}
# A table with one of these keys is a parameter's spec; any other table is a dotted-key prefix.
SPEC_KEYS = frozenset({"low", "high", "steps", "dist"})
NAME_PATTERN = r"[A-Za-z0-9_.-]{1,100}"
MAX_SEED = 2**63 - 1


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

    def points(self) -> list[dict[str, Any]]:
        """The design points: one ``{parameter: value}`` dict each, in design order."""
        names = [p.name for p in self.parameters]
        if self.design == "factorial":
            return [dict(zip(names, combo)) for combo in itertools.product(*(p.levels() for p in self.parameters))]
        unit = self.unit_design()
        columns = [p.at(unit[:, j]) for j, p in enumerate(self.parameters)]
        return [dict(zip(names, row)) for row in zip(*columns)]

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

    def runs(self) -> list[RunSpec]:
        """Every run, replication by replication (a stopped sweep has covered all points evenly)."""
        points = self.points()
        seeds = self._run_seeds(len(points))
        return [RunSpec(f"{self.name}/{p}/{r}", p, r, seeds[p][r], points[p])
                for r in range(self.replications) for p in range(len(points))]

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
    """A non-negative 63-bit integer seed drawn from a seed sequence (fits a signed BIGINT)."""
    return int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))


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


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file.

    Args:
        path: The TOML file.

    Returns:
        The validated sweep.

    Raises:
        ScenarioError: The first problem found, naming the file and the key.
    """
    path = Path(path)
    source = str(path)
    data = read_toml(path, source)
    _known_keys(data, SECTIONS, "", source)
    meta = _table(data, "sweep", source)
    _known_keys(meta, SWEEP_KEYS, "sweep.", source)
    check = _Checker(source, meta)

    name = check.string("name", path.stem)
    if not re.fullmatch(NAME_PATTERN, name):
        raise ScenarioError(source, "sweep.name",
                            f"must be 1-100 letters, digits, '_', '.' or '-', got {short_toml(name)}")
    design = check.choice("design", DESIGNS, "factorial")
    samples = check.integer("samples", None, 1, 10_000_000)
    trajectories = check.integer("trajectories", None, 2, 100_000)
    levels = check.integer("levels", 4, 2, 100)
    second_order = check.boolean("second_order", False)
    _design_keys(meta, design, samples, trajectories, source)
    outputs = check.choices("outputs", OUTPUTS, ["yearly"])

    fixed = flatten(_table(data, "fixed", source), leaf=lambda v: not isinstance(v, dict) or not v)
    base = _base_scenario(path, check.string("scenario", ""), fixed, outputs, source)
    parameters = _parameters(_table(data, "parameters", source), design, fixed, source)
    sweep = Sweep(
        name=name, source=source, text=path.read_text(encoding="utf-8-sig"),
        base=base.model_dump(), base_toml=base.to_toml(), design=design, samples=samples,
        replications=check.integer("replications", 1, 1, 100_000),
        seed=check.integer("seed", 0, 0, MAX_SEED), seeds=check.choice("seeds", SEED_MODES, "common"),
        outputs=tuple(o for o in OUTPUTS if o == "yearly" or o in outputs),
        outcomes=_outcomes(check.strings("outcomes", list(DEFAULT_OUTCOMES), non_empty=True), base, source),
        parameters=parameters, description=check.string("description", ""),
        trajectories=trajectories, levels=levels, second_order=second_order,
    )  # fmt: skip
    _check_values(sweep)
    return sweep


# Keys that only some designs take.
_DESIGN_KEYS = {"samples": ("latin_hypercube", "sobol", "saltelli"), "trajectories": ("morris",),
                "levels": ("morris",), "second_order": ("saltelli",)}


def _design_keys(meta: dict[str, Any], design: str, samples: int | None, trajectories: int | None, source: str) -> None:
    """Each design's own keys: present where required, absent where they mean nothing."""
    for key, designs in _DESIGN_KEYS.items():
        if key in meta and design not in designs:
            what = "a factorial design crosses the levels" if design == "factorial" else f"not design '{design}'"
            named = " and ".join([", ".join(designs[:-1]), designs[-1]] if len(designs) > 1 else designs)
            raise ScenarioError(source, f"sweep.{key}", f"only applies to design{'s' * (len(designs) > 1)} {named}; {what}")
    if design in _DESIGN_KEYS["samples"] and samples is None:
        raise ScenarioError(source, "sweep.samples", f"required for design '{design}', e.g. samples = 64")
    if design in ("sobol", "saltelli") and samples & (samples - 1):
        raise ScenarioError(source, "sweep.samples",
                            f"must be a power of 2 for design '{design}' (e.g. 64), got {samples}")
    if design == "morris" and trajectories is None:
        raise ScenarioError(source, "sweep.trajectories", "required for design 'morris', e.g. trajectories = 10")
    if design == "morris" and meta.get("levels", 4) % 2:
        # Morris' step of levels / (2 (levels - 1)) lands on the grid only for an even number of levels.
        raise ScenarioError(source, "sweep.levels", f"must be an even number for design 'morris' (e.g. 4), got {meta['levels']}")


# --- the sections ----------------------------------------------------------------------------

class _Checker:
    """Typed getters for the ``[sweep]`` table, raising one-line errors."""

    def __init__(self, source: str, table: dict[str, Any]):
        self.source, self.table = source, table

    def _fail(self, key: str, want: str) -> ScenarioError:
        return ScenarioError(self.source, f"sweep.{key}", f"must be {want}, got {short_toml(self.table[key])}")

    def string(self, key: str, default: str) -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str):
            raise self._fail(key, "a string")
        return value

    def integer(self, key: str, default: int | None, lo: int, hi: int) -> int | None:
        value = self.table.get(key, default)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._fail(key, f"an integer {lo}-{hi}")
        if not lo <= value <= hi:
            raise self._fail(key, f"{lo}-{hi}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, "true or false")
        return value

    def choice(self, key: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.string(key, default)
        if value not in allowed:
            raise self._fail(key, "one of " + ", ".join(f"'{a}'" for a in allowed) + _did_you_mean(value, allowed))
        return value

    def strings(self, key: str, default: list[str], non_empty: bool = False) -> list[str]:
        value = self.table.get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or (non_empty and not value):
            raise self._fail(key, "a non-empty list of strings" if non_empty else "a list of strings")
        return value

    def choices(self, key: str, allowed: tuple[str, ...], default: list[str]) -> list[str]:
        values = self.strings(key, default)
        for v in values:
            if v not in allowed:
                hint = _did_you_mean(v, allowed) or "; allowed: " + ", ".join(allowed)
                raise ScenarioError(self.source, f"sweep.{key}", f"unknown output {short_toml(v)}{hint}")
        return values


def _table(data: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ScenarioError(source, key, f"must be a table ([{key}]), got {short_toml(value)}")
    return value


def _known_keys(table: dict[str, Any], allowed: tuple[str, ...], prefix: str, source: str) -> None:
    for key in table:
        if key not in allowed:
            hint = _did_you_mean(key, allowed) or "; allowed: " + ", ".join(allowed)
            raise ScenarioError(source, f"{prefix}{key}", f"unknown key '{key}'{hint}")


def _did_you_mean(word: str, allowed: tuple[str, ...] | list[str]) -> str:
    near = difflib.get_close_matches(word, list(allowed), n=1)
    return f"; did you mean '{near[0]}'?" if near else ""


def flatten(table: dict[str, Any], leaf: Callable[[Any], bool], prefix: str = "") -> dict[str, Any]:
    """Dotted keys to leaves: TOML's ``a.b = 1`` and ``[a] b = 1`` both give ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if leaf(value):
            flat[dotted] = value
        else:
            flat.update(flatten(value, leaf, dotted + "."))
    return flat


def _base_scenario(path: Path, scenario: str, fixed: dict[str, Any], outputs: list[str], source: str) -> Scenario:
    """The base scenario file (relative to the sweep file) with ``[fixed]`` applied.

    Errors in the base file are reported against that file; errors from ``[fixed]`` against the
    sweep file. Sweep runs write no per-run plots, and build the firm panel only when kept.
    """
    base_path = (path.parent / scenario) if scenario else None
    if base_path is not None and not base_path.is_file():
        raise ScenarioError(source, "sweep.scenario", f"base scenario not found: {base_path}")
    load_scenario(base_path)
    overrides = fixed | {"output.plots": False, "output.firm_panel": "firms" in outputs}
    try:
        return load_scenario(base_path, overrides)
    except ScenarioError as exc:
        raise ScenarioError(source, f"fixed.{exc.key}" if exc.key else "fixed", exc.message) from None


def _parameters(table: dict[str, Any], design: str, fixed: dict[str, Any], source: str) -> tuple[Parameter, ...]:
    flat = flatten(table, leaf=lambda v: not isinstance(v, dict) or not v or bool(SPEC_KEYS & v.keys()))
    if not flat:
        raise ScenarioError(source, "parameters",
                            "needs at least one parameter, e.g. membership.leave_rate = [0.05, 0.1]")
    params = []
    for name, spec in flat.items():
        if name in fixed:
            raise ScenarioError(source, f"parameters.{name}", "is also in [fixed]; a value is either fixed or swept")
        params.append(_parameter(name, spec, design, f"parameters.{name}", source))
    return tuple(params)


def _parameter(name: str, spec: Any, design: str, key: str, source: str) -> Parameter:
    """Parse one parameter's spec (a list, a range or a distribution)."""
    if isinstance(spec, list):
        if not spec:
            raise ScenarioError(source, key, "must list at least one value")
        return Parameter(name, values=tuple(spec))
    if not isinstance(spec, dict) or not spec:
        raise ScenarioError(source, key, "must be a list of values, a range {low, high} or a distribution "
                                         f"{{dist = 'uniform', low, high}}, got {short_toml(spec)}")
    dist = spec.get("dist", "uniform")
    if dist not in DISTRIBUTIONS:
        allowed = ", ".join(DISTRIBUTIONS) + _did_you_mean(str(dist), list(DISTRIBUTIONS))
        raise ScenarioError(source, f"{key}.dist", f"must be one of {allowed}, got {short_toml(dist)}")
    required, optional = DISTRIBUTIONS[dist]
    is_range = "dist" not in spec
    allowed_keys = (*required, *optional, *(("steps",) if is_range else ("dist",)))
    _known_keys(spec, allowed_keys, key + ".", source)
    for arg in required:
        if arg not in spec:
            raise ScenarioError(source, f"{key}.{arg}", f"required for {'a range' if is_range else dist}")
    args = {}
    for arg in (*required, *optional):
        if arg in spec:
            value = spec[arg]
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ScenarioError(source, f"{key}.{arg}", f"must be a finite number, got {short_toml(value)}")
            args[arg] = value
    _check_args(dist, args, key, source)
    steps = spec.get("steps")
    if design == "factorial" and not is_range:
        raise ScenarioError(source, key, "a factorial design needs levels: give a list or a range {low, high, steps}")
    if design == "factorial" and steps is None:
        raise ScenarioError(source, f"{key}.steps", "required for a range in a factorial design, e.g. steps = 5")
    if steps is not None:
        if design != "factorial":
            raise ScenarioError(source, f"{key}.steps",
                                f"only applies to a factorial design; design '{design}' samples the range")
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 10_000:
            raise ScenarioError(source, f"{key}.steps", f"must be an integer 1-10000, got {short_toml(steps)}")
    integer = is_range and all(isinstance(args[a], int) for a in ("low", "high"))
    return Parameter(name, dist=dist, args={k: float(v) for k, v in args.items()}, steps=steps, integer=integer)


def _check_args(dist: str, a: dict[str, float], key: str, source: str) -> None:
    if "low" in a and "high" in a and not a["low"] < a["high"]:
        raise ScenarioError(source, f"{key}.high", f"must be above low ({short_toml(a['low'])}), got {short_toml(a['high'])}")
    if dist == "loguniform" and a["low"] <= 0:
        raise ScenarioError(source, f"{key}.low",
                            f"must be above 0 for a loguniform distribution, got {short_toml(a['low'])}")
    if dist == "normal" and a["sd"] <= 0:
        raise ScenarioError(source, f"{key}.sd", f"must be above 0, got {short_toml(a['sd'])}")
    if dist == "triangular" and not a["low"] <= a["mode"] <= a["high"]:
        raise ScenarioError(source, f"{key}.mode", f"must be within low-high, got {short_toml(a['mode'])}")


def _outcomes(names: list[str], base: Scenario, source: str) -> tuple[tuple[str, int | None], ...]:
    """Parse ``column`` or ``column@year`` (a yearly column; the last year when none is given) and
    ``summary.<figure>`` (a headline figure of the runs' summaries, e.g. ``summary.gap_value_added_pp``)."""
    first, last = base.scenario.start_year, base.scenario.end_year
    parsed: list[tuple[str, int | None]] = []
    for text in names:
        if text.startswith(SUMMARY_PREFIX):
            _summary_outcome(text, base, source)
            parsed.append((text, None))
            continue
        column, _, year = text.partition("@")
        if column not in YEARLY_COLUMNS or column == "year":
            allowed = [c for c in YEARLY_COLUMNS if c != "year"]
            hint = _did_you_mean(column, allowed) or "; allowed: a yearly column such as " + ", ".join(allowed[:4])
            raise ScenarioError(source, "sweep.outcomes", f"unknown outcome {short_toml(column)}{hint}")
        if year and not (year.isdigit() and first <= int(year) <= last):
            raise ScenarioError(source, "sweep.outcomes", f"year in {short_toml(text)} must be {first}-{last}")
        parsed.append((column, int(year) if year else last))
    return tuple(parsed)


def _summary_outcome(text: str, base: Scenario, source: str) -> None:
    """A headline figure must be a name, and an effect must be measured (the truth needs the twin)."""
    figure = text.removeprefix(SUMMARY_PREFIX)
    if not is_headline_figure(figure):
        raise ScenarioError(source, "sweep.outcomes", f"unknown headline figure {short_toml(text)}; e.g. "
                                                      "summary.gap_value_added_pp, summary.true_man_years_pp_year2, "
                                                      "summary.treatment_jobs_2021 (see a run's summary.json)")
    m = base.measurement
    needs = "measurement.twin" if figure.startswith(("true_", "selection_share_", "treatment_jobs")) else (
        "measurement.effects" if figure.startswith("gap_") else None)
    if needs and not (m.effects and (m.twin or needs == "measurement.effects")):
        raise ScenarioError(source, "sweep.outcomes", f"{short_toml(text)} needs {needs} = true in the base scenario or [fixed]")


def _check_values(sweep: Sweep) -> None:
    """Validate each parameter at its extremes (numbers) or at every value (anything else).

    Bounds in the schema are per key, so a parameter valid at its smallest and largest value is
    valid in between; the other parameters stay at their base values meanwhile.
    """
    points = sweep.points()
    for p in sweep.parameters:
        values = [pt[p.name] for pt in points]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        distinct = [min(values), max(values)] if numeric else list({json.dumps(v): v for v in values}.values())
        for value in distinct:
            try:
                scenario_for(sweep.base, {p.name: value}, sweep.source)
            except ScenarioError as exc:
                key = exc.key if exc.key.startswith(p.name) else p.name
                message = exc.message if exc.key.startswith(p.name) else f"{exc.key}: {exc.message}"
                if p.dist == "normal":
                    message += " (a sampled value: truncate the distribution with low and high)"
                raise ScenarioError(sweep.source, f"parameters.{key}", message) from None


def _plain(values: np.ndarray) -> list[Any]:
    """numpy values as plain Python ints and floats (for TOML, JSON and the database)."""
    return [v.item() for v in np.asarray(values)]
