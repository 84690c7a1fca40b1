"""Scenario files: defaults, one-line errors, overrides and the parameter reference."""

from __future__ import annotations

import os
import sys

import pytest
from pydantic import Field

from sim.scenario.errors import ScenarioError
from sim.scenario.explain import explain, parameters
from sim.scenario.fields import allowed_range
from sim.scenario.files import load_scenario
from sim.scenario.limits import check_seed
from sim.scenario.overrides import parse_assignment
from sim.scenario.schema import Scenario
from sim.scenario.validation import validate

CLUSTER = """
[[clusters]]
name = "Ocean"
region = "vestland"
sector = "maritime"
levels = [[2005, "arena"], [2010, "nce"]]
"""


@pytest.fixture
def write(tmp_path):
    def _write(text: str | bytes, name: str = "x.toml"):
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return path
    return _write


def error(path, overrides=None) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides)
    text = str(info.value)
    assert "\n" not in text and text.startswith(f"{path}: ")
    return text


# --- defaults ----------------------------------------------------------------------------------

def test_defaults_validate():
    s = load_scenario()
    assert isinstance(s, Scenario)
    assert s == validate({}) == Scenario()
    assert s.levels.nce.max_members == 80


def test_file_with_cluster_validates(write):
    s = load_scenario(write(CLUSTER))
    assert s.clusters[0].levels == [(2005, "arena"), (2010, "nce")]


def test_tables_merge_into_defaults(write):
    s = load_scenario(write("[levels.nce]\nrecruits_per_year = 8\n[sectors.energy]\ndemand_growth = 0.03\n"))
    default = Scenario()
    assert s.levels.nce.recruits_per_year == 8
    assert s.levels.nce.programme_funding_nok == default.levels.nce.programme_funding_nok  # not the class default
    assert s.sectors["energy"].demand_growth == 0.03
    assert s.sectors["energy"].knowledge_x == default.sectors["energy"].knowledge_x
    assert set(s.sectors) == set(default.sectors) and s.regions == default.regions


def test_validate_does_not_modify_input():
    data = {"levels": {"nce": {"recruits_per_year": 8}}}
    validate(data)
    assert data == {"levels": {"nce": {"recruits_per_year": 8}}}


# --- one line per kind of bad input -------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("[levels.arena]\nmax_members = -3\n", "levels.arena.max_members: must be 0-10000, got -3"),
    ("[population]\nscael = 0.05\n", "population.scael: unknown key 'scael'; did you mean 'scale'?"),
    ("[populaton]\nscale = 0.05\n", "populaton: unknown key 'populaton'; did you mean 'population'?"),
    ("[population]\nscale = \"abc\"\n", "population.scale: must be a number in 0.0001-1, got 'abc'"),
    ("[population]\nscale = \"0.5\"\n", "population.scale: must be a number in 0.0001-1, got '0.5'"),
    ("[population]\nscale = true\n", "population.scale: must be a number in 0.0001-1, got true"),
    ("[population]\nscale = nan\n", "population.scale: must be a finite number in 0.0001-1, got nan"),
    ("[population]\nscale = -inf\n", "population.scale: must be a finite number in 0.0001-1, got -inf"),
    ("[population]\nscale = {a = 1}\n", "population.scale: must be a number in 0.0001-1, got {a = 1}"),
    ("[population]\nmax_employees = 300.5\n", "population.max_employees: must be an integer in 250-200000, got 300.5"),
    ("[membership]\nbase_utility = -30\n", "membership.base_utility: must be -20 to 20, got -30"),
    ("population = [1, 2]\n", "population: must be a table, got [1, 2]"),
    ("[[population]]\nscale = 1\n", "population: must be a table, got [{scale = 1}]"),
    ("[output]\nplots = \"no\"\n", "output.plots: must be true or false, got 'no'"),
    ("[output]\nplots = 1\n", "output.plots: must be true or false, got 1"),
    ("[scenario]\nname = \"a b\"\n", "scenario.name: must match ^[A-Za-z0-9_.-]+$, got 'a b'"),
    ("[scenario]\nstart_year = 2030\nend_year = 2020\n",
     "scenario.end_year: end_year (2020) must not be before start_year (2030)"),
    ("[sectors.energy.location_weights]\noslo = inf\n",
     "sectors.energy.location_weights.oslo: must be a finite number, got inf"),
    ("[regions.oslo]\nlat = 80\n", "regions.oslo.lat: must be 57-72, got 80"),
    ("regions = {oslo = 5}\n", "regions.oslo: must be a table, got 5"),
    (CLUSTER.replace('"vestland"', '"vestlandet"'),
     "clusters.0.region: unknown name 'vestlandet'; did you mean 'vestland'?"),
    (CLUSTER.replace('"arena"', '"arina"'),
     "clusters.0.levels.0.1: must be one of 'arena', 'arena_pro', 'nce', 'gce', got 'arina'"),
    (CLUSTER.replace("[2005, ", "[2015, "), "clusters.0.levels: levels must be in increasing year order"),
    (CLUSTER.replace('sector = "maritime"\n', ""), "clusters.0.sector: required key is missing"),
    (CLUSTER.replace('"Ocean"', '""'), "clusters.0.name: must have at least 1 character, got ''"),
    (CLUSTER + "end_year = 2001\n", "clusters.0.end_year: end_year 2001 is before the first level year 2005"),
    (CLUSTER + "colour = 1\n",
     "clusters.0.colour: unknown key 'colour'; allowed: end_year, levels, name, region, sector"),
    ("clusters = {name = \"x\"}\n", "clusters: must be a list, got {name = 'x'}"),
])
def test_bad_input_gives_exact_line(write, text, expected):
    path = write(text)
    assert error(path) == f"{path}: {expected}"


