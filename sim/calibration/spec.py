"""A calibration set-up: the tables of ``calibration/parameters.toml`` and the validated whole.

:func:`sim.calibration.fit.load_calibration` reads the file into :class:`Calibration`. A fitted
parameter has a prior (:mod:`sim.calibration.prior`) and sets one or more scenario keys, to its
value or (``factor = true``) to its value times the key's default in the schema.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.calibration.prior import SHAPES, Prior, PriorKind, shape_problem
from sim.calibration.targets import Target
from sim.experiments.sweep import NAME_PATTERN
from sim.scenario.schema import Scenario


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FitParameter(_Strict):
    """One fitted parameter: the scenario keys it sets, its prior and where the prior comes from.

    ``low``-``high`` is the prior's support; the shape keys of its kind are in
    :data:`sim.calibration.prior.SHAPES`.
    """

    keys: list[str] = Field(min_length=1)
    factor: bool = False
    prior: PriorKind = "uniform"
    low: float = Field(allow_inf_nan=False)
    high: float = Field(allow_inf_nan=False)
    mean: float | None = Field(None, allow_inf_nan=False)
    sd: float | None = Field(None, allow_inf_nan=False)
    median: float | None = Field(None, allow_inf_nan=False)
    sd_log: float | None = Field(None, allow_inf_nan=False)
    alpha: float | None = Field(None, allow_inf_nan=False)
    beta: float | None = Field(None, allow_inf_nan=False)
    source: str = Field(min_length=1)
    cites: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _valid_prior(self) -> FitParameter:
        shape = {name: getattr(self, name) for name in ("mean", "sd", "median", "sd_log", "alpha", "beta")}
        problem = shape_problem(self.prior, shape, self.low, self.high)
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def distribution(self) -> Prior:
        """The prior as a :class:`~sim.calibration.prior.Prior`."""
        return Prior(self.prior, self.low, self.high, {k: float(getattr(self, k)) for k in SHAPES[self.prior]})


class SbcTable(_Strict):
    """The ``[calibration.sbc]`` table: simulation-based calibration's cases and their (smaller) budget."""

    cases: int = Field(20, ge=1, le=10_000)
    population: int = Field(100, ge=5, le=100_000)
    generations: int = Field(5, ge=1, le=100)
    max_simulations: int | None = Field(None, ge=1)
    min_ess: int = Field(50, ge=1)


class EmulatorTable(_Strict):
    """The ``[calibration.emulator]`` table: the runs of the emulator method's design and waves."""

    design: int = Field(500, ge=20, le=100_000)
    wave: int = Field(500, ge=10, le=100_000)
    waves: int = Field(4, ge=1, le=100)


class CalibrationTable(_Strict):
    """The ``[calibration]`` table: the scenario, the study, the seed, the budget and the settings held in every run."""

    model_config = ConfigDict(regex_engine="python-re")  # the name pattern refuses '.' and '..' by a look-ahead

    scenario: str
    study: str = Field(pattern=f"^{NAME_PATTERN}$")
    seed: int = Field(ge=0, le=2**63 - 1)
    method: Literal["emulator", "abc-smc"] = "emulator"
    population: int = Field(300, ge=5, le=100_000)
    generations: int = Field(8, ge=1, le=100)
    max_simulations: int | None = Field(None, ge=1)
    max_minutes: float | None = Field(None, gt=0, allow_inf_nan=False)
    min_ess: int = Field(200, ge=1)
    output: str = "calibrated.toml"
    report: str = "fit_report.md"
    posterior: str = "posterior.parquet"
    coverage: str = "coverage.csv"
    information: str = "value_of_information.csv"
    fixed: dict[str, Any] = Field(default_factory=dict)
    sbc: SbcTable = Field(default_factory=SbcTable)
    emulator: EmulatorTable = Field(default_factory=EmulatorTable)


class CheckTable(_Strict):
    """The ``[check]`` table: seeds and settings of the runs that check the central draw."""

    seeds: int = Field(20, ge=1, le=10_000)
    fixed: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Budget:
    """How much ABC-SMC may do: particles per generation, generations, simulations and minutes.

    Attributes:
        population: Accepted particles per generation.
        generations: Generations at most to reach temperature 1 (the posterior itself); as many more at
            temperature 1, pooled, if the first holds fewer effective draws than wanted.
        max_simulations: Stop after the generation that passes this many simulations (``None``: no limit).
        max_minutes: Stop after the generation that passes this many minutes of this session (``None``: no limit).
    """

    population: int
    generations: int
    max_simulations: int | None = None
    max_minutes: float | None = None


