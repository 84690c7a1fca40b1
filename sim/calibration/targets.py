"""Observed figures the model is held to (``calibration/targets.toml``) and how runs meet them.

A target names a *statistic* of a run:

- a headline figure of ``summary.json``, e.g. ``gap_value_added_pp`` (the published estimator);
- ``yearly.<column>@<year>`` or ``yearly.<column>@<first>-<last>`` (the mean over those years);
- ``growth.<column>@<first>-<last>``: the yearly column's average growth between two years, in
  percent a year (``100 ((x_last / x_first)^(1 / years) - 1)``);
- ``peak_lead.<prefix>``: the largest of ``<prefix>_year1..3`` minus the largest of the later
  years, positive when a gap peaks in the first three years of membership.

Runs are summarised by the statistic's *inputs* (plain numbers per run, averaged over seeds) and
the statistic is computed from the averages, so that a peak is judged on the mean profile and not
on the noise of single runs. Compare ``equal`` is met within ``value +- tolerance``; ``at_least``
is met at ``value`` or more. :meth:`Target.miss` is the distance in tolerances the calibration's
error model scores (:mod:`sim.calibration.posterior`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sim.output.result import is_headline_figure
from sim.scenario.errors import ScenarioError
from sim.scenario.files import read_toml
from sim.scenario.validation import validate_table

EARLY_YEARS = 3  # "the highest development in the first three years" (docs/sources.md, [IN-AR2021])
_YEARLY = re.compile(r"yearly\.(\w+)@(\d{4})(?:-(\d{4}))?")
_PEAK = re.compile(r"peak_lead\.(\w+)")
_GROWTH = re.compile(r"growth\.(\w+)@(\d{4})-(\d{4})")
_BY_YEAR = re.compile(r"(gap|true)_(value_added|revenue|man_years)_pp")  # prefixes with _year<k> figures
_HEADLINE = re.compile(r"\w+")


class Target(BaseModel):
    """One observed figure and how a run's statistic is compared with it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    value: float
    tolerance: float = Field(gt=0)
    statistic: str
    compare: Literal["equal", "at_least"] = "equal"
    scenario: str | None = None
    calibrate: bool = False
    source: str = Field(min_length=1)

    @field_validator("statistic")
    @classmethod
    def _known_form(cls, text: str) -> str:
        if not any(p.fullmatch(text) for p in (_YEARLY, _GROWTH, _PEAK, _HEADLINE)):
            raise ValueError("must be a headline figure, 'yearly.<column>@<year>[-<year>]', "
                             "'growth.<column>@<year>-<year>' or 'peak_lead.<prefix>'")
        growth = _GROWTH.fullmatch(text)
        if growth and not int(growth[2]) < int(growth[3]):
            raise ValueError("growth needs a first year before the last, e.g. growth.employment@2000-2019")
        yearly = _YEARLY.fullmatch(text)
        if yearly and yearly[3] and not int(yearly[2]) <= int(yearly[3]):
            raise ValueError(f"years must run forward, e.g. yearly.{yearly[1]}@{yearly[3]}-{yearly[2]}")
        peak = _PEAK.fullmatch(text)
        if peak and not _BY_YEAR.fullmatch(peak[1]):
            raise ValueError("peak_lead needs a gap by year since joining, e.g. peak_lead.gap_value_added_pp")
        if not (yearly or growth or peak) and not is_headline_figure(text):
            raise ValueError(f"unknown headline figure '{text}'; e.g. gap_value_added_pp, true_man_years_pp, "
                             "treatment_jobs_2021 (see a run's summary.json)")
        return text

    def years(self) -> list[int]:
        """The years a yearly or growth statistic reads (none for a headline figure)."""
        match = _YEARLY.fullmatch(self.statistic) or _GROWTH.fullmatch(self.statistic)
        return [int(y) for y in match.groups()[1:] if y] if match else []

    def inputs(self, available: Iterable[str]) -> list[str]:
        """The per-run numbers this statistic needs.

        Args:
            available: The headline figures a run has (a peak reads its ``_year<k>`` figures).

        Returns:
            The input names, as :func:`observe` reads them.
        """
        peak = _PEAK.fullmatch(self.statistic)
        if peak:
            return sorted((n for n in available if re.fullmatch(rf"{peak[1]}_year\d+", n)), key=_year_of)
        growth = _GROWTH.fullmatch(self.statistic)
        if growth:
            return [f"yearly.{growth[1]}@{growth[2]}", f"yearly.{growth[1]}@{growth[3]}"]
        return [self.statistic]

    def reduce(self, means: Mapping[str, float]) -> float:
        """The statistic from the seed-averaged inputs.

        Args:
            means: Input name -> mean over seeds.

        Returns:
            The statistic, NaN where an input is missing.
        """
        growth = _GROWTH.fullmatch(self.statistic)
        if growth:
            first, last = (means.get(name, np.nan) for name in self.inputs(means))
            return float(100.0 * ((last / first) ** (1.0 / (int(growth[3]) - int(growth[2]))) - 1.0))
        peak = _PEAK.fullmatch(self.statistic)
        if not peak:
            return float(means.get(self.statistic, np.nan))
        profile = {_year_of(name): v for name, v in means.items() if name in self.inputs(means)}
        early = [v for k, v in profile.items() if k <= EARLY_YEARS]
        late = [v for k, v in profile.items() if k > EARLY_YEARS]
        return float(max(early) - max(late)) if early and late else np.nan

    def met(self, x: float) -> bool:
        """Whether a statistic meets the target.

        Args:
            x: The statistic.

        Returns:
            True within the tolerance (``equal``) or at the value or above (``at_least``).
        """
        if not np.isfinite(x):
            return False
        return x >= self.value if self.compare == "at_least" else abs(x - self.value) <= self.tolerance

    def miss(self, x: float, observed: float | None = None) -> float:
        """How far a statistic misses the target, in tolerances (only a shortfall for ``at_least``).

        Args:
            x: The statistic.
            observed: The observed value (default the target's; simulation-based calibration gives others).

        Returns:
            The miss; :data:`MISSING_MISS` for a statistic that is not finite.
        """
        if not np.isfinite(x):
            return MISSING_MISS
        gap = x - (self.value if observed is None else observed)
        return float((min(0.0, gap) if self.compare == "at_least" else gap) / self.tolerance)


