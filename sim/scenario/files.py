"""Reading scenario files: TOML parsing, ``--set`` overrides and one-line error messages.

Bad input never becomes a traceback: every problem is raised as :class:`ScenarioError`, whose
text names the file, the key and what is allowed, e.g.
``scenarios/x.toml: levels.arena.max_members: must be 0-10000, got -3``.

A scenario file only lists what differs from the defaults. Tables are merged into the default
scenario key by key (``[levels.nce] recruits_per_year = 8`` keeps the NCE funding, and
``[regions.oslo] lat = 59.9`` keeps the other counties); lists such as ``[[clusters]]`` and
plain values replace the default as a whole.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import math
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from sim.scenario.schema import CHANGEABLE, FIXED_AT_START, ReferenceError_, Scenario


class ScenarioError(ValueError):
    """A scenario that cannot be used; ``str()`` is the one line shown to the user."""

    def __init__(self, source: str, key: str, message: str):
        self.source, self.key, self.message = _one_line(source), _one_line(key), _one_line(message)
        text = f"{self.source}: {self.key}: {self.message}" if key else f"{self.source}: {self.message}"
        super().__init__(text)

    def __reduce__(self):  # keep the three parts when sent between processes (sweeps, Dask)
        return type(self), (self.source, self.key, self.message)


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
        data = _with_defaults(data, fresh=True)  # so that --set reaches entries only the defaults hold
        for key, value in items:
            assign(data, str(key), value, source)
    return validate(data, source)


def validate(data: dict[str, Any], source: str = "<dict>") -> Scenario:
    """Validate a scenario given as a plain dictionary (as parsed from TOML).

    Tables are merged into the defaults first (see the module docstring).

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
    data = _with_defaults(data)
    problem = _strict_scalars(data, Scenario, [])
    if problem is not None:
        raise ScenarioError(source, *problem)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _explain_error(exc, source) from None
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
            where = f"changes.{i}.set.{_name(key)}"
            if key.split(".")[0] not in CHANGEABLE or key.startswith(FIXED_AT_START):
                raise ScenarioError(source, where, f"cannot change during a run; allowed tables: {', '.join(CHANGEABLE)} "
                                    f"(except {', '.join(FIXED_AT_START)})")
            try:
                assign(data, key, value, source)
            except ScenarioError as exc:
                raise ScenarioError(source, where, exc.message) from None
        try:
            out[change.year] = validate(copy.deepcopy(data), source)
        except ScenarioError as exc:
            raise ScenarioError(source, f"changes.{i}.set", f"{exc.key}: {exc.message}" if exc.key else exc.message) from None
    return out


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


def allowed_range(info: FieldInfo | None) -> str | None:
    """Describe the numeric bounds of a field (``"1-50"``, ``">= 0"``, ``"-20 to 20"``), or None."""
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
        return f"{_num(lo)}-{_num(hi)}" if lo >= 0 else f"{_num(lo)} to {_num(hi)}"
    parts = [f"{op} {_num(v)}" for op, v in ((lo_op, lo), (hi_op, hi)) if v is not None]
    return " and ".join(parts) or None


# --- reading and merging ---------------------------------------------------------------------

def read_toml(path: Path, source: str) -> dict[str, Any]:
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
    return _merge(_read_with_base(base_path, str(base_path), (*seen, path.resolve())), data, Scenario)


