"""The assumptions an answer rests on: scenario parameters whose source is an assumption.

Every scenario parameter records its source in the schema (:func:`sim.scenario.params.param`);
where that source says "assumption" the value is the modellers' guess, not an observed figure.
An answer depends on such a parameter when its value differs between the two scenarios, or
when it is active in either (its instrument is switched on). :func:`switch_off` says how each
is switched off for ``compare --ablate``: set to nothing (0) where the schema allows it, else its
instrument off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.scenario.explain import parameters

ASSUMPTION_WORD = "assumption"


@dataclass(frozen=True)
class Assumption:
    """An assumed parameter that an answer depends on.

    Attributes:
        key: Dotted scenario key, e.g. ``foreign_investment.employees``.
        unit: Its unit.
        values: Its value in each scenario (one or two).
        source: The schema's source text.
        switch: The overrides that switch it off (``{}`` when it cannot be).
    """

    key: str
    unit: str
    values: tuple[Any, ...]
    source: str
    switch: dict[str, Any]

    @property
    def differs(self) -> bool:
        """Whether the scenarios give it different values."""
        return len(set(map(str, self.values))) > 1


def value_at(tables: dict, key: str) -> Any:
    """A dotted key's value in a scenario's tables, or None where it has none.

    Args:
        tables: The scenario as nested tables (``model_dump()`` or its ``scenario.toml``).
        key: The dotted key.

    Returns:
        The value.
    """
    node: Any = tables
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def assumptions(*scenarios: dict) -> list[Assumption]:
    """The assumed parameters that the answers of one or two scenarios depend on.

    Args:
        scenarios: Each scenario as nested tables.

    Returns:
        In schema order: those that differ between the scenarios or are active in one of them.
    """
    out = []
    for p in parameters():
        if ASSUMPTION_WORD not in p.source.lower() or "<" in p.key or "[" in p.key:
            continue
        values = tuple(value_at(s, p.key) for s in scenarios)
        section = p.key.rsplit(".", 1)[0]
        enabled = [value_at(s, f"{section}.enabled") for s in scenarios]
        active = any(e is None or e is True for e in enabled)
        if active or len(set(map(str, values))) > 1:
            out.append(Assumption(p.key, p.unit, values, p.source, switch_off(p.key, p.range, scenarios[0])))
    return out


def switch_off(key: str, allowed: str, tables: dict) -> dict[str, Any]:
    """The overrides that switch an assumed parameter off.

    Args:
        key: The dotted key.
        allowed: The schema's range text (``"0-200"``, ``"1-100000"``).
        tables: A scenario's tables (to see whether the key's table has an ``enabled`` switch).

    Returns:
        ``{key: 0}`` where 0 is allowed, else ``{"<table>.enabled": False}``, else ``{}``.
    """
    if allowed.startswith("0-") or allowed.startswith(">= 0"):
        return {key: 0}
    section = key.rsplit(".", 1)[0]
    if value_at(tables, f"{section}.enabled") is not None:
        return {f"{section}.enabled": False}
    return {}


def switch_text(switch: dict[str, Any]) -> str:
    """An override set as ``--set`` would take it, e.g. ``foreign_investment.enabled=false``.

    Args:
        switch: The overrides.

    Returns:
        The text, or ``"cannot be switched off"``.
    """
    if not switch:
        return "cannot be switched off"
    return ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in switch.items())
