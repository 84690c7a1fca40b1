"""What the schema says about a key: its type, its bounds and what a value of it must be.

Shared by the error messages (:mod:`sim.scenario.validation`) and the parameter reference
(:mod:`sim.scenario.explain`). Works for any pydantic model, not only :class:`~sim.scenario.schema.Scenario`:
the calibration's settings files are checked the same way.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo


def unwrap(tp: Any) -> Any:
    """The type inside an optional or annotated one (``float | None`` gives ``float``); other types unchanged.

    Args:
        tp: A type annotation.

    Returns:
        The annotation without ``None`` and without ``Annotated`` metadata.
    """
    if typing.get_origin(tp) is typing.Annotated:
        return unwrap(typing.get_args(tp)[0])
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def is_model(tp: Any) -> bool:
    """Whether a type is a pydantic model (a table of the file).

    Args:
        tp: A type annotation.

    Returns:
        True for a :class:`pydantic.BaseModel` subclass.
    """
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def walk(loc: list[str], root: type[BaseModel]) -> tuple[Any, FieldInfo | None, Any]:
    """Follow a location through the schema (of a scenario, or of another settings model).

    Args:
        loc: The parts of the key (``"[key]"`` for a table's key itself, as pydantic reports it).
        root: The model the location starts from.

    Returns:
        The type found there, its field info (only when the last step was a model field) and the
        type of its container; ``(None, None, container)`` when the location leaves the schema.
    """
    tp: Any = root
    info: FieldInfo | None = None
    parent: Any = None
    for part in loc:
        tp, parent, info = unwrap(tp), unwrap(tp), None
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if is_model(tp):
            info = tp.model_fields.get(part)
            if info is None:
                return None, None, parent
            tp = info.annotation
        elif origin is dict:
            tp = args[0] if part == "[key]" else args[1]
        elif origin is list:
            tp = args[0]
        elif origin is tuple and part.isdigit():
            if args[-1:] == (Ellipsis,):
                tp = args[0]
            elif int(part) < len(args):
                tp = args[int(part)]
            else:
                return None, None, parent
        else:
            return None, None, parent
    return unwrap(tp), info, parent


def allowed_keys(loc: list[str], root: type[BaseModel]) -> list[str]:
    """The keys of the table at a location, sorted (none if it is not a table of fixed keys).

    Args:
        loc: The parts of the table's key.
        root: The model the location starts from.

    Returns:
        The field names.
    """
    tp = walk(loc, root)[0]
    return sorted(tp.model_fields) if is_model(tp) else []


def allowed_range(info: FieldInfo | None) -> str | None:
    """Describe the numeric bounds of a field (``"1-50"``, ``">= 0"``, ``"-20 to 20"``).

    Args:
        info: The field, or None.

    Returns:
        The bounds as text, or None when the field has none.
    """
    lo = hi = None
    lo_op, hi_op = ">=", "<="
    for m in info.metadata if info is not None else ():
        for attr, op in (("ge", ">="), ("gt", ">")):
            if getattr(m, attr, None) is not None:
                lo, lo_op = getattr(m, attr), op
        for attr, op in (("le", "<="), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                hi, hi_op = getattr(m, attr), op
    if lo is not None and hi is not None and (lo_op, hi_op) == (">=", "<="):
        return f"{plain_number(lo)}-{plain_number(hi)}" if lo >= 0 else f"{plain_number(lo)} to {plain_number(hi)}"
    parts = [f"{op} {plain_number(v)}" for op, v in ((lo_op, lo), (hi_op, hi)) if v is not None]
    return " and ".join(parts) or None


def expected(tp: Any, info: FieldInfo | None) -> str:
    """Describe what a value of type ``tp`` must be ("a number in 0-1", "a table", ...).

    Args:
        tp: The type annotation.
        info: Its field, for the bounds (None when not a model field).

    Returns:
        The description, to follow "must be".
    """
    tp = unwrap(tp)
    origin = typing.get_origin(tp)
    rng = allowed_range(info)
    if tp is bool:
        return "true or false"
    if tp in (int, float):
        within = "" if not rng else (f" {rng}" if rng[0] in "<>" else f" in {rng}")  # "a number > 0", "a number in 0-1"
        return ("an integer" if tp is int else "a number") + within
    if tp is str:
        return "a string"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if is_model(tp) or origin is dict:
        return "a table"
    if origin is tuple:
        args = typing.get_args(tp)
        if args[-1:] != (Ellipsis,):
            return f"a list of {len(args)} items [{', '.join(expected(a, None) for a in args)}]"
    if origin in (list, tuple):
        return "a list"
    return f"of type {getattr(tp, '__name__', str(tp))}"


def plain_number(x: float) -> str:
    """A bound as written in a message: whole floats without the ``.0``, others in ``%g``.

    Args:
        x: The number.

    Returns:
        The text.
    """
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}" if isinstance(x, float) else str(x)
