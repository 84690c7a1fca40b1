"""The command line under random input: exit status 0, 1 or 2, a few lines on stderr, never a traceback.

Hypothesis drives ``run.py`` in-process (:func:`sim.cli.main.main`, output read with ``capsys``)
with random ``--set KEY=VALUE`` over the schema's real keys, random scenario files, random
arguments and a handful of small runs with random seeds; a few cases run as subprocesses, and
Ctrl-C is sent to ``run.py --help`` while it is still importing. Bounded to well under a minute.
"""

from __future__ import annotations

import json
import math
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim.cli.main import main
from sim.scenario.explain import parameters
from sim.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[1]
CLASSROOM = str(ROOT / "scenarios" / "classroom.toml")
SMALL = ["--set", "population.scale=0.002", "--set", "scenario.end_year=2002"]
MAX_STDERR_LINES = 3
def _fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _status(argv: list[str], capsys) -> tuple[int, str]:
    """Run the command line in-process; any exception but SystemExit fails the test (a traceback)."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    err = capsys.readouterr().err
    return code, err


def _check(code: int, err: str, allowed: tuple[int, ...] = (0, 1, 2)) -> None:
    event(f"exit {code}")  # shown by pytest --hypothesis-show-statistics
    assert code in allowed, err
    assert "Traceback" not in err, err
    assert len(err.splitlines()) <= MAX_STDERR_LINES, err


# --- values and keys -------------------------------------------------------------------------------

def _toml(value) -> str:
    """A Python value as TOML text, as one would type it after ``--set KEY=``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


_NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**63 - 1, 2**63, -(2**63), 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-320, 1e308, -1e308, 0.5, 1.0, 1e-4]),
)
_STRINGS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", ".", "..", "a\x00b", "\n", "oslo", "arena", "gce", "x" * 201, "y" * 5000,
                     "ø" * 150, "../../etc", "\u202e", "\ud800"]),
)
_SCALARS = st.one_of(_NUMBERS, _STRINGS, st.booleans())
_VALUES = st.one_of(
    _SCALARS,
    st.lists(_SCALARS, max_size=4),
    st.lists(st.lists(_SCALARS, max_size=2), max_size=3),
    st.dictionaries(st.text(min_size=1, max_size=8), _SCALARS, max_size=3),
)
# Raw text after "=": TOML (parsed), or anything else (taken as a bare string).
_RAW = st.one_of(_VALUES.map(_toml), st.text(max_size=40))

_DEFAULTS = Scenario()
_NAMES = {"regions": list(_DEFAULTS.regions), "sectors": list(_DEFAULTS.sectors)}
_KEYS = [p.key for p in parameters()]


@st.composite
def _keys(draw) -> str:
    """A real schema key with its ``<name>`` and ``[]`` filled in, now and then mangled."""
    key = draw(st.sampled_from(_KEYS))
    top = key.split(".")[0].split("[")[0]
    name = draw(st.one_of(st.sampled_from(_NAMES.get(top) or ["x"]), st.text(min_size=1, max_size=6)))
    key = key.replace("<name>", name)
    while "[]" in key:
        key = key.replace("[]", f".{draw(st.sampled_from([0, 1, 11, 12, 10**6]))}", 1)
    return draw(st.one_of(st.just(key), st.just(key.rsplit(".", 1)[0]), st.text(max_size=20)))


# --- validate with --set ---------------------------------------------------------------------------

@_fuzz(250)
@given(assignments=st.lists(st.tuples(_keys(), _RAW), min_size=1, max_size=3))
def test_validate_with_random_overrides(assignments, capsys):
    argv = ["validate", CLASSROOM]
    for key, raw in assignments:
        argv += ["--set", f"{key}={raw}"]
    code, err = _status(argv, capsys)
    _check(code, err, (0, 2))
    assert (code == 0) == (err == ""), err
    if code == 2:
        assert err.startswith("error: ") and err.count("\n") == 1, err


# --- validate random files ---------------------------------------------------------------------------

_TABLE_NAMES = [*Scenario.model_fields, "nope", "Scenario", ""]


@st.composite
def _scenario_tables(draw) -> dict:
    """Random tables: real sections with real and made-up keys, and made-up sections."""
    data: dict = {}
    for section in draw(st.lists(st.sampled_from(_TABLE_NAMES), max_size=4, unique=True)):
        fields = [k.split(".", 1)[1].split(".")[0].split("[")[0] for k in _KEYS if k.startswith(section + ".")]
        keys = st.one_of(st.sampled_from(fields or ["x"]), st.text(min_size=1, max_size=10))
        data[section] = draw(st.one_of(
            st.dictionaries(keys, _VALUES, max_size=4),
            st.lists(st.dictionaries(keys, _VALUES, max_size=4), max_size=2),
            _SCALARS,
        ))
    if draw(st.booleans()):  # mostly small populations, so that a valid file stays a sensible one
        data.setdefault("population", {})
        if isinstance(data["population"], dict):
            data["population"].setdefault("scale", 0.002)
    return data


@_fuzz(150)
@given(data=st.one_of(_scenario_tables(), st.binary(max_size=200)))
def test_validate_with_random_files(data, tmp_path_factory, capsys):
    path = tmp_path_factory.mktemp("fuzz") / "random.toml"
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        try:
            path.write_text(tomli_w.dumps(data), encoding="utf-8", errors="surrogatepass")
        except (TypeError, ValueError):  # not representable in TOML (e.g. a scalar at the top): write it raw
            path.write_text(repr(data), encoding="utf-8", errors="surrogatepass")
    code, err = _status(["validate", str(path)], capsys)
    _check(code, err, (0, 2))