def test_unknown_region_in_location_weights(write):
    path = write("[sectors.energy.location_weights]\nosloo = 1.2\n")
    text = error(path)
    assert text.startswith(f"{path}: sectors.energy.location_weights")  # ".osloo" once the schema names it
    assert text.endswith(": unknown name 'osloo'; did you mean 'oslo'?")


def test_missing_tuple_item(write):
    path = write(CLUSTER.replace('[2005, "arena"]', "[2005]"))
    assert error(path).startswith(f"{path}: clusters.0.levels.0: missing item 1; expected a list of 2 items")


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    assert error(path) == f"{path}: file not found"


def test_directory_is_not_a_file(tmp_path):
    assert error(tmp_path) == f"{tmp_path}: is a directory, not a scenario file"


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file(write):
    path = write("[population]\n")
    path.chmod(0)
    assert error(path) == f"{path}: cannot read file (permission denied)"


def test_not_utf8(write):
    path = write(b"[population]\nscale = 0.5 # \xff\n")
    assert error(path) == f"{path}: not UTF-8 text (byte 27)"


def test_broken_toml(write):
    path = write("[population\nscale = 1\n")
    assert error(path).startswith(f"{path}: not valid TOML: ")


def test_duplicate_key_is_broken_toml(write):
    path = write("[population]\nscale = 1\nscale = 0.5\n")
    assert error(path).startswith(f"{path}: not valid TOML: ")


def test_odd_keys_are_quoted_on_one_line(write):
    path = write('[population]\n"sc\\nale" = 1\n')
    assert error(path) == f'{path}: population."sc\\nale": unknown key "sc\\nale"; did you mean \'scale\'?'
    path = write('"" = 1\n')
    assert error(path).startswith(f'{path}: "": unknown key ""; allowed: ')


def test_unreadable_file_without_root(write, monkeypatch):
    path = write("[population]\n")

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(type(path), "read_text", deny)
    assert error(path) == f"{path}: cannot read file (permission denied)"


def test_integer_field_rejects_inf(write):
    path = write("[population]\nmax_employees = inf\n")
    assert error(path) == f"{path}: population.max_employees: must be an integer in 250-200000, got inf"


def test_non_table_data_to_validate():
    with pytest.raises(ScenarioError, match=r"^<dict>: must be a table of sections, got \[1\]$"):
        validate([1])  # type: ignore[arg-type]


def test_error_survives_pickling():
    import pickle
    err = pickle.loads(pickle.dumps(ScenarioError("x.toml", "population.scale", "must be 0.0001-1, got 2")))
    assert str(err) == "x.toml: population.scale: must be 0.0001-1, got 2"
    assert (err.source, err.key, err.message) == ("x.toml", "population.scale", "must be 0.0001-1, got 2")


