"""Reading scenario files: TOML, bases they extend, and ``--set`` overrides on top.

A scenario file only lists what differs from the defaults (:mod:`sim.scenario.defaults`), or from
the base it names in ``scenario.extends``. Every problem is a one-line
:class:`~sim.scenario.errors.ScenarioError` naming the file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sim.scenario.defaults import merge, with_defaults
from sim.scenario.errors import ScenarioError, short_toml
from sim.scenario.overrides import assign, parse_assignment
from sim.scenario.schema import Scenario
from sim.scenario.validation import validate


def load_scenario(
    path: str | Path | None = None, overrides: dict[str, Any] | list[str] | str | None = None
) -> Scenario:
    """Read, override and validate a scenario.

    Args:
        path: A TOML scenario file; ``None`` gives the built-in defaults.
        overrides: ``{"population.scale": 0.05}`` or ``["population.scale=0.05"]`` (``--set`` syntax,
            values parsed as TOML, bare words as strings). ``clusters.0.name`` and
            ``clusters[0].name`` both address a list entry.

    Returns:
        The validated, immutable scenario.

    Raises:
        ScenarioError: The file is missing or unreadable, or a value is not allowed.
    """
    source = str(path) if path is not None else "<defaults>"
    data = _read_with_base(Path(path), source, ()) if path is not None else {}
    if overrides:
        if isinstance(overrides, str):
            overrides = [overrides]
        if isinstance(overrides, dict):
            items = list(overrides.items())
        else:
            items = [parse_assignment(s, source) for s in overrides]
        data = with_defaults(data, fresh=True)  # so that --set reaches entries only the defaults hold
        for key, value in items:
            assign(data, str(key), value, source)
    return validate(data, source)


def read_toml(path: Path, source: str) -> dict[str, Any]:
    """Read a TOML file (a scenario or a settings file).

    Args:
        path: The file.
        source: Name used in error messages.

    Returns:
        The parsed tables.

    Raises:
        ScenarioError: The file is missing, unreadable, not UTF-8 or not valid TOML.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError(source, "", "file not found") from None
    except IsADirectoryError:
        raise ScenarioError(source, "", "is a directory, not a scenario file") from None
    except PermissionError:
        raise ScenarioError(source, "", "cannot read file (permission denied)") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, "", f"not UTF-8 text (byte {exc.start})") from None
    except (OSError, ValueError) as exc:
        raise ScenarioError(source, "", f"cannot read file ({exc.__class__.__name__}: {exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, "", f"not valid TOML: {exc}") from None
    except RecursionError:
        raise ScenarioError(source, "", "not valid TOML: nested too deeply") from None


def extends_chain(path: str | Path) -> list[Path]:
    """A scenario file and the base files it extends, nearest first (resolved paths).

    Args:
        path: The scenario file.

    Returns:
        The file, its base, the base's base and so on (a cycle ends the chain).

    Raises:
        ScenarioError: A file in the chain cannot be read.
    """
    chain, path = [], Path(path).resolve()
    while path not in chain:
        chain.append(path)
        meta = read_toml(path, str(path)).get("scenario")
        base = meta.get("extends") if isinstance(meta, dict) else None
        if not isinstance(base, str):
            break
        path = (path.parent / base).resolve()
    return chain


def _read_with_base(path: Path, source: str, seen: tuple[Path, ...]) -> dict[str, Any]:
    """Read a scenario file; if it names a base in ``scenario.extends``, merge it over that base.

    A what-if scenario then lists only what it changes. The base path is relative to the file;
    the merged result no longer mentions it, so a resolved scenario stands on its own.
    """
    data = read_toml(path, source)
    meta = data.get("scenario")
    base = meta.pop("extends", None) if isinstance(meta, dict) else None
    if base is None:
        return data
    if not isinstance(base, str):
        raise ScenarioError(source, "scenario.extends", f"must be a path (a string), got {short_toml(base)}")
    base_path = (path.parent / base).resolve()
    if base_path in seen or base_path == path.resolve():
        raise ScenarioError(source, "scenario.extends", f"'{base}' extends itself in a cycle")
    if not base_path.is_file():
        raise ScenarioError(source, "scenario.extends", f"base scenario '{base}' not found next to {path.name}")
    return merge(_read_with_base(base_path, str(base_path), (*seen, path.resolve())), data, Scenario)
