"""The app's controls as data: each control reads its value from a scenario and writes overrides.

A control is a slider or a switch that stands for one or more scenario keys: a behavioural
parameter of firms, a policy lever (cluster services, the programme operator, the other
instruments) or a feature of the world. The app shows the value the current lesson's scenario
implies and, when a user moves the control, turns the new value into dotted-key overrides
(``sim.load_scenario`` syntax) laid over that scenario. Adding a control is one more entry in
:data:`CONTROLS`; the app draws one card per :attr:`Control.group`, in the order the groups first
appear.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sim.app.lessons import BASE
from sim.scenario.files import load_scenario
from sim.scenario.levels import Levels
from sim.scenario.params import LEVELS
from sim.scenario.schema import Scenario

PERCENT = 100.0

Value = float | bool


@dataclass(frozen=True)
class Control:
    """One control of the app.

    Attributes:
        name: Identifier (also the form field's key in tests).
        label: What the user reads next to the control, with its unit.
        group: Card the control sits in.
        read: The value a scenario implies for this control.
        write: The overrides that give the scenario this control value.
        help: One sentence on what it means in the model.
        kind: ``"slider"`` or ``"switch"``.
        lo: Smallest slider value.
        hi: Largest slider value.
        step: Slider step.
    """

    name: str
    label: str
    group: str
    read: Callable[[Scenario], Value]
    write: Callable[[Value], dict[str, Any]]
    help: str
    kind: Literal["slider", "switch"] = "slider"
    lo: float = 0.0
    hi: float = 1.0
    step: float = 0.01

    def shown(self, value: float) -> float:
        """Where a slider puts a value: inside its range, on its steps.

        A browser's slider moves a value it cannot show to the nearest one it can, and reports that
        as if the user had moved it; the app ignores such a report (a calibrated value with
        decimals, such as the potential weight, would otherwise move to the nearest whole number the
        moment a lesson is shown).
        """
        inside = min(max(float(value), self.lo), self.hi)
        return min(self.lo + round((inside - self.lo) / self.step) * self.step, self.hi)


def scenario_control(key: str, label: str, group: str, lo: float, hi: float, step: float, help: str,
                     unit: float = 1.0, cast: type = float) -> Control:
    """A slider bound to one scenario value (e.g. ``network.geo_scale_km``).

    Args:
        key: Dotted scenario key.
        label: Text beside the slider.
        group: Card it sits in.
        lo: Smallest slider value (inside the schema's range).
        hi: Largest slider value (inside the schema's range).
        step: Slider step.
        help: What the parameter means.
        unit: Scenario units per slider unit (1e6 shows NOK as NOK million).
        cast: Type of the scenario value (``int`` for counts).

    Returns:
        The control.
    """
    section, field = key.split(".")
    return Control(
        name=key, label=label, group=group, lo=lo, hi=hi, step=step, help=help,
        read=lambda scn: float(getattr(getattr(scn, section), field)) / unit,
        write=lambda value: {key: cast(round(float(value) * unit, 9))},
    )


@functools.cache
def shipped_levels() -> Levels:
    """The level values of the classroom scenario as shipped (calibrated), which "100 %" refers to."""
    return load_scenario(BASE).levels


def level_control(name: str, fields: tuple[str, ...], label: str, group: str, hi: float, help: str,
                  lo: float = 0.0, step: float = 10.0) -> Control:
    """A slider that scales level values of all four levels, in percent of the shipped classroom's.

    Percent of the classroom scenario as shipped rather than of the schema's defaults: the
    calibration sets some of them (members' market access is fitted as a multiple of its default,
    and every calibration moves it), and a class should read the shipped scenario as 100 % on every
    slider.

    Args:
        name: Identifier.
        fields: ``LevelSpec`` fields it scales together.
        label: Text beside the slider.
        group: Card it sits in.
        hi: Largest percentage (keep the result inside the schema's range).
        help: What it means.
        lo: Smallest percentage.
        step: Slider step in percentage points.

    Returns:
        The control; its value reads as the mean ratio over levels (100 = the shipped classroom's).
    """

    def read(scn: Scenario) -> float:
        shipped = shipped_levels()
        ratios = [getattr(scn.levels.get(lv), f) / getattr(shipped.get(lv), f)
                  for lv in LEVELS for f in fields if getattr(shipped.get(lv), f) > 0]
        return round(PERCENT * sum(ratios) / len(ratios), 6)

    def write(value: Value) -> dict[str, Any]:
        share = float(value) / PERCENT
        return {f"levels.{lv}.{f}": getattr(shipped_levels().get(lv), f) * share
                for lv in LEVELS for f in fields}

    return Control(name=name, label=label, group=group, lo=lo, hi=hi, step=step, help=help, read=read, write=write)


def switch_control(name: str, label: str, group: str, is_on: Callable[[Scenario], bool],
                   off: dict[str, Any], help: str) -> Control:
    """A switch: on keeps the scenario as it is, off applies ``off``.

    Args:
        name: Identifier.
        label: Text beside the switch.
        group: Card it sits in.
        is_on: Whether a scenario has the feature.
        off: Overrides that turn it off.
        help: What it means.

    Returns:
        The control.
    """
    return Control(name=name, label=label, group=group, kind="switch", help=help, read=is_on,
                   write=lambda value: {} if value else dict(off))


BEHAVIOUR = "Behaviour of firms"
SERVICES = "Cluster services (all levels, % of the classroom as shipped)"
PROGRAMME = "Programme operator (after 2021)"
INSTRUMENTS = "Other instruments"
WORLD = "World"
MILLION = 1e6

CONTROLS: tuple[Control, ...] = (
    scenario_control("membership.base_utility", "Appetite for joining (utils)", BEHAVIOUR, -6.0, 2.0, 0.25,
                     "Higher: more firms find membership worth its hours and fees."),
    scenario_control("membership.potential_weight", "Selection on growth potential (utils per log point)",
                     BEHAVIOUR, 0.0, 200.0, 1.0,  # calibration/parameters.toml's prior: the fitted value is inside
                     "How much firms that expect to grow anyway seek clusters: the source of selection bias."),
    scenario_control("network.geo_scale_km", "Reach of collaboration (km)", BEHAVIOUR, 25.0, 800.0, 25.0,
                     "Distance at which a proposed partnership becomes 1/e as likely: small means local ties."),
    scenario_control("network.tie_attempts", "Partner search (attempts per firm-year)", BEHAVIOUR, 0.0, 2.0, 0.05,
                     "How often a firm looks for a collaboration partner on its own."),
    scenario_control("innovation.spillover_weight", "Learning from partners (hazard per unit novelty)",
                     BEHAVIOUR, 0.0, 0.4, 0.01,
                     "How much a partner's different knowledge raises the chance to innovate."),
    scenario_control("innovation.convergence_rate", "Knowledge convergence (share of gap per year)",
                     BEHAVIOUR, 0.0, 0.5, 0.01,
                     "How fast partners come to know the same things, so that they teach each other less."),
    level_control("funding", ("programme_funding_nok",), "Funding per cluster (%)", SERVICES, 200.0,
                  "What the programme pays each cluster at each level: how many clusters the budget holds, and "
                  "members' fees. Services shrink only when a budget cut pays every cluster less.",
                  step=5.0),
    level_control("facilitation", ("facilitation_ties",), "Matchmaking by the cluster (%)", SERVICES, 300.0,
                  "Extra partner introductions the cluster organisation brokers among its members."),
    level_control("market_access", ("market_access_growth",), "Market access for members (%)", SERVICES, 250.0,
                  "Extra sales growth from profiling, internationalisation and joint marketing."),
    level_control("cluster_size", ("recruits_per_year", "max_members"), "Cluster size and recruiting (%)",
                  SERVICES, 400.0, "How many members each cluster organisation can recruit and hold.",
                  lo=25.0, step=25.0),
    scenario_control("programme.budget_nok", "Programme budget (NOK million a year)", PROGRAMME, 10.0, 250.0, 5.0,
                     "What the operator may spend on all clusters: the call admits new ones only within it; "
                     "below what they cost, it pays each less, then ends clusters.",
                     unit=MILLION),
    scenario_control("programme.admissions_per_year", "New clusters admitted per call", PROGRAMME, 0.0, 10.0, 1.0,
                     "How many new cluster initiatives the yearly open call may admit.", cast=int),
    switch_control("restructuring", "Regional restructuring", INSTRUMENTS, lambda scn: scn.restructuring.enabled,
                   {"restructuring.enabled": False},
                   "Support to areas whose jobs are vanishing: grants, start-ups and more collaboration."),
    switch_control("corporate_networks", "Corporate networks", INSTRUMENTS,
                   lambda scn: scn.corporate_networks.enabled, {"corporate_networks.enabled": False},
                   "Small firms with growth ambitions develop products together."),
    switch_control("green_platform", "Green Platform consortia", INSTRUMENTS, lambda scn: scn.green_platform.enabled,
                   {"green_platform.enabled": False}, "Large joint green projects, funded from 2021."),
    switch_control("foreign_investment", "Foreign investment in strong clusters", INSTRUMENTS,
                   lambda scn: scn.foreign_investment.enabled, {"foreign_investment.enabled": False},
                   "NCEs and GCEs draw subsidiaries of foreign firms."),
    switch_control("oil_shock", "Oil-price fall of 2015-16", WORLD, lambda scn: bool(scn.shocks), {"shocks": []},
                   "Demand for oil and gas suppliers falls for two years, as after 2014."),
    switch_control("cluster_startups", "Start-ups gather around clusters", WORLD,
                   lambda scn: scn.demography.cluster_entry_boost > 0, {"demography.cluster_entry_boost": 0.0},
                   "An active cluster draws extra start-ups to its county and sector."),
)

BY_NAME: dict[str, Control] = {control.name: control for control in CONTROLS}


def groups(controls: tuple[Control, ...] = CONTROLS) -> dict[str, list[Control]]:
    """Controls by card, cards in the order they first appear."""
    out: dict[str, list[Control]] = {}
    for control in controls:
        out.setdefault(control.group, []).append(control)
    return out


def overrides(values: dict[str, Value]) -> dict[str, Any]:
    """The dotted-key overrides for the controls a user has moved.

    Args:
        values: Control name -> value, only for controls that differ from the lesson.

    Returns:
        Overrides for :func:`sim.load_scenario`-style application, later controls winning.
    """
    out: dict[str, Any] = {}
    for name, value in values.items():
        out.update(BY_NAME[name].write(value))
    return out