def test_allowed_range_with_one_bound():
    assert allowed_range(Field(0, ge=0)) == ">= 0"
    assert allowed_range(Field(0, le=2.5)) == "<= 2.5"
    assert allowed_range(Field(1, gt=0, le=1)) == "> 0 and <= 1"
    assert allowed_range(Field(0)) is None
    assert allowed_range(Field(0, ge=0, le=1e9)) == "0-1000000000"


# --- overrides -----------------------------------------------------------------------------------

def test_override_number():
    assert load_scenario(None, ["population.scale=0.05"]).population.scale == 0.05
    assert load_scenario(None, {"population.scale": 0.05}).population.scale == 0.05


@pytest.mark.parametrize("assignment", ['clusters.0.name="X"', "clusters.0.name=X", "clusters[0].name = X"])
def test_override_into_list(write, assignment):
    s = load_scenario(write(CLUSTER), [assignment])
    assert s.clusters[0].name == "X"
    assert s.clusters[0].region == "vestland"


def test_override_reaches_default_entries():
    s = load_scenario(None, ["regions.oslo.lat=60.5", "knowledge_institutions.0.name=Somewhere",
                             "levels.gce.max_members=200"])
    default = Scenario()
    assert s.regions["oslo"].lat == 60.5
    assert s.regions["oslo"].enterprise_share == default.regions["oslo"].enterprise_share
    assert len(s.regions) == len(default.regions)
    assert s.knowledge_institutions[0].name == "Somewhere"
    assert s.levels.gce.max_members == 200
    assert s.levels.gce.programme_funding_nok == default.levels.gce.programme_funding_nok


def test_override_values_are_toml():
    assert parse_assignment("a.b=[1, 2]") == ("a.b", [1, 2])
    assert parse_assignment("a.b = true") == ("a.b", True)
    assert parse_assignment("a.b=hello world") == ("a.b", "hello world")
    assert parse_assignment("a.b=") == ("a.b", "")
    assert parse_assignment("a.b=1\nc = 2") == ("a.b", "1\nc = 2")


def test_override_errors(write):
    path = write(CLUSTER)
    assert error(path, ["population.scale"]) == (
        f"{path}: --set population.scale: expected KEY=VALUE, e.g. population.scale=0.05")
    assert error(path, ["=3"]) == f"{path}: --set =3: expected KEY=VALUE, e.g. population.scale=0.05"
    assert error(path, ["population..scale=1"]).startswith(f"{path}: --set population..scale=1: empty part")
    assert error(path, ["population.scale=2"]) == f"{path}: population.scale: must be 0.0001-1, got 2"
    assert error(path, ["population.scale=nan"]) == (
        f"{path}: population.scale: must be a finite number in 0.0001-1, got nan")
    assert error(path, ["population.scael=0.5"]) == (
        f"{path}: population.scael: unknown key 'scael'; did you mean 'scale'?")
    assert error(path, ["clusters.3.name=X"]) == (
        f"{path}: clusters.3.name: '3' is not an index of 'clusters' (a list of 1)")
    assert error(path, ["clusters.name=X"]) == (
        f"{path}: clusters.name: 'name' is not an index of 'clusters' (a list of 1)")
    assert error(path, ["population.scale.x=1"]) == (
        f"{path}: population.scale.x: 'population.scale' is a value, not a table")
    assert error(path, ["shocks.0.year=2000"]) == (
        f"{path}: shocks.0.year: '0' is not an index of 'shocks' (a list of 0)")
    assert error(path, ["scenario.name=true"]) == f"{path}: scenario.name: must be a string, got true"


def test_override_without_file_names_defaults():
    with pytest.raises(ScenarioError, match=r"^<defaults>: population.scale: must be 0.0001-1, got 5$"):
        load_scenario(None, ["population.scale=5"])


# --- the parameter reference ----------------------------------------------------------------------

def _is_text(p) -> bool:
    return p.type in ("string", "list of string")


