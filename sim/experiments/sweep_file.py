"""Sweep files: a base scenario, the parameters to vary, a design, replications and seeds.

A sweep file is TOML (``scenarios/sweeps/*.toml``)::

    [sweep]
    name = "leave_rate"                  # the experiment's name in the results database
    scenario = "../classroom.toml"       # base scenario, relative to this file
    design = "factorial"                 # factorial | latin_hypercube | sobol | morris | saltelli
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
and/or high) and ``triangular`` (low, mode, high). The designs and the seeds of the runs are
described in :mod:`sim.experiments.sweep`.

Outcomes are yearly columns (``members@2021``) or headline figures of the runs' summaries
(``summary.gap_value_added_pp``, ``summary.true_value_added_pp``, ``summary.treatment_jobs_2021``).

Everything is checked once, here: the base scenario with ``[fixed]`` and, for each parameter,
its smallest and largest sampled value (or every value of a list) through
:func:`sim.scenario.validation.validate`. A problem is a :class:`~sim.scenario.errors.ScenarioError` naming the
sweep file and the key, e.g. ``sweeps/x.toml: parameters.membership.leave_rate: must be 0-1, got 1.5``.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from pathlib import Path
from typing import Any

from sim.experiments.sweep import (
    DESIGNS,
    DISTRIBUTIONS,
    MAX_RUNS,
    NAME_PATTERN,
    OUTPUTS,
    SEED_MODES,
    SUMMARY_PREFIX,
    Parameter,
    Sweep,
    flatten,
    scenario_for,
)
from sim.observe.columns import YEARLY_COLUMNS
from sim.observe.moments import MOMENTS
from sim.output.result import is_headline_figure
from sim.scenario.errors import ScenarioError, short_toml
from sim.scenario.files import load_scenario, read_toml
from sim.scenario.schema import Scenario

DEFAULT_OUTCOMES = ("members", "employment", "value_added_nok")
SECTIONS = ("sweep", "fixed", "parameters")
SWEEP_KEYS = ("name", "description", "scenario", "design", "samples", "trajectories", "levels",
              "second_order", "replications", "seed", "seeds", "outputs", "outcomes")  # fmt: skip
# A table with one of these keys is a parameter's spec; any other table is a dotted-key prefix.
SPEC_KEYS = frozenset({"low", "high", "steps", "dist"})
MAX_SEED = 2**63 - 1


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
        raise ScenarioError(source, "sweep.name", "must be 1-100 letters, digits, '_', '.' or '-' (and not '.' or "
                                                  f"'..': it names a folder under results/), got {short_toml(name)}")
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
    _check_size(sweep)
    _check_values(sweep)
    return sweep


def _check_size(sweep: Sweep) -> None:
    """Refuse a design of more than :data:`~sim.experiments.sweep.MAX_RUNS` runs before drawing it."""
    points, runs = sweep.size()
    if runs <= MAX_RUNS:
        return
    key = {"factorial": "parameters", "morris": "sweep.trajectories"}.get(sweep.design, "sweep.samples")
    how = f"{points:,} points x {sweep.replications:,} replications" if sweep.replications > 1 else f"{points:,} points"
    raise ScenarioError(sweep.source, key, f"design '{sweep.design}' gives {runs:,} runs ({how}), more than the "
                                           f"limit of {MAX_RUNS:,} runs in one sweep; split it into several sweeps")


# Keys that only some designs take.
_DESIGN_KEYS = {"samples": ("latin_hypercube", "sobol", "saltelli"), "trajectories": ("morris",),
                "levels": ("morris",), "second_order": ("saltelli",)}


def _design_keys(meta: dict[str, Any], design: str, samples: int | None, trajectories: int | None, source: str) -> None:
    """Each design's own keys: present where required, absent where they mean nothing."""
    for key, designs in _DESIGN_KEYS.items():
        if key in meta and design not in designs:
            what = "a factorial design crosses the levels" if design == "factorial" else f"not design '{design}'"
            named = " and ".join([", ".join(designs[:-1]), designs[-1]] if len(designs) > 1 else designs)
            raise ScenarioError(source, f"sweep.{key}",
                                f"only applies to design{'s' * (len(designs) > 1)} {named}; {what}")
    if design in _DESIGN_KEYS["samples"] and samples is None:
        raise ScenarioError(source, "sweep.samples", f"required for design '{design}', e.g. samples = 64")
    if design in ("sobol", "saltelli") and samples & (samples - 1):
        raise ScenarioError(source, "sweep.samples",
                            f"must be a power of 2 for design '{design}' (e.g. 64), got {samples}")
    if design == "morris" and trajectories is None:
        raise ScenarioError(source, "sweep.trajectories", "required for design 'morris', e.g. trajectories = 10")
    if design == "morris" and meta.get("levels", 4) % 2:
        # Morris' step of levels / (2 (levels - 1)) lands on the grid only for an even number of levels.
        raise ScenarioError(source, "sweep.levels",
                            f"must be an even number for design 'morris' (e.g. 4), got {meta['levels']}")


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
        raise ScenarioError(source, f"{key}.high",
                            f"must be above low ({short_toml(a['low'])}), got {short_toml(a['high'])}")
    if dist == "loguniform" and a["low"] <= 0:
        raise ScenarioError(source, f"{key}.low",
                            f"must be above 0 for a loguniform distribution, got {short_toml(a['low'])}")
    if dist == "normal" and a["sd"] <= 0:
        raise ScenarioError(source, f"{key}.sd", f"must be above 0, got {short_toml(a['sd'])}")
    if dist == "triangular" and not a["low"] <= a["mode"] <= a["high"]:
        raise ScenarioError(source, f"{key}.mode", f"must be within low-high, got {short_toml(a['mode'])}")


def _outcomes(names: list[str], base: Scenario, source: str) -> tuple[tuple[str, int | None], ...]:
    """Parse the outcomes: yearly columns and headline figures.

    An outcome is ``column`` or ``column@year`` (a yearly column; the last year when none is
    given) or ``summary.<figure>`` (a headline figure of the runs' summaries, e.g.
    ``summary.gap_value_added_pp``).
    """
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
        "measurement.effects" if figure.startswith("gap_") or figure in MOMENTS else None)
    if needs and not (m.effects and (m.twin or needs == "measurement.effects")):
        raise ScenarioError(source, "sweep.outcomes",
                            f"{short_toml(text)} needs {needs} = true in the base scenario or [fixed]")


def _check_values(sweep: Sweep) -> None:
    """Validate each parameter at its extremes (numbers) or at every value (anything else).

    Bounds in the schema are per key, so a parameter valid at its smallest and largest value is
    valid in between; the other parameters stay at their base values meanwhile.
    """
    columns = {p.name: p.levels() for p in sweep.parameters} if sweep.design == "factorial" else sweep.columns()
    for p in sweep.parameters:
        values = columns[p.name]
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
