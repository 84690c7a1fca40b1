"""Property: whatever a scenario file holds, loading it gives a Scenario or one ScenarioError line.

Valid documents (the defaults, a small cluster list, and every scenarios/*.toml) are corrupted at
random: wrong types, out-of-range numbers, deleted keys, unknown keys at any depth, nan/inf,
random ``--set`` overrides, and random byte edits of the TOML text. Any other exception fails.
"""

from __future__ import annotations

import atexit
import copy
import json
import math
import shutil
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.scenario.errors import ScenarioError
from sim.scenario.files import load_scenario
from sim.scenario.schema import Scenario
from sim.scenario.validation import validate

ROOT = Path(__file__).resolve().parents[1]
TMP = Path(tempfile.mkdtemp(prefix="scenario-fuzz-"))
atexit.register(shutil.rmtree, TMP, ignore_errors=True)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CLUSTERS = [
    {"name": "Ocean", "region": "vestland", "sector": "maritime", "levels": [[2005, "arena"], [2010, "nce"]]},
    {"name": "Node", "region": "agder", "sector": "process_industry", "levels": [[2006, "nce"]], "end_year": 2020},
]
SHOCKS = [{"sector": "oil_gas_supply", "year": 2014, "years": 2, "demand_change": -0.15}]


def _documents() -> list[dict[str, Any]]:
    defaults = tomllib.loads(Scenario().to_toml())  # TOML has no null: unset options are absent
    docs = [defaults, {"clusters": CLUSTERS, "shocks": SHOCKS}, {**defaults, "clusters": CLUSTERS}]
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        docs.append(tomllib.loads(path.read_text(encoding="utf-8")))
    return docs


DOCUMENTS = _documents()


def to_toml(doc: dict[str, Any]) -> str:
    """Write a document as TOML: one ``key = inline value`` line per top-level key."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(str(k))} = {value(x)}" for k, x in v.items()) + "}"
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise TypeError(type(v))
    return "".join(f"{json.dumps(k)} = {value(v)}\n" for k, v in doc.items())


def check(path: Path, overrides: list[str] | None = None) -> None:
    """The property itself."""
    try:
        result = load_scenario(path, overrides)
    except ScenarioError as exc:
        text = str(exc)
        assert text.startswith(f"{path}: "), text
        assert len(text.splitlines()) == 1, text
        assert len(text) < 600, text
    else:
        assert isinstance(result, Scenario)


def write(name: str, data: str | bytes) -> Path:
    path = TMP / name
    path.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return path


# --- corruptions -------------------------------------------------------------------------------

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 1e9, -1e9, 0.5, float("nan"), float("inf"), float("-inf")]),
    st.text(max_size=12),
    st.sampled_from(["oslo", "maritime", "arena", "gce", "", "x y"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)
KEY_NAMES = st.one_of(st.text(max_size=10), st.sampled_from(["scael", "lat", "name", "levels", "end_year", "0"]))


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every location in a document (dict keys and list indices), the root included."""
    found = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            found += paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += paths(v, prefix + (i,))
    return found


def _get(node: Any, path: tuple) -> Any:
    for p in path:
        node = node[p]
    return node


def corrupt(doc: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3), label="corruptions")):
        where = data.draw(st.sampled_from(paths(doc)), label="path")
        action = data.draw(st.sampled_from(["replace", "delete", "unknown", "scale", "nonfinite", "wrap"]))
        if not where and action in ("replace", "delete", "scale", "nonfinite", "wrap"):
            action = "unknown"
        parent = _get(doc, where[:-1]) if where else None
        old = _get(doc, where)
        if action == "replace":
            parent[where[-1]] = data.draw(values, label="value")
        elif action == "delete":
            del parent[where[-1]]
        elif action == "unknown":
            if isinstance(old, dict):
                old[data.draw(KEY_NAMES, label="key")] = data.draw(values, label="value")
            elif isinstance(old, list):
                old.append(data.draw(values, label="item"))
        elif action == "scale":
            if isinstance(old, (int, float)) and not isinstance(old, bool):
                factor = data.draw(st.sampled_from([-1, 10, 1000, 1e6, -1e6, 0.5]))
                parent[where[-1]] = old * factor
        elif action == "nonfinite":
            parent[where[-1]] = data.draw(st.sampled_from([math.nan, math.inf, -math.inf]))
        elif action == "wrap":
            parent[where[-1]] = data.draw(st.sampled_from([[old], {"value": old}]))
    return doc


# --- properties --------------------------------------------------------------------------------

@SETTINGS
@given(doc=st.sampled_from(DOCUMENTS), data=st.data())
def test_corrupted_documents(doc, data):
    broken = corrupt(doc, data)
    check(write("corrupt.toml", to_toml(broken)))
    try:  # the dictionary route must behave the same way
        validate(broken, "dict")
    except ScenarioError as exc:
        assert str(exc).startswith("dict: ") and len(str(exc).splitlines()) == 1


@SETTINGS
@given(doc=st.sampled_from(DOCUMENTS), data=st.data())
def test_random_byte_edits(doc, data):
    text = bytearray(to_toml(doc).encode())
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        pos = data.draw(st.integers(0, len(text)), label="pos")
        kind = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        byte = data.draw(st.sampled_from(list(b"[]{}=\",.\n#\\'0-9aeinf \x00\xff")) | st.integers(0, 255))
        if kind == "insert" or pos == len(text):
            text[pos:pos] = bytes([byte])
        elif kind == "flip":
            text[pos] = byte
        else:
            del text[pos]
    check(write("bytes.toml", bytes(text)))


@SETTINGS
@given(doc=st.sampled_from(DOCUMENTS), data=st.data())
def test_random_overrides(doc, data):
    path = write("base.toml", to_toml(doc))
    sets = []
    for _ in range(data.draw(st.integers(1, 3), label="overrides")):
        where = data.draw(st.sampled_from(paths(doc)[1:]), label="path")
        key = ".".join(str(p) for p in where)
        key = data.draw(st.sampled_from([key, key + ".x", key.replace("population", "popul"), key + "."]))
        raw = data.draw(st.one_of(st.sampled_from(["0.05", "nan", "-inf", "true", "[1, 2]", "{a = 1}", "X",
                                                   '"quoted"', "", "1e400", "[[2005, \"gce\"]]"]),
                                  st.text(max_size=10)), label="raw")
        sep = data.draw(st.sampled_from(["=", " = ", ""]))
        sets.append(f"{key}{sep}{raw}")
    check(path, sets)