def test_explain_lists_every_leaf():
    text = explain()
    params = parameters()
    assert len(params) > 50
    for p in params:
        assert f"| `{p.key}` |" in text
    keys = {p.key for p in params}
    assert {"population.scale", "regions.<name>.lat", "clusters[].name", "levels.arena.max_members",
            "levels.gce.max_members", "output.plots"} <= keys
    row = next(line for line in text.splitlines() if line.startswith("| `levels.nce.programme_funding_nok`"))
    assert "| `5000000` |" in row and "| NOK per cluster-year |" in row and "| 0-1000000000 |" in row


def test_every_parameter_has_unit_and_source():
    missing = []
    for p in parameters():
        if _is_text(p):
            continue  # names and references to other tables are described by their type
        if not p.source:
            missing.append(f"{p.key}: no source")
        if p.numeric and not p.unit:
            missing.append(f"{p.key}: no unit")
    assert not missing, missing


def test_every_bounded_number_shows_its_range():
    for p in parameters():
        if p.type in ("number", "integer") and p.unit:
            assert p.range, p.key


def test_a_what_if_extends_its_base_and_changes_only_what_it_names(write):
    write("[population]\nscale = 0.3\n[membership]\nleave_rate = 0.2\n", "base.toml")
    s = load_scenario(write('[scenario]\nextends = "base.toml"\nname = "w"\n[membership]\nleave_rate = 0.1\n'))
    assert (s.scenario.name, s.population.scale, s.membership.leave_rate) == ("w", 0.3, 0.1)
    assert s.scenario.extends is None and "extends" not in s.to_toml()


def test_a_missing_or_circular_base_is_one_line(write):
    path = write('[scenario]\nextends = "nope.toml"\n')
    assert error(path) == f"{path}: scenario.extends: base scenario 'nope.toml' not found next to x.toml"
    path = write('[scenario]\nextends = "x.toml"\n')
    assert error(path) == f"{path}: scenario.extends: 'x.toml' extends itself in a cycle"


def test_every_lever_in_the_readme_exists_in_the_schema():
    import re

    from conftest import ROOT

    keys = {p.key.split("[]")[0] for p in parameters()}
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| lever |"):].split("\n\n")[0]
    levers = re.findall(r"^\| `([a-z_.<>*]+)`", table, flags=re.M)
    assert len(levers) > 15
    for lever in levers:
        pattern = re.escape(lever).replace("<level>", "arena").replace(r"\*", "resources")
        assert any(re.fullmatch(pattern.replace("\\.", ".") + r".*", k) for k in keys), lever


@pytest.mark.parametrize(("change", "expected"), [
    ('{ "population.scale" = 0.5 }',
     'changes.0.set."population.scale": cannot change during a run; allowed tables: membership,'),
    ('{ "restructuring.areas_per_year" = -1 }', "changes.0.set: restructuring.areas_per_year: must be 0-100, got -1"),
])
def test_policy_changes_are_validated_like_the_scenario(write, change, expected):
    path = write(f"[[changes]]\nyear = 2022\nset = {change}\n")
    assert error(path).startswith(f"{path}: {expected}")


# --- limits: names, sizes and seeds checked before any work ------------------------------------