MISSING_MISS = 100.0  # a statistic a run could not produce (no member to measure) misses by this many tolerances


def _year_of(name: str) -> int:
    return int(name.rsplit("_year", 1)[1])


def load_targets(path: str | Path) -> list[Target]:
    """Read and validate a targets file.

    Args:
        path: ``calibration/targets.toml``.

    Returns:
        The targets in file order.

    Raises:
        ScenarioError: The file is unreadable or a target is malformed (one line naming it).
    """
    source = str(path)
    data = read_toml(Path(path), source)
    targets = []
    for name, table in data.items():
        if isinstance(table, dict) and "name" in table:
            raise ScenarioError(source, f"{name}.name", "unknown key 'name': a target is named by its table")
        entry = {"name": name, **table} if isinstance(table, dict) else table
        targets.append(validate_table(Target, entry, source, name))
    return targets


def observe(headline: Mapping[str, float], yearly: pd.DataFrame, names: Iterable[str]) -> dict[str, float]:
    """One run's value of each input (headline figures and yearly columns).

    Args:
        headline: The run's ``summary["headline"]``.
        yearly: The run's yearly table.
        names: Inputs of the targets (:meth:`Target.inputs`).

    Returns:
        Name -> value (NaN where the run lacks it).
    """
    by_year = yearly.set_index("year")
    out = {}
    for name in names:
        match = _YEARLY.fullmatch(name)
        if match:
            column, first, last = match[1], int(match[2]), int(match[3] or match[2])
            ok = column in by_year.columns and first in by_year.index and last in by_year.index
            out[name] = float(by_year.loc[first:last, column].mean()) if ok else np.nan
        else:
            value = headline.get(name)
            out[name] = float(value) if isinstance(value, int | float) else np.nan
    return out


def inputs_of(targets: Iterable[Target], headline_names: Iterable[str]) -> list[str]:
    """Every input the targets need, in first-use order.

    Args:
        targets: The targets.
        headline_names: The headline figures a run has (for the inputs of a peak).

    Returns:
        The input names (:meth:`Target.inputs`).
    """
    names = list(headline_names)
    return list(dict.fromkeys(n for t in targets for n in t.inputs(names)))
