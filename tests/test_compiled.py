"""Compiled code is cached under a name that changes with any compiled module's source."""

import os
import subprocess
import sys

import numba
import pytest
from conftest import ROOT

from sim.engine import cache, growth, randomness

# Imports sim and runs a small classroom scenario, levers and twin included.
_SMALL_RUN = """
import sim
scenario = sim.load_scenario("scenarios/classroom.toml", {"population.scale": 0.01, "scenario.end_year": 2004})
print(sim.run(scenario, seed=0).yearly["firms"].iloc[-1])
"""


def test_the_cache_folder_changes_when_any_compiled_source_changes(tmp_path):
    sources = tuple(tmp_path / path.name for path in cache.SOURCES)
    for path in sources:
        path.write_text(f"# {path.name}\n")
    first = cache.cache_dir(sources)
    assert cache.cache_dir(sources) == first
    sources[0].write_text("# vecmath.py, a formula changed\n")  # a dependency, not the kernels' own file
    assert cache.cache_dir(sources) != first
    assert first.parent == cache.HERE / "__pycache__"


@pytest.mark.skipif(bool(os.environ.get("NUMBA_CACHE_DIR")), reason="a user-set NUMBA_CACHE_DIR is left alone")
def test_kernels_and_random_numbers_are_cached_in_the_source_keyed_folder_and_the_setting_restored():
    folder = str(cache.cache_dir())
    assert growth.grow._cache._cache_path.startswith(folder)
    assert randomness.normals_of._cache._cache_path.startswith(folder)
    assert numba.config.CACHE_DIR == ""  # a user's own functions cache where numba usually puts them


@pytest.mark.slow
def test_no_kernel_reads_or_writes_outside_its_arrays_in_the_warm_up_or_a_run(tmp_path):
    # numba compiles without bounds checks, so an index past an array's end would go unnoticed;
    # here every compiled function is built afresh with them (about 25 s) and must not raise.
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", _SMALL_RUN], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=False, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert int(out.stdout.split()[-1]) > 0