@dataclass(frozen=True)
class Calibration:
    """A validated calibration set-up.

    Attributes:
        source: The parameters file.
        scenario_path: The scenario being fitted.
        study: Name of the calibration in the results database.
        seed: Seed of everything random in the calibration (proposals, runs' seeds, acceptance).
        method: ``emulator`` (:mod:`sim.calibration.emulated`) or ``abc-smc`` (:mod:`sim.calibration.posterior`).
        emulator: The emulator method's design, wave size and waves.
        budget: The ABC-SMC budget of the posterior (its runs and minutes bound either method).
        min_ess: Effective draws the posterior should hold.
        sbc: Simulation-based calibration's cases and budget.
        base: The scenario with ``[calibration.fixed]`` applied (``model_dump()``).
        parameters: Name -> fitted parameter, in file order.
        targets: Every target of ``targets.toml``.
        output: Where the central draw's values are written.
        report: Where the fit report is written.
        posterior: Where the posterior's draws are exported (parquet).
        coverage: Where simulation-based calibration writes its intervals (CSV).
        information: Where the value of information is written (CSV).
        check_seeds: Seeds of the check (0 .. n-1).
        check_fixed: Settings of the check runs.
    """

    source: Path
    scenario_path: Path
    study: str
    seed: int
    method: str
    emulator: EmulatorTable
    budget: Budget
    min_ess: int
    sbc: SbcTable
    base: dict[str, Any]
    parameters: dict[str, FitParameter]
    targets: tuple[Target, ...]
    output: Path
    report: Path
    posterior: Path
    coverage: Path
    information: Path
    check_seeds: tuple[int, ...]
    check_fixed: dict[str, Any]

    @property
    def objective_targets(self) -> list[Target]:
        """Targets of the objective: calibrated ones measured on the fitted scenario."""
        return [t for t in self.targets if t.calibrate and self.measured_here(t)]

    @property
    def measured_targets(self) -> list[Target]:
        """Targets measured on the fitted scenario: each run reports them (the posterior predictive)."""
        return [t for t in self.targets if self.measured_here(t)]

    def measured_here(self, target: Target) -> bool:
        """Whether a target is measured on the fitted scenario (not on another what-if)."""
        return target.scenario is None or (self.source.parent / target.scenario).resolve() == self.scenario_path

    def overrides(self, values: dict[str, float], only: str | None = None) -> dict[str, float]:
        """Scenario keys and values for parameter values (factors times the schema default).

        Args:
            values: Parameter name -> value.
            only: Just this parameter's keys (the others are then not needed in ``values``).

        Returns:
            Dotted scenario key -> value, as ``--set`` takes them.
        """
        out: dict[str, float] = {}
        for name, p in self.parameters.items():
            if only is not None and name != only:
                continue
            for key in p.keys:
                out[key] = values[name] * default_value(key) if p.factor else values[name]
        return out

    def fingerprint(self) -> str:
        """Hash of what makes runs comparable: base scenario, parameters and priors, seed and objective.

        The fitted keys are left out of the base: every run sets them, and the base holds the
        values of the last calibration (the scenario extends ``calibrated.toml``), which must not
        stop a study from resuming once it has written them. The budget is left out too: a
        calibration may be continued with more generations or simulations.
        """
        base = copy.deepcopy(self.base)
        for p in self.parameters.values():
            for key in p.keys:
                node, leaf = parent_table(base, key)
                node[leaf] = None
        setup = [base, {n: p.model_dump(exclude={"source", "cites"}) for n, p in self.parameters.items()},
                 self.seed,
                 [t.model_dump() for t in self.objective_targets]]
        return hashlib.sha256(json.dumps(setup, sort_keys=True, default=str).encode()).hexdigest()


def default_value(key: str) -> float:
    """The schema's default of a dotted scenario key (what a factor multiplies).

    Args:
        key: Dotted scenario key, e.g. ``population.scale``.

    Returns:
        The default value.

    Raises:
        KeyError: The key is not in the default scenario.
    """
    return value_at(_defaults(), key)


@functools.cache
def _defaults() -> dict[str, Any]:
    """The default scenario's tables, made once (every run of a calibration asks for them)."""
    return Scenario().model_dump()


def value_at(scenario: dict[str, Any], key: str) -> float:
    """The value of a dotted key in a scenario's tables.

    Args:
        scenario: The scenario as nested tables (``model_dump()``).
        key: Dotted scenario key.

    Returns:
        The value as a float.
    """
    node, leaf = parent_table(scenario, key)
    return float(node[leaf])


def parent_table(tree: dict[str, Any], key: str, create: bool = False) -> tuple[dict[str, Any], str]:
    """The table holding a dotted key's value, and the key's last part.

    Args:
        tree: Nested tables.
        key: Dotted key.
        create: Make the tables on the way that are missing (else a missing one is a KeyError).

    Returns:
        The innermost table and the key's last part.
    """
    *tables, leaf = key.split(".")
    node = tree
    for table in tables:
        node = node.setdefault(table, {}) if create else node[table]
    return node, leaf
