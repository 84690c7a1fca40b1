"""One-line messages for bad input: :class:`ScenarioError` and how keys and values are shown in it.

Bad input never becomes a traceback: every problem is raised as :class:`ScenarioError`, whose
text names the file, the key and what is allowed, e.g.
``scenarios/x.toml: levels.arena.max_members: must be 0-10000, got -3``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any


class ScenarioError(ValueError):
    """A scenario that cannot be used; ``str()`` is the one line shown to the user."""

    def __init__(self, source: str, key: str, message: str):
        self.source, self.key, self.message = one_line(source), one_line(key), one_line(message)
        text = f"{self.source}: {self.key}: {self.message}" if key else f"{self.source}: {self.message}"
        super().__init__(text)

    def __reduce__(self):  # keep the three parts when sent between processes (sweeps, Dask)
        return type(self), (self.source, self.key, self.message)


def short_toml(value: Any, limit: int = 60, depth: int = 0) -> str:
    """Render a value the way it would be written in TOML, shortened to one short line.

    Args:
        value: Any value, as parsed from TOML or given to ``--set``.
        limit: Characters at most (longer text ends in ``...``).
        depth: Nesting level of ``value`` (tables and lists deeper than 3 are shown as ``...``).

    Returns:
        The one-line text.
    """
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and not math.isfinite(value):
        text = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    elif isinstance(value, (int, float, str)):
        text = repr(value)
    elif isinstance(value, (dict, list, tuple)) and depth > 3:
        text = "..."
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k} = {short_toml(v, limit, depth + 1)}" for k, v in value.items()) + "}"
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(short_toml(v, limit, depth + 1) for v in value) + "]"
    elif hasattr(value, "isoformat"):
        text = value.isoformat()
    else:
        text = repr(value)
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dotted_key(loc: list[str]) -> str:
    """Join a location into a dotted key, quoting parts that are empty or hold odd characters.

    Args:
        loc: The parts of the key.

    Returns:
        The key, e.g. ``regions."new county".lat``.
    """
    return ".".join(p if _plain(p) else json.dumps(p) for p in loc)


def quoted_name(part: str) -> str:
    """A key part in a message: ``'name'``, or JSON-quoted when it holds odd characters.

    Args:
        part: One part of a key.

    Returns:
        The quoted part.
    """
    return f"'{part}'" if _plain(part) else json.dumps(part)


def _plain(part: str) -> bool:
    return bool(re.fullmatch(r"[^\s.\"'=\[\]\\]+", part)) and part.isprintable()


def one_line(text: str) -> str:
    """The text on one line: its line breaks become spaces."""
    return " ".join(str(text).splitlines()) if text else ""
