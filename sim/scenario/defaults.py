"""Merging a scenario's tables into the defaults.

A scenario file only lists what differs from the defaults. Tables are merged into the default
scenario key by key (``[levels.nce] recruits_per_year = 8`` keeps the NCE funding, and
``[regions.oslo] lat = 59.9`` keeps the other counties); lists such as ``[[clusters]]`` and
plain values replace the default as a whole. A file that extends a base is merged over the base
the same way.
"""

from __future__ import annotations

import copy
import functools
import typing
from typing import Any

from sim.scenario.fields import is_model, unwrap
from sim.scenario.schema import Scenario


def with_defaults(data: dict[str, Any], fresh: bool = False) -> dict[str, Any]:
    """Merge user tables into the default scenario.

    Neither the user data nor the cached defaults are modified.

    Args:
        data: The user's tables.
        fresh: Copy the defaults first, for callers that modify the result.

    Returns:
        The merged tables.
    """
    defaults = _default_tables()
    return merge(copy.deepcopy(defaults) if fresh else defaults, data, Scenario)


def merge(default: Any, user: Any, tp: Any) -> Any:
    """Merge user values over default ones: tables key by key, anything else replaced whole.

    Args:
        default: The default (or base) value.
        user: The value given.
        tp: The schema type of both, which says which dictionaries are tables of fixed or named entries.

    Returns:
        The merged value (sharing unmerged parts with both inputs).
    """
    tp = unwrap(tp)
    if not isinstance(default, dict) or not isinstance(user, dict):
        return user
    if is_model(tp):
        fields = tp.model_fields
        return default | {
            k: merge(default[k], v, fields[k].annotation) if k in default and k in fields else v
            for k, v in user.items()
        }
    if typing.get_origin(tp) is dict and is_model(typing.get_args(tp)[1]):
        entry = typing.get_args(tp)[1]
        return default | {k: merge(default[k], v, entry) if k in default else v for k, v in user.items()}
    return user


@functools.cache
def _default_tables() -> dict[str, Any]:
    return Scenario().model_dump()