@pytest.mark.parametrize(("override", "expected"), [
    ("scenario.name=..", "scenario.name: must not be made only of dots (it names a folder), got '..'"),
    ("scenario.name=.", "scenario.name: must not be made only of dots (it names a folder), got '.'"),
    ("scenario.name=" + "a" * 101, "scenario.name: must have at most 100 characters, got 'aaaa"),
    ('scenario.name="a/b"', r"scenario.name: must match ^[A-Za-z0-9_.-]+$, got 'a/b'"),
    ('clusters.0.name="a\\u0000b"',
     r"clusters.0.name: must not hold a control character ('\x00' at position 1), got 'a\x00b'"),
    ('clusters.0.name="a\\nb"', r"clusters.0.name: must not hold a control character ('\n' at position 1)"),
    ("clusters.0.name=" + "c" * 201, "clusters.0.name: must have at most 200 characters"),
    ('programme.added_clusters=[{name="N\\u0007", region="oslo", sector="ict", levels=[[2022, "arena"]]}]',
     r"programme.added_clusters.0.name: must not hold a control character ('\x07' at position 1)"),
    ("clusters.0.end_year=99999999999", "clusters.0.end_year: must be 1990-2150, got 99999999999"),
    ('clusters.0.levels=[[99999999999, "arena"]]', "clusters.0.levels.0.0: must be <= 2150, got 99999999999"),
    ("sectors.ict.location_weights.oslo=-1", "sectors.ict.location_weights.oslo: must be >= 0, got -1"),
    ('population.size_classes={"1-4"=0, "5+"=0}',
     "population.size_classes: size classes must not all be zero (there would be no firms)"),
    ('population.size_classes={"1-4"=100000001}',
     "population.size_classes: size class '1-4' has 100,000,001 enterprises, at most 100,000,000"),
    ('population.size_classes={"1-2000000"=5}',
     "population.size_classes: size class '1-2000000' goes beyond 1,000,000 man-years"),
    ('population.size_classes={"1-4"=2}', "population.size_classes: gives no firm at population.scale 0.02"),
    ('population.size_classes={"1-4"=100000000}',
     "population.size_classes: gives 2,000,000 simulated firms over 31 years, 62,000,000 firm-years, at most "
     "60,000,000 (about 240 bytes each); lower the counts, the scale or the years"),
    ("sectors.ict.enterprise_share=0", None),  # the other sectors still have firms
])
def test_names_sizes_and_counts_are_limited(override, expected):
    path = "scenarios/classroom.toml"
    if expected is None:
        assert load_scenario(path, [override]).sectors["ict"].enterprise_share == 0
        return
    text = error(path, [override])
    assert text.startswith(f"{path}: {expected}"), text


def test_a_county_key_with_a_control_character_is_refused(write):
    path = write('[regions."bad\\u0000"]\nlat = 60.0\n')
    assert error(path).endswith(
        """regions."bad\\u0000": key must not hold a control character ('\\x00' at position 3), got 'bad\\x00'""")


def test_too_many_simulated_firms_at_once_is_refused():
    text = error("scenarios/classroom.toml",
                 ["population.scale=1", 'population.size_classes={"1-4"=6000000}', "scenario.end_year=2001"])
    assert text.endswith("population.size_classes: gives 6,000,000 simulated firms at population.scale 1, at most "
                         "5,000,000 (memory); lower the counts or the scale")
    ok = load_scenario("scenarios/classroom.toml",
                       ["population.scale=1", 'population.size_classes={"1-4"=5000000}', "scenario.end_year=2011"])
    assert sum(ok.population.size_classes.values()) * 12 == 60_000_000  # exactly at both limits


def test_every_sector_without_firms_is_refused():
    shares = [f"sectors.{name}.enterprise_share=0" for name in Scenario().sectors]
    assert error("scenarios/classroom.toml", shares).endswith(
        "sectors: enterprise_share must be above 0 for at least one entry")


def test_shipped_names_fit_the_limits():
    s = load_scenario("scenarios/baseline_2021.toml")
    assert max(len(c.name) for c in s.all_clusters) == 49 and len(s.scenario.name) <= 100


def test_limits_show_in_the_reference():
    rows = {p.key: p for p in parameters()}
    assert rows["scenario.name"].range == "at most 100 characters, matches `^[A-Za-z0-9_.-]+$`"
    assert rows["clusters[].name"].range == "at least 1 character, at most 200 characters"
    assert rows["clusters[].end_year"].range == "1990-2150"
    assert rows["clusters[].levels"].type == "list of [integer, one of arena, arena_pro, nce, gce]"
    assert "5,000,000 simulated firms" in rows["population.size_classes"].source
    assert "240 bytes per firm-year" in rows["population.size_classes"].source


@pytest.mark.parametrize(("seed", "ok"), [
    (0, 0), (2**63 - 1, 2**63 - 1), ("17", 17), (-1, None), (2**63, None), (1.5, None), (True, None), ("x", None),
])
def test_seeds_are_integers_the_database_holds(seed, ok):
    if ok is not None:
        assert check_seed(seed) == ok
        return
    with pytest.raises(ScenarioError) as info:
        check_seed(seed, "Seed")
    assert str(info.value).startswith("Seed: must be an integer from 0 to 9223372036854775807, got ")
