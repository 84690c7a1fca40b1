"""A Markdown reference of every scenario parameter, generated from the schema.

``python run.py validate --explain`` prints :func:`explain`. Everything comes from the pydantic
fields and the ``unit``/``source`` that :func:`sim.scenario.schema.param` records, so the reference cannot
drift from the code.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from sim.scenario.fields import allowed_range, is_model, unwrap
from sim.scenario.schema import Scenario


@dataclass(frozen=True)
class Parameter:
    """One leaf of the scenario schema, as shown in the reference."""

    key: str  # dotted, e.g. "levels.arena.max_members", "regions.<name>.lat", "clusters[].name"
    type: str
    unit: str  # "" when the schema gives none
    default: str
    range: str  # "" when unbounded
    source: str  # source or reason; falls back to the field description
    numeric: bool  # int/float, or a table/list of them


def parameters(scenario_cls: type[BaseModel] = Scenario) -> list[Parameter]:
    """List every leaf parameter of the schema, defaults taken from a default instance.

    Args:
        scenario_cls: The schema's root model.

    Returns:
        The parameters in schema order.
    """
    return list(_leaves(scenario_cls, "", scenario_cls()))


def explain(scenario_cls: type[BaseModel] = Scenario) -> str:
    """Render the parameter reference as Markdown: one table per top-level section.

    Args:
        scenario_cls: The schema's root model.

    Returns:
        The Markdown text.
    """
    lines = [
        "# Scenario parameters",
        "",
        "Keys are dotted paths as used by `--set`. `<name>` stands for any entry of a table "
        "(built-in entries come from sim/scenario/data/norway.toml; the default shown is the one a new entry "
        "gets), `[]` for any item of a list. Tables in a scenario file are merged into the "
        "defaults; lists replace them.",
    ]
    section = None
    for p in parameters(scenario_cls):
        top = p.key.split(".")[0].split("[")[0]
        if top != section:
            section = top
            lines += ["", f"## {top}", "", "| key | type | unit | default | allowed | source |",
                      "|---|---|---|---|---|---|"]
        cells = [f"`{p.key}`", p.type, p.unit, f"`{p.default}`", p.range, p.source]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _leaves(model: type[BaseModel], prefix: str, instance: BaseModel | None) -> Iterator[Parameter]:
    for name, info in model.model_fields.items():
        key = prefix + name
        tp = unwrap(info.annotation)
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        value = getattr(instance, name) if instance is not None else _default(info)
        if is_model(tp):
            yield from _leaves(tp, key + ".", value if isinstance(value, BaseModel) else None)
        elif origin is dict and is_model(args[1]):
            yield from _leaves(args[1], key + ".<name>.", None)
        elif origin is list and is_model(args[0]):
            yield from _leaves(args[0], key + "[].", None)
        else:
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            yield Parameter(
                key=key,
                type=_type(info.annotation),
                unit=str(extra.get("unit", "")),
                default=_value(value),
                range=allowed_range(info) or _length(info, "character" if tp is str else "item"),
                source=str(extra.get("source") or info.description or ""),
                numeric=_numeric(tp),
            )


def _default(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return PydanticUndefined if info.default is PydanticUndefined else info.default


def _type(tp: Any) -> str:
    tp_u = unwrap(tp)
    optional = tp_u is not _unwrap_annotated(tp)
    origin, args = typing.get_origin(tp_u), typing.get_args(tp_u)
    names = {int: "integer", float: "number", bool: "boolean", str: "string"}
    if tp_u in names:
        text = names[tp_u]
    elif origin is Literal:
        text = "one of " + ", ".join(str(a) for a in args)
    elif origin is dict:
        text = f"table of {_type(args[1])}"
    elif origin is list:
        text = f"list of {_type(args[0])}"
    elif origin is tuple:
        text = "[" + ", ".join(_type(a) for a in args) + "]"
    else:
        text = getattr(tp_u, "__name__", str(tp_u))
    return text + (" or omitted" if optional else "")


def _unwrap_annotated(tp: Any) -> Any:
    """The type without ``Annotated`` metadata (an optional type stays optional).

    Args:
        tp: A type annotation.

    Returns:
        The annotation without its metadata.
    """
    return typing.get_args(tp)[0] if typing.get_origin(tp) is typing.Annotated else tp


def _numeric(tp: Any) -> bool:
    tp = unwrap(tp)
    if tp in (int, float):
        return True
    args = typing.get_args(tp)
    return typing.get_origin(tp) in (dict, list, tuple) and any(_numeric(a) for a in args)


def _length(info: FieldInfo, what: str) -> str:
    parts = []
    for m in info.metadata:
        if getattr(m, "min_length", None):
            parts.append(f"at least {m.min_length} {what}{'s' if m.min_length != 1 else ''}")
        if getattr(m, "max_length", None):
            parts.append(f"at most {m.max_length:,} {what}s")
        if getattr(m, "pattern", None):
            parts.append(f"matches `{m.pattern}`")
    return ", ".join(parts)


def _value(v: Any) -> str:
    if v is PydanticUndefined:
        return "required"
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{int(v)}" if v.is_integer() and abs(v) < 1e15 else f"{v:g}"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return str(v)
