"""A calibration set-up: the tables of ``calibration/parameters.toml`` and the validated whole.

:func:`sim.calibration.fit.load_calibration` reads the file into :class:`Calibration`. A fitted
parameter sets one or more scenario keys, to its value or (``factor = true``) to its value times
the key's default in the schema.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.calibration.targets import Target
from sim.experiments.sweep import NAME_PATTERN
from sim.scenario.schema import Scenario


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FitParameter(_Strict):
    """One fitted parameter: the scenario keys it sets and its range."""

    keys: list[str] = Field(min_length=1)
    low: float
    high: float
    factor: bool = False
    log: bool = False
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> FitParameter:
        if not self.low < self.high:
            raise ValueError(f"high ({self.high}) must be above low ({self.low})")
        if self.log and self.low <= 0:
            raise ValueError(f"low must be above 0 for a log range, got {self.low}")
        return self


class CalibrationTable(_Strict):
    """The ``[calibration]`` table: the scenario, the study, its seeds and the settings held in every trial."""

    model_config = ConfigDict(regex_engine="python-re")  # the name pattern refuses '.' and '..' by a look-ahead

    scenario: str
    study: str = Field(pattern=f"^{NAME_PATTERN}$")
    trials: int = Field(ge=1, le=100_000)
    seeds: int = Field(ge=1, le=1000)
    seed: int = Field(ge=0, le=2**63 - 1)
    startup_trials: int = Field(10, ge=1, le=10_000)
    output: str = "calibrated.toml"
    report: str = "fit_report.md"
    fixed: dict[str, Any] = Field(default_factory=dict)


class CheckTable(_Strict):
    """The ``[check]`` table: seeds and settings of the runs that check the fit."""

    seeds: int = Field(20, ge=1, le=10_000)
    fixed: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Calibration:
    """A validated calibration set-up.

    Attributes:
        source: The parameters file.
        scenario_path: The scenario being fitted.
        study: optuna study name.
        trials: Finished trials wanted.
        seeds: Seeds of every trial (common random numbers).
        sampler_seed: Seed of the TPE sampler.
        startup_trials: Random trials before TPE models the objective.
        base: The scenario with ``[calibration.fixed]`` applied (``model_dump()``).
        parameters: Name -> fitted parameter, in file order.
        targets: Every target of ``targets.toml``.
        output: Where the best values are written.
        report: Where the fit report is written.
        check_seeds: Seeds of the check (0 .. n-1).
        check_fixed: Settings of the check runs.
    """

    source: Path
    scenario_path: Path
    study: str
    trials: int
    seeds: tuple[int, ...]
    sampler_seed: int
    startup_trials: int
    base: dict[str, Any]
    parameters: dict[str, FitParameter]
    targets: tuple[Target, ...]
    output: Path
    report: Path
    check_seeds: tuple[int, ...]
    check_fixed: dict[str, Any]

    @property
    def objective_targets(self) -> list[Target]:
        """Targets of the objective: calibrated ones measured on the fitted scenario."""
        return [t for t in self.targets if t.calibrate and self.measured_here(t)]

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
        """Hash of what makes trials comparable: base scenario, parameters, seeds and objective.

        The fitted keys are left out of the base: every trial sets them, and the base holds the
        values of the last calibration (the scenario extends ``calibrated.toml``), which must not
        stop a study from resuming once it has written them.
        """
        base = copy.deepcopy(self.base)
        for p in self.parameters.values():
            for key in p.keys:
                node, leaf = parent_table(base, key)
                node[leaf] = None
        setup = [base, {n: p.model_dump() for n, p in self.parameters.items()}, self.seeds,
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
    return value_at(Scenario().model_dump(), key)


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
