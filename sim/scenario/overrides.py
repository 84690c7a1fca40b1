"""Overrides: ``--set key.sub=value`` arguments and setting a dotted key in a scenario's tables.

``clusters.0.name`` and ``clusters[0].name`` both address a list entry.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from sim.scenario.errors import ScenarioError


def parse_assignment(text: str, source: str = "--set") -> tuple[str, Any]:
    """Split ``key.sub=value`` and parse the value as a TOML value (bare words become strings).

    Args:
        text: One ``--set`` argument.
        source: Name used in error messages (the scenario file the override applies to).

    Returns:
        The dotted key (``clusters[0].name`` becomes ``clusters.0.name``) and the parsed value.

    Raises:
        ScenarioError: There is no ``=``, no key, or an empty part in the key.
    """
    key, sep, raw = str(text).partition("=")
    key = re.sub(r"\[(\d+)\]", r".\1", key.strip())
    if not sep or not key:
        raise ScenarioError(source, f"--set {text}", "expected KEY=VALUE, e.g. population.scale=0.05")
    if any(not part.strip() for part in key.split(".")):
        raise ScenarioError(source, f"--set {text}", "empty part in key; expected e.g. population.scale=0.05")
    raw = raw.strip()
    try:
        parsed = tomllib.loads(f"v = {raw}")
        value = parsed["v"] if list(parsed) == ["v"] else raw
    except (tomllib.TOMLDecodeError, RecursionError):
        value = raw
    return ".".join(part.strip() for part in key.split(".")), value


def assign(data: dict[str, Any], key: str, value: Any, source: str) -> None:
    """Set a dotted key in nested tables, making the tables on the way that are missing.

    Args:
        data: The nested tables (modified).
        key: Dotted key; a number addresses an item of a list.
        value: The value to set.
        source: Name used in error messages.

    Raises:
        ScenarioError: The key has an empty part, indexes past a list, or goes through a value.
    """
    parts = re.sub(r"\[(\d+)\]", r".\1", key).split(".")
    if any(not p for p in parts):
        raise ScenarioError(source, key, "empty part in key; expected e.g. population.scale")
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        here = ".".join(parts[:i]) or "the scenario"
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(
                    source, key, f"'{part}' is not an index of '{here}' (a list of {len(node)})")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            raise ScenarioError(source, key, f"'{here}' is a value, not a table")
