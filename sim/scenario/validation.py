"""Validating plain tables (as parsed from TOML) into a scenario, with one-line messages.

The tables are merged into the defaults (:mod:`sim.scenario.defaults`), checked for what
pydantic's lax mode would let through, validated against the schema, and every dated policy
change (``[[changes]]``) must give a valid scenario too. Pydantic's first error is reported as a
:class:`~sim.scenario.errors.ScenarioError` naming the key and what is allowed there.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from sim.scenario.defaults import with_defaults
from sim.scenario.errors import ScenarioError, dotted_key, quoted_name, short_toml
from sim.scenario.fields import allowed_keys, allowed_range, expected, is_model, plain_number, unwrap, walk
from sim.scenario.overrides import assign
from sim.scenario.schema import CHANGEABLE, FIXED_AT_START, ReferenceError_, Scenario


def validate(data: dict[str, Any], source: str = "<dict>") -> Scenario:
    """Validate a scenario given as a plain dictionary (as parsed from TOML).

    Tables are merged into the defaults first (see :mod:`sim.scenario.defaults`).

    Args:
        data: The nested tables.
        source: Name used in error messages.

    Returns:
        The validated scenario.

    Raises:
        ScenarioError: The first problem found, as one line.
    """
    if not isinstance(data, dict):
        raise ScenarioError(source, "", f"must be a table of sections, got {short_toml(data)}")
    data = with_defaults(data)
    problem = _strict_scalars(data, Scenario, [])
    if problem is not None:
        raise ScenarioError(source, *problem)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _explain_error(exc, source, Scenario) from None
    except RecursionError:
        raise ScenarioError(source, "", "values are nested too deeply") from None
    scenarios_by_year(scenario, source)  # every policy change must give a valid scenario too
    return scenario


def scenarios_by_year(scenario: Scenario, source: str = "<scenario>") -> dict[int, Scenario]:
    """The scenario in force from each year with a policy change (``[[changes]]``) on.

    Args:
        scenario: The scenario as it starts.
        source: Name used in error messages.

    Returns:
        Year -> scenario from that year (changes accumulate in year order).

    Raises:
        ScenarioError: A change names a key outside the changeable tables or gives a bad value.
    """
    out: dict[int, Scenario] = {}
    if not scenario.changes:
        return out
    data = scenario.model_dump(mode="json", exclude={"changes"})
    for i, change in sorted(enumerate(scenario.changes), key=lambda item: item[1].year):
        for key, value in change.set.items():
            where = f"changes.{i}.set.{quoted_name(key)}"
            if key.split(".")[0] not in CHANGEABLE or key.startswith(FIXED_AT_START):
                raise ScenarioError(source, where, f"cannot change during a run; allowed tables: "
                                                   f"{', '.join(CHANGEABLE)} (except {', '.join(FIXED_AT_START)})")
            try:
                assign(data, key, value, source)
            except ScenarioError as exc:
                raise ScenarioError(source, where, exc.message) from None
        try:
            out[change.year] = validate(copy.deepcopy(data), source)
        except ScenarioError as exc:
            message = f"{exc.key}: {exc.message}" if exc.key else exc.message
            raise ScenarioError(source, f"changes.{i}.set", message) from None
    return out


def validate_table(model: type[BaseModel], data: Any, source: str, prefix: str = "") -> Any:
    """Validate one table of a settings file (calibration, targets) against a pydantic model.

    Args:
        model: The table's model (``extra="forbid"``).
        data: The table as parsed from TOML.
        source: The file, for messages.
        prefix: Dotted key of the table in the file (``"calibration"``), for messages.

    Returns:
        The validated model instance.

    Raises:
        ScenarioError: The first problem, as one line with the file and the key.
    """
    if not isinstance(data, dict):
        raise ScenarioError(source, prefix, f"must be a table, got {short_toml(data)}")
    for name in data:  # a misspelt key first: it explains the "missing" key that follows from it
        if name not in model.model_fields:
            key = ".".join(filter(None, [prefix, name]))
            near = difflib.get_close_matches(name, list(model.model_fields), n=1)
            hint = f"did you mean '{near[0]}'?" if near else "allowed: " + ", ".join(model.model_fields)
            raise ScenarioError(source, key, f"unknown key {quoted_name(name)}; {hint}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _explain_error(exc, source, model, prefix) from None


# --- checks pydantic's lax mode would let through ---------------------------------------------

def _strict_scalars(
    value: Any, tp: Any, loc: list[str], info: FieldInfo | None = None
) -> tuple[str, str] | None:
    """Find the first bool or string given for a number, non-bool for a bool, or nan/inf.

    Pydantic's lax mode turns ``true`` into 1.0, ``"0.5"`` into 0.5 and ``"no"`` into False;
    in a scenario file those are mistakes, so they are reported here.
    """
    tp = unwrap(tp)
    if value is None:
        return None
    if tp is bool or tp is int or tp is float:
        is_bool = type(value).__name__ in ("bool", "bool_")
        if (not is_bool) if tp is bool else (is_bool or isinstance(value, (str, bytes))):
            return dotted_key(loc), f"must be {expected(tp, info)}, got {short_toml(value)}"
        if isinstance(value, float) and not math.isfinite(value):
            if tp is int:
                return dotted_key(loc), f"must be {expected(tp, info)}, got {short_toml(value)}"
            rng = allowed_range(info)
            return dotted_key(loc), f"must be a finite number{f' in {rng}' if rng else ''}, got {short_toml(value)}"
        return None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    children: list[tuple[str, Any, Any, FieldInfo | None]] = []
    if is_model(tp) and isinstance(value, dict):
        fields = tp.model_fields
        children = [(k, v, fields[k].annotation, fields[k]) for k, v in value.items() if k in fields]
    elif origin is dict and isinstance(value, dict):
        children = [(str(k), v, args[1], None) for k, v in value.items()]
    elif origin is list and isinstance(value, list):
        children = [(str(i), v, args[0], None) for i, v in enumerate(value)]
    elif origin is tuple and isinstance(value, (list, tuple)):
        kinds = [args[0]] * len(value) if args[-1:] == (Ellipsis,) else list(args)
        children = [(str(i), v, t, None) for i, (v, t) in enumerate(zip(value, kinds))]
    for name, child, child_tp, child_info in children:
        problem = _strict_scalars(child, child_tp, loc + [name], child_info)
        if problem is not None:
            return problem
    return None


# --- turning pydantic's errors into one line -------------------------------------------------

def _explain_error(exc: ValidationError, source: str, root: type[BaseModel], prefix: str = "") -> ScenarioError:
    err = exc.errors(include_url=False)[0]
    problem = _explain_first(err, source, root, prefix)
    loc = [str(p) for p in err["loc"]]
    if loc[-1:] == ["[key]"]:  # a table's key itself (a county's name): name the entry, not "[key]"
        return ScenarioError(source, ".".join(filter(None, [prefix, dotted_key(loc[:-1])])), f"key {problem.message}")
    return problem


def _explain_first(err: Any, source: str, root: type[BaseModel], prefix: str) -> ScenarioError:
    loc = [str(p) for p in err["loc"]]
    kind, given = err["type"], err.get("input")
    ctx = err.get("ctx") or {}
    cause = ctx.get("error")
    tp, info, parent = walk(loc, root)
    key = ".".join(filter(None, [prefix, dotted_key(loc)]))

    if isinstance(cause, ReferenceError_):
        return ScenarioError(source, ".".join(filter(None, [key, cause.loc])), _reference_message(str(cause)))
    if kind in ("value_error", "assertion_error"):
        msg = str(cause) if cause is not None else err["msg"].removeprefix("Value error, ")
        if is_model(tp):  # raised by a model validator: name the field the message starts with
            first = re.match(r"\s*([A-Za-z_]\w*)", msg)
            if first and first.group(1) in tp.model_fields:
                key = ".".join(filter(None, [prefix, dotted_key(loc + [first.group(1)])]))
            return ScenarioError(source, key, msg)
        return ScenarioError(source, key, f"{msg}, got {short_toml(given)}")
    if kind == "extra_forbidden":
        allowed = allowed_keys(loc[:-1], root)
        near = difflib.get_close_matches(loc[-1], allowed, n=1)
        if near:
            return ScenarioError(source, key, f"unknown key {quoted_name(loc[-1])}; did you mean '{near[0]}'?")
        return ScenarioError(source, key, f"unknown key {quoted_name(loc[-1])}; allowed: {', '.join(allowed)}")
    if kind == "missing":
        if typing.get_origin(parent) is tuple:
            container = ".".join(filter(None, [prefix, dotted_key(loc[:-1])]))
            return ScenarioError(source, container, f"missing item {loc[-1]}; expected {expected(parent, None)}")
        return ScenarioError(source, key, "required key is missing")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        rng = allowed_range(info) if info is not None and info.metadata else None
        if rng is None:
            rng = " ".join(f"{op} {plain_number(ctx[k])}" for k, op in
                           (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")) if k in ctx)
        return ScenarioError(source, key, f"must be {rng}, got {short_toml(given)}")
    if kind == "finite_number":
        rng = allowed_range(info)
        return ScenarioError(source, key, f"must be a finite number{f' in {rng}' if rng else ''}, "
                                          f"got {short_toml(given)}")
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        what = "character" if kind.startswith("string") else "item"
        n = ctx.get("min_length") if kind.endswith("short") else ctx.get("max_length")
        bound = "at least" if kind.endswith("short") else "at most"
        plural = "s" if n != 1 else ""
        return ScenarioError(source, key, f"must have {bound} {n} {what}{plural}, got {short_toml(given)}")
    if kind == "string_pattern_mismatch":
        return ScenarioError(source, key, f"must match {ctx.get('pattern')}, got {short_toml(given)}")
    type_kinds = ("literal_error", "int_from_float", "model_attributes_type")
    if tp is not None and (kind in type_kinds or kind.endswith(("_type", "_parsing"))):
        return ScenarioError(source, key, f"must be {expected(tp, info)}, got {short_toml(given)}")
    return ScenarioError(source, key, f"{err['msg']}, got {short_toml(given)}")


def _reference_message(msg: str) -> str:
    """Suggest the nearest name for an unknown one (a reference between tables)."""
    m = re.fullmatch(r"unknown name '(.*)'; allowed: (.*)", msg)
    if m:
        near = difflib.get_close_matches(m.group(1), m.group(2).split(", "), n=1)
        if near:
            return f"unknown name '{m.group(1)}'; did you mean '{near[0]}'?"
    return msg