def extends_chain(path: str | Path) -> list[Path]:
    """A scenario file and the base files it extends, nearest first (resolved paths).

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


@functools.cache
def _default_dump() -> dict[str, Any]:
    return Scenario().model_dump()


def _with_defaults(data: dict[str, Any], fresh: bool = False) -> dict[str, Any]:
    """Merge user tables into the default scenario; neither the user data nor the cached defaults
    are modified (``fresh`` copies the defaults first, for callers that modify the result)."""
    defaults = _default_dump()
    return _merge(copy.deepcopy(defaults) if fresh else defaults, data, Scenario)


def _merge(default: Any, user: Any, tp: Any) -> Any:
    tp = unwrap(tp)
    if not isinstance(default, dict) or not isinstance(user, dict):
        return user
    if is_model(tp):
        fields = tp.model_fields
        return default | {
            k: _merge(default[k], v, fields[k].annotation) if k in default and k in fields else v
            for k, v in user.items()
        }
    if typing.get_origin(tp) is dict and is_model(typing.get_args(tp)[1]):
        entry = typing.get_args(tp)[1]
        return default | {k: _merge(default[k], v, entry) if k in default else v for k, v in user.items()}
    return user


def assign(data: dict[str, Any], key: str, value: Any, source: str) -> None:
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
            return _dotted(loc), f"must be {_want(tp, info)}, got {short_toml(value)}"
        if isinstance(value, float) and not math.isfinite(value):
            if tp is int:
                return _dotted(loc), f"must be {_want(tp, info)}, got {short_toml(value)}"
            rng = allowed_range(info)
            return _dotted(loc), f"must be a finite number{f' in {rng}' if rng else ''}, got {short_toml(value)}"
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
            raise ScenarioError(source, key, f"unknown key {_name(name)}; {hint}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _explain_error(exc, source, model, prefix) from None


def _explain_error(exc: ValidationError, source: str, root: type[BaseModel] = Scenario, prefix: str = "") -> ScenarioError:
    err = exc.errors(include_url=False)[0]
    loc = [str(p) for p in err["loc"]]
    kind, given = err["type"], err.get("input")
    ctx = err.get("ctx") or {}
    cause = ctx.get("error")
    tp, info, parent = _walk(loc, root)
    key = ".".join(filter(None, [prefix, _dotted(loc)]))

    if isinstance(cause, ReferenceError_):
        return ScenarioError(source, ".".join(filter(None, [key, cause.loc])), _reference_message(str(cause)))
    if kind in ("value_error", "assertion_error"):
        msg = str(cause) if cause is not None else err["msg"].removeprefix("Value error, ")
        if is_model(tp):  # raised by a model validator: name the field the message starts with
            first = re.match(r"\s*([A-Za-z_]\w*)", msg)
            if first and first.group(1) in tp.model_fields:
                key = ".".join(filter(None, [prefix, _dotted(loc + [first.group(1)])]))
            return ScenarioError(source, key, msg)
        return ScenarioError(source, key, f"{msg}, got {short_toml(given)}")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], root)
        near = difflib.get_close_matches(loc[-1], allowed, n=1)
        if near:
            return ScenarioError(source, key, f"unknown key {_name(loc[-1])}; did you mean '{near[0]}'?")
        return ScenarioError(source, key, f"unknown key {_name(loc[-1])}; allowed: {', '.join(allowed)}")
    if kind == "missing":
        if typing.get_origin(parent) is tuple:
            want = _want(parent, None)
            return ScenarioError(source, ".".join(filter(None, [prefix, _dotted(loc[:-1])])), f"missing item {loc[-1]}; expected {want}")
        return ScenarioError(source, key, "required key is missing")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        rng = allowed_range(info) if info is not None and info.metadata else None
        if rng is None:
            rng = " ".join(f"{op} {_num(ctx[k])}" for k, op in
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
        return ScenarioError(source, key, f"must be {_want(tp, info)}, got {short_toml(given)}")
    return ScenarioError(source, key, f"{err['msg']}, got {short_toml(given)}")


def _reference_message(msg: str) -> str:
    m = re.fullmatch(r"unknown name '(.*)'; allowed: (.*)", msg)
    if m:
        near = difflib.get_close_matches(m.group(1), m.group(2).split(", "), n=1)
        if near:
            return f"unknown name '{m.group(1)}'; did you mean '{near[0]}'?"
    return msg


def _want(tp: Any, info: FieldInfo | None) -> str:
    """Describe what a value of type ``tp`` must be ("a number in 0-1", "a table", ...)."""
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
            return f"a list of {len(args)} items [{', '.join(_want(a, None) for a in args)}]"
    if origin in (list, tuple):
        return "a list"
    return f"of type {getattr(tp, '__name__', str(tp))}"


def _walk(loc: list[str], root: type[BaseModel] = Scenario) -> tuple[Any, FieldInfo | None, Any]:
    """Follow a location through the schema (of a scenario, or of another settings model).

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


def unwrap(tp: Any) -> Any:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _allowed_keys(loc: list[str], root: type[BaseModel] = Scenario) -> list[str]:
    tp = _walk(loc, root)[0]
    return sorted(tp.model_fields) if is_model(tp) else []


def _num(x: float) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}" if isinstance(x, float) else str(x)


def short_toml(value: Any, limit: int = 60, depth: int = 0) -> str:
    """Render a value the way it would be written in TOML, shortened to one short line."""
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
    text = _one_line(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dotted(loc: list[str]) -> str:
    """Join a location into a dotted key, quoting parts that are empty or hold odd characters."""
    return ".".join(p if _plain(p) else json.dumps(p) for p in loc)


def _name(part: str) -> str:
    return f"'{part}'" if _plain(part) else json.dumps(part)


def _plain(part: str) -> bool:
    return bool(re.fullmatch(r"[^\s.\"'=\[\]\\]+", part)) and part.isprintable()


def _one_line(text: str) -> str:
    return " ".join(str(text).splitlines()) if text else ""