# --- random arguments ---------------------------------------------------------------------------------

# Commands that cannot start long work from a missing or broken file; calibrate and sensitivity
# read default settings, and app serves until stopped, so they are only asked for --help.
_COMMANDS = ["run", "record", "validate", "compare", "sweep", "export", "measure", "report", "nope", ""]
_OPTIONS = ["--seed", "--set", "--db", "--out", "--workers", "--seeds", "--quiet", "--explain", "--format",
            "--since", "--run-timeout", "--dry-run", "--no-twin", "-h", "--", "-x"]
_WORDS = st.one_of(
    st.sampled_from(["-1", "0", "2", str(2**63), "nan", "1e400", "missing.toml", "broken.toml", "folder", "x=1",
                     "population.scale=nan", "sqlite:///folder", "csv", ""]),
    # No line breaks: argparse echoes unrecognised arguments as they are (the test below).
    st.text(max_size=12).filter(lambda s: "\x00" not in s and len(s.splitlines()) <= 1),
)


@_fuzz(150)
@given(command_args=st.one_of(
    st.tuples(st.sampled_from(_COMMANDS), st.lists(st.one_of(st.sampled_from(_OPTIONS), _WORDS), max_size=6)),
    st.tuples(st.sampled_from(["calibrate", "sensitivity", "app"]), st.just(["--help"])),
))
def test_random_arguments(command_args, tmp_path_factory, capsys, monkeypatch):
    command, args = command_args
    here = tmp_path_factory.mktemp("argv")
    (here / "broken.toml").write_text("[scenario\nname = ", encoding="utf-8")
    (here / "folder").mkdir()
    monkeypatch.chdir(here)  # default results/ and results.db land here
    code, err = _status([command, *args] if command else args, capsys)
    _check(code, err)


def test_a_line_break_in_an_unrecognised_argument_stays_on_one_line(capsys):
    code, err = _status(["validate", "x", "\n\n\n\n"], capsys)
    assert code == 2 and err.count("\n") == 1, err


# --- a handful of small runs ---------------------------------------------------------------------------

@_fuzz(6)
@given(seed=st.one_of(st.sampled_from([-1, 2**63]), st.integers(min_value=-(2**64), max_value=2**64)),
       extra=st.one_of(st.just([]), st.tuples(_keys(), _RAW).map(lambda kv: ["--set", f"{kv[0]}={kv[1]}"])))
def test_small_runs_with_random_seeds(seed, extra, tmp_path_factory, capsys):
    here = tmp_path_factory.mktemp("run")
    argv = ["run", CLASSROOM, "--seed", str(seed), "--quiet", "--out", str(here / "out"),
            "--db", f"sqlite:///{here / 'r.db'}", *SMALL, *extra]
    code, err = _status(argv, capsys)
    _check(code, err)
    if not 0 <= seed < 2**63:
        assert code == 2 and "--seed" in err, err


@pytest.mark.parametrize("seed", [-1, 2**63])
def test_a_seed_outside_the_database_range_is_refused_before_the_run(seed, tmp_path, capsys):
    code, err = _status(["run", CLASSROOM, "--seed", str(seed), "--quiet", "--out", str(tmp_path / "out"),
                         "--db", f"sqlite:///{tmp_path / 'r.db'}", *SMALL], capsys)
    assert code == 2 and err.startswith("error: --seed: must be an integer from 0 to ")
    assert not (tmp_path / "out").exists()


# --- as a user runs it: subprocesses --------------------------------------------------------------------

def _run_py(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True,
                          timeout=120, cwd=kwargs.pop("cwd", ROOT), **kwargs)


@pytest.mark.parametrize(("args", "expected"), [
    (["validate", CLASSROOM, "--set", "clusters.0.name=\u202eø" + "x" * 300],
     "clusters.0.name: must have at most 200 characters"),
    (["validate", CLASSROOM, "--set", 'clusters.0.name="a\\u0000b"'],
     "clusters.0.name: must not hold a control character"),
    (["validate", CLASSROOM, "--set", "scenario.name=.."], "scenario.name: must not be made only of dots"),
])
def test_subprocess_gives_one_line_and_status_2(args, expected):
    done = _run_py(*args)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    line = [x for x in done.stderr.splitlines() if x.startswith("error: ")]
    assert len(line) == 1 and expected in line[0], done.stderr


def test_ctrl_c_during_start_up_prints_interrupted_and_exits_130():
    """SIGINT while ``run.py --help`` still imports numpy, numba and the package: one line, status 130."""
    interrupted = 0
    for delay in (0.2, 0.4, 0.6, 0.8, 1.0, 1.3, 0.3, 0.5):
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "--help"], cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
            # A child of a shell's background job starts with SIGINT ignored; a user's terminal does not.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        time.sleep(delay + random.uniform(0, 0.05))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        # 0: --help finished first; -SIGINT: killed before Python set up its handler (a shell shows 130).
        assert proc.returncode in (130, 0, -signal.SIGINT), err
        if proc.returncode == 130:
            assert err.strip().splitlines()[-1] == "interrupted", err
            interrupted += 1
        if interrupted >= 3:
            break
    assert interrupted >= 1  # at least one signal landed during the imports

